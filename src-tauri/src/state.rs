//! What the shell keeps for the life of the app: the engine and the in-process sandbox.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use onramp_core::engine::SandboxLink;
use onramp_core::model::{SandboxApp, UiError};
use onramp_core::{Engine, EngineConfig, OnrampError};
use onramp_sandbox::{Sandbox, SandboxConfig};
use tauri::{AppHandle, Manager, Runtime};

/// Replaces the engine's HTTP time limit (milliseconds), for the end-to-end tests only.
pub const HTTP_TIMEOUT_MS_FOR_TESTS: &str = "ONRAMP_HTTP_TIMEOUT_MS_FOR_TESTS";

/// Managed from the first moment; the engine and the sandbox start off the main thread.
///
/// Tauri builds the window before `setup` runs and loads the page on the main thread's event loop:
/// starting the engine there (store, migrations, catalog: ~15–40 ms, measured in docs/benchmark.md)
/// held the page back by more than that. Now `setup` only finds the folders and opens the log;
/// the engine starts on a runtime thread while WebKit loads the page, and the first command that
/// needs it (normally `bootstrap`) waits for it.
pub struct AppState {
    config_dir: PathBuf,
    started: tokio::sync::OnceCell<Started>,
}

/// What the app keeps once started.
pub struct Started {
    pub engine: Engine,
    /// Kept alive for the life of the app (dropping it stops the server).
    _sandbox: Option<Sandbox>,
}

impl AppState {
    /// The cheap part, on the main thread: the data and log folders, the log.
    pub fn new<R: Runtime>(app: &AppHandle<R>) -> Result<AppState, Box<dyn std::error::Error>> {
        let config_dir =
            env_path("ONRAMP_CONFIG_DIR").map_or_else(|| app.path().app_config_dir(), Ok)?;
        let log_dir = env_path("ONRAMP_LOG_DIR").map_or_else(|| app.path().app_log_dir(), Ok)?;
        let log_path = crate::logging::init(&log_dir)?;
        tracing::info!(
            "Onramp {} starting; data in {}, log in {}",
            env!("CARGO_PKG_VERSION"),
            config_dir.display(),
            log_path.display()
        );
        // Connected by the first vault call, off the main thread; a keychain that cannot be reached
        // is shown by the keychain probe (`keychain_status`); nothing falls back to plain text.
        onramp_core::vault::use_os_keychain_on_first_use();
        Ok(AppState::in_config_dir(config_dir))
    }

    /// Not started yet: the first `engine()` call starts it with its data in `config_dir`.
    fn in_config_dir(config_dir: PathBuf) -> AppState {
        AppState {
            config_dir,
            started: tokio::sync::OnceCell::new(),
        }
    }

    /// Already started (the command tests).
    #[cfg(test)]
    pub fn with_engine(engine: Engine) -> AppState {
        AppState {
            config_dir: PathBuf::new(),
            started: tokio::sync::OnceCell::new_with(Some(Started {
                engine,
                _sandbox: None,
            })),
        }
    }

    /// The engine, started by the first caller; the others wait for it. A start that failed (the
    /// data folder cannot be created, say) is the caller's error and is tried again by the next
    /// caller: the window's "Try again" after fixing the folder works without a restart.
    pub async fn engine(&self) -> Result<&Engine, UiError> {
        let started = self
            .started
            .get_or_try_init(|| start(self.config_dir.clone()))
            .await?;
        Ok(&started.engine)
    }
}

async fn start(config_dir: PathBuf) -> Result<Started, OnrampError> {
    // The sandbox is the default provider: it starts with the app, on a loopback port.
    let port: u16 = std::env::var("ONRAMP_SANDBOX_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let sandbox = match Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
    )
    .await
    {
        Ok(s) => {
            tracing::info!("sandbox listening on {}", s.base_url());
            Some(s)
        }
        Err(e) => {
            tracing::warn!("sandbox did not start: {e}");
            None
        }
    };
    let link = sandbox.as_ref().map(|s| {
        let c = s.config();
        SandboxLink {
            app: SandboxApp {
                base_url: s.base_url(),
                app_name: c.app_name,
                client_id: c.client_id,
                client_secret: c.client_secret,
                service_account_client_id: c.service_account.client_id.clone(),
                service_account_client_secret: c.service_account.client_secret.clone(),
            },
            instance_id: s.instance_id(),
            register_callback: Box::new(s.callback_registrar()),
        }
    });
    let default_loopback_port = std::env::var("ONRAMP_LOOPBACK_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(onramp_core::loopback::DEFAULT_PORT);
    // Blocking file work (the store, its migrations): on a blocking thread, not a runtime worker.
    let engine = tokio::task::spawn_blocking(move || {
        let mut engine = Engine::new(EngineConfig {
            config_dir,
            sandbox: link,
            default_loopback_port,
        })?;
        // The e2e fault matrix meets a provider timeout in seconds, not in a minute.
        if let Some(ms) = std::env::var(HTTP_TIMEOUT_MS_FOR_TESTS)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            engine = engine.with_http_timeout(std::time::Duration::from_millis(ms))?;
        }
        Ok::<_, OnrampError>(engine)
    })
    .await
    .map_err(|e| OnrampError::Internal(format!("starting the engine: {e}")))??;
    tracing::info!("engine ready");
    Ok(Started {
        engine,
        _sandbox: sandbox,
    })
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn callers_while_the_engine_starts_wait_for_the_one_start_and_share_it() {
        onramp_core::vault::use_mock_keychain();
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::in_config_dir(dir.path().join("config"));
        let (a, b) = tokio::join!(state.engine(), state.engine());
        let (a, b) = (a.expect("started"), b.expect("started"));
        assert!(std::ptr::eq(a, b), "two engines were started");
        assert!(std::ptr::eq(a, state.engine().await.unwrap()));
        // It is the engine the window gets: its store is the folder's, with the sandbox wired in.
        assert!(dir.path().join("config").join("onramp.sqlite3").exists());
        let boot = a.bootstrap().await;
        assert!(boot.store_problem.is_none());
        assert!(boot.sandbox.is_some(), "the sandbox is not wired in");
    }
}

//! The app killed (SIGKILL) during a refresh, then started again: the connection still works and no
//! rotated refresh token is lost. With processes, not threads: the engine that refreshes runs in a
//! child process (this test binary, started again on `child_process_refreshing_until_killed`),
//! the sandbox and the "restarted app" in this one. The keychain is a file-backed test store, so
//! secrets outlive the killed process as they do in the OS keychain.
//!
//! The worst moment is covered: the sandbox has rotated the refresh token (the old one is retired)
//! and holds its answer back, and the child is killed before the new pair reaches it. The restarted
//! engine then refreshes with the old token. Atlassian documents a 10-minute reuse leeway for a
//! rotated refresh token (reference atlassian-oauth.md §3, "Confirmed (doc)"); what it answers
//! inside the leeway is marked partly UNCONFIRMED there (inferred from Auth0's model). The sandbox
//! implements the leeway as a new pair (`SandboxConfig::refresh_reuse_leeway`), so this test proves
//! Onramp's side: it keeps and uses the token it has, and stores whatever the provider rotates to.

mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::{Credential, Entry, Error};
use onramp_core::engine::SandboxLink;
use onramp_core::events::RecordingSink;
use onramp_core::model::{ApiRequest, ConnectionState, ErrorCode, SandboxApp};
use onramp_core::secrets::ExposeSecret;
use onramp_core::vault::{SecretKind, Vault};
use onramp_core::{Engine, EngineConfig};
use onramp_sandbox::{Faults, Sandbox, SandboxConfig, ACME_CLOUD_ID};

const CHILD_ENV: &str = "ONRAMP_SIGKILL_CHILD";

/// One file per entry, replaced atomically (temporary file, then rename), like a keychain commit.
#[derive(Debug)]
struct FileStore(PathBuf);

#[derive(Debug)]
struct FileCred {
    path: PathBuf,
    specifiers: (String, String),
}

impl CredentialApi for FileCred {
    fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, secret).map_err(|e| Error::PlatformFailure(Box::new(e)))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::PlatformFailure(Box::new(e)))
    }

    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        match std::fs::read(&self.path) {
            Ok(v) => Ok(v),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoEntry),
            Err(e) => Err(Error::PlatformFailure(Box::new(e))),
        }
    }

    fn delete_credential(&self) -> keyring_core::Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoEntry),
            Err(e) => Err(Error::PlatformFailure(Box::new(e))),
        }
    }

    fn get_credential(&self) -> keyring_core::Result<Option<Arc<Credential>>> {
        if self.path.exists() {
            Ok(None)
        } else {
            Err(Error::NoEntry)
        }
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        Some(self.specifiers.clone())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl CredentialStoreApi for FileStore {
    fn vendor(&self) -> String {
        "Onramp test file store".into()
    }

    fn id(&self) -> String {
        self.0.display().to_string()
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        _mods: Option<&HashMap<&str, &str>>,
    ) -> keyring_core::Result<Entry> {
        let name: String = format!("{service}/{user}")
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Entry::new_with_credential(Arc::new(FileCred {
            path: self.0.join(name),
            specifiers: (service.into(), user.into()),
        })))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn use_file_keychain(dir: &Path) {
    keyring_core::set_default_store(Arc::new(FileStore(dir.to_path_buf())));
}

fn engine(config_dir: &Path, sandbox_url: &str) -> Engine {
    let c = SandboxConfig::default();
    Engine::new(EngineConfig {
        config_dir: config_dir.to_path_buf(),
        sandbox: Some(SandboxLink {
            app: SandboxApp {
                base_url: sandbox_url.to_string(),
                app_name: c.app_name,
                client_id: c.client_id,
                client_secret: c.client_secret,
                service_account_client_id: c.service_account.client_id.clone(),
                service_account_client_secret: c.service_account.client_secret.clone(),
            },
            register_callback: Box::new(|_| {}),
            // One sandbox process outlives both app processes here (as a real provider would), so
            // both name the same sandbox run: its tokens did not end with the killed app.
            instance_id: "the-sandbox-process-of-this-test".to_string(),
        }),
        default_loopback_port: 47823,
    })
    .unwrap()
}

/// Not a test of its own: the body of the child process started by the test below (it returns at
/// once without `ONRAMP_SIGKILL_CHILD`). Refreshes, and is killed while waiting for the answer.
#[tokio::test]
async fn child_process_refreshing_until_killed() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('\n').collect();
    let [config_dir, keychain_dir, sandbox_url, id] = parts[..] else {
        panic!("bad {CHILD_ENV}");
    };
    use_file_keychain(Path::new(keychain_dir));
    let engine = engine(Path::new(config_dir), sandbox_url);
    let _ = engine.refresh_now(id).await;
    // Reaching this line means the kill came too late.
    std::process::exit(3);
}

/// Both scenarios in one test: the keychain store is process-wide, and each has its own.
#[tokio::test]
async fn sigkill_during_a_refresh_then_restart() {
    restart_keeps_the_connection().await;
    without_a_reuse_leeway_the_restart_asks_to_reconnect_and_keeps_the_rest().await;
}

async fn restart_keeps_the_connection() {
    let run = killed_during_refresh(SandboxConfig::default()).await;
    let (engine, id) = (&run.engine, &run.id);
    // The third run: the connection still works, and the token the provider rotates to is kept.
    let view = engine.integration(id).await.unwrap();
    assert_eq!(view.connection.unwrap().state, ConnectionState::Connected);
    engine.refresh_now(id).await.unwrap();
    let rotated = stored_refresh_token(id).unwrap();
    assert_ne!(rotated, run.old_refresh);
    engine.refresh_now(id).await.unwrap();
    let call = engine
        .run_request(
            id,
            &ApiRequest::preset("jira-myself"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(call.status, 200, "{}", call.body);
}

/// Without a reuse leeway (Atlassian's documented answer outside it: the whole family revoked),
/// the restart cannot keep the connection: it says the connection needs authorizing again and
/// keeps every other setting.
async fn without_a_reuse_leeway_the_restart_asks_to_reconnect_and_keeps_the_rest() {
    let run = killed_during_refresh(SandboxConfig {
        refresh_reuse_leeway: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    let e = run.engine.refresh_now(&run.id).await.unwrap_err();
    assert_eq!(e.to_ui().code, ErrorCode::NeedsReconnect);
    let view = run.engine.integration(&run.id).await.unwrap();
    assert_eq!(
        view.connection.unwrap().state,
        ConnectionState::NeedsReconnect
    );
    assert_eq!(view.site.unwrap().id, ACME_CLOUD_ID);
    assert!(view.has_client_secret);
}

struct Restarted {
    engine: Engine,
    id: String,
    old_refresh: String,
    _sandbox: Sandbox,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// Connects in a first engine; refreshes in a child process that is SIGKILLed after the sandbox
/// rotated and before its answer arrived; returns the engine of the restarted app.
async fn killed_during_refresh(config: SandboxConfig) -> Restarted {
    let sandbox = Sandbox::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let url = sandbox.base_url();
    let config_dir = tempfile::tempdir().unwrap();
    let keychain_dir = tempfile::tempdir().unwrap();
    use_file_keychain(keychain_dir.path());

    // The first run of the app: connect and pick a site, then quit.
    let id = {
        let engine = engine(config_dir.path(), &url);
        connect(&engine, &sandbox).await
    };
    let old_refresh = stored_refresh_token(&id).unwrap();

    // The second run refreshes and is killed after the sandbox rotated, before the answer arrives.
    sandbox.set_faults(Faults {
        hold_refresh_answer_ms: 60_000,
        ..Faults::default()
    });
    let refreshes_before = sandbox.refresh_count();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_refreshing_until_killed",
            "--exact",
            "--nocapture",
        ])
        .env(
            CHILD_ENV,
            format!(
                "{}\n{}\n{url}\n{id}",
                config_dir.path().display(),
                keychain_dir.path().display()
            ),
        )
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sandbox.refresh_count() == refreshes_before {
        assert!(Instant::now() < deadline, "the child never refreshed");
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(status.code().is_none(), "killed by a signal: {status:?}");
    sandbox.set_faults(Faults::default());
    // The rotated pair never reached the app: the keychain still holds the old token.
    assert_eq!(
        stored_refresh_token(&id).as_deref(),
        Some(old_refresh.as_str())
    );
    Restarted {
        engine: engine(config_dir.path(), &url),
        id,
        old_refresh,
        _sandbox: sandbox,
        _dirs: (config_dir, keychain_dir),
    }
}

/// Authorizes through the sandbox's consent page (deep-link callback) and picks Acme.
async fn connect(engine: &Engine, sandbox: &Sandbox) -> String {
    let c = sandbox.config();
    let view =
        common::sandbox_integration(engine, &c.client_id, &c.client_secret, &common::SCOPES).await;
    // The engines here do not register their callback: the test does, as a user would.
    sandbox.set_registered_callback(Some(view.redirect_uri.clone()));
    common::authorize_and_pick(engine, &view.id, ACME_CLOUD_ID).await;
    view.id
}

/// The refresh token in the (file-backed) keychain, as text to compare.
fn stored_refresh_token(id: &str) -> Option<String> {
    Vault
        .get(id, SecretKind::RefreshToken)
        .unwrap()
        .map(|s| s.expose_secret().to_string())
}

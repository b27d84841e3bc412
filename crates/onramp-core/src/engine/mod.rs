//! `Engine`: the one object the shell talks to. Each public method is one user action of the wizard,
//! and each wizard step has its own file here (see ARCHITECTURE.md):
//!
//! - [`providers`] (step 1), [`registration`] (step 2), [`scopes`] (step 3), [`authorize`] (step 4),
//!   [`sites`] (step 5), [`requests`] (step 6);
//! - [`integrations`]: saved integrations themselves; [`tokens`]: the token lifecycle.
//!
//! This file holds the struct, its construction and the helpers every step shares.

mod authorize;
mod integrations;
mod providers;
mod registration;
mod requests;
mod scopes;
mod sites;
#[cfg(test)]
mod test_support;
mod tokens;

pub use authorize::{
    redirect_uri_for, AcceptedCallback, RefusedCallback, StartedAuthorization, DEEP_LINK_CALLBACK,
};
pub use registration::validate_credential;
pub use requests::HISTORY_LIMIT;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::catalog::{Catalog, DEFAULT_PROVIDER_ID};
use crate::custom;
use crate::error::OnrampError;
use crate::lifecycle::TokenLifecycle;
use crate::model::{
    ApiRequest, AuthorizationStarted, Bootstrap, CallbackKind, CallbackSettings, Connection,
    ConnectionState, CustomProviderInput, HistoryEntry, IntegrationPatch, IntegrationView,
    KeychainStatus, Provider, RetryNotice, SandboxApp, ScopeAdvice, ScopeReport, Site,
    TestCallPreset, TestCallResult,
};
use crate::now_unix;
use crate::oauth::{self, FlowRegistry};
use crate::settings::{self, Integration, Settings};
use crate::vault::{SecretKind, Vault};

pub struct EngineConfig {
    pub config_dir: PathBuf,
    pub sandbox: Option<SandboxLink>,
    pub default_loopback_port: u16,
}

/// The in-process sandbox, when it runs: its app (shown on the sandbox app page) and how to
/// "register" a callback URL with it, as a user pastes one into Atlassian's developer console.
pub struct SandboxLink {
    pub app: SandboxApp,
    pub register_callback: Box<dyn Fn(&str) + Send + Sync>,
}

pub struct Engine {
    catalog: Catalog,
    config: EngineConfig,
    http: reqwest::Client,
    vault: Vault,
    flows: FlowRegistry,
    settings: Mutex<Settings>,
    settings_problem: Option<crate::model::UiError>,
    /// Whether saving is allowed: not when the file could not be read and was left in place.
    settings_writable: bool,
    /// The sites last listed per integration: a site can only be picked from that list.
    listed_sites: Mutex<HashMap<String, Vec<Site>>>,
    /// Refresh locks and background backoff.
    lifecycle: TokenLifecycle,
    /// The last callback that matched no authorization, until the UI has been told at start-up.
    unmatched_callback: Mutex<Option<crate::model::UiError>>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, OnrampError> {
        let catalog = Catalog::load()?;
        let loaded = settings::load(&config.config_dir, now_unix());
        let settings_writable = loaded.writable;
        if let Some(p) = &loaded.problem {
            tracing::warn!("settings: {p}");
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("Onramp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| OnrampError::Network(e.to_string()))?;
        Ok(Engine {
            catalog,
            config,
            http,
            vault: Vault,
            flows: FlowRegistry::default(),
            settings: Mutex::new(loaded.settings),
            settings_problem: loaded.problem.map(|p| p.to_ui()),
            settings_writable,
            listed_sites: Mutex::new(HashMap::new()),
            lifecycle: TokenLifecycle::default(),
            unmatched_callback: Mutex::new(None),
        })
    }

    pub(super) fn sandbox_base(&self) -> Option<&str> {
        self.config
            .sandbox
            .as_ref()
            .map(|s| s.app.base_url.as_str())
    }

    /// Everything the UI needs to start. Probes the keychain (a blocking D-Bus round trip).
    pub async fn bootstrap(&self) -> Bootstrap {
        let vault = self.vault.clone();
        let keychain = tokio::task::spawn_blocking(move || vault.probe())
            .await
            .unwrap_or_else(|e| KeychainStatus {
                available: false,
                message: Some(format!("the keychain check crashed: {e}")),
            });
        let settings = self.read_settings();
        let integrations = settings.integrations.iter().map(|i| self.view(i)).collect();
        let default_provider_id = if self.config.sandbox.is_some() {
            DEFAULT_PROVIDER_ID.to_string()
        } else {
            "atlassian".to_string()
        };
        Bootstrap {
            providers: self.providers(),
            integrations,
            last_integration_id: settings.last_integration_id.clone(),
            keychain,
            sandbox: self.config.sandbox.as_ref().map(|s| s.app.clone()),
            default_provider_id,
            settings_problem: self.settings_problem.clone(),
            unmatched_callback: self
                .unmatched_callback
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        }
    }

    pub(super) fn view(&self, i: &Integration) -> IntegrationView {
        let provider = self.provider(&i.provider_id).ok();
        IntegrationView {
            id: i.id.clone(),
            name: i.name.clone(),
            provider_id: i.provider_id.clone(),
            client_id: i.client_id.clone(),
            callback: i.callback,
            redirect_uri: redirect_uri_for(&i.callback),
            scopes: i.scopes.clone(),
            console_done: i.console_done.clone(),
            site: i.site.clone(),
            connection: i.connection.clone(),
            has_client_secret: i.has_client_secret,
            runnable_test_calls: match (&i.connection, &provider) {
                (Some(c), Some(p)) if c.state == ConnectionState::Connected => {
                    crate::scopes::runnable_test_calls(p, &c.granted_scopes)
                }
                _ => Vec::new(),
            },
            steps: crate::steps::statuses(i, provider.as_ref()),
            history: i.history.clone(),
        }
    }

    pub(super) fn read_settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes one integration (and its `updated_at`) through [`Self::write_settings`].
    pub(super) fn change_integration(
        &self,
        id: &str,
        change: impl FnOnce(&mut Integration),
    ) -> Result<(), OnrampError> {
        self.write_settings(|s| {
            let i = s.integration_mut(id)?;
            change(i);
            i.updated_at = now_unix();
            Ok(())
        })
    }

    /// Applies a change to a copy, saves it, and only then makes it current: a failed save
    /// leaves both the file and the in-memory settings as they were.
    pub(super) fn write_settings(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<(), OnrampError>,
    ) -> Result<(), OnrampError> {
        let mut guard = self.settings.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = guard.clone();
        change(&mut next)?;
        if self.settings_writable {
            settings::save(&self.config.config_dir, &next)?;
        }
        *guard = next;
        Ok(())
    }
}

/// The first occurrence of each value, in order.
fn without_repeats(values: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(v.clone()))
        .collect()
}

fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OnrampError> + Send + 'static,
) -> Result<T, OnrampError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OnrampError::Internal(format!("background task failed: {e}")))?
}

//! `Engine`: the one object the shell talks to. Each public method is one user action of the wizard,
//! and each wizard step has its own file here (see ARCHITECTURE.md):
//!
//! - [`providers`] (step 1), [`registration`] (step 2), [`scopes`] (step 3), [`authorize`] (step 4),
//!   [`sites`] (step 5), [`requests`] (step 6);
//! - [`integrations`]: saved integrations themselves; [`home`]: all of them with their health;
//!   [`tokens`]: the token lifecycle;
//! - [`handoff`]: the verified setup for the user's backend (`crate::handoff`).
//!
//! This file holds the struct, its construction and the helpers every step shares.

mod authorize;
mod background;
mod handoff;
mod home;
mod integrations;
mod providers;
mod push;
mod registration;
mod requests;
mod scopes;
mod sites;
#[cfg(test)]
mod test_support;
mod token_cache;
mod tokens;

pub use authorize::{
    redirect_uri_for, AcceptedCallback, RefusedCallback, StartedAuthorization, DEEP_LINK_CALLBACK,
    IGNORED_CALLBACK_NOTICE,
};
pub use push::NANGO_READ_BACK_DELAY;
pub use registration::validate_credential;
pub use requests::HISTORY_LIMIT;

use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
use crate::store::{self, Integration, Store};
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
    /// This run of the sandbox (`Sandbox::instance_id`): recorded with each connection it issues,
    /// since its grants end with the process.
    pub instance_id: String,
    pub register_callback: Box<dyn Fn(&str) + Send + Sync>,
}

/// The limit on one HTTP request (connect, send, whole answer) at every network step: token
/// endpoint, accessible-resources, API calls, discovery, Nango. Generous, because a gateway may be
/// slow; a step that hits it fails with `OnrampError::Timeout` and changes nothing.
pub const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, OnrampError> {
    http_client_builder(timeout)
        .build()
        .map_err(|e| OnrampError::Network(e.to_string()))
}

/// Like [`http_client`], without following redirects (the authorize probe follows them by hand).
fn probe_client(timeout: std::time::Duration) -> Result<reqwest::Client, OnrampError> {
    http_client_builder(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| OnrampError::Network(e.to_string()))
}

fn http_client_builder(timeout: std::time::Duration) -> reqwest::ClientBuilder {
    crate::tls::client_builder()
        .user_agent(concat!("Onramp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10).min(timeout))
        .timeout(timeout)
}

pub struct Engine {
    catalog: Catalog,
    /// The catalog's providers, resolved once the sandbox's address is known (at construction):
    /// every step asks for its provider, and resolving filters hundreds of scopes each time.
    built_in_providers: Vec<std::sync::Arc<Provider>>,
    config: EngineConfig,
    http: reqwest::Client,
    vault: Vault,
    flows: FlowRegistry,
    /// Integrations, their history and custom providers (SQLite; secrets are in `vault`).
    store: Store,
    /// Why the store could not be opened or the old settings not imported, shown at start-up.
    store_problem: Option<crate::model::UiError>,
    /// The sites last listed per integration: a site can only be picked from that list.
    listed_sites: Mutex<HashMap<String, Vec<Site>>>,
    /// Each integration's provider id once read (`engine/sites.rs`, `provider_id_of`).
    provider_ids: Mutex<HashMap<String, String>>,
    /// Refresh locks and background backoff.
    lifecycle: TokenLifecycle,
    /// Woken when background work may be due sooner: a new authorization, changed tokens (every
    /// change holds the refresh guard, which wakes it when dropped). See `engine/background.rs`.
    background_schedule: std::sync::Arc<tokio::sync::Notify>,
    /// Fresh access tokens served without the refresh guard or the keychain (`engine/token_cache.rs`).
    token_cache: token_cache::TokenCache,
    /// Client secrets read from the keychain, kept under the store's revision (`engine/token_cache.rs`).
    client_secrets: token_cache::ClientSecretCache,
    /// The last callback that matched no authorization, until the UI has been told at start-up.
    unmatched_callback: Mutex<Option<crate::model::UiError>>,
    /// Set once this process has marked the connections of earlier sandbox runs "needs reconnect".
    sandbox_swept: tokio::sync::OnceCell<()>,
    /// Rotated tokens the keychain refused to store (locked, no daemon), per integration: the
    /// provider has already retired the stored refresh token, so these are the only working
    /// ones. Saved by the next refresh attempt (`Engine::refresh_locked`) before anything else.
    unsaved_tokens: Mutex<HashMap<String, crate::oauth::TokenSet>>,
    /// The last preflight per integration (`engine/registration.rs`); in memory only, since a
    /// provider's answer may change (a secret regenerated in the console).
    credential_checks: Mutex<HashMap<String, registration::CheckedCredentials>>,
    /// The authorize probe's client: it follows no redirect by itself and keeps no cookies.
    probe_http: reqwest::Client,
    /// Keychain probes run (`Engine::keychain_status`) and whether one found it working: a
    /// working keychain is not probed again (each probe is a write, a read and a delete).
    keychain_probes: std::sync::atomic::AtomicUsize,
    keychain_works: std::sync::atomic::AtomicBool,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, OnrampError> {
        // Blocking (a file check, migrations, the one-time import): this runs once, at start-up.
        let opened = Store::open(
            &store::path_in(&config.config_dir),
            Some(&config.config_dir),
        );
        if let Some(p) = &opened.problem {
            tracing::warn!("store: {p}");
        }
        Engine::with_store(config, opened.store, opened.problem.map(|p| p.to_ui()))
    }

    fn with_store(
        config: EngineConfig,
        store: Store,
        store_problem: Option<crate::model::UiError>,
    ) -> Result<Engine, OnrampError> {
        let catalog = Catalog::load()?;
        let sandbox_base = config.sandbox.as_ref().map(|s| s.app.base_url.as_str());
        let built_in_providers = catalog
            .providers(sandbox_base)
            .into_iter()
            .map(std::sync::Arc::new)
            .collect();
        let http = http_client(HTTP_TIMEOUT)?;
        let probe_http = probe_client(HTTP_TIMEOUT)?;
        Ok(Engine {
            catalog,
            built_in_providers,
            config,
            http,
            vault: Vault,
            flows: FlowRegistry::default(),
            store,
            store_problem,
            listed_sites: Mutex::new(HashMap::new()),
            provider_ids: Mutex::new(HashMap::new()),
            lifecycle: TokenLifecycle::default(),
            token_cache: token_cache::TokenCache::default(),
            client_secrets: token_cache::ClientSecretCache::default(),
            background_schedule: Default::default(),
            unmatched_callback: Mutex::new(None),
            sandbox_swept: tokio::sync::OnceCell::new(),
            unsaved_tokens: Mutex::new(HashMap::new()),
            credential_checks: Mutex::new(HashMap::new()),
            probe_http,
            keychain_probes: Default::default(),
            keychain_works: Default::default(),
        })
    }

    /// An engine that writes nothing to disk: the store in memory, no lock files. For the command
    /// line's CI mode (a service account's credentials from the environment); pair it with
    /// `vault::use_process_memory_keychain`.
    pub fn in_memory(sandbox: Option<SandboxLink>) -> Result<Engine, OnrampError> {
        let config = EngineConfig {
            // Never used: the store is in memory and the refresh guard makes no lock file.
            config_dir: PathBuf::new(),
            sandbox,
            default_loopback_port: crate::loopback::DEFAULT_PORT,
        };
        Engine::with_store(config, Store::in_memory(), None)
    }

    /// The same engine with another limit on each HTTP request, so tests can meet a timeout quickly.
    pub fn with_http_timeout(
        mut self,
        timeout: std::time::Duration,
    ) -> Result<Engine, OnrampError> {
        self.http = http_client(timeout)?;
        self.probe_http = probe_client(timeout)?;
        Ok(self)
    }

    /// Makes the store's writes fail as a read-only database does, or lets them through (tests).
    #[cfg(any(test, feature = "test-support"))]
    pub async fn store_refuses_writes(&self, refuse: bool) {
        self.store.refuse_writes(refuse).await;
    }

    /// The provider as messages name it (`None` for a provider that no longer exists).
    pub(super) async fn server_of(&self, provider_id: &str) -> Option<crate::oauth_error::Server> {
        self.provider(provider_id)
            .await
            .ok()
            .map(|p| crate::oauth_error::Server::of(&p))
    }

    /// The running sandbox's instance id, if it runs.
    pub(super) fn sandbox_instance(&self) -> Option<&str> {
        self.config.sandbox.as_ref().map(|s| s.instance_id.as_str())
    }

    /// Whether the provider is served by the in-app sandbox (its grants end with the process).
    pub(super) fn through_sandbox(&self, provider_id: &str) -> bool {
        self.catalog
            .spec(provider_id)
            .is_ok_and(|p| p.environment == crate::model::Environment::Sandbox)
    }

    /// Once per process: a connection issued by an earlier run of the sandbox is marked "needs
    /// reconnect" with the true reason (`lifecycle::SANDBOX_RESTARTED`), before anything shows it as
    /// connected or tries to refresh it. Connections made in this run record this run's id, so one
    /// sweep is enough; `usable_connection` checks the same rule for calls.
    pub(super) async fn sweep_earlier_sandbox_runs(&self) {
        self.sandbox_swept
            .get_or_init(|| async {
                let Ok(saved) = self.store.integrations().await else {
                    return;
                };
                for i in saved {
                    let lost = crate::lifecycle::lost_in_sandbox_restart(
                        &i,
                        self.through_sandbox(&i.provider_id),
                        self.sandbox_instance(),
                    );
                    if lost {
                        let _ = self
                            .mark_needs_reconnect(&i.id, crate::lifecycle::SANDBOX_RESTARTED)
                            .await;
                    }
                }
            })
            .await;
    }

    pub(super) fn sandbox_base(&self) -> Option<&str> {
        self.config
            .sandbox
            .as_ref()
            .map(|s| s.app.base_url.as_str())
    }

    /// Everything the UI needs to start. The keychain is not probed here: only step 2 and the
    /// Nango push store a secret, and they ask (`Engine::keychain_status`) when they open.
    pub async fn bootstrap(&self) -> Bootstrap {
        self.sweep_earlier_sandbox_runs().await;
        let (integrations, last_integration_id, read_problem) = match self.saved_views().await {
            Ok(found) => (found.0, found.1, None),
            Err(e) => (Vec::new(), None, Some(e.to_ui())),
        };
        let default_provider_id = if self.config.sandbox.is_some() {
            DEFAULT_PROVIDER_ID.to_string()
        } else {
            "atlassian".to_string()
        };
        Bootstrap {
            providers: self.providers().await,
            test_calls: self.catalog.test_call_presets(),
            integrations,
            last_integration_id,
            sandbox: self.config.sandbox.as_ref().map(|s| s.app.clone()),
            default_provider_id,
            store_problem: self.store_problem.clone().or(read_problem),
            unmatched_callback: self
                .unmatched_callback
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        }
    }

    /// Every saved integration as the UI sees it, and the last one shown.
    async fn saved_views(&self) -> Result<(Vec<IntegrationView>, Option<String>), OnrampError> {
        let mut views = Vec::new();
        for i in self.store.integrations().await? {
            views.push(self.view(&i).await?);
        }
        Ok((views, self.store.last_integration_id().await?))
    }

    /// The saved integration as the UI sees it (history included).
    pub(super) async fn view(&self, i: &Integration) -> Result<IntegrationView, OnrampError> {
        let history = self.store.history(&i.id).await?;
        Ok(self.view_with_history(i, history).await)
    }

    /// [`Self::view`] with the history already read (newest first).
    pub(super) async fn view_with_history(
        &self,
        i: &Integration,
        history: Vec<crate::model::HistoryEntry>,
    ) -> IntegrationView {
        let provider = self.provider(&i.provider_id).await.ok();
        // The store hands records out without their history; the steps need it ("a test call ran").
        let steps = crate::steps::statuses(
            &Integration {
                history: history.clone(),
                ..i.clone()
            },
            provider.as_deref(),
        );
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
            handed_off: i.handed_off.clone(),
            has_client_secret: i.has_client_secret,
            runnable_test_calls: match (&i.connection, &provider) {
                (Some(c), Some(p)) if c.state == ConnectionState::Connected => {
                    crate::scopes::runnable_test_calls(p, &c.granted_scopes)
                }
                _ => Vec::new(),
            },
            // A service account needs no refresh token: its token is fetched again instead.
            refresh_token_advice: i
                .connection
                .as_ref()
                .filter(|c| !c.has_refresh_token)
                .filter(|_| {
                    provider
                        .as_ref()
                        .is_none_or(|p| p.grant != crate::model::Grant::ClientCredentials)
                })
                .map(|_| {
                    let server = provider.as_deref().map_or_else(
                        crate::oauth_error::Server::unknown,
                        crate::oauth_error::Server::of,
                    );
                    crate::lifecycle::no_refresh_token_advice(&server, &i.scopes)
                }),
            credential_check: provider
                .as_ref()
                .and_then(|p| self.current_credential_check(i, p)),
            steps,
            history,
        }
    }

    /// Changes one saved integration in one transaction (a second Onramp's change is never lost).
    pub(super) async fn change_integration(
        &self,
        id: &str,
        change: impl FnOnce(&mut Integration) + Send + 'static,
    ) -> Result<Integration, OnrampError> {
        self.store
            .update_integration(id, move |i| {
                change(i);
                Ok(())
            })
            .await
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

/// [`run_blocking`] for a short section the caller waits on with nothing running beside it in the
/// same task: on a multi-thread runtime it runs right here (`block_in_place` hands this worker's other
/// tasks to another thread), which takes the two thread wake-ups of a `spawn_blocking` hop off the
/// caller's path (the connect path: docs/benchmark-engine.md, item 7). Never inside `join!` or
/// `select!`: the other branches would wait for it. On a current-thread runtime it is
/// [`run_blocking`]. A panic in `f` is an error, as it is there.
async fn run_blocking_here<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OnrampError> + Send + 'static,
) -> Result<T, OnrampError> {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if !multi_thread {
        return run_blocking(f).await;
    }
    tokio::task::block_in_place(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
        .map_err(|_| OnrampError::Internal("background task failed: it panicked".into()))?
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OnrampError> + Send + 'static,
) -> Result<T, OnrampError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OnrampError::Internal(format!("background task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_damaged_database_is_reported_at_start_up_and_never_overwritten() {
        crate::vault::use_mock_keychain();
        let dir = tempfile::tempdir().unwrap();
        let db = store::path_in(dir.path());
        std::fs::write(&db, b"not a database at all").unwrap();
        let engine = Engine::new(EngineConfig {
            config_dir: dir.path().into(),
            sandbox: None,
            default_loopback_port: 47823,
        })
        .unwrap();
        let problem = engine.bootstrap().await.store_problem.expect("reported");
        assert!(
            problem.detail.contains(&db.display().to_string()),
            "names the file: {}",
            problem.detail
        );
        // Onramp still works (without saving), and the file is as it was.
        let view = engine.create_integration("atlassian").await.unwrap();
        assert_eq!(engine.integration(&view.id).await.unwrap().id, view.id);
        assert_eq!(std::fs::read(&db).unwrap(), b"not a database at all");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_section_run_here_stays_on_the_calling_worker_on_a_multi_thread_runtime() {
        let ran_on = tokio::spawn(async {
            let caller = std::thread::current().id();
            let ran_on = run_blocking_here(|| Ok(std::thread::current().id()))
                .await
                .unwrap();
            (caller, ran_on)
        })
        .await
        .unwrap();
        assert_eq!(ran_on.0, ran_on.1, "no hop to a blocking thread");
    }

    #[tokio::test]
    async fn a_section_run_here_on_a_current_thread_runtime_hops_as_run_blocking_does() {
        let caller = std::thread::current().id();
        let ran_on = run_blocking_here(|| Ok(std::thread::current().id()))
            .await
            .unwrap();
        assert_ne!(
            caller, ran_on,
            "block_in_place would panic here: spawn_blocking instead"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_a_section_run_here_is_an_error_not_a_crash() {
        for result in [
            tokio::spawn(run_blocking_here(|| -> Result<(), OnrampError> {
                panic!("a bug in a store write")
            }))
            .await
            .unwrap(),
            run_blocking(|| -> Result<(), OnrampError> { panic!("the same in a hop") }).await,
        ] {
            match result {
                Err(OnrampError::Internal(message)) => {
                    assert!(message.contains("background task failed"), "{message}")
                }
                other => panic!("expected an internal error, got {other:?}"),
            }
        }
    }
}

//! `Engine`: the one object the shell talks to. Each public method is one user action of the wizard.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::catalog::{Catalog, DEFAULT_PROVIDER_ID};
use crate::custom;
use crate::diagnosis;
use crate::error::OnrampError;
use crate::gateway;
use crate::loopback::{self, LoopbackListener};
use crate::model::{
    ApiRequest, AuthorizationStarted, Bootstrap, CallbackKind, CallbackSettings, Connection,
    ConnectionState, CustomProviderInput, HistoryEntry, IntegrationPatch, IntegrationView,
    KeychainStatus, Provider, RetryNotice, SandboxConsole, ScopeAdvice, ScopeReport, Site,
    TestCallPreset, TestCallResult,
};
use crate::now_unix;
use crate::oauth::{self, ClientCredentials, FlowRegistry, PendingFlow, TokenSet};
use crate::scopes;
use crate::settings::{self, Integration, Settings};
use crate::vault::{SecretKind, Vault};

/// The deep-link callback URL. The scheme is registered with the OS by the shell.
pub const DEEP_LINK_CALLBACK: &str = "onramp://callback";
/// Most history entries kept per integration.
pub const HISTORY_LIMIT: usize = 50;

/// On use, a token this close to expiry is refreshed first: 1/20 of its lifetime, 1–60 s
/// (Atlassian's 3600 s tokens: 60 s).
pub fn use_margin_secs(lifetime: Option<i64>) -> i64 {
    lifetime.map_or(60, |l| (l / 20).clamp(1, 60))
}

/// In the background, a token is refreshed when this close to expiry: 1/5 of its lifetime, up to
/// 15 minutes (Nango refreshes 15 minutes early).
pub fn proactive_margin_secs(lifetime: Option<i64>) -> i64 {
    lifetime.map_or(900, |l| (l / 5).clamp(2, 900))
}

/// Why a refresh token stopped working, as far as Onramp can tell (reference §3: 90 days unused,
/// 365 days after first consent, rotation reuse, revocation, password change).
pub fn reconnect_reason(connection: &Connection, now: i64) -> String {
    const DAY: i64 = 86_400;
    let base = "Atlassian refused the refresh token (invalid_grant).";
    if now - connection.connected_at >= 365 * DAY {
        return format!("{base} Refresh tokens end 365 days after the first consent, however often they are used: consent again.");
    }
    let last_use = connection
        .last_refresh_at
        .unwrap_or(connection.connected_at);
    if now - last_use >= 90 * DAY {
        return format!(
            "{base} It was not used for 90 days, and unused refresh tokens expire after 90 days."
        );
    }
    format!("{base} The user may have revoked the app's access, changed their password, or an old refresh token was reused after rotation (which revokes the whole family).")
}

pub struct EngineConfig {
    pub config_dir: PathBuf,
    pub sandbox: Option<SandboxConsole>,
    pub default_loopback_port: u16,
}

/// A started authorization: what the UI shows, and the loopback listener to await, if any.
pub struct StartedAuthorization {
    pub started: AuthorizationStarted,
    pub loopback: Option<LoopbackListener>,
}

/// A callback matched to its pending flow, ready for the code exchange.
pub struct AcceptedCallback {
    pub integration_id: String,
    code: String,
    flow: PendingFlow,
}

/// A gateway answer after refreshes and retries.
struct Sent {
    raw: gateway::RawResponse,
    attempts: u32,
    refreshed: bool,
}

/// A callback that was refused, and the integration it belongs to when that is known.
pub struct RefusedCallback {
    pub integration_id: Option<String>,
    pub error: OnrampError,
    /// The integration's flow is still pending (a stray or malformed request did not end it).
    pub still_waiting: bool,
}

/// Owned credentials for the token endpoint; not `Debug`, it holds the secret.
struct TokenEndpoint {
    token_url: String,
    client_id: String,
    client_secret: String,
    auth: crate::model::ClientAuth,
}

impl TokenEndpoint {
    fn credentials(&self) -> ClientCredentials<'_> {
        ClientCredentials {
            token_url: &self.token_url,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            auth: self.auth,
        }
    }
}

/// A console request resolved to what is sent.
struct ResolvedRequest {
    label: String,
    method: String,
    url: String,
    body: Option<String>,
    preset: Option<TestCallPreset>,
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
    /// One refresh at a time per integration.
    refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Background refreshes that failed (network, 5xx, locked keychain): failures so far and when
    /// to try again, so a broken connection is not retried on every tick.
    background_backoff: Mutex<HashMap<String, (u32, i64)>>,
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
            refresh_locks: Mutex::new(HashMap::new()),
            background_backoff: Mutex::new(HashMap::new()),
            unmatched_callback: Mutex::new(None),
        })
    }

    fn sandbox_base(&self) -> Option<&str> {
        self.config.sandbox.as_ref().map(|s| s.base_url.as_str())
    }

    pub fn provider(&self, provider_id: &str) -> Result<Provider, OnrampError> {
        if provider_id.starts_with(custom::ID_PREFIX) {
            let settings = self.read_settings();
            let found = settings
                .custom_providers
                .iter()
                .find(|c| c.id == provider_id);
            return found
                .map(custom::to_provider)
                .ok_or_else(|| OnrampError::UnknownProvider(provider_id.to_string()));
        }
        self.catalog.provider(provider_id, self.sandbox_base())
    }

    /// Built-in providers, then the user's custom ones.
    pub fn providers(&self) -> Vec<Provider> {
        let mut all = self.catalog.providers(self.sandbox_base());
        all.extend(
            self.read_settings()
                .custom_providers
                .iter()
                .map(custom::to_provider),
        );
        all
    }

    /// Saves a custom provider (new when `id` is `None`). Integrations using it keep working.
    pub fn save_custom_provider(
        &self,
        id: Option<String>,
        input: CustomProviderInput,
    ) -> Result<Provider, OnrampError> {
        custom::validate(&input)?;
        let id = match id {
            Some(id) => {
                self.provider(&id)?;
                id
            }
            None => format!("{}{}", custom::ID_PREFIX, new_id()),
        };
        let saved = custom::CustomProvider {
            id: id.clone(),
            input,
        };
        self.write_settings(|s| {
            s.custom_providers.retain(|c| c.id != id);
            s.custom_providers.push(saved.clone());
            Ok(())
        })?;
        tracing::info!("custom provider {id} saved");
        self.provider(&id)
    }

    /// Removes a custom provider that no integration uses (saved integrations are never broken).
    pub fn delete_custom_provider(&self, id: &str) -> Result<(), OnrampError> {
        self.write_settings(|s| {
            if let Some(i) = s.integrations.iter().find(|i| i.provider_id == id) {
                return Err(OnrampError::invalid(
                    "provider",
                    format!(
                        "The integration \"{}\" uses this provider; delete it first.",
                        i.name
                    ),
                ));
            }
            s.custom_providers.retain(|c| c.id != id);
            Ok(())
        })
    }

    pub async fn discover_provider(
        &self,
        issuer: &str,
    ) -> Result<CustomProviderInput, OnrampError> {
        custom::discover(&self.http, issuer).await
    }

    /// The guards of step 3 for a set of scopes.
    pub fn advise_scopes(
        &self,
        provider_id: &str,
        scopes: &[String],
    ) -> Result<ScopeAdvice, OnrampError> {
        Ok(scopes::advise(&self.provider(provider_id)?, scopes))
    }

    /// Requested vs granted, from the token's scopes and the chosen site (or, before a choice, the
    /// sites listed so far).
    pub fn scope_report(&self, id: &str) -> Result<ScopeReport, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        let connection = integration
            .connection
            .as_ref()
            .ok_or(OnrampError::NotConnected)?;
        let (sites, source) = match &integration.site {
            Some(site) => (vec![site.clone()], Some(format!("site {}", site.name))),
            None => {
                let listed = self.last_listed_sites(id);
                let source =
                    (!listed.is_empty()).then(|| format!("the {} listed site(s)", listed.len()));
                (listed, source)
            }
        };
        Ok(scopes::report(
            &provider,
            &integration.scopes,
            &connection.granted_scopes,
            &sites,
            source,
        ))
    }

    /// The listed sites whose host matches a subdomain exactly (Nango's rule); all of them for "".
    pub fn filter_sites(&self, id: &str, subdomain: &str) -> Result<Vec<Site>, OnrampError> {
        Ok(self
            .last_listed_sites(id)
            .into_iter()
            .filter(|s| gateway::site_matches_subdomain(&s.url, subdomain))
            .collect())
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
            sandbox: self.config.sandbox.clone(),
            default_provider_id,
            settings_problem: self.settings_problem.clone(),
            unmatched_callback: self
                .unmatched_callback
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        }
    }

    pub fn integration(&self, id: &str) -> Result<IntegrationView, OnrampError> {
        Ok(self.view(self.read_settings().integration(id)?))
    }

    pub fn create_integration(&self, provider_id: &str) -> Result<IntegrationView, OnrampError> {
        let provider = self.provider(provider_id)?;
        let now = now_unix();
        let integration = Integration {
            id: new_id(),
            name: format!("{} integration", provider.display_name),
            provider_id: provider.id.clone(),
            client_id: String::new(),
            callback: CallbackSettings {
                kind: CallbackKind::Loopback,
                loopback_port: self.config.default_loopback_port,
            },
            // Step 3 starts from the defaults plus what the test calls need; the user edits from there
            // (an emptied selection stays empty).
            scopes: provider.suggested_scopes.clone(),
            console_done: Vec::new(),
            site: None,
            connection: None,
            has_client_secret: false,
            history: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let view = self.view(&integration);
        self.write_settings(|s| {
            s.last_integration_id = Some(integration.id.clone());
            s.integrations.push(integration);
            Ok(())
        })?;
        tracing::info!("created integration {} for {provider_id}", view.id);
        Ok(view)
    }

    pub fn update_integration(
        &self,
        id: &str,
        patch: IntegrationPatch,
    ) -> Result<IntegrationView, OnrampError> {
        let current = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&current.provider_id)?;
        if let Some(name) = &patch.name {
            if name.trim().is_empty() {
                return Err(OnrampError::invalid("name", "The name cannot be empty."));
            }
        }
        if let Some(client_id) = &patch.client_id {
            validate_credential("client ID", client_id)?;
        }
        if let Some(callback) = &patch.callback {
            if !provider.callbacks.iter().any(|c| c.kind == callback.kind) {
                return Err(OnrampError::invalid(
                    "callback",
                    format!(
                        "{} does not offer this callback kind.",
                        provider.display_name
                    ),
                ));
            }
            if callback.kind == CallbackKind::Loopback && callback.loopback_port < 1024 {
                return Err(OnrampError::invalid(
                    "loopback port",
                    "Pick a port from 1024 to 65535: lower ports need administrator rights.",
                ));
            }
        }
        if let Some(scopes) = &patch.scopes {
            for s in scopes {
                if s.is_empty() || s.chars().any(char::is_whitespace) {
                    return Err(OnrampError::invalid(
                        "scopes",
                        format!("\"{s}\" is not a scope name: scope names have no spaces."),
                    ));
                }
            }
        }
        // Only the patched fields change: a refresh or history entry written meanwhile stays.
        self.write_settings(|s| {
            let i = s.integration_mut(id)?;
            if let Some(v) = patch.name {
                i.name = v.trim().to_string();
            }
            if let Some(v) = patch.client_id {
                i.client_id = v;
            }
            if let Some(v) = patch.callback {
                i.callback = v;
            }
            if let Some(v) = patch.scopes {
                i.scopes = without_repeats(v);
            }
            if let Some(v) = patch.console_done {
                i.console_done = v;
            }
            i.updated_at = now_unix();
            s.last_integration_id = Some(id.to_string());
            Ok(())
        })?;
        self.integration(id)
    }

    /// Step 2's form: the client ID and, when given, the client secret, checked together before
    /// anything is stored (pasted whitespace around them is dropped). The secret goes to the keychain;
    /// the settings only record that one exists.
    pub async fn save_credentials(
        &self,
        id: &str,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<IntegrationView, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let client_id = client_id.trim().to_string();
        let secret = secret.map(str::trim).filter(|s| !s.is_empty());
        validate_credential("client ID", &client_id)?;
        match secret {
            None if !integration.has_client_secret => {
                return Err(OnrampError::invalid(
                    "client secret",
                    "Enter the client secret from the console's Settings page.",
                ))
            }
            None => {}
            Some(secret) => {
                validate_credential("client secret", secret)?;
                if secret == client_id {
                    return Err(OnrampError::invalid(
                        "client secret",
                        "The client ID and the secret are the same: they look swapped or duplicated. Copy each from its own field in the console.",
                    ));
                }
            }
        }
        // The sandbox's credentials are known: catch them pasted into each other's field.
        if let Some(sandbox) = &self.config.sandbox {
            if integration.provider_id == DEFAULT_PROVIDER_ID
                && (client_id == sandbox.client_secret || secret == Some(&sandbox.client_id))
            {
                return Err(OnrampError::invalid(
                    "client ID",
                    "The client ID and the secret look swapped: paste the sandbox console's Client ID into the Client ID field and its Secret into the Secret field.",
                ));
            }
        }
        if let Some(secret) = secret {
            let (vault, owned_id, secret) =
                (self.vault.clone(), id.to_string(), secret.to_string());
            run_blocking(move || vault.set(&owned_id, SecretKind::ClientSecret, &secret)).await?;
            tracing::info!("client secret for integration {id} stored in the keychain");
        }
        self.change_integration(id, |i| {
            i.client_id = client_id;
            i.has_client_secret |= secret.is_some();
        })?;
        self.integration(id)
    }

    /// Builds the authorize URL and registers the pending flow. For a loopback callback the listener
    /// is bound first, so a busy port is reported before the browser opens.
    pub async fn start_authorization(&self, id: &str) -> Result<StartedAuthorization, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        if integration.client_id.is_empty() {
            return Err(OnrampError::invalid(
                "client ID",
                "Enter the client ID from the developer console in step 2.",
            ));
        }
        if !integration.has_client_secret {
            return Err(OnrampError::ClientSecretMissing);
        }
        if integration.scopes.is_empty() {
            return Err(OnrampError::invalid(
                "scopes",
                "Pick at least one scope in step 3.",
            ));
        }
        let redirect_uri = redirect_uri_for(&integration.callback);
        let request = oauth::build_authorize_url(&oauth::AuthorizeParams {
            provider: &provider,
            client_id: &integration.client_id,
            redirect_uri: &redirect_uri,
            scopes: &integration.scopes,
        })?;
        // A flow still waiting for this integration (timed out in the UI, or "Start again") holds
        // the port with its listener: end it first, so its port is free for the new one.
        let replaced = self.flows.cancel(id);
        let (loopback, stop_listener) = match integration.callback.kind {
            CallbackKind::Loopback => {
                let (listener, stop) =
                    bind_loopback(integration.callback.loopback_port, replaced).await?;
                (Some(listener), Some(stop))
            }
            CallbackKind::DeepLink => (None, None),
        };
        let created_at = now_unix();
        self.flows.begin(
            request.state,
            PendingFlow {
                integration_id: id.to_string(),
                redirect_uri: redirect_uri.clone(),
                pkce_verifier: request.pkce_verifier,
                created_at,
                stop_listener,
            },
        );
        tracing::info!(
            "authorization started for integration {id} ({:?})",
            integration.callback.kind
        );
        Ok(StartedAuthorization {
            started: AuthorizationStarted {
                authorize_url: request.url,
                redirect_uri,
                expires_at: created_at + oauth::FLOW_TTL.as_secs() as i64,
            },
            loopback,
        })
    }

    pub fn cancel_authorization(&self, id: &str) -> bool {
        self.flows.cancel(id)
    }

    /// Ends the authorizations nobody answered within [`oauth::FLOW_TTL`] (their loopback
    /// listeners close) and returns their integrations, to tell the UI.
    pub fn expire_stale_authorizations(&self) -> Vec<String> {
        let expired = self.flows.expire_stale(now_unix());
        for id in &expired {
            tracing::info!("authorization for integration {id} expired unanswered");
        }
        expired
    }

    /// Step one of a callback: parse it and match its state to a pending flow.
    pub fn accept_callback(&self, callback_url: &str) -> Result<AcceptedCallback, RefusedCallback> {
        let refused = |integration_id: Option<String>, error: OnrampError| {
            tracing::warn!("callback refused: {}", error.to_ui().code);
            let integration_id = integration_id.or_else(|| self.flows.sole_pending_integration());
            if integration_id.is_none() {
                // Nobody is waiting: keep it for a window that is not listening yet (cold start).
                *self
                    .unmatched_callback
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(error.to_ui());
            }
            RefusedCallback {
                still_waiting: integration_id
                    .as_deref()
                    .is_some_and(|id| self.flows.is_pending(id)),
                integration_id,
                error,
            }
        };
        let params = oauth::parse_callback(callback_url).map_err(|e| refused(None, e))?;
        match oauth::accept_callback(&self.flows, &params) {
            Ok((mut flow, code)) => {
                // The flow is taken: its loopback listener closes now (the "close this tab" page
                // still completes), so nothing else is handled as a callback during the exchange.
                drop(flow.stop_listener.take());
                Ok(AcceptedCallback {
                    integration_id: flow.integration_id.clone(),
                    code,
                    flow,
                })
            }
            Err((integration_id, error)) => Err(refused(integration_id, error)),
        }
    }

    /// Step two: exchange the code, store the tokens in the keychain, record the connection.
    pub async fn finish_authorization(
        &self,
        accepted: AcceptedCallback,
    ) -> Result<IntegrationView, OnrampError> {
        let id = accepted.integration_id.clone();
        let integration = self.read_settings().integration(&id)?.clone();
        let endpoint = self.token_endpoint(&integration).await?;
        let tokens = oauth::exchange_code(
            &self.http,
            &endpoint.credentials(),
            &accepted.code,
            &accepted.flow.redirect_uri,
            accepted.flow.pkce_verifier.as_deref(),
        )
        .await?;
        let granted = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| integration.scopes.clone());
        // A refresh of the old grant still in flight must not land on top of the new tokens.
        let lock = self.refresh_lock(&id);
        let _refreshing = lock.lock().await;
        // Deleted during the exchange: store nothing, or the tokens would outlive the integration.
        self.read_settings().integration(&id)?;
        self.store_tokens(&id, &tokens, true).await?;
        self.clear_background_backoff(&id);
        let connection = Connection {
            state: ConnectionState::Connected,
            connected_at: now_unix(),
            expires_at: tokens.expires_at,
            granted_scopes: granted,
            has_refresh_token: tokens.refresh_token.is_some(),
            reason: None,
            token_lifetime: tokens.lifetime,
            last_refresh_at: None,
        };
        self.change_integration(&id, |i| {
            i.connection = Some(connection);
        })?;
        tracing::info!("integration {id} connected");
        self.integration(&id)
    }

    /// The sites the token reaches. Like a console request, an expired token is refreshed once and
    /// a 429 is waited out.
    pub async fn list_sites(&self, id: &str) -> Result<Vec<Site>, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        let url = gateway::accessible_resources_url(&provider);
        let sent = self
            .send_with_recovery(id, "GET", &url, None, &|_| {})
            .await?;
        let sites = gateway::parse_accessible_resources(&sent.raw)?;
        self.listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), sites.clone());
        Ok(sites)
    }

    /// The sites `list_sites` last returned for this integration (empty before the first listing).
    fn last_listed_sites(&self, id: &str) -> Vec<Site> {
        self.listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// Picks a site from the list last shown; never guesses one.
    pub fn select_site(&self, id: &str, cloud_id: &str) -> Result<IntegrationView, OnrampError> {
        let site = self
            .last_listed_sites(id)
            .into_iter()
            .find(|s| s.id == cloud_id)
            .ok_or_else(|| {
                OnrampError::invalid("site", "Pick one of the sites listed for this connection.")
            })?;
        self.change_integration(id, |i| {
            i.site = Some(site);
        })?;
        self.integration(id)
    }

    pub async fn run_test_call(
        &self,
        id: &str,
        preset_id: &str,
    ) -> Result<TestCallResult, OnrampError> {
        let request = ApiRequest {
            preset_id: Some(preset_id.to_string()),
            method: String::new(),
            product: None,
            path: String::new(),
            query: None,
            body: None,
        };
        self.run_request(id, &request, &|_| {}).await
    }

    /// Resolves a console request to (label id, method, URL, path for the history, body, preset).
    fn resolve_request(
        &self,
        integration: &Integration,
        provider: &Provider,
        request: &ApiRequest,
    ) -> Result<ResolvedRequest, OnrampError> {
        let cloud_id = integration.site.as_ref().map(|s| s.id.as_str());
        if let Some(preset_id) = &request.preset_id {
            let preset = provider
                .test_calls
                .iter()
                .find(|t| &t.id == preset_id)
                .ok_or_else(|| OnrampError::UnknownTestCall(preset_id.clone()))?;
            let url = gateway::test_call_url(provider, preset, cloud_id)?;
            return Ok(ResolvedRequest {
                label: preset.id.clone(),
                method: preset.method.clone(),
                url,
                body: None,
                preset: Some(preset.clone()),
            });
        }
        let method = request.method.trim().to_ascii_uppercase();
        if !gateway::METHODS.contains(&method.as_str()) {
            return Err(OnrampError::invalid(
                "method",
                format!("Use one of {}.", gateway::METHODS.join(", ")),
            ));
        }
        let path = request.path.trim();
        if !path.starts_with('/') || path.contains("://") || path.contains("..") {
            return Err(OnrampError::invalid("path", "Give a path that starts with /, relative to the product's gateway path (e.g. /rest/api/3/myself)."));
        }
        if path.contains(char::is_whitespace) {
            return Err(OnrampError::invalid(
                "path",
                "The path contains spaces: encode them as %20.",
            ));
        }
        let body = request
            .body
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty());
        if let Some(b) = body {
            if method == "GET" {
                return Err(OnrampError::invalid(
                    "body",
                    "A GET request has no body; clear it or pick another method.",
                ));
            }
            serde_json::from_str::<serde_json::Value>(b).map_err(|e| {
                OnrampError::invalid("body", format!("The body is not valid JSON: {e}."))
            })?;
        }
        let base = provider.gateway_url.trim_end_matches('/');
        if base.is_empty() {
            return Err(OnrampError::invalid(
                "path",
                format!("{} has no API address to send custom requests to: give the custom provider a test-call URL in step 1; paths are then relative to its origin.", provider.display_name),
            ));
        }
        let prefix = match request.product {
            Some(product) => {
                if !provider.products.iter().any(|p| p.id == product) {
                    return Err(OnrampError::invalid(
                        "product",
                        format!(
                            "{} has no {} API.",
                            provider.display_name,
                            product.display_name()
                        ),
                    ));
                }
                let cloud_id = cloud_id.ok_or(OnrampError::NoSiteSelected)?;
                format!("/ex/{}/{cloud_id}", product.gateway_segment())
            }
            None => String::new(),
        };
        let path = cloud_id.map_or(path.to_string(), |c| path.replace("{cloudId}", c));
        let query = request
            .query
            .as_deref()
            .map(|q| q.trim().trim_start_matches('?'))
            .filter(|q| !q.is_empty());
        let url = format!(
            "{base}{prefix}{path}{}",
            query.map(|q| format!("?{q}")).unwrap_or_default()
        );
        Ok(ResolvedRequest {
            label: "custom".into(),
            method,
            url,
            body: body.map(str::to_string),
            preset: None,
        })
    }

    /// Runs a console request: refreshes the token first when it is about to expire, refreshes once
    /// and retries when the gateway rejects the token, and waits and retries (bounded) on 429, 503 and
    /// other 5xx answers, telling `on_retry` about each wait. Records the call in the history.
    pub async fn run_request(
        &self,
        id: &str,
        request: &ApiRequest,
        on_retry: &(dyn Fn(RetryNotice) + Send + Sync),
    ) -> Result<TestCallResult, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        let resolved = self.resolve_request(&integration, &provider, request)?;
        let Sent {
            raw,
            attempts,
            refreshed,
        } = self
            .send_with_recovery(
                id,
                &resolved.method,
                &resolved.url,
                resolved.body.as_deref(),
                on_retry,
            )
            .await?;
        let error = (!(200..300).contains(&raw.status)).then(|| {
            let granted = self
                .read_settings()
                .integration(id)
                .ok()
                .and_then(|i| i.connection.clone())
                .map(|c| c.granted_scopes)
                .unwrap_or_default();
            diagnosis::for_response(
                &diagnosis::ResponseContext {
                    provider: &provider,
                    preset: resolved.preset.as_ref(),
                    method: &resolved.method,
                    url: &resolved.url,
                    cloud_id: integration.site.as_ref().map(|s| s.id.as_str()),
                    granted_scopes: &granted,
                    refreshed,
                },
                raw.status,
                &String::from_utf8_lossy(&raw.body),
            )
        });
        let entry = HistoryEntry {
            at: now_unix(),
            method: resolved.method.clone(),
            path: resolved
                .url
                .strip_prefix(provider.gateway_url.trim_end_matches('/'))
                .unwrap_or(&resolved.url)
                .to_string(),
            status: raw.status,
            elapsed_ms: raw.elapsed_ms,
            request: reloadable_request(request, resolved.preset.as_ref()),
        };
        self.change_integration(id, |i| {
            i.history.insert(0, entry);
            i.history.truncate(HISTORY_LIMIT);
        })?;
        tracing::info!(
            "request {} for integration {id}: HTTP {} in {} ms after {attempts} attempt(s)",
            resolved.label,
            raw.status,
            raw.elapsed_ms
        );
        Ok(gateway::to_result(
            &resolved.label,
            &resolved.method,
            &resolved.url,
            raw,
            attempts,
            refreshed,
            error,
        ))
    }

    /// Sends a gateway request with the integration's token: refreshes once and retries when the
    /// token was rejected (401, or 403/404 late in its life: Atlassian's gateway does not always say
    /// 401), and waits out 429/503 and other 5xx answers within bounds, telling `on_retry` each time.
    async fn send_with_recovery(
        &self,
        id: &str,
        method: &str,
        url: &str,
        body: Option<&str>,
        on_retry: &(dyn Fn(RetryNotice) + Send + Sync),
    ) -> Result<Sent, OnrampError> {
        let mut token = self.access_token(id).await?;
        let mut refreshed = false;
        let (mut attempts, mut rate_retries, mut server_retries) = (0u32, 0u32, 0u32);
        let raw = loop {
            attempts += 1;
            let raw = gateway::send_once(&self.http, method, url, &token, body).await?;
            let scope_mismatch = raw.status == 401
                && String::from_utf8_lossy(&raw.body).contains("scope does not match");
            let token_rejected = (raw.status == 401 && !scope_mismatch)
                || (matches!(raw.status, 403 | 404) && self.token_possibly_expired(id));
            if token_rejected && !refreshed {
                tracing::info!(
                    "integration {id}: gateway answered {}; refreshing once and retrying",
                    raw.status
                );
                token = self.refresh_after_rejection(id, &token).await?;
                refreshed = true;
                continue;
            }
            let is_rate_limit = matches!(raw.status, 429 | 503);
            let retries = if is_rate_limit {
                rate_retries
            } else {
                server_retries
            };
            let now_ms = crate::now_unix_ms();
            match gateway::retry_delay(raw.status, &raw.headers, retries, now_ms) {
                Some(wait) => {
                    if is_rate_limit {
                        rate_retries += 1
                    } else {
                        server_retries += 1
                    }
                    let notice = RetryNotice {
                        integration_id: id.to_string(),
                        attempt: attempts + 1,
                        status: raw.status,
                        wait_ms: wait.as_millis() as u64,
                        retry_at_ms: now_ms + wait.as_millis() as i64,
                        reason: if is_rate_limit {
                            format!("Rate limited (HTTP {}): waiting as the provider asked before retrying.", raw.status)
                        } else {
                            format!("HTTP {}: retrying after a short backoff.", raw.status)
                        },
                    };
                    tracing::info!(
                        "integration {id}: HTTP {}, retry {} in {} ms",
                        raw.status,
                        notice.attempt,
                        notice.wait_ms
                    );
                    on_retry(notice);
                    tokio::time::sleep(wait).await;
                }
                None => break raw,
            }
        };
        Ok(Sent {
            raw,
            attempts,
            refreshed,
        })
    }

    /// The method and URL a console request would go to, or why it cannot be sent; no network.
    pub fn preview_request(&self, id: &str, request: &ApiRequest) -> Result<String, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        Ok(self.resolve_request(&integration, &provider, request)?.url)
    }

    /// `curl` for a console request; the real token only when `reveal` is true.
    pub async fn curl_command(
        &self,
        id: &str,
        request: &ApiRequest,
        reveal: bool,
    ) -> Result<String, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        let resolved = self.resolve_request(&integration, &provider, request)?;
        let token = if reveal {
            Some(self.access_token(id).await?)
        } else {
            None
        };
        Ok(gateway::curl_command(
            &resolved.method,
            &resolved.url,
            resolved.body.as_deref(),
            token.as_deref(),
        ))
    }

    /// Explains an error the user copied from the browser, with the callback URL Onramp sent.
    pub fn diagnose_browser_error(&self, id: Option<&str>, text: &str) -> crate::model::UiError {
        let sent = id
            .and_then(|id| self.integration(id).ok())
            .map(|v| v.redirect_uri);
        diagnosis::for_browser_text(text, sent.as_deref())
    }

    /// Atlassian's gateway does not always say 401 for an expired token: a 403/404 is taken as
    /// possibly expired when the token is in the second half of its life (or its age is unknown).
    fn token_possibly_expired(&self, id: &str) -> bool {
        let Ok(i) = self.read_settings().integration(id).cloned() else {
            return false;
        };
        let Some(c) = i.connection else { return false };
        match (c.expires_at, c.token_lifetime) {
            (Some(exp), Some(life)) => now_unix() >= exp - life / 2,
            _ => true,
        }
    }

    /// A valid access token, refreshed first when it is about to expire. One refresh at a time per
    /// integration: a caller that waited re-reads the settings, because the refresh it waited for may
    /// already have produced a fresh token.
    pub async fn access_token(&self, id: &str) -> Result<String, OnrampError> {
        let lock = self.refresh_lock(id);
        let _guard = lock.lock().await;
        let integration = self.read_settings().integration(id)?.clone();
        let connection = self.usable_connection(&integration)?;
        let fresh = connection
            .expires_at
            .is_none_or(|exp| exp - use_margin_secs(connection.token_lifetime) > now_unix());
        if fresh {
            if let Some(token) = self.stored(id, SecretKind::AccessToken).await? {
                return Ok(token);
            }
        }
        self.refresh_locked(&integration).await
    }

    /// The gateway rejected `used`: refresh, unless another caller already replaced it.
    async fn refresh_after_rejection(&self, id: &str, used: &str) -> Result<String, OnrampError> {
        let lock = self.refresh_lock(id);
        let _guard = lock.lock().await;
        let integration = self.read_settings().integration(id)?.clone();
        self.usable_connection(&integration)?;
        match self.stored(id, SecretKind::AccessToken).await? {
            Some(current) if current != used => Ok(current),
            _ => self.refresh_locked(&integration).await,
        }
    }

    /// "Refresh now": refreshes whatever the expiry says.
    pub async fn refresh_now(&self, id: &str) -> Result<IntegrationView, OnrampError> {
        let lock = self.refresh_lock(id);
        let _guard = lock.lock().await;
        let integration = self.read_settings().integration(id)?.clone();
        self.usable_connection(&integration)?;
        self.refresh_locked(&integration).await?;
        self.integration(id)
    }

    /// Refreshes, in the background, every token that is due (see `due_for_proactive_refresh`).
    /// A failed attempt is tried again after 30 s, 1 min, 2 min … (at most 15 min); `invalid_grant`
    /// marks the connection "needs reconnect" instead. Returns the integrations that were tried, whose
    /// view may have changed.
    pub async fn refresh_due_in_background(&self) -> Vec<String> {
        let due = self.due_for_proactive_refresh();
        for id in &due {
            // A success clears the backoff (refresh_locked does it).
            if let Err(e) = self.refresh_now(id).await {
                let mut backoff = self
                    .background_backoff
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let failures = backoff.get(id).map_or(0, |(n, _)| *n) + 1;
                let wait = background_retry_secs(failures);
                backoff.insert(id.clone(), (failures, now_unix() + wait));
                tracing::warn!(
                    "background refresh of {id} failed ({}); next try in {wait} s",
                    e.to_ui().code
                );
            }
        }
        due
    }

    /// A working refresh, a new grant or a removed connection ends any background backoff.
    fn clear_background_backoff(&self, id: &str) {
        self.background_backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Connections whose token should be refreshed in the background now.
    pub fn due_for_proactive_refresh(&self) -> Vec<String> {
        let now = now_unix();
        let backoff = self
            .background_backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.read_settings()
            .integrations
            .iter()
            .filter(|i| {
                i.connection.as_ref().is_some_and(|c| {
                    c.state == ConnectionState::Connected
                        && c.has_refresh_token
                        && c.expires_at
                            .is_some_and(|exp| exp - proactive_margin_secs(c.token_lifetime) <= now)
                }) && backoff
                    .get(&i.id)
                    .is_none_or(|(_, retry_at)| *retry_at <= now)
            })
            .map(|i| i.id.clone())
            .collect()
    }

    /// Deletes an integration: its keychain entries first, then its settings.
    pub async fn delete_integration(&self, id: &str) -> Result<(), OnrampError> {
        self.read_settings().integration(id)?;
        self.flows.cancel(id);
        // Wait for a refresh in flight, or it would write a live token back after the delete.
        let lock = self.refresh_lock(id);
        let _refreshing = lock.lock().await;
        self.clear_background_backoff(id);
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.delete_all(&owned)).await?;
        self.write_settings(|s| {
            s.integrations.retain(|i| i.id != id);
            if s.last_integration_id.as_deref() == Some(id) {
                s.last_integration_id = None;
            }
            Ok(())
        })
    }

    /// Forgets the tokens (keychain entries deleted) but keeps the integration and its client secret.
    /// Revoking the grant itself happens at Atlassian: no 3LO revocation endpoint is established.
    pub async fn disconnect(&self, id: &str) -> Result<IntegrationView, OnrampError> {
        self.read_settings().integration(id)?;
        self.flows.cancel(id);
        let lock = self.refresh_lock(id);
        let _refreshing = lock.lock().await;
        self.clear_background_backoff(id);
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || {
            vault.delete(&owned, SecretKind::RefreshToken)?;
            vault.delete(&owned, SecretKind::AccessToken)
        })
        .await?;
        self.change_integration(id, |i| {
            i.connection = None;
        })?;
        tracing::info!("integration {id} disconnected");
        self.integration(id)
    }

    fn usable_connection(&self, integration: &Integration) -> Result<Connection, OnrampError> {
        let connection = integration
            .connection
            .clone()
            .ok_or(OnrampError::NotConnected)?;
        if connection.state == ConnectionState::NeedsReconnect {
            return Err(OnrampError::NeedsReconnect(
                connection
                    .reason
                    .unwrap_or_else(|| "The connection was lost.".into()),
            ));
        }
        Ok(connection)
    }

    async fn stored(&self, id: &str, kind: SecretKind) -> Result<Option<String>, OnrampError> {
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.get(&owned, kind)).await
    }

    /// Refreshes with the stored refresh token. Caller holds the integration's refresh lock.
    async fn refresh_locked(&self, integration: &Integration) -> Result<String, OnrampError> {
        let id = integration.id.clone();
        let Some(refresh_token) = self.stored(&id, SecretKind::RefreshToken).await? else {
            let reason = "The access token expired and there is no refresh token (offline_access was not granted). Authorize again, with offline_access.";
            self.mark_needs_reconnect(&id, reason)?;
            return Err(OnrampError::NeedsReconnect(reason.into()));
        };
        let endpoint = self.token_endpoint(integration).await?;
        let result = oauth::refresh(&self.http, &endpoint.credentials(), &refresh_token).await;
        let tokens = match result {
            Ok(t) => t,
            Err(e) if e.needs_reconnect() => {
                let reason = integration
                    .connection
                    .as_ref()
                    .map(|c| reconnect_reason(c, now_unix()))
                    .unwrap_or_else(|| e.to_ui().detail);
                self.mark_needs_reconnect(&id, &reason)?;
                return Err(OnrampError::NeedsReconnect(reason));
            }
            Err(e) => return Err(e),
        };
        self.store_tokens(&id, &tokens, false).await?;
        self.clear_background_backoff(&id);
        self.change_integration(&id, |i| {
            if let Some(c) = i.connection.as_mut() {
                c.expires_at = tokens.expires_at;
                c.token_lifetime = tokens.lifetime.or(c.token_lifetime);
                c.last_refresh_at = Some(now_unix());
                if let Some(scopes) = &tokens.scopes {
                    c.granted_scopes = scopes.clone();
                }
                c.has_refresh_token = c.has_refresh_token || tokens.refresh_token.is_some();
            }
        })?;
        tracing::info!("integration {id}: access token refreshed");
        Ok(tokens.access_token)
    }

    /// Stores the rotated refresh token before the access token, so a crash in between can only
    /// lose an access token (cheap), never the one refresh token that still works.
    async fn store_tokens(
        &self,
        id: &str,
        tokens: &TokenSet,
        replace_refresh: bool,
    ) -> Result<(), OnrampError> {
        let vault = self.vault.clone();
        let owned = id.to_string();
        let refresh = tokens.refresh_token.clone();
        let access = tokens.access_token.clone();
        run_blocking(move || {
            match refresh {
                Some(rt) => vault.set(&owned, SecretKind::RefreshToken, &rt)?,
                // A new consent without offline_access must not keep an old family's token.
                None if replace_refresh => vault.delete(&owned, SecretKind::RefreshToken)?,
                // A refresh response without a refresh token keeps the stored one.
                None => {}
            }
            vault.set(&owned, SecretKind::AccessToken, &access)
        })
        .await
    }

    fn mark_needs_reconnect(&self, id: &str, reason: &str) -> Result<(), OnrampError> {
        tracing::warn!("integration {id} needs reconnect");
        self.change_integration(id, |i| {
            if let Some(c) = i.connection.as_mut() {
                c.state = ConnectionState::NeedsReconnect;
                c.reason = Some(reason.to_string());
            }
        })
    }

    /// The token endpoint and client credentials of an integration (the secret from the keychain).
    async fn token_endpoint(
        &self,
        integration: &Integration,
    ) -> Result<TokenEndpoint, OnrampError> {
        let provider = self.provider(&integration.provider_id)?;
        Ok(TokenEndpoint {
            token_url: provider.token_url,
            client_id: integration.client_id.clone(),
            client_secret: self.client_secret(&integration.id).await?,
            auth: provider.client_auth,
        })
    }

    async fn client_secret(&self, id: &str) -> Result<String, OnrampError> {
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.get(&owned, SecretKind::ClientSecret))
            .await?
            .ok_or(OnrampError::ClientSecretMissing)
    }

    fn refresh_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.refresh_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    fn view(&self, i: &Integration) -> IntegrationView {
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
            runnable_test_calls: match (&i.connection, self.provider(&i.provider_id)) {
                (Some(c), Ok(p)) if c.state == ConnectionState::Connected => {
                    scopes::runnable_test_calls(&p, &c.granted_scopes)
                }
                _ => Vec::new(),
            },
            history: i.history.clone(),
        }
    }

    fn read_settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes one integration (and its `updated_at`) through [`Self::write_settings`].
    fn change_integration(
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
    fn write_settings(
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

/// Seconds before the next background refresh after `failures` failed ones: 30 s, doubling, ≤ 15 min.
fn background_retry_secs(failures: u32) -> i64 {
    (30i64 << failures.saturating_sub(1).min(5)).min(15 * 60)
}

/// Binds the loopback listener for a new flow. Right after a previous flow for the same port was
/// ended, its listener may still be closing: wait for it briefly (1 s after replacing a flow here,
/// 200 ms otherwise) instead of reporting a busy port.
async fn bind_loopback(
    port: u16,
    after_replacing: bool,
) -> Result<(LoopbackListener, oneshot::Sender<()>), OnrampError> {
    // A listener ended just before (Cancel, expiry) may still be closing too: a short wait always.
    let mut attempts_left = if after_replacing { 40 } else { 8 };
    loop {
        let (stop_tx, stop_rx) = oneshot::channel();
        match LoopbackListener::bind(port, stop_rx, oauth::FLOW_TTL).await {
            Ok(listener) => return Ok((listener, stop_tx)),
            Err(OnrampError::PortInUse(_)) if attempts_left > 1 => {
                attempts_left -= 1;
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

pub fn redirect_uri_for(callback: &CallbackSettings) -> String {
    match callback.kind {
        CallbackKind::Loopback => loopback::redirect_uri(callback.loopback_port),
        CallbackKind::DeepLink => DEEP_LINK_CALLBACK.to_string(),
    }
}

/// Client IDs and secrets are opaque strings without whitespace.
pub fn validate_credential(field: &str, value: &str) -> Result<(), OnrampError> {
    if value.trim().is_empty() {
        return Err(OnrampError::invalid(
            field,
            format!("The {field} is empty."),
        ));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(OnrampError::invalid(
            field,
            format!("The {field} contains spaces or line breaks: copy it again with the console's copy button."),
        ));
    }
    Ok(())
}

/// A history entry's request in the custom form's terms, without a body; `None` for a preset the
/// form cannot express (a custom provider's absolute test-call URL).
fn reloadable_request(request: &ApiRequest, preset: Option<&TestCallPreset>) -> Option<ApiRequest> {
    let Some(preset) = preset else {
        return Some(ApiRequest {
            body: None,
            ..request.clone()
        });
    };
    if !preset.path.starts_with('/') {
        return None;
    }
    let (path, query) = match preset.path.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (preset.path.clone(), None),
    };
    Some(ApiRequest {
        preset_id: None,
        method: preset.method.clone(),
        product: preset.product,
        path,
        query,
        body: None,
    })
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
        .map_err(|e| OnrampError::Keychain(format!("keychain task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    //! The token lifecycle against a mocked provider (mockito). State is seeded directly: a settings
    //! file with a connected custom integration, and its tokens in the in-memory keychain.
    use super::*;
    use crate::model::{ClientAuth, CustomProviderInput};
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Seeded {
        engine: Arc<Engine>,
        id: String,
        _dir: tempfile::TempDir,
    }

    /// A connected integration whose access token `at-1` expires in `remaining` seconds of a
    /// `lifetime`-second life, with refresh token `rt-1`.
    fn seeded(server: &str, remaining: i64, lifetime: i64) -> Seeded {
        crate::vault::use_mock_keychain();
        let dir = tempfile::tempdir().unwrap();
        let id = new_id();
        let now = now_unix();
        let provider = custom::CustomProvider {
            id: format!("custom-{id}"),
            input: CustomProviderInput {
                name: "Mock".into(),
                authorize_url: format!("{server}/authorize"),
                token_url: format!("{server}/oauth/token"),
                scopes: vec!["offline_access".into()],
                extra_params: vec![],
                client_auth: ClientAuth::RequestBody,
                pkce: false,
                test_call_url: Some(format!("{server}/api")),
                issuer: None,
            },
        };
        let integration = Integration {
            id: id.clone(),
            name: "Seeded".into(),
            provider_id: provider.id.clone(),
            client_id: "client-1".into(),
            callback: CallbackSettings {
                kind: CallbackKind::DeepLink,
                loopback_port: 47823,
            },
            scopes: vec!["offline_access".into()],
            console_done: vec![],
            site: None,
            connection: Some(Connection {
                state: ConnectionState::Connected,
                connected_at: now - 100,
                expires_at: Some(now + remaining),
                granted_scopes: vec!["offline_access".into()],
                has_refresh_token: true,
                reason: None,
                token_lifetime: Some(lifetime),
                last_refresh_at: None,
            }),
            has_client_secret: true,
            history: vec![],
            created_at: now,
            updated_at: now,
        };
        let settings = Settings {
            version: 1,
            integrations: vec![integration],
            last_integration_id: None,
            custom_providers: vec![provider],
        };
        settings::save(dir.path(), &settings).unwrap();
        let vault = Vault;
        vault
            .set(&id, SecretKind::ClientSecret, "secret-1")
            .unwrap();
        vault.set(&id, SecretKind::AccessToken, "at-1").unwrap();
        vault.set(&id, SecretKind::RefreshToken, "rt-1").unwrap();
        let engine = Engine::new(EngineConfig {
            config_dir: dir.path().into(),
            sandbox: None,
            default_loopback_port: 47823,
        })
        .unwrap();
        Seeded {
            engine: Arc::new(engine),
            id,
            _dir: dir,
        }
    }

    #[tokio::test]
    async fn credentials_are_checked_together_before_anything_is_stored() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let engine = &seed.engine;
        let code = |r: Result<IntegrationView, OnrampError>| r.unwrap_err().to_ui().detail;
        assert!(code(engine.save_credentials(&seed.id, "", Some("s")).await).contains("empty"));
        assert!(code(
            engine
                .save_credentials(&seed.id, "id-2", Some("not a secret"))
                .await
        )
        .contains("spaces"));
        assert!(code(
            engine
                .save_credentials(&seed.id, "same", Some("same"))
                .await
        )
        .contains("swapped"));
        assert_eq!(
            engine.integration(&seed.id).unwrap().client_id,
            "client-1",
            "a refused form changes nothing"
        );
        assert_eq!(
            Vault
                .get(&seed.id, SecretKind::ClientSecret)
                .unwrap()
                .as_deref(),
            Some("secret-1")
        );
        // Pasted with a trailing newline: trimmed, then stored.
        let view = engine
            .save_credentials(&seed.id, " id-2\n", Some("secret-2\n"))
            .await
            .unwrap();
        assert_eq!(view.client_id, "id-2");
        assert_eq!(
            Vault
                .get(&seed.id, SecretKind::ClientSecret)
                .unwrap()
                .as_deref(),
            Some("secret-2")
        );
        // A secret is already stored: the ID alone can change.
        let view = engine
            .save_credentials(&seed.id, "id-3", None)
            .await
            .unwrap();
        assert!(view.has_client_secret && view.client_id == "id-3");
    }

    #[tokio::test]
    async fn a_callback_nobody_waits_for_is_reported_at_start_up_once() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let refused = seed
            .engine
            .accept_callback("onramp://callback?code=c&state=from-before-a-restart")
            .err()
            .expect("refused");
        assert_eq!(refused.integration_id, None);
        assert!(!refused.still_waiting);
        let boot = seed.engine.bootstrap().await;
        let notice = boot.unmatched_callback.expect("reported at start-up");
        assert_eq!(notice.code, "state_mismatch");
        assert!(notice.detail.contains("restarted"), "{}", notice.detail);
        assert!(seed.engine.bootstrap().await.unmatched_callback.is_none());
    }

    #[test]
    fn a_new_integration_starts_with_the_suggested_scopes() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let jira = seed.engine.provider("jira").unwrap();
        let created = seed.engine.create_integration("jira").unwrap();
        assert!(!created.scopes.is_empty());
        assert_eq!(created.scopes, jira.suggested_scopes);
        assert!(created.scopes.contains(&"offline_access".to_string()));
    }

    #[test]
    fn a_patch_changes_only_its_fields_and_drops_repeated_scopes() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let view = seed
            .engine
            .update_integration(
                &seed.id,
                IntegrationPatch {
                    scopes: Some(vec!["a".into(), "b".into(), "a".into()]),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(view.scopes, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(view.client_id, "client-1", "unpatched fields are kept");
        assert!(view.connection.is_some(), "the connection is kept");
    }

    #[tokio::test]
    async fn starting_again_frees_the_fixed_port_of_the_flow_still_waiting() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        seed.engine
            .update_integration(
                &seed.id,
                IntegrationPatch {
                    callback: Some(CallbackSettings {
                        kind: CallbackKind::Loopback,
                        loopback_port: port,
                    }),
                    ..Default::default()
                },
            )
            .unwrap();
        let first = seed.engine.start_authorization(&seed.id).await.unwrap();
        let mut first_listener = first.loopback.expect("a loopback listener");
        // Nobody answered; the user starts again on the same fixed port.
        let second = seed.engine.start_authorization(&seed.id).await.unwrap();
        assert!(second.loopback.is_some(), "the port was free again");
        assert_eq!(
            first_listener.next_callback().await,
            None,
            "the replaced flow's listener closed"
        );
        let old_state = url::Url::parse(&first.started.authorize_url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        assert!(
            seed.engine
                .accept_callback(&format!(
                    "http://127.0.0.1:{port}/callback?code=c&state={old_state}"
                ))
                .is_err(),
            "the replaced flow's state is no longer accepted"
        );
        assert!(seed.engine.expire_stale_authorizations().is_empty());
    }

    async fn refresh_mock(server: &mut mockito::ServerGuard, hits: usize) -> mockito::Mock {
        server
            .mock("POST", "/oauth/token")
            .match_body(mockito::Matcher::UrlEncoded("refresh_token".into(), "rt-1".into()))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#)
            .expect(hits)
            .create_async()
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_hundred_concurrent_callers_cause_one_refresh() {
        let mut server = mockito::Server::new_async().await;
        let refresh = refresh_mock(&mut server, 1).await;
        let s = seeded(&server.url(), 0, 3600);
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let engine = s.engine.clone();
            let id = s.id.clone();
            tasks.push(tokio::spawn(async move { engine.access_token(&id).await }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "at-2");
        }
        refresh.assert_async().await;
        assert_eq!(
            Vault
                .get(&s.id, SecretKind::RefreshToken)
                .unwrap()
                .as_deref(),
            Some("rt-2")
        );
    }

    #[tokio::test]
    async fn rotated_refresh_token_is_stored_before_the_new_access_token_is_used() {
        let mut server = mockito::Server::new_async().await;
        refresh_mock(&mut server, 1).await;
        let s = seeded(&server.url(), 0, 3600);
        let seen_in_keychain = Arc::new(Mutex::new(None::<Option<String>>));
        let seen = seen_in_keychain.clone();
        let id = s.id.clone();
        server
            .mock("GET", "/api")
            .match_header("authorization", "Bearer at-2")
            .with_status(200)
            .with_body_from_request(move |_| {
                // Runs when the new access token reaches the provider.
                *seen.lock().unwrap() = Some(Vault.get(&id, SecretKind::RefreshToken).unwrap());
                b"{}".to_vec()
            })
            .create_async()
            .await;
        let r = s
            .engine
            .run_test_call(&s.id, custom::TEST_CALL_ID)
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            *seen_in_keychain.lock().unwrap(),
            Some(Some("rt-2".to_string()))
        );
    }

    #[tokio::test]
    async fn refresh_answer_without_refresh_token_keeps_the_old_one() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", "/oauth/token")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"at-2","expires_in":3600,"token_type":"Bearer"}"#)
            .create_async()
            .await;
        let s = seeded(&server.url(), 0, 3600);
        assert_eq!(s.engine.access_token(&s.id).await.unwrap(), "at-2");
        assert_eq!(
            Vault
                .get(&s.id, SecretKind::RefreshToken)
                .unwrap()
                .as_deref(),
            Some("rt-1")
        );
    }

    async fn reactive(status: usize, remaining: i64, lifetime: i64) -> (TestCallResult, usize) {
        let mut server = mockito::Server::new_async().await;
        let refreshes = Arc::new(AtomicUsize::new(0));
        let counter = refreshes.clone();
        server
            .mock("POST", "/oauth/token")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                br#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#.to_vec()
            })
            .create_async()
            .await;
        server
            .mock("GET", "/api")
            .match_header("authorization", "Bearer at-1")
            .with_status(status)
            .with_body("{}")
            .create_async()
            .await;
        server
            .mock("GET", "/api")
            .match_header("authorization", "Bearer at-2")
            .with_status(200)
            .with_body(r#"{"ok":true}"#)
            .create_async()
            .await;
        let s = seeded(&server.url(), remaining, lifetime);
        let r = s
            .engine
            .run_test_call(&s.id, custom::TEST_CALL_ID)
            .await
            .unwrap();
        (r, refreshes.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_401_refreshes_once_and_retries() {
        let (r, refreshes) = reactive(401, 3000, 3600).await;
        assert_eq!(
            (r.status, r.refreshed, r.attempts, refreshes),
            (200, true, 2, 1)
        );
    }

    #[tokio::test]
    async fn a_403_or_404_refreshes_when_the_token_may_have_expired() {
        // Issued 3500 s ago out of 3600: in the second half of its life.
        for status in [403, 404] {
            let (r, refreshes) = reactive(status, 100, 3600).await;
            assert_eq!(
                (r.status, r.refreshed, refreshes),
                (200, true, 1),
                "{status}"
            );
        }
        // A fresh token's 403 is a real permission problem: no refresh, the answer is explained.
        let (r, refreshes) = reactive(403, 3500, 3600).await;
        assert_eq!((r.status, r.refreshed, refreshes), (403, false, 0));
        assert_eq!(r.error.unwrap().code, "forbidden");
    }

    #[tokio::test]
    async fn a_429_waits_for_retry_after_then_retries() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/api")
            .with_status(429)
            .with_header("Retry-After", "1")
            .with_body("{}")
            .expect(1)
            .create_async()
            .await;
        server
            .mock("GET", "/api")
            .with_status(200)
            .with_body(r#"{"ok":true}"#)
            .expect(1)
            .create_async()
            .await;
        let s = seeded(&server.url(), 3000, 3600);
        let notices = Arc::new(Mutex::new(Vec::new()));
        let sink = notices.clone();
        let started = std::time::Instant::now();
        let request = ApiRequest {
            preset_id: Some(custom::TEST_CALL_ID.into()),
            method: String::new(),
            product: None,
            path: String::new(),
            query: None,
            body: None,
        };
        let r = s
            .engine
            .run_request(&s.id, &request, &move |n| sink.lock().unwrap().push(n))
            .await
            .unwrap();
        assert_eq!((r.status, r.attempts), (200, 2));
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(950),
            "waited as told"
        );
        let notices = notices.lock().unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(
            (notices[0].status, notices[0].wait_ms, notices[0].attempt),
            (429, 1000, 2)
        );
    }

    #[tokio::test]
    async fn invalid_grant_marks_needs_reconnect_with_a_reason_and_keeps_the_rest() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", "/oauth/token")
            .with_status(403)
            .with_header("content-type", "application/json")
            .with_body(r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#)
            .create_async()
            .await;
        let s = seeded(&server.url(), 0, 3600);
        let e = s.engine.access_token(&s.id).await.unwrap_err();
        assert!(matches!(&e, OnrampError::NeedsReconnect(r) if r.contains("revoked")));
        let view = s.engine.integration(&s.id).unwrap();
        let c = view.connection.unwrap();
        assert_eq!(c.state, ConnectionState::NeedsReconnect);
        assert!(c.reason.unwrap().contains("invalid_grant"));
        assert_eq!(view.client_id, "client-1");
        assert!(view.has_client_secret);
        // Later calls fail fast without asking the provider again.
        assert!(matches!(
            s.engine.access_token(&s.id).await,
            Err(OnrampError::NeedsReconnect(_))
        ));
    }

    #[test]
    fn reconnect_reasons_follow_the_documented_limits() {
        let day = 86_400;
        let c = |connected_ago: i64, refreshed_ago: Option<i64>| Connection {
            state: ConnectionState::Connected,
            connected_at: 1_000_000_000 - connected_ago,
            expires_at: None,
            granted_scopes: vec![],
            has_refresh_token: true,
            reason: None,
            token_lifetime: None,
            last_refresh_at: refreshed_ago.map(|a| 1_000_000_000 - a),
        };
        assert!(reconnect_reason(&c(366 * day, Some(day)), 1_000_000_000).contains("365 days"));
        assert!(reconnect_reason(&c(100 * day, Some(91 * day)), 1_000_000_000).contains("90 days"));
        assert!(reconnect_reason(&c(10 * day, Some(day)), 1_000_000_000).contains("revoked"));
    }

    #[test]
    fn margins_scale_with_the_token_lifetime() {
        assert_eq!(use_margin_secs(Some(3600)), 60);
        assert_eq!(use_margin_secs(Some(10)), 1);
        assert_eq!(proactive_margin_secs(Some(3600)), 720);
        assert_eq!(proactive_margin_secs(Some(7200)), 900);
        assert_eq!(proactive_margin_secs(Some(10)), 2);
    }

    #[tokio::test]
    async fn history_keeps_method_path_status_but_no_token() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/api")
            .with_status(200)
            .with_body("{}")
            .create_async()
            .await;
        let s = seeded(&server.url(), 3000, 3600);
        s.engine
            .run_test_call(&s.id, custom::TEST_CALL_ID)
            .await
            .unwrap();
        let h = s.engine.integration(&s.id).unwrap().history;
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].method.as_str(), h[0].status), ("GET", 200));
        let file = std::fs::read_to_string(settings::path_in(s._dir.path())).unwrap();
        assert!(!file.contains("at-1") && !file.contains("rt-1") && !file.contains("secret-1"));
    }

    #[test]
    fn preview_shows_the_exact_url_or_names_the_wrong_field() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let request = |path: &str, body: Option<&str>| ApiRequest {
            preset_id: None,
            method: "POST".into(),
            product: None,
            path: path.into(),
            query: Some("?a=1".into()),
            body: body.map(str::to_string),
        };
        assert_eq!(
            seed.engine
                .preview_request(&seed.id, &request("/api/x", None))
                .unwrap(),
            "http://127.0.0.1:9/api/x?a=1"
        );
        for (path, body, field) in [
            ("api/x", None, "path"),
            ("/../x", None, "path"),
            ("/api/x", Some("{not json"), "body"),
        ] {
            let e = seed
                .engine
                .preview_request(&seed.id, &request(path, body))
                .unwrap_err()
                .to_ui();
            assert_eq!(e.facts[0].value, field, "{path} {body:?}");
        }
    }

    #[test]
    fn history_reloads_presets_as_custom_requests_and_keeps_no_body() {
        let catalog = Catalog::load().unwrap();
        let jira = catalog.provider("jira", None).unwrap();
        let preset = jira
            .test_calls
            .iter()
            .find(|t| t.id == "jira-project-search")
            .unwrap();
        let as_sent = ApiRequest {
            preset_id: Some(preset.id.clone()),
            method: String::new(),
            product: None,
            path: String::new(),
            query: None,
            body: None,
        };
        let reloaded = reloadable_request(&as_sent, Some(preset)).unwrap();
        assert_eq!(reloaded.preset_id, None);
        assert_eq!(reloaded.product, Some(crate::model::ProductId::Jira));
        assert_eq!(reloaded.path, "/rest/api/3/project/search");
        assert_eq!(reloaded.query.as_deref(), Some("maxResults=1"));
        let custom = ApiRequest {
            preset_id: None,
            method: "POST".into(),
            product: Some(crate::model::ProductId::Jira),
            path: "/rest/api/3/issue".into(),
            query: None,
            body: Some(r#"{"fields":{"summary":"private"}}"#.into()),
        };
        let kept = reloadable_request(&custom, None).unwrap();
        assert_eq!(kept.body, None, "no body in the saved history");
        assert_eq!(
            (kept.method.as_str(), kept.path.as_str()),
            ("POST", "/rest/api/3/issue")
        );
    }

    #[tokio::test]
    async fn due_for_proactive_refresh_lists_expiring_connections() {
        let s = seeded("http://127.0.0.1:9", 100, 3600);
        assert_eq!(s.engine.due_for_proactive_refresh(), vec![s.id.clone()]);
        let fresh = seeded("http://127.0.0.1:9", 3000, 3600);
        assert!(fresh.engine.due_for_proactive_refresh().is_empty());
    }

    #[tokio::test]
    async fn a_failed_background_refresh_waits_before_trying_again() {
        let mut server = mockito::Server::new_async().await;
        let failing = server
            .mock("POST", "/oauth/token")
            .with_status(503)
            .with_body("maintenance")
            .expect(1)
            .create_async()
            .await;
        let s = seeded(&server.url(), 100, 3600);
        assert_eq!(
            s.engine.refresh_due_in_background().await,
            vec![s.id.clone()]
        );
        // The next ticks come within seconds: no new request until the backoff has passed.
        assert!(s.engine.refresh_due_in_background().await.is_empty());
        assert!(s.engine.due_for_proactive_refresh().is_empty());
        failing.assert_async().await;
        failing.remove_async().await;
        let view = s.engine.integration(&s.id).unwrap();
        assert_eq!(
            view.connection.unwrap().state,
            ConnectionState::Connected,
            "a 503 is not a reason to reconnect"
        );
        // A manual refresh that works ends the backoff.
        refresh_mock(&mut server, 1).await;
        s.engine.refresh_now(&s.id).await.unwrap();
        assert!(s.engine.background_backoff.lock().unwrap().is_empty());
        assert_eq!(background_retry_secs(1), 30);
        assert_eq!(background_retry_secs(2), 60);
        assert_eq!(background_retry_secs(40), 15 * 60);
    }
}

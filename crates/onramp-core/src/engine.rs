//! `Engine`: the one object the shell talks to. Each public method is one user action of the wizard.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::catalog::{Catalog, DEFAULT_PROVIDER_ID};
use crate::custom;
use crate::error::OnrampError;
use crate::gateway;
use crate::loopback::{self, LoopbackListener};
use crate::model::{
    AuthorizationStarted, Bootstrap, CallbackKind, CallbackSettings, Connection, ConnectionState,
    CustomProviderInput, IntegrationPatch, IntegrationView, KeychainStatus, Provider,
    SandboxConsole, ScopeAdvice, ScopeReport, Site, TestCallResult,
};
use crate::now_unix;
use crate::oauth::{self, ClientCredentials, FlowRegistry, PendingFlow, TokenSet};
use crate::scopes;
use crate::settings::{self, Integration, Settings};
use crate::vault::{SecretKind, Vault};

/// The deep-link callback URL. The scheme is registered with the OS by the shell.
pub const DEEP_LINK_CALLBACK: &str = "onramp://callback";
/// Refresh this long before the access token's stated expiry.
const EXPIRY_MARGIN_SECS: i64 = 60;

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

/// A callback that was refused, and the integration it belongs to when that is known.
pub struct RefusedCallback {
    pub integration_id: Option<String>,
    pub error: OnrampError,
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
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, OnrampError> {
        let catalog = Catalog::load()?;
        let loaded = settings::load(&config.config_dir, now_unix());
        let settings_writable = !matches!(
            &loaded.problem,
            Some(OnrampError::Settings { problem, .. }) if problem.contains("left in place") || problem.contains("cannot be read")
        );
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
        })
    }

    pub fn settings_path(&self) -> PathBuf {
        settings::path_in(&self.config.config_dir)
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
                let listed = self
                    .listed_sites
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(id)
                    .cloned()
                    .unwrap_or_default();
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
        let listed = self
            .listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default();
        Ok(listed
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
            scopes: Vec::new(),
            console_done: Vec::new(),
            site: None,
            connection: None,
            has_client_secret: false,
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
        let mut updated = current;
        if let Some(v) = patch.name {
            updated.name = v.trim().to_string();
        }
        if let Some(v) = patch.client_id {
            updated.client_id = v;
        }
        if let Some(v) = patch.callback {
            updated.callback = v;
        }
        if let Some(mut v) = patch.scopes {
            v.dedup();
            updated.scopes = v;
        }
        if let Some(v) = patch.console_done {
            updated.console_done = v;
        }
        updated.updated_at = now_unix();
        let view = self.view(&updated);
        self.write_settings(|s| {
            *s.integration_mut(id)? = updated;
            s.last_integration_id = Some(id.to_string());
            Ok(())
        })?;
        Ok(view)
    }

    /// Stores the client secret in the keychain; the settings only record that one exists.
    pub async fn save_client_secret(
        &self,
        id: &str,
        secret: String,
    ) -> Result<IntegrationView, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        validate_credential("client secret", &secret)?;
        if !integration.client_id.is_empty() && integration.client_id == secret {
            return Err(OnrampError::invalid(
                "client secret",
                "The secret is the same as the client ID: copy the Secret field from the console's Settings page.",
            ));
        }
        let vault = self.vault.clone();
        let owned_id = id.to_string();
        run_blocking(move || vault.set(&owned_id, SecretKind::ClientSecret, &secret)).await?;
        self.write_settings(|s| {
            let i = s.integration_mut(id)?;
            i.has_client_secret = true;
            i.updated_at = now_unix();
            Ok(())
        })?;
        tracing::info!("client secret for integration {id} stored in the keychain");
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
        let (stop_tx, stop_rx) = oneshot::channel();
        let loopback = match integration.callback.kind {
            CallbackKind::Loopback => {
                Some(LoopbackListener::bind(integration.callback.loopback_port, stop_rx).await?)
            }
            CallbackKind::DeepLink => None,
        };
        let created_at = now_unix();
        self.flows.begin(
            request.state,
            PendingFlow {
                integration_id: id.to_string(),
                redirect_uri: redirect_uri.clone(),
                pkce_verifier: request.pkce_verifier,
                created_at,
                stop_listener: Some(stop_tx),
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

    /// Step one of a callback: parse it and match its state to a pending flow.
    pub fn accept_callback(&self, callback_url: &str) -> Result<AcceptedCallback, RefusedCallback> {
        let params = oauth::parse_callback(callback_url).map_err(|error| RefusedCallback {
            integration_id: self.flows.sole_pending_integration(),
            error,
        })?;
        match oauth::accept_callback(&self.flows, &params) {
            Ok((flow, code)) => Ok(AcceptedCallback {
                integration_id: flow.integration_id.clone(),
                code,
                flow,
            }),
            Err((integration_id, error)) => {
                tracing::warn!("callback refused: {}", error.to_ui().code);
                Err(RefusedCallback {
                    integration_id: integration_id
                        .or_else(|| self.flows.sole_pending_integration()),
                    error,
                })
            }
        }
    }

    /// Step two: exchange the code, store the tokens in the keychain, record the connection.
    pub async fn finish_authorization(
        &self,
        accepted: AcceptedCallback,
    ) -> Result<IntegrationView, OnrampError> {
        let id = accepted.integration_id.clone();
        let integration = self.read_settings().integration(&id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        let secret = self.client_secret(&id).await?;
        let tokens = oauth::exchange_code(
            &self.http,
            &ClientCredentials {
                token_url: &provider.token_url,
                client_id: &integration.client_id,
                client_secret: &secret,
                auth: provider.client_auth,
            },
            &accepted.code,
            &accepted.flow.redirect_uri,
            accepted.flow.pkce_verifier.as_deref(),
        )
        .await?;
        let granted = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| integration.scopes.clone());
        self.store_tokens(&id, &tokens, true).await?;
        let connection = Connection {
            state: ConnectionState::Connected,
            connected_at: now_unix(),
            expires_at: tokens.expires_at,
            granted_scopes: granted,
            has_refresh_token: tokens.refresh_token.is_some(),
            reason: None,
        };
        self.write_settings(|s| {
            let i = s.integration_mut(&id)?;
            i.connection = Some(connection);
            i.updated_at = now_unix();
            Ok(())
        })?;
        tracing::info!("integration {id} connected");
        self.integration(&id)
    }

    pub async fn list_sites(&self, id: &str) -> Result<Vec<Site>, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        let token = self.access_token(id).await?;
        let sites = gateway::accessible_resources(&self.http, &provider, &token).await?;
        self.listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), sites.clone());
        Ok(sites)
    }

    /// Picks a site from the list last shown; never guesses one.
    pub fn select_site(&self, id: &str, cloud_id: &str) -> Result<IntegrationView, OnrampError> {
        let site = self
            .listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .and_then(|sites| sites.iter().find(|s| s.id == cloud_id).cloned())
            .ok_or_else(|| {
                OnrampError::invalid("site", "Pick one of the sites listed for this connection.")
            })?;
        self.write_settings(|s| {
            let i = s.integration_mut(id)?;
            i.site = Some(site);
            i.updated_at = now_unix();
            Ok(())
        })?;
        self.integration(id)
    }

    pub async fn run_test_call(
        &self,
        id: &str,
        preset_id: &str,
    ) -> Result<TestCallResult, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
        let preset = provider
            .test_calls
            .iter()
            .find(|t| t.id == preset_id)
            .ok_or_else(|| OnrampError::UnknownTestCall(preset_id.to_string()))?;
        let url = gateway::test_call_url(
            &provider,
            preset,
            integration.site.as_ref().map(|s| s.id.as_str()),
        )?;
        let token = self.access_token(id).await?;
        let result = gateway::send(&self.http, preset_id, &preset.method, &url, &token).await?;
        tracing::info!(
            "test call {preset_id} for integration {id}: HTTP {} in {} ms",
            result.status,
            result.elapsed_ms
        );
        Ok(result)
    }

    pub async fn delete_integration(&self, id: &str) -> Result<(), OnrampError> {
        self.read_settings().integration(id)?;
        self.flows.cancel(id);
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

    /// A valid access token, refreshed first when it is about to expire. One refresh at a time per
    /// integration: a caller that waited re-reads the settings, because the refresh it waited for may
    /// already have produced a fresh token.
    pub async fn access_token(&self, id: &str) -> Result<String, OnrampError> {
        let lock = self.refresh_lock(id);
        let _guard = lock.lock().await;
        let integration = self.read_settings().integration(id)?.clone();
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
        let fresh = connection
            .expires_at
            .is_none_or(|exp| exp - EXPIRY_MARGIN_SECS > now_unix());
        if fresh {
            let vault = self.vault.clone();
            let owned = id.to_string();
            if let Some(token) =
                run_blocking(move || vault.get(&owned, SecretKind::AccessToken)).await?
            {
                return Ok(token);
            }
        }
        self.refresh_locked(&integration).await
    }

    /// Refreshes with the stored refresh token. Caller holds the integration's refresh lock.
    async fn refresh_locked(&self, integration: &Integration) -> Result<String, OnrampError> {
        let id = integration.id.clone();
        let vault = self.vault.clone();
        let owned = id.clone();
        let refresh_token =
            run_blocking(move || vault.get(&owned, SecretKind::RefreshToken)).await?;
        let Some(refresh_token) = refresh_token else {
            let reason = "The access token expired and there is no refresh token (offline_access was not granted).";
            self.mark_needs_reconnect(&id, reason)?;
            return Err(OnrampError::NeedsReconnect(reason.into()));
        };
        let provider = self.provider(&integration.provider_id)?;
        let secret = self.client_secret(&id).await?;
        let result = oauth::refresh(
            &self.http,
            &ClientCredentials {
                token_url: &provider.token_url,
                client_id: &integration.client_id,
                client_secret: &secret,
                auth: provider.client_auth,
            },
            &refresh_token,
        )
        .await;
        let tokens = match result {
            Ok(t) => t,
            Err(e) if e.needs_reconnect() => {
                self.mark_needs_reconnect(&id, &e.to_ui().detail)?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.store_tokens(&id, &tokens, false).await?;
        self.write_settings(|s| {
            let i = s.integration_mut(&id)?;
            if let Some(c) = i.connection.as_mut() {
                c.expires_at = tokens.expires_at;
                if let Some(scopes) = &tokens.scopes {
                    c.granted_scopes = scopes.clone();
                }
                c.has_refresh_token = c.has_refresh_token || tokens.refresh_token.is_some();
            }
            Ok(())
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
        self.write_settings(|s| {
            let i = s.integration_mut(id)?;
            if let Some(c) = i.connection.as_mut() {
                c.state = ConnectionState::NeedsReconnect;
                c.reason = Some(reason.to_string());
            }
            Ok(())
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
        }
    }

    fn read_settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

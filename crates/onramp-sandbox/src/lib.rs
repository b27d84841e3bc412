//! A local, in-process, Atlassian-compatible OAuth 2.0 (3LO) + REST server.
//!
//! Onramp starts it on a loopback port as the default provider on first run (so the whole wizard
//! works without an Atlassian account) and end-to-end tests drive it instead of the real service.
//! Wherever the project's Atlassian reference (`shared/reference/atlassian-oauth.md`) says how
//! Atlassian behaves — endpoints, status codes, error bodies, rotating refresh tokens — the sandbox
//! does the same. Where the reference is silent, the wording is the sandbox's own and is marked as
//! such in the code.
//!
//! Under `/nango` it also plays a self-hosted Nango (the target of Onramp's push to Nango, `nango/`),
//! after `shared/reference/nango-api-and-preflight.md`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use onramp_sandbox::{Sandbox, SandboxConfig};
//! let config = SandboxConfig {
//!     registered_callback_url: Some("http://127.0.0.1:8765/callback".into()),
//!     ..SandboxConfig::default()
//! };
//! let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().unwrap()).await?;
//! println!("authorize at {}/authorize", sandbox.base_url());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod control;
mod data;
mod nango;
mod oauth;
mod pages;
mod service_account;
mod state;
mod user;
mod util;
pub use service_account::{
    ServiceAccount, SERVICE_ACCOUNT_CLIENT_ID, SERVICE_ACCOUNT_CLIENT_SECRET,
};
pub use user::{client_builder, consent_as_user, consent_client, consent_with};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use data::{ACME_CLOUD_ID, GLOBEX_CLOUD_ID};
pub use nango::{NangoRequest, NANGO_SECRET_KEY};

use state::Shared;

/// Client ID of the one app the sandbox knows.
pub const DEFAULT_CLIENT_ID: &str = "onramp-sandbox-client";
/// Client secret of the sandbox app. Sandbox only: it protects nothing and is printed freely.
pub const DEFAULT_CLIENT_SECRET: &str = "sbx_secret_7f3c9a2e51d84b06";
/// The `audience` the sandbox expects at `/authorize` (Atlassian's is `api.atlassian.com`).
pub const DEFAULT_AUDIENCE: &str = "onramp-sandbox";

/// Scopes the sandbox app has "added in the developer console" by default: every scope the
/// sandbox's test calls accept, classic and granular (reference §6.2, §8.4).
const DEFAULT_ALLOWED_SCOPES: &[&str] = &[
    "offline_access",
    "read:me",
    "read:jira-user",
    "read:jira-work",
    "write:jira-work",
    "read:space:confluence",
    "read:page:confluence",
    "read:confluence-content.all",
    "read:confluence-space.summary",
    "read:confluence-user",
    "search:confluence",
    // Jira granular: GET /rest/api/3/myself
    "read:application-role:jira",
    "read:group:jira",
    "read:user:jira",
    "read:avatar:jira",
    // Jira granular: GET /rest/api/3/project/search (plus some of the above)
    "read:issue-type:jira",
    "read:project:jira",
    "read:project.property:jira",
    "read:issue-type-hierarchy:jira",
    "read:project-category:jira",
    "read:project-version:jira",
    "read:project.component:jira",
    // Jira granular: GET /rest/api/3/search/jql (plus read:avatar:jira)
    "read:issue-details:jira",
    "read:audit-log:jira",
    "read:field-configuration:jira",
    "read:issue-meta:jira",
];

/// How the sandbox app is "configured in the developer console", plus sandbox-only knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Shown on the consent page.
    pub app_name: String,
    pub audience: String,
    /// Like Atlassian: one callback URL per app, matched byte-for-byte. `None` = nothing
    /// registered, so every `/authorize` fails with `unauthorized_client`.
    pub registered_callback_url: Option<String>,
    /// Scopes "added to the app in the console"; requesting any other scope fails at
    /// `/authorize`. `offline_access` is always allowed: Atlassian treats it as an Auth0-level
    /// scope that is never added under Permissions (reference §1.1).
    pub allowed_scopes: Vec<String>,
    /// Granted scopes = requested minus these, to exercise requested-vs-granted handling.
    pub withheld_scopes: Vec<String>,
    pub access_token_ttl: Duration,
    /// Atlassian's reuse interval for rotated refresh tokens (10 minutes, reference §3).
    pub refresh_reuse_leeway: Duration,
    /// Atlassian ignores PKCE (reference §4.1). `true` turns the sandbox into a strict standards
    /// server that requires S256 at `/authorize` and checks `code_verifier` at the token endpoint.
    pub enforce_pkce: bool,
    /// `true` makes the sandbox also a standard OpenID Connect provider, as a custom provider
    /// meets one: it publishes `/.well-known/openid-configuration` (with `userinfo_endpoint`),
    /// answers `/userinfo`, accepts `openid`, `profile` and `email`, needs no `audience`, and, like
    /// a standard OP (OpenID Connect Core 1.0 §11), drops `offline_access` from a request with
    /// `openid` unless `prompt` includes `consent` — so no refresh token without it.
    pub openid: bool,
    pub user: SandboxUser,
    /// The service account's OAuth 2.0 credential (client credentials grant).
    pub service_account: ServiceAccount,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            app_name: "My Onramp sandbox app".to_string(),
            audience: DEFAULT_AUDIENCE.to_string(),
            registered_callback_url: None,
            allowed_scopes: DEFAULT_ALLOWED_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            withheld_scopes: Vec::new(),
            access_token_ttl: Duration::from_secs(3600),
            refresh_reuse_leeway: Duration::from_secs(600),
            enforce_pkce: false,
            openid: false,
            user: SandboxUser::default(),
            service_account: ServiceAccount::default(),
        }
    }
}

/// The one Atlassian account that "signs in" to the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxUser {
    pub account_id: String,
    pub name: String,
    pub email: String,
    pub nickname: String,
}

impl Default for SandboxUser {
    fn default() -> Self {
        SandboxUser {
            account_id: "557058:sandbox-0001".to_string(),
            name: "Sandra Boxley".to_string(),
            email: "sandra@sandbox.example".to_string(),
            nickname: "sboxley".to_string(),
        }
    }
}

/// Failures to inject, for testing retry and reconnect handling. Counters are consumed one per
/// request; `POST /__sandbox/faults` replaces the whole set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// The next N API calls answer 429 with `Retry-After`.
    pub rate_limit_next: u32,
    /// `Retry-After` seconds for those 429s (2 when 0).
    pub retry_after_secs: u64,
    /// `RateLimit-Reason` on those 429s (e.g. `jira-burst-based`, reference atlassian-2026.md §3);
    /// none when empty, as some of Atlassian's 429s come.
    pub rate_limit_reason: String,
    /// The next N API answers that get through carry `X-RateLimit-NearLimit: true` (fewer than
    /// 20 % of the quota left).
    pub near_limit_next: u32,
    /// The next N API calls answer 500.
    pub server_error_next: u32,
    /// Delay every API and token response by this many milliseconds.
    pub slow_ms: u64,
    /// The next `refresh_token` grant fails with 403 `invalid_grant`.
    pub invalid_grant_next_refresh: bool,
    /// The next N token requests (any grant) answer 503 with no JSON body, as an outage would:
    /// a failure Onramp must retry later, not a verdict on the refresh token.
    pub token_unavailable_next: u32,
    /// The next N API or token responses are a 200 with an HTML page instead of JSON, as a
    /// captive portal or a misconfigured proxy would answer.
    pub malformed_body_next: u32,
    /// Each `refresh_token` grant is processed (the old refresh token rotated out) and then the
    /// answer is held back this many milliseconds: the window in which a client killed loses the
    /// new pair.
    pub hold_refresh_answer_ms: u64,
}

/// What `malformed_body_next` answers: an HTML login page (sandbox wording).
pub const MALFORMED_BODY: &str =
    "<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body><p>Sign in to continue";

/// A running sandbox. Dropping it stops the server too (without waiting).
pub struct Sandbox {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and serves on a tokio task.
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let mut local = listener.local_addr()?;
        // A wildcard bind is still reached through loopback by the app on this machine.
        if local.ip().is_unspecified() {
            local.set_ip(match local.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        let shared = Arc::new(Shared::new(config, format!("http://{local}")));
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
            if let Err(err) = served {
                tracing::warn!(%err, "sandbox server stopped with an error");
            }
        });
        tracing::info!(base_url = %shared.base_url, "sandbox started");
        Ok(Sandbox {
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// This run's id, new for every start: the sandbox keeps its grants in memory only (tokens are
    /// never written to a file), so tokens issued by another instance no longer work.
    pub fn instance_id(&self) -> String {
        self.shared.instance_id.clone()
    }

    /// A snapshot of the current configuration (setters included).
    pub fn config(&self) -> SandboxConfig {
        self.shared.lock().config.clone()
    }

    pub fn set_registered_callback(&self, url: Option<String>) {
        self.shared.lock().config.registered_callback_url = url;
    }

    /// A handle that registers a callback URL, as a user pastes one into the developer console;
    /// it outlives borrows of `self`, for an engine that keeps it.
    pub fn callback_registrar(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let shared = self.shared.clone();
        move |url| shared.lock().config.registered_callback_url = Some(url.to_string())
    }

    /// Applies to access tokens issued from now on.
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.shared.lock().config.access_token_ttl = ttl;
    }

    /// Applies to consents accepted from now on.
    pub fn set_withheld_scopes(&self, scopes: Vec<String>) {
        self.shared.lock().config.withheld_scopes = scopes;
    }

    pub fn set_enforce_pkce(&self, on: bool) {
        self.shared.lock().config.enforce_pkce = on;
    }

    /// See [`SandboxConfig::openid`].
    pub fn set_openid(&self, on: bool) {
        self.shared.lock().config.openid = on;
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// The user revoked the app: every access and refresh token becomes invalid.
    pub fn revoke_all(&self) {
        self.shared.lock().revoke_all();
    }

    /// The admin revokes (or restores) the service account's credential: token requests fail.
    pub fn set_service_account_revoked(&self, revoked: bool) {
        self.shared.lock().config.service_account.revoked = revoked;
    }

    /// Expires every access token now but keeps refresh tokens, as if the client slept past expiry.
    pub fn expire_access_tokens(&self) {
        self.shared.lock().expire_access_tokens();
    }

    /// How many `refresh_token` grants reached grant processing (client authenticated).
    pub fn refresh_count(&self) -> u64 {
        self.shared.lock().refresh_count
    }

    /// Every request the Nango look-alike (`{base_url}/nango`) received, oldest first.
    pub fn nango_received(&self) -> Vec<NangoRequest> {
        self.shared.nango.lock().received.clone()
    }

    /// The Nango secret key the sandbox accepts ([`NANGO_SECRET_KEY`] unless changed).
    pub fn nango_secret_key(&self) -> String {
        self.shared.nango.lock().secret_key.clone()
    }

    /// `None`: the Nango key is unscoped. `Some(scopes)`: it is a scoped key with only these
    /// (e.g. `environment:integrations:create`), and other routes answer 403 `forbidden`.
    pub fn set_nango_key_scopes(&self, scopes: Option<Vec<String>>) {
        self.shared.nango.lock().key_scopes = scopes;
    }

    /// Stops accepting connections and waits (up to 5 s) for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        tracing::info!(base_url = %self.shared.base_url, "sandbox stopped");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// The app keeps the handle in Tauri-managed state, which must be Send + Sync.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Sandbox>();
};

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(oauth::routes())
        .merge(api::routes(shared.clone()))
        .merge(control::routes())
        .merge(nango::routes(shared.clone()))
        .with_state(shared)
}

//! Types shared with the UI. Every type here is exported to TypeScript by ts-rs
//! (`ui/src/lib/bindings/`), so the front end never keeps a hand-written copy.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use crate::error_code::{AdviceCode, ErrorCode};
pub use handoff::{HandOff, NangoProvider, NangoTarget};
pub use requests::{ApiRequest, HistoryEntry, RetryNotice, TestCallResult};

mod handoff;
mod requests;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ProductId {
    Jira,
    Confluence,
}

impl ProductId {
    /// The gateway path segment: `/ex/{segment}/{cloudId}`.
    pub fn gateway_segment(self) -> &'static str {
        match self {
            ProductId::Jira => "jira",
            ProductId::Confluence => "confluence",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            ProductId::Jira => "Jira",
            ProductId::Confluence => "Confluence",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Sandbox,
    Commercial,
    Government,
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// `http://127.0.0.1:<port>/callback`, answered by a one-shot listener.
    Loopback,
    /// `onramp://callback`, delivered by the OS to the running app.
    DeepLink,
}

/// Whether the reference establishes that a fact holds for the real provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    Confirmed,
    Unconfirmed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Classic,
    Granular,
    Platform,
    /// A scope of a custom OAuth 2.0 server: Onramp knows only its name.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ScopeAccess {
    Read,
    Write,
    Delete,
    Manage,
    /// Not known (custom providers).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CallbackSupport {
    pub kind: CallbackKind,
    pub evidence: Evidence,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub label: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleStep {
    pub id: String,
    pub title: String,
    pub detail: String,
    #[serde(default)]
    pub link: Option<Link>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleGuide {
    pub console_url: String,
    pub steps: Vec<ConsoleStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopeInfo {
    pub name: String,
    /// "platform", "jira" or "confluence".
    pub product: String,
    pub kind: ScopeKind,
    pub access: ScopeAccess,
    pub description: String,
    /// What the reference does not establish about this scope, if anything (left out when none,
    /// since the catalog is sent at start-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
}

/// The catalog scopes a provider offers: those of its products, minus a few by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopeFilter {
    /// `ScopeInfo.product` values offered ("platform", "jira", "confluence"); empty for a custom provider.
    pub products: Vec<String>,
    /// Names left out although their product is offered (`read:me` where `/me` is not established).
    pub excluded: Vec<String>,
}

impl ScopeFilter {
    pub fn offers(&self, scope: &ScopeInfo) -> bool {
        self.products.contains(&scope.product) && !self.excluded.contains(&scope.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopePreset {
    pub id: String,
    pub label: String,
    pub description: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
}

/// A remark about the chosen scopes, computed by the engine (`scopes::advise`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopeWarning {
    pub code: AdviceCode,
    pub severity: Severity,
    pub message: String,
    /// The scopes the remark is about.
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopeAdvice {
    pub count: u32,
    /// Atlassian's advice: fewer than this many scopes per app.
    pub recommended_max: u32,
    pub warnings: Vec<ScopeWarning>,
    /// Chosen scopes that write, delete or manage.
    pub risky: Vec<String>,
    /// Test calls that will work with these scopes (ids).
    pub enabled_test_calls: Vec<String>,
}

/// One line of "requested vs granted".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopeGrant {
    pub scope: String,
    pub requested: bool,
    /// In the token response's `scope`.
    pub in_token: bool,
    /// In the chosen (or, before a choice, any listed) site's `scopes`; `None` for scopes that are not
    /// tied to a site (offline_access, read:me) or when no site is known yet.
    pub on_site: Option<bool>,
    /// Labels of the test calls this scope's absence disables.
    pub disables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopeReport {
    pub rows: Vec<ScopeGrant>,
    /// Requested but not granted (by the token or by the site).
    pub missing: Vec<String>,
    /// Where the site column comes from, in words.
    pub site_source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: ProductId,
    pub display_name: String,
    /// e.g. `/ex/jira/{cloudId}`
    pub gateway_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TestCallPreset {
    pub id: String,
    /// `None` for calls on the gateway itself (accessible-resources, /me).
    pub product: Option<ProductId>,
    pub label: String,
    pub method: String,
    /// Relative to the product's gateway path, or to the gateway for `product: None`.
    pub path: String,
    /// Alternative scope sets: the token must hold every scope of one set. Empty = no scope needed.
    pub needs_scopes: Vec<Vec<String>>,
    /// The JSON body sent with the call (a read published as a POST, such as a JQL count).
    pub body: Option<String>,
    pub description: String,
}

/// A provider as the UI sees it, with run-time placeholders (the sandbox's address) filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub id: String,
    pub display_name: String,
    pub tagline: String,
    pub environment: Environment,
    pub authorize_url: String,
    pub token_url: String,
    pub audience: Option<String>,
    pub gateway_url: String,
    pub products: Vec<Product>,
    pub default_scopes: Vec<String>,
    /// Preselected on a first visit to step 3: the defaults plus what the test calls need.
    pub suggested_scopes: Vec<String>,
    /// Which of the shared catalog's scopes (command `scope_catalog`, sent once) it offers, in
    /// catalog order; a list of names per provider would cost kilobytes each.
    pub scope_filter: ScopeFilter,
    /// A custom provider's scopes, which the shared catalog does not hold; empty otherwise. Offered
    /// after the catalog's.
    pub own_scopes: Vec<ScopeInfo>,
    /// Every offered scope with what it means, for the engine's rules. Not sent: 322 scopes per
    /// provider made the first payload hundreds of kilobytes, so the UI resolves `scope_names`.
    #[serde(skip)]
    #[ts(skip)]
    pub scopes: std::sync::Arc<[ScopeInfo]>,
    pub scope_presets: Vec<ScopePreset>,
    pub callbacks: Vec<CallbackSupport>,
    pub console: ConsoleGuide,
    /// The ids of the catalog's test calls it offers (`Bootstrap.test_calls`, sent once).
    pub test_call_ids: Vec<String>,
    /// A custom provider's test call, which the catalog does not hold; empty otherwise.
    pub own_test_calls: Vec<TestCallPreset>,
    /// Every offered test call, for the engine's rules. Not sent: the UI resolves `test_call_ids`.
    #[serde(skip)]
    #[ts(skip)]
    pub test_calls: Vec<TestCallPreset>,
    pub notes: Vec<String>,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Whether a PKCE (S256) challenge is sent.
    pub pkce: bool,
    /// Whether the provider lists sites (`accessible-resources`); without sites, step 5 is skipped.
    pub has_sites: bool,
    /// Where sites are listed (`accessible-resources`); empty for providers without sites.
    pub accessible_resources_url: String,
    /// Asked when `accessible_resources_url` answers 404, because the right host is not
    /// established (Government Cloud: the api host or, as Nango does, the auth host).
    pub accessible_resources_fallback_url: Option<String>,
    /// For custom providers: what the user entered, to edit it.
    pub custom: Option<CustomProviderInput>,
    /// Extra authorize parameters, e.g. `prompt=consent` for Atlassian.
    pub authorize_params: Vec<KeyValue>,
    pub grant: Grant,
}

/// How the provider hands out tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// OAuth 2.0 authorization code (3LO): consent in the browser, a callback, a refresh token.
    #[default]
    AuthorizationCode,
    /// OAuth 2.0 client credentials (an Atlassian service account): no browser, no callback, no
    /// refresh token; a new token is fetched with the client id and secret before the old expires.
    ClientCredentials,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (what Atlassian documents).
    #[default]
    RequestBody,
    /// HTTP Basic `Authorization` header (RFC 6749 §2.3.1).
    Basic,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// A "Custom OAuth 2.0" provider, as the user describes it (or as discovery fills it in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CustomProviderInput {
    pub name: String,
    pub authorize_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
    pub extra_params: Vec<KeyValue>,
    pub client_auth: ClientAuth,
    pub pkce: bool,
    pub test_call_url: Option<String>,
    pub issuer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CallbackSettings {
    pub kind: CallbackKind,
    pub loopback_port: u16,
}

/// One entry of `GET /oauth/token/accessible-resources`: `id` is the cloudId. The id is not unique
/// across products (reference atlassian-2026.md §2), so an entry is a cloudId *and* its scopes:
/// `key` tells entries apart, `products` says which product its scopes are for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    pub id: String,
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// The entry's identity: the cloudId and its scopes (`gateway::site_key`). Filled in when the
    /// list is read; empty in sites saved by older versions.
    #[serde(default)]
    pub key: String,
    /// The products the entry's scopes are for (from the scope names).
    #[serde(default)]
    pub products: Vec<ProductId>,
}

/// The answer of step 5's listing: the sites, and where they came from when that is worth saying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SiteListing {
    pub sites: Vec<Site>,
    /// The URL that answered.
    pub source_url: String,
    /// Said beside the list, e.g. that the documented host answered 404 and the other one was asked.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connected,
    NeedsReconnect,
}

/// What Onramp knows about a connection, without any token in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub state: ConnectionState,
    /// Unix seconds.
    #[ts(type = "number")]
    pub connected_at: i64,
    /// Unix seconds when the access token expires, if the provider said.
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    pub granted_scopes: Vec<String>,
    pub has_refresh_token: bool,
    pub reason: Option<String>,
    /// The access token's lifetime as the provider stated it (`expires_in`), seconds.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub token_lifetime: Option<i64>,
    /// Unix seconds of the last successful refresh.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub last_refresh_at: Option<i64>,
}

/// A saved integration as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    pub id: String,
    pub name: String,
    pub provider_id: String,
    pub client_id: String,
    pub callback: CallbackSettings,
    /// The exact callback URL to register in the developer console.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub console_done: Vec<String>,
    pub site: Option<Site>,
    pub connection: Option<Connection>,
    /// Set once the connection was pushed to Nango: Onramp no longer refreshes it.
    pub handed_off: Option<HandOff>,
    pub has_client_secret: bool,
    /// Test calls the granted scopes allow (empty until connected).
    pub runnable_test_calls: Vec<String>,
    /// For a connection without a refresh token: what gets one from this kind of provider
    /// (`lifecycle::no_refresh_token_advice`).
    pub refresh_token_advice: Option<String>,
    /// The last preflight of these credentials, while it is current (`engine/registration.rs`).
    pub credential_check: Option<crate::preflight::CredentialCheck>,
    /// Where the integration stands in the wizard, step by step (from `crate::steps`).
    pub steps: Vec<crate::steps::StepStatus>,
    /// Newest first, at most [`crate::engine::HISTORY_LIMIT`] entries.
    pub history: Vec<HistoryEntry>,
}

/// Fields the UI may change; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationPatch {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub client_id: Option<String>,
    #[ts(optional)]
    pub callback: Option<CallbackSettings>,
    #[ts(optional)]
    pub scopes: Option<Vec<String>>,
    #[ts(optional)]
    pub console_done: Option<Vec<String>>,
    /// Set when the user goes past step 3 (Next): the scopes are chosen, not just suggested.
    #[ts(optional)]
    pub scopes_reviewed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KeychainStatus {
    pub available: bool,
    pub message: Option<String>,
}

/// The sandbox app: what a user would copy from Atlassian's developer console, shown on the
/// sandbox app page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SandboxApp {
    pub base_url: String,
    pub app_name: String,
    pub client_id: String,
    pub client_secret: String,
    /// The sandbox's service account (its OAuth 2.0 credential: client credentials), shown on
    /// the same page for the "Sandbox service account" provider.
    pub service_account_client_id: String,
    pub service_account_client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub providers: Vec<Provider>,
    /// The catalog's test calls, each once: a provider names the ones it offers
    /// (`Provider.test_call_ids`). The scope catalog is not here: only step 3 needs its 50 KB of
    /// words, so the UI asks for it once (`scope_catalog`).
    pub test_calls: Vec<TestCallPreset>,
    pub integrations: Vec<IntegrationView>,
    pub last_integration_id: Option<String>,
    pub sandbox: Option<SandboxApp>,
    pub default_provider_id: String,
    /// Set when the database could not be opened or read (a damaged or newer file is left untouched
    /// and nothing is saved), or the old settings.json could not be imported.
    pub store_problem: Option<UiError>,
    /// A callback no authorization was waiting for arrived before the window was ready (the deep
    /// link that started Onramp, after a restart lost the pending authorization).
    pub unmatched_callback: Option<UiError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationStarted {
    pub authorize_url: String,
    pub redirect_uri: String,
    /// Unix seconds after which the pending authorization is discarded.
    #[ts(type = "number")]
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AuthStage {
    Waiting,
    Exchanging,
    Connected,
    Failed,
    Cancelled,
    /// Nobody answered within the flow's lifetime (10 minutes); the flow and its listener are gone.
    Expired,
}

/// The one error shape the UI receives: what happened, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UiError {
    pub code: ErrorCode,
    pub title: String,
    pub detail: String,
    pub hint: Option<String>,
    /// Facts to show side by side (e.g. the callback URL sent vs the one refused), or named scopes.
    #[serde(default)]
    pub facts: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuthProgress {
    pub integration_id: String,
    pub stage: AuthStage,
    pub message: String,
    pub error: Option<UiError>,
    /// A calm remark beside a flow that keeps waiting (a callback that was not its own was
    /// ignored); never an error.
    pub notice: Option<String>,
    pub integration: Option<IntegrationView>,
}

/// One saved integration on the home: lighter than [`IntegrationView`] (no history, no scopes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationSummary {
    pub id: String,
    pub name: String,
    pub provider_id: String,
    /// The provider's display name, or the id when the provider is gone (a deleted custom one).
    pub provider_name: String,
    pub site: Option<Site>,
    pub health: crate::health::Health,
    /// The step the wizard opens at: the first one something still blocks.
    pub step: crate::steps::WizardStep,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
}

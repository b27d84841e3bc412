//! A saved integration as stored. Never holds a secret: those are in the keychain.

use serde::{Deserialize, Serialize};

use crate::model::{CallbackSettings, Connection, HandOff, Site};

/// A saved integration. Never holds a secret: those are in the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub provider_id: String,
    #[serde(default)]
    pub client_id: String,
    pub callback: CallbackSettings,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub console_done: Vec<String>,
    #[serde(default)]
    pub site: Option<Site>,
    #[serde(default)]
    pub connection: Option<Connection>,
    /// Set after a successful push to Nango: Onramp deleted its refresh token and no longer
    /// refreshes (one refresher only). A new authorization clears it.
    #[serde(default)]
    pub handed_off: Option<HandOff>,
    #[serde(default)]
    pub has_client_secret: bool,
    /// Bumped by every writer of the client secret once the keychain holds the new one (kept in its
    /// own column, `integrations.secret_revision`; never the secret nor anything derived
    /// from it). A process serves the secret from memory only under the revision it read it at
    /// (`engine/tokens.rs`, `SecretCache`), so another process's new secret is never missed.
    #[serde(default)]
    pub client_secret_revision: i64,
    /// The user went past step 3 (Next) with these scopes: until then the suggested scopes are only
    /// a proposal, and the progress bar does not tick "Scopes".
    #[serde(default)]
    pub scopes_reviewed: bool,
    /// For a connection through the in-app sandbox: the sandbox run (`Sandbox::instance_id`) that
    /// issued its tokens. Not a secret. The sandbox keeps grants in memory only, so after a restart
    /// the engine can tell the tokens are gone (`lifecycle::lost_in_sandbox_restart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_instance: Option<String>,
    /// Newest first; method, path, status and time only.
    #[serde(default)]
    pub history: Vec<crate::model::HistoryEntry>,
    pub created_at: i64,
    pub updated_at: i64,
}

//! The types of a hand-off to Nango: where to push, and the record that Onramp stopped refreshing.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Onramp gave the connection to another refresher (Nango) and stopped refreshing it: Atlassian
/// rotates refresh tokens, so only one party may refresh (nango-api-and-preflight.md §1.7 step 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandOff {
    /// `"nango"`.
    pub to: String,
    pub base_url: String,
    pub connection_id: String,
    /// Unix seconds.
    #[ts(type = "number")]
    pub at: i64,
}

/// The Nango provider a connection is pushed as (nango-atlassian.md §1): `jira` and `confluence`
/// run Nango's site-picking post-connection hook, `atlassian` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum NangoProvider {
    Jira,
    Confluence,
    Atlassian,
}

impl NangoProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            NangoProvider::Jira => "jira",
            NangoProvider::Confluence => "confluence",
            NangoProvider::Atlassian => "atlassian",
        }
    }
}

/// Where to push a connection: a Nango instance (Cloud `https://api.nango.dev`, self-hosted
/// `http://localhost:3003` by default; no path prefix), the integration's unique key there, and the
/// connection id. The secret key is not here: it lives only in the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NangoTarget {
    pub base_url: String,
    pub provider: NangoProvider,
    pub integration_key: String,
    pub connection_id: String,
}

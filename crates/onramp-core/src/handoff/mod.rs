//! The hand-off: the verified setup delivered to the user's backend. Pure functions only; the engine
//! (`engine/handoff.rs`) loads the integration, its provider and (when asked) the client secret.
//!
//! - [`env`]: the values as `.env` or versioned JSON, and the 0600 file writer for a file with a secret;
//! - [`snippets`]: runnable curl, Node and Python programs (refresh with rotation → one gateway call);
//! - [`definition`]: the team definition file (no secrets, no tokens, no site), export and import.
//!
//! Every value comes from the integration and its provider: nothing here names a host or a scope.

pub mod definition;
pub mod env;
pub mod snippets;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::OnrampError;
use crate::model::{ClientAuth, KeyValue, ProductId, Provider, TestCallPreset};
use crate::secrets::SecretString;
use crate::store::Integration;

pub use definition::{parse_definition, to_definition, Definition};
pub use env::{to_env, to_json, write_private_file};
pub use snippets::{snippet, snippet_call, SnippetCall};

/// `.env` or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HandoffFormat {
    Env,
    Json,
}

/// The language of a runnable snippet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SnippetLanguage {
    /// A bash script with curl and jq.
    Curl,
    /// Node ≥ 20, `fetch`, no dependency (an ES module).
    Node,
    /// Python 3, standard library only.
    Python,
}

/// An exported `.env` or JSON file, before it is saved (through the UI's save dialog). Its `Debug`
/// leaves out contents that hold the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffExport {
    pub contents: String,
    /// The contents hold the client secret: the file is written with mode 0600 and the UI says so.
    pub holds_secret: bool,
    /// e.g. `jira-integration.env`; the user picks the real path.
    pub suggested_file_name: String,
}

impl std::fmt::Debug for HandoffExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoffExport")
            .field(
                "contents",
                &if self.holds_secret {
                    "<holds the client secret>"
                } else {
                    self.contents.as_str()
                },
            )
            .field("holds_secret", &self.holds_secret)
            .field("suggested_file_name", &self.suggested_file_name)
            .finish()
    }
}

/// How the token request's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenBody {
    /// A JSON object, as Atlassian documents (`POST /oauth/token`, `Content-Type: application/json`).
    Json,
    /// `application/x-www-form-urlencoded`, as RFC 6749 §4.1.3 / §6 define it (custom servers).
    Form,
}

/// The provider, as the hand-off names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRef {
    pub id: String,
    pub name: String,
}

/// The picked site: `cloud_id` is what the gateway paths take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRef {
    pub cloud_id: String,
    pub name: String,
    pub url: String,
}

/// One product's API base through the gateway, e.g. `https://api.atlassian.com/ex/jira/<cloudId>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductBase {
    pub product: ProductId,
    /// `None` until a site is picked (the path needs its cloudId).
    pub base_url: Option<String>,
}

/// Everything a backend needs to use the integration, taken from the integration and its provider.
/// Never holds a token; holds the client secret only when the user asked for it (`{:?}` shows it
/// as `[REDACTED]`; serializing writes it, into the export the user asked for).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoffValues {
    pub integration_name: String,
    pub provider: ProviderRef,
    pub authorize_url: String,
    /// Extra authorize parameters, e.g. `prompt=consent`.
    pub authorize_params: Vec<KeyValue>,
    pub token_url: String,
    pub token_body: TokenBody,
    pub client_auth: ClientAuth,
    pub audience: Option<String>,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub site: Option<SiteRef>,
    /// The API gateway (Atlassian: `https://api.atlassian.com`); empty when the provider has none.
    pub gateway_url: String,
    pub products: Vec<ProductBase>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secrets::serialize_exposed"
    )]
    pub client_secret: Option<SecretString>,
}

/// The hand-off values of an integration. `client_secret` is `Some` only when the user chose to
/// include it.
pub fn values(
    integration: &Integration,
    provider: &Provider,
    client_secret: Option<SecretString>,
) -> HandoffValues {
    let gateway = provider.gateway_url.trim_end_matches('/');
    let site = integration.site.as_ref().map(|s| SiteRef {
        cloud_id: s.id.clone(),
        name: s.name.clone(),
        url: s.url.clone(),
    });
    HandoffValues {
        integration_name: integration.name.clone(),
        provider: ProviderRef {
            id: provider.id.clone(),
            name: provider.display_name.clone(),
        },
        authorize_url: provider.authorize_url.clone(),
        authorize_params: provider.authorize_params.clone(),
        token_url: provider.token_url.clone(),
        token_body: token_body(provider),
        client_auth: provider.client_auth,
        audience: provider.audience.clone(),
        client_id: integration.client_id.clone(),
        redirect_uri: crate::engine::redirect_uri_for(&integration.callback),
        scopes: integration.scopes.clone(),
        gateway_url: gateway.to_string(),
        products: provider
            .products
            .iter()
            .map(|p| ProductBase {
                product: p.id,
                base_url: site.as_ref().map(|s| {
                    format!(
                        "{gateway}{}",
                        p.gateway_path.replace("{cloudId}", &s.cloud_id)
                    )
                }),
            })
            .collect(),
        site,
        client_secret,
    }
}

/// Atlassian (and the sandbox, which plays it) documents a JSON body with the client credentials in
/// it; every other server gets the form body RFC 6749 defines, as `oauth::token` sends it.
fn token_body(provider: &Provider) -> TokenBody {
    if provider.has_sites && provider.client_auth == ClientAuth::RequestBody {
        TokenBody::Json
    } else {
        TokenBody::Form
    }
}

/// A file name for the integration's name: lower case, letters, digits and `-`.
pub fn file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
    }
    let stem = stem.trim_end_matches('-').to_string();
    if stem.is_empty() {
        "onramp".into()
    } else {
        stem
    }
}

/// The test call a snippet makes: the first one the grant allows that goes through a product's
/// gateway path (it uses the cloudId), else the first other one the grant allows.
pub(crate) fn pick_test_call<'a>(
    provider: &'a Provider,
    granted: &[String],
) -> Result<&'a TestCallPreset, OnrampError> {
    let runnable = crate::scopes::runnable_test_calls(provider, granted);
    let allowed: Vec<&TestCallPreset> = provider
        .test_calls
        .iter()
        .filter(|c| runnable.contains(&c.id))
        // The snippets send no body.
        .filter(|c| c.body.is_none())
        .collect();
    allowed
        .iter()
        .find(|c| c.product.is_some())
        .or_else(|| allowed.iter().find(|c| c.id != "accessible-resources"))
        .or_else(|| allowed.first())
        .copied()
        .ok_or_else(|| {
            OnrampError::invalid(
                "test call",
                format!(
                    "None of {}'s test calls works with these scopes, so a snippet would have nothing to call. Add a scope a test call needs in step 3, or give the custom provider a test-call URL in step 1.",
                    provider.display_name
                ),
            )
        })
}

#[cfg(test)]
pub(crate) mod fixture {
    //! The fixture integration of the golden files: Atlassian, a loopback callback, a picked site.
    use crate::catalog::Catalog;
    use crate::model::{
        CallbackKind, CallbackSettings, Connection, ConnectionState, Provider, Site,
    };
    use crate::store::Integration;
    use std::path::PathBuf;

    pub fn provider() -> Provider {
        Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap()
    }

    pub fn integration() -> Integration {
        let scopes: Vec<String> = [
            "offline_access",
            "read:jira-user",
            "read:jira-work",
            "read:me",
        ]
        .map(String::from)
        .to_vec();
        Integration {
            id: "0123456789abcdef".into(),
            name: "Acme Jira sync".into(),
            provider_id: "atlassian".into(),
            client_id: "Xy7fixtureClientId0123456789".into(),
            callback: CallbackSettings {
                kind: CallbackKind::Loopback,
                loopback_port: 47823,
            },
            scopes: scopes.clone(),
            console_done: vec!["create".into(), "permissions".into()],
            site: Some(Site {
                id: "1324a887-45db-1bf4-1e99-ef0ff456d421".into(),
                name: "acme".into(),
                url: "https://acme.atlassian.net".into(),
                scopes: scopes.clone(),
                avatar_url: None,
                key: String::new(),
                products: Vec::new(),
            }),
            connection: Some(Connection {
                state: ConnectionState::Connected,
                connected_at: 1_700_000_000,
                expires_at: Some(1_700_003_600),
                granted_scopes: scopes,
                has_refresh_token: true,
                reason: None,
                token_lifetime: Some(3600),
                last_refresh_at: None,
            }),
            has_client_secret: true,
            client_secret_revision: 0,
            scopes_reviewed: false,
            sandbox_instance: None,
            history: Vec::new(),
            handed_off: None,
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
        }
    }

    /// Compares `text` with `tests/fixtures/handoff/<name>`; `ONRAMP_WRITE_GOLDEN=1` rewrites it.
    pub fn golden(name: &str, text: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/handoff")
            .join(name);
        if std::env::var("ONRAMP_WRITE_GOLDEN").is_ok() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run ONRAMP_WRITE_GOLDEN=1 cargo test -p onramp-core handoff",
                path.display()
            )
        });
        assert_eq!(
            text,
            expected,
            "{} is stale: run ONRAMP_WRITE_GOLDEN=1 cargo test -p onramp-core handoff and review the diff",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_the_integration_and_its_provider() {
        let v = values(&fixture::integration(), &fixture::provider(), None);
        assert_eq!(v.token_url, "https://auth.atlassian.com/oauth/token");
        assert_eq!(v.token_body, TokenBody::Json);
        assert_eq!(v.redirect_uri, "http://127.0.0.1:47823/callback");
        assert_eq!(
            v.products[0].base_url.as_deref(),
            Some("https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421")
        );
        assert!(v.client_secret.is_none());
    }

    #[test]
    fn without_a_site_no_product_base_is_invented() {
        let mut i = fixture::integration();
        i.site = None;
        let v = values(&i, &fixture::provider(), None);
        assert!(v.products.iter().all(|p| p.base_url.is_none()));
    }

    #[test]
    fn the_snippet_calls_a_product_first() {
        let p = fixture::provider();
        let granted = fixture::integration().connection.unwrap().granted_scopes;
        assert_eq!(pick_test_call(&p, &granted).unwrap().id, "jira-myself");
        assert_eq!(
            pick_test_call(&p, &["read:me".into()]).unwrap().id,
            "jira-server-info"
        );
    }

    #[test]
    fn file_stems_are_plain() {
        assert_eq!(file_stem("  Acme Jira sync! "), "acme-jira-sync");
        assert_eq!(file_stem("ÄÖ"), "onramp");
    }
}

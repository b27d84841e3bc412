//! "Custom OAuth 2.0": any standards-compliant authorization server, described by the user or
//! discovered from its issuer URL (RFC 8414 authorization-server metadata, else OpenID discovery).

use serde::{Deserialize, Serialize};

use crate::error::OnrampError;
use crate::model::{
    CallbackKind, CallbackSupport, ClientAuth, ConsoleGuide, ConsoleStep, CustomProviderInput,
    Environment, Evidence, KeyValue, Provider, ScopeAccess, ScopeInfo, ScopeKind, TestCallPreset,
};
use crate::oauth::describe_reqwest_error;

pub const ID_PREFIX: &str = "custom-";
pub const TEST_CALL_ID: &str = "custom-test";

/// Parameters Onramp sets itself; an extra parameter may not override them.
const RESERVED_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "state",
    "response_type",
    "scope",
    "code_challenge",
    "code_challenge_method",
];

/// A saved custom provider (non-secret, kept in the settings file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomProvider {
    pub id: String,
    pub input: CustomProviderInput,
}

/// https for real servers; plain http only on loopback (local test servers).
fn check_endpoint(field: &str, value: &str) -> Result<url::Url, OnrampError> {
    let url = url::Url::parse(value.trim())
        .map_err(|e| OnrampError::invalid(field, format!("\"{value}\" is not a URL ({e}).")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(OnrampError::invalid(
            field,
            "Use https: plain http is only accepted for servers on this machine (127.0.0.1, localhost).",
        )),
        other => Err(OnrampError::invalid(
            field,
            format!("{other}: is not a web URL; use https://…"),
        )),
    }
}

pub fn validate(input: &CustomProviderInput) -> Result<(), OnrampError> {
    if input.name.trim().is_empty() {
        return Err(OnrampError::invalid("name", "Give the provider a name."));
    }
    check_endpoint("authorize URL", &input.authorize_url)?;
    check_endpoint("token URL", &input.token_url)?;
    if let Some(test) = input
        .test_call_url
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        check_endpoint("test-call URL", test)?;
    }
    for s in &input.scopes {
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(OnrampError::invalid(
                "scopes",
                format!("\"{s}\" is not a scope name: one scope per entry, no spaces."),
            ));
        }
    }
    for KeyValue { key, .. } in &input.extra_params {
        if key.trim().is_empty() {
            return Err(OnrampError::invalid(
                "extra parameters",
                "A parameter has no name.",
            ));
        }
        if RESERVED_PARAMS.contains(&key.as_str()) {
            return Err(OnrampError::invalid(
                "extra parameters",
                format!("{key} is set by Onramp itself and cannot be overridden."),
            ));
        }
    }
    Ok(())
}

pub fn to_provider(custom: &CustomProvider) -> Provider {
    let input = &custom.input;
    let note = "Depends on your server: register exactly this redirect URI with it.".to_string();
    let mut provider = Provider {
        id: custom.id.clone(),
        display_name: input.name.clone(),
        tagline: "Custom OAuth 2.0 authorization server".into(),
        environment: Environment::Custom,
        authorize_url: input.authorize_url.trim().to_string(),
        token_url: input.token_url.trim().to_string(),
        audience: None,
        // Custom requests (step 6) are relative to the test-call URL's origin: the only
        // API address the user gave. Without one there is none (and the console says so).
        gateway_url: input
            .test_call_url
            .as_deref()
            .and_then(|u| url::Url::parse(u.trim()).ok())
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o != "null")
            .unwrap_or_default(),
        products: Vec::new(),
        default_scopes: Vec::new(),
        scope_filter: Default::default(),
        own_scopes: Vec::new(),
        scopes: input
            .scopes
            .iter()
            .map(|name| ScopeInfo {
                name: name.clone(),
                product: "custom".into(),
                kind: ScopeKind::Other,
                access: ScopeAccess::Unknown,
                description: "A scope of this server; Onramp does not know what it allows.".into(),
                note: None,
            })
            .collect(),
        scope_presets: Vec::new(),
        callbacks: vec![
            CallbackSupport { kind: CallbackKind::Loopback, evidence: Evidence::Unconfirmed, note: note.clone() },
            CallbackSupport { kind: CallbackKind::DeepLink, evidence: Evidence::Unconfirmed, note },
        ],
        console: ConsoleGuide {
            console_url: String::new(),
            steps: vec![
                ConsoleStep {
                    id: "register".into(),
                    title: "Register a client".into(),
                    detail: "In your authorization server's admin console, create a confidential client for the authorization-code grant.".into(),
                    link: None,
                },
                ConsoleStep {
                    id: "redirect".into(),
                    title: "Add the redirect URI".into(),
                    detail: "Register the callback URL below exactly as shown.".into(),
                    link: None,
                },
                ConsoleStep {
                    id: "credentials".into(),
                    title: "Copy the client ID and secret".into(),
                    detail: "Paste them into the form below; the secret goes to the OS keychain.".into(),
                    link: None,
                },
            ],
        },
        test_call_ids: Vec::new(),
        own_test_calls: Vec::new(),
        test_calls: input
            .test_call_url
            .iter()
            .filter(|u| !u.trim().is_empty())
            .map(|url| TestCallPreset {
                id: TEST_CALL_ID.into(),
                product: None,
                label: "Test call".into(),
                method: "GET".into(),
                path: url.trim().to_string(),
                needs_scopes: Vec::new(),
                body: None,
                description: "The URL you gave, called with the access token.".into(),
            })
            .collect(),
        notes: Vec::new(),
        client_auth: input.client_auth,
        pkce: input.pkce,
        has_sites: false,
        accessible_resources_url: String::new(),
        accessible_resources_fallback_url: None,
        custom: Some(input.clone()),
        authorize_params: input.extra_params.clone(),
        suggested_scopes: Vec::new(),
        grant: crate::model::Grant::AuthorizationCode,
    };
    provider.suggested_scopes = crate::scopes::suggested(&provider);
    // The shared catalog does not know this server's scopes or call: they travel with the provider.
    provider.own_scopes = provider.scopes.to_vec();
    provider.own_test_calls = provider.test_calls.clone();
    provider
}

#[derive(Deserialize)]
struct Metadata {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    code_challenge_methods_supported: Option<Vec<String>>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// OpenID Connect Discovery 1.0 §3 (RFC 8414 servers may publish it too).
    userinfo_endpoint: Option<String>,
}

/// Where the metadata of `issuer` may be published: RFC 8414 §3 inserts the well-known segment
/// before the issuer's path; OpenID Connect Discovery appends it.
pub fn metadata_urls(issuer: &str) -> Result<Vec<String>, OnrampError> {
    let url = check_endpoint("issuer URL", issuer)?;
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    Ok(vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
    ])
}

/// Reads a metadata document as [`discover`] does (for the fuzz targets in crates/onramp-fuzz).
#[doc(hidden)]
pub fn parse_metadata(body: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<Metadata>(body).map(drop)
}

/// Fills a provider description from the issuer's published metadata.
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<CustomProviderInput, OnrampError> {
    let mut tried = Vec::new();
    // Every address timing out is "the server did not answer", not "no metadata there".
    let mut every_one_timed_out = true;
    for url in metadata_urls(issuer)? {
        let openid_configuration = url.ends_with("/.well-known/openid-configuration");
        let response = match http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                every_one_timed_out &= e.is_timeout();
                tried.push(format!("{url}: {}", describe_reqwest_error(&e)));
                continue;
            }
        };
        every_one_timed_out = false;
        let status = response.status();
        if !status.is_success() {
            tried.push(format!("{url}: HTTP {}", status.as_u16()));
            continue;
        }
        let meta: Metadata = match response.json().await {
            Ok(m) => m,
            Err(e) => {
                tried.push(format!("{url}: not metadata JSON ({e})"));
                continue;
            }
        };
        let (Some(authorize_url), Some(token_url)) =
            (meta.authorization_endpoint, meta.token_endpoint)
        else {
            tried.push(format!("{url}: no authorization_endpoint / token_endpoint"));
            continue;
        };
        // RFC 8414 §3.3: the metadata's issuer must be the one asked for.
        if let Some(declared) = &meta.issuer {
            if declared.trim_end_matches('/') != issuer.trim().trim_end_matches('/') {
                return Err(OnrampError::invalid(
                    "issuer URL",
                    format!("The metadata at {url} belongs to another issuer ({declared}); it was not used."),
                ));
            }
        }
        // RFC 8414 §2: without a list the default is client_secret_basic.
        let auth_methods = meta
            .token_endpoint_auth_methods_supported
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        let client_auth = if auth_methods.iter().any(|m| m == "client_secret_basic") {
            ClientAuth::Basic
        } else {
            ClientAuth::RequestBody
        };
        // PKCE stays on unless the server says which methods it supports and S256 is not one.
        let pkce = meta
            .code_challenge_methods_supported
            .is_none_or(|m| m.iter().any(|x| x == "S256"));
        let name = url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "Custom".into());
        let mut scopes = meta.scopes_supported;
        // An OpenID provider always supports `openid` (OpenID Connect Core 1.0 §3.1.2.1), listed
        // or not: with it in the list the provider counts as OpenID (`prompt=consent` for
        // `offline_access`, `oauth::authorize::extra_params`).
        if openid_configuration && !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        // UserInfo answers any token with `openid`: the natural first test call.
        let test_call_url = meta
            .userinfo_endpoint
            .filter(|u| check_endpoint("test-call URL", u).is_ok());
        return Ok(CustomProviderInput {
            name,
            authorize_url,
            token_url,
            scopes,
            extra_params: Vec::new(),
            client_auth,
            pkce,
            test_call_url,
            issuer: Some(issuer.trim().to_string()),
        });
    }
    if every_one_timed_out {
        return Err(OnrampError::Timeout(format!(
            "the issuer {}",
            issuer.trim()
        )));
    }
    Err(OnrampError::UnexpectedResponse {
        status: 404,
        body: format!("No OAuth metadata found for {issuer}. Tried:\n{}\nFill in the endpoints by hand instead.", tried.join("\n")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CustomProviderInput {
        CustomProviderInput {
            name: "Example".into(),
            authorize_url: "https://auth.example.com/authorize".into(),
            token_url: "https://auth.example.com/token".into(),
            scopes: vec!["openid".into(), "offline_access".into()],
            extra_params: vec![KeyValue {
                key: "audience".into(),
                value: "api".into(),
            }],
            client_auth: ClientAuth::Basic,
            pkce: true,
            test_call_url: Some("https://api.example.com/me".into()),
            issuer: None,
        }
    }

    #[test]
    fn valid_input_resolves_to_a_provider() {
        validate(&input()).unwrap();
        let p = to_provider(&CustomProvider {
            id: "custom-1".into(),
            input: input(),
        });
        assert_eq!(p.environment, Environment::Custom);
        assert!(p.pkce && !p.has_sites);
        assert_eq!(p.client_auth, ClientAuth::Basic);
        assert_eq!(p.test_calls[0].path, "https://api.example.com/me");
        assert_eq!(
            p.gateway_url, "https://api.example.com",
            "custom requests go to the test-call URL's origin"
        );
        assert_eq!(p.authorize_params[0].key, "audience");
        let mut no_api = input();
        no_api.test_call_url = None;
        let p = to_provider(&CustomProvider {
            id: "custom-2".into(),
            input: no_api,
        });
        assert_eq!(p.gateway_url, "");
    }

    #[test]
    fn bad_input_is_explained() {
        let mut i = input();
        i.token_url = "http://auth.example.com/token".into();
        assert!(validate(&i).unwrap_err().to_ui().detail.contains("https"));
        let mut i = input();
        i.token_url = "http://127.0.0.1:8080/token".into();
        validate(&i).unwrap();
        let mut i = input();
        i.extra_params.push(KeyValue {
            key: "redirect_uri".into(),
            value: "x".into(),
        });
        assert!(validate(&i).is_err());
        let mut i = input();
        i.scopes.push("two words".into());
        assert!(validate(&i).is_err());
        let mut i = input();
        i.name = " ".into();
        assert!(validate(&i).is_err());
    }

    #[test]
    fn metadata_urls_follow_rfc8414_and_oidc() {
        assert_eq!(
            metadata_urls("https://id.example.com/tenant1").unwrap(),
            vec![
                "https://id.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://id.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://id.example.com/").unwrap()[0],
            "https://id.example.com/.well-known/oauth-authorization-server"
        );
    }

    #[tokio::test]
    async fn discovery_falls_back_to_openid_configuration() {
        let mut server = mockito::Server::new_async().await;
        let issuer = server.url();
        server
            .mock("GET", "/.well-known/oauth-authorization-server")
            .with_status(404)
            .create_async()
            .await;
        let oidc = server
            .mock("GET", "/.well-known/openid-configuration")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(format!(
                r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/authorize","token_endpoint":"{issuer}/token","scopes_supported":["openid","email"],"code_challenge_methods_supported":["S256"],"token_endpoint_auth_methods_supported":["client_secret_post"]}}"#
            ))
            .create_async()
            .await;
        let found = discover(&crate::tls::client(), &issuer).await.unwrap();
        oidc.assert_async().await;
        assert_eq!(found.authorize_url, format!("{issuer}/authorize"));
        assert_eq!(found.scopes, vec!["openid", "email"]);
        assert_eq!(found.client_auth, ClientAuth::RequestBody);
        assert!(found.pkce);
        assert_eq!(found.test_call_url, None, "no userinfo_endpoint published");
    }

    #[tokio::test]
    async fn discovery_uses_userinfo_as_the_test_call_and_marks_an_openid_provider() {
        let mut server = mockito::Server::new_async().await;
        let issuer = server.url();
        server
            .mock("GET", "/.well-known/oauth-authorization-server")
            .with_status(404)
            .create_async()
            .await;
        server
            .mock("GET", "/.well-known/openid-configuration")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(format!(
                r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/auth","token_endpoint":"{issuer}/token","userinfo_endpoint":"{issuer}/me","scopes_supported":["profile","offline_access"]}}"#
            ))
            .create_async()
            .await;
        let found = discover(&crate::tls::client(), &issuer).await.unwrap();
        assert_eq!(found.test_call_url, Some(format!("{issuer}/me")));
        assert_eq!(found.scopes, vec!["openid", "profile", "offline_access"]);
        let provider = to_provider(&CustomProvider {
            id: "custom-oidc".into(),
            input: found,
        });
        assert_eq!(provider.test_calls[0].path, format!("{issuer}/me"));
        let requested = vec!["profile".to_string(), "offline_access".to_string()];
        assert!(crate::oauth::openid_offline_request(&provider, &requested));
    }

    #[tokio::test]
    async fn discovery_rejects_metadata_of_another_issuer() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/.well-known/oauth-authorization-server")
            .with_status(200)
            .with_body(r#"{"issuer":"https://evil.example","authorization_endpoint":"https://evil.example/a","token_endpoint":"https://evil.example/t"}"#)
            .create_async()
            .await;
        let e = discover(&crate::tls::client(), &server.url())
            .await
            .unwrap_err();
        assert!(e.to_ui().detail.contains("another issuer"));
    }

    #[tokio::test]
    async fn discovery_without_metadata_says_what_was_tried() {
        let server = mockito::Server::new_async().await;
        let e = discover(&crate::tls::client(), &server.url())
            .await
            .unwrap_err();
        let ui = e.to_ui();
        assert!(ui.detail.contains("openid-configuration") && ui.detail.contains("by hand"));
    }
}

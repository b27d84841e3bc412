//! The authorize URL: client, callback, scopes, Atlassian's extra parameters, a random `state`
//! and, when the provider asks for it, a PKCE challenge.

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use url::Url;

use crate::error::OnrampError;
use crate::model::Provider;

/// Bytes of CSPRNG output in `state` (256 bits; the requirement is at least 128).
const STATE_BYTES: u32 = 32;

/// Everything needed to build the authorize URL.
pub struct AuthorizeParams<'a> {
    pub provider: &'a Provider,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
}

/// The authorize URL plus the secrets that must stay behind in Onramp.
pub struct AuthorizeRequest {
    pub url: String,
    pub state: String,
    pub pkce_verifier: Option<secrecy::SecretString>,
}

pub fn build_authorize_url(p: &AuthorizeParams<'_>) -> Result<AuthorizeRequest, OnrampError> {
    let client = BasicClient::new(ClientId::new(p.client_id.to_string()))
        .set_auth_uri(
            AuthUrl::new(p.provider.authorize_url.clone())
                .map_err(|e| OnrampError::invalid("authorize URL", e.to_string()))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(p.redirect_uri.to_string())
                .map_err(|e| OnrampError::invalid("callback URL", e.to_string()))?,
        );
    let mut request = client
        .authorize_url(|| CsrfToken::new_random_len(STATE_BYTES))
        .add_scopes(p.scopes.iter().map(|s| Scope::new(s.clone())));
    if let Some(audience) = &p.provider.audience {
        request = request.add_extra_param("audience", audience.clone());
    }
    for (key, value) in extra_params(p.provider, p.scopes) {
        request = request.add_extra_param(key, value);
    }
    let mut verifier = None;
    if p.provider.pkce {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        verifier = Some(secrecy::SecretString::from(v.secret().as_str()));
    }
    let (url, state) = request.url();
    Ok(AuthorizeRequest {
        url: spaces_as_percent20(&url),
        state: state.secret().clone(),
        pkce_verifier: verifier,
    })
}

/// Whether the request is an OpenID Connect request that asks for `offline_access`: the provider
/// is an OpenID provider (the scope `openid` is requested, or the provider lists it — discovery
/// found an OpenID configuration) and `offline_access` is requested.
pub fn openid_offline_request(provider: &Provider, scopes: &[String]) -> bool {
    let has = |name: &str| scopes.iter().any(|s| s == name);
    let openid = has("openid") || provider.scopes.iter().any(|s| s.name == "openid");
    openid && has("offline_access")
}

/// The provider's extra authorize parameters, plus `prompt=consent` for an OpenID request with
/// `offline_access`: a standard OpenID provider ignores `offline_access` (and so issues no refresh
/// token) unless the user is asked to consent (OpenID Connect Core 1.0 §11). A `prompt` the user
/// set keeps its values and gains `consent`; `prompt=none` (no page at all) is left alone, since it
/// cannot be combined with another value.
pub fn extra_params(provider: &Provider, scopes: &[String]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = provider
        .authorize_params
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    if openid_offline_request(provider, scopes) {
        match params.iter_mut().find(|(k, _)| k == "prompt") {
            None => params.push(("prompt".into(), "consent".into())),
            Some((_, value)) => {
                let values: Vec<&str> = value.split_whitespace().collect();
                if !values.contains(&"consent") && !values.contains(&"none") {
                    *value = format!("{} consent", values.join(" ")).trim().to_string();
                }
            }
        }
    }
    params
}

/// Atlassian documents `%20` between scopes. The form encoder writes spaces as `+`; a literal `+`
/// is always encoded as `%2B`, so every `+` in the serialized query stands for a space. A fragment
/// in the endpoint (RFC 6749 §3.1 forbids one, but a typed or discovered URL may have it) stays
/// after the query, where it cannot swallow the parameters.
fn spaces_as_percent20(url: &Url) -> String {
    match url.query() {
        Some(q) => {
            let mut u = url.clone();
            u.set_query(None);
            u.set_fragment(None);
            let mut text = format!("{}?{}", u, q.replace('+', "%20"));
            if let Some(fragment) = url.fragment() {
                text.push('#');
                text.push_str(fragment);
            }
            text
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use std::collections::HashMap;

    fn provider(id: &str) -> Provider {
        Catalog::load()
            .unwrap()
            .provider(id, Some("http://127.0.0.1:9"))
            .unwrap()
    }

    fn authorize(provider: &Provider, redirect: &str) -> AuthorizeRequest {
        let scopes = vec!["read:jira-work".to_string(), "offline_access".to_string()];
        build_authorize_url(&AuthorizeParams {
            provider,
            client_id: "client-123",
            redirect_uri: redirect,
            scopes: &scopes,
        })
        .unwrap()
    }

    fn query(url: &str) -> HashMap<String, String> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    #[test]
    fn authorize_url_for_atlassian() {
        let req = authorize(&provider("atlassian"), "http://127.0.0.1:47823/callback");
        assert!(req.url.starts_with("https://auth.atlassian.com/authorize?"));
        let q = query(&req.url);
        assert_eq!(q["audience"], "api.atlassian.com");
        assert_eq!(q["client_id"], "client-123");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:47823/callback");
        assert_eq!(q["scope"], "read:jira-work offline_access");
        assert_eq!(q["state"], req.state);
        // Space-separated scopes encoded as %20, as Atlassian documents.
        assert!(
            req.url.contains("scope=read%3Ajira-work%20offline_access"),
            "{}",
            req.url
        );
        assert!(!q.contains_key("code_challenge"));
    }

    fn custom(scopes: &[&str], params: &[(&str, &str)]) -> Provider {
        crate::custom::to_provider(&crate::custom::CustomProvider {
            id: "custom-1".into(),
            input: crate::model::CustomProviderInput {
                name: "Keycloak".into(),
                authorize_url: "https://id.example.com/auth".into(),
                token_url: "https://id.example.com/token".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                extra_params: params
                    .iter()
                    .map(|(k, v)| crate::model::KeyValue {
                        key: k.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                client_auth: crate::model::ClientAuth::Basic,
                pkce: true,
                test_call_url: None,
                issuer: None,
            },
        })
    }

    fn prompt_for(provider: &Provider, requested: &[&str]) -> Option<String> {
        let requested: Vec<String> = requested.iter().map(|s| s.to_string()).collect();
        extra_params(provider, &requested)
            .into_iter()
            .find(|(k, _)| k == "prompt")
            .map(|(_, v)| v)
    }

    #[test]
    fn an_openid_request_for_offline_access_asks_for_consent() {
        let oidc = custom(&["openid", "profile", "offline_access"], &[]);
        assert_eq!(
            prompt_for(&oidc, &["openid", "offline_access"]).as_deref(),
            Some("consent"),
            "OpenID Connect Core §11: offline_access needs prompt=consent"
        );
        // The provider lists openid (discovery found an OpenID configuration): same rule.
        assert_eq!(
            prompt_for(&oidc, &["profile", "offline_access"]).as_deref(),
            Some("consent")
        );
        // A plain OAuth server that never heard of openid, or no offline_access: no prompt.
        let plain = custom(&["read", "offline_access"], &[]);
        assert_eq!(prompt_for(&plain, &["read", "offline_access"]), None);
        assert_eq!(prompt_for(&oidc, &["openid", "profile"]), None);
        // The user's own prompt keeps its values and gains consent, once; none stays none.
        let login = custom(&["openid"], &[("prompt", "login")]);
        assert_eq!(
            prompt_for(&login, &["openid", "offline_access"]).as_deref(),
            Some("login consent")
        );
        let already = custom(&["openid"], &[("prompt", "consent login")]);
        assert_eq!(
            prompt_for(&already, &["openid", "offline_access"]).as_deref(),
            Some("consent login")
        );
        let none = custom(&["openid"], &[("prompt", "none")]);
        assert_eq!(
            prompt_for(&none, &["openid", "offline_access"]).as_deref(),
            Some("none")
        );
        // In the URL: one prompt parameter.
        let scopes = vec!["openid".to_string(), "offline_access".to_string()];
        let req = build_authorize_url(&AuthorizeParams {
            provider: &login,
            client_id: "c",
            redirect_uri: "http://127.0.0.1:1/callback",
            scopes: &scopes,
        })
        .unwrap();
        let prompts: Vec<String> = Url::parse(&req.url)
            .unwrap()
            .query_pairs()
            .filter(|(k, _)| k == "prompt")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(prompts, vec!["login consent".to_string()]);
    }

    #[test]
    fn authorize_url_for_government_cloud_uses_its_own_hosts() {
        let req = authorize(
            &provider("atlassian-government-cloud"),
            "http://127.0.0.1:47823/callback",
        );
        assert!(req
            .url
            .starts_with("https://auth.atlassian-us-gov-mod.com/authorize?"));
        assert_eq!(query(&req.url)["audience"], "api.atlassian-us-gov-mod.com");
    }

    #[test]
    fn redirect_uri_is_sent_exactly() {
        for redirect in ["onramp://callback", "http://127.0.0.1:8080/callback/"] {
            let req = authorize(&provider("sandbox"), redirect);
            assert_eq!(query(&req.url)["redirect_uri"], redirect);
        }
    }

    #[test]
    fn state_is_long_random_and_unique() {
        let p = provider("atlassian");
        let a = authorize(&p, "http://127.0.0.1:1/callback").state;
        let b = authorize(&p, "http://127.0.0.1:1/callback").state;
        assert_ne!(a, b);
        // 32 bytes, base64url without padding = 43 characters.
        assert!(a.len() >= 43, "state too short: {}", a.len());
    }

    #[test]
    fn pkce_adds_an_s256_challenge() {
        let mut p = provider("sandbox");
        p.pkce = true;
        let scopes = vec!["read:me".to_string()];
        let req = build_authorize_url(&AuthorizeParams {
            provider: &p,
            client_id: "c",
            redirect_uri: "onramp://callback",
            scopes: &scopes,
        })
        .unwrap();
        let q = query(&req.url);
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(req.pkce_verifier.is_some());
    }

    /// Found by the fuzz target `discovery`: an authorize endpoint with a fragment put the whole
    /// query (client_id, state, PKCE) inside the fragment, where the server never sees it.
    #[test]
    fn a_fragment_in_the_endpoint_does_not_swallow_the_query() {
        let mut p = provider("atlassian");
        p.authorize_url = "https://auth.example/authorize#section".into();
        let req = authorize(&p, "http://127.0.0.1:47823/callback");
        let q = query(&req.url);
        assert_eq!(q["state"], req.state);
        assert_eq!(q["client_id"], "client-123");
        assert!(req.url.ends_with("#section"), "{}", req.url);
    }
}

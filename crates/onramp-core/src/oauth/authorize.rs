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
    pub pkce_verifier: Option<String>,
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
    for kv in &p.provider.authorize_params {
        request = request.add_extra_param(kv.key.clone(), kv.value.clone());
    }
    let mut verifier = None;
    if p.provider.pkce {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        verifier = Some(v.secret().clone());
    }
    let (url, state) = request.url();
    Ok(AuthorizeRequest {
        url: spaces_as_percent20(&url),
        state: state.secret().clone(),
        pkce_verifier: verifier,
    })
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

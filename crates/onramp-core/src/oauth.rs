//! The OAuth 2.0 authorization-code flow: authorize URL, pending flows (state), callback parsing,
//! code exchange and refresh. Protocol mechanics come from the `oauth2` crate; the rules specific to
//! Onramp (state lifetime, single use, Atlassian's parameters, error mapping) live here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use tokio::sync::oneshot;
use url::Url;

use crate::error::OnrampError;
use crate::model::{ClientAuth, Provider};
use crate::now_unix;

/// How long a started authorization waits for its callback.
pub const FLOW_TTL: Duration = Duration::from_secs(10 * 60);
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
/// is always encoded as `%2B`, so every `+` in the serialized query stands for a space.
fn spaces_as_percent20(url: &Url) -> String {
    match url.query() {
        Some(q) => {
            let mut u = url.clone();
            u.set_query(None);
            format!("{}?{}", u, q.replace('+', "%20"))
        }
        None => url.to_string(),
    }
}

/// An authorization waiting for its callback.
pub struct PendingFlow {
    pub integration_id: String,
    pub redirect_uri: String,
    pub pkce_verifier: Option<String>,
    pub created_at: i64,
    /// Dropping this stops the loopback listener that waits for this flow, if any.
    pub stop_listener: Option<oneshot::Sender<()>>,
}

/// Pending flows by `state`. A state is accepted once and only within [`FLOW_TTL`];
/// starting a new flow for an integration discards its previous one.
#[derive(Default, Clone)]
pub struct FlowRegistry {
    inner: Arc<Mutex<HashMap<String, PendingFlow>>>,
}

impl FlowRegistry {
    pub fn begin(&self, state: String, flow: PendingFlow) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, f| f.integration_id != flow.integration_id);
        map.insert(state, flow);
    }

    /// Takes the flow for `state` (single use). Expired flows are removed and reported as such,
    /// with their integration.
    pub fn take(
        &self,
        state: &str,
        now: i64,
    ) -> Result<PendingFlow, (Option<String>, OnrampError)> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let flow = map
            .remove(state)
            .ok_or((None, OnrampError::StateMismatch))?;
        if now - flow.created_at > FLOW_TTL.as_secs() as i64 {
            return Err((Some(flow.integration_id), OnrampError::FlowExpired));
        }
        Ok(flow)
    }

    /// Discards the pending flow of an integration; true if there was one.
    pub fn cancel(&self, integration_id: &str) -> bool {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, f| f.integration_id != integration_id);
        before != map.len()
    }

    /// Removes the flows older than [`FLOW_TTL`] (closing their loopback listeners) and returns
    /// their integrations, so the UI can be told that the wait is over.
    pub fn expire_stale(&self, now: i64) -> Vec<String> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut expired = Vec::new();
        map.retain(|_, f| {
            let stale = now - f.created_at > FLOW_TTL.as_secs() as i64;
            if stale {
                expired.push(f.integration_id.clone());
            }
            !stale
        });
        expired
    }

    pub fn is_pending(&self, integration_id: &str) -> bool {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.values().any(|f| f.integration_id == integration_id)
    }

    /// The integration whose flow is pending, when exactly one is (to report a stray callback).
    pub fn sole_pending_integration(&self) -> Option<String> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids = map.values().map(|f| f.integration_id.clone());
        match (ids.next(), ids.next()) {
            (Some(id), None) => Some(id),
            _ => None,
        }
    }
}

/// The query of a callback URL: either a code or an error, with the state. Not `Debug`: the code
/// is a credential until it is exchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub fn parse_callback(callback_url: &str) -> Result<CallbackParams, OnrampError> {
    let url = Url::parse(callback_url.trim())
        .map_err(|e| OnrampError::CallbackMalformed(format!("not a URL ({e})")))?;
    let mut params = CallbackParams {
        state: None,
        code: None,
        error: None,
        error_description: None,
    };
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "state" => &mut params.state,
            "code" => &mut params.code,
            "error" => &mut params.error,
            "error_description" => &mut params.error_description,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OnrampError::CallbackMalformed(format!(
                "the parameter {k} appears twice"
            )));
        }
        *slot = Some(v.into_owned());
    }
    if params.code.is_none() && params.error.is_none() {
        return Err(OnrampError::CallbackMalformed(
            "it carries neither a code nor an error".into(),
        ));
    }
    Ok(params)
}

/// Matches a callback to its pending flow; returns the flow and the code, or the refusal.
/// The state is checked before anything else, so a forged callback cannot even report an error.
pub fn accept_callback(
    flows: &FlowRegistry,
    params: &CallbackParams,
) -> Result<(PendingFlow, String), (Option<String>, OnrampError)> {
    let state = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or((None, OnrampError::StateMismatch))?;
    let flow = flows.take(state, now_unix())?;
    if let Some(error) = &params.error {
        return Err((
            Some(flow.integration_id.clone()),
            OnrampError::AuthorizationRefused {
                error: error.clone(),
                description: params.error_description.clone(),
            },
        ));
    }
    let code = params.code.clone().unwrap_or_default();
    Ok((flow, code))
}

/// Tokens as received from the token endpoint. Not `Debug`, so it cannot end up in a log by accident.
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<i64>,
    /// `expires_in`, seconds.
    pub lifetime: Option<i64>,
    /// Granted scopes; RFC 6749 §5.1: omitted means "as requested".
    pub scopes: Option<Vec<String>>,
}

pub struct ClientCredentials<'a> {
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub auth: ClientAuth,
}

pub async fn exchange_code(
    http: &reqwest::Client,
    creds: &ClientCredentials<'_>,
    code: &str,
    redirect_uri: &str,
    pkce_verifier: Option<&str>,
) -> Result<TokenSet, OnrampError> {
    let client = token_client(creds)?.set_redirect_uri(
        RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| OnrampError::invalid("callback URL", e.to_string()))?,
    );
    let status = StatusCell::default();
    let mut request = client.exchange_code(AuthorizationCode::new(code.to_string()));
    if let Some(v) = pkce_verifier {
        request = request.set_pkce_verifier(PkceCodeVerifier::new(v.to_string()));
    }
    let response = request.request_async(&http_client(http, &status)).await;
    into_token_set(response, &status)
}

pub async fn refresh(
    http: &reqwest::Client,
    creds: &ClientCredentials<'_>,
    refresh_token: &str,
) -> Result<TokenSet, OnrampError> {
    let client = token_client(creds)?;
    let status = StatusCell::default();
    let token = RefreshToken::new(refresh_token.to_string());
    let response = client
        .exchange_refresh_token(&token)
        .request_async(&http_client(http, &status))
        .await;
    into_token_set(response, &status)
}

type TokenClient = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn token_client(creds: &ClientCredentials<'_>) -> Result<TokenClient, OnrampError> {
    Ok(BasicClient::new(ClientId::new(creds.client_id.to_string()))
        .set_client_secret(ClientSecret::new(creds.client_secret.to_string()))
        // Atlassian documents client_id/client_secret in the request body (HTTP Basic is unconfirmed
        // there); custom servers may ask for Basic.
        .set_auth_type(match creds.auth {
            ClientAuth::RequestBody => AuthType::RequestBody,
            ClientAuth::Basic => AuthType::BasicAuth,
        })
        .set_token_uri(
            TokenUrl::new(creds.token_url.to_string())
                .map_err(|e| OnrampError::invalid("token URL", e.to_string()))?,
        ))
}

/// Remembers the HTTP status of the token response: `oauth2` reports the parsed error body only.
#[derive(Clone, Default)]
struct StatusCell(Arc<Mutex<Option<u16>>>);

impl StatusCell {
    fn get(&self) -> Option<u16> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The HTTP function `oauth2` calls. Its futures own their client handle (reqwest clients are
/// cheap `Arc` clones), which keeps them `Send` for any caller.
fn http_client(
    http: &reqwest::Client,
    status: &StatusCell,
) -> impl Fn(
    HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<HttpResponse, HttpError>> + Send>,
> {
    let http = http.clone();
    let status = status.clone();
    move |req| {
        let http = http.clone();
        let status = status.clone();
        Box::pin(async move { send(&http, req, status).await })
    }
}

async fn send(
    http: &reqwest::Client,
    request: HttpRequest,
    status: StatusCell,
) -> Result<HttpResponse, HttpError> {
    let request = reqwest::Request::try_from(request).map_err(|e| HttpError(e.to_string()))?;
    let response = http
        .execute(request)
        .await
        .map_err(|e| HttpError(describe_reqwest_error(&e)))?;
    *status.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(response.status().as_u16());
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpError(describe_reqwest_error(&e)))?;
    builder
        .body(body.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

/// reqwest's errors print the URL, which for Onramp never holds a secret (tokens go in headers and
/// bodies); the source chain says what actually failed.
pub fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn into_token_set(
    response: Result<
        oauth2::basic::BasicTokenResponse,
        RequestTokenError<HttpError, oauth2::basic::BasicErrorResponse>,
    >,
    status: &StatusCell,
) -> Result<TokenSet, OnrampError> {
    match response {
        Ok(t) => Ok(TokenSet {
            access_token: t.access_token().secret().clone(),
            refresh_token: t.refresh_token().map(|r| r.secret().clone()),
            expires_at: t.expires_in().map(|d| now_unix() + d.as_secs() as i64),
            lifetime: t.expires_in().map(|d| d.as_secs() as i64),
            scopes: t
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect()),
        }),
        Err(RequestTokenError::ServerResponse(err)) => Err(OnrampError::TokenEndpoint {
            status: status.get(),
            error: err.error().to_string(),
            description: err.error_description().cloned(),
        }),
        Err(RequestTokenError::Request(e)) => Err(OnrampError::Network(e.to_string())),
        Err(RequestTokenError::Parse(_, body)) => match status.get() {
            // A 2xx body may hold tokens: never echo it.
            Some(s) if (200..300).contains(&s) => Err(OnrampError::UnexpectedResponse {
                status: s,
                body:
                    "The token response is not the JSON Onramp expects (access_token, token_type)."
                        .into(),
            }),
            s => Err(OnrampError::UnexpectedResponse {
                status: s.unwrap_or(0),
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
        },
        Err(RequestTokenError::Other(m)) => Err(OnrampError::UnexpectedResponse {
            status: status.get().unwrap_or(0),
            body: m,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::model::ErrorCode;
    use mockito::Matcher;

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

    fn flow(id: &str, created_at: i64) -> PendingFlow {
        PendingFlow {
            integration_id: id.into(),
            redirect_uri: "onramp://callback".into(),
            pkce_verifier: None,
            created_at,
            stop_listener: None,
        }
    }

    #[test]
    fn callback_with_matching_state_is_accepted_once() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix()));
        let params = parse_callback("onramp://callback?code=abc&state=s1").unwrap();
        let (f, code) = accept_callback(&flows, &params).unwrap_or_else(|_| panic!("accepted"));
        assert_eq!((f.integration_id.as_str(), code.as_str()), ("int-1", "abc"));
        // Replay of the same callback is rejected.
        let replay = accept_callback(&flows, &params);
        assert!(matches!(replay, Err((None, OnrampError::StateMismatch))));
    }

    #[test]
    fn callback_with_wrong_or_missing_state_is_rejected() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix()));
        for url in [
            "onramp://callback?code=abc&state=other",
            "onramp://callback?code=abc",
            "onramp://callback?code=abc&state=",
        ] {
            let params = parse_callback(url).unwrap();
            assert!(
                matches!(
                    accept_callback(&flows, &params),
                    Err((None, OnrampError::StateMismatch))
                ),
                "{url}"
            );
        }
        // The genuine flow is still pending after the forged attempts.
        assert_eq!(flows.sole_pending_integration().as_deref(), Some("int-1"));
    }

    #[test]
    fn expired_flow_is_rejected() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix() - 11 * 60));
        let params = parse_callback("onramp://callback?code=abc&state=s1").unwrap();
        assert!(matches!(
            accept_callback(&flows, &params),
            Err((Some(_), OnrampError::FlowExpired))
        ));
    }

    #[test]
    fn stale_flows_expire_and_close_their_listener() {
        let flows = FlowRegistry::default();
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        flows.begin(
            "old".into(),
            PendingFlow {
                stop_listener: Some(stop_tx),
                ..flow("int-1", now_unix() - 11 * 60)
            },
        );
        flows.begin("fresh".into(), flow("int-2", now_unix()));
        assert_eq!(flows.expire_stale(now_unix()), vec!["int-1".to_string()]);
        assert!(
            matches!(
                stop_rx.try_recv(),
                Err(oneshot::error::TryRecvError::Closed)
            ),
            "the expired flow's listener is told to stop"
        );
        assert!(flows.expire_stale(now_unix()).is_empty(), "reported once");
        assert!(flows.take("fresh", now_unix()).is_ok(), "fresh flows stay");
    }

    #[test]
    fn new_flow_replaces_the_previous_one_for_the_same_integration() {
        let flows = FlowRegistry::default();
        flows.begin("old".into(), flow("int-1", now_unix()));
        flows.begin("new".into(), flow("int-1", now_unix()));
        assert!(flows.take("old", now_unix()).is_err());
        assert!(flows.take("new", now_unix()).is_ok());
    }

    #[test]
    fn access_denied_is_reported_for_its_integration() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix()));
        let params = parse_callback(
            "http://127.0.0.1:47823/callback?error=access_denied&error_description=User%20did%20not%20authorize&state=s1",
        )
        .unwrap();
        match accept_callback(&flows, &params) {
            Err((Some(id), e @ OnrampError::AuthorizationRefused { .. })) => {
                assert_eq!(id, "int-1");
                assert_eq!(e.to_ui().code, ErrorCode::AccessDenied);
                assert!(e.to_ui().detail.contains("User did not authorize"));
            }
            _ => panic!("expected access_denied"),
        }
    }

    #[test]
    fn malformed_callbacks_are_explained() {
        assert!(matches!(
            parse_callback("not a url"),
            Err(OnrampError::CallbackMalformed(_))
        ));
        assert!(matches!(
            parse_callback("onramp://callback?state=s"),
            Err(OnrampError::CallbackMalformed(_))
        ));
        assert!(matches!(
            parse_callback("onramp://callback?code=a&code=b&state=s"),
            Err(OnrampError::CallbackMalformed(_))
        ));
    }

    fn creds(url: &str) -> (String, &'static str, &'static str) {
        (format!("{url}/oauth/token"), "client-123", "s3cret")
    }

    #[tokio::test]
    async fn exchange_sends_secret_in_body_and_parses_tokens() {
        let mut server = mockito::Server::new_async().await;
        let mock = server
            .mock("POST", "/oauth/token")
            .match_header("content-type", "application/x-www-form-urlencoded")
            .match_body(Matcher::AllOf(vec![
                Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
                Matcher::UrlEncoded("code".into(), "the-code".into()),
                Matcher::UrlEncoded("client_id".into(), "client-123".into()),
                Matcher::UrlEncoded("client_secret".into(), "s3cret".into()),
                Matcher::UrlEncoded(
                    "redirect_uri".into(),
                    "http://127.0.0.1:47823/callback".into(),
                ),
            ]))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"at-1","refresh_token":"rt-1","expires_in":3600,"scope":"read:jira-work offline_access","token_type":"Bearer"}"#)
            .create_async()
            .await;
        let (token_url, id, secret) = creds(&server.url());
        let before = now_unix();
        let t = exchange_code(
            &reqwest::Client::new(),
            &ClientCredentials {
                token_url: &token_url,
                client_id: id,
                client_secret: secret,
                auth: ClientAuth::RequestBody,
            },
            "the-code",
            "http://127.0.0.1:47823/callback",
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("exchange failed: {e}"));
        mock.assert_async().await;
        assert_eq!(t.access_token, "at-1");
        assert_eq!(t.refresh_token.as_deref(), Some("rt-1"));
        let expires = t.expires_at.unwrap();
        assert!(expires >= before + 3600 && expires <= now_unix() + 3600);
        assert_eq!(
            t.scopes.unwrap(),
            vec!["read:jira-work".to_string(), "offline_access".to_string()]
        );
    }

    async fn token_error(status: usize, body: &str) -> OnrampError {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", "/oauth/token")
            .with_status(status)
            .with_header("content-type", "application/json")
            .with_body(body)
            .create_async()
            .await;
        let (token_url, id, secret) = creds(&server.url());
        match exchange_code(
            &reqwest::Client::new(),
            &ClientCredentials {
                token_url: &token_url,
                client_id: id,
                client_secret: secret,
                auth: ClientAuth::RequestBody,
            },
            "c",
            "onramp://callback",
            None,
        )
        .await
        {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn exchange_errors_keep_status_and_code() {
        let e = token_error(
            403,
            r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
        )
        .await;
        assert!(
            matches!(&e, OnrampError::TokenEndpoint { status: Some(403), error, .. } if error == "invalid_grant")
        );
        assert!(e.needs_reconnect());

        let e = token_error(
            401,
            r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
        )
        .await;
        assert_eq!(e.to_ui().code, ErrorCode::TokenUnauthorized);
        assert!(e.to_ui().detail.contains("401"));

        let e = token_error(
            400,
            r#"{"error":"invalid_request","error_description":"authorization_code is invalid"}"#,
        )
        .await;
        assert_eq!(e.to_ui().code, ErrorCode::CodeInvalid);
    }

    #[tokio::test]
    async fn non_json_error_keeps_the_raw_body() {
        let e = token_error(502, "<html>Bad gateway</html>").await;
        match e {
            OnrampError::UnexpectedResponse { status, body } => {
                assert_eq!(status, 502);
                assert!(body.contains("Bad gateway"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn refresh_without_new_refresh_token_reports_none() {
        let mut server = mockito::Server::new_async().await;
        let mock = server
            .mock("POST", "/oauth/token")
            .match_body(Matcher::AllOf(vec![
                Matcher::UrlEncoded("grant_type".into(), "refresh_token".into()),
                Matcher::UrlEncoded("refresh_token".into(), "rt-old".into()),
                Matcher::UrlEncoded("client_secret".into(), "s3cret".into()),
            ]))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"at-2","expires_in":3600,"token_type":"Bearer"}"#)
            .create_async()
            .await;
        let (token_url, id, secret) = creds(&server.url());
        let t = refresh(
            &reqwest::Client::new(),
            &ClientCredentials {
                token_url: &token_url,
                client_id: id,
                client_secret: secret,
                auth: ClientAuth::RequestBody,
            },
            "rt-old",
        )
        .await
        .unwrap_or_else(|e| panic!("refresh failed: {e}"));
        mock.assert_async().await;
        assert_eq!(t.access_token, "at-2");
        assert!(t.refresh_token.is_none());
        assert!(t.scopes.is_none());
    }

    #[tokio::test]
    async fn unreachable_token_endpoint_is_a_network_error() {
        let e = exchange_code(
            &reqwest::Client::new(),
            &ClientCredentials {
                token_url: "http://127.0.0.1:9/oauth/token",
                client_id: "c",
                client_secret: "s",
                auth: ClientAuth::RequestBody,
            },
            "c",
            "onramp://callback",
            None,
        )
        .await;
        assert!(matches!(e, Err(OnrampError::Network(_))));
    }
}

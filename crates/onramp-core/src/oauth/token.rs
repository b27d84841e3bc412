//! The token endpoint: code exchange and refresh, with the answer's HTTP status kept for the
//! error report.

use std::sync::{Arc, Mutex};

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, HttpRequest, HttpResponse,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, TokenResponse, TokenUrl,
};

use secrecy::{ExposeSecret, SecretString};

use crate::error::OnrampError;
use crate::model::ClientAuth;
use crate::now_unix;

/// Tokens as received from the token endpoint. The tokens are `SecretString`s: printing the set
/// (`{:?}`) shows `[REDACTED]` for them.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<i64>,
    /// `expires_in`, seconds.
    pub lifetime: Option<i64>,
    /// Granted scopes; RFC 6749 §5.1: omitted means "as requested".
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct ClientCredentials<'a> {
    /// Named in the error when the token endpoint refuses.
    pub server: &'a crate::oauth_error::Server,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub auth: ClientAuth,
}

pub async fn exchange_code(
    http: &reqwest::Client,
    creds: &ClientCredentials<'_>,
    code: &SecretString,
    redirect_uri: &str,
    pkce_verifier: Option<&SecretString>,
) -> Result<TokenSet, OnrampError> {
    let client = token_client(creds)?.set_redirect_uri(
        RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| OnrampError::invalid("callback URL", e.to_string()))?,
    );
    let status = StatusCell::default();
    let mut request =
        client.exchange_code(AuthorizationCode::new(code.expose_secret().to_string()));
    if let Some(v) = pkce_verifier {
        request = request.set_pkce_verifier(PkceCodeVerifier::new(v.expose_secret().to_string()));
    }
    let response = request.request_async(&http_client(http, &status)).await;
    into_token_set(response, &status, creds.server)
}

pub async fn refresh(
    http: &reqwest::Client,
    creds: &ClientCredentials<'_>,
    refresh_token: &SecretString,
) -> Result<TokenSet, OnrampError> {
    let client = token_client(creds)?;
    let status = StatusCell::default();
    let token = RefreshToken::new(refresh_token.expose_secret().to_string());
    let response = client
        .exchange_refresh_token(&token)
        .request_async(&http_client(http, &status))
        .await;
    into_token_set(response, &status, creds.server)
}

/// The client credentials grant (an Atlassian service account): a token from the client id and
/// secret alone. Only `grant_type`, `client_id` and `client_secret` are sent: whether Atlassian
/// takes `audience` or `scope` here is not established (reference atlassian-2026.md §1), and one
/// report says a `scope` is refused.
pub async fn client_credentials(
    http: &reqwest::Client,
    creds: &ClientCredentials<'_>,
) -> Result<TokenSet, OnrampError> {
    let client = token_client(creds)?;
    let status = StatusCell::default();
    let response = client
        .exchange_client_credentials()
        .request_async(&http_client(http, &status))
        .await;
    into_token_set(response, &status, creds.server)
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
        .set_client_secret(ClientSecret::new(
            creds.client_secret.expose_secret().to_string(),
        ))
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
#[error("{message}")]
pub struct HttpError {
    message: String,
    /// No answer within the HTTP client's timeout: reported as `OnrampError::Timeout`.
    timed_out: bool,
    /// The connection closed before the answer: reported as `OnrampError::ConnectionLost`.
    connection_lost: bool,
}

impl HttpError {
    fn new(message: String) -> Self {
        HttpError {
            message,
            timed_out: false,
            connection_lost: false,
        }
    }

    fn from_reqwest(e: &reqwest::Error) -> Self {
        HttpError {
            message: describe_reqwest_error(e),
            timed_out: e.is_timeout(),
            connection_lost: connection_lost(e),
        }
    }
}

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
    let request = reqwest::Request::try_from(request).map_err(|e| HttpError::new(e.to_string()))?;
    let response = http
        .execute(request)
        .await
        .map_err(|e| HttpError::from_reqwest(&e))?;
    *status.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(response.status().as_u16());
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpError::from_reqwest(&e))?;
    builder
        .body(body.to_vec())
        .map_err(|e| HttpError::new(e.to_string()))
}

/// Whether the connection closed after the request went out and before a whole answer came back
/// (the server crashed, restarted or reset it), as opposed to never connecting or timing out.
pub fn connection_lost(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() {
        return false;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe
            ) {
                return true;
            }
        }
        // hyper's "connection closed before message completed" (an incomplete message).
        if s.to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        source = s.source();
    }
    false
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
    server: &crate::oauth_error::Server,
) -> Result<TokenSet, OnrampError> {
    match response {
        Ok(t) => {
            // `expires_in` is any u64 the server sends: saturate, never wrap to a negative
            // lifetime or overflow the expiry time.
            let lifetime = t
                .expires_in()
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            Ok(TokenSet {
                access_token: SecretString::from(t.access_token().secret().as_str()),
                refresh_token: t
                    .refresh_token()
                    .map(|r| SecretString::from(r.secret().as_str())),
                expires_at: lifetime.map(|l| now_unix().saturating_add(l)),
                lifetime,
                scopes: t
                    .scopes()
                    .map(|s| s.iter().map(|s| s.to_string()).collect()),
            })
        }
        Err(RequestTokenError::ServerResponse(err)) => Err(OnrampError::TokenEndpoint {
            status: status.get(),
            error: err.error().to_string(),
            description: err.error_description().cloned(),
            server: server.clone(),
        }),
        Err(RequestTokenError::Request(e)) if e.timed_out => {
            Err(OnrampError::Timeout("the token endpoint".into()))
        }
        Err(RequestTokenError::Request(e)) if e.connection_lost => Err(
            OnrampError::ConnectionLost("the token endpoint".into(), e.message),
        ),
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
        // oauth2 refuses a non-JSON content type before parsing (a proxy's or portal's page);
        // `m` names the content type only.
        Err(RequestTokenError::Other(m)) if status.get().is_some_and(|s| (200..300).contains(&s)) => {
            Err(OnrampError::UnexpectedResponse {
                status: status.get().unwrap_or(0),
                body: format!("The token response is not the JSON Onramp expects: {m}. A proxy or a captive portal may have answered instead of the provider."),
            })
        }
        Err(RequestTokenError::Other(m)) => Err(OnrampError::UnexpectedResponse {
            status: status.get().unwrap_or(0),
            body: m,
        }),
    }
}

/// The token endpoint's answer read exactly as [`exchange_code`] reads it, without the network: the
/// fuzz targets (crates/onramp-fuzz) feed it hostile answers. Header pairs that are not valid HTTP
/// are skipped, as reqwest would never deliver them.
#[doc(hidden)]
pub fn read_token_response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<TokenSet, OnrampError> {
    let server = crate::oauth_error::Server::unknown();
    let secret = SecretString::from("secret");
    let creds = ClientCredentials {
        server: &server,
        token_url: "https://token.example/token",
        client_id: "client",
        client_secret: &secret,
        auth: ClientAuth::RequestBody,
    };
    let cell = StatusCell::default();
    let answer = |_request: HttpRequest| -> Result<HttpResponse, HttpError> {
        *cell.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                builder = builder.header(n, v);
            }
        }
        builder
            .body(body.to_vec())
            .map_err(|e| HttpError::new(e.to_string()))
    };
    let response = token_client(&creds)?
        .exchange_code(AuthorizationCode::new("code".into()))
        .request(&answer);
    into_token_set(response, &cell, &server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorCode;
    use mockito::Matcher;

    fn creds(url: &str) -> (String, &'static str, SecretString) {
        (format!("{url}/oauth/token"), "client-123", "s3cret".into())
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
            &crate::tls::client(),
            &ClientCredentials {
                server: &crate::oauth_error::Server::unknown(),
                token_url: &token_url,
                client_id: id,
                client_secret: &secret,
                auth: ClientAuth::RequestBody,
            },
            &"the-code".into(),
            "http://127.0.0.1:47823/callback",
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("exchange failed: {e}"));
        mock.assert_async().await;
        assert_eq!(t.access_token.expose_secret(), "at-1");
        assert_eq!(
            t.refresh_token.as_ref().map(ExposeSecret::expose_secret),
            Some("rt-1")
        );
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
            &crate::tls::client(),
            &ClientCredentials {
                server: &crate::oauth_error::Server::unknown(),
                token_url: &token_url,
                client_id: id,
                client_secret: &secret,
                auth: ClientAuth::RequestBody,
            },
            &"c".into(),
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
            &crate::tls::client(),
            &ClientCredentials {
                server: &crate::oauth_error::Server::unknown(),
                token_url: &token_url,
                client_id: id,
                client_secret: &secret,
                auth: ClientAuth::RequestBody,
            },
            &"rt-old".into(),
        )
        .await
        .unwrap_or_else(|e| panic!("refresh failed: {e}"));
        mock.assert_async().await;
        assert_eq!(t.access_token.expose_secret(), "at-2");
        assert!(t.refresh_token.is_none());
        assert!(t.scopes.is_none());
    }

    #[tokio::test]
    async fn client_credentials_send_the_id_and_secret_and_nothing_else() {
        let mut server = mockito::Server::new_async().await;
        let mock = server
            .mock("POST", "/oauth/token")
            .match_body(Matcher::AllOf(vec![
                Matcher::UrlEncoded("grant_type".into(), "client_credentials".into()),
                Matcher::UrlEncoded("client_id".into(), "client-123".into()),
                Matcher::UrlEncoded("client_secret".into(), "s3cret".into()),
                Matcher::Regex("^[^&]*&[^&]*&[^&]*$".into()),
            ]))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"sa-1","expires_in":3600,"token_type":"Bearer","scope":"read:jira-work"}"#)
            .create_async()
            .await;
        let (token_url, id, secret) = creds(&server.url());
        let t = client_credentials(
            &crate::tls::client(),
            &ClientCredentials {
                server: &crate::oauth_error::Server::unknown(),
                token_url: &token_url,
                client_id: id,
                client_secret: &secret,
                auth: ClientAuth::RequestBody,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        mock.assert_async().await;
        assert_eq!(t.access_token.expose_secret(), "sa-1");
        assert!(t.refresh_token.is_none());
        assert_eq!(t.scopes, Some(vec!["read:jira-work".to_string()]));
    }

    #[tokio::test]
    async fn unreachable_token_endpoint_is_a_network_error() {
        let e = exchange_code(
            &crate::tls::client(),
            &ClientCredentials {
                server: &crate::oauth_error::Server::unknown(),
                token_url: "http://127.0.0.1:9/oauth/token",
                client_id: "c",
                client_secret: &"s".into(),
                auth: ClientAuth::RequestBody,
            },
            &"c".into(),
            "onramp://callback",
            None,
        )
        .await;
        assert!(matches!(e, Err(OnrampError::Network(_))));
    }

    /// Found by the fuzz target `token_response`: an `expires_in` beyond i64 wrapped to a negative
    /// lifetime (a token already expired), and i64::MAX overflowed the expiry time.
    #[test]
    fn a_huge_expires_in_saturates() {
        for expires_in in ["18446744073709551615", "9223372036854775807"] {
            let body = format!(
                r#"{{"access_token":"a","token_type":"bearer","expires_in":{expires_in}}}"#
            );
            let t = read_token_response(
                200,
                &[("content-type", "application/json")],
                body.as_bytes(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.lifetime, Some(i64::MAX));
            assert_eq!(t.expires_at, Some(i64::MAX));
        }
    }
}

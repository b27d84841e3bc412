//! The authorization server: `/authorize`, the consent decision, the `/error` page and
//! `/oauth/token` (reference §1–§4, §9.1).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use url::form_urlencoded;

use crate::data::SITES;
use crate::pages;
use crate::state::{AuthCode, Issued, PendingConsent, Pkce, Shared, CODE_TTL, CONSENT_TTL};
use crate::util::{append_query, parse_form, pct_encode, pkce_s256};

type Shr = Arc<Shared>;

pub(crate) fn routes() -> Router<Shr> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/authorize/decision", post(decision))
        .route("/error", get(error_page))
        .route("/oauth/token", post(token))
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
}

/// The standard OpenID provider's metadata (OpenID Connect Discovery 1.0 §3), only in OpenID mode
/// (Atlassian publishes none).
async fn openid_configuration(State(shared): State<Shr>) -> Response {
    let st = shared.lock();
    if !st.config.openid {
        return StatusCode::NOT_FOUND.into_response();
    }
    let base = &shared.base_url;
    let mut scopes = vec!["openid".to_string(), "profile".into(), "email".into()];
    scopes.extend(st.config.allowed_scopes.iter().cloned());
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

/// Scopes an OpenID request adds to what the app "has under Permissions".
const OPENID_SCOPES: &[&str] = &["openid", "profile", "email"];

fn found(location: &str) -> Response {
    match HeaderValue::from_bytes(location.as_bytes()) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        // Sandbox wording.
        Err(_) => pages::error(
            StatusCode::BAD_REQUEST,
            "Cannot redirect",
            &["The callback URL cannot be used in an HTTP Location header.".to_string()],
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// GET /authorize

/// Checks the request in Atlassian's apparent order and shows the consent page. Errors before
/// the redirect URI is verified are shown here and never redirected to the unverified URI.
async fn authorize(State(shared): State<Shr>, RawQuery(query): RawQuery) -> Response {
    let q = parse_form(query.unwrap_or_default().as_bytes());
    let param = |name: &str| q.get(name).map(String::as_str).unwrap_or("");
    let bad = |heading: &str, line: String| pages::error(StatusCode::BAD_REQUEST, heading, &[line]);

    let mut st = shared.lock();
    let config = &st.config;

    // Sandbox wording: what Atlassian shows for an unknown client_id is not established.
    if param("client_id") != config.client_id {
        return bad(
            "Unknown app",
            format!(
                "There is no app with client_id \"{}\" in the sandbox. Its only app has client_id \"{}\".",
                param("client_id"),
                config.client_id
            ),
        );
    }

    // Atlassian: one callback URL per app, exact match, error shown as a redirect to its error
    // page with this error/description (reference §9.1).
    let redirect_uri = param("redirect_uri");
    if config.registered_callback_url.as_deref() != Some(redirect_uri) {
        let description = format!("redirect_uri is not registered for client: {redirect_uri}");
        let location = format!(
            "{}/error?error=unauthorized_client&error_description={}",
            shared.base_url,
            pct_encode(&description, b":/")
        );
        tracing::info!(redirect_uri, registered = ?config.registered_callback_url, "authorize: redirect_uri mismatch");
        return found(&location);
    }
    if url::Url::parse(redirect_uri).is_err() {
        return bad(
            "Invalid callback URL",
            format!("The registered callback URL \"{redirect_uri}\" is not an absolute URL."),
        );
    }

    // Sandbox wording for the remaining parameter errors. A standard OpenID provider has no
    // `audience` parameter.
    if !config.openid && param("audience") != config.audience {
        return bad(
            "Wrong audience",
            format!(
                "audience must be \"{}\" for the sandbox (Atlassian uses api.atlassian.com); got \"{}\".",
                config.audience,
                param("audience")
            ),
        );
    }
    if param("response_type") != "code" {
        return bad(
            "Unsupported response_type",
            format!(
                "response_type must be \"code\"; got \"{}\".",
                param("response_type")
            ),
        );
    }
    let state = param("state");
    if state.is_empty() {
        return bad(
            "Missing state",
            "The state parameter is required: an unguessable value bound to the user's session."
                .to_string(),
        );
    }

    let mut scopes: Vec<String> = Vec::new();
    for scope in param("scope").split_whitespace() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_string());
        }
    }
    if scopes.is_empty() {
        // Atlassian's text for an empty scope (reference nango-api-and-preflight.md §2.1 (c')).
        return bad(
            "Something went wrong",
            "This app has not requested any supported Atlassian scopes.".to_string(),
        );
    }
    // offline_access is Auth0-level and never added under Permissions (reference §1.1).
    let openid_request = config.openid && scopes.iter().any(|s| s == "openid");
    let missing: Vec<&str> = scopes
        .iter()
        .filter(|s| *s != "offline_access" && !config.allowed_scopes.contains(s))
        .filter(|s| !(config.openid && OPENID_SCOPES.contains(&s.as_str())))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        // "Something went wrong" is Atlassian's heading (reference §9.1); the first line is the
        // text Atlassian shows its owner (nango-api-and-preflight.md §2.1 (c)); the rest is
        // sandbox wording.
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            &[
                format!("Information for the owner of {}", config.app_name),
                "This app has requested scopes that have not been added to the app.".to_string(),
                format!(
                    "Scope not configured for the sandbox app: {}",
                    missing.join(", ")
                ),
            ],
        );
    }

    // OpenID Connect Core 1.0 §11: offline_access is ignored unless the user is asked to consent
    // (`prompt=consent`), which is what a standard OP does.
    let asks_consent = param("prompt").split_whitespace().any(|p| p == "consent");
    if openid_request && !asks_consent {
        scopes.retain(|s| s != "offline_access");
    }

    let challenge = param("code_challenge");
    let method = match param("code_challenge_method") {
        "" => "plain",
        other => other,
    };
    let pkce = (!challenge.is_empty()).then(|| Pkce {
        challenge: challenge.to_string(),
        method: method.to_string(),
    });
    if config.enforce_pkce && (pkce.is_none() || method != "S256") {
        return bad(
            "PKCE required",
            "This sandbox app requires PKCE: send code_challenge with code_challenge_method=S256."
                .to_string(),
        );
    }

    let (app_name, user) = (config.app_name.clone(), config.user.clone());
    let id = st.add_pending(PendingConsent {
        redirect_uri: redirect_uri.to_string(),
        state: state.to_string(),
        scopes: scopes.clone(),
        pkce,
        expires_at: Instant::now() + CONSENT_TTL,
    });
    drop(st);
    let sites: Vec<&str> = SITES.iter().map(|s| s.name).collect();
    pages::consent(&id, &app_name, &user, &scopes, &sites)
}

// ---------------------------------------------------------------------------------------------
// POST /authorize/decision

async fn decision(State(shared): State<Shr>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let decision = form.get("decision").map(String::as_str).unwrap_or("");
    if decision != "accept" && decision != "cancel" {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid decision",
            &["Choose Accept or Cancel on the consent page.".to_string()],
        );
    }
    let request = form.get("request").map(String::as_str).unwrap_or("");
    let mut st = shared.lock();
    let Some(pending) = st.take_pending(request) else {
        // Sandbox wording.
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Authorization request expired",
            &["This consent request is unknown, expired or already answered. Start again from the app.".to_string()],
        );
    };

    let location = if decision == "accept" {
        let withheld = &st.config.withheld_scopes;
        let granted: Vec<String> = pending
            .scopes
            .iter()
            .filter(|s| !withheld.contains(s))
            .cloned()
            .collect();
        let client_id = st.config.client_id.clone();
        let code = st.add_code(AuthCode {
            client_id,
            redirect_uri: pending.redirect_uri.clone(),
            scopes: granted,
            pkce: pending.pkce,
            expires_at: Instant::now() + CODE_TTL,
        });
        append_query(
            &pending.redirect_uri,
            &[("code", &code), ("state", &pending.state)],
        )
    } else {
        // Sandbox wording: Atlassian's exact cancel redirect is not established (reference §9.1).
        append_query(
            &pending.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "User did not authorize the request"),
                ("state", &pending.state),
            ],
        )
    };
    found(&location)
}

// ---------------------------------------------------------------------------------------------
// GET /error

async fn error_page(RawQuery(query): RawQuery) -> Response {
    let q = parse_form(query.unwrap_or_default().as_bytes());
    let get = |name: &str| q.get(name).cloned().unwrap_or_default();
    pages::error_params(&get("error"), &get("error_description"))
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/token

/// Token endpoint failures, each with Atlassian's status and body where the reference has one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// Unknown client, wrong or missing secret (reference §4.1, §9.1).
    #[error("client authentication failed")]
    ClientAuth,
    /// Atlassian's body for a missing client_id (reference nango-api-and-preflight.md §2.2).
    #[error("client_id may not be blank")]
    MissingClientId,
    /// Sandbox wording.
    #[error("{0}")]
    BadRequest(&'static str),
    /// Unknown, expired or reused code (reference §1.1).
    #[error("authorization_code is invalid")]
    InvalidCode,
    /// redirect_uri differs from the one used at /authorize (reference §9.1).
    #[error("Invalid authorization code")]
    RedirectMismatch,
    /// Only when PKCE is enforced; sandbox wording.
    #[error("{0}")]
    Pkce(&'static str),
    /// Reference §3.
    #[error("Unknown or invalid refresh token.")]
    BadRefresh,
    #[error("grant_type {0:?} is not supported")]
    UnsupportedGrant(String),
    /// Sandbox choice, after one report about Atlassian (`crate::service_account`).
    #[error("The scope parameter is not accepted with client credentials: the credential's scopes apply.")]
    ScopeWithClientCredentials,
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let description = self.to_string();
        let (status, error) = match self {
            TokenError::ClientAuth => {
                return token_json(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "access_denied", "error_description": "Unauthorized"}),
                )
            }
            TokenError::MissingClientId | TokenError::BadRequest(_) | TokenError::InvalidCode => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            TokenError::RedirectMismatch | TokenError::BadRefresh => {
                (StatusCode::FORBIDDEN, "invalid_grant")
            }
            TokenError::Pkce(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
            TokenError::UnsupportedGrant(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            TokenError::ScopeWithClientCredentials => (StatusCode::BAD_REQUEST, "invalid_scope"),
        };
        token_json(
            status,
            json!({"error": error, "error_description": description}),
        )
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn token_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn issued_json(issued: Issued) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scopes.join(" "),
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = Value::String(refresh);
    }
    token_json(StatusCode::OK, body)
}

/// Atlassian documents JSON bodies; form bodies work too in practice (reference §2).
fn parse_token_body(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HashMap<String, String>, TokenError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/json" => {
            let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
                return Err(TokenError::BadRequest("The body is not a JSON object"));
            };
            Ok(map
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    Value::Null => None,
                    other => Some((k, other.to_string())),
                })
                .collect())
        }
        "application/x-www-form-urlencoded" => Ok(parse_form(body)),
        _ if body.is_empty() => Ok(HashMap::new()),
        _ => Err(TokenError::BadRequest(
            "Send the body as application/json or application/x-www-form-urlencoded",
        )),
    }
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1) or else from the body.
fn client_credentials(
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<(String, String), TokenError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| TokenError::ClientAuth)?;
        let (scheme, encoded) = value.split_once(' ').ok_or(TokenError::ClientAuth)?;
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(TokenError::ClientAuth)?;
            let (id, secret) = decoded.split_once(':').ok_or(TokenError::ClientAuth)?;
            let unescape = |s: &str| -> String {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            return Ok((unescape(id), unescape(secret)));
        }
    }
    let id = params.get("client_id").cloned().unwrap_or_default();
    if id.is_empty() {
        return Err(TokenError::MissingClientId);
    }
    Ok((id, params.get("client_secret").cloned().unwrap_or_default()))
}

async fn token(State(shared): State<Shr>, headers: HeaderMap, body: Bytes) -> Response {
    let (slow_ms, unavailable, malformed) = {
        let mut st = shared.lock();
        st.token_requests += 1;
        let unavailable = st.faults.token_unavailable_next > 0;
        if unavailable {
            st.faults.token_unavailable_next -= 1;
        }
        // Answered before the grant is processed: whatever is in the way never reached the server.
        let malformed = !unavailable && st.faults.malformed_body_next > 0;
        if malformed {
            st.faults.malformed_body_next -= 1;
        }
        (st.faults.slow_ms, unavailable, malformed)
    };
    if slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    }
    if unavailable {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "The sandbox's token endpoint is unavailable (an injected fault).",
        )
            .into_response();
    }
    if malformed {
        return crate::api::malformed_body();
    }
    let refreshes_before = shared.lock().refresh_count;
    match token_inner(&shared, &headers, &body) {
        Ok(issued) => {
            let (rotated, hold_ms) = {
                let st = shared.lock();
                (
                    st.refresh_count > refreshes_before,
                    st.faults.hold_refresh_answer_ms,
                )
            };
            if rotated && hold_ms > 0 {
                tokio::time::sleep(Duration::from_millis(hold_ms)).await;
            }
            issued_json(issued)
        }
        Err(err) => {
            tracing::info!(%err, "token request refused");
            err.into_response()
        }
    }
}

fn token_inner(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Issued, TokenError> {
    let params = parse_token_body(headers, body)?;
    let (client_id, client_secret) = client_credentials(headers, &params)?;
    let mut st = shared.lock();
    if params.get("grant_type").map(String::as_str) == Some("client_credentials") {
        return crate::service_account::issue(&mut st, &client_id, &client_secret, &params);
    }
    if client_id != st.config.client_id
        || client_secret.is_empty()
        || client_secret != st.config.client_secret
    {
        return Err(TokenError::ClientAuth);
    }
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");

    match param("grant_type") {
        "authorization_code" => {
            let code = st.take_code(param("code")).ok_or(TokenError::InvalidCode)?;
            if code.client_id != client_id {
                return Err(TokenError::InvalidCode);
            }
            if param("redirect_uri") != code.redirect_uri {
                return Err(TokenError::RedirectMismatch);
            }
            // Atlassian ignores PKCE (reference §4.1); only a strict sandbox checks it.
            if let (true, Some(pkce)) = (st.config.enforce_pkce, &code.pkce) {
                let verifier = param("code_verifier");
                if verifier.is_empty() {
                    return Err(TokenError::Pkce("code_verifier is required"));
                }
                let matches = match pkce.method.as_str() {
                    "S256" => pkce_s256(verifier) == pkce.challenge,
                    "plain" => verifier == pkce.challenge,
                    _ => false,
                };
                if !matches {
                    return Err(TokenError::Pkce(
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            Ok(st.issue_new_family(code.scopes))
        }
        "refresh_token" => {
            st.refresh_count += 1;
            if std::mem::take(&mut st.faults.invalid_grant_next_refresh) {
                return Err(TokenError::BadRefresh);
            }
            st.refresh(param("refresh_token")).map_err(|denied| {
                tracing::info!(?denied, "refresh refused");
                TokenError::BadRefresh
            })
        }
        "" => Err(TokenError::BadRequest("grant_type may not be blank")),
        other => Err(TokenError::UnsupportedGrant(other.to_string())),
    }
}

//! A Nango-compatible endpoint set under `/nango` (so the Nango base URL is `{sandbox}/nango`): the
//! calls Onramp makes to push an integration and a connection, with the request validation, status
//! codes and error bodies of `shared/reference/nango-api-and-preflight.md` (§1.1–1.5, §4: a
//! self-hosted Nango 0.71.4). Where the reference does not establish an answer, the wording is the
//! sandbox's own and is marked "sandbox wording" here.
//!
//! Everything it receives is recorded (`GET /__sandbox/nango/received`, `Sandbox::nango_received`),
//! with the `Authorization` header reduced to whether it was there, so tests can assert the bodies.

mod auth;
mod connections;
mod validate;

use auth::record_and_authenticate;
use connections::{get_connection, post_connection};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::state::Shared;

/// The environment secret key the sandbox's Nango accepts (a UUID v4, as Nango requires, §1.1).
/// Sandbox only: it protects nothing.
pub const NANGO_SECRET_KEY: &str = "5e0b7a52-3c1d-4f6e-9a8b-0c1d2e3f4a5b";

/// Providers the sandbox's Nango knows: the Atlassian family (nango-atlassian.md §1). All `OAUTH2`.
const PROVIDERS: &[(&str, &str)] = &[
    ("jira", "Jira (OAuth)"),
    ("confluence", "Confluence"),
    ("atlassian", "Atlassian"),
    ("atlassian-government-cloud", "Atlassian Government Cloud"),
];

/// One request as the sandbox's Nango received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NangoRequest {
    pub method: String,
    /// Path below `/nango`, with the query string.
    pub path: String,
    /// The JSON body (`null` when there was none or it was not JSON).
    pub body: Value,
    /// Whether an `Authorization` header was sent (its value is never recorded).
    pub authorized: bool,
}

/// The Nango side of the sandbox: key, key scopes, integrations, connections, what was received.
pub(crate) struct NangoState {
    pub secret_key: String,
    /// `None`: an unscoped key (every route allowed). `Some`: a scoped key with these scopes (§1.1).
    pub key_scopes: Option<Vec<String>>,
    integrations: BTreeMap<String, Integration>,
    /// By (`provider_config_key`, `connection_id`).
    connections: BTreeMap<(String, String), Value>,
    next_connection: u64,
    pub received: Vec<NangoRequest>,
}

#[derive(Clone)]
struct Integration {
    provider: String,
    display_name: String,
    forward_webhooks: bool,
    client_id: String,
    client_secret: String,
    scopes: Option<String>,
    created_at: String,
    updated_at: String,
}

impl Default for NangoState {
    fn default() -> Self {
        NangoState {
            secret_key: NANGO_SECRET_KEY.to_string(),
            key_scopes: None,
            integrations: BTreeMap::new(),
            connections: BTreeMap::new(),
            next_connection: 1,
            received: Vec::new(),
        }
    }
}

pub(crate) struct NangoShared(Mutex<NangoState>);

impl Default for NangoShared {
    fn default() -> Self {
        NangoShared(Mutex::new(NangoState::default()))
    }
}

impl NangoShared {
    pub fn lock(&self) -> MutexGuard<'_, NangoState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Shr = Arc<Shared>;

pub(crate) fn routes(shared: Shr) -> Router<Shr> {
    Router::new()
        .route("/nango/providers/{name}", get(get_provider))
        .route("/nango/integrations", post(post_integration))
        .route(
            "/nango/integrations/{key}",
            get(get_integration).patch(patch_integration),
        )
        .route("/nango/connections", post(post_connection))
        .route("/nango/connections/{id}", get(get_connection))
        .route_layer(middleware::from_fn_with_state(
            shared,
            record_and_authenticate,
        ))
}

/// Error bodies: `NangoError` shape for authentication (§1.1), `StdError` shape for handlers.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

pub(crate) fn invalid_body_errors(errors: Vec<Value>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"code": "invalid_body", "errors": errors}})),
    )
        .into_response()
}

fn invalid_body_message(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_body", message)
}

/// 415 when a `Content-Type` is present but not JSON (§1.1); else the parsed body.
#[allow(clippy::result_large_err)]
fn json_body(headers: &HeaderMap, bytes: &Bytes) -> Result<Value, Response> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        if !ct
            .to_str()
            .unwrap_or_default()
            .starts_with("application/json")
        {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_content_type",
                "Content-Type header must be application/json",
            ));
        }
    }
    // An unparsable body: sandbox wording (the reference shows no such answer).
    serde_json::from_slice(bytes).map_err(|e| invalid_body_message(&format!("Invalid JSON: {e}")))
}

fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn get_provider(Path(name): Path<String>) -> Response {
    match PROVIDERS.iter().find(|(n, _)| *n == name) {
        // The fields §4 observed for `jira`; the `data` envelope is sandbox wording.
        Some((n, display)) => Json(json!({"data": {
            "name": n,
            "display_name": display,
            "auth_mode": "OAUTH2",
            "authorization_params": {"audience": "api.atlassian.com", "prompt": "consent"},
            "default_scopes": ["offline_access"],
            "connection_configuration": ["cloudId", "accountId"],
            "proxy": {"base_url": "https://api.atlassian.com"},
        }}))
        .into_response(),
        // Not established by the reference: sandbox wording.
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("Provider \"{name}\" does not exist"),
        ),
    }
}

fn integration_json(key: &str, i: &Integration, with_credentials: bool) -> Value {
    let mut data = json!({
        "unique_key": key,
        "provider": i.provider,
        "display_name": i.display_name,
        "logo": format!("http://localhost:3003/images/template-logos/{}.svg", i.provider),
        "forward_webhooks": i.forward_webhooks,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    });
    if with_credentials {
        data["credentials"] = json!({
            "type": "OAUTH2",
            "client_id": i.client_id,
            "client_secret": i.client_secret,
            "scopes": i.scopes,
            "webhook_secret": null,
        });
    }
    json!({ "data": data })
}

fn integration_missing(key: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("Integration \"{key}\" does not exist"),
    )
}

#[derive(Deserialize)]
struct Include {
    include: Option<String>,
}

async fn get_integration(
    State(shared): State<Shr>,
    Path(key): Path<String>,
    Query(q): Query<Include>,
) -> Response {
    let nango = shared.nango.lock();
    let Some(i) = nango.integrations.get(&key) else {
        return integration_missing(&key);
    };
    let with_credentials = q.include.as_deref() == Some("credentials")
        && nango.key_scopes.as_ref().is_none_or(|s| {
            s.iter()
                .any(|s| s == "environment:integrations:read_credentials")
        });
    Json(integration_json(&key, i, with_credentials)).into_response()
}

async fn post_integration(State(shared): State<Shr>, headers: HeaderMap, bytes: Bytes) -> Response {
    let body = match json_body(&headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let create = match validate::create_integration(&body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    // The order of `integration.service.ts` `create()` (§1.2 "Behaviour").
    let Some((_, display)) = PROVIDERS.iter().find(|(n, _)| *n == create.provider) else {
        return invalid_body_errors(vec![
            json!({"code": "invalid_string", "message": "Invalid provider", "path": ["provider"]}),
        ]);
    };
    let Some(credentials) = create.credentials else {
        return invalid_body_message("Missing credentials");
    };
    if credentials.kind != "OAUTH2" {
        return invalid_body_message("incompatible credentials auth type and provider auth");
    }
    let mut nango = shared.nango.lock();
    if nango.integrations.contains_key(&create.unique_key) {
        return invalid_body_errors(vec![
            json!({"code": "invalid_string", "message": "Unique key already exists", "path": ["uniqueKey"]}),
        ]);
    }
    let now = now_iso();
    let integration = Integration {
        provider: create.provider,
        display_name: create.display_name.unwrap_or_else(|| display.to_string()),
        forward_webhooks: create.forward_webhooks.unwrap_or(true),
        client_id: credentials.client_id,
        client_secret: credentials.client_secret,
        scopes: credentials.scopes,
        created_at: now.clone(),
        updated_at: now,
    };
    let answer = integration_json(&create.unique_key, &integration, false);
    nango.integrations.insert(create.unique_key, integration);
    Json(answer).into_response()
}

async fn patch_integration(
    State(shared): State<Shr>,
    Path(key): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match json_body(&headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut nango = shared.nango.lock();
    if !nango.integrations.contains_key(&key) {
        return integration_missing(&key);
    }
    let patch = match validate::patch_integration(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(c) = &patch.credentials {
        if c.kind != "OAUTH2" {
            return invalid_body_message("incompatible credentials auth type and provider auth");
        }
    }
    let mut target = key.clone();
    if let Some(new_key) = patch.unique_key.filter(|k| *k != key) {
        if nango.integrations.contains_key(&new_key) {
            return invalid_body_message("uniqueKey is already used by another integration");
        }
        if nango.connections.keys().any(|(k, _)| *k == key) {
            return invalid_body_message("Can't rename an integration with active connections");
        }
        let moved = nango.integrations.remove(&key).expect("checked above");
        nango.integrations.insert(new_key.clone(), moved);
        target = new_key;
    }
    let i = nango.integrations.get_mut(&target).expect("present");
    if let Some(name) = patch.display_name {
        i.display_name = name;
    }
    if let Some(f) = patch.forward_webhooks {
        i.forward_webhooks = f;
    }
    if let Some(c) = patch.credentials {
        i.client_id = c.client_id;
        i.client_secret = c.client_secret;
        // Omitted scopes are kept (§4); "" clears them (§1.3).
        if let Some(s) = c.scopes {
            i.scopes = (!s.is_empty()).then_some(s);
        }
    }
    i.updated_at = now_iso();
    let answer = integration_json(&target, i, false);
    Json(answer).into_response()
}

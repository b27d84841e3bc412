//! Test-control endpoints under `/__sandbox/`, so end-to-end tests can steer a sandbox that runs
//! inside the app (where they cannot reach the `Sandbox` handle). Loopback callers only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::state::Shared;
use crate::Faults;

type Shr = Arc<Shared>;

pub(crate) fn routes() -> Router<Shr> {
    Router::new()
        .route("/__sandbox/faults", post(set_faults))
        .route("/__sandbox/revoke", post(revoke))
        .route(
            "/__sandbox/expire-access-tokens",
            post(expire_access_tokens),
        )
        .route("/__sandbox/access-token-ttl", post(set_ttl))
        .route("/__sandbox/withheld-scopes", post(set_withheld))
        .route("/__sandbox/stats", get(stats))
        .route("/__sandbox/nango/received", get(nango_received))
        .route("/__sandbox/nango/key-scopes", post(set_nango_key_scopes))
        .route_layer(middleware::from_fn(loopback_only))
}

/// Refuses callers that are not on this machine (the sandbox may be bound to a wider address).
async fn loopback_only(request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match peer {
        Some(ip) if ip.is_loopback() => next.run(request).await,
        // Sandbox wording.
        _ => (
            StatusCode::FORBIDDEN,
            Json(json!({"code": 403, "message": "Test control is only available from loopback"})),
        )
            .into_response(),
    }
}

async fn set_faults(State(shared): State<Shr>, Json(faults): Json<Faults>) -> StatusCode {
    shared.lock().faults = faults;
    StatusCode::NO_CONTENT
}

async fn revoke(State(shared): State<Shr>) -> StatusCode {
    shared.lock().revoke_all();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Ttl {
    seconds: u64,
}

async fn expire_access_tokens(State(shared): State<Shr>) -> StatusCode {
    shared.lock().expire_access_tokens();
    StatusCode::NO_CONTENT
}

async fn set_ttl(State(shared): State<Shr>, Json(ttl): Json<Ttl>) -> StatusCode {
    shared.lock().config.access_token_ttl = Duration::from_secs(ttl.seconds);
    StatusCode::NO_CONTENT
}

async fn set_withheld(State(shared): State<Shr>, Json(scopes): Json<Vec<String>>) -> StatusCode {
    shared.lock().config.withheld_scopes = scopes;
    StatusCode::NO_CONTENT
}

async fn stats(State(shared): State<Shr>) -> Json<serde_json::Value> {
    let st = shared.lock();
    Json(json!({
        "refresh_count": st.refresh_count,
        "token_requests": st.token_requests,
        "instance_id": shared.instance_id,
    }))
}

/// What the Nango look-alike received, oldest first (`crate::nango::NangoRequest`).
async fn nango_received(State(shared): State<Shr>) -> Json<Vec<crate::NangoRequest>> {
    Json(shared.nango.lock().received.clone())
}

/// `null`: an unscoped Nango key; a list: a scoped key with only these scopes.
async fn set_nango_key_scopes(
    State(shared): State<Shr>,
    Json(scopes): Json<Option<Vec<String>>>,
) -> StatusCode {
    shared.nango.lock().key_scopes = scopes;
    StatusCode::NO_CONTENT
}

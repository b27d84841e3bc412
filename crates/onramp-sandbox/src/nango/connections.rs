//! `POST /connections` (import, an upsert) and `GET /connections/{id}` (reference §1.5, §4).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map};

use super::{error, json_body, now_iso, validate, Shr};

pub(super) async fn post_connection(
    State(shared): State<Shr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match json_body(&headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let import = match validate::import_connection(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut nango = shared.nango.lock();
    let Some(integration) = nango.integrations.get(&import.provider_config_key).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Integration does not exist",
        );
    };
    let connection_id = import.connection_id.unwrap_or_else(|| {
        let n = nango.next_connection;
        format!("sandbox-generated-{n}")
    });
    let id_key = (import.provider_config_key.clone(), connection_id.clone());
    let existing = nango.connections.get(&id_key).cloned();
    let now = now_iso();
    let mut credentials = Map::new();
    credentials.insert("type".into(), json!("OAUTH2"));
    credentials.insert("access_token".into(), json!(import.access_token));
    if let Some(rt) = &import.refresh_token {
        credentials.insert("refresh_token".into(), json!(rt));
    }
    if let Some(exp) = &import.expires_at {
        credentials.insert("expires_at".into(), json!(exp));
    }
    // Nango builds `raw` itself from what was sent (§1.5).
    let raw = body["credentials"].clone();
    credentials.insert("raw".into(), raw);
    let (id, created_at, metadata) = match &existing {
        Some(old) => (
            old["id"].clone(),
            old["created_at"].clone(),
            // Kept unless new metadata is sent (§1.5 "Upsert").
            import
                .metadata
                .clone()
                .unwrap_or_else(|| old["metadata"].clone()),
        ),
        None => {
            let n = nango.next_connection;
            nango.next_connection += 1;
            (
                json!(n),
                json!(now),
                import.metadata.clone().unwrap_or_else(|| json!({})),
            )
        }
    };
    let connection = json!({
        "id": id,
        "connection_id": connection_id,
        "provider_config_key": import.provider_config_key,
        "provider": integration.provider,
        // Replaced, not merged (§4).
        "connection_config": import.connection_config.unwrap_or_else(|| json!({})),
        "metadata": metadata,
        "credentials": credentials,
        "webhook_url_override": null,
        "end_user": null,
        "tags": import.tags.unwrap_or_else(|| json!({})),
        "errors": [],
        "created_at": created_at,
        "updated_at": now,
        "last_fetched_at": now,
    });
    nango.connections.insert(id_key, connection.clone());
    // 201, not the spec's 200 (§1.5, §4).
    (StatusCode::CREATED, Json(connection)).into_response()
}

#[derive(Deserialize)]
pub(super) struct ConnectionQuery {
    provider_config_key: Option<String>,
    refresh_token: Option<String>,
}

pub(super) async fn get_connection(
    State(shared): State<Shr>,
    Path(id): Path<String>,
    Query(q): Query<ConnectionQuery>,
) -> Response {
    let Some(key) = q.provider_config_key else {
        // Sandbox wording: the reference does not show this answer.
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_query_params",
            "provider_config_key is required",
        );
    };
    let nango = shared.nango.lock();
    let Some(mut connection) = nango.connections.get(&(key, id.clone())).cloned() else {
        // Sandbox wording: the reference does not show this answer.
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("Connection \"{id}\" does not exist"),
        );
    };
    // `refresh_token` is left out unless asked for (§4).
    if q.refresh_token.as_deref() != Some("true") {
        if let Some(c) = connection["credentials"].as_object_mut() {
            c.remove("refresh_token");
        }
    }
    Json(connection).into_response()
}

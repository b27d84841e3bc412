//! Site discovery (`accessible-resources`), identity (`/me`) and the avatars they link to.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::{authenticate, require, ApiError, ApiResult, Shr};
use crate::data::{self, SITES};

fn is_product_scope(scope: &str) -> bool {
    scope.contains("jira") || scope.contains("confluence")
}

pub(super) async fn accessible_resources(
    State(shared): State<Shr>,
    headers: HeaderMap,
) -> ApiResult {
    let scopes = authenticate(&shared, &headers)?;
    let product: Vec<&String> = scopes.iter().filter(|s| is_product_scope(s)).collect();
    // Empty when the grant has no product scope, e.g. only read:me (reference §5.1).
    let sites: Vec<Value> = if product.is_empty() {
        Vec::new()
    } else {
        SITES
            .iter()
            .filter(|site| super::reaches(&shared, &headers, site.id))
            .map(|site| {
                json!({
                    "id": site.id,
                    "name": site.name,
                    "url": site.url,
                    "scopes": product,
                    "avatarUrl": format!("{}/avatars/{}.svg", shared.base_url, site.avatar),
                })
            })
            .collect()
    };
    Ok(Json(sites).into_response())
}

pub(super) async fn me(State(shared): State<Shr>, headers: HeaderMap) -> ApiResult {
    require(&authenticate(&shared, &headers)?, &[&["read:me"]])?;
    let user = shared.lock().config.user.clone();
    // The shape of reference §5.2, without the optional extended_profile.
    Ok(Json(json!({
        "account_type": "atlassian",
        "account_id": user.account_id,
        "email": user.email,
        "name": user.name,
        "picture": format!("{}/avatars/user.svg", shared.base_url),
        "account_status": "active",
        "nickname": user.nickname,
        "zoneinfo": "Europe/London",
        "locale": "en-GB",
    }))
    .into_response())
}

/// OpenID Connect Core 1.0 §5.3 UserInfo, only in OpenID mode; the token must hold `openid`.
pub(super) async fn userinfo(State(shared): State<Shr>, headers: HeaderMap) -> ApiResult {
    if !shared.lock().config.openid {
        return Err(ApiError::NotFound);
    }
    let scopes = authenticate(&shared, &headers)?;
    require(&scopes, &[&["openid"]])?;
    let user = shared.lock().config.user.clone();
    let mut claims = json!({ "sub": user.account_id });
    if scopes.iter().any(|s| s == "profile") {
        claims["name"] = json!(user.name);
        claims["preferred_username"] = json!(user.nickname);
    }
    if scopes.iter().any(|s| s == "email") {
        claims["email"] = json!(user.email);
    }
    Ok(Json(claims).into_response())
}

pub(super) async fn avatar(Path(file): Path<String>) -> ApiResult {
    let svg = file
        .strip_suffix(".svg")
        .and_then(data::avatar_svg)
        .ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}

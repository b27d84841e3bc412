//! Confluence v2: spaces and pages, with cursor pagination.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::{gateway, int_param, query_map, ApiError, ApiResult, Shr};
use crate::data::{Site, PAGES, SPACES};
use crate::util::{decode_cursor, encode_cursor};

/// Cursor pagination in Confluence v2's envelope: `results`, `_links.next` (relative to the
/// product's base, as Confluence sends it) and a `Link` header (reference §6.2).
fn confluence_list(
    site: &Site,
    resource: &str,
    query: Option<String>,
    all: Vec<Value>,
) -> ApiResult {
    let q = query_map(query);
    let limit = int_param(&q, "limit")
        .map_err(ApiError::Confluence)?
        .unwrap_or(25)
        .clamp(1, 250) as usize;
    let offset = match q.get("cursor").map(String::as_str) {
        None | Some("") => 0,
        Some(cursor) => {
            decode_cursor(cursor).ok_or_else(|| ApiError::Confluence("Invalid cursor".into()))?
        }
    };
    let results: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let wiki_base = format!("{}/wiki", site.url);
    let mut links = json!({"base": wiki_base});
    let next = (offset + limit < all.len()).then(|| {
        format!(
            "/wiki/api/v2/{resource}?cursor={}&limit={limit}",
            encode_cursor(offset + limit)
        )
    });
    if let Some(next) = &next {
        links["next"] = Value::String(next.clone());
    }
    let mut response = Json(json!({"results": results, "_links": links})).into_response();
    if let Some(next) = next {
        let link = format!("<{next}>; rel=\"next\", <{wiki_base}>; rel=\"base\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// v2 accepts only the granular scope; classic Confluence scopes get "scope does not match"
/// (reference §6.2).
pub(super) async fn confluence_spaces(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let site = gateway(&shared, &headers, &cloud_id, &[&["read:space:confluence"]])?;
    let author = shared.lock().config.user.account_id.clone();
    let all = SPACES
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "key": s.key,
                "name": s.name,
                "type": s.kind,
                "status": "current",
                "authorId": author,
                "createdAt": s.created_at,
                "homepageId": s.homepage_id,
                "description": null,
                "icon": null,
                "_links": {"webui": format!("/spaces/{}", s.key)},
            })
        })
        .collect();
    confluence_list(site, "spaces", query, all)
}

pub(super) async fn confluence_pages(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let site = gateway(&shared, &headers, &cloud_id, &[&["read:page:confluence"]])?;
    let author = shared.lock().config.user.account_id.clone();
    let all = PAGES
        .iter()
        .map(|p| {
            let space_key = SPACES
                .iter()
                .find(|s| s.id == p.space_id)
                .map_or("", |s| s.key);
            json!({
                "id": p.id,
                "status": "current",
                "title": p.title,
                "spaceId": p.space_id,
                "parentId": p.parent_id,
                "parentType": p.parent_id.map(|_| "page"),
                "authorId": author,
                "createdAt": p.created_at,
                "version": {"number": p.version, "authorId": author, "createdAt": p.created_at},
                "_links": {"webui": format!("/spaces/{space_key}/pages/{}", p.id)},
            })
        })
        .collect();
    confluence_list(site, "pages", query, all)
}

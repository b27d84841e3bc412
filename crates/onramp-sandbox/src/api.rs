//! The bearer-protected API: site discovery, `/me` and the `/ex/{product}/{cloudId}/…` gateway
//! (reference §5, §6, §9).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::data::{self, Site, ISSUES, PAGES, PROJECTS, SITES, SPACES};
use crate::state::{AccessDenied, Shared};
use crate::util::{
    decode_cursor, encode_cursor, jira_time, parse_form, pct_encode, rate_limit_reset,
};

type Shr = Arc<Shared>;

pub(crate) fn routes(shared: Shr) -> Router<Shr> {
    let jira = "/ex/jira/{cloud_id}/rest/api";
    let wiki = "/ex/confluence/{cloud_id}/wiki/api/v2";
    Router::new()
        .route(
            "/oauth/token/accessible-resources",
            get(accessible_resources),
        )
        .route("/me", get(me))
        .route(&format!("{jira}/3/myself"), get(jira_myself))
        .route(&format!("{jira}/3/serverInfo"), get(jira_server_info))
        .route(
            &format!("{jira}/3/project/search"),
            get(jira_project_search),
        )
        .route(
            &format!("{jira}/3/search/jql"),
            get(jira_search_jql_get).post(jira_search_jql_post),
        )
        .route(
            &format!("{jira}/2/search"),
            get(jira_search_removed).post(jira_search_removed),
        )
        .route(
            &format!("{jira}/3/search"),
            get(jira_search_removed).post(jira_search_removed),
        )
        .route(
            &format!("{jira}/latest/search"),
            get(jira_search_removed).post(jira_search_removed),
        )
        .route(&format!("{wiki}/spaces"), get(confluence_spaces))
        .route(&format!("{wiki}/pages"), get(confluence_pages))
        .route("/ex/{*rest}", any(gateway_not_found))
        // Faults only hit the API, never the consent pages or the test-control endpoints.
        .route_layer(middleware::from_fn_with_state(shared, inject_faults))
        .route("/avatars/{file}", get(avatar))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// API failures, rendered in the envelope of the part of Atlassian that would answer.
#[derive(Debug)]
enum ApiError {
    /// Missing, unknown, expired or revoked token. The reference gives no body for this 401;
    /// the sandbox uses the envelope of Atlassian's scope-mismatch 401 with a plain message.
    Unauthorized,
    /// Atlassian's exact text (reference §6.2, §9.1).
    ScopeMismatch,
    /// Unknown cloudId or path under the gateway; sandbox wording.
    NotFound,
    /// Jira's `errorMessages` envelope; messages are sandbox wording.
    Jira(String),
    /// Confluence v2's `errors` envelope; titles are sandbox wording.
    Confluence(String),
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"code": status.as_u16(), "message": message})),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Unauthorized => json_error(StatusCode::UNAUTHORIZED, "Unauthorized"),
            ApiError::ScopeMismatch => json_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized; scope does not match",
            ),
            ApiError::NotFound => json_error(StatusCode::NOT_FOUND, "Not Found"),
            ApiError::Jira(message) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"errorMessages": [message]})),
            )
                .into_response(),
            ApiError::Confluence(title) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"errors": [{
                    "status": 400,
                    "code": "INVALID_REQUEST_PARAMETER",
                    "title": title,
                    "detail": null,
                }]})),
            )
                .into_response(),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

// ---------------------------------------------------------------------------------------------
// Faults and authentication

enum Fault {
    RateLimit(u64),
    ServerError,
}

/// Applies `Faults` to one API request: optional delay, then a 429 or 500 while counters last.
async fn inject_faults(State(shared): State<Shr>, request: Request, next: Next) -> Response {
    let (slow_ms, fault) = {
        let mut st = shared.lock();
        let f = &mut st.faults;
        let fault = if f.rate_limit_next > 0 {
            f.rate_limit_next -= 1;
            Some(Fault::RateLimit(match f.retry_after_secs {
                0 => 2,
                n => n,
            }))
        } else if f.server_error_next > 0 {
            f.server_error_next -= 1;
            Some(Fault::ServerError)
        } else {
            None
        };
        (f.slow_ms, fault)
    };
    if slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    }
    match fault {
        // Headers as described in reference §9.2; the body is sandbox wording.
        Some(Fault::RateLimit(secs)) => {
            let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            if let Ok(reset) = HeaderValue::from_str(&rate_limit_reset(Duration::from_secs(secs))) {
                headers.insert("x-ratelimit-reset", reset);
            }
            response
        }
        // Sandbox wording.
        Some(Fault::ServerError) => {
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        None => next.run(request).await,
    }
}

/// The scopes of the request's bearer token.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Vec<String>, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthorized)?;
    shared.lock().check_access(token).map_err(|denied| {
        if denied == AccessDenied::Expired {
            tracing::debug!("expired access token");
        }
        ApiError::Unauthorized
    })
}

/// Atlassian's rule (reference §8.1): the token must hold every scope of at least one set.
/// An empty list of sets means "any valid token".
fn require(scopes: &[String], alternatives: &[&[&str]]) -> Result<(), ApiError> {
    let holds = |set: &&[&str]| set.iter().all(|need| scopes.iter().any(|s| s == need));
    if alternatives.is_empty() || alternatives.iter().any(holds) {
        Ok(())
    } else {
        Err(ApiError::ScopeMismatch)
    }
}

/// Gateway checks in order: token, cloudId, scopes.
fn gateway(
    shared: &Shared,
    headers: &HeaderMap,
    cloud_id: &str,
    alternatives: &[&[&str]],
) -> Result<&'static Site, ApiError> {
    let scopes = authenticate(shared, headers)?;
    let site = data::site(cloud_id).ok_or(ApiError::NotFound)?;
    require(&scopes, alternatives)?;
    Ok(site)
}

fn is_product_scope(scope: &str) -> bool {
    scope.contains("jira") || scope.contains("confluence")
}

/// Parses an optional integer query parameter; the message is sandbox wording.
fn int_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, String> {
    match q.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("The value '{v}' is invalid for the {name} parameter.")),
    }
}

fn query_map(query: Option<String>) -> HashMap<String, String> {
    parse_form(query.unwrap_or_default().as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Site discovery and identity

async fn accessible_resources(State(shared): State<Shr>, headers: HeaderMap) -> ApiResult {
    let scopes = authenticate(&shared, &headers)?;
    let product: Vec<&String> = scopes.iter().filter(|s| is_product_scope(s)).collect();
    // Empty when the grant has no product scope, e.g. only read:me (reference §5.1).
    let sites: Vec<Value> = if product.is_empty() {
        Vec::new()
    } else {
        SITES
            .iter()
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

async fn me(State(shared): State<Shr>, headers: HeaderMap) -> ApiResult {
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

async fn avatar(Path(file): Path<String>) -> ApiResult {
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

// ---------------------------------------------------------------------------------------------
// Jira

/// Scope sets from Atlassian's Jira OpenAPI (reference §6.2).
const MYSELF_SCOPES: &[&[&str]] = &[
    &["read:jira-user"],
    &[
        "read:application-role:jira",
        "read:group:jira",
        "read:user:jira",
        "read:avatar:jira",
    ],
];
const PROJECT_SEARCH_SCOPES: &[&[&str]] = &[
    &["read:jira-work"],
    &[
        "read:issue-type:jira",
        "read:project:jira",
        "read:project.property:jira",
        "read:user:jira",
        "read:application-role:jira",
        "read:avatar:jira",
        "read:group:jira",
        "read:issue-type-hierarchy:jira",
        "read:project-category:jira",
        "read:project-version:jira",
        "read:project.component:jira",
    ],
];
const SEARCH_JQL_SCOPES: &[&[&str]] = &[
    &["read:jira-work"],
    &[
        "read:issue-details:jira",
        "read:audit-log:jira",
        "read:avatar:jira",
        "read:field-configuration:jira",
        "read:issue-meta:jira",
    ],
];
/// serverInfo "can be accessed anonymously" (reference §6.2): any valid token will do.
const ANY_TOKEN: &[&[&str]] = &[];

/// Atlassian's exact 410 body for the removed search endpoints (reference §6.3, CHANGE-2046).
const SEARCH_REMOVED_MESSAGE: &str = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046";

fn jira_base(shared: &Shared, site: &Site) -> String {
    format!("{}/ex/jira/{}/rest/api/3", shared.base_url, site.id)
}

async fn jira_myself(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let site = gateway(&shared, &headers, &cloud_id, MYSELF_SCOPES)?;
    let user = shared.lock().config.user.clone();
    let avatar = format!("{}/avatars/user.svg", shared.base_url);
    Ok(Json(json!({
        "self": format!(
            "{}/user?accountId={}",
            jira_base(&shared, site),
            pct_encode(&user.account_id, b"")
        ),
        "accountId": user.account_id,
        "accountType": "atlassian",
        "emailAddress": user.email,
        "avatarUrls": {"48x48": avatar, "24x24": avatar, "16x16": avatar, "32x32": avatar},
        "displayName": user.name,
        "active": true,
        "timeZone": "Europe/London",
        "locale": "en_GB",
    }))
    .into_response())
}

async fn jira_server_info(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let site = gateway(&shared, &headers, &cloud_id, ANY_TOKEN)?;
    Ok(Json(json!({
        "baseUrl": site.url,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100289,
        "serverTime": jira_time(SystemTime::now()),
        "serverTitle": format!("{} Jira", site.name),
    }))
    .into_response())
}

/// Offset pagination: `maxResults` (default 50, max 100) and `startAt` (reference §6.2).
async fn jira_project_search(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let site = gateway(&shared, &headers, &cloud_id, PROJECT_SEARCH_SCOPES)?;
    let q = query_map(query);
    let max_results = int_param(&q, "maxResults")
        .map_err(ApiError::Jira)?
        .unwrap_or(50)
        .clamp(1, 100) as usize;
    let start_at = int_param(&q, "startAt")
        .map_err(ApiError::Jira)?
        .unwrap_or(0)
        .max(0) as usize;
    let base = jira_base(&shared, site);
    let link =
        |start: usize| format!("{base}/project/search?maxResults={max_results}&startAt={start}");
    let values: Vec<Value> = PROJECTS
        .iter()
        .skip(start_at)
        .take(max_results)
        .map(|p| {
            json!({
                "self": format!("{base}/project/{}", p.id),
                "id": p.id,
                "key": p.key,
                "name": p.name,
                "projectTypeKey": p.type_key,
            })
        })
        .collect();
    let is_last = start_at + max_results >= PROJECTS.len();
    let mut body = json!({
        "self": link(start_at),
        "maxResults": max_results,
        "startAt": start_at,
        "total": PROJECTS.len(),
        "isLast": is_last,
        "values": values,
    });
    if !is_last {
        body["nextPage"] = Value::String(link(start_at + max_results));
    }
    Ok(Json(body).into_response())
}

/// Parameters of `search/jql`, from the query string (GET) or a JSON body (POST).
struct JqlSearch {
    jql: String,
    max_results: Option<i64>,
    fields: Vec<String>,
    next_page_token: Option<String>,
}

async fn jira_search_jql_get(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let site = gateway(&shared, &headers, &cloud_id, SEARCH_JQL_SCOPES)?;
    let q = query_map(query);
    let search = JqlSearch {
        jql: q.get("jql").cloned().unwrap_or_default(),
        max_results: int_param(&q, "maxResults").map_err(ApiError::Jira)?,
        fields: q
            .get("fields")
            .map(|f| f.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default(),
        next_page_token: q.get("nextPageToken").cloned(),
    };
    jira_search_jql(&shared, site, search)
}

async fn jira_search_jql_post(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let site = gateway(&shared, &headers, &cloud_id, SEARCH_JQL_SCOPES)?;
    let v: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::Jira("The request body must be a JSON object.".into()))?;
    let fields = match &v["fields"] {
        Value::Array(items) => items
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => s.split(',').map(|f| f.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    let search = JqlSearch {
        jql: v["jql"].as_str().unwrap_or_default().to_string(),
        max_results: v["maxResults"].as_i64(),
        fields,
        next_page_token: v["nextPageToken"].as_str().map(str::to_string),
    };
    jira_search_jql(&shared, site, search)
}

/// Token pagination with an opaque `nextPageToken`, bounded JQL only (reference §6.3).
fn jira_search_jql(shared: &Shared, site: &Site, search: JqlSearch) -> ApiResult {
    let jql = search.jql.trim().to_ascii_lowercase();
    if jql.is_empty() || jql.starts_with("order by") {
        // Sandbox wording.
        return Err(ApiError::Jira(
            "Unbounded JQL queries are not allowed here. Add a search restriction to the query (for example project = ONR or updated >= -30d).".into(),
        ));
    }
    let offset = match search.next_page_token.as_deref() {
        None | Some("") => 0,
        Some(token) => decode_cursor(token).ok_or_else(|| {
            ApiError::Jira("The provided next page token is invalid or expired.".into())
        })?,
    };
    let max_results = search.max_results.unwrap_or(50).clamp(1, 5000) as usize;

    // `fields` defaults to `id`: only id/key unless more is asked for.
    let fields = if search.fields.iter().all(|f| f.is_empty()) {
        vec!["id".to_string()]
    } else {
        search.fields
    };
    let has = |f: &str| fields.iter().any(|x| x == f);
    let wants =
        |name: &str| (has(name) || has("*all") || has("*navigable")) && !has(&format!("-{name}"));
    let base = jira_base(shared, site);
    let issues: Vec<Value> = ISSUES
        .iter()
        .skip(offset)
        .take(max_results)
        .map(|issue| {
            let mut out = json!({
                "id": issue.id,
                "key": issue.key,
                "self": format!("{base}/issue/{}", issue.id),
            });
            let available = [
                ("summary", json!(issue.summary)),
                ("status", json!({"name": issue.status})),
                ("issuetype", json!({"name": issue.issue_type})),
                ("project", json!({"key": issue.project_key})),
                ("created", json!(issue.created)),
                ("updated", json!(issue.updated)),
            ];
            let selected: serde_json::Map<String, Value> = available
                .into_iter()
                .filter(|(name, _)| wants(name))
                .map(|(name, value)| (name.to_string(), value))
                .collect();
            if !selected.is_empty() {
                out["fields"] = Value::Object(selected);
            }
            out
        })
        .collect();
    let next = offset + max_results;
    let is_last = next >= ISSUES.len();
    let mut body = json!({"issues": issues, "isLast": is_last});
    // "not included in the response for the last page" (reference §6.3).
    if !is_last {
        body["nextPageToken"] = Value::String(encode_cursor(next));
    }
    Ok(Json(body).into_response())
}

/// `GET|POST /rest/api/{2,3,latest}/search` answer 410 since CHANGE-2046 (reference §6.3).
async fn jira_search_removed(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    gateway(&shared, &headers, &cloud_id, ANY_TOKEN)?;
    Ok((
        StatusCode::GONE,
        Json(json!({"errorMessages": [SEARCH_REMOVED_MESSAGE]})),
    )
        .into_response())
}

/// Anything else under `/ex/…`: 404 once the token checks out.
async fn gateway_not_found(State(shared): State<Shr>, headers: HeaderMap) -> ApiResult {
    authenticate(&shared, &headers)?;
    Err(ApiError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Confluence v2

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
async fn confluence_spaces(
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

async fn confluence_pages(
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

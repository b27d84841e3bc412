//! Jira: myself, serverInfo, project search, JQL search and count, and the removed search endpoints.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::{gateway, int_param, query_map, ApiError, ApiResult, Shr};
use crate::data::{Site, ISSUES, PROJECTS};
use crate::state::Shared;
use crate::util::{decode_cursor, encode_cursor, jira_time, pct_encode};

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
/// countIssues (`POST /rest/api/3/search/approximate-count`) in operations.json.
const APPROXIMATE_COUNT_SCOPES: &[&[&str]] = &[
    &["read:jira-work"],
    &[
        "read:field.default-value:jira",
        "read:field.option:jira",
        "read:field:jira",
        "read:group:jira",
        "read:issue-details:jira",
    ],
];
/// serverInfo "can be accessed anonymously" (reference §6.2): any valid token will do.
const ANY_TOKEN: &[&[&str]] = &[];

/// Atlassian's exact 410 body for the removed search endpoints (reference §6.3, CHANGE-2046).
const SEARCH_REMOVED_MESSAGE: &str = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046";

fn jira_base(shared: &Shared, site: &Site) -> String {
    format!("{}/ex/jira/{}/rest/api/3", shared.base_url, site.id)
}

pub(super) async fn jira_myself(
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

pub(super) async fn jira_server_info(
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
pub(super) async fn jira_project_search(
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

pub(super) async fn jira_search_jql_get(
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

pub(super) async fn jira_search_jql_post(
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

/// `POST search/approximate-count`: `{"jql": …}` in, `{"count": n}` out, bounded JQL only as for
/// `search/jql`. The sandbox counts every issue of its data; it does not evaluate JQL.
pub(super) async fn jira_approximate_count(
    State(shared): State<Shr>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    gateway(&shared, &headers, &cloud_id, APPROXIMATE_COUNT_SCOPES)?;
    let v: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::Jira("The request body must be a JSON object.".into()))?;
    let jql = v["jql"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if jql.is_empty() || jql.starts_with("order by") {
        // Sandbox wording, as for search/jql.
        return Err(ApiError::Jira(
            "Unbounded JQL queries are not allowed here. Add a search restriction to the query (for example project = ONR or updated >= -30d).".into(),
        ));
    }
    Ok(Json(json!({"count": ISSUES.len()})).into_response())
}

/// `GET|POST /rest/api/{2,3,latest}/search` answer 410 since CHANGE-2046 (reference §6.3).
pub(super) async fn jira_search_removed(
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

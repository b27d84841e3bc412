//! The bearer-protected API: site discovery, `/me` and the `/ex/{product}/{cloudId}/…` gateway
//! (reference §5, §6, §9).
//!
//! Shared here: the routes, the error envelopes, the token and scope checks and query parameters.
//! The endpoints live in [`identity`] (site discovery, `/me`, avatars), [`jira`] and
//! [`confluence`]; [`faults`] injects the configured failures in front of them.

mod confluence;
mod faults;
pub(crate) use faults::malformed_body;
mod identity;
mod jira;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::data::{self, Site};
use crate::state::{AccessDenied, Shared};
use crate::util::parse_form;

use confluence::{confluence_pages, confluence_spaces};
use faults::inject_faults;
use identity::{accessible_resources, avatar, me, userinfo};
use jira::{
    jira_approximate_count, jira_myself, jira_project_search, jira_search_jql_get,
    jira_search_jql_post, jira_search_removed, jira_server_info,
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
        .route("/userinfo", get(userinfo))
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
            &format!("{jira}/3/search/approximate-count"),
            post(jira_approximate_count),
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
// Authentication and parameters

/// The scopes of the request's bearer token.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Vec<String>, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    shared.lock().check_access(token).map_err(|denied| {
        if denied == AccessDenied::Expired {
            tracing::debug!("expired access token");
        }
        ApiError::Unauthorized
    })
}

/// The request's bearer token.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Whether the request's token reaches the site (a service account reaches only its own).
fn reaches(shared: &Shared, headers: &HeaderMap, cloud_id: &str) -> bool {
    bearer(headers).is_some_and(|t| shared.lock().token_reaches(t, cloud_id))
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
    let site = data::site(cloud_id)
        .filter(|_| reaches(shared, headers, cloud_id))
        .ok_or(ApiError::NotFound)?;
    require(&scopes, alternatives)?;
    Ok(site)
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

/// Anything else under `/ex/…`: 404 once the token checks out.
async fn gateway_not_found(State(shared): State<Shr>, headers: HeaderMap) -> ApiResult {
    authenticate(&shared, &headers)?;
    Err(ApiError::NotFound)
}

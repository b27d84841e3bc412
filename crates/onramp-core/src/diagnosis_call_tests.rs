//! The explanations that depend on the exact call: the scopes a custom request lacks after a 401
//! "scope does not match", and which rate limit a 429 hit.

use super::*;
use crate::catalog::Catalog;

fn atlassian() -> Provider {
    Catalog::load()
        .unwrap()
        .provider("atlassian", None)
        .unwrap()
}

fn ctx<'a>(
    p: &'a Provider,
    method: &'a str,
    url: &'a str,
    granted: &'a [String],
    headers: &'a [KeyValue],
) -> ResponseContext<'a> {
    ResponseContext {
        provider: p,
        preset: None,
        method,
        url,
        cloud_id: Some("c1"),
        granted_scopes: granted,
        refreshed: false,
        headers,
    }
}

const MISMATCH: &str = r#"{"code":401,"message":"Unauthorized; scope does not match"}"#;

#[test]
fn a_custom_request_401_names_the_scopes_its_operation_lacks() {
    let p = atlassian();
    let granted = vec!["read:jira-user".to_string(), "offline_access".into()];
    let url = "https://api.atlassian.com/ex/jira/c1/rest/api/3/issue/PROJ-7/comment";
    let e = for_response(&ctx(&p, "POST", url, &granted, &[]), 401, MISMATCH);
    assert_eq!(e.code, ErrorCode::ScopeMismatch);
    // addComment: classic write:jira-work, or eight granular scopes: the closer one is named.
    assert!(
        e.detail.contains("Missing: write:jira-work."),
        "{}",
        e.detail
    );
    let missing = e.facts.iter().find(|f| f.key == "Missing scopes").unwrap();
    assert_eq!(missing.value, "write:jira-work");
}

#[test]
fn granted_scopes_of_one_alternative_point_at_the_closer_one() {
    let p = atlassian();
    // Three of getCurrentUser's four granular scopes: one more granular beats switching to classic.
    let granted: Vec<String> = [
        "read:application-role:jira",
        "read:avatar:jira",
        "read:group:jira",
    ]
    .map(String::from)
    .to_vec();
    let url = "https://api.atlassian.com/ex/jira/c1/rest/api/3/myself";
    let call = ctx(&p, "GET", url, &granted, &[]);
    assert_eq!(missing_scopes_for_call(&call), vec!["read:user:jira"]);
}

#[test]
fn an_unknown_endpoint_401_names_nothing_it_cannot_know() {
    let p = atlassian();
    let url = "https://api.atlassian.com/ex/jira/c1/rest/api/3/no-such-thing";
    let e = for_response(&ctx(&p, "GET", url, &[], &[]), 401, MISMATCH);
    assert_eq!(e.code, ErrorCode::ScopeMismatch);
    assert!(!e.detail.contains("Missing"), "{}", e.detail);
}

#[test]
fn a_429_says_which_limit_and_when_to_retry() {
    let p = atlassian();
    let headers = vec![
        KeyValue {
            key: "RateLimit-Reason".into(),
            value: "jira-quota-tenant-based".into(),
        },
        KeyValue {
            key: "Retry-After".into(),
            value: "42".into(),
        },
        KeyValue {
            key: "Beta-RateLimit-Policy".into(),
            value: "\"global-app-quota\";q=65000;w=3600".into(),
        },
    ];
    let url = "https://api.atlassian.com/ex/jira/c1/rest/api/3/myself";
    let e = for_response(&ctx(&p, "GET", url, &[], &headers), 429, "{}");
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert!(e.detail.contains("per-tenant pool"), "{}", e.detail);
    assert!(e.detail.contains("Retry after 42 s"), "{}", e.detail);
    assert!(e.hint.unwrap().contains("quota refills"));
    for key in ["RateLimit-Reason", "Retry-After", "Beta-RateLimit-Policy"] {
        assert!(
            e.facts.iter().any(|f| f.key == key),
            "{key} among the facts"
        );
    }
    let bare = for_response(&ctx(&p, "GET", url, &[], &[]), 429, "{}");
    assert!(
        bare.detail.contains("names no time to retry"),
        "{}",
        bare.detail
    );
}

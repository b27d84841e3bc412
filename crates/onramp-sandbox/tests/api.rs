//! The bearer-protected API (site discovery, `/me`, Jira, Confluence v2), over real HTTP on a
//! random loopback port.

mod common;

use common::*;
use onramp_sandbox::{ACME_CLOUD_ID, GLOBEX_CLOUD_ID};
use reqwest::{header, StatusCode};
use serde_json::json;

#[tokio::test]
async fn api_without_or_with_unknown_token_is_401() {
    let fx = start().await;
    let resp = fx.get(&fx.url("/me")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_json(resp).await,
        json!({"code": 401, "message": "Unauthorized"})
    );
    let resp = fx
        .api("sbx_at_made-up", "/oauth/token/accessible-resources")
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn accessible_resources_lists_sites_with_product_scopes() {
    let fx = start().await;
    let at = fx
        .access("read:me read:jira-work read:space:confluence offline_access")
        .await;
    let resp = fx.api(&at, "/oauth/token/accessible-resources").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let sites = body_json(resp).await;
    let sites = sites.as_array().unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0]["id"], ACME_CLOUD_ID);
    assert_eq!(sites[0]["name"], "Acme Sandbox");
    assert_eq!(sites[0]["url"], "https://acme.sandbox.example");
    assert_eq!(sites[1]["id"], GLOBEX_CLOUD_ID);
    assert_eq!(sites[1]["url"], "https://globex.sandbox.example");
    assert_eq!(
        sites[0]["scopes"],
        json!(["read:jira-work", "read:space:confluence"])
    );
    let avatar = sites[0]["avatarUrl"].as_str().unwrap();
    assert_eq!(avatar, fx.url("/avatars/acme.svg"));
    let svg = fx.get(avatar).await;
    assert_eq!(svg.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    assert_eq!(
        fx.get(&fx.url("/avatars/nobody.svg")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn accessible_resources_is_empty_without_product_scopes() {
    let fx = start().await;
    let at = fx.access("read:me offline_access").await;
    let resp = fx.api(&at, "/oauth/token/accessible-resources").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await, json!([]));
}

#[tokio::test]
async fn me_returns_the_user_and_needs_read_me() {
    let fx = start().await;
    let at = fx.access("read:me").await;
    let me = body_json(fx.api(&at, "/me").await).await;
    assert_eq!(me["account_type"], "atlassian");
    assert_eq!(me["account_id"], "557058:sandbox-0001");
    assert_eq!(me["email"], "sandra@sandbox.example");
    assert_eq!(me["name"], "Sandra Boxley");
    assert_eq!(me["nickname"], "sboxley");
    assert_eq!(me["account_status"], "active");
    assert_eq!(me["zoneinfo"], "Europe/London");
    assert_eq!(me["locale"], "en-GB");
    assert!(me["picture"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));

    let at = fx.access("read:jira-work").await;
    let resp = fx.api(&at, "/me").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await, scope_mismatch());
}

#[tokio::test]
async fn jira_myself_accepts_classic_or_granular_scopes() {
    let fx = start().await;
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself");
    for scope in [
        "read:jira-user",
        "read:application-role:jira read:group:jira read:user:jira read:avatar:jira",
    ] {
        let at = fx.access(scope).await;
        let resp = fx.api(&at, &path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{scope}");
        let me = body_json(resp).await;
        assert_eq!(me["accountId"], "557058:sandbox-0001");
        assert_eq!(me["displayName"], "Sandra Boxley");
        assert_eq!(me["emailAddress"], "sandra@sandbox.example");
        assert_eq!(me["accountType"], "atlassian");
        assert_eq!(me["active"], true);
        assert!(me["avatarUrls"]["48x48"].is_string());
    }
    // Incomplete granular set, or an unrelated classic scope.
    for scope in ["read:user:jira read:group:jira", "read:jira-work"] {
        let at = fx.access(scope).await;
        let resp = fx.api(&at, &path).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{scope}");
        assert_eq!(body_json(resp).await, scope_mismatch());
    }
}

#[tokio::test]
async fn jira_server_info_needs_only_a_token() {
    let fx = start().await;
    let at = fx.access("read:me").await;
    let resp = fx
        .api(
            &at,
            &format!("/ex/jira/{GLOBEX_CLOUD_ID}/rest/api/3/serverInfo"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let info = body_json(resp).await;
    assert_eq!(info["baseUrl"], "https://globex.sandbox.example");
    assert_eq!(info["deploymentType"], "Cloud");
    assert_eq!(info["versionNumbers"], json!([1001, 0, 0]));
    assert_eq!(info["serverTitle"], "Globex Sandbox Jira");
    assert!(info["serverTime"].as_str().unwrap().ends_with("+0000"));
}

#[tokio::test]
async fn jira_project_search_paginates() {
    let fx = start().await;
    let at = fx.access("read:jira-work").await;
    let base = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/project/search");
    let page = body_json(fx.api(&at, &format!("{base}?maxResults=2")).await).await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["maxResults"], 2);
    assert_eq!(page["isLast"], false);
    assert_eq!(page["values"].as_array().unwrap().len(), 2);
    let next = page["nextPage"].as_str().unwrap();
    assert!(next.contains("startAt=2"));
    let rest = body_json(fx.api(&at, &next.replace(&fx.sb.base_url(), "")).await).await;
    assert_eq!(rest["isLast"], true);
    assert!(rest.get("nextPage").is_none());
    assert_eq!(rest["values"][0]["key"], "HELP");
    assert!(rest["values"][0]["projectTypeKey"].is_string());
    let all = body_json(fx.api(&at, &base).await).await;
    assert_eq!(all["maxResults"], 50);
    assert_eq!(all["values"].as_array().unwrap().len(), 3);

    let at = fx.access("read:jira-user").await;
    assert_eq!(fx.api(&at, &base).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn jira_search_jql_is_bounded_paginated_and_id_only_by_default() {
    let fx = start().await;
    let at = fx.access("read:jira-work").await;
    let base = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/jql");

    for jql in ["", "ORDER BY updated DESC", "  order by key"] {
        let resp = fx.api(&at, &format!("{base}?jql={}", enc(jql))).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{jql:?}");
        assert!(body_json(resp).await["errorMessages"][0].is_string());
    }
    assert_eq!(fx.api(&at, &base).await.status(), StatusCode::BAD_REQUEST);

    let jql = enc("updated >= -30d ORDER BY updated DESC");
    let first = body_json(fx.api(&at, &format!("{base}?jql={jql}&maxResults=2")).await).await;
    let issues = first["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 2);
    assert!(issues[0]["id"].is_string());
    assert!(issues[0].get("fields").is_none());
    assert_eq!(first["isLast"], false);

    // Walk the pages with the opaque token.
    let mut seen = 2;
    let mut token = first["nextPageToken"].as_str().unwrap().to_string();
    loop {
        let page = body_json(
            fx.api(
                &at,
                &format!(
                    "{base}?jql={jql}&maxResults=2&nextPageToken={}",
                    enc(&token)
                ),
            )
            .await,
        )
        .await;
        seen += page["issues"].as_array().unwrap().len();
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_string(),
            None => {
                assert_eq!(page["isLast"], true);
                break;
            }
        }
    }
    assert_eq!(seen, 5);

    let with_summary = body_json(
        fx.api(&at, &format!("{base}?jql={jql}&fields=summary"))
            .await,
    )
    .await;
    assert_eq!(with_summary["issues"].as_array().unwrap().len(), 5);
    assert_eq!(with_summary["isLast"], true);
    assert!(with_summary.get("nextPageToken").is_none());
    assert!(with_summary["issues"][0]["fields"]["summary"].is_string());

    // POST form of the same API.
    let resp = fx
        .http
        .post(fx.url(&base))
        .bearer_auth(&at)
        .json(&json!({"jql": "project = ONR", "maxResults": 1, "fields": ["summary"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["issues"].as_array().unwrap().len(), 1);
    assert!(body["nextPageToken"].is_string());
}

#[tokio::test]
async fn removed_search_endpoints_answer_410_with_atlassians_body() {
    let fx = start().await;
    let at = fx.access("read:jira-work").await;
    let expected = r#"{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"]}"#;
    for version in ["3", "2"] {
        let url = fx.url(&format!(
            "/ex/jira/{ACME_CLOUD_ID}/rest/api/{version}/search?jql=project%3DONR"
        ));
        let get = fx.http.get(&url).bearer_auth(&at).send().await.unwrap();
        assert_eq!(get.status(), StatusCode::GONE);
        assert_eq!(get.text().await.unwrap(), expected);
        let post = fx
            .http
            .post(&url)
            .bearer_auth(&at)
            .json(&json!({"jql": "project = ONR"}))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), StatusCode::GONE);
        assert_eq!(post.text().await.unwrap(), expected);
    }
}

#[tokio::test]
async fn unknown_cloud_id_or_path_is_404() {
    let fx = start().await;
    let at = fx.access("read:jira-work read:jira-user").await;
    let not_found = json!({"code": 404, "message": "Not Found"});
    for path in [
        "/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself".to_string(),
        format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/ONR-1"),
        format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/rest/api/space"),
    ] {
        let resp = fx.api(&at, &path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body_json(resp).await, not_found);
    }
    // The token is checked before anything else.
    let resp = fx
        .api(
            "sbx_at_nope",
            &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/ONR-1"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn confluence_v2_spaces_rejects_classic_only_tokens() {
    let fx = start().await;
    let path = format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/api/v2/spaces?limit=1");
    let classic = fx
        .access("read:confluence-space.summary read:confluence-content.all")
        .await;
    let resp = fx.api(&classic, &path).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await, scope_mismatch());

    let granular = fx.access("read:space:confluence").await;
    let resp = fx.api(&granular, &path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let link = resp.headers()[header::LINK].to_str().unwrap().to_string();
    let body = body_json(resp).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["results"][0]["key"], "ENG");
    let next = body["_links"]["next"].as_str().unwrap();
    assert!(next.starts_with("/wiki/api/v2/spaces?cursor="), "{next}");
    assert!(next.ends_with("&limit=1"));
    assert!(
        link.starts_with(&format!("<{next}>; rel=\"next\"")),
        "{link}"
    );

    // The next link is relative to the product's gateway base.
    let resp = fx
        .api(&granular, &format!("/ex/confluence/{ACME_CLOUD_ID}{next}"))
        .await;
    assert!(resp.headers().get(header::LINK).is_none());
    let last = body_json(resp).await;
    assert_eq!(last["results"][0]["key"], "~sboxley");
    assert!(last["_links"].get("next").is_none());
}

#[tokio::test]
async fn confluence_v2_pages_need_read_page_confluence() {
    let fx = start().await;
    let path = format!("/ex/confluence/{GLOBEX_CLOUD_ID}/wiki/api/v2/pages");
    let at = fx.access("read:page:confluence").await;
    let resp = fx.api(&at, &path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    assert!(body["_links"].get("next").is_none());
    assert!(body["results"][0]["title"].is_string());

    let at = fx.access("read:space:confluence").await;
    assert_eq!(fx.api(&at, &path).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn jira_approximate_count_counts_for_bounded_jql_with_its_scopes() {
    let fx = start().await;
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/approximate-count");
    let post = |token: String, body: serde_json::Value| {
        fx.http
            .post(fx.url(&path))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let at = fx.access("read:jira-work").await;
    let resp = post(at.clone(), json!({"jql": "updated >= -30d"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(body_json(resp).await["count"].as_u64().unwrap() > 0);
    let unbounded = post(at, json!({"jql": "ORDER BY key"})).await.unwrap();
    assert_eq!(unbounded.status(), StatusCode::BAD_REQUEST);
    let other = fx.access("read:jira-user").await;
    let refused = post(other, json!({"jql": "updated >= -30d"}))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(refused).await, scope_mismatch());
}

//! `/authorize` and the consent page, over real HTTP on a random loopback port.

mod common;

use common::*;
use onramp_sandbox::DEFAULT_CLIENT_ID;
use reqwest::{header, StatusCode};

#[tokio::test]
async fn authorize_shows_consent_page_with_form_contract_and_scopes() {
    let fx = start().await;
    let resp = fx
        .get(&fx.authorize_url("read:me read:jira-work offline_access", CALLBACK, "s1"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<form id="consent" method="post" action="/authorize/decision">"#));
    assert!(html.contains(
        r#"<button type="submit" name="decision" value="accept" id="accept">Accept</button>"#
    ));
    assert!(html.contains(
        r#"<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>"#
    ));
    assert!(request_id(&html).len() >= 43);
    for scope in ["read:me", "read:jira-work", "offline_access"] {
        assert!(html.contains(&format!("<code>{scope}</code>")), "{scope}");
    }
    assert!(html.contains("My Onramp sandbox app"));
    assert!(html.contains("Sandra Boxley"));
    for external in ["<link", "<script", "src=", "url("] {
        assert!(
            !html.contains(external),
            "no external resources: {external}"
        );
    }
}

#[tokio::test]
async fn wrong_redirect_uri_redirects_to_error_page_like_atlassian() {
    let fx = start().await;
    let wrong = "http://localhost:8765/callback";
    let resp = fx.get(&fx.authorize_url("read:me", wrong, "s")).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert_eq!(
        loc,
        fx.url("/error?error=unauthorized_client&error_description=redirect_uri%20is%20not%20registered%20for%20client:%20http://localhost:8765/callback")
    );
    assert_eq!(query_param(&loc, "error").unwrap(), "unauthorized_client");
    let page = fx.get(&loc).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let html = page.text().await.unwrap();
    assert!(html.contains("unauthorized_client"));
    assert!(
        html.contains("redirect_uri is not registered for client: http://localhost:8765/callback")
    );

    // A trailing slash is a mismatch too; so is "nothing registered".
    let resp = fx
        .get(&fx.authorize_url("read:me", &format!("{CALLBACK}/"), "s"))
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    fx.sb.set_registered_callback(None);
    let resp = fx.get(&fx.authorize_url("read:me", CALLBACK, "s")).await;
    assert!(location(&resp).contains("unauthorized_client"));
}

#[tokio::test]
async fn unknown_scope_shows_error_page_naming_it() {
    let fx = start().await;
    let resp = fx
        .get(&fx.authorize_url("read:jira-work manage:jira-configuration", CALLBACK, "s"))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get(header::LOCATION).is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains("Something went wrong"));
    assert!(html.contains("manage:jira-configuration"));
    assert!(!html.contains(r#"id="consent""#));

    let resp = fx.get(&fx.authorize_url("", CALLBACK, "s")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn offline_access_is_always_allowed() {
    let fx = start_with(|c| c.allowed_scopes = vec!["read:me".into()]).await;
    let resp = fx
        .get(&fx.authorize_url("read:me offline_access", CALLBACK, "s"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_client_audience_response_type_or_state_are_html_400_never_redirects() {
    let fx = start().await;
    let good = fx.authorize_url("read:me", CALLBACK, "s");
    let cases = [
        good.replace(DEFAULT_CLIENT_ID, "someone-else"),
        good.replace("audience=onramp-sandbox", "audience=api.atlassian.com"),
        good.replace("response_type=code", "response_type=token"),
        good.replace("state=s&", "state=&"),
    ];
    for url in cases {
        let resp = fx.get(&url).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(resp.headers().get(header::LOCATION).is_none(), "{url}");
        assert!(resp.text().await.unwrap().contains("<html"));
    }
}

#[tokio::test]
async fn accept_redirects_with_code_and_state() {
    let fx = start().await;
    let id = fx
        .consent(&fx.authorize_url("read:me", CALLBACK, "state with spaces&more"))
        .await;
    let resp = fx.decide(&id, "accept").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert!(
        loc.starts_with(&format!("{CALLBACK}?code=sbx_code_")),
        "{loc}"
    );
    assert_eq!(
        query_param(&loc, "state").unwrap(),
        "state with spaces&more"
    );
    // The consent request is single-use.
    assert_eq!(
        fx.decide(&id, "accept").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn accept_works_for_custom_scheme_and_existing_query() {
    for registered in ["onramp://callback", "http://127.0.0.1:9999/cb?app=onramp"] {
        let fx = start_with(|c| c.registered_callback_url = Some(registered.into())).await;
        let id = fx
            .consent(&fx.authorize_url("read:me", registered, "xyz"))
            .await;
        let loc = location(&fx.decide(&id, "accept").await);
        let sep = if registered.contains('?') { '&' } else { '?' };
        assert!(
            loc.starts_with(&format!("{registered}{sep}code=sbx_code_")),
            "{loc}"
        );
        assert_eq!(query_param(&loc, "state").unwrap(), "xyz");
        assert!(query_param(&loc, "code").is_some());
    }
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_and_state() {
    let fx = start().await;
    let id = fx
        .consent(&fx.authorize_url("read:me", CALLBACK, "st-9"))
        .await;
    let resp = fx.decide(&id, "cancel").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        location(&resp),
        format!("{CALLBACK}?error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=st-9")
    );
}

#[tokio::test]
async fn unknown_consent_request_is_html_400() {
    let fx = start().await;
    let resp = fx.decide("no-such-request", "accept").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("<html"));
}

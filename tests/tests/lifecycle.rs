//! Issue 5 in the real window: a token that dies while the app is open is refreshed once on the next
//! call; a revoked grant leads to "needs reconnect" and a one-click re-authorize; a 429 shows its
//! countdown naming the limit hit and then the result, warned as near the limit; a removed endpoint is
//! explained.

use std::time::Duration;

use onramp_e2e::flows::{self, Callback, SHORT};
use onramp_e2e::harness::{Paths, Scenario};
use serde_json::json;

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

async fn refresh_count(scn: &Scenario) -> u64 {
    scn.sandbox("stats", json!(null)).await["refresh_count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn expired_token_is_refreshed_once_on_the_next_call() {
    let mut scn = Scenario::start(&paths(), "token-expiry", &[]).await;
    flows::connect_and_test(&mut scn, Callback::Loopback).await;
    assert_eq!(refresh_count(&scn).await, 0);
    scn.sandbox("expire-access-tokens", json!({})).await;
    let body = flows::run_preset(&scn, "jira-myself", "200").await;
    assert!(body.contains(flows::SANDBOX_USER));
    scn.s()
        .wait_for("[data-testid=\"test-refreshed\"]", SHORT)
        .await
        .unwrap();
    assert_eq!(refresh_count(&scn).await, 1, "exactly one refresh");
    scn.shot_of("[data-testid=\"test-refreshed\"]", "refreshed")
        .await;
    // Copy as curl shows the request with a placeholder, never the token.
    let s = scn.s();
    s.click_css("[data-testid=\"copy-curl\"]").await.unwrap();
    let curl = s
        .wait_for_text("[data-testid=\"curl-text\"]", "$ACCESS_TOKEN", SHORT)
        .await
        .unwrap();
    assert!(
        curl.contains("/rest/api/3/myself") && !curl.contains("sbx_at_"),
        "{curl}"
    );

    // A custom request to the removed Jira search: 410, explained with its replacement.
    let s = scn.s();
    s.click_css("[data-testid=\"mode-custom\"]").await.unwrap();
    s.type_into("#req-path", "/rest/api/3/search")
        .await
        .unwrap();
    s.type_into("#req-query", "jql=project%20%3D%20ABC")
        .await
        .unwrap();
    let product = s.wait_for("#req-product", SHORT).await.unwrap();
    s.execute(
        "arguments[0].value = 'jira'; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![product.to_json()],
    )
    .await
    .unwrap();
    // The engine resolves the form: the preview is the exact URL, with the site's cloudId. The
    // product was the last change, so a preview with its prefix is the one for the whole form.
    let preview = s
        .wait_for_text("[data-testid=\"req-url-preview\"]", "/ex/jira/", SHORT)
        .await
        .unwrap();
    assert!(
        preview.contains("/rest/api/3/search?jql=project%20%3D%20ABC"),
        "{preview}"
    );
    s.wait_for("[data-testid=\"run-test\"]:not([disabled])", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"run-test\"]").await.unwrap();
    s.wait_for_text("[data-testid=\"test-status\"]", "410", SHORT)
        .await
        .unwrap();
    let card = s
        .text_of("[data-testid=\"error-card\"][data-code=\"endpoint_removed\"]")
        .await
        .unwrap();
    assert!(
        card.contains("/rest/api/3/search/jql"),
        "the replacement is named: {card}"
    );
    scn.shot_of("[data-testid=\"error-card\"]", "removed-endpoint")
        .await;
    s.wait_for("[data-testid=\"history-row\"]", SHORT)
        .await
        .unwrap();
    let rows = s.find_all("[data-testid=\"history-row\"]").await.unwrap();
    assert!(rows.len() >= 3, "three calls in the history");
    // Newest first: the removed search, then the Jira "current user" preset. The preset comes back
    // into the custom form as the engine recorded it: Jira, its path, no body.
    s.click(&rows[1]).await.unwrap();
    let path = s.wait_for("#req-path", SHORT).await.unwrap();
    assert_eq!(
        s.property(&path, "value").await.unwrap(),
        serde_json::json!("/rest/api/3/myself")
    );
    let product = s.find("#req-product").await.unwrap();
    assert_eq!(
        s.property(&product, "value").await.unwrap(),
        serde_json::json!("jira")
    );
    scn.finish().await;
}

#[tokio::test]
async fn revoked_grant_needs_reconnect_and_reauthorize_works() {
    let mut scn = Scenario::start(&paths(), "revoked", &[]).await;
    flows::connect_and_test(&mut scn, Callback::Loopback).await;
    let s = scn.s();
    s.click_css("[data-testid=\"refresh-now\"]").await.unwrap();
    s.wait_for("[data-testid=\"refresh-done\"]", SHORT)
        .await
        .unwrap();
    scn.sandbox("revoke", json!({})).await;
    s.click_css("[data-testid=\"run-test\"]").await.unwrap();
    let notice = s
        .wait_for_text(
            "[data-testid=\"needs-reconnect\"]",
            "invalid_grant",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert!(notice.contains("revoked"), "the reason is given: {notice}");
    // Nothing contradicts it: no "✓ Token refreshed", no earlier call's HTTP 200.
    assert!(
        s.find("[data-testid=\"refresh-done\"]").await.is_err(),
        "no success mark beside needs reconnect"
    );
    assert!(
        s.find("[data-testid=\"test-status\"]").await.is_err(),
        "the earlier 200 is not shown under the new failure"
    );
    scn.shot_of("[data-testid=\"needs-reconnect\"]", "needs-reconnect")
        .await;
    s.click_css("[data-testid=\"reauthorize\"]").await.unwrap();
    s.wait_for(
        "[data-testid=\"connection-panel\"][data-state=\"connected\"]",
        flows::AUTH,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nfake browser log:\n{}", scn.browser_log()));
    let body = flows::run_preset(&scn, "jira-myself", "200").await;
    assert!(body.contains(flows::SANDBOX_USER));
    scn.shot_of("[data-testid=\"connection-panel\"]", "reconnected")
        .await;
    scn.finish().await;
}

#[tokio::test]
async fn rate_limit_shows_a_countdown_then_the_result() {
    let mut scn = Scenario::start(&paths(), "rate-limit", &[]).await;
    flows::connect_and_test(&mut scn, Callback::DeepLink).await;
    scn.sandbox(
        "faults",
        // The 429 names its limit (RateLimit-Reason); the answer after it is near the limit.
        json!({"rate_limit_next": 1, "retry_after_secs": 3,
               "rate_limit_reason": "jira-burst-based", "near_limit_next": 1}),
    )
    .await;
    let s = scn.s();
    s.click_css("[data-testid=\"run-test\"]").await.unwrap();
    let countdown = s
        .wait_for("[data-testid=\"retry-countdown\"]", SHORT)
        .await
        .unwrap();
    let text = s.text(&countdown).await.unwrap();
    assert!(text.contains('s'), "a countdown in seconds: {text}");
    assert!(
        text.contains("burst limit"),
        "the limit hit is named: {text}"
    );
    scn.shot_of("[data-testid=\"retry-countdown\"]", "rate-limit-countdown")
        .await;
    s.wait_for_text(
        "[data-testid=\"test-status\"]",
        "200",
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    s.wait_gone("[data-testid=\"retry-countdown\"]", SHORT)
        .await
        .unwrap();
    let near = s
        .text_of("[data-testid=\"rate-near-limit\"]")
        .await
        .unwrap();
    assert!(near.contains("Near the rate limit"), "{near}");
    scn.shot_of("[data-testid=\"test-result\"]", "rate-limit-result")
        .await;
    scn.finish().await;
}

/// Issue 10's fault matrix in the window: the token endpoint stops answering during "Refresh now".
/// The window names the fault (`timeout`, not a generic network error), the connection stays
/// Connected, and the integration is still on the home once the provider is back.
#[tokio::test]
async fn a_provider_timeout_shows_its_own_message_and_keeps_the_integration() {
    let mut scn = Scenario::start(
        &paths(),
        "provider-timeout",
        &[("ONRAMP_HTTP_TIMEOUT_MS_FOR_TESTS", "2000")],
    )
    .await;
    flows::connect_and_test(&mut scn, Callback::Loopback).await;
    scn.sandbox("faults", json!({"slow_ms": 8000})).await;
    let s = scn.s();
    s.click_css("[data-testid=\"refresh-now\"]").await.unwrap();
    let card = "[data-testid=\"error-card\"][data-code=\"timeout\"]";
    s.wait_for_text(
        card,
        "No answer from the token endpoint in time",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let text = s.text_of(card).await.unwrap();
    assert!(text.contains("Nothing was changed"), "{text}");
    scn.shot_of(card, "provider-timeout").await;
    scn.sandbox("faults", json!({})).await;
    s.wait_for(
        "[data-testid=\"connection-state\"][data-state=\"connected\"]",
        SHORT,
    )
    .await
    .unwrap();
    // The connection works: a refresh goes through once the provider answers in time.
    s.click_css("[data-testid=\"refresh-now\"]").await.unwrap();
    s.wait_for("[data-testid=\"refresh-done\"]", SHORT)
        .await
        .unwrap();
    // And the integration is still on the home, connected.
    s.click_css("[data-testid=\"home-button\"]").await.unwrap();
    s.wait_for(
        "[data-testid=\"home-row\"][data-health=\"connected\"]",
        SHORT,
    )
    .await
    .unwrap();
}

//! Issue 12 in the window: an Atlassian-style service account (OAuth 2.0 client credentials)
//! against the sandbox. The wizard asks for no callback and opens no browser: credentials, scopes
//! (a record of the credential's), a token, a site, a test call.

use onramp_e2e::flows::{self, SHORT};
use onramp_e2e::harness::{Paths, Scenario};

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

#[tokio::test]
async fn a_service_account_connects_without_a_browser() {
    let scn = Scenario::start(&paths(), "service-account", &[]).await;
    let s = scn.s();
    s.wait_for("[data-testid=\"step-providers\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"provider-sandbox-service-account\"] input[type=\"radio\"]")
        .await
        .unwrap();
    flows::next(&scn).await;

    // Step 2: no callback, no browser check; the sandbox's service-account credential.
    s.wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    s.wait_for("[data-testid=\"no-callback\"]", SHORT)
        .await
        .unwrap();
    assert!(s.find("[data-testid=\"callback-url\"]").await.is_err());
    assert!(s.find("[data-testid=\"check-credentials\"]").await.is_err());
    let client_id = s
        .text_of("[data-testid=\"sandbox-client-id\"]")
        .await
        .unwrap();
    assert_eq!(client_id.trim(), onramp_sandbox::SERVICE_ACCOUNT_CLIENT_ID);
    s.click_css("[data-testid=\"fill-from-sandbox\"]")
        .await
        .unwrap();
    s.click_css("[data-testid=\"save-credentials\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"secret-saved\"]", SHORT)
        .await
        .unwrap();
    scn.shot("service-account-credentials").await;
    flows::next(&scn).await;

    // Step 3: the scopes are a record of the credential's; no offline_access offered.
    s.wait_for("[data-testid=\"service-account-scopes\"]", SHORT)
        .await
        .unwrap();
    assert!(s
        .find("input[data-scope=\"offline_access\"]")
        .await
        .is_err());
    flows::next(&scn).await;

    // Step 4: a token from the client credentials, no browser.
    s.click_css("[data-testid=\"fetch-token\"]").await.unwrap();
    s.wait_for(
        "[data-testid=\"auth-status\"][data-stage=\"connected\"]",
        SHORT,
    )
    .await
    .unwrap();
    assert!(
        scn.browser_log().trim().is_empty(),
        "no browser opened: {}",
        scn.browser_log()
    );
    let renewal = s.text_of("[data-testid=\"token-renewal\"]").await.unwrap();
    assert!(
        renewal.contains("fetched with the client ID and secret"),
        "{renewal}"
    );
    scn.shot("service-account-token").await;
    flows::next(&scn).await;
    // Its own sites: the sandbox's service account reaches Acme only, and even a single site is
    // picked by the user, never preselected.
    s.wait_for("input[data-site-id]", SHORT).await.unwrap();
    let sites = s.find_all("input[data-site-id]").await.unwrap();
    assert_eq!(sites.len(), 1, "the service account reaches one site");
    assert_eq!(
        s.property(&sites[0], "checked").await.unwrap(),
        serde_json::Value::Bool(false)
    );
    s.click(&sites[0]).await.unwrap();
    flows::next(&scn).await;
    let body = flows::run_preset(&scn, "jira-myself", "200").await;
    assert!(!body.is_empty());
    scn.finish().await;
}

//! Steps of the wizard as a user does them, shared by the end-to-end test files.

use std::time::Duration;

use serde_json::Value;

use crate::harness::Scenario;

pub const SHORT: Duration = Duration::from_secs(10);
pub const AUTH: Duration = Duration::from_secs(40);
pub const SANDBOX_USER: &str = "Sandra Boxley";

#[derive(Clone, Copy, PartialEq)]
pub enum Callback {
    DeepLink,
    Loopback,
}

/// Clicks Next once it is enabled: the step's last action (say, saving the picked site) may still
/// be on its way, and a click on the disabled button would be lost.
pub async fn next(scn: &Scenario) {
    let s = scn.s();
    s.wait_for("#next:not([disabled])", SHORT)
        .await
        .unwrap_or_else(|e| panic!("Next stays disabled: {e}"));
    s.click_css("#next").await.unwrap();
}

/// Whether the checkbox/radio matching `css` is checked (waits for it to exist; it may be styled
/// invisibly behind a custom control).
pub async fn checked(scn: &Scenario, css: &str) -> bool {
    let deadline = std::time::Instant::now() + SHORT;
    let e = loop {
        match scn.s().find(css).await {
            Ok(e) => break e,
            Err(err) if std::time::Instant::now() > deadline => panic!("{css}: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
        }
    };
    scn.s().property(&e, "checked").await.unwrap() == Value::Bool(true)
}

/// Step 1 with the preselected sandbox.
pub async fn pick_sandbox(scn: &mut Scenario) {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-providers\"]", SHORT)
        .await
        .unwrap();
    assert!(
        checked(
            scn,
            "[data-testid=\"provider-sandbox\"] input[type=\"radio\"]"
        )
        .await,
        "sandbox is the first-run default"
    );
    scn.shot("provider").await;
    next(scn).await;
}

/// Step 2: callback kind and credentials copied from the sandbox app page. Returns the client secret.
pub async fn console_step(scn: &mut Scenario, callback: Callback) -> String {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    let expected_callback = match callback {
        Callback::DeepLink => {
            s.click_css("[data-testid=\"callback-kind-deep_link\"]")
                .await
                .unwrap();
            "onramp://callback".to_string()
        }
        Callback::Loopback => {
            s.click_css("[data-testid=\"callback-kind-loopback\"]")
                .await
                .unwrap();
            format!("http://127.0.0.1:{}/callback", scn.loopback_port)
        }
    };
    s.wait_for_text("[data-testid=\"callback-url\"]", &expected_callback, SHORT)
        .await
        .unwrap();
    let client_id = s
        .text_of("[data-testid=\"sandbox-client-id\"]")
        .await
        .unwrap()
        .trim()
        .to_string();
    // The secret is masked until revealed (it must stay out of screenshots): reveal, read, hide.
    let masked = s
        .text_of("[data-testid=\"sandbox-client-secret\"]")
        .await
        .unwrap();
    assert!(
        !masked.contains("sbx_secret"),
        "the sandbox secret is masked: {masked}"
    );
    s.click_css("[data-testid=\"reveal-sandbox-secret\"]")
        .await
        .unwrap();
    let client_secret = s
        .text_of("[data-testid=\"sandbox-client-secret\"]")
        .await
        .unwrap()
        .trim()
        .to_string();
    s.click_css("[data-testid=\"reveal-sandbox-secret\"]")
        .await
        .unwrap();
    assert!(
        !client_id.is_empty() && !client_secret.is_empty(),
        "the sandbox app page shows credentials"
    );
    // A secret with a space inside is refused with a clear message before anything is stored.
    s.type_into("#client-id", &client_id).await.unwrap();
    s.type_into("#client-secret", "not a secret").await.unwrap();
    s.click_css("[data-testid=\"save-credentials\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"form-error\"]", SHORT)
        .await
        .unwrap();
    s.type_into("#client-secret", &client_secret).await.unwrap();
    s.click_css("[data-testid=\"save-credentials\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"secret-saved\"]", SHORT)
        .await
        .unwrap();
    // The suggested scopes are not ticked before the user has opened step 3.
    let scopes_mark = s
        .text_of("[data-testid=\"progress-scopes\"] .num")
        .await
        .unwrap();
    assert_eq!(
        scopes_mark.trim(),
        "3",
        "Scopes is not ticked before it is seen"
    );
    client_secret
}

/// Step 3 with the defaults (offline_access and what the test calls need).
pub async fn default_scopes(scn: &mut Scenario) {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-scopes\"]", SHORT)
        .await
        .unwrap();
    for scope in ["offline_access", "read:jira-user", "read:me"] {
        assert!(
            checked(scn, &format!("input[data-scope=\"{scope}\"]")).await,
            "{scope} preselected"
        );
    }
    scn.shot("scopes").await;
    next(scn).await;
    // Going past step 3 makes the suggestions a choice: only now is "Scopes" ticked.
    s.wait_for_text("[data-testid=\"progress-scopes\"] .num", "✓", SHORT)
        .await
        .unwrap();
}

/// Step 4: authorize and wait until connected (the fake browser answers the consent page).
pub async fn authorize(scn: &mut Scenario) {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-authorize\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    wait_connected(scn).await;
}

pub async fn wait_connected(scn: &Scenario) {
    scn.s()
        .wait_for(
            "[data-testid=\"auth-status\"][data-stage=\"connected\"]",
            AUTH,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\nfake browser log:\n{}", scn.browser_log()));
}

/// Step 5: picks the site at `index` (never preselected). Returns its cloudId.
pub async fn pick_site(scn: &mut Scenario, index: usize) -> String {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-sites\"]", SHORT)
        .await
        .unwrap();
    s.wait_for("input[data-site-id]", SHORT).await.unwrap();
    let sites = s.find_all("input[data-site-id]").await.unwrap();
    assert_eq!(sites.len(), 2, "the sandbox grant covers two sites");
    for site in &sites {
        assert_eq!(
            s.property(site, "checked").await.unwrap(),
            Value::Bool(false),
            "no site is picked silently"
        );
    }
    let chosen = s.property(&sites[index], "dataset").await.unwrap()["siteId"]
        .as_str()
        .unwrap()
        .to_string();
    s.click(&sites[index]).await.unwrap();
    chosen
}

/// Step 6: runs a preset and returns (status text, body text).
pub async fn run_preset(scn: &Scenario, preset: &str, expect_status: &str) -> String {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-requests\"]", SHORT)
        .await
        .unwrap();
    s.click_css(&format!("button[data-preset=\"{preset}\"]"))
        .await
        .unwrap();
    s.click_css("[data-testid=\"run-test\"]").await.unwrap();
    s.wait_for_text(
        "[data-testid=\"test-status\"]",
        expect_status,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    s.text_of("[data-testid=\"test-body\"]").await.unwrap()
}

/// The whole wizard up to a successful `jira-myself` call on step 6.
pub async fn connect_and_test(scn: &mut Scenario, callback: Callback) {
    pick_sandbox(scn).await;
    console_step(scn, callback).await;
    next(scn).await;
    default_scopes(scn).await;
    authorize(scn).await;
    next(scn).await;
    pick_site(scn, 0).await;
    next(scn).await;
    let body = run_preset(scn, "jira-myself", "200").await;
    assert!(body.contains(SANDBOX_USER), "{body}");
}

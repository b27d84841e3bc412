//! The whole wizard, in the real window, against the in-app sandbox:
//! provider → developer console → scopes → authorize (system browser + callback) → site → test call.
//! Run by `tests/e2e.sh` (Xvfb, private D-Bus session, unlocked GNOME Keyring, tauri-driver).

use std::time::Duration;

use onramp_e2e::harness::{files_under, keychain_lookup, Paths, Scenario};
use serde_json::Value;

const SHORT: Duration = Duration::from_secs(10);
const AUTH: Duration = Duration::from_secs(40);
const SANDBOX_USER: &str = "Sandra Boxley";

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

#[derive(Clone, Copy, PartialEq)]
enum Callback {
    DeepLink,
    Loopback,
}

/// Secrets seen during a run, to prove none of them is written outside the keychain.
struct Secrets {
    client_secret: String,
}

async fn next(scn: &Scenario) {
    scn.s().click_css("#next").await.unwrap();
}

/// Steps 1–3 and the start of step 4, as a user would do them.
async fn walk_to_authorize(scn: &mut Scenario, callback: Callback) -> Secrets {
    let s = scn.s();
    // Step 1: the sandbox is preselected on first run.
    s.wait_for("[data-testid=\"step-provider\"]", SHORT)
        .await
        .unwrap();
    let radio = s
        .find("[data-testid=\"provider-sandbox\"] input[type=\"radio\"]")
        .await
        .unwrap();
    assert_eq!(
        s.property(&radio, "checked").await.unwrap(),
        Value::Bool(true),
        "sandbox is the first-run default"
    );
    scn.shot("provider").await;
    next(scn).await;

    // Step 2: console checklist, callback kind, credentials copied from the sandbox console.
    let s = scn.s();
    s.wait_for("[data-testid=\"step-console\"]", SHORT)
        .await
        .unwrap();
    for step in s
        .find_all("input[data-testid^=\"console-step-\"]")
        .await
        .unwrap()
    {
        s.click(&step).await.unwrap();
    }
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
    let client_secret = s
        .text_of("[data-testid=\"sandbox-client-secret\"]")
        .await
        .unwrap()
        .trim()
        .to_string();
    assert!(
        !client_id.is_empty() && !client_secret.is_empty(),
        "sandbox console shows credentials"
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
    scn.shot("console").await;
    next(scn).await;

    // Step 3: defaults include offline_access and what the test calls need.
    let s = scn.s();
    s.wait_for("[data-testid=\"step-scopes\"]", SHORT)
        .await
        .unwrap();
    for scope in ["offline_access", "read:jira-user", "read:me"] {
        let input = s
            .find(&format!("input[data-scope=\"{scope}\"]"))
            .await
            .unwrap();
        assert_eq!(
            s.property(&input, "checked").await.unwrap(),
            Value::Bool(true),
            "{scope} preselected"
        );
    }
    scn.shot("scopes").await;
    next(scn).await;

    scn.s()
        .wait_for("[data-testid=\"step-authorize\"]", SHORT)
        .await
        .unwrap();
    Secrets { client_secret }
}

/// Steps 4–6 after the browser comes back, then the storage checks.
async fn authorize_pick_site_and_test(scn: &mut Scenario, secrets: Secrets) {
    let s = scn.s();
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    s.wait_for(
        "[data-testid=\"auth-status\"][data-stage=\"connected\"]",
        AUTH,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nfake browser log:\n{}", scn.browser_log()));
    scn.shot("authorized").await;
    next(scn).await;

    // Step 5: two sites; nothing is picked for the user. Pick the second one.
    let s = scn.s();
    s.wait_for("[data-testid=\"step-site\"]", SHORT)
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
    let chosen = s.property(&sites[1], "dataset").await.unwrap()["siteId"]
        .as_str()
        .unwrap()
        .to_string();
    s.click(&sites[1]).await.unwrap();
    scn.shot("site").await;
    // Next waits for the choice to be saved.
    next(scn).await;

    // Step 6: a real call through the sandbox gateway.
    let s = scn.s();
    s.wait_for("[data-testid=\"step-test\"]", SHORT)
        .await
        .unwrap();
    s.click_css("button[data-preset=\"jira-myself\"]")
        .await
        .unwrap();
    s.click_css("[data-testid=\"run-test\"]").await.unwrap();
    s.wait_for_text("[data-testid=\"test-status\"]", "200", SHORT)
        .await
        .unwrap();
    let body = s.text_of("[data-testid=\"test-body\"]").await.unwrap();
    assert!(
        body.contains(SANDBOX_USER),
        "the test call returns the sandbox user: {body}"
    );
    scn.shot("test-call").await;

    // What was stored where.
    let settings: Value = serde_json::from_slice(
        &std::fs::read(scn.config_dir().join("settings.json")).expect("settings.json exists"),
    )
    .unwrap();
    let integration = &settings["integrations"][0];
    let id = integration["id"].as_str().unwrap();
    assert_eq!(
        integration["site"]["id"],
        Value::String(chosen.clone()),
        "the picked site is saved"
    );
    let refresh =
        keychain_lookup(&format!("{id}/refresh_token")).expect("refresh token in the keychain");
    let access =
        keychain_lookup(&format!("{id}/access_token")).expect("access token in the keychain");
    let stored_secret =
        keychain_lookup(&format!("{id}/client_secret")).expect("client secret in the keychain");
    assert!(refresh.starts_with("sbx_rt_"), "a sandbox refresh token");
    assert_eq!(stored_secret, secrets.client_secret);
    let mut checked = 0;
    for dir in [scn.config_dir(), scn.log_dir()] {
        for (path, bytes) in files_under(&dir) {
            let text = String::from_utf8_lossy(&bytes);
            for (what, secret) in [
                ("refresh token", &refresh),
                ("access token", &access),
                ("client secret", &secrets.client_secret),
            ] {
                assert!(
                    !text.contains(secret.as_str()),
                    "{what} found in {}",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "settings and log were both checked");
    let log = std::fs::read_to_string(scn.log_dir().join("onramp.log")).unwrap();
    assert!(log.contains("connected"), "the log records the connection");
}

#[tokio::test]
async fn deep_link_flow_through_the_os() {
    let mut scn = Scenario::start(&paths(), "deep-link", &[]).await;
    let secrets = walk_to_authorize(&mut scn, Callback::DeepLink).await;
    authorize_pick_site_and_test(&mut scn, secrets).await;
    let log = scn.browser_log();
    assert!(
        log.contains("hand onramp:// to gio open"),
        "the callback went through the OS: {log}"
    );
    scn.finish().await;
}

#[tokio::test]
async fn loopback_flow() {
    let mut scn = Scenario::start(&paths(), "loopback", &[]).await;
    let secrets = walk_to_authorize(&mut scn, Callback::Loopback).await;
    authorize_pick_site_and_test(&mut scn, secrets).await;
    let log = scn.browser_log();
    assert!(
        log.contains("follow http://127.0.0.1:"),
        "the callback went to the loopback listener: {log}"
    );
    assert!(
        log.contains("callback page: HTTP 200"),
        "the browser got the close-this-tab page: {log}"
    );
    scn.finish().await;
}

#[tokio::test]
async fn cancel_on_the_consent_page_shows_access_denied() {
    let mut scn = Scenario::start(
        &paths(),
        "cancel",
        &[("ONRAMP_FAKE_BROWSER_DECISION", "cancel")],
    )
    .await;
    walk_to_authorize(&mut scn, Callback::Loopback).await;
    let s = scn.s();
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    s.wait_for(
        "[data-testid=\"error-card\"][data-code=\"access_denied\"]",
        AUTH,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nfake browser log:\n{}", scn.browser_log()));
    let card = s.text_of("[data-testid=\"error-card\"]").await.unwrap();
    assert!(
        card.contains("denied"),
        "the message says access was denied: {card}"
    );
    scn.shot("access-denied").await;
    assert!(scn.browser_log().contains("consent: cancel"));
    scn.finish().await;
}

//! The whole wizard, in the real window, against the in-app sandbox:
//! provider → developer console → scopes → authorize (system browser + callback) → site → test call.
//! Run by `tests/e2e.sh` (Xvfb, private D-Bus session, unlocked GNOME Keyring, tauri-driver).

use onramp_e2e::flows::{self, next, Callback, AUTH, SANDBOX_USER, SHORT};
use onramp_e2e::harness::{files_under, keychain_lookup, Opener, Paths, Scenario};

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

/// Secrets seen during a run, to prove none of them is written outside the keychain.
struct Secrets {
    client_secret: String,
}

/// Steps 1–3 and the start of step 4, as a user would do them.
async fn walk_to_authorize(scn: &mut Scenario, callback: Callback) -> Secrets {
    flows::pick_sandbox(scn).await;
    let client_secret = flows::console_step(scn, callback).await;
    scn.shot("console").await;
    next(scn).await;
    flows::default_scopes(scn).await;
    scn.s()
        .wait_for("[data-testid=\"step-authorize\"]", SHORT)
        .await
        .unwrap();
    Secrets { client_secret }
}

/// Steps 4–6 after the browser comes back, then the storage checks.
async fn authorize_pick_site_and_test(scn: &mut Scenario, secrets: Secrets) {
    flows::authorize(scn).await;
    scn.shot("authorized").await;
    next(scn).await;
    // Step 5: two sites; nothing is picked for the user. Pick the second one.
    let chosen = flows::pick_site(scn, 1).await;
    scn.shot("site").await;
    // Next waits for the choice to be saved.
    next(scn).await;
    // Step 6: a real call through the sandbox gateway.
    let body = flows::run_preset(scn, "jira-myself", "200").await;
    assert!(
        body.contains(SANDBOX_USER),
        "the test call returns the sandbox user: {body}"
    );
    scn.shot_of("[data-testid=\"test-result\"]", "test-call")
        .await;

    // What was stored where.
    let stored = scn.stored_integrations().await;
    let integration = &stored[0];
    let id = integration.id.as_str();
    assert_eq!(
        integration.site.as_ref().map(|s| s.id.as_str()),
        Some(chosen.as_str()),
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
    let config_files = files_under(&scn.config_dir());
    assert!(
        config_files
            .iter()
            .any(|(p, _)| p.ends_with(onramp_core::store::DATABASE_FILE)),
        "the store's database is among the files searched for secrets"
    );
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
    assert!(checked >= 2, "the database and the log were both checked");
    let log = std::fs::read_to_string(scn.log_dir().join("onramp.log")).unwrap();
    assert!(log.contains("connected"), "the log records the connection");
}

/// The whole wizard with the callback handed to the OS by `xdg-open`, as Chromium-family browsers
/// do (Debian 12's xdg-utils could not start the handler entry the deep-link plugin wrote).
#[tokio::test]
async fn deep_link_flow_through_xdg_open() {
    let mut scn = Scenario::start(
        &paths(),
        "deep-link",
        &[("ONRAMP_FAKE_BROWSER_OPENER", "xdg-open")],
    )
    .await;
    let secrets = walk_to_authorize(&mut scn, Callback::DeepLink).await;
    authorize_pick_site_and_test(&mut scn, secrets).await;
    let log = scn.browser_log();
    assert!(
        log.contains("hand onramp:// to xdg-open")
            && log.contains("xdg-open exited with exit status: 0"),
        "the callback went through the OS with xdg-open: {log}"
    );
    let entry = std::fs::read_to_string(
        scn.home
            .join(".local/share/applications/onramp-handler.desktop"),
    )
    .unwrap();
    assert!(
        entry
            .lines()
            .any(|l| l.starts_with("Exec=/") && l.ends_with(" %u")),
        "an unquoted Exec line: {entry}"
    );
    // A link from an older attempt (or from before a restart) is explained, not silently dropped.
    scn.open_through_the_os(
        Opener::Gio,
        "onramp://callback?code=stale&state=from-an-older-attempt",
    );
    let s = scn.s();
    let notice = s
        .wait_for_text("[data-testid=\"unmatched-callback\"]", "restarted", SHORT)
        .await
        .unwrap();
    assert!(notice.contains("step 4"), "what to do is said: {notice}");
    scn.shot("unmatched-callback").await;
    s.click_css("[data-testid=\"dismiss-unmatched\"]")
        .await
        .unwrap();
    s.wait_gone("[data-testid=\"unmatched-callback\"]", SHORT)
        .await
        .unwrap();
    scn.finish().await;
}

/// A deep-link flow through `gio open` while forged callbacks arrive through the OS: the wait goes
/// on with a calm notice (no error, nothing to start again), a callback with the right state on
/// another path does not use the flow up, and the genuine callback then connects.
#[tokio::test]
async fn deep_link_flow_through_gio_open_ignores_forged_callbacks() {
    let paths = paths();
    let mut scn = Scenario::start(
        &paths,
        "deep-link-gio",
        &[("ONRAMP_FAKE_BROWSER_DECISION", "ignore")],
    )
    .await;
    walk_to_authorize(&mut scn, Callback::DeepLink).await;
    let s = scn.s();
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    let waiting = "[data-testid=\"auth-status\"][data-stage=\"waiting\"]";
    s.wait_for(waiting, SHORT).await.unwrap();
    let authorize_url = s.text_of("[data-testid=\"authorize-url\"]").await.unwrap();
    let state = url::Url::parse(authorize_url.trim())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .expect("a state")
        .1
        .into_owned();

    scn.open_through_the_os(Opener::Gio, "onramp://callback?code=forged&state=forged");
    let notice = s
        .wait_for_text("[data-testid=\"auth-notice\"]", "Ignored a callback", SHORT)
        .await
        .unwrap();
    assert!(notice.contains("Still waiting"), "{notice}");
    // The right state on another path, through xdg-open this time: ignored too.
    scn.open_through_the_os(
        Opener::XdgOpen,
        &format!("onramp://other-path?code=forged&state={state}"),
    );
    wait_for_log(&scn, "another channel or to another address").await;
    s.wait_for(waiting, SHORT).await.unwrap();
    assert!(
        s.find_all("[data-testid=\"error-card\"]")
            .await
            .unwrap()
            .is_empty(),
        "no red error while the genuine flow waits"
    );
    assert!(
        s.find_all("[data-testid=\"unmatched-callback\"]")
            .await
            .unwrap()
            .is_empty(),
        "no banner either"
    );
    scn.shot_of("[data-testid=\"auth-notice\"]", "forged-callback-ignored")
        .await;

    // The user approves in the browser after all: the genuine callback, through gio open.
    scn.run_browser(
        &paths,
        authorize_url.trim(),
        &[
            ("ONRAMP_FAKE_BROWSER_DECISION", "accept"),
            ("ONRAMP_FAKE_BROWSER_OPENER", "gio"),
        ],
    );
    flows::wait_connected(&scn).await;
    assert!(scn.browser_log().contains("hand onramp:// to gio open"));
    scn.finish().await;
}

/// Waits until the app's log contains `text`.
async fn wait_for_log(scn: &Scenario, text: &str) {
    let path = scn.log_dir().join("onramp.log");
    for _ in 0..100 {
        if std::fs::read_to_string(&path).is_ok_and(|log| log.contains(text)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the log never said {text:?}:\n{}",
        std::fs::read_to_string(&path).unwrap_or_default()
    );
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
    assert!(
        !log.contains("callback page: HTTP 4"),
        "no request was refused: {log}"
    );
    scn.finish().await;
}

#[tokio::test]
async fn a_stray_request_to_the_loopback_listener_does_not_end_the_wait() {
    let mut scn = Scenario::start(
        &paths(),
        "stray-callback",
        &[("ONRAMP_FAKE_BROWSER_STRAY_FIRST", "1")],
    )
    .await;
    walk_to_authorize(&mut scn, Callback::Loopback).await;
    // The stray request is refused, and the real callback right after it still connects.
    flows::authorize(&mut scn).await;
    let log = scn.browser_log();
    assert!(
        log.contains("stray callback: HTTP 400") && log.contains("callback page: HTTP 200"),
        "the stray request was told it was not accepted, the real one to close the tab: {log}"
    );
    let app_log = std::fs::read_to_string(scn.log_dir().join("onramp.log")).unwrap();
    assert!(
        app_log.contains("callback refused and ignored"),
        "the stray request was refused: {app_log}"
    );
    scn.finish().await;
}

#[tokio::test]
async fn cancel_in_onramp_then_start_again_on_the_same_fixed_port() {
    let mut scn = Scenario::start(
        &paths(),
        "start-again",
        &[("ONRAMP_FAKE_BROWSER_DECISION", "ignore")],
    )
    .await;
    walk_to_authorize(&mut scn, Callback::Loopback).await;
    let s = scn.s();
    let waiting = "[data-testid=\"auth-status\"][data-stage=\"waiting\"]";
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    s.wait_for(waiting, SHORT).await.unwrap();
    s.click_css("[data-testid=\"cancel-auth\"]").await.unwrap();
    s.wait_for("[data-testid=\"auth-cancelled\"]", SHORT)
        .await
        .unwrap();
    // Straight away, on the same loopback port: the old listener is gone, the new one listens.
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    s.wait_for(waiting, SHORT).await.unwrap();
    assert!(
        s.find_all("[data-testid=\"error-card\"]")
            .await
            .unwrap()
            .is_empty(),
        "no error (such as a busy port) after starting again"
    );
    let page = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/callback", scn.loopback_port))
        .send()
        .await
        .expect("the new listener answers on the fixed port");
    assert_eq!(page.status(), 400, "a bare /callback is not accepted");
    scn.shot("started-again").await;
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

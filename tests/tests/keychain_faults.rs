//! Issue 10's fault matrix, keychain rows, in the real window with the real Secret Service (GNOME
//! Keyring in the suite's private D-Bus session): the keychain locked in the middle of the code
//! exchange, then in the middle of a refresh, then its daemon killed. Each time the window names the
//! keychain (not a generic error), nothing saved is lost, and the connection works again once the
//! keychain is back.
//!
//! The keychain is locked through the Secret Service API (`Service.Lock`), as a screen lock or the
//! user would; it is unlocked by starting the daemon again with the suite's password
//! (`gnome-keyring-daemon --replace --unlock`): headless, no unlock prompt can be answered. Nothing
//! in the suite's D-Bus activation environment has a display, so a prompt fails at once instead of
//! waiting on the screen.

use std::process::{Command, Stdio};
use std::time::Duration;

use onramp_e2e::flows::{self, Callback, SHORT};
use onramp_e2e::harness::{keychain_lookup, Paths, Scenario};
use serde_json::json;

/// The suite's keyring password (tests/e2e.sh).
const KEYRING_PASSWORD: &str = "onramp-e2e";
const LOGIN_COLLECTION: &str = "/org/freedesktop/secrets/collection/login";

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

fn gdbus(args: &[&str]) -> Option<String> {
    let out = Command::new("gdbus")
        .args(["call", "--session", "--dest", "org.freedesktop.secrets"])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn login_locked() -> Option<bool> {
    let answer = gdbus(&[
        "--object-path",
        LOGIN_COLLECTION,
        "--method",
        "org.freedesktop.DBus.Properties.Get",
        "org.freedesktop.Secret.Collection",
        "Locked",
    ])?;
    Some(answer.contains("true"))
}

fn lock_keychain() {
    gdbus(&[
        "--object-path",
        "/org/freedesktop/secrets",
        "--method",
        "org.freedesktop.Secret.Service.Lock",
        &format!("[objectpath '{LOGIN_COLLECTION}']"),
    ])
    .expect("the Secret Service locks the login collection");
    assert_eq!(login_locked(), Some(true));
}

/// Starts the keyring daemon again (replacing any running or D-Bus-activated one) and unlocks the
/// login keyring with the suite's password; its items are on disk and come back.
fn unlock_keychain() {
    use std::io::Write;
    let mut daemon = Command::new("gnome-keyring-daemon")
        .args(["--replace", "--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gnome-keyring-daemon starts");
    daemon
        .stdin
        .take()
        .unwrap()
        .write_all(KEYRING_PASSWORD.as_bytes())
        .unwrap();
    daemon.wait().unwrap();
    for _ in 0..100 {
        if login_locked() == Some(false) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the login keyring is still locked after restarting the daemon");
}

/// Leaves the keychain unlocked for the scenarios after this one, even when an assertion fails.
struct UnlockOnDrop;

impl Drop for UnlockOnDrop {
    fn drop(&mut self) {
        if login_locked() != Some(false) {
            unlock_keychain();
        }
    }
}

/// The keychain card the window shows, its code, and its text.
async fn keychain_error(scn: &Scenario) -> (String, String) {
    let s = scn.s();
    let card = s
        .wait_for(
            "[data-testid=\"error-card\"][data-code^=\"keychain\"]",
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\nfake browser log:\n{}", scn.browser_log()));
    let code = s
        .property(&card, "dataset")
        .await
        .unwrap()
        .get("code")
        .and_then(|c| c.as_str().map(str::to_string))
        .unwrap_or_default();
    (code, s.text(&card).await.unwrap())
}

/// Start-up makes no keychain round trip (issue 13): a locked keychain is named when step 2, where
/// the secret is typed, opens; once unlocked, opening step 2 again clears the warning.
#[tokio::test]
async fn a_locked_keychain_is_named_when_the_secret_step_opens() {
    let _unlock = UnlockOnDrop;
    lock_keychain();
    let mut scn = Scenario::start(&paths(), "keychain-locked-at-step-2", &[]).await;
    let s = scn.s();
    s.wait_for("[data-testid=\"step-providers\"]", SHORT)
        .await
        .unwrap();
    assert!(
        s.find("[data-testid=\"keychain-banner\"]").await.is_err(),
        "nothing is said before a step needs the keychain"
    );
    flows::pick_sandbox(&mut scn).await;
    let s = scn.s();
    let banner = s
        .wait_for("[data-testid=\"keychain-banner\"]", SHORT)
        .await
        .expect("step 2 names the locked keychain");
    let text = s.text(&banner).await.unwrap();
    assert!(text.contains("keychain is not available"), "{text}");
    scn.shot("keychain-locked-at-step-2").await;

    unlock_keychain();
    s.click_css("#back").await.unwrap();
    s.wait_for("[data-testid=\"step-providers\"]", SHORT)
        .await
        .unwrap();
    flows::next(&scn).await;
    s.wait_gone("[data-testid=\"keychain-banner\"]", SHORT)
        .await
        .expect("the warning goes once the keychain works");
}

#[tokio::test]
async fn a_keychain_locked_or_gone_mid_flow_is_named_and_loses_nothing() {
    let _unlock = UnlockOnDrop;
    let mut scn = Scenario::start(&paths(), "keychain-faults", &[]).await;
    flows::pick_sandbox(&mut scn).await;
    flows::console_step(&mut scn, Callback::Loopback).await;
    flows::next(&scn).await;
    flows::default_scopes(&mut scn).await;

    // 1. Locked during the code exchange: the token answer is held 3 s (the sandbox's slow
    //    switch); the keychain is locked as soon as the window shows "exchanging".
    scn.sandbox("faults", json!({"slow_ms": 3000})).await;
    let s = scn.s();
    s.wait_for("[data-testid=\"step-authorize\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    s.wait_for(
        "[data-testid=\"auth-status\"][data-stage=\"exchanging\"]",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nfake browser log:\n{}", scn.browser_log()));
    lock_keychain();
    let (code, text) = keychain_error(&scn).await;
    assert_eq!(code, "keychain", "{text}");
    assert!(text.contains("keychain refused"), "{text}");
    assert!(text.contains("Unlock your keychain"), "{text}");
    scn.shot("keychain-locked-during-exchange").await;
    scn.sandbox("faults", json!({})).await;

    // Unlocked: authorizing again connects; the client secret saved before the fault is intact.
    unlock_keychain();
    let id = scn.stored_integrations().await[0].id.clone();
    assert!(keychain_lookup(&format!("{id}/client_secret")).is_some());
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    flows::wait_connected(&scn).await;
    flows::next(&scn).await;
    flows::pick_site(&mut scn, 0).await;
    flows::next(&scn).await;
    flows::run_preset(&scn, "jira-myself", "200").await;
    let refresh_token = keychain_lookup(&format!("{id}/refresh_token")).expect("stored");

    // 2. Locked during a refresh: the stored refresh token cannot be read, so the provider is
    //    not asked and nothing rotates; the window says so and the connection stays connected.
    lock_keychain();
    let s = scn.s();
    s.click_css("[data-testid=\"refresh-now\"]").await.unwrap();
    let (code, text) = keychain_error(&scn).await;
    assert_eq!(code, "keychain", "{text}");
    scn.shot("keychain-locked-during-refresh").await;
    s.wait_for(
        "[data-testid=\"connection-state\"][data-state=\"connected\"]",
        SHORT,
    )
    .await
    .unwrap();
    unlock_keychain();
    assert_eq!(
        keychain_lookup(&format!("{id}/refresh_token")).as_deref(),
        Some(refresh_token.as_str()),
        "the refresh token is as it was"
    );
    s.click_css("[data-testid=\"refresh-now\"]").await.unwrap();
    s.wait_for("[data-testid=\"refresh-done\"]", SHORT)
        .await
        .unwrap();

    // 3. The daemon killed: D-Bus starts a new one on the next request, and without the password
    //    it stays locked. The window names the keychain; a daemon started with the password
    //    brings everything back.
    let killed = Command::new("pkill")
        .args(["-KILL", "-x", "gnome-keyring-d"])
        .status()
        .unwrap();
    assert!(killed.success(), "a keyring daemon was running");
    s.click_css("[data-testid=\"refresh-now\"]").await.unwrap();
    let (code, text) = keychain_error(&scn).await;
    assert!(
        code == "keychain" || code == "keychain_unavailable",
        "{code}: {text}"
    );
    scn.shot("keychain-daemon-killed").await;
    unlock_keychain();
    s.click_css("[data-testid=\"refresh-now\"]").await.unwrap();
    s.wait_for("[data-testid=\"refresh-done\"]", SHORT)
        .await
        .unwrap();
    flows::run_preset(&scn, "jira-myself", "200").await;

    // Every saved integration is still there, connected, with its site.
    let saved = scn.stored_integrations().await;
    assert_eq!(saved.len(), 1);
    assert!(saved[0].site.is_some());
    assert!(saved[0].connection.is_some());
    scn.finish().await;
}

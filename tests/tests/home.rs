//! The integrations home, in the real window: two integrations (one connected through the sandbox,
//! one not authorized), a restart (the sandbox connection then needs reconnecting: its grants ended
//! with the previous run), then the home lists both with their health; duplicate, delete
//! the copy (confirmed), rename inline, filter, open one at the step where it stands.

use std::time::Duration;

use onramp_e2e::flows::{self, next, Callback, SHORT};
use onramp_e2e::harness::{keychain_lookup, Paths, Scenario};

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

const ROW: &str = "[data-testid=\"home-row\"]";

fn row(id: &str, inner: &str) -> String {
    format!("{ROW}[data-id=\"{id}\"] [data-testid=\"{inner}\"]")
}

/// Waits until the home shows `n` rows.
async fn rows(scn: &Scenario, n: usize) {
    let deadline = std::time::Instant::now() + SHORT;
    loop {
        let found = scn.s().find_all(ROW).await.map(|r| r.len()).unwrap_or(0);
        if found == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the home shows {found} rows, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn open_home(scn: &Scenario) {
    scn.s()
        .click_css("[data-testid=\"home-button\"]")
        .await
        .unwrap();
    scn.s()
        .wait_for("[data-testid=\"home\"]", SHORT)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_home_lists_every_integration_with_its_health() {
    let paths = paths();
    let mut scn = Scenario::start(&paths, "home", &[]).await;

    // One integration connected through the sandbox…
    flows::pick_sandbox(&mut scn).await;
    flows::console_step(&mut scn, Callback::Loopback).await;
    next(&scn).await;
    flows::default_scopes(&mut scn).await;
    flows::authorize(&mut scn).await;

    // …and a second one, started from the home and left before the developer console.
    open_home(&scn).await;
    rows(&scn, 1).await;
    scn.s()
        .click_css("[data-testid=\"home-new\"]")
        .await
        .unwrap();
    flows::pick_sandbox(&mut scn).await;
    scn.s()
        .wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    let stored = scn.stored_integrations().await;
    assert_eq!(stored.len(), 2);
    let (connected, fresh) = (stored[0].id.clone(), stored[1].id.clone());

    // The next start reopens the last integration, as before; the home is one click away.
    let mut scn = scn.restart(&paths, &[]).await;
    scn.s()
        .wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    open_home(&scn).await;
    rows(&scn, 2).await;
    // The sandbox runs inside the app and its grants ended with the previous run: the home says so
    // (not "Connected"), and the user reconnects where the integration stands (step 4).
    let s = scn.s();
    s.wait_for(
        &format!("{ROW}[data-id=\"{connected}\"][data-health=\"needs_reconnect\"]"),
        SHORT,
    )
    .await
    .unwrap();
    let why = s.text_of(&row(&connected, "home-detail")).await.unwrap();
    assert!(
        why.contains("The sandbox restarted") && !why.contains("Atlassian"),
        "{why}"
    );
    scn.shot("home-after-restart").await;
    s.click_css(&row(&connected, "home-open")).await.unwrap();
    flows::authorize(&mut scn).await;
    open_home(&scn).await;
    rows(&scn, 2).await;
    let s = scn.s();
    s.wait_for(
        &format!("{ROW}[data-id=\"{connected}\"][data-health=\"connected\"]"),
        SHORT,
    )
    .await
    .unwrap();
    s.wait_for(
        &format!("{ROW}[data-id=\"{fresh}\"][data-health=\"not_authorized\"]"),
        SHORT,
    )
    .await
    .unwrap();
    let first = s.text_of(&row(&connected, "home-countdown")).await.unwrap();
    assert!(first.contains(':'), "the access token's countdown: {first}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = s.text_of(&row(&connected, "home-countdown")).await.unwrap();
    assert_ne!(first, later, "the countdown ticks");
    let age = s
        .text_of(&row(&connected, "home-refresh-age"))
        .await
        .unwrap();
    assert!(
        age.contains("Last refreshed today; expires in about 90 days unless used"),
        "{age}"
    );
    assert!(s
        .text_of(&row(&fresh, "home-health"))
        .await
        .unwrap()
        .contains("Not authorized"));
    assert!(
        s.find(&row(&fresh, "home-countdown")).await.is_err(),
        "no countdown without a token"
    );
    scn.shot("home").await;

    // Duplicate the connected one: a copy without site, secret or tokens.
    s.click_css(&row(&connected, "home-duplicate"))
        .await
        .unwrap();
    rows(&scn, 3).await;
    let stored = scn.stored_integrations().await;
    let copy = stored
        .iter()
        .find(|i| i.id != connected && i.id != fresh)
        .expect("the copy is stored");
    assert!(copy.name.ends_with("(copy)"), "{}", copy.name);
    assert!(copy.connection.is_none() && !copy.has_client_secret);
    assert!(keychain_lookup(&format!("{}/client_secret", copy.id)).is_none());
    let copy = copy.id.clone();
    s.wait_for(
        &format!("{ROW}[data-id=\"{copy}\"][data-health=\"not_authorized\"]"),
        SHORT,
    )
    .await
    .unwrap();

    // Delete the copy, after a confirmation that names what goes.
    s.click_css(&row(&copy, "home-delete")).await.unwrap();
    let confirm = s.text_of(&row(&copy, "home-confirm")).await.unwrap();
    assert!(
        confirm.contains("client secret") && confirm.contains("keychain"),
        "{confirm}"
    );
    scn.shot_of(&row(&copy, "home-confirm"), "delete-confirm")
        .await;
    s.click_css(&row(&copy, "home-confirm-delete"))
        .await
        .unwrap();
    rows(&scn, 2).await;
    assert_eq!(scn.stored_integrations().await.len(), 2);

    // Rename inline (Enter saves), then filter by name.
    s.click_css(&row(&fresh, "home-name")).await.unwrap();
    s.erase(&row(&fresh, "home-name")).await.unwrap();
    s.press_keys("Second one\u{E007}").await.unwrap();
    let deadline = std::time::Instant::now() + SHORT;
    while !scn
        .stored_integrations()
        .await
        .iter()
        .any(|i| i.id == fresh && i.name == "Second one")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the new name is saved"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    s.type_into("[data-testid=\"home-filter\"]", "second")
        .await
        .unwrap();
    rows(&scn, 1).await;
    s.find(&format!("{ROW}[data-id=\"{fresh}\"]"))
        .await
        .expect("the match is the renamed one");
    scn.shot("filtered").await;
    s.type_into("[data-testid=\"home-filter\"]", "nothing like it")
        .await
        .unwrap();
    rows(&scn, 0).await;
    s.wait_for("[data-testid=\"home-no-match\"]", SHORT)
        .await
        .unwrap();
    s.erase("[data-testid=\"home-filter\"]").await.unwrap();
    rows(&scn, 2).await;

    // Open the connected one: the wizard at the step where it stands (a site to pick).
    s.click_css(&row(&connected, "home-open")).await.unwrap();
    s.wait_for("[data-testid=\"step-sites\"]", SHORT)
        .await
        .unwrap();
    scn.shot("opened").await;
    scn.finish().await;
}

/// A refresh that keeps failing, then a revoked grant, seen live on the home: "refresh failing"
/// with the next try, then "needs reconnect" with the reason.
#[tokio::test]
async fn the_home_follows_a_failing_refresh_then_a_revoked_grant() {
    let paths = paths();
    let mut scn = Scenario::start(&paths, "home-health", &[]).await;
    // Access tokens that live 20 s: the background refresh is due after about 16 s.
    scn.sandbox("access-token-ttl", serde_json::json!({"seconds": 20}))
        .await;
    flows::connect_and_test(&mut scn, Callback::Loopback).await;
    let id = scn.stored_integrations().await[0].id.clone();
    // The token endpoint goes down: every refresh fails (503), which is worth retrying later.
    scn.sandbox("faults", serde_json::json!({"token_unavailable_next": 100}))
        .await;
    open_home(&scn).await;
    let s = scn.s();
    let this_row = format!("{ROW}[data-id=\"{id}\"]");
    s.wait_for(&format!("{this_row}[data-health=\"connected\"]"), SHORT)
        .await
        .unwrap();
    // Live: the home is not reopened; the background refresh fails and the row follows.
    s.wait_for(
        &format!("{this_row}[data-health=\"refresh_failing\"]"),
        Duration::from_secs(40),
    )
    .await
    .unwrap();
    let next_try = s.text_of(&row(&id, "home-next-retry")).await.unwrap();
    assert!(
        next_try.starts_with("in ") && next_try.contains(':'),
        "the next try: {next_try}"
    );
    let health = s.text_of(&row(&id, "home-health")).await.unwrap();
    assert!(health.to_lowercase().contains("refresh"), "{health}");
    scn.shot("refresh-failing").await;

    // Then the grant is refused outright: once the access token has expired, the next call's
    // refresh gets invalid_grant and the connection needs a new authorization.
    scn.sandbox(
        "faults",
        serde_json::json!({"invalid_grant_next_refresh": true}),
    )
    .await;
    s.wait_for_text(
        &row(&id, "home-countdown"),
        "expired",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    s.click_css(&row(&id, "home-open")).await.unwrap();
    s.wait_for("[data-testid=\"step-requests\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"run-test\"]").await.unwrap();
    s.wait_for_text(
        "[data-testid=\"needs-reconnect\"]",
        "invalid_grant",
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    open_home(&scn).await;
    s.wait_for(
        &format!("{this_row}[data-health=\"needs_reconnect\"]"),
        SHORT,
    )
    .await
    .unwrap();
    let reason = s.text_of(&row(&id, "home-detail")).await.unwrap();
    assert!(reason.contains("invalid_grant"), "the reason: {reason}");
    assert!(
        s.find(&row(&id, "home-next-retry")).await.is_err(),
        "no retry is planned once the grant is refused"
    );
    scn.shot("needs-reconnect").await;
    scn.finish().await;
}

/// Many integrations (written by a second process, as the command line would): the home lists them
/// all, the last one can be scrolled to and opened, and the filter narrows by provider.
#[tokio::test]
async fn the_home_scrolls_and_filters_many_integrations() {
    const PROVIDERS: [&str; 4] = ["jira", "confluence", "atlassian", "sandbox"];
    const COUNT: usize = 24;
    let paths = paths();
    let scn = Scenario::start(&paths, "home-many", &[]).await;
    scn.s()
        .wait_for("[data-testid=\"step-providers\"]", SHORT)
        .await
        .unwrap();
    // A half-filled custom-provider form holds Next (it would be dropped), saying why.
    let s = scn.s();
    s.click_css("[data-testid=\"provider-custom-new\"]")
        .await
        .unwrap();
    s.type_into("#custom-name", "Half typed").await.unwrap();
    s.wait_for_text("[data-testid=\"next-reason\"]", "custom provider", SHORT)
        .await
        .unwrap();
    let next_button = s.find("#next").await.unwrap();
    assert_eq!(
        s.property(&next_button, "disabled").await.unwrap(),
        serde_json::json!(true),
        "Next waits for the open form"
    );
    scn.shot("custom-form-holds-next").await;
    s.click_css("[data-testid=\"custom-cancel\"]")
        .await
        .unwrap();
    s.wait_gone("[data-testid=\"custom-provider-form\"]", SHORT)
        .await
        .unwrap();
    let next_button = s.find("#next").await.unwrap();
    assert_eq!(
        s.property(&next_button, "disabled").await.unwrap(),
        serde_json::json!(false)
    );
    let db = onramp_core::store::path_in(&scn.config_dir());
    let store = onramp_core::store::Store::open(&db, None).store;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for n in 0..COUNT {
        store
            .insert_integration(onramp_core::store::Integration {
                id: format!("seeded-{n:02}"),
                name: format!("Team {n:02}"),
                provider_id: PROVIDERS[n % PROVIDERS.len()].to_string(),
                client_id: String::new(),
                callback: onramp_core::model::CallbackSettings {
                    kind: onramp_core::model::CallbackKind::Loopback,
                    loopback_port: scn.loopback_port,
                },
                scopes: vec!["read:me".into()],
                console_done: Vec::new(),
                site: None,
                connection: None,
                handed_off: None,
                has_client_secret: false,
                client_secret_revision: 0,
                scopes_reviewed: false,
                sandbox_instance: None,
                history: Vec::new(),
                created_at: now + n as i64,
                updated_at: now + n as i64,
            })
            .await
            .unwrap();
    }
    open_home(&scn).await;
    rows(&scn, COUNT).await;
    let last = format!("seeded-{:02}", COUNT - 1);
    let geometry = s
        .execute(
            "const el = document.querySelector(arguments[0]);
             const before = el.getBoundingClientRect().top;
             el.scrollIntoView({block: 'center'});
             const after = el.getBoundingClientRect();
             return [before, after.top, after.bottom, window.innerHeight];",
            vec![serde_json::json!(format!("{ROW}[data-id=\"{last}\"]"))],
        )
        .await
        .unwrap();
    let g: Vec<f64> = serde_json::from_value(geometry).unwrap();
    assert!(
        g[0] > g[3],
        "the last row starts below the window before scrolling: {g:?}"
    );
    assert!(
        g[1] >= 0.0 && g[1] < g[3],
        "after scrolling the last row is in the window: {g:?}"
    );
    scn.shot("many-scrolled").await;

    // The filter narrows by provider name ("Confluence Cloud" is only the Confluence provider).
    s.type_into("[data-testid=\"home-filter\"]", "confluence cloud")
        .await
        .unwrap();
    rows(&scn, COUNT / PROVIDERS.len()).await;
    for r in s.find_all(ROW).await.unwrap() {
        let provider = s.text(&r).await.unwrap();
        assert!(provider.contains("Confluence Cloud"), "{provider}");
    }
    s.erase("[data-testid=\"home-filter\"]").await.unwrap();
    rows(&scn, COUNT).await;

    // The last one opens in the wizard, on its own step (its client ID is still to be given).
    s.click_css(&row(&last, "home-open")).await.unwrap();
    s.wait_for(
        &format!("[data-testid=\"integration-name\"][data-id=\"{last}\"]"),
        SHORT,
    )
    .await
    .unwrap();
    s.wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    scn.finish().await;
}

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

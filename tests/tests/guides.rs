//! Issue 4 in the real window: the console checklist (saved with the integration), the scope picker
//! (search, preset, offline_access guard) and "requested vs granted" when the sandbox grants less.

use std::time::Duration;

use onramp_e2e::flows::{self, checked, next, Callback, SHORT};
use onramp_e2e::harness::{Paths, Scenario};
use serde_json::json;

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

fn displayed_scope(name: &str) -> String {
    format!("input[data-scope=\"{name}\"]")
}

#[tokio::test]
async fn console_guide_scope_picker_and_requested_vs_granted() {
    let mut scn = Scenario::start(&paths(), "guides", &[]).await;
    flows::pick_sandbox(&mut scn).await;

    // Step 2: tick the whole checklist; the progress is saved with the integration.
    let s = scn.s();
    s.wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    let steps = s
        .find_all("input[data-testid^=\"console-step-\"]")
        .await
        .unwrap();
    assert!(steps.len() >= 4, "the sandbox guide has its steps");
    for step in &steps {
        s.click(step).await.unwrap();
    }
    let total = steps.len().to_string();
    s.wait_for_text(
        "[data-testid=\"console-progress\"]",
        &format!("{total} of {total}"),
        SHORT,
    )
    .await
    .unwrap();
    s.wait_for("[data-testid=\"callback-traps\"]", SHORT)
        .await
        .unwrap();
    let traps = s.text_of("[data-testid=\"callback-traps\"]").await.unwrap();
    assert!(
        traps.contains("localhost"),
        "the 127.0.0.1 vs localhost trap is spelled out: {traps}"
    );
    flows::console_step(&mut scn, Callback::Loopback).await;
    // The exact callback URL can be copied for the console.
    let s = scn.s();
    s.click_css("[data-testid=\"copy-callback\"]")
        .await
        .unwrap();
    s.wait_for_text("[data-testid=\"copy-callback\"]", "Copied", SHORT)
        .await
        .unwrap();
    scn.shot("console-checklist").await;
    next(&scn).await;

    // Step 3: search, preset, the offline_access guard.
    let s = scn.s();
    s.wait_for("[data-testid=\"step-scopes\"]", SHORT)
        .await
        .unwrap();
    s.wait_for("[data-testid=\"console-reminder\"]", SHORT)
        .await
        .unwrap();
    s.type_into("#scope-search", "read:page").await.unwrap();
    s.wait_for(&displayed_scope("read:page:confluence"), SHORT)
        .await
        .unwrap();
    s.wait_gone(&displayed_scope("read:jira-work"), SHORT)
        .await
        .unwrap();
    scn.shot("scope-search").await;
    s.type_into("#scope-search", "no-such-scope-anywhere")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"scope-no-match\"]", SHORT)
        .await
        .unwrap();
    s.erase("#scope-search").await.unwrap();
    s.click_css("[data-testid=\"preset-read-only-smoke\"]")
        .await
        .unwrap();
    s.wait_for_text("[data-testid=\"scope-count\"]", "6", SHORT)
        .await
        .unwrap();
    for scope in [
        "offline_access",
        "read:me",
        "read:jira-user",
        "read:jira-work",
        "read:space:confluence",
        "read:page:confluence",
    ] {
        assert!(
            checked(&scn, &displayed_scope(scope)).await,
            "{scope} in the read-only preset"
        );
    }
    assert!(
        !checked(&scn, &displayed_scope("write:jira-work")).await,
        "the read-only preset writes nothing"
    );
    // Without offline_access no refresh token: the guard says so, and goes away when it is back.
    s.click_css(&displayed_scope("offline_access"))
        .await
        .unwrap();
    s.wait_for("[data-testid=\"warn-offline-access\"]", SHORT)
        .await
        .unwrap();
    scn.shot_of(
        "[data-testid=\"warn-offline-access\"]",
        "offline-access-warning",
    )
    .await;
    s.click_css(&displayed_scope("offline_access"))
        .await
        .unwrap();
    s.wait_gone("[data-testid=\"warn-offline-access\"]", SHORT)
        .await
        .unwrap();
    next(&scn).await;

    // The sandbox grants less than asked; the wizard shows what is missing and what it disables.
    scn.sandbox("withheld-scopes", json!(["read:page:confluence"]))
        .await;
    flows::authorize(&mut scn).await;
    let s = scn.s();
    s.wait_for("[data-testid=\"scope-report\"]", SHORT)
        .await
        .unwrap();
    let summary = s
        .wait_for_text("[data-testid=\"scope-report-summary\"]", "1", SHORT)
        .await
        .unwrap();
    assert!(summary.to_lowercase().contains("not granted"), "{summary}");
    let row = s
        .text_of("tr[data-report-scope=\"read:page:confluence\"]")
        .await
        .unwrap();
    assert!(
        row.contains("Confluence v2: first page"),
        "the missing scope's effect is named: {row}"
    );
    let granted_row = s
        .text_of("tr[data-report-scope=\"read:jira-user\"]")
        .await
        .unwrap();
    assert!(!granted_row.contains("Disables"), "{granted_row}");
    scn.shot_of("[data-testid=\"scope-report\"]", "requested-vs-granted")
        .await;

    // The checklist was saved with the integration.
    let stored = scn.stored_integrations().await;
    assert_eq!(stored[0].console_done.len(), steps.len());
    tokio::time::sleep(Duration::from_millis(100)).await;
    scn.finish().await;
}

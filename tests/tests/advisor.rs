//! Issue 11 in the real window: "what do I need to call X?". On step 3 the endpoint picker proposes
//! the smallest scope set for two chosen operations and applies it; on step 6 the API console says,
//! while a path is typed, what its endpoint needs and whether the sandbox connection has it.

use onramp_e2e::flows::{self, next, Callback, SHORT};
use onramp_e2e::harness::{Paths, Scenario};
use onramp_e2e::webdriver::Session;
use serde_json::Value;

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

/// The `data-scope` of every element matching `css`, in page order.
async fn scopes_of(s: &Session, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in s.find_all(css).await.unwrap() {
        let dataset = s.property(&e, "dataset").await.unwrap();
        out.push(dataset["scope"].as_str().unwrap_or_default().to_string());
    }
    out
}

/// Sets a `<select>` as a user's pick would (a change event for Svelte's binding).
async fn choose(s: &Session, css: &str, value: &str) {
    let select = s.wait_for(css, SHORT).await.unwrap();
    s.execute(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![select.to_json(), Value::String(value.into())],
    )
    .await
    .unwrap();
}

/// Step 3: two operations chosen (one with the keyboard, one with the mouse); the proposal names
/// the scopes each needs and replaces the selection, keeping offline_access.
async fn pick_operations_and_apply(scn: &mut Scenario) {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-scopes\"]", SHORT)
        .await
        .unwrap();
    s.type_into("#op-search", "get issue").await.unwrap();
    let get_issue = "#op-results li[data-operation=\"GET /rest/api/3/issue/{issueIdOrKey}\"]";
    s.wait_for(&format!("{get_issue}.active"), SHORT)
        .await
        .unwrap_or_else(|e| panic!("the closest match is first and active: {e}"));
    // Enter adds the active result: the list is usable without a mouse.
    s.press_keys("\u{E007}").await.unwrap();
    s.wait_for(
        "[data-testid=\"chosen-operations\"] li[data-operation=\"GET /rest/api/3/issue/{issueIdOrKey}\"]",
        SHORT,
    )
    .await
    .unwrap();
    s.type_into("#op-search", "getPageById").await.unwrap();
    let page = "#op-results li[data-operation=\"GET /wiki/api/v2/pages/{id}\"]";
    s.wait_for(page, SHORT).await.unwrap();
    s.click_css(page).await.unwrap();
    // Classic where the API accepts it: Jira's classic scope, Confluence v2's granular one.
    s.wait_for(
        "[data-testid=\"proposed-scope\"][data-scope=\"read:page:confluence\"]",
        SHORT,
    )
    .await
    .unwrap();
    let proposed = scopes_of(s, "[data-testid=\"proposed-scope\"]").await;
    assert_eq!(proposed, ["read:jira-work", "read:page:confluence"]);
    let explained = s
        .text_of("[data-testid=\"proposed-scope\"][data-scope=\"read:jira-work\"]")
        .await
        .unwrap();
    assert!(
        explained.contains("GET /rest/api/3/issue/{issueIdOrKey}"),
        "each scope names the operation that needs it: {explained}"
    );
    scn.shot_of("[data-testid=\"operation-picker\"]", "operation-picker")
        .await;
    let s = scn.s();
    s.click_css("[data-testid=\"apply-proposal\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"proposal-applied\"]", SHORT)
        .await
        .unwrap();
    for (scope, on) in [
        ("offline_access", true),
        ("read:jira-work", true),
        ("read:page:confluence", true),
        ("read:jira-user", false),
    ] {
        assert_eq!(
            flows::checked(scn, &format!("input[data-scope=\"{scope}\"]")).await,
            on,
            "{scope} after applying the proposal"
        );
    }
    next(scn).await;
}

/// Step 6, custom request: the advice follows the typed method and path.
async fn advice_while_typing(scn: &mut Scenario) {
    let s = scn.s();
    s.wait_for("[data-testid=\"step-requests\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"mode-custom\"]").await.unwrap();
    choose(s, "#req-product", "jira").await;
    s.type_into("#req-path", "/rest/api/3/issue/ONR-1")
        .await
        .unwrap();
    let verdict = s
        .wait_for_text(
            "[data-testid=\"endpoint-verdict\"][data-verdict=\"classic\"]",
            "cover",
            SHORT,
        )
        .await
        .unwrap_or_else(|e| panic!("read:jira-work covers GET issue: {e}"));
    assert!(verdict.contains("classic"), "{verdict}");
    s.wait_for(
        "[data-testid=\"endpoint-classic\"] [data-endpoint-scope=\"read:jira-work\"][data-granted=\"true\"]",
        SHORT,
    )
    .await
    .unwrap();
    let operation = s
        .text_of("[data-testid=\"endpoint-operation\"]")
        .await
        .unwrap();
    assert!(operation.contains("Get issue"), "{operation}");
    scn.shot_of("[data-testid=\"custom-request\"]", "endpoint-satisfied")
        .await;

    let s = scn.s();
    choose(s, "#req-method", "POST").await;
    s.type_into("#req-path", "/rest/api/3/issue").await.unwrap();
    s.wait_for(
        "[data-testid=\"endpoint-classic\"] [data-endpoint-scope=\"write:jira-work\"][data-granted=\"false\"]",
        SHORT,
    )
    .await
    .unwrap_or_else(|e| panic!("write:jira-work is marked missing: {e}"));
    let missing = s
        .wait_for_text(
            "[data-testid=\"endpoint-missing\"]",
            "write:jira-work",
            SHORT,
        )
        .await
        .unwrap();
    assert!(missing.contains("Missing"), "{missing}");
    scn.shot_of("[data-testid=\"custom-request\"]", "endpoint-missing")
        .await;

    let s = scn.s();
    s.type_into("#req-path", "/rest/api/3/not-an-endpoint")
        .await
        .unwrap();
    let unknown = s
        .wait_for_text(
            "[data-testid=\"endpoint-unknown\"]",
            "not an operation in Atlassian's published specs",
            SHORT,
        )
        .await
        .unwrap();
    assert!(unknown.contains("/rest/api/3/not-an-endpoint"), "{unknown}");
}

#[tokio::test]
async fn scope_picker_proposes_and_console_advises_against_the_grant() {
    let mut scn = Scenario::start(&paths(), "advisor", &[]).await;
    flows::pick_sandbox(&mut scn).await;
    flows::console_step(&mut scn, Callback::Loopback).await;
    next(&scn).await;
    pick_operations_and_apply(&mut scn).await;
    flows::authorize(&mut scn).await;
    next(&scn).await;
    flows::pick_site(&mut scn, 0).await;
    next(&scn).await;
    advice_while_typing(&mut scn).await;
    // The sandbox granted what the proposal asked for: the JQL count preset (read:jira-work, a POST
    // that only reads, so no confirmation) works.
    let s = scn.s();
    s.click_css("[data-testid=\"mode-presets\"]").await.unwrap();
    let body = flows::run_preset(&scn, "jira-approximate-count", "200").await;
    assert!(body.contains("count"), "{body}");
    scn.finish().await;
}

//! The preflight against the in-app sandbox, in the real window: a wrong secret is rejected at the
//! token endpoint before any browser opens; the right one is accepted, and authorizing then works.
//! Run by `tests/e2e.sh`.

use onramp_e2e::flows::{self, next, wait_connected, SHORT};
use onramp_e2e::harness::{Paths, Scenario};

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

/// The lines of Onramp's log that record a check before authorizing.
fn checks_before_authorizing(scn: &Scenario) -> usize {
    std::fs::read_to_string(scn.log_dir().join("onramp.log"))
        .unwrap_or_default()
        .matches("token endpoint checked before authorizing")
        .count()
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_before_the_browser_opens() {
    let mut scn = Scenario::start(&paths(), "preflight", &[]).await;
    flows::pick_sandbox(&mut scn).await;
    let s = scn.s();
    s.wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"callback-kind-loopback\"]")
        .await
        .unwrap();
    let client_id = s
        .text_of("[data-testid=\"sandbox-client-id\"]")
        .await
        .unwrap()
        .trim()
        .to_string();
    s.type_into("#client-id", &client_id).await.unwrap();
    s.type_into("#client-secret", "sbx_secret_that_is_wrong")
        .await
        .unwrap();
    s.click_css("[data-testid=\"save-credentials\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"secret-saved\"]", SHORT)
        .await
        .unwrap();
    next(&scn).await;
    flows::default_scopes(&mut scn).await;
    let s = scn.s();

    // Step 4: never checked, so the token endpoint is asked first; it refuses, the browser stays closed.
    s.wait_for("[data-testid=\"step-authorize\"]", SHORT)
        .await
        .unwrap();
    s.wait_for_text(
        "[data-testid=\"authorize-precheck\"]",
        "Before the browser opens",
        SHORT,
    )
    .await
    .unwrap();
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    let card = s
        .wait_for_text(
            "[data-testid=\"error-card\"][data-code=\"credentials_rejected\"]",
            "The browser was not opened",
            SHORT,
        )
        .await
        .unwrap();
    assert!(
        card.contains("The sandbox rejected the client ID and secret"),
        "{card}"
    );
    assert!(
        card.contains("401, access_denied: Unauthorized"),
        "the answer is shown: {card}"
    );
    assert!(card.contains("What to do"), "{card}");
    s.wait_for(
        "[data-testid=\"auth-status\"][data-stage=\"failed\"]",
        SHORT,
    )
    .await
    .unwrap();
    assert!(
        s.find_all("[data-testid=\"authorize-url\"]")
            .await
            .unwrap()
            .is_empty(),
        "no authorization started"
    );
    assert!(
        scn.browser_log().trim().is_empty(),
        "no browser opened: {}",
        scn.browser_log()
    );
    assert_eq!(checks_before_authorizing(&scn), 1);
    scn.shot("preflight-rejected").await;
    let s = scn.s();

    // Step 2 again: the right secret, then "Check these credentials".
    s.click_css("[data-testid=\"progress-registration\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    s.wait_for(
        "[data-testid=\"probe-token\"][data-verdict=\"rejected\"]",
        SHORT,
    )
    .await
    .expect("step 2 shows the last check");
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
    s.type_into("#client-secret", &client_secret).await.unwrap();
    s.click_css("[data-testid=\"save-credentials\"]")
        .await
        .unwrap();
    s.wait_gone("[data-testid=\"credential-check\"]", SHORT)
        .await
        .expect("a new secret makes the last check stale");
    s.click_css("[data-testid=\"check-credentials\"]")
        .await
        .unwrap();
    let token = s
        .wait_for(
            "[data-testid=\"probe-token\"][data-verdict=\"accepted\"]",
            SHORT,
        )
        .await
        .unwrap();
    let token = s.text(&token).await.unwrap();
    assert!(
        token.contains("accepted the client ID and secret"),
        "{token}"
    );
    assert!(
        token.contains("Does not show"),
        "what it does not prove: {token}"
    );
    let authorize = s
        .wait_for(
            "[data-testid=\"probe-authorize\"][data-verdict=\"inconclusive\"]",
            SHORT,
        )
        .await
        .unwrap();
    assert!(
        s.text(&authorize).await.unwrap().contains("consent page"),
        "the sandbox shows its consent page before anything else"
    );
    scn.shot_of("[data-testid=\"preflight\"]", "preflight-accepted")
        .await;
    let s = scn.s();
    assert!(scn.browser_log().trim().is_empty(), "still no browser");

    // Checked and accepted: authorizing asks the token endpoint no more, and connects.
    s.click_css("[data-testid=\"progress-authorize\"]")
        .await
        .unwrap();
    s.wait_for_text(
        "[data-testid=\"authorize-precheck\"]",
        "Credentials checked",
        SHORT,
    )
    .await
    .unwrap();
    s.click_css("[data-testid=\"authorize\"]").await.unwrap();
    wait_connected(&scn).await;
    assert_eq!(checks_before_authorizing(&scn), 1, "not checked again");
    scn.finish().await;
}

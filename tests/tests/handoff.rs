//! Step 7, the hand-off, in the real window against the in-app sandbox: `.env` without and with the
//! client secret, a runnable program, the team definition (export, a bad file, import), and the push
//! to the sandbox's Nango look-alike (a wrong key first, then "handed off").
//! The file dialogs are replaced by `ONRAMP_SAVE_PATH_FOR_TESTS` (a directory) and
//! `ONRAMP_OPEN_PATH_FOR_TESTS` (the file to import).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use onramp_e2e::flows::{self, next, Callback, SANDBOX_USER, SHORT};
use onramp_e2e::harness::{keychain_lookup, repo_root, Paths, Scenario};

fn paths() -> Paths {
    Paths::discover(env!("CARGO_BIN_EXE_fake-browser"))
}

/// The one file in `dir` whose name ends with `suffix`.
fn saved_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {suffix} file in {}: {found:?}",
        dir.display()
    );
    found[0].clone()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn hand_off_files_definition_and_push_to_nango() {
    let files = repo_root().join("target/e2e/handoff-files");
    let _ = std::fs::remove_dir_all(&files);
    std::fs::create_dir_all(&files).unwrap();
    let import_from = files.join("import").join("team.definition.json");
    std::fs::create_dir_all(import_from.parent().unwrap()).unwrap();
    let mut scn = Scenario::start(
        &paths(),
        "handoff",
        &[
            ("ONRAMP_SAVE_PATH_FOR_TESTS", files.to_str().unwrap()),
            ("ONRAMP_OPEN_PATH_FOR_TESTS", import_from.to_str().unwrap()),
        ],
    )
    .await;
    flows::connect_and_test(&mut scn, Callback::Loopback).await;
    next(&scn).await;
    let s = scn.s();
    s.wait_for("[data-testid=\"step-handoff\"]", SHORT)
        .await
        .unwrap();
    assert_eq!(
        s.text_of("[data-testid=\"progress-requests\"] .num")
            .await
            .unwrap()
            .trim(),
        "✓",
        "a test call ran: step 6 is ticked"
    );
    let stored = scn.stored_integrations().await;
    let id = stored[0].id.clone();
    let cloud_id = stored[0]
        .site
        .as_ref()
        .expect("a site is picked")
        .id
        .clone();
    let client_secret =
        keychain_lookup(&format!("{id}/client_secret")).expect("client secret in the keychain");

    // (a) .env without the secret: the default.
    let preview = s
        .wait_for_text(
            "[data-testid=\"handoff-preview\"]",
            "ONRAMP_CLIENT_ID",
            SHORT,
        )
        .await
        .unwrap();
    assert!(!preview.contains(&client_secret), "no secret by default");
    s.click_css("[data-testid=\"handoff-save\"]").await.unwrap();
    s.wait_for_text("[data-testid=\"handoff-saved\"]", "Saved to", SHORT)
        .await
        .unwrap();
    let env = saved_file(&files, ".env");
    let text = std::fs::read_to_string(&env).unwrap();
    assert!(text.contains(&cloud_id), "the .env has the cloudId: {text}");
    assert!(!text.contains(&client_secret), "no secret in the file");
    scn.shot_of("[data-testid=\"handoff-files\"]", "handoff-env")
        .await;

    // ... and with the secret, chosen explicitly: the file says so and is 0600.
    s.click_css("[data-testid=\"handoff-include-secret\"]")
        .await
        .unwrap();
    s.wait_for_text("[data-testid=\"handoff-secret-note\"]", "0600", SHORT)
        .await
        .unwrap();
    // The preview that would show the secret stays hidden until asked (and out of this screenshot).
    s.wait_for("[data-testid=\"handoff-preview-hidden\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"handoff-save\"]").await.unwrap();
    s.wait_for_text("[data-testid=\"handoff-saved\"]", "0600", SHORT)
        .await
        .unwrap();
    let text = std::fs::read_to_string(&env).unwrap();
    assert!(
        text.contains(&client_secret),
        "the secret is in the file now"
    );
    assert_eq!(mode(&env), 0o600, "a file with the secret is 0600");
    scn.shot_of("[data-testid=\"handoff-files\"]", "handoff-env-secret")
        .await;
    // JSON: a preview in the other format.
    s.click_css("[data-testid=\"handoff-include-secret\"]")
        .await
        .unwrap();
    s.click_css("[data-testid=\"handoff-format-json\"]")
        .await
        .unwrap();
    s.wait_for_text("[data-testid=\"handoff-preview\"]", "onramp.handoff", SHORT)
        .await
        .unwrap();

    // (b) the Python program, with the variables it needs.
    s.click_css("[data-testid=\"snippet-tab-python\"]")
        .await
        .unwrap();
    s.wait_for_text("[data-testid=\"snippet-code\"]", "python3", SHORT)
        .await
        .unwrap();
    let vars = s.text_of("[data-testid=\"snippet-env\"]").await.unwrap();
    assert!(vars.contains("ONRAMP_CLIENT_SECRET"), "{vars}");
    scn.shot_of("[data-testid=\"handoff-snippets\"]", "handoff-snippet")
        .await;

    // (c) the team definition: export, a bad file refused, then the real one imported.
    s.click_css("[data-testid=\"definition-export\"]")
        .await
        .unwrap();
    s.wait_for_text(
        "[data-testid=\"definition-message\"]",
        "Definition saved",
        SHORT,
    )
    .await
    .unwrap();
    let definition = saved_file(&files, ".definition.json");
    let text = std::fs::read_to_string(&definition).unwrap();
    assert!(text.contains("onramp.definition"), "{text}");
    assert!(!text.contains(&client_secret) && !text.contains(&cloud_id));
    std::fs::write(&import_from, "{ not a definition").unwrap();
    s.click_css("[data-testid=\"definition-import\"]")
        .await
        .unwrap();
    s.wait_for(
        "[data-testid=\"team-definition\"] [data-testid=\"error-card\"]",
        SHORT,
    )
    .await
    .unwrap();
    assert_eq!(
        scn.stored_integrations().await.len(),
        1,
        "a bad file changes nothing"
    );
    std::fs::copy(&definition, &import_from).unwrap();
    s.click_css("[data-testid=\"definition-import\"]")
        .await
        .unwrap();
    s.wait_for_text(
        "[data-testid=\"definition-imported\"]",
        "new integration",
        SHORT,
    )
    .await
    .unwrap();
    let all = scn.stored_integrations().await;
    assert_eq!(all.len(), 2, "the import created a second integration");
    let imported = all.iter().find(|i| i.id != id).unwrap().clone();
    assert!(imported.connection.is_none() && !imported.has_client_secret);
    scn.shot_of("[data-testid=\"team-definition\"]", "handoff-definition")
        .await;

    // (d) push to the sandbox's Nango: prefilled with its address.
    let base = s.find("[data-testid=\"nango-base-url\"]").await.unwrap();
    let base = s.property(&base, "value").await.unwrap();
    assert_eq!(
        base.as_str().unwrap(),
        format!("http://127.0.0.1:{}/nango", scn.sandbox_port)
    );
    // A wrong key: the engine's words, and Onramp's tokens untouched.
    s.type_into("[data-testid=\"nango-secret-key\"]", "not-the-key")
        .await
        .unwrap();
    s.click_css("[data-testid=\"nango-push-start\"]")
        .await
        .unwrap();
    s.wait_for_text(
        "[data-testid=\"nango-confirm\"]",
        "One refresher only",
        SHORT,
    )
    .await
    .unwrap();
    s.click_css("[data-testid=\"nango-confirm-yes\"]")
        .await
        .unwrap();
    s.wait_for(
        "[data-testid=\"nango-push\"] [data-testid=\"error-card\"]",
        flows::AUTH,
    )
    .await
    .unwrap();
    assert!(
        keychain_lookup(&format!("{id}/refresh_token")).is_some(),
        "a failed push leaves the refresh token"
    );
    scn.shot_of("[data-testid=\"nango-push\"]", "nango-wrong-key")
        .await;
    // The right key, kept in the keychain only.
    s.type_into(
        "[data-testid=\"nango-secret-key\"]",
        onramp_sandbox::NANGO_SECRET_KEY,
    )
    .await
    .unwrap();
    s.click_css("[data-testid=\"nango-push-start\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"nango-confirm\"]", SHORT)
        .await
        .unwrap();
    scn.shot_of("[data-testid=\"nango-confirm\"]", "nango-confirm")
        .await;
    s.click_css("[data-testid=\"nango-confirm-yes\"]")
        .await
        .unwrap();
    let handed = s
        .wait_for_text(
            "[data-testid=\"handed-off\"]",
            "Handed off to Nango",
            flows::AUTH,
        )
        .await
        .unwrap();
    assert!(handed.contains("/nango"), "where: {handed}");
    scn.shot_of("[data-testid=\"handed-off\"]", "handed-off")
        .await;
    assert_eq!(
        keychain_lookup(&format!("{id}/nango_secret_key")).as_deref(),
        Some(onramp_sandbox::NANGO_SECRET_KEY)
    );
    assert!(
        keychain_lookup(&format!("{id}/refresh_token")).is_none(),
        "the refresh token is gone from the keychain: Nango is the one refresher"
    );
    assert!(
        keychain_lookup(&format!("{id}/access_token")).is_some(),
        "the access token is kept"
    );
    let stored = scn.stored_integrations().await;
    let mine = stored.iter().find(|i| i.id == id).unwrap();
    assert!(mine.handed_off.is_some(), "handed_off is recorded");

    // The access token stays usable until it expires (only refreshing is handed off).
    s.click_css("#back").await.unwrap();
    let body = flows::run_preset(&scn, "jira-myself", "200").await;
    assert!(body.contains(SANDBOX_USER), "{body}");

    // The home shows it handed off (where and when) beside the imported one, not authorized. The
    // last step ends with Done, which goes there.
    next(&scn).await;
    s.wait_for("[data-testid=\"step-handoff\"]", SHORT)
        .await
        .unwrap();
    s.click_css("[data-testid=\"done\"]").await.unwrap();
    s.wait_for("[data-testid=\"home\"]", SHORT).await.unwrap();
    let row = format!("[data-testid=\"home-row\"][data-id=\"{id}\"]");
    s.wait_for(&format!("{row}[data-health=\"handed_off\"]"), SHORT)
        .await
        .unwrap();
    let where_to = s
        .text_of(&format!("{row} [data-testid=\"home-handed-off\"]"))
        .await
        .unwrap();
    assert!(
        where_to.contains(&format!("127.0.0.1:{}/nango", scn.sandbox_port)),
        "where: {where_to}"
    );
    s.wait_for(
        &format!(
            "[data-testid=\"home-row\"][data-id=\"{}\"][data-health=\"not_authorized\"]",
            imported.id
        ),
        SHORT,
    )
    .await
    .unwrap();
    scn.shot("home-handed-off").await;

    // An import offers to open the new integration: the wizard on it, where it stands (its secret).
    s.click_css(&format!("{row} [data-testid=\"home-open\"]"))
        .await
        .unwrap();
    while s.find("[data-testid=\"step-handoff\"]").await.is_err() {
        next(&scn).await;
    }
    s.click_css("[data-testid=\"definition-import\"]")
        .await
        .unwrap();
    if let Err(e) = s
        .wait_for("[data-testid=\"definition-open-imported\"]", SHORT)
        .await
    {
        scn.shot("open-imported-missing").await;
        panic!("{e}");
    }
    let third = scn.stored_integrations().await;
    assert_eq!(third.len(), 3);
    let newest = third
        .iter()
        .find(|i| i.id != id && i.id != imported.id)
        .unwrap()
        .id
        .clone();
    s.click_css("[data-testid=\"definition-open-imported\"]")
        .await
        .unwrap();
    s.wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    let open_now = format!("[data-testid=\"integration-name\"][data-id=\"{newest}\"]");
    s.wait_for(&open_now, SHORT)
        .await
        .expect("the wizard is on the imported integration");
    // The window drew on the CPU (src-tauri/src/rendering.rs); the next start is asked to keep
    // WebKit's default, and works the same.
    let log_path = scn.log_dir().join("onramp.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("rendering: on the CPU"), "{log}");
    assert!(!log.contains("rendering: WebKit's default"), "{log}");
    // Opened, it is the one the next start reopens.
    let scn = scn
        .restart(&paths(), &[("ONRAMP_GPU_COMPOSITING", "1")])
        .await;
    scn.s().wait_for(&open_now, SHORT).await.unwrap();
    scn.s()
        .wait_for("[data-testid=\"step-registration\"]", SHORT)
        .await
        .unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("rendering: WebKit's default (ONRAMP_GPU_COMPOSITING is set)"),
        "{log}"
    );
    scn.finish().await;
}

//! The command layer over Tauri's MockRuntime: real commands, a real engine (in-memory keychain,
//! temporary settings), no window. And the contract with the UI.

use std::path::{Path, PathBuf};

use onramp_core::{Engine, EngineConfig};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

use super::{contract_ts, handler, COMMAND_NAMES};
use crate::state::AppState;

fn ui_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ui/src/lib")
        .join(relative)
}

#[test]
fn the_ui_contract_is_generated_from_the_command_list() {
    let path = ui_file("contract.ts");
    if std::env::var("ONRAMP_WRITE_BINDINGS").is_ok() {
        std::fs::write(&path, contract_ts()).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        contract_ts(),
        "ui/src/lib/contract.ts is stale: run `make bindings`"
    );
}

#[test]
fn every_command_has_a_ui_wrapper_and_no_wrapper_calls_a_missing_one() {
    let api = std::fs::read_to_string(ui_file("api.ts")).unwrap();
    for name in COMMAND_NAMES {
        assert!(
            api.contains(&format!("(\"{name}\"")),
            "command {name} has no wrapper in ui/src/lib/api.ts: remove the command or add one"
        );
    }
    // Names passed to `call` are typed as CommandName (from contract.ts), so svelte-check catches
    // a wrapper for a command that does not exist; this checks the type is really used.
    assert!(
        api.contains("cmd: CommandName"),
        "api.ts must type command names"
    );
}

struct TestApp {
    _app: tauri::App<tauri::test::MockRuntime>,
    webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    _dir: tempfile::TempDir,
}

fn app() -> TestApp {
    onramp_core::vault::use_mock_keychain();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(EngineConfig {
        config_dir: dir.path().into(),
        sandbox: None,
        default_loopback_port: 47823,
    })
    .unwrap();
    let app = mock_builder()
        .invoke_handler(handler())
        .manage(AppState::with_engine(engine))
        .manage(crate::events::EventChannel::default())
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    TestApp {
        _app: app,
        webview,
        _dir: dir,
    }
}

fn invoke(app: &TestApp, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        &app.webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // Linux serves the app from tauri://localhost: a local origin.
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn commands_reach_the_engine_and_answer_in_the_ui_shapes() {
    let app = app();
    let boot = invoke(&app, "bootstrap", json!({})).unwrap();
    assert!(boot["providers"].as_array().is_some_and(|p| !p.is_empty()));
    assert_eq!(boot["defaultProviderId"], "atlassian", "no sandbox running");

    let created = invoke(
        &app,
        "create_integration",
        json!({"providerId": "atlassian"}),
    )
    .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["providerId"], "atlassian");

    let renamed = invoke(
        &app,
        "update_integration",
        json!({"id": id, "patch": {"name": "  Billing sync "}}),
    )
    .unwrap();
    assert_eq!(renamed["name"], "Billing sync");

    let fetched = invoke(&app, "get_integration", json!({"id": id})).unwrap();
    assert_eq!(fetched["name"], "Billing sync");
    invoke(&app, "delete_integration", json!({"id": id})).unwrap();
}

#[test]
fn engine_errors_arrive_as_ui_errors_with_their_code() {
    let app = app();
    let err = invoke(&app, "get_integration", json!({"id": "nope"})).unwrap_err();
    assert_eq!(err["code"], "unknown_integration");
    assert!(err["title"].as_str().is_some_and(|t| !t.is_empty()));

    let created = invoke(
        &app,
        "create_integration",
        json!({"providerId": "atlassian"}),
    )
    .unwrap();
    let err = invoke(
        &app,
        "save_credentials",
        json!({"id": created["id"], "clientId": "has space", "secret": "s"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_input");
    assert_eq!(
        err["facts"][0]["value"], "client ID",
        "names the wrong field"
    );

    let err = invoke(&app, "open_url", json!({"url": "file:///etc/passwd"})).unwrap_err();
    assert_eq!(err["code"], "invalid_input", "only http(s) links open");
}

#[test]
fn a_cancel_without_a_pending_authorization_is_harmless() {
    let app = app();
    let created = invoke(
        &app,
        "create_integration",
        json!({"providerId": "atlassian"}),
    )
    .unwrap();
    invoke(&app, "cancel_authorization", json!({"id": created["id"]})).unwrap();
    let err = invoke(&app, "start_authorization", json!({"id": created["id"]})).unwrap_err();
    assert_eq!(err["code"], "invalid_input", "no client ID yet: {err}");
    assert_eq!(err["facts"][0]["value"], "client ID");
}

#[test]
fn the_page_opens_its_event_channel_by_the_name_the_ui_uses() {
    let app = app();
    // `new Channel()` in the page travels as this string (ui/src/lib/api.ts, listenEvents).
    let opened = invoke(&app, "listen_events", json!({"channel": "__CHANNEL__:7"}));
    assert_eq!(opened, Ok(Value::Null));
    let refused = invoke(&app, "listen_events", json!({"channel": "not a channel"}));
    assert!(refused.is_err(), "{refused:?}");
}

//! The fault matrix at engine level: for each network step, a timeout and a malformed body (an HTML
//! page where JSON belongs) give a specific error code and words, never a panic, and leave every
//! saved integration and every keychain entry as it was; once the fault is gone the step works.
//! `docs/fault-matrix.md` lists the rows with what the user reads.

mod common;

use common::{connected, consent_callback};

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use onramp_core::events::RecordingSink;
use onramp_core::model::{ApiRequest, ErrorCode, IntegrationPatch, NangoProvider, NangoTarget};
use onramp_core::oauth::CallbackChannel;
use onramp_core::secrets::RevealedForTests;
use onramp_core::vault::{SecretKind, Vault};
use onramp_core::{Engine, OnrampError};
use onramp_sandbox::{Faults, Sandbox, SandboxConfig, NANGO_SECRET_KEY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Short, so a timeout row takes about a second; the sandbox's delay is well past it.
const TIMEOUT: Duration = Duration::from_millis(800);
const SLOW_MS: u64 = 2_500;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    CodeExchange,
    Refresh,
    AccessibleResources,
    ApiCall,
    Discovery,
    NangoPush,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Timeout,
    MalformedBody,
}

/// What the step must answer under the fault: `Err` with this code and words in the detail, or
/// (an API call, which shows whatever the server sent) `Ok` with the page as the body.
enum Expected {
    Error {
        code: ErrorCode,
        detail_has: &'static str,
    },
    ShownAsIs,
}

struct Row {
    step: Step,
    fault: Fault,
    expected: Expected,
}

const fn err(code: ErrorCode, detail_has: &'static str) -> Expected {
    Expected::Error { code, detail_has }
}

const MATRIX: &[Row] = &[
    Row {
        step: Step::CodeExchange,
        fault: Fault::Timeout,
        expected: err(ErrorCode::Timeout, "the token endpoint"),
    },
    Row {
        step: Step::CodeExchange,
        fault: Fault::MalformedBody,
        expected: err(ErrorCode::UnexpectedResponse, "not the JSON Onramp expects"),
    },
    Row {
        step: Step::Refresh,
        fault: Fault::Timeout,
        expected: err(ErrorCode::Timeout, "the token endpoint"),
    },
    Row {
        step: Step::Refresh,
        fault: Fault::MalformedBody,
        expected: err(ErrorCode::UnexpectedResponse, "not the JSON Onramp expects"),
    },
    Row {
        step: Step::AccessibleResources,
        fault: Fault::Timeout,
        expected: err(ErrorCode::Timeout, "http://127.0.0.1:"),
    },
    Row {
        step: Step::AccessibleResources,
        fault: Fault::MalformedBody,
        expected: err(
            ErrorCode::UnexpectedResponse,
            "accessible-resources is not the expected list of sites",
        ),
    },
    Row {
        step: Step::ApiCall,
        fault: Fault::Timeout,
        expected: err(ErrorCode::Timeout, "http://127.0.0.1:"),
    },
    Row {
        step: Step::ApiCall,
        fault: Fault::MalformedBody,
        expected: Expected::ShownAsIs,
    },
    Row {
        step: Step::Discovery,
        fault: Fault::Timeout,
        expected: err(ErrorCode::Timeout, "the issuer http://127.0.0.1:"),
    },
    Row {
        step: Step::Discovery,
        fault: Fault::MalformedBody,
        expected: err(ErrorCode::UnexpectedResponse, "not metadata JSON"),
    },
    Row {
        step: Step::NangoPush,
        fault: Fault::Timeout,
        expected: err(ErrorCode::NangoUnreachable, "timed out"),
    },
    Row {
        step: Step::NangoPush,
        fault: Fault::MalformedBody,
        expected: err(ErrorCode::NangoError, "not JSON"),
    },
];

#[tokio::test]
async fn each_network_step_survives_a_timeout_and_a_malformed_body() {
    for row in MATRIX {
        run_row(row).await;
    }
}

async fn run_row(row: &Row) {
    let label = format!("{:?} / {:?}", row.step, row.fault);
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine(dir.path(), Some(&sandbox), 47823)
        .with_http_timeout(TIMEOUT)
        .unwrap();
    // Two saved integrations: the one the step works on, and a bystander.
    let id = connected(&engine, &sandbox).await;
    let other = connected(&engine, &sandbox).await;
    engine
        .save_nango_secret_key(&id, &NANGO_SECRET_KEY.into())
        .await
        .unwrap();
    let before = snapshot(&engine, &[&id, &other]).await;

    // Off the sandbox: discovery and Nango go to a server that hangs or sends a page.
    let outside = match row.fault {
        Fault::Timeout => canned_server(None).await,
        Fault::MalformedBody => canned_server(Some(onramp_sandbox::MALFORMED_BODY)).await,
    };
    // On the sandbox: the code is got before the fault, so only the exchange meets it.
    let pending_code = if row.step == Step::CodeExchange {
        Some(consent_callback(&engine, &id).await)
    } else {
        None
    };
    // Discovery and Nango meet their fault off the sandbox; a push refreshes on the sandbox first.
    let on_sandbox = !matches!(row.step, Step::Discovery | Step::NangoPush);
    sandbox.set_faults(match row.fault {
        _ if !on_sandbox => Faults::default(),
        Fault::Timeout => Faults {
            slow_ms: SLOW_MS,
            ..Faults::default()
        },
        Fault::MalformedBody => Faults {
            malformed_body_next: 1,
            ..Faults::default()
        },
    });
    let outcome = run_step(&engine, &id, row.step, &outside, pending_code).await;
    sandbox.set_faults(Faults::default());

    match (&row.expected, outcome) {
        (Expected::Error { code, detail_has }, Err(e)) => {
            let ui = e.to_ui();
            assert_eq!(ui.code, *code, "{label}: {} — {}", ui.title, ui.detail);
            assert!(
                ui.detail.contains(detail_has),
                "{label}: detail {:?} lacks {detail_has:?}",
                ui.detail
            );
        }
        (Expected::ShownAsIs, Ok(Some(body))) => {
            assert!(body.contains("Sign in to the network"), "{label}: {body}");
        }
        (_, other) => panic!(
            "{label}: unexpected outcome {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
    // Nothing saved changed (the push row refreshes first, by design: compare its shape only).
    let after = snapshot(&engine, &[&id, &other]).await;
    if row.step == Step::NangoPush {
        assert_eq!(shape(&before), shape(&after), "{label}");
    } else {
        assert_eq!(before, after, "{label}");
    }
    // And the connection still works once the fault is gone.
    let result = engine
        .run_request(
            &id,
            &ApiRequest::preset("jira-myself"),
            &RecordingSink::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{label}: after the fault: {e}"));
    assert_eq!(result.status, 200, "{label}: {}", result.body);
    sandbox.shutdown().await;
}

/// Runs one step; `Ok(Some(body))` is an API call's shown body.
async fn run_step(
    engine: &Engine,
    id: &str,
    step: Step,
    outside: &str,
    pending_code: Option<String>,
) -> Result<Option<String>, OnrampError> {
    match step {
        Step::CodeExchange => {
            let accepted = engine
                .accept_callback(&pending_code.unwrap(), CallbackChannel::DeepLink)
                .unwrap_or_else(|r| panic!("refused: {}", r.error));
            engine.finish_authorization(accepted).await.map(|_| None)
        }
        Step::Refresh => engine.refresh_now(id).await.map(|_| None),
        Step::AccessibleResources => engine.list_sites(id).await.map(|_| None),
        Step::ApiCall => engine
            .run_request(
                id,
                &ApiRequest::preset("jira-myself"),
                &RecordingSink::default(),
            )
            .await
            .map(|r| Some(r.body)),
        Step::Discovery => engine.discover_provider(outside).await.map(|_| None),
        Step::NangoPush => engine
            .push_to_nango(
                id,
                NangoTarget {
                    base_url: outside.to_string(),
                    provider: NangoProvider::Jira,
                    integration_key: "jira-acme".into(),
                    connection_id: "user-42".into(),
                },
                Duration::ZERO,
            )
            .await
            .map(|_| None),
    }
}

/// What must survive a fault: for each integration its settings, connection and keychain entries.
#[derive(Debug, PartialEq, Clone)]
struct Saved {
    id: String,
    client_id: String,
    site: Option<String>,
    connection: String,
    secrets: Vec<(SecretKind, Option<String>)>,
}

async fn snapshot(engine: &Engine, ids: &[&str]) -> Vec<Saved> {
    let listed = engine.integration_summaries().await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        assert!(
            listed.iter().any(|row| row.id == *id),
            "integration {id} is still listed on the home"
        );
        let view = engine.integration(id).await.unwrap();
        out.push(Saved {
            id: id.to_string(),
            client_id: view.client_id.clone(),
            site: view.site.as_ref().map(|s| s.id.clone()),
            connection: serde_json::to_string(&view.connection).unwrap(),
            secrets: SecretKind::ALL
                .iter()
                .map(|k| (*k, Vault.get(id, *k).unwrap().revealed()))
                .collect(),
        });
    }
    out
}

/// The snapshot without token values and times (which a refresh changes): which secrets exist.
fn shape(saved: &[Saved]) -> Vec<Saved> {
    saved
        .iter()
        .map(|s| Saved {
            connection: String::new(),
            secrets: s
                .secrets
                .iter()
                .map(|(k, v)| (*k, v.as_ref().map(|_| "present".to_string())))
                .collect(),
            ..s.clone()
        })
        .collect()
}

/// A server that answers every request with `body` as a 200 HTML page, or (None) reads the
/// request and never answers. Its URL ends in `#hang` for the latter.
async fn canned_server(body: Option<&'static str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = stream.read(&mut buf).await;
                match body {
                    Some(body) => {
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(answer.as_bytes()).await;
                    }
                    None => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                }
            });
        }
    });
    match body {
        Some(_) => format!("http://127.0.0.1:{port}"),
        None => format!("http://127.0.0.1:{port}/#hang"),
    }
}

/// The keychain refuses the write right after the code exchange (locked, or its daemon gone): a
/// specific error, and the connection that was saved before (the old grant) is untouched and
/// works; authorizing again once the keychain is back connects.
#[tokio::test]
async fn a_keychain_failing_after_the_code_exchange_keeps_the_saved_connection() {
    use onramp_core::vault::{fail_next_write, MockFailure};
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine(dir.path(), Some(&sandbox), 47823);
    let id = connected(&engine, &sandbox).await;
    let other = connected(&engine, &sandbox).await;
    for (failure, code, words) in [
        (MockFailure::Locked, ErrorCode::Keychain, "locked"),
        (
            MockFailure::DaemonGone,
            ErrorCode::KeychainUnavailable,
            "Secret Service",
        ),
    ] {
        let before = snapshot(&engine, &[&id, &other]).await;
        let callback = consent_callback(&engine, &id).await;
        let accepted = engine
            .accept_callback(&callback, CallbackChannel::DeepLink)
            .unwrap_or_else(|r| panic!("refused: {}", r.error));
        fail_next_write(&id, SecretKind::RefreshToken, failure);
        let e = engine.finish_authorization(accepted).await.unwrap_err();
        let ui = e.to_ui();
        assert_eq!(ui.code, code, "{failure:?}: {} — {}", ui.title, ui.detail);
        let said = format!(
            "{} {} {}",
            ui.title,
            ui.detail,
            ui.hint.clone().unwrap_or_default()
        );
        assert!(said.contains(words), "{failure:?}: {said}");
        assert_eq!(
            before,
            snapshot(&engine, &[&id, &other]).await,
            "{failure:?}"
        );
        let call = engine
            .run_request(
                &id,
                &ApiRequest::preset("jira-myself"),
                &RecordingSink::default(),
            )
            .await
            .unwrap();
        assert_eq!(call.status, 200, "{failure:?}: the old grant still works");
    }
    // Back: authorizing again connects.
    let callback = consent_callback(&engine, &id).await;
    let accepted = engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error));
    engine.finish_authorization(accepted).await.unwrap();
    sandbox.shutdown().await;
}

/// The database refuses writes (as a read-only file or a full disk does): a rename and a refresh
/// say so specifically; reads go on, every integration is still listed, API calls still answer,
/// and once the disk takes writes again nothing was lost.
#[tokio::test]
async fn a_store_refusing_writes_gives_a_specific_error_and_loses_nothing() {
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine(dir.path(), Some(&sandbox), 47823);
    let id = connected(&engine, &sandbox).await;
    let other = connected(&engine, &sandbox).await;
    let before = snapshot(&engine, &[&id, &other]).await;

    engine.store_refuses_writes(true).await;
    let renamed = engine
        .update_integration(
            &id,
            IntegrationPatch {
                name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err()
        .to_ui();
    assert_eq!(
        renamed.code,
        ErrorCode::StoreWriteFailed,
        "{}",
        renamed.detail
    );
    assert!(renamed.detail.contains("not saved"), "{}", renamed.detail);
    assert!(renamed.detail.contains("readonly"), "{}", renamed.detail);
    // A refresh: the keychain takes the rotated tokens (first), the store's expiry is refused.
    let refreshed = engine.refresh_now(&id).await.unwrap_err().to_ui();
    assert_eq!(refreshed.code, ErrorCode::StoreWriteFailed);
    // Reads and calls go on.
    assert_eq!(engine.integration_summaries().await.unwrap().len(), 2);
    let call = engine
        .run_request(
            &id,
            &ApiRequest::preset("jira-myself"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(call.status, 200);

    engine.store_refuses_writes(false).await;
    let after = snapshot(&engine, &[&id, &other]).await;
    assert_eq!(shape(&before), shape(&after));
    assert_eq!(before[1], after[1], "the other integration is untouched");
    assert_ne!(engine.integration(&id).await.unwrap().name, "Renamed");
    // The rotated refresh token was kept: the next refresh works.
    engine.refresh_now(&id).await.unwrap();
    let call = engine
        .run_request(
            &id,
            &ApiRequest::preset("jira-myself"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(call.status, 200);
    sandbox.shutdown().await;
}

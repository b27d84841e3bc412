//! Tests of step 4, authorize (`authorize.rs`): flows, callbacks on each channel, stages.

use super::*;
use crate::engine::test_support::*;

#[tokio::test]
async fn a_callback_nobody_waits_for_is_reported_at_start_up_once() {
    let seed = seeded("http://127.0.0.1:9", 3000, 3600);
    let refused = seed
        .engine
        .accept_callback(
            "onramp://callback?code=c&state=from-before-a-restart",
            CallbackChannel::DeepLink,
        )
        .err()
        .expect("refused");
    assert_eq!(refused.integration_id, None);
    let boot = seed.engine.bootstrap().await;
    let notice = boot.unmatched_callback.expect("reported at start-up");
    assert_eq!(notice.code, "state_mismatch");
    assert!(notice.detail.contains("restarted"), "{}", notice.detail);
    assert!(seed.engine.bootstrap().await.unmatched_callback.is_none());
}

#[tokio::test]
async fn starting_again_frees_the_fixed_port_of_the_flow_still_waiting() {
    let seed = seeded("http://127.0.0.1:9", 3000, 3600);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    seed.engine
        .update_integration(
            &seed.id,
            IntegrationPatch {
                callback: Some(CallbackSettings {
                    kind: CallbackKind::Loopback,
                    loopback_port: port,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let first = seed
        .engine
        .start_authorization(&seed.id, &RecordingSink::default())
        .await
        .unwrap();
    let mut first_listener = first.loopback.expect("a loopback listener");
    // Nobody answered; the user starts again on the same fixed port.
    let second = seed
        .engine
        .start_authorization(&seed.id, &RecordingSink::default())
        .await
        .unwrap();
    assert!(second.loopback.is_some(), "the port was free again");
    assert!(
        first_listener.next_callback().await.is_none(),
        "the replaced flow's listener closed"
    );
    let old_state = url::Url::parse(&first.started.authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert!(
        seed.engine
            .accept_callback(
                &format!("http://127.0.0.1:{port}/callback?code=c&state={old_state}"),
                CallbackChannel::Loopback { port }
            )
            .is_err(),
        "the replaced flow's state is no longer accepted"
    );
    assert!(seed
        .engine
        .expire_stale_authorizations(&RecordingSink::default())
        .is_empty());
}

const DEEP: CallbackChannel = CallbackChannel::DeepLink;

fn stages(sink: &RecordingSink) -> Vec<(AuthStage, Option<String>)> {
    sink.take()
        .into_iter()
        .map(|e| match e {
            EngineEvent::AuthProgress(p) => (p.stage, p.error.map(|e| e.code.to_string())),
            EngineEvent::CallbackUnmatched(e) => {
                (AuthStage::Failed, Some(format!("unmatched:{}", e.code)))
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect()
}

/// The deep link a browser would open for the flow that made `authorize_url`, with code `the-code`.
fn callback_for(authorize_url: &str) -> String {
    format!(
        "onramp://callback?code=the-code&state={}",
        state_of(authorize_url)
    )
}

fn state_of(authorize_url: &str) -> String {
    url::Url::parse(authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn authorization_stages_are_decided_without_a_window() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/oauth/token")
        .match_body(mockito::Matcher::UrlEncoded("code".into(), "the-code".into()))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"at-9","refresh_token":"rt-9","expires_in":3600,"token_type":"Bearer"}"#)
        .expect(1)
        .create_async()
        .await;
    let seed = seeded(&server.url(), 3000, 3600);
    let sink = RecordingSink::default();
    let started = seed
        .engine
        .start_authorization(&seed.id, &sink)
        .await
        .unwrap();
    assert_eq!(stages(&sink), vec![(AuthStage::Waiting, None)]);
    let state = state_of(&started.started.authorize_url);

    // Forged, stray, unreadable, or the right state on another path or channel, while the
    // genuine flow waits: each is ignored with a calm notice, no error, and the flow waits on.
    for (url, channel) in [
        ("onramp://callback?code=x&state=forged".to_string(), DEEP),
        ("onramp://callback".to_string(), DEEP),
        (format!("onramp://other-path?code=x&state={state}"), DEEP),
        (
            format!("http://127.0.0.1:9/callback?code=x&state={state}"),
            CallbackChannel::Loopback { port: 9 },
        ),
        (
            format!("onramp://callback?error=access_denied&state={state}"),
            CallbackChannel::Loopback { port: 9 },
        ),
    ] {
        seed.engine.handle_callback(&url, channel, &sink).await;
        let events = sink.take();
        let [EngineEvent::AuthProgress(p)] = events.as_slice() else {
            panic!("{url}: one event expected, got {events:?}");
        };
        assert_eq!(
            p.stage,
            AuthStage::Waiting,
            "{url}: the real flow is still valid"
        );
        assert_eq!(p.error, None, "{url}: no error, nothing to start again");
        assert_eq!(p.notice.as_deref(), Some(IGNORED_CALLBACK_NOTICE), "{url}");
    }

    // The genuine callback: exchanging, then connected with the view.
    seed.engine
        .handle_callback(
            &format!("onramp://callback?code=the-code&state={state}"),
            DEEP,
            &sink,
        )
        .await;
    let events = sink.take();
    let stages_seen: Vec<AuthStage> = events
        .iter()
        .map(|e| match e {
            EngineEvent::AuthProgress(p) => p.stage,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        stages_seen,
        vec![AuthStage::Exchanging, AuthStage::Connected]
    );
    let EngineEvent::AuthProgress(connected) = &events[1] else {
        unreachable!()
    };
    assert_eq!(
        connected
            .integration
            .as_ref()
            .map(|v| v.connection.is_some()),
        Some(true)
    );

    // The same callback again: nobody waits for it any more.
    seed.engine
        .handle_callback(
            &format!("onramp://callback?code=the-code&state={state}"),
            DEEP,
            &sink,
        )
        .await;
    assert_eq!(
        stages(&sink),
        vec![(AuthStage::Failed, Some("unmatched:state_mismatch".into()))]
    );
}

#[tokio::test]
async fn the_browser_hears_whether_its_loopback_callback_was_accepted() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/oauth/token")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"at-9","refresh_token":"rt-9","expires_in":3600,"token_type":"Bearer"}"#)
        .expect(1)
        .create_async()
        .await;
    let seed = seeded(&server.url(), 3000, 3600);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    seed.engine
        .update_integration(
            &seed.id,
            IntegrationPatch {
                callback: Some(CallbackSettings {
                    kind: CallbackKind::Loopback,
                    loopback_port: port,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sink = RecordingSink::default();
    let started = seed
        .engine
        .start_authorization(&seed.id, &sink)
        .await
        .unwrap();
    sink.take();
    let state = state_of(&started.started.authorize_url);
    let mut listener = started.loopback.expect("a loopback listener");
    let http = crate::tls::client_builder().no_proxy().build().unwrap();
    let mut visit = async |url: String| {
        let (page, ()) = tokio::join!(http.get(&url).send(), async {
            let callback = listener.next_callback().await.expect("handed over");
            seed.engine
                .handle_loopback_callback(callback, port, &sink)
                .await;
        });
        let page = page.unwrap();
        (page.status().as_u16(), page.text().await.unwrap())
    };
    let (status, page) = visit(format!(
        "http://127.0.0.1:{port}/callback?code=x&state=forged"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("did not accept"), "{page}");
    assert!(!page.contains("close this tab"), "{page}");
    let events = sink.take();
    let [EngineEvent::AuthProgress(p)] = events.as_slice() else {
        panic!("one event expected, got {events:?}")
    };
    assert_eq!(
        (p.stage, &p.error, p.notice.is_some()),
        (AuthStage::Waiting, &None, true)
    );

    let (status, page) = visit(format!(
        "http://127.0.0.1:{port}/callback?code=the-code&state={state}"
    ))
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("close this tab"), "{page}");
    let stages_seen: Vec<AuthStage> = sink
        .take()
        .into_iter()
        .map(|e| match e {
            EngineEvent::AuthProgress(p) => p.stage,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        stages_seen,
        vec![AuthStage::Exchanging, AuthStage::Connected]
    );
}

#[tokio::test]
async fn a_refused_consent_fails_and_cancel_is_reported_once() {
    let seed = seeded("http://127.0.0.1:9", 3000, 3600);
    let sink = RecordingSink::default();
    let started = seed
        .engine
        .start_authorization(&seed.id, &sink)
        .await
        .unwrap();
    let state = state_of(&started.started.authorize_url);
    seed.engine
        .handle_callback(
            &format!("onramp://callback?error=access_denied&state={state}"),
            DEEP,
            &sink,
        )
        .await;
    assert_eq!(
        stages(&sink),
        vec![
            (AuthStage::Waiting, None),
            (AuthStage::Failed, Some("access_denied".into()))
        ]
    );
    seed.engine
        .start_authorization(&seed.id, &sink)
        .await
        .unwrap();
    seed.engine.cancel_authorization(&seed.id, &sink);
    seed.engine.cancel_authorization(&seed.id, &sink);
    assert_eq!(
        stages(&sink),
        vec![(AuthStage::Waiting, None), (AuthStage::Cancelled, None)],
        "a second cancel has nothing to end"
    );
    seed.engine
        .browser_unavailable(&seed.id, "no browser", &sink);
    assert_eq!(
        stages(&sink),
        vec![(AuthStage::Waiting, Some("browser_unavailable".into()))]
    );
}

/// An engine whose sandbox is `server` (a mock), for the sandbox's service-account provider.
fn service_account_engine(server: &str) -> (Engine, tempfile::TempDir) {
    crate::vault::use_mock_keychain();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(EngineConfig {
        config_dir: dir.path().into(),
        sandbox: Some(SandboxLink {
            app: crate::model::SandboxApp {
                base_url: server.to_string(),
                app_name: "mock".into(),
                client_id: "app".into(),
                client_secret: "app-secret".into(),
                service_account_client_id: "sa".into(),
                service_account_client_secret: "sa-secret".into(),
            },
            instance_id: "mock-run".into(),
            register_callback: Box::new(|_| {}),
        }),
        default_loopback_port: 47823,
    })
    .unwrap();
    (engine, dir)
}

/// Client credentials: no browser; the first use fetches a token, a token near its expiry is
/// fetched again (nothing to rotate), and a refused credential is named and marks the connection.
#[tokio::test]
async fn a_service_account_token_is_fetched_on_first_use_again_near_expiry_and_refusals_are_named()
{
    let mut server = mockito::Server::new_async().await;
    let (engine, _dir) = service_account_engine(&server.url());
    let id = engine
        .create_integration("sandbox-service-account")
        .await
        .unwrap()
        .id;
    engine
        .save_credentials(&id, "sa", Some("sa-secret".into()))
        .await
        .unwrap();
    let token = server
        .mock("POST", "/oauth/token")
        .match_body(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("grant_type".into(), "client_credentials".into()),
            mockito::Matcher::UrlEncoded("client_secret".into(), "sa-secret".into()),
        ]))
        .with_status(200)
        .with_header("content-type", "application/json")
        // Lives 1 s: within the use margin at once, so the next use fetches again.
        .with_body(r#"{"access_token":"sa-at","expires_in":1,"token_type":"Bearer","scope":"read:jira-work"}"#)
        .expect(2)
        .create_async()
        .await;
    assert_eq!(engine.access_token(&id).await.unwrap().revealed(), "sa-at");
    let view = engine.integration(&id).await.unwrap();
    let c = view.connection.unwrap();
    assert_eq!(c.state, ConnectionState::Connected);
    assert!(!c.has_refresh_token);
    assert!(view.refresh_token_advice.is_none(), "nothing to advise");
    assert_eq!(c.granted_scopes, vec!["read:jira-work".to_string()]);
    engine.access_token(&id).await.unwrap();
    token.assert_async().await;

    token.remove_async().await;
    server
        .mock("POST", "/oauth/token")
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_body(r#"{"error":"access_denied","error_description":"Unauthorized"}"#)
        .create_async()
        .await;
    let e = engine.refresh_now(&id).await.unwrap_err().to_ui();
    assert_eq!(e.code, crate::model::ErrorCode::ServiceAccountRefused);
    assert!(e.detail.contains("revoked"), "{}", e.detail);
    assert!(!e.detail.contains("sa-secret"));
    let c = engine.integration(&id).await.unwrap().connection.unwrap();
    assert_eq!(c.state, ConnectionState::NeedsReconnect);
}

/// A code exchange answered `access` for `client_secret` (200), or `invalid_client` (401).
async fn exchange_answer(
    server: &mut mockito::ServerGuard,
    client_secret: &str,
    access: Option<&str>,
    hits: usize,
) -> mockito::Mock {
    let (status, body) = match access {
        Some(at) => (
            200,
            format!(
                r#"{{"access_token":"{at}","refresh_token":"rt-9","expires_in":3600,"token_type":"Bearer"}}"#
            ),
        ),
        None => (401, r#"{"error":"invalid_client"}"#.to_string()),
    };
    server
        .mock("POST", "/oauth/token")
        .match_body(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("code".into(), "the-code".into()),
            mockito::Matcher::UrlEncoded("client_secret".into(), client_secret.into()),
        ]))
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(hits)
        .create_async()
        .await
}

/// This process holds the client secret in memory (an earlier refresh read it) when an authorization
/// starts; another process (a second engine and store on the same folder) then saves a new secret.
/// The exchange made with the copy is refused, the store's revision says the secret changed, and
/// the exchange is made once more with the keychain's secret: connected. Without a change, a
/// refusal stands and nothing is sent twice.
#[tokio::test]
async fn a_secret_saved_elsewhere_during_an_authorization_is_used_for_the_exchange() {
    let mut server = mockito::Server::new_async().await;
    let refresh = refresh_mock(&mut server, 1).await;
    let seed = seeded(&server.url(), 0, 3600);
    seed.engine.refresh_now(&seed.id).await.unwrap();
    refresh.assert_async().await;

    // Unchanged secret, refused: the refusal stands, one request.
    let sink = RecordingSink::default();
    let started = seed
        .engine
        .start_authorization(&seed.id, &sink)
        .await
        .unwrap();
    let refused = exchange_answer(&mut server, "secret-1", None, 1).await;
    let callback = callback_for(&started.started.authorize_url);
    seed.engine.handle_callback(&callback, DEEP, &sink).await;
    assert_eq!(
        stages(&sink).last().map(|(stage, _)| *stage),
        Some(AuthStage::Failed)
    );
    refused.assert_async().await;
    refused.remove_async().await;

    // Changed by another process while the browser was open: the new secret connects.
    let started = seed
        .engine
        .start_authorization(&seed.id, &sink)
        .await
        .unwrap();
    let other = seed.another_process();
    other
        .save_credentials(&seed.id, "client-1", Some("secret-2".into()))
        .await
        .unwrap();
    let stale = exchange_answer(&mut server, "secret-1", None, 1).await;
    let fresh = exchange_answer(&mut server, "secret-2", Some("at-9"), 1).await;
    let callback = callback_for(&started.started.authorize_url);
    sink.take();
    seed.engine.handle_callback(&callback, DEEP, &sink).await;
    assert_eq!(
        stages(&sink).last().map(|(stage, _)| *stage),
        Some(AuthStage::Connected)
    );
    stale.assert_async().await;
    fresh.assert_async().await;
    assert_eq!(
        seed.engine.access_token(&seed.id).await.unwrap().revealed(),
        "at-9"
    );
}

/// An integration another process deleted once its callback was accepted (before the exchange
/// took the refresh guard) gets no tokens: the exchange answers (this process had the secret in
/// memory), and nothing is written to the keychain or the store.
#[tokio::test]
async fn an_integration_deleted_before_the_exchange_stores_nothing() {
    let mut server = mockito::Server::new_async().await;
    let exchanged = exchange_answer(&mut server, "secret-1", Some("at-9"), 1).await;
    let refresh = refresh_mock(&mut server, 1).await;
    let seed = seeded(&server.url(), 3000, 3600);
    // The client secret in this process's memory.
    seed.engine.refresh_now(&seed.id).await.unwrap();
    refresh.assert_async().await;
    let sink = RecordingSink::default();
    let started = seed
        .engine
        .start_authorization(&seed.id, &sink)
        .await
        .unwrap();
    let callback = callback_for(&started.started.authorize_url);
    let accepted = seed.engine.accept_callback(&callback, DEEP).ok().unwrap();
    // Deleted by another Onramp on the same folder (this one still holds the secret in memory).
    let other = seed.another_process();
    other.delete_integration(&seed.id).await.unwrap();
    let finished = seed.engine.finish_authorization(accepted).await;
    assert!(
        matches!(finished, Err(OnrampError::UnknownIntegration(_))),
        "{:?}",
        finished.err()
    );
    exchanged.assert_async().await;
    for kind in [SecretKind::AccessToken, SecretKind::RefreshToken] {
        assert!(Vault.get(&seed.id, kind).unwrap().is_none(), "{kind:?}");
    }
}

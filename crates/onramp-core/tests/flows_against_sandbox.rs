//! The engine against the real sandbox over loopback HTTP: the whole flow, with no UI and no mocks
//! except the in-memory keychain. The sandbox plays Atlassian, and (with PKCE enforced and HTTP Basic
//! client authentication) a strict standards-compliant server for the custom provider.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use onramp_core::engine::StartedAuthorization;
use onramp_core::events::RecordingSink;
use onramp_core::model::{
    ApiRequest, CallbackKind, CallbackSettings, ClientAuth, ConnectionState, CustomProviderInput,
    ErrorCode, IntegrationPatch, KeyValue,
};
use onramp_core::oauth::CallbackChannel;
use onramp_core::Engine;
use onramp_sandbox::{Sandbox, SandboxConfig};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap()
}

fn engine(dir: &std::path::Path, sandbox: Option<&Sandbox>) -> Engine {
    common::engine(dir, sandbox, free_port())
}

use common::consent;

#[tokio::test]
async fn custom_provider_with_pkce_and_basic_auth_connects_and_refreshes() {
    let sandbox = start_sandbox(SandboxConfig {
        enforce_pkce: true,
        ..SandboxConfig::default()
    })
    .await;
    let base = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), None);
    let provider = engine
        .save_custom_provider(
            None,
            CustomProviderInput {
                name: "Strict server".into(),
                authorize_url: format!("{base}/authorize"),
                token_url: format!("{base}/oauth/token"),
                scopes: vec!["offline_access".into(), "read:me".into()],
                extra_params: vec![KeyValue {
                    key: "audience".into(),
                    value: "onramp-sandbox".into(),
                }],
                client_auth: ClientAuth::Basic,
                pkce: true,
                test_call_url: Some(format!("{base}/me")),
                issuer: None,
            },
        )
        .await
        .unwrap();
    let view = engine.create_integration(&provider.id).await.unwrap();
    let port = free_port();
    let view = engine
        .update_integration(
            &view.id,
            IntegrationPatch {
                client_id: Some(sandbox.config().client_id),
                scopes: Some(vec!["offline_access".into(), "read:me".into()]),
                callback: Some(CallbackSettings {
                    kind: CallbackKind::Loopback,
                    loopback_port: port,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    engine
        .save_credentials(
            &view.id,
            &sandbox.config().client_id,
            Some(sandbox.config().client_secret.clone().into()),
        )
        .await
        .unwrap();
    // A custom provider is a real server to Onramp: its callback is registered by hand.
    sandbox.set_registered_callback(Some(view.redirect_uri.clone()));

    let StartedAuthorization { started, loopback } = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .unwrap();
    assert!(started.authorize_url.contains("code_challenge_method=S256"));
    let location = consent(&started.authorize_url, "accept").await;
    assert!(location.starts_with(&view.redirect_uri), "{location}");
    let (status, accepted) =
        common::follow_to_loopback(&engine, &mut loopback.unwrap(), &location).await;
    assert_eq!(status, 200);
    let accepted = accepted.unwrap_or_else(|r| panic!("refused: {}", r.error));
    let connected = engine.finish_authorization(accepted).await.unwrap();
    let connection = connected.connection.unwrap();
    assert_eq!(connection.state, ConnectionState::Connected);
    assert!(connection.has_refresh_token);

    let first = engine
        .run_request(
            &view.id,
            &ApiRequest::preset("custom-test"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!((first.status, first.refreshed), (200, false));
    for round in 1..=2u64 {
        // The token dies while Onramp still thinks it valid: the 401 triggers one refresh and a retry.
        sandbox.expire_access_tokens();
        let result = engine
            .run_request(
                &view.id,
                &ApiRequest::preset("custom-test"),
                &RecordingSink::default(),
            )
            .await
            .unwrap();
        assert_eq!(result.status, 200, "{}", result.body);
        assert!(result.body.contains("Sandra Boxley"));
        assert!(result.refreshed);
        assert_eq!(result.attempts, 2);
        // The rotated refresh token was stored and is the one used the next time.
        assert_eq!(sandbox.refresh_count(), round);
    }
    // Revoked at the provider: the connection needs reconnecting, with a reason, and keeps the rest.
    sandbox.revoke_all();
    let e = engine
        .run_request(
            &view.id,
            &ApiRequest::preset("custom-test"),
            &RecordingSink::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_ui().code, ErrorCode::NeedsReconnect);
    // The reason names the provider the user chose, and claims none of Atlassian's limits.
    let reason = e.to_ui().detail;
    assert!(
        reason.starts_with("Strict server refused the refresh token")
            && !reason.contains("Atlassian"),
        "{reason}"
    );
    let after = engine.integration(&view.id).await.unwrap();
    assert_eq!(
        after.connection.unwrap().state,
        ConnectionState::NeedsReconnect
    );
    assert_eq!(after.client_id, sandbox.config().client_id);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn sandbox_flow_reports_withheld_scopes_and_access_denied() {
    let sandbox = start_sandbox(SandboxConfig::default()).await;
    sandbox.set_withheld_scopes(vec!["read:space:confluence".into()]);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), Some(&sandbox));
    let view = engine.create_integration("sandbox").await.unwrap();
    let requested = vec![
        "offline_access".to_string(),
        "read:jira-user".into(),
        "read:space:confluence".into(),
    ];
    let view = engine
        .update_integration(
            &view.id,
            IntegrationPatch {
                client_id: Some(sandbox.config().client_id),
                scopes: Some(requested),
                callback: Some(CallbackSettings {
                    kind: CallbackKind::DeepLink,
                    loopback_port: 47823,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    engine
        .save_credentials(
            &view.id,
            &sandbox.config().client_id,
            Some(sandbox.config().client_secret.clone().into()),
        )
        .await
        .unwrap();

    // Cancel first: the callback carries access_denied for this integration.
    let started = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .unwrap()
        .started;
    let denied = consent(&started.authorize_url, "cancel").await;
    let refused = engine
        .accept_callback(&denied, CallbackChannel::DeepLink)
        .err()
        .expect("refused");
    assert_eq!(refused.integration_id.as_deref(), Some(view.id.as_str()));
    assert_eq!(refused.error.to_ui().code, ErrorCode::AccessDenied);

    // Then accept: the deep-link URL comes back with a code.
    let started = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .unwrap()
        .started;
    let callback = consent(&started.authorize_url, "accept").await;
    assert!(callback.starts_with("onramp://callback?"));
    let accepted = engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error));
    engine.finish_authorization(accepted).await.unwrap();
    // A replayed callback is refused.
    assert!(engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .is_err());

    // The access token dies before step 5: the site list refreshes once instead of failing.
    sandbox.expire_access_tokens();
    let refreshes_before = sandbox.refresh_count();
    let sites = engine.list_sites(&view.id).await.unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sandbox.refresh_count(), refreshes_before + 1);
    let report = engine.scope_report(&view.id).await.unwrap();
    assert_eq!(report.missing, vec!["read:space:confluence".to_string()]);
    let row = report
        .rows
        .iter()
        .find(|r| r.scope == "read:space:confluence")
        .unwrap();
    assert!(row.requested && !row.in_token);
    assert!(row.disables.iter().any(|d| d.contains("Confluence v2")));

    // The site filter matches the host label exactly.
    let acme = engine.filter_sites(&view.id, "acme").await.unwrap();
    assert_eq!(acme.len(), 1);
    assert!(acme[0].url.contains("acme"));
    engine.select_site(&view.id, &acme[0].id).await.unwrap();
    let result = engine
        .run_request(
            &view.id,
            &ApiRequest::preset("jira-myself"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(result.status, 200);
    let spaces = engine
        .run_request(
            &view.id,
            &ApiRequest::preset("confluence-spaces"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        spaces.status, 401,
        "the withheld scope makes v2 refuse: {}",
        spaces.body
    );
    sandbox.shutdown().await;
}

/// The sandbox runs inside the app and keeps its grants in memory: after a restart (a new sandbox
/// run, the same data dir) a sandbox connection is "needs reconnect" with the true reason, on the
/// home and for calls, instead of "Connected" and a first call that blames the provider.
#[tokio::test]
async fn a_sandbox_connection_needs_reconnect_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first_run = start_sandbox(SandboxConfig::default()).await;
    let id = {
        let engine = engine(dir.path(), Some(&first_run));
        let view = engine.create_integration("sandbox").await.unwrap();
        let view = engine
            .update_integration(
                &view.id,
                IntegrationPatch {
                    client_id: Some(first_run.config().client_id),
                    scopes: Some(vec!["offline_access".into(), "read:me".into()]),
                    callback: Some(CallbackSettings {
                        kind: CallbackKind::DeepLink,
                        loopback_port: 47823,
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let c = first_run.config();
        engine
            .save_credentials(&view.id, &c.client_id, Some(c.client_secret.clone().into()))
            .await
            .unwrap();
        let started = engine
            .start_authorization(&view.id, &RecordingSink::default())
            .await
            .unwrap()
            .started;
        let callback = consent(&started.authorize_url, "accept").await;
        let accepted = engine
            .accept_callback(&callback, CallbackChannel::DeepLink)
            .unwrap_or_else(|r| panic!("refused: {}", r.error));
        engine.finish_authorization(accepted).await.unwrap();
        // Within the run the connection is healthy.
        let home = engine.integration_summaries().await.unwrap();
        assert_eq!(
            home[0].health.state,
            onramp_core::health::HealthState::Connected
        );
        view.id
    };
    first_run.shutdown().await;

    let second_run = start_sandbox(SandboxConfig::default()).await;
    let engine = engine(dir.path(), Some(&second_run));
    let home = engine.integration_summaries().await.unwrap();
    let health = &home.iter().find(|s| s.id == id).unwrap().health;
    assert_eq!(
        health.state,
        onramp_core::health::HealthState::NeedsReconnect
    );
    let reason = health.detail.clone().unwrap_or_default();
    assert!(reason.contains("The sandbox restarted"), "{reason}");
    assert!(!reason.contains("Atlassian"), "{reason}");
    let e = engine
        .run_request(&id, &ApiRequest::preset("me"), &RecordingSink::default())
        .await
        .unwrap_err()
        .to_ui();
    assert_eq!(e.code, ErrorCode::NeedsReconnect);
    assert!(e.detail.contains("The sandbox restarted"), "{}", e.detail);
    assert_eq!(second_run.refresh_count(), 0, "no doomed refresh was tried");
    second_run.shutdown().await;
}

/// A standards-compliant OpenID provider (the sandbox in OpenID mode: discovery with
/// `userinfo_endpoint`, PKCE required, `offline_access` dropped unless `prompt=consent`, as OpenID
/// Connect Core §11 says) works through the custom provider, discovered from its issuer, with a
/// refresh token on the first try; its UserInfo endpoint is the test call.
#[tokio::test]
async fn an_openid_provider_gives_a_refresh_token_on_the_first_try() {
    let sandbox = start_sandbox(SandboxConfig {
        enforce_pkce: true,
        openid: true,
        ..SandboxConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), None);
    let mut found = engine.discover_provider(&sandbox.base_url()).await.unwrap();
    assert_eq!(
        found.test_call_url.as_deref(),
        Some(format!("{}/userinfo", sandbox.base_url()).as_str()),
        "UserInfo is the default test call"
    );
    found.name = "Standard OP".into();
    let provider = engine.save_custom_provider(None, found).await.unwrap();
    let view = engine.create_integration(&provider.id).await.unwrap();
    let scopes = vec![
        "openid".to_string(),
        "profile".into(),
        "offline_access".into(),
    ];
    let c = sandbox.config();
    let view = engine
        .update_integration(
            &view.id,
            IntegrationPatch {
                client_id: Some(c.client_id.clone()),
                scopes: Some(scopes),
                callback: Some(CallbackSettings {
                    kind: CallbackKind::DeepLink,
                    loopback_port: 47823,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    engine
        .save_credentials(&view.id, &c.client_id, Some(c.client_secret.clone().into()))
        .await
        .unwrap();
    sandbox.set_registered_callback(Some(view.redirect_uri.clone()));

    // The server really drops offline_access without prompt=consent: the same request without it
    // connects with no refresh token, and the advice says what helps on an OpenID provider.
    let started = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .unwrap()
        .started;
    assert!(
        started.authorize_url.contains("prompt=consent"),
        "{}",
        started.authorize_url
    );
    let without_prompt = started.authorize_url.replace("&prompt=consent", "");
    assert_ne!(without_prompt, started.authorize_url);
    let callback = consent(&without_prompt, "accept").await;
    let accepted = engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error));
    let view_without = engine.finish_authorization(accepted).await.unwrap();
    assert!(!view_without.connection.unwrap().has_refresh_token);
    let advice = view_without.refresh_token_advice.unwrap_or_default();
    assert!(
        advice.contains("Standard OP's client settings") && !advice.contains("Add offline_access"),
        "advice that helps on an OpenID provider: {advice}"
    );

    // Onramp's own request: a refresh token on the first try.
    let started = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .unwrap()
        .started;
    let callback = consent(&started.authorize_url, "accept").await;
    let accepted = engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error));
    let connected = engine.finish_authorization(accepted).await.unwrap();
    let connection = connected.connection.unwrap();
    assert_eq!(connection.state, ConnectionState::Connected);
    assert!(
        connection.has_refresh_token,
        "a refresh token on the first try"
    );
    assert!(connection
        .granted_scopes
        .contains(&"offline_access".to_string()));

    let me = engine
        .run_request(
            &view.id,
            &ApiRequest::preset("custom-test"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains("Sandra Boxley"), "{}", me.body);
    sandbox.expire_access_tokens();
    let again = engine
        .run_request(
            &view.id,
            &ApiRequest::preset("custom-test"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.refreshed),
        (200, true),
        "{}",
        again.body
    );
    assert_eq!(sandbox.refresh_count(), 1);
    sandbox.shutdown().await;
}

//! Push to Nango against the sandbox: connect through the sandbox's Atlassian, pick a site, push to
//! the sandbox's Nango (`{sandbox}/nango`), and check what it received and what Onramp kept.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use onramp_core::model::{ErrorCode, NangoProvider, NangoTarget};
use onramp_core::secrets::ExposeSecret;
use onramp_core::vault::{SecretKind, Vault};
use onramp_core::Engine;
use onramp_sandbox::{Sandbox, SandboxConfig, ACME_CLOUD_ID, NANGO_SECRET_KEY};
use serde_json::Value;

async fn start_sandbox() -> Sandbox {
    Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap()
}

fn engine(dir: &std::path::Path, s: &Sandbox) -> Engine {
    common::engine(dir, Some(s), 47823)
}

/// Plays the user: authorizes through the sandbox's consent page (deep-link callback), lists the
/// sites and picks Acme. Returns the integration id.
async fn connected(engine: &Engine, sandbox: &Sandbox) -> String {
    let c = sandbox.config();
    let id = common::sandbox_integration(engine, &c.client_id, &c.client_secret, &common::SCOPES)
        .await
        .id;
    common::authorize_and_pick(engine, &id, ACME_CLOUD_ID).await;
    id
}

/// Authorizes (again) through the sandbox's consent page.
async fn authorize(engine: &Engine, id: &str) {
    let accepted = common::consented(engine, id).await;
    engine.finish_authorization(accepted).await.unwrap();
}

fn target(sandbox: &Sandbox) -> NangoTarget {
    NangoTarget {
        base_url: format!("{}/nango/", sandbox.base_url()),
        provider: NangoProvider::Jira,
        integration_key: "jira-acme".into(),
        connection_id: "user-42".into(),
    }
}

fn refresh_token(id: &str) -> Option<String> {
    Vault
        .get(id, SecretKind::RefreshToken)
        .unwrap()
        .map(|s| s.expose_secret().to_string())
}

fn received(sandbox: &Sandbox, method: &str, path: &str) -> Vec<Value> {
    sandbox
        .nango_received()
        .into_iter()
        .filter(|r| r.method == method && r.path == path)
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn push_hands_the_connection_to_nango_and_onramp_stops_refreshing() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), &sandbox);
    let id = connected(&engine, &sandbox).await;
    let rt = refresh_token(&id).expect("a refresh token (offline_access)");

    // Without a key: a specific error, nothing sent.
    let err = engine
        .push_to_nango(&id, target(&sandbox), Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(err.to_ui().code, ErrorCode::NangoKeyMissing);
    assert!(sandbox.nango_received().is_empty());

    engine
        .save_nango_secret_key(&id, &format!(" {NANGO_SECRET_KEY} ").into())
        .await
        .unwrap();
    assert!(engine.has_nango_secret_key(&id).await.unwrap());
    let view = engine
        .push_to_nango(&id, target(&sandbox), Duration::ZERO)
        .await
        .unwrap();

    // What Nango received: the §1.7 sequence.
    let order: Vec<(String, String)> = sandbox
        .nango_received()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    let expected = [
        ("GET", "/providers/jira"),
        ("GET", "/integrations/jira-acme"),
        ("POST", "/integrations"),
        ("POST", "/connections"),
        ("GET", "/connections/user-42?provider_config_key=jira-acme"),
    ];
    assert_eq!(
        order,
        expected
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect::<Vec<_>>()
    );
    let created = &received(&sandbox, "POST", "/integrations")[0];
    assert_eq!(created["provider"], "jira");
    assert_eq!(
        created["credentials"]["scopes"],
        "offline_access,read:jira-user,read:jira-work"
    );
    assert_eq!(
        created["credentials"]["client_id"],
        sandbox.config().client_id
    );
    let imported = &received(&sandbox, "POST", "/connections")[0];
    assert_eq!(imported["connection_config"]["cloudId"], ACME_CLOUD_ID);
    assert_eq!(imported["connection_config"]["subdomain"], "acme");
    assert_eq!(imported["credentials"]["refresh_token"], rt.as_str());
    let expires_at = imported["credentials"]["expires_at"].as_str().unwrap();
    let parsed =
        time::OffsetDateTime::parse(expires_at, &time::format_description::well_known::Rfc3339)
            .expect("ISO-8601");
    let secs = parsed.unix_timestamp() - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (3000..=3700).contains(&secs),
        "about an hour ahead: {expires_at}"
    );
    assert!(imported["metadata"]["granted_scopes"]
        .as_str()
        .unwrap()
        .contains("read:jira-work"));

    // One refresher: Onramp's refresh token is gone and the hand-off recorded.
    assert_eq!(refresh_token(&id), None);
    let hand_off = view.handed_off.expect("handed off");
    assert_eq!(hand_off.to, "nango");
    assert_eq!(hand_off.connection_id, "user-42");
    assert_eq!(hand_off.base_url, format!("{}/nango", sandbox.base_url()));
    assert!(!view.connection.unwrap().has_refresh_token);
    assert!(engine.due_for_proactive_refresh().await.is_empty());
    let refreshes = sandbox.refresh_count();
    let refused = engine.refresh_now(&id).await.unwrap_err();
    assert_eq!(refused.to_ui().code, ErrorCode::HandedOff);
    assert_eq!(sandbox.refresh_count(), refreshes, "no refresh was tried");
    // The access token still works until it expires.
    assert!(engine.access_token(&id).await.is_ok());

    // A second push has nothing to hand over.
    let again = engine
        .push_to_nango(&id, target(&sandbox), Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(again.to_ui().code, ErrorCode::NangoNoRefreshToken);

    // A new authorization is Onramp's own again (a new refresh-token family).
    authorize(&engine, &id).await;
    let view = engine.integration(&id).await.unwrap();
    assert!(view.handed_off.is_none());
    assert!(refresh_token(&id).is_some());
    assert!(engine.refresh_now(&id).await.is_ok());
}

#[tokio::test]
async fn a_failed_push_leaves_onramps_tokens_in_place() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), &sandbox);
    let id = connected(&engine, &sandbox).await;
    let rt = refresh_token(&id).unwrap();

    // A wrong key: 401 at the first call.
    engine
        .save_nango_secret_key(&id, &"11111111-2222-4333-8444-555555555555".into())
        .await
        .unwrap();
    let err = engine
        .push_to_nango(&id, target(&sandbox), Duration::ZERO)
        .await
        .unwrap_err()
        .to_ui();
    assert_eq!(err.code, ErrorCode::NangoKeyRejected);
    assert!(err.detail.contains("unknown_account"));
    assert!(!err.detail.contains("11111111-2222"), "never the key");
    assert_eq!(refresh_token(&id).as_deref(), Some(rt.as_str()));

    // Half-way: the integration is created, then the scoped key may not import (403).
    engine
        .save_nango_secret_key(&id, &NANGO_SECRET_KEY.into())
        .await
        .unwrap();
    sandbox.set_nango_key_scopes(Some(vec![
        "environment:integrations:read".into(),
        "environment:integrations:create".into(),
    ]));
    let err = engine
        .push_to_nango(&id, target(&sandbox), Duration::ZERO)
        .await
        .unwrap_err()
        .to_ui();
    assert_eq!(err.code, ErrorCode::NangoKeyScope);
    assert!(err
        .detail
        .contains("Insufficient scope. Required: environment:connections:create"));
    assert_eq!(received(&sandbox, "POST", "/integrations").len(), 1);
    assert_eq!(refresh_token(&id).as_deref(), Some(rt.as_str()));
    let view = engine.integration(&id).await.unwrap();
    assert!(view.handed_off.is_none());
    assert!(view.connection.unwrap().has_refresh_token);

    // With the permission, the next push updates the integration (PATCH) and succeeds.
    sandbox.set_nango_key_scopes(None);
    let view = engine
        .push_to_nango(&id, target(&sandbox), Duration::ZERO)
        .await
        .unwrap();
    assert!(view.handed_off.is_some());
    let patched = received(&sandbox, "PATCH", "/integrations/jira-acme");
    assert_eq!(patched.len(), 1);
    assert_eq!(patched[0]["credentials"]["type"], "OAUTH2");
    assert!(patched[0]["credentials"]["client_secret"].is_string());
}

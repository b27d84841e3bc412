//! Tests of `engine/tokens.rs`: the token lifecycle against a mock token endpoint.

use super::*;
use crate::engine::test_support::*;
use crate::lifecycle::background_retry_secs;
use std::sync::Arc;

/// Two engines on one config folder (as the window and a command line are two processes):
/// only the lock file orders them, and the one that waited uses the other's new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_on_one_folder_refresh_once() {
    let mut server = mockito::Server::new_async().await;
    let refresh = refresh_mock(&mut server, 1).await;
    let s = seeded(&server.url(), 0, 3600);
    let other = Arc::new(s.another_process());
    let mut tasks = Vec::new();
    for engine in [s.engine.clone(), other.clone()].iter().cycle().take(20) {
        let (engine, id) = (engine.clone(), s.id.clone());
        tasks.push(tokio::spawn(async move { engine.access_token(&id).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().revealed(), "at-2");
    }
    refresh.assert_async().await;
    assert!(s
        ._dir
        .path()
        .join("locks")
        .join(format!("{}.refresh", s.id))
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_callers_cause_one_refresh() {
    let mut server = mockito::Server::new_async().await;
    let refresh = refresh_mock(&mut server, 1).await;
    let s = seeded(&server.url(), 0, 3600);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let engine = s.engine.clone();
        let id = s.id.clone();
        tasks.push(tokio::spawn(async move { engine.access_token(&id).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().revealed(), "at-2");
    }
    refresh.assert_async().await;
    assert_eq!(
        Vault
            .get(&s.id, SecretKind::RefreshToken)
            .unwrap()
            .revealed()
            .as_deref(),
        Some("rt-2")
    );
}

#[tokio::test]
async fn rotated_refresh_token_is_stored_before_the_new_access_token_is_used() {
    let mut server = mockito::Server::new_async().await;
    refresh_mock(&mut server, 1).await;
    let s = seeded(&server.url(), 0, 3600);
    let seen_in_keychain = Arc::new(Mutex::new(None::<Option<String>>));
    let seen = seen_in_keychain.clone();
    let id = s.id.clone();
    server
        .mock("GET", "/api")
        .match_header("authorization", "Bearer at-2")
        .with_status(200)
        .with_body_from_request(move |_| {
            // Runs when the new access token reaches the provider.
            *seen.lock().unwrap() =
                Some(Vault.get(&id, SecretKind::RefreshToken).unwrap().revealed());
            b"{}".to_vec()
        })
        .create_async()
        .await;
    let r = s
        .engine
        .run_request(
            &s.id,
            &preset(custom::TEST_CALL_ID),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        *seen_in_keychain.lock().unwrap(),
        Some(Some("rt-2".to_string()))
    );
}

#[tokio::test]
async fn refresh_answer_without_refresh_token_keeps_the_old_one() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/oauth/token")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"at-2","expires_in":3600,"token_type":"Bearer"}"#)
        .create_async()
        .await;
    let s = seeded(&server.url(), 0, 3600);
    assert_eq!(
        s.engine.access_token(&s.id).await.unwrap().revealed(),
        "at-2"
    );
    assert_eq!(
        Vault
            .get(&s.id, SecretKind::RefreshToken)
            .unwrap()
            .revealed()
            .as_deref(),
        Some("rt-1")
    );
}

#[tokio::test]
async fn invalid_grant_marks_needs_reconnect_with_a_reason_and_keeps_the_rest() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/oauth/token")
        .with_status(403)
        .with_header("content-type", "application/json")
        .with_body(
            r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
        )
        .create_async()
        .await;
    let s = seeded(&server.url(), 0, 3600);
    let e = s.engine.access_token(&s.id).await.unwrap_err();
    assert!(matches!(&e, OnrampError::NeedsReconnect(r) if r.contains("revoked")));
    let view = s.engine.integration(&s.id).await.unwrap();
    let c = view.connection.unwrap();
    assert_eq!(c.state, ConnectionState::NeedsReconnect);
    assert!(c.reason.unwrap().contains("invalid_grant"));
    assert_eq!(view.client_id, "client-1");
    assert!(view.has_client_secret);
    // Later calls fail fast without asking the provider again.
    assert!(matches!(
        s.engine.access_token(&s.id).await,
        Err(OnrampError::NeedsReconnect(_))
    ));
}

/// The provider rotates (rt-1 → rt-2) but the keychain refuses the write: the new pair stays in
/// memory, the error says so, and the next attempt saves it without asking the provider again
/// (rt-1 is retired there). Then rt-2 is the one refreshed with.
#[tokio::test]
async fn a_keychain_refusing_a_rotated_refresh_token_loses_nothing() {
    use crate::vault::{fail_next_write, MockFailure};
    for failure in [MockFailure::Locked, MockFailure::DaemonGone] {
        let mut server = mockito::Server::new_async().await;
        let first = server
            .mock("POST", "/oauth/token")
            .match_body(mockito::Matcher::UrlEncoded(
                "refresh_token".into(),
                "rt-1".into(),
            ))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#)
            .expect(1)
            .create_async()
            .await;
        let s = seeded(&server.url(), 0, 3600);
        fail_next_write(&s.id, SecretKind::RefreshToken, failure);
        let e = s.engine.refresh_now(&s.id).await.unwrap_err();
        let ui = e.to_ui();
        assert_eq!(
            ui.code,
            crate::model::ErrorCode::TokensNotSaved,
            "{failure:?}"
        );
        assert!(ui.title.contains("keychain is locked"), "{}", ui.title);
        assert!(ui.hint.unwrap().contains("Unlock the keychain"));
        assert!(!ui.detail.contains("rt-2") && !ui.detail.contains("at-2"));
        // Nothing saved changed yet; the integration is still connected.
        let stored = Vault
            .get(&s.id, SecretKind::RefreshToken)
            .unwrap()
            .revealed();
        assert_eq!(stored.as_deref(), Some("rt-1"));
        let view = s.engine.integration(&s.id).await.unwrap();
        assert_eq!(view.connection.unwrap().state, ConnectionState::Connected);

        // Unlocked: the next attempt writes the held pair, with no second refresh.
        s.engine.refresh_now(&s.id).await.unwrap();
        first.assert_async().await;
        let stored = Vault
            .get(&s.id, SecretKind::RefreshToken)
            .unwrap()
            .revealed();
        assert_eq!(stored.as_deref(), Some("rt-2"), "{failure:?}");
        assert_eq!(
            s.engine.access_token(&s.id).await.unwrap().revealed(),
            "at-2"
        );

        // The following refresh uses rt-2.
        let second = server
            .mock("POST", "/oauth/token")
            .match_body(mockito::Matcher::UrlEncoded(
                "refresh_token".into(),
                "rt-2".into(),
            ))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"at-3","refresh_token":"rt-3","expires_in":3600,"token_type":"Bearer"}"#)
            .expect(1)
            .create_async()
            .await;
        s.engine.refresh_now(&s.id).await.unwrap();
        second.assert_async().await;
    }
}

/// While the pair is held, a call does not use the retired pair's access token: it saves the
/// held pair first (or, still locked, says so).
#[tokio::test]
async fn a_call_saves_held_tokens_first() {
    use crate::vault::{fail_next_write, MockFailure};
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/oauth/token")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#)
        .expect(1)
        .create_async()
        .await;
    let s = seeded(&server.url(), 3000, 3600);
    fail_next_write(&s.id, SecretKind::RefreshToken, MockFailure::Locked);
    assert!(s.engine.refresh_now(&s.id).await.is_err());
    fail_next_write(&s.id, SecretKind::RefreshToken, MockFailure::Locked);
    let still_locked = s.engine.access_token(&s.id).await.unwrap_err();
    assert!(matches!(still_locked, OnrampError::TokensNotSaved(_)));
    assert_eq!(
        s.engine.access_token(&s.id).await.unwrap().revealed(),
        "at-2"
    );
    let stored = Vault
        .get(&s.id, SecretKind::RefreshToken)
        .unwrap()
        .revealed();
    assert_eq!(stored.as_deref(), Some("rt-2"));
}

/// The background saves a held pair without waiting for the token's expiry.
#[tokio::test]
async fn the_background_saves_held_tokens_early() {
    use crate::vault::{fail_next_write, MockFailure};
    let mut server = mockito::Server::new_async().await;
    let refresh = server
        .mock("POST", "/oauth/token")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#)
        .expect(1)
        .create_async()
        .await;
    let s = seeded(&server.url(), 3000, 3600);
    assert!(s.engine.due_for_proactive_refresh().await.is_empty());
    fail_next_write(&s.id, SecretKind::RefreshToken, MockFailure::DaemonGone);
    assert!(s.engine.refresh_now(&s.id).await.is_err());
    assert_eq!(
        s.engine.refresh_due_in_background().await,
        vec![s.id.clone()]
    );
    let stored = Vault
        .get(&s.id, SecretKind::RefreshToken)
        .unwrap()
        .revealed();
    assert_eq!(stored.as_deref(), Some("rt-2"));
    assert!(s.engine.due_for_proactive_refresh().await.is_empty());
    refresh.assert_async().await;
}

#[tokio::test]
async fn an_expired_token_without_refresh_token_says_what_helps_on_this_server() {
    let s = seeded("http://127.0.0.1:9", 0, 3600);
    Vault.delete(&s.id, SecretKind::RefreshToken).unwrap();
    let e = s.engine.access_token(&s.id).await.unwrap_err().to_ui();
    assert_eq!(e.code, crate::model::ErrorCode::NeedsReconnect);
    // "Mock" is a plain OAuth server: its own client settings, not Atlassian's offline_access.
    assert!(
        e.detail.contains("Mock did not issue one") && e.detail.contains("refresh-token grant"),
        "{}",
        e.detail
    );
    assert!(!e.detail.contains("Atlassian"), "{}", e.detail);
}

#[tokio::test]
async fn due_for_proactive_refresh_lists_expiring_connections() {
    let s = seeded("http://127.0.0.1:9", 100, 3600);
    assert_eq!(
        s.engine.due_for_proactive_refresh().await,
        vec![s.id.clone()]
    );
    let fresh = seeded("http://127.0.0.1:9", 3000, 3600);
    assert!(fresh.engine.due_for_proactive_refresh().await.is_empty());
}

#[tokio::test]
async fn a_failed_background_refresh_waits_before_trying_again() {
    let mut server = mockito::Server::new_async().await;
    let failing = server
        .mock("POST", "/oauth/token")
        .with_status(503)
        .with_body("maintenance")
        .expect(1)
        .create_async()
        .await;
    let s = seeded(&server.url(), 100, 3600);
    assert_eq!(
        s.engine.refresh_due_in_background().await,
        vec![s.id.clone()]
    );
    // The next ticks come within seconds: no new request until the backoff has passed.
    assert!(s.engine.refresh_due_in_background().await.is_empty());
    assert!(s.engine.due_for_proactive_refresh().await.is_empty());
    failing.assert_async().await;
    failing.remove_async().await;
    let view = s.engine.integration(&s.id).await.unwrap();
    assert_eq!(
        view.connection.unwrap().state,
        ConnectionState::Connected,
        "a 503 is not a reason to reconnect"
    );
    // A manual refresh that works ends the backoff.
    refresh_mock(&mut server, 1).await;
    s.engine.refresh_now(&s.id).await.unwrap();
    assert_eq!(
        s.engine.lifecycle.background_failed(&s.id, now_unix()),
        30,
        "a working refresh ended the backoff: the next failure is the first again"
    );
    assert_eq!(background_retry_secs(1), 30);
    assert_eq!(background_retry_secs(2), 60);
    assert_eq!(background_retry_secs(40), 15 * 60);
}

/// A fresh token is read from the keychain once; 200 callers after that are served from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_token_is_served_from_memory_after_the_first_read() {
    let server = mockito::Server::new_async().await;
    let s = seeded(&server.url(), 3000, 3600);
    let before = crate::vault::keychain_reads(&s.id);
    assert_eq!(
        s.engine.access_token(&s.id).await.unwrap().revealed(),
        "at-1"
    );
    let after_first = crate::vault::keychain_reads(&s.id);
    assert_eq!(after_first, before + 1);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (engine, id) = (s.engine.clone(), s.id.clone());
        tasks.push(tokio::spawn(async move { engine.access_token(&id).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().revealed(), "at-1");
    }
    assert_eq!(crate::vault::keychain_reads(&s.id), after_first);
}

/// An expired token and 200 callers: one refresh, whose two keychain reads (refresh token, and the
/// client secret this process had not read yet) are the only ones; the callers that waited get the
/// new token from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_is_refreshed_once_and_the_new_one_is_kept() {
    let mut server = mockito::Server::new_async().await;
    let refresh = refresh_mock(&mut server, 1).await;
    let s = seeded(&server.url(), 0, 3600);
    let before = crate::vault::keychain_reads(&s.id);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (engine, id) = (s.engine.clone(), s.id.clone());
        tasks.push(tokio::spawn(async move { engine.access_token(&id).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().revealed(), "at-2");
    }
    assert_eq!(crate::vault::keychain_reads(&s.id), before + 2);
    refresh.assert_async().await;
}

/// A token the gateway rejected is never served from memory again, even while its expiry says fresh.
#[tokio::test]
async fn a_rejected_token_is_not_served_again() {
    let mut server = mockito::Server::new_async().await;
    let s = seeded(&server.url(), 3000, 3600);
    let used = s.engine.access_token(&s.id).await.unwrap();
    assert_eq!(used.revealed(), "at-1");
    // The refresh after the rejection fails: the next caller goes back to the keychain.
    let failing = server
        .mock("POST", "/oauth/token")
        .with_status(500)
        .create_async()
        .await;
    assert!(s
        .engine
        .refresh_after_rejection(&s.id, &used)
        .await
        .is_err());
    let reads = crate::vault::keychain_reads(&s.id);
    s.engine.access_token(&s.id).await.unwrap();
    assert!(
        crate::vault::keychain_reads(&s.id) > reads,
        "not from memory"
    );
    failing.remove_async().await;

    let refresh = refresh_mock(&mut server, 1).await;
    let replaced = s
        .engine
        .refresh_after_rejection(&s.id, &used)
        .await
        .unwrap();
    assert_eq!(replaced.revealed(), "at-2");
    assert_eq!(
        s.engine.access_token(&s.id).await.unwrap().revealed(),
        "at-2"
    );
    refresh.assert_async().await;
}

/// Disconnecting drops the cached token with the keychain's.
#[tokio::test]
async fn disconnect_clears_the_cached_token() {
    let server = mockito::Server::new_async().await;
    let s = seeded(&server.url(), 3000, 3600);
    s.engine.access_token(&s.id).await.unwrap();
    s.engine.disconnect(&s.id).await.unwrap();
    assert!(matches!(
        s.engine.access_token(&s.id).await,
        Err(OnrampError::NotConnected)
    ));
}

/// A mock refresh: `refresh_token` and `client_secret` in the body, answered with `access` /
/// `rotated` living `expires_in` seconds.
async fn refresh_answer(
    server: &mut mockito::ServerGuard,
    refresh_token: &str,
    client_secret: &str,
    (access, rotated, expires_in): (&str, &str, i64),
    hits: usize,
) -> mockito::Mock {
    server
        .mock("POST", "/oauth/token")
        .match_body(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("refresh_token".into(), refresh_token.into()),
            mockito::Matcher::UrlEncoded("client_secret".into(), client_secret.into()),
        ]))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(format!(
            r#"{{"access_token":"{access}","refresh_token":"{rotated}","expires_in":{expires_in},"token_type":"Bearer"}}"#
        ))
        .expect(hits)
        .create_async()
        .await
}

/// Issue 13's target: once this process has read the client secret (here by an earlier refresh),
/// an expired token and 200 concurrent callers make one refresh and ONE keychain read, the
/// rotating refresh token; the secret comes from memory under the store's unchanged revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_callers_on_an_expired_token_make_one_refresh_and_one_keychain_read() {
    let mut server = mockito::Server::new_async().await;
    // The first refresh hands out a token that is already inside its use margin.
    let first = refresh_answer(&mut server, "rt-1", "secret-1", ("at-2", "rt-2", 1), 1).await;
    let s = seeded(&server.url(), 0, 3600);
    s.engine.refresh_now(&s.id).await.unwrap();
    first.assert_async().await;
    let second = refresh_answer(&mut server, "rt-2", "secret-1", ("at-3", "rt-3", 3600), 1).await;
    let before = crate::vault::keychain_reads(&s.id);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (engine, id) = (s.engine.clone(), s.id.clone());
        tasks.push(tokio::spawn(async move { engine.access_token(&id).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().revealed(), "at-3");
    }
    second.assert_async().await;
    assert_eq!(
        crate::vault::keychain_reads(&s.id),
        before + 1,
        "the refresh token only"
    );
    // The rotation order is unchanged: the new refresh token is in the keychain.
    assert_eq!(
        Vault
            .get(&s.id, SecretKind::RefreshToken)
            .unwrap()
            .revealed()
            .as_deref(),
        Some("rt-3")
    );
}

/// Another process (a second engine and store on the same folder, as the command line is) saves a
/// new client secret after this one read the old secret: this one's next refresh sends the new
/// secret, never the stale copy, because the save bumped the revision in the shared store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_changed_by_another_process_is_used_by_the_next_refresh() {
    let mut server = mockito::Server::new_async().await;
    let first = refresh_answer(&mut server, "rt-1", "secret-1", ("at-2", "rt-2", 1), 1).await;
    let s = seeded(&server.url(), 0, 3600);
    s.engine.refresh_now(&s.id).await.unwrap();
    first.assert_async().await;
    let other = s.another_process();
    let revision = other
        .store
        .integration(&s.id)
        .await
        .unwrap()
        .client_secret_revision;
    other
        .save_credentials(&s.id, "client-1", Some("secret-2".into()))
        .await
        .unwrap();
    assert_eq!(
        s.engine
            .store
            .integration(&s.id)
            .await
            .unwrap()
            .client_secret_revision,
        revision + 1,
        "the save moved the revision on in the shared file"
    );
    let stale = refresh_answer(&mut server, "rt-2", "secret-1", ("at-x", "rt-x", 3600), 0).await;
    let fresh = refresh_answer(&mut server, "rt-2", "secret-2", ("at-3", "rt-3", 1), 1).await;
    assert_eq!(
        s.engine.access_token(&s.id).await.unwrap().revealed(),
        "at-3"
    );
    fresh.assert_async().await;
    stale.assert_async().await;
    // The new secret is now this process's copy: the refresh after reads only the refresh token.
    let next = refresh_answer(&mut server, "rt-3", "secret-2", ("at-4", "rt-4", 3600), 1).await;
    let before = crate::vault::keychain_reads(&s.id);
    assert_eq!(
        s.engine.access_token(&s.id).await.unwrap().revealed(),
        "at-4"
    );
    next.assert_async().await;
    assert_eq!(crate::vault::keychain_reads(&s.id), before + 1);
}

/// The same within one process: saving a new secret is never followed by a refresh with the old one.
#[tokio::test]
async fn a_secret_saved_here_is_used_by_the_next_refresh() {
    let mut server = mockito::Server::new_async().await;
    let first = refresh_answer(&mut server, "rt-1", "secret-1", ("at-2", "rt-2", 1), 1).await;
    let s = seeded(&server.url(), 0, 3600);
    s.engine.refresh_now(&s.id).await.unwrap();
    first.assert_async().await;
    s.engine
        .save_credentials(&s.id, "client-1", Some("secret-3".into()))
        .await
        .unwrap();
    let fresh = refresh_answer(&mut server, "rt-2", "secret-3", ("at-3", "rt-3", 3600), 1).await;
    s.engine.refresh_now(&s.id).await.unwrap();
    fresh.assert_async().await;
}

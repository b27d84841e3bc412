//! The token lifecycle: a usable access token on demand, single-flight refresh with rotation, the
//! background refresh, disconnect. The timing rules are in `crate::lifecycle`.

use super::*;
use crate::lifecycle::{reconnect_reason, use_margin_secs};
use crate::oauth::{ClientCredentials, TokenSet};

/// Owned credentials for the token endpoint (the secret prints as `[REDACTED]`).
#[derive(Debug)]
pub(super) struct TokenEndpoint {
    server: crate::oauth_error::Server,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    auth: crate::model::ClientAuth,
}

impl TokenEndpoint {
    pub(super) fn credentials(&self) -> ClientCredentials<'_> {
        ClientCredentials {
            server: &self.server,
            token_url: &self.token_url,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            auth: self.auth,
        }
    }
}

/// One refresh of an integration at a time, across tasks (the lifecycle's mutex) and across
/// processes (an exclusive lock on `<config dir>/locks/<id>.refresh`): the window and command lines
/// share one rotating refresh token, and two refreshes with it would revoke the family. Whoever
/// waited re-reads the store and the keychain once it holds the guard, and finds the winner's token.
pub(super) struct RefreshGuard {
    _in_process: tokio::sync::OwnedMutexGuard<()>,
    /// Released when dropped (the OS drops it too when the process dies, even killed).
    _across_processes: Option<std::fs::File>,
}

/// Takes the lock file of one integration, waiting for another process that holds it.
fn lock_across_processes(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

impl Engine {
    /// Waits for and takes the right to refresh integration `id` (see [`RefreshGuard`]). A lock file
    /// that cannot be made (read-only folder) leaves only the in-process lock, with a warning.
    pub(super) async fn refresh_guard(&self, id: &str) -> RefreshGuard {
        let in_process = self.lifecycle.refresh_lock(id).lock_owned().await;
        // An engine without a file (the command line's CI mode) shares its tokens with nobody.
        if self.store.path().is_none() {
            return RefreshGuard {
                _in_process: in_process,
                _across_processes: None,
            };
        }
        let path = self
            .config
            .config_dir
            .join("locks")
            .join(format!("{id}.refresh"));
        let across = tokio::task::spawn_blocking(move || lock_across_processes(&path)).await;
        let across = match across {
            Ok(Ok(file)) => Some(file),
            Ok(Err(e)) => {
                tracing::warn!("integration {id}: no refresh lock file ({e}); this process only");
                None
            }
            Err(e) => {
                tracing::warn!("integration {id}: refresh lock task failed ({e})");
                None
            }
        };
        RefreshGuard {
            _in_process: in_process,
            _across_processes: across,
        }
    }

    /// Atlassian's gateway does not always say 401 for an expired token: a 403/404 is taken as
    /// possibly expired when the token is in the second half of its life (or its age is unknown).
    pub(super) async fn token_possibly_expired(&self, id: &str) -> bool {
        let Ok(i) = self.store.integration(id).await else {
            return false;
        };
        let Some(c) = i.connection else { return false };
        match (c.expires_at, c.token_lifetime) {
            (Some(exp), Some(life)) => now_unix() >= exp - life / 2,
            _ => true,
        }
    }

    /// A valid access token, refreshed first when it is about to expire. One refresh at a time per
    /// integration: a caller that waited re-reads the settings, because the refresh it waited for may
    /// already have produced a fresh token.
    pub async fn access_token(&self, id: &str) -> Result<SecretString, OnrampError> {
        let _guard = self.refresh_guard(id).await;
        let integration = self.store.integration(id).await?;
        // A service account needs nobody in a browser: its first token is fetched on first use.
        if integration.connection.is_none()
            && self.grant_of(&integration.provider_id).await
                == crate::model::Grant::ClientCredentials
        {
            return self.client_credentials_locked(&integration).await;
        }
        let connection = self.usable_connection(&integration)?;
        let fresh = connection
            .expires_at
            .is_none_or(|exp| exp - use_margin_secs(connection.token_lifetime) > now_unix())
            && !self.has_unsaved_tokens(id);
        if fresh {
            if let Some(token) = self.stored(id, SecretKind::AccessToken).await? {
                return Ok(token);
            }
        }
        self.refresh_locked(&integration).await
    }

    /// The gateway rejected `used`: refresh, unless another caller already replaced it.
    pub(super) async fn refresh_after_rejection(
        &self,
        id: &str,
        used: &SecretString,
    ) -> Result<SecretString, OnrampError> {
        let _guard = self.refresh_guard(id).await;
        let integration = self.store.integration(id).await?;
        self.usable_connection(&integration)?;
        match self.stored(id, SecretKind::AccessToken).await? {
            Some(current) if current.expose_secret() != used.expose_secret() => Ok(current),
            _ => self.refresh_locked(&integration).await,
        }
    }

    /// "Refresh now": refreshes whatever the expiry says.
    pub async fn refresh_now(&self, id: &str) -> Result<IntegrationView, OnrampError> {
        let _guard = self.refresh_guard(id).await;
        let integration = self.store.integration(id).await?;
        self.usable_connection(&integration)?;
        self.refresh_locked(&integration).await?;
        self.integration(id).await
    }

    /// The periodic background work: authorizations nobody answered in time end (their loopback
    /// port is freed) and the UI hears `expired`; tokens close to expiry are refreshed, so a
    /// connection left open stays alive, and the UI hears `connection-changed` for each.
    pub async fn background_tick(&self, events: &dyn crate::events::EventSink) {
        self.sweep_earlier_sandbox_runs().await;
        self.expire_stale_authorizations(events);
        for id in self.refresh_due_in_background().await {
            if let Ok(view) = self.integration(&id).await {
                events.connection_changed(view);
            }
        }
    }

    /// Refreshes, in the background, every token that is due (see `due_for_proactive_refresh`).
    /// A failed attempt is tried again after 30 s, 1 min, 2 min … (at most 15 min); `invalid_grant`
    /// marks the connection "needs reconnect" instead. Returns the integrations that were tried, whose
    /// view may have changed.
    pub async fn refresh_due_in_background(&self) -> Vec<String> {
        let due = self.due_for_proactive_refresh().await;
        for id in &due {
            // A success clears the backoff (refresh_locked does it).
            if let Err(e) = self.refresh_now(id).await {
                let wait = self.lifecycle.background_failed(id, now_unix());
                tracing::warn!(
                    "background refresh of {id} failed ({}); next try in {wait} s",
                    e.to_ui().code
                );
            }
        }
        due
    }

    /// Connections whose token should be refreshed in the background now.
    pub async fn due_for_proactive_refresh(&self) -> Vec<String> {
        let now = now_unix();
        let saved = match self.store.integrations().await {
            Ok(saved) => saved,
            Err(e) => {
                tracing::warn!("background refresh: the store could not be read: {e}");
                return Vec::new();
            }
        };
        let mut client_credentials = std::collections::HashSet::new();
        for i in &saved {
            if self.grant_of(&i.provider_id).await == crate::model::Grant::ClientCredentials {
                client_credentials.insert(i.id.clone());
            }
        }
        saved
            .into_iter()
            // A handed-off connection is Nango's to refresh (one refresher only).
            .filter(|i| i.handed_off.is_none())
            .filter(|i| {
                let cc = client_credentials.contains(&i.id);
                let due = i
                    .connection
                    .as_ref()
                    .is_some_and(|c| self.lifecycle.due_in_background(&i.id, c, cc, now));
                // Rotated tokens the keychain refused are saved as soon as it takes them (each
                // attempt under the same backoff), not only when the token nears expiry.
                due || (self.has_unsaved_tokens(&i.id)
                    && self.lifecycle.background_retry_allowed(&i.id, now))
            })
            .map(|i| i.id)
            .collect()
    }

    /// Before an integration's tokens are removed (disconnect, delete): its pending authorization
    /// ends, a refresh in flight finishes first (or it would write a live token back afterwards),
    /// and its background backoff is forgotten. Hold the guard while removing.
    pub(super) async fn stop_token_work(&self, id: &str) -> RefreshGuard {
        self.flows.cancel(id);
        let guard = self.refresh_guard(id).await;
        self.lifecycle.clear_backoff(id);
        self.take_unsaved_tokens(id);
        guard
    }

    fn unsaved(&self) -> std::sync::MutexGuard<'_, HashMap<String, TokenSet>> {
        self.unsaved_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn has_unsaved_tokens(&self, id: &str) -> bool {
        self.unsaved().contains_key(id)
    }

    /// Removes (and returns) the tokens held for `id`; a new grant or a disconnect drops them.
    pub(super) fn take_unsaved_tokens(&self, id: &str) -> Option<TokenSet> {
        self.unsaved().remove(id)
    }

    fn keep_unsaved_tokens(&self, id: &str, tokens: TokenSet) {
        self.unsaved().insert(id.to_string(), tokens);
    }

    /// Forgets the tokens (keychain entries deleted) but keeps the integration and its client secret.
    /// Revoking the grant itself happens at Atlassian: no 3LO revocation endpoint is established.
    pub async fn disconnect(&self, id: &str) -> Result<IntegrationView, OnrampError> {
        self.store.integration(id).await?;
        let _quiet = self.stop_token_work(id).await;
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || {
            vault.delete(&owned, SecretKind::RefreshToken)?;
            vault.delete(&owned, SecretKind::AccessToken)
        })
        .await?;
        self.change_integration(id, move |i| {
            i.connection = None;
        })
        .await?;
        tracing::info!("integration {id} disconnected");
        self.integration(id).await
    }

    /// How the integration's provider hands out tokens (authorization code when it is gone).
    pub(super) async fn grant_of(&self, provider_id: &str) -> crate::model::Grant {
        self.provider(provider_id)
            .await
            .map(|p| p.grant)
            .unwrap_or_default()
    }

    pub(super) fn usable_connection(
        &self,
        integration: &Integration,
    ) -> Result<Connection, OnrampError> {
        let connection = integration
            .connection
            .clone()
            .ok_or(OnrampError::NotConnected)?;
        let lost = crate::lifecycle::lost_in_sandbox_restart(
            integration,
            self.through_sandbox(&integration.provider_id),
            self.sandbox_instance(),
        );
        if lost {
            return Err(OnrampError::NeedsReconnect(
                crate::lifecycle::SANDBOX_RESTARTED.into(),
            ));
        }
        if connection.state == ConnectionState::NeedsReconnect {
            return Err(OnrampError::NeedsReconnect(
                connection
                    .reason
                    .unwrap_or_else(|| "The connection was lost.".into()),
            ));
        }
        Ok(connection)
    }

    pub(super) async fn stored(
        &self,
        id: &str,
        kind: SecretKind,
    ) -> Result<Option<SecretString>, OnrampError> {
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.get(&owned, kind)).await
    }

    /// Refreshes with the stored refresh token. Caller holds the integration's refresh lock.
    pub(super) async fn refresh_locked(
        &self,
        integration: &Integration,
    ) -> Result<SecretString, OnrampError> {
        let id = integration.id.clone();
        if let Some(h) = &integration.handed_off {
            return Err(OnrampError::HandedOff {
                to: h.to.clone(),
                base_url: h.base_url.clone(),
            });
        }
        // A service account has no refresh token: a new token comes from its client credentials.
        if self.grant_of(&integration.provider_id).await == crate::model::Grant::ClientCredentials {
            return self.client_credentials_locked(integration).await;
        }
        // A rotated pair the keychain refused last time comes first: the stored refresh token is
        // already retired at the provider, so refreshing with it would lose the connection.
        if let Some(unsaved) = self.take_unsaved_tokens(&id) {
            return self.save_refreshed(&id, unsaved).await;
        }
        let Some(refresh_token) = self.stored(&id, SecretKind::RefreshToken).await? else {
            let server = self
                .server_of(&integration.provider_id)
                .await
                .unwrap_or_else(crate::oauth_error::Server::unknown);
            let reason = format!(
                "The access token expired. {}",
                crate::lifecycle::no_refresh_token_advice(&server, &integration.scopes)
            );
            self.mark_needs_reconnect(&id, &reason).await?;
            return Err(OnrampError::NeedsReconnect(reason));
        };
        let endpoint = self.token_endpoint(integration).await?;
        let result = oauth::refresh(&self.http, &endpoint.credentials(), &refresh_token).await;
        let tokens = match result {
            Ok(t) => t,
            Err(e) if e.needs_reconnect() => {
                let reason = integration
                    .connection
                    .as_ref()
                    .map(|c| reconnect_reason(c, now_unix(), &endpoint.server))
                    .unwrap_or_else(|| e.to_ui().detail);
                self.mark_needs_reconnect(&id, &reason).await?;
                return Err(OnrampError::NeedsReconnect(reason));
            }
            Err(e) => return Err(e),
        };
        self.save_refreshed(&id, tokens).await
    }

    /// Stores a refresh's tokens and the connection's new expiry. If the keychain refuses (locked,
    /// daemon gone), the tokens stay in memory and the error says so: the next refresh attempt
    /// (Refresh now, a call, the background's backoff) writes them first.
    async fn save_refreshed(
        &self,
        id: &str,
        tokens: TokenSet,
    ) -> Result<SecretString, OnrampError> {
        let id = id.to_string();
        if let Err(e) = self.store_tokens(&id, &tokens, false).await {
            return match e {
                OnrampError::Keychain(cause) | OnrampError::KeychainUnavailable(cause) => {
                    tracing::warn!("integration {id}: refreshed tokens held in memory, the keychain refused them");
                    self.keep_unsaved_tokens(&id, tokens);
                    Err(OnrampError::TokensNotSaved(cause))
                }
                other => Err(other),
            };
        }
        self.lifecycle.clear_backoff(&id);
        self.change_integration(&id, move |i| {
            if let Some(c) = i.connection.as_mut() {
                c.expires_at = tokens.expires_at;
                c.token_lifetime = tokens.lifetime.or(c.token_lifetime);
                c.last_refresh_at = Some(now_unix());
                if let Some(scopes) = &tokens.scopes {
                    c.granted_scopes = scopes.clone();
                }
                c.has_refresh_token = c.has_refresh_token || tokens.refresh_token.is_some();
            }
        })
        .await?;
        tracing::info!("integration {id}: access token refreshed");
        Ok(tokens.access_token)
    }

    /// Stores the rotated refresh token before the access token, so a crash in between can only
    /// lose an access token (cheap), never the one refresh token that still works.
    pub(super) async fn store_tokens(
        &self,
        id: &str,
        tokens: &TokenSet,
        replace_refresh: bool,
    ) -> Result<(), OnrampError> {
        let vault = self.vault.clone();
        let owned = id.to_string();
        let refresh = tokens.refresh_token.clone();
        let access = tokens.access_token.clone();
        run_blocking(move || {
            match refresh {
                Some(rt) => vault.set(&owned, SecretKind::RefreshToken, &rt)?,
                // A new consent without offline_access must not keep an old family's token.
                None if replace_refresh => vault.delete(&owned, SecretKind::RefreshToken)?,
                // A refresh response without a refresh token keeps the stored one.
                None => {}
            }
            vault.set(&owned, SecretKind::AccessToken, &access)
        })
        .await
    }

    pub(super) async fn mark_needs_reconnect(
        &self,
        id: &str,
        reason: &str,
    ) -> Result<(), OnrampError> {
        tracing::warn!("integration {id} needs reconnect");
        let reason = reason.to_string();
        self.change_integration(id, move |i| {
            if let Some(c) = i.connection.as_mut() {
                c.state = ConnectionState::NeedsReconnect;
                c.reason = Some(reason);
            }
        })
        .await?;
        Ok(())
    }

    /// The token endpoint and client credentials of an integration (the secret from the keychain).
    pub(super) async fn token_endpoint(
        &self,
        integration: &Integration,
    ) -> Result<TokenEndpoint, OnrampError> {
        let provider = self.provider(&integration.provider_id).await?;
        Ok(TokenEndpoint {
            server: crate::oauth_error::Server::of(&provider),
            token_url: provider.token_url.clone(),
            client_id: integration.client_id.clone(),
            client_secret: self.client_secret(&integration.id).await?,
            auth: provider.client_auth,
        })
    }

    pub(super) async fn client_secret(&self, id: &str) -> Result<SecretString, OnrampError> {
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.get(&owned, SecretKind::ClientSecret))
            .await?
            .ok_or(OnrampError::ClientSecretMissing)
    }
}

#[cfg(test)]
mod tests {
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
        let other = Arc::new(
            Engine::new(EngineConfig {
                config_dir: s._dir.path().into(),
                sandbox: None,
                default_loopback_port: 47823,
            })
            .unwrap(),
        );
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
            .with_body(r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#)
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
}

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
    /// The secret came from this process's memory (`ClientSecretCache`), not from the keychain now.
    pub(super) secret_from_memory: bool,
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
    /// Dropped first: the background's schedule is recomputed once the lock is free again.
    _wake_background: WakeOnDrop,
    _in_process: tokio::sync::OwnedMutexGuard<()>,
    /// Released when dropped (the OS drops it too when the process dies, even killed).
    _across_processes: Option<std::fs::File>,
}

/// Tells the background loop, when a guard ends, that tokens may have changed (and with them
/// when the next refresh is due).
struct WakeOnDrop(std::sync::Arc<tokio::sync::Notify>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// Takes the lock file of one integration, waiting for another process that holds it.
fn lock_across_processes(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
    };
    // The folder is made once, when the first open finds it missing (not a `mkdir` every time).
    let file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            open()?
        }
        other => other?,
    };
    file.lock()?;
    Ok(file)
}

/// Takes integration `id`'s lock file at `path` (blocking; see [`Engine::lock_file_path`]). A lock
/// file that cannot be made (read-only folder) leaves only the in-process lock, with a warning.
pub(super) fn take_lock_file(id: &str, path: Option<&std::path::Path>) -> Option<std::fs::File> {
    match lock_across_processes(path?) {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::warn!("integration {id}: no refresh lock file ({e}); this process only");
            None
        }
    }
}

/// [`Engine::store_tokens`] in the calling (blocking) thread: the refresh token first.
pub(super) fn write_tokens(
    vault: &Vault,
    id: &str,
    refresh: Option<SecretString>,
    access: &SecretString,
    replace_refresh: bool,
) -> Result<(), OnrampError> {
    match refresh {
        Some(rt) => vault.set(id, SecretKind::RefreshToken, &rt)?,
        // A new consent without offline_access must not keep an old family's token.
        None if replace_refresh => vault.delete(id, SecretKind::RefreshToken)?,
        // A refresh response without a refresh token keeps the stored one.
        None => {}
    }
    vault.set(id, SecretKind::AccessToken, access)
}

impl Engine {
    /// Waits for and takes the right to refresh integration `id` (see [`RefreshGuard`]). Every
    /// change of tokens (refresh, new grant, push, disconnect, delete, a rejected token) holds this
    /// guard, so taking it drops the cached access token: nothing stale outlives a change.
    pub(super) async fn refresh_guard(&self, id: &str) -> RefreshGuard {
        let guard = self.integration_lock(id).await;
        self.token_cache.forget(id);
        guard
    }

    /// The same lock, keeping the cached token: for `access_token`, which changes tokens only by
    /// refreshing (and a refresh stores its new token in the cache), so callers that waited for
    /// it are served the winner's token from memory.
    async fn integration_lock(&self, id: &str) -> RefreshGuard {
        let in_process = self.lifecycle.refresh_lock(id).lock_owned().await;
        self.lock_across_processes(id, in_process).await
    }

    /// The in-process half of the refresh guard, for work that takes the lock file itself on a
    /// blocking thread it needs anyway ([`take_lock_file`], then [`Self::guard_from`]). Drops the
    /// cached access token, as [`Self::refresh_guard`] does.
    pub(super) async fn in_process_refresh_lock(
        &self,
        id: &str,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        let in_process = self.lifecycle.refresh_lock(id).lock_owned().await;
        self.token_cache.forget(id);
        in_process
    }

    /// Integration `id`'s lock file; `None` for an engine without a file (the command line's CI
    /// mode), which shares its tokens with nobody.
    pub(super) fn lock_file_path(&self, id: &str) -> Option<std::path::PathBuf> {
        self.store.path()?;
        Some(
            self.config
                .config_dir
                .join("locks")
                .join(format!("{id}.refresh")),
        )
    }

    /// The whole guard from its two halves (the lock file taken, or not, by [`take_lock_file`]).
    pub(super) fn guard_from(
        &self,
        in_process: tokio::sync::OwnedMutexGuard<()>,
        across: Option<std::fs::File>,
    ) -> RefreshGuard {
        RefreshGuard {
            _wake_background: WakeOnDrop(self.background_schedule.clone()),
            _in_process: in_process,
            _across_processes: across,
        }
    }

    /// Adds the lock file to the in-process lock `in_process` (see [`RefreshGuard`]).
    async fn lock_across_processes(
        &self,
        id: &str,
        in_process: tokio::sync::OwnedMutexGuard<()>,
    ) -> RefreshGuard {
        let Some(path) = self.lock_file_path(id) else {
            return self.guard_from(in_process, None);
        };
        let owned = id.to_string();
        let across = tokio::task::spawn_blocking(move || take_lock_file(&owned, Some(&path))).await;
        let across = across.unwrap_or_else(|e| {
            tracing::warn!("integration {id}: refresh lock task failed ({e})");
            None
        });
        self.guard_from(in_process, across)
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
    /// A token this process knows is fresh comes from memory, without the guard or the keychain.
    pub async fn access_token(&self, id: &str) -> Result<SecretString, OnrampError> {
        if let Some(token) = self.token_cache.fresh(id, now_unix()) {
            return Ok(token);
        }
        let in_process = self.lifecycle.refresh_lock(id).lock_owned().await;
        // The caller we waited for may have refreshed: its token is in memory now, served without
        // the lock file (200 waiters would otherwise take it one after another for nothing).
        if let Some(token) = self.token_cache.fresh(id, now_unix()) {
            return Ok(token);
        }
        let _guard = self.lock_across_processes(id, in_process).await;
        // Another process may have refreshed meanwhile: the store and the keychain say so below.
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
                self.token_cache.remember(
                    id,
                    &token,
                    connection.expires_at,
                    connection.token_lifetime,
                );
                return Ok(token);
            }
        }
        self.refresh_locked(&integration).await
    }

    /// The gateway rejected `used`: refresh, unless another caller already replaced it. Taking the
    /// guard drops the cached copy, so the rejected token is never served from memory again.
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
        let (expires_at, lifetime) = (tokens.expires_at, tokens.lifetime);
        let saved = self
            .change_integration(&id, move |i| {
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
        let lifetime = saved
            .connection
            .as_ref()
            .and_then(|c| c.token_lifetime)
            .or(lifetime);
        self.token_cache
            .remember(&id, &tokens.access_token, expires_at, lifetime);
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
        run_blocking(move || write_tokens(&vault, &owned, refresh, &access, replace_refresh)).await
    }

    pub(super) async fn mark_needs_reconnect(
        &self,
        id: &str,
        reason: &str,
    ) -> Result<(), OnrampError> {
        tracing::warn!("integration {id} needs reconnect");
        // Also reached without the guard (the sweep of earlier sandbox runs).
        self.token_cache.forget(id);
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

    /// The token endpoint and client credentials of an integration. The secret comes from memory
    /// when this process read it under the record's current `client_secret_revision`, else from the
    /// keychain (then kept under that revision). `integration` must have been read from the store
    /// before this call, as every caller does: see `ClientSecretCache` for why that makes the
    /// copy safe across processes.
    pub(super) async fn token_endpoint(
        &self,
        integration: &Integration,
    ) -> Result<TokenEndpoint, OnrampError> {
        let provider = self.provider(&integration.provider_id).await?;
        let revision = integration.client_secret_revision;
        let cached = self.client_secrets.at(&integration.id, revision);
        let secret_from_memory = cached.is_some();
        let client_secret = match cached {
            Some(secret) => secret,
            None => {
                let secret = self.client_secret(&integration.id).await?;
                self.client_secrets
                    .remember(&integration.id, revision, &secret);
                secret
            }
        };
        Ok(TokenEndpoint {
            server: crate::oauth_error::Server::of(&provider),
            token_url: provider.token_url.clone(),
            client_id: integration.client_id.clone(),
            client_secret,
            auth: provider.client_auth,
            secret_from_memory,
        })
    }

    /// The client secret as the keychain holds it now.
    pub(super) async fn client_secret(&self, id: &str) -> Result<SecretString, OnrampError> {
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.get(&owned, SecretKind::ClientSecret))
            .await?
            .ok_or(OnrampError::ClientSecretMissing)
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;

//! Step 4, authorize: the authorize URL, pending flows, the loopback listener, the callback and the
//! code exchange.

use super::*;
use crate::events::EventSink;
use crate::loopback::{self, CallbackVerdict, LoopbackListener, ReceivedCallback};
use crate::model::{AuthProgress, AuthStage};
use crate::oauth::{CallbackChannel, CallbackRefusal, PendingFlow};
use tokio::sync::oneshot;

/// The deep-link callback URL. The scheme is registered with the OS by the shell.
pub const DEEP_LINK_CALLBACK: &str = "onramp://callback";

/// Shown beside a flow that keeps waiting after a callback that was not its own arrived: calm,
/// because nothing is wrong with the flow and nothing needs doing.
pub const IGNORED_CALLBACK_NOTICE: &str =
    "Ignored a callback that did not belong to this authorization. Still waiting for yours.";

/// A started authorization: what the UI shows, and the loopback listener to await, if any.
pub struct StartedAuthorization {
    pub started: AuthorizationStarted,
    pub loopback: Option<LoopbackListener>,
}

/// A callback matched to its pending flow, ready for the code exchange.
pub struct AcceptedCallback {
    pub integration_id: String,
    code: SecretString,
    flow: PendingFlow,
}

/// A callback that was refused.
pub struct RefusedCallback {
    /// The integration whose flow this callback ended (it had expired, or the provider sent an
    /// error). `None` when it matched no flow waiting on its channel and address: it is ignored and
    /// every flow still waiting keeps waiting.
    pub integration_id: Option<String>,
    pub error: OnrampError,
}

impl Engine {
    /// Builds the authorize URL and registers the pending flow. For a loopback callback the listener
    /// is bound first, so a busy port is reported before the browser opens.
    /// The UI hears `waiting`; the shell then opens the browser and hands each request the loopback
    /// listener receives to [`Self::handle_callback`] until the listener closes (its flow ended).
    pub async fn start_authorization(
        &self,
        id: &str,
        events: &dyn EventSink,
    ) -> Result<StartedAuthorization, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        if integration.client_id.is_empty() {
            return Err(OnrampError::invalid(
                "client ID",
                "Enter the client ID from the developer console in step 2.",
            ));
        }
        if !integration.has_client_secret {
            return Err(OnrampError::ClientSecretMissing);
        }
        if integration.scopes.is_empty() {
            return Err(OnrampError::invalid(
                "scopes",
                "Pick at least one scope in step 3.",
            ));
        }
        // Never opens the browser for credentials the token endpoint refuses.
        self.check_before_authorizing(id, &integration, &provider)
            .await?;
        let redirect_uri = redirect_uri_for(&integration.callback);
        let request = oauth::build_authorize_url(&oauth::AuthorizeParams {
            provider: &provider,
            client_id: &integration.client_id,
            redirect_uri: &redirect_uri,
            scopes: &integration.scopes,
        })?;
        // A flow still waiting for this integration (timed out in the UI, or "Start again") holds
        // the port with its listener: end it first, so its port is free for the new one.
        let replaced = self.flows.cancel(id);
        let (loopback, stop_listener, channel) = match integration.callback.kind {
            CallbackKind::Loopback => {
                let (listener, stop) =
                    bind_loopback(integration.callback.loopback_port, replaced).await?;
                let port = listener.port();
                (
                    Some(listener),
                    Some(stop),
                    CallbackChannel::Loopback { port },
                )
            }
            CallbackKind::DeepLink => (None, None, CallbackChannel::DeepLink),
        };
        let created_at = now_unix();
        self.flows.begin(
            request.state,
            PendingFlow {
                integration_id: id.to_string(),
                redirect_uri: redirect_uri.clone(),
                channel,
                pkce_verifier: request.pkce_verifier,
                created_at,
                stop_listener,
                record: Some(Box::new(integration.clone())),
            },
        );
        // Its expiry is new background work.
        self.background_schedule.notify_one();
        tracing::info!(
            "authorization started for integration {id} ({:?})",
            integration.callback.kind
        );
        self.register_sandbox_callback(&integration);
        report(
            events,
            id,
            AuthStage::Waiting,
            "Waiting for you to approve in the browser…",
            None,
            None,
        );
        Ok(StartedAuthorization {
            started: AuthorizationStarted {
                authorize_url: request.url,
                redirect_uri,
                expires_at: created_at + oauth::FLOW_TTL.as_secs() as i64,
            },
            loopback,
        })
    }

    /// Ends the integration's pending authorization, if any; the UI hears `cancelled`.
    pub fn cancel_authorization(&self, id: &str, events: &dyn EventSink) {
        if self.flows.cancel(id) {
            report(
                events,
                id,
                AuthStage::Cancelled,
                "Authorization cancelled.",
                None,
                None,
            );
        }
    }

    /// The system browser could not be opened: the flow keeps waiting, and the UI shows the
    /// authorize URL to copy.
    pub fn browser_unavailable(&self, id: &str, why: &str, events: &dyn EventSink) {
        tracing::warn!("could not open the system browser: {why}");
        let error = OnrampError::BrowserUnavailable(why.to_string());
        report(
            events,
            id,
            AuthStage::Waiting,
            "Open the authorize URL in your browser.",
            Some(error.to_ui()),
            None,
        );
    }

    /// A callback from either channel, start to end: match it to its flow, exchange the code, and
    /// tell the UI each stage. A callback that matches no flow waiting on its channel and address
    /// (stray, forged, replayed, unreadable) ends nothing: each flow still waiting keeps waiting
    /// and hears a calm notice; when nobody waits, the UI hears `callback-unmatched`.
    pub async fn handle_callback(
        &self,
        url: &str,
        channel: CallbackChannel,
        events: &dyn EventSink,
    ) {
        self.handle_callback_answering(url, channel, events, |_| {})
            .await;
    }

    /// A request the loopback listener on `port` received: handled as [`Self::handle_callback`],
    /// and the browser is told the verdict (accepted or not) before the code exchange starts.
    pub async fn handle_loopback_callback(
        &self,
        callback: ReceivedCallback,
        port: u16,
        events: &dyn EventSink,
    ) {
        let url = callback.url.clone();
        let channel = CallbackChannel::Loopback { port };
        self.handle_callback_answering(&url, channel, events, |verdict| callback.answer(verdict))
            .await;
    }

    async fn handle_callback_answering(
        &self,
        url: &str,
        channel: CallbackChannel,
        events: &dyn EventSink,
        answer: impl FnOnce(CallbackVerdict),
    ) {
        let accepted = match self.accept_callback(url, channel) {
            Ok(accepted) => accepted,
            Err(RefusedCallback {
                integration_id: None,
                error,
            }) => {
                answer(CallbackVerdict::NotAccepted);
                let waiting = self.flows.pending_integrations();
                if waiting.is_empty() {
                    events.callback_unmatched(error.to_ui());
                }
                for id in waiting {
                    report_ignored_callback(events, &id);
                }
                return;
            }
            Err(RefusedCallback {
                integration_id: Some(id),
                error,
            }) => {
                let (verdict, stage) = if matches!(error, OnrampError::FlowExpired) {
                    (CallbackVerdict::Expired, AuthStage::Expired)
                } else {
                    (CallbackVerdict::ProviderError, AuthStage::Failed)
                };
                answer(verdict);
                let message = "The callback was refused.";
                let error = self.in_words(&id, &error).await;
                report(events, &id, stage, message, Some(error), None);
                return;
            }
        };
        answer(CallbackVerdict::Accepted);
        let id = accepted.integration_id.clone();
        let exchanging = "Exchanging the code for tokens…";
        report(events, &id, AuthStage::Exchanging, exchanging, None, None);
        match self.finish_authorization(accepted).await {
            Ok(view) => report(
                events,
                &id,
                AuthStage::Connected,
                "Connected.",
                None,
                Some(view),
            ),
            Err(e) => {
                let failed = "The code exchange failed.";
                let error = self.in_words(&id, &e).await;
                report(events, &id, AuthStage::Failed, failed, Some(error), None)
            }
        }
    }

    /// An error of integration `id`'s authorization in words, naming its provider.
    async fn in_words(&self, id: &str, error: &OnrampError) -> crate::model::UiError {
        let server = match self.store.integration(id).await {
            Ok(i) => self.server_of(&i.provider_id).await,
            Err(_) => None,
        };
        error.to_ui_from(&server.unwrap_or_else(crate::oauth_error::Server::unknown))
    }

    /// Ends the authorizations nobody answered within [`oauth::FLOW_TTL`] (their loopback
    /// listeners close) and returns their integrations, to tell the UI.
    pub fn expire_stale_authorizations(&self, events: &dyn EventSink) -> Vec<String> {
        let expired = self.flows.expire_stale(now_unix());
        for id in &expired {
            tracing::info!("authorization for integration {id} expired unanswered");
            let message = "Nobody approved the authorization in time.";
            report(events, id, AuthStage::Expired, message, None, None);
        }
        expired
    }

    /// Step one of a callback that came through `channel`: parse it and match it to a pending
    /// flow (state, channel and redirect URI).
    pub fn accept_callback(
        &self,
        callback_url: &str,
        channel: CallbackChannel,
    ) -> Result<AcceptedCallback, RefusedCallback> {
        match oauth::accept_callback_url(&self.flows, callback_url, channel) {
            Ok((mut flow, code)) => {
                // The flow is taken: its loopback listener closes now (the "close this tab" page
                // still completes), so nothing else is handled as a callback during the exchange.
                drop(flow.stop_listener.take());
                Ok(AcceptedCallback {
                    integration_id: flow.integration_id.clone(),
                    code,
                    flow,
                })
            }
            Err(CallbackRefusal::Ended {
                integration_id,
                error,
            }) => {
                tracing::warn!(
                    "callback refused: it ended the authorization of integration {integration_id} ({})",
                    error.to_ui().code
                );
                Err(RefusedCallback {
                    integration_id: Some(integration_id),
                    error,
                })
            }
            Err(CallbackRefusal::Unmatched(why)) => {
                tracing::warn!(
                    "callback refused and ignored ({channel:?}): {}",
                    why.describe()
                );
                let error = why.to_error();
                if self.flows.pending_integrations().is_empty() {
                    // Nobody is waiting: keep it for a window that is not listening yet (cold start).
                    *self
                        .unmatched_callback
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = Some(error.to_ui());
                }
                Err(RefusedCallback {
                    integration_id: None,
                    error,
                })
            }
        }
    }

    /// Step two: exchange the code, store the tokens in the keychain, record the connection.
    ///
    /// The refresh guard is held from before the exchange to the end: a refresh of the old grant
    /// (here or in another process) cannot land on top of the new tokens, and a delete waits for
    /// the exchange instead of racing it (a refresh holds the guard over its token request too).
    /// The lock file and the check that the integration still exists run on a blocking thread
    /// while the code is exchanged; the keychain writes and the connection record then take one
    /// more hop, in the order they always had.
    pub async fn finish_authorization(
        &self,
        mut accepted: AcceptedCallback,
    ) -> Result<IntegrationView, OnrampError> {
        let id = accepted.integration_id.clone();
        // The record the flow began with (the client ID and provider the code was issued for), not
        // a second read of the store; the check below that the integration still exists stays.
        let integration = match accepted.flow.record.take() {
            Some(record) => *record,
            None => self.store.integration(&id).await?,
        };
        let endpoint = self.token_endpoint(&integration).await?;
        let in_process = self.in_process_refresh_lock(&id).await;
        let lock_file = self.lock_file_path(&id);
        let (store, owned) = (self.store.clone(), id.clone());
        let guarded = run_blocking(move || {
            let across = super::tokens::take_lock_file(&owned, lock_file.as_deref());
            // Deleted before the guard was ours: store nothing, or the tokens would outlive it.
            Ok((across, store.blocking().require_integration(&owned)))
        });
        let (guarded, exchanged) = tokio::join!(
            guarded,
            self.exchange(&id, &integration, &endpoint, &accepted)
        );
        let (across, still_there) = guarded?;
        let _refreshing = self.guard_from(in_process, across);
        let tokens = exchanged?;
        still_there?;
        let granted = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| integration.scopes.clone());
        let connection = Connection {
            state: ConnectionState::Connected,
            connected_at: now_unix(),
            expires_at: tokens.expires_at,
            granted_scopes: granted,
            has_refresh_token: tokens.refresh_token.is_some(),
            reason: None,
            token_lifetime: tokens.lifetime,
            last_refresh_at: None,
        };
        let issued_by = self.issuing_sandbox_run(&integration.provider_id);
        let (store, vault, owned) = (self.store.clone(), self.vault.clone(), id.clone());
        let (refresh, access) = (tokens.refresh_token.clone(), tokens.access_token.clone());
        // The keychain and the store in one go, on this thread when it can (nothing else in this
        // task runs meanwhile): refresh token, access token, connection, history.
        let (written, stored) = run_blocking_here(move || {
            if let Err(e) = super::tokens::write_tokens(&vault, &owned, refresh, &access, true) {
                return Ok((false, Err(e)));
            }
            let stored = store
                .blocking()
                .update_integration_with_history(&owned, move |i| {
                    i.connection = Some(connection);
                    i.sandbox_instance = issued_by;
                    // A new grant is Onramp's own again (a new refresh-token family).
                    i.handed_off = None;
                    Ok(())
                });
            Ok((true, stored))
        })
        .await?;
        if written {
            // A new grant: tokens of the old one still waiting for the keychain are void.
            self.take_unsaved_tokens(&id);
            self.lifecycle.clear_backoff(&id);
        }
        let (saved, history) = stored?;
        self.remember_provider_id(&saved);
        // A copy of what was just written to the keychain (the guard is still held): the first
        // call, usually the site listing, is served from memory.
        self.token_cache.remember(
            &id,
            &tokens.access_token,
            tokens.expires_at,
            tokens.lifetime,
        );
        tracing::info!("integration {id} connected");
        // The record just written, without reading it back.
        Ok(self.view_with_history(&saved, history).await)
    }

    async fn exchange_once(
        &self,
        endpoint: &super::tokens::TokenEndpoint,
        accepted: &AcceptedCallback,
    ) -> Result<crate::oauth::TokenSet, OnrampError> {
        oauth::exchange_code(
            &self.http,
            &endpoint.credentials(),
            &accepted.code,
            &accepted.flow.redirect_uri,
            accepted.flow.pkce_verifier.as_ref(),
        )
        .await
    }

    /// The code exchange of `accepted` with `endpoint`'s credentials.
    async fn exchange(
        &self,
        id: &str,
        integration: &Integration,
        endpoint: &super::tokens::TokenEndpoint,
        accepted: &AcceptedCallback,
    ) -> Result<crate::oauth::TokenSet, OnrampError> {
        match self.exchange_once(endpoint, accepted).await {
            // The secret came from memory under the revision the flow began with: another Onramp
            // may have saved a new one since (ClientSecretCache). When the store's revision moved
            // on, the exchange is tried once more with the keychain's secret; otherwise the
            // refusal stands (the secret was current).
            Err(e) if endpoint.secret_from_memory => {
                let now = self.store.integration(id).await?;
                if now.client_secret_revision == integration.client_secret_revision {
                    return Err(e);
                }
                tracing::info!("integration {id}: client secret changed during the authorization; exchanging with the new one");
                let endpoint = self.token_endpoint(&now).await?;
                self.exchange_once(&endpoint, accepted).await
            }
            other => other,
        }
    }
}

impl Engine {
    /// A service account's "authorize": no browser and no callback, a token from the client ID and
    /// secret (the client credentials grant). Also what replaces a refresh for it: there is no
    /// refresh token, so a new token is fetched the same way before the old one expires.
    pub async fn fetch_service_account_token(
        &self,
        id: &str,
    ) -> Result<IntegrationView, OnrampError> {
        let _guard = self.refresh_guard(id).await;
        let integration = self.store.integration(id).await?;
        self.client_credentials_locked(&integration).await?;
        self.integration(id).await
    }

    /// The sandbox run that issues tokens for `provider_id` now, if it goes through the sandbox:
    /// its grants end with its process, so a connection remembers which run issued it.
    fn issuing_sandbox_run(&self, provider_id: &str) -> Option<String> {
        self.through_sandbox(provider_id)
            .then(|| self.sandbox_instance().map(str::to_string))
            .flatten()
    }

    /// Fetches and stores a client-credentials token; the caller holds the refresh guard. A refused
    /// credential marks the connection "needs reconnect" with the reason (wrong or revoked).
    pub(super) async fn client_credentials_locked(
        &self,
        integration: &Integration,
    ) -> Result<SecretString, OnrampError> {
        let id = integration.id.clone();
        let endpoint = self.token_endpoint(integration).await?;
        let tokens = match oauth::client_credentials(&self.http, &endpoint.credentials()).await {
            Ok(t) => t,
            Err(e) => {
                let e = crate::oauth_error::service_account_refusal(e);
                if let (OnrampError::ServiceAccountRefused { .. }, Some(_)) =
                    (&e, &integration.connection)
                {
                    self.mark_needs_reconnect(&id, &e.to_ui().detail).await?;
                }
                return Err(e);
            }
        };
        // Deleted meanwhile: store nothing.
        self.store.integration(&id).await?;
        self.store_tokens(&id, &tokens, true).await?;
        self.lifecycle.clear_backoff(&id);
        let now = now_unix();
        let granted = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| integration.scopes.clone());
        let connected_at = integration
            .connection
            .as_ref()
            .filter(|c| c.state == ConnectionState::Connected)
            .map_or(now, |c| c.connected_at);
        let connection = Connection {
            state: ConnectionState::Connected,
            connected_at,
            expires_at: tokens.expires_at,
            granted_scopes: granted,
            has_refresh_token: false,
            reason: None,
            token_lifetime: tokens.lifetime,
            last_refresh_at: (connected_at != now).then_some(now),
        };
        let issued_by = self.issuing_sandbox_run(&integration.provider_id);
        self.change_integration(&id, move |i| {
            i.connection = Some(connection);
            i.sandbox_instance = issued_by;
        })
        .await?;
        tracing::info!("integration {id}: service account token fetched");
        Ok(tokens.access_token)
    }
}

/// Tells the UI where an authorization stands (and the log, without secrets).
fn report(
    events: &dyn EventSink,
    id: &str,
    stage: AuthStage,
    message: &str,
    error: Option<crate::model::UiError>,
    integration: Option<IntegrationView>,
) {
    let code = error.as_ref().map(|e| format!(" ({})", e.code));
    tracing::info!("authorization {id}: {stage:?}{}", code.unwrap_or_default());
    events.auth_progress(AuthProgress {
        integration_id: id.to_string(),
        stage,
        message: message.to_string(),
        error,
        notice: None,
        integration,
    });
}

/// Tells a flow still waiting that a callback which was not its own was ignored: no error, the
/// wait goes on.
fn report_ignored_callback(events: &dyn EventSink, id: &str) {
    events.auth_progress(AuthProgress {
        integration_id: id.to_string(),
        stage: AuthStage::Waiting,
        message: "Waiting for you to approve in the browser…".to_string(),
        error: None,
        notice: Some(IGNORED_CALLBACK_NOTICE.to_string()),
        integration: None,
    });
}

/// Binds the loopback listener for a new flow. Right after a previous flow for the same port was
/// ended, its listener may still be closing: wait for it briefly (1 s after replacing a flow here,
/// 200 ms otherwise) instead of reporting a busy port.
async fn bind_loopback(
    port: u16,
    after_replacing: bool,
) -> Result<(LoopbackListener, oneshot::Sender<()>), OnrampError> {
    // A listener ended just before (Cancel, expiry) may still be closing too: a short wait always.
    let mut attempts_left = if after_replacing { 40 } else { 8 };
    loop {
        let (stop_tx, stop_rx) = oneshot::channel();
        match LoopbackListener::bind(port, stop_rx, oauth::FLOW_TTL).await {
            Ok(listener) => return Ok((listener, stop_tx)),
            Err(OnrampError::PortInUse(_)) if attempts_left > 1 => {
                attempts_left -= 1;
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

pub fn redirect_uri_for(callback: &CallbackSettings) -> String {
    match callback.kind {
        CallbackKind::Loopback => loopback::redirect_uri(callback.loopback_port),
        CallbackKind::DeepLink => DEEP_LINK_CALLBACK.to_string(),
    }
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;

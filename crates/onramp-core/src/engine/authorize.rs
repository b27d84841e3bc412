//! Step 4, authorize: the authorize URL, pending flows, the loopback listener, the callback and the
//! code exchange.

use super::*;
use crate::loopback::{self, LoopbackListener};
use crate::oauth::PendingFlow;
use tokio::sync::oneshot;

/// The deep-link callback URL. The scheme is registered with the OS by the shell.
pub const DEEP_LINK_CALLBACK: &str = "onramp://callback";

/// A started authorization: what the UI shows, and the loopback listener to await, if any.
pub struct StartedAuthorization {
    pub started: AuthorizationStarted,
    pub loopback: Option<LoopbackListener>,
}

/// A callback matched to its pending flow, ready for the code exchange.
pub struct AcceptedCallback {
    pub integration_id: String,
    code: String,
    flow: PendingFlow,
}

/// A callback that was refused, and the integration it belongs to when that is known.
pub struct RefusedCallback {
    pub integration_id: Option<String>,
    pub error: OnrampError,
    /// The integration's flow is still pending (a stray or malformed request did not end it).
    pub still_waiting: bool,
}

impl Engine {
    /// Builds the authorize URL and registers the pending flow. For a loopback callback the listener
    /// is bound first, so a busy port is reported before the browser opens.
    pub async fn start_authorization(&self, id: &str) -> Result<StartedAuthorization, OnrampError> {
        let integration = self.read_settings().integration(id)?.clone();
        let provider = self.provider(&integration.provider_id)?;
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
        let (loopback, stop_listener) = match integration.callback.kind {
            CallbackKind::Loopback => {
                let (listener, stop) =
                    bind_loopback(integration.callback.loopback_port, replaced).await?;
                (Some(listener), Some(stop))
            }
            CallbackKind::DeepLink => (None, None),
        };
        let created_at = now_unix();
        self.flows.begin(
            request.state,
            PendingFlow {
                integration_id: id.to_string(),
                redirect_uri: redirect_uri.clone(),
                pkce_verifier: request.pkce_verifier,
                created_at,
                stop_listener,
            },
        );
        tracing::info!(
            "authorization started for integration {id} ({:?})",
            integration.callback.kind
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

    pub fn cancel_authorization(&self, id: &str) -> bool {
        self.flows.cancel(id)
    }

    /// Ends the authorizations nobody answered within [`oauth::FLOW_TTL`] (their loopback
    /// listeners close) and returns their integrations, to tell the UI.
    pub fn expire_stale_authorizations(&self) -> Vec<String> {
        let expired = self.flows.expire_stale(now_unix());
        for id in &expired {
            tracing::info!("authorization for integration {id} expired unanswered");
        }
        expired
    }

    /// Step one of a callback: parse it and match its state to a pending flow.
    pub fn accept_callback(&self, callback_url: &str) -> Result<AcceptedCallback, RefusedCallback> {
        let refused = |integration_id: Option<String>, error: OnrampError| {
            tracing::warn!("callback refused: {}", error.to_ui().code);
            let integration_id = integration_id.or_else(|| self.flows.sole_pending_integration());
            if integration_id.is_none() {
                // Nobody is waiting: keep it for a window that is not listening yet (cold start).
                *self
                    .unmatched_callback
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(error.to_ui());
            }
            RefusedCallback {
                still_waiting: integration_id
                    .as_deref()
                    .is_some_and(|id| self.flows.is_pending(id)),
                integration_id,
                error,
            }
        };
        let params = oauth::parse_callback(callback_url).map_err(|e| refused(None, e))?;
        match oauth::accept_callback(&self.flows, &params) {
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
            Err((integration_id, error)) => Err(refused(integration_id, error)),
        }
    }

    /// Step two: exchange the code, store the tokens in the keychain, record the connection.
    pub async fn finish_authorization(
        &self,
        accepted: AcceptedCallback,
    ) -> Result<IntegrationView, OnrampError> {
        let id = accepted.integration_id.clone();
        let integration = self.read_settings().integration(&id)?.clone();
        let endpoint = self.token_endpoint(&integration).await?;
        let tokens = oauth::exchange_code(
            &self.http,
            &endpoint.credentials(),
            &accepted.code,
            &accepted.flow.redirect_uri,
            accepted.flow.pkce_verifier.as_deref(),
        )
        .await?;
        let granted = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| integration.scopes.clone());
        // A refresh of the old grant still in flight must not land on top of the new tokens.
        let lock = self.lifecycle.refresh_lock(&id);
        let _refreshing = lock.lock().await;
        // Deleted during the exchange: store nothing, or the tokens would outlive the integration.
        self.read_settings().integration(&id)?;
        self.store_tokens(&id, &tokens, true).await?;
        self.lifecycle.clear_backoff(&id);
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
        self.change_integration(&id, |i| {
            i.connection = Some(connection);
        })?;
        tracing::info!("integration {id} connected");
        self.integration(&id)
    }
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
mod tests {
    use super::*;
    use crate::engine::test_support::*;

    #[tokio::test]
    async fn a_callback_nobody_waits_for_is_reported_at_start_up_once() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let refused = seed
            .engine
            .accept_callback("onramp://callback?code=c&state=from-before-a-restart")
            .err()
            .expect("refused");
        assert_eq!(refused.integration_id, None);
        assert!(!refused.still_waiting);
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
            .unwrap();
        let first = seed.engine.start_authorization(&seed.id).await.unwrap();
        let mut first_listener = first.loopback.expect("a loopback listener");
        // Nobody answered; the user starts again on the same fixed port.
        let second = seed.engine.start_authorization(&seed.id).await.unwrap();
        assert!(second.loopback.is_some(), "the port was free again");
        assert_eq!(
            first_listener.next_callback().await,
            None,
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
                .accept_callback(&format!(
                    "http://127.0.0.1:{port}/callback?code=c&state={old_state}"
                ))
                .is_err(),
            "the replaced flow's state is no longer accepted"
        );
        assert!(seed.engine.expire_stale_authorizations().is_empty());
    }
}

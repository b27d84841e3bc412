//! Authorizations waiting for their callback, by `state`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use url::Url;

/// How long a started authorization waits for its callback.
pub const FLOW_TTL: Duration = Duration::from_secs(10 * 60);

/// How a callback reached Onramp. A flow accepts its callback only through the channel it sent the
/// provider to: a deep link the OS handed over, or a request to its own loopback listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackChannel {
    /// `onramp://…`, delivered by the OS (a second `onramp` process, forwarded over D-Bus).
    DeepLink,
    /// A request to the loopback listener bound on this port.
    Loopback { port: u16 },
}

/// An authorization waiting for its callback.
pub struct PendingFlow {
    pub integration_id: String,
    /// The redirect URI sent in the authorize URL: the only address its callback is accepted on.
    pub redirect_uri: String,
    /// The only channel its callback is accepted through.
    pub channel: CallbackChannel,
    pub pkce_verifier: Option<secrecy::SecretString>,
    pub created_at: i64,
    /// Dropping this stops the loopback listener that waits for this flow, if any.
    pub stop_listener: Option<oneshot::Sender<()>>,
    /// The integration as read when the flow began (no secret): the code exchange uses its client
    /// ID, provider and client secret revision, those the code was issued for, without reading the
    /// store again. `None`: the exchange reads it.
    pub record: Option<Box<crate::store::Integration>>,
}

impl PendingFlow {
    /// True when a callback that came through `channel` to `address` (the callback URL without its
    /// query and fragment) is this flow's: same channel, and exactly the redirect URI it sent
    /// (scheme, user info, host, port, path).
    pub fn accepts(&self, channel: CallbackChannel, address: &str) -> bool {
        channel == self.channel
            && without_query(&self.redirect_uri).is_some_and(|sent| sent == address)
    }
}

/// A URL without its query and fragment, as the `url` crate writes it (so `onramp://callback` and
/// `onramp://callback?code=…` compare equal, and `onramp://callback/` does not).
pub fn without_query(url: &str) -> Option<String> {
    let mut url = Url::parse(url.trim()).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// Why a flow could not be taken for a callback.
#[derive(Debug, PartialEq, Eq)]
pub enum TakeRefused {
    /// No flow waits for this state (unknown, already used, replaced, or lost in a restart).
    UnknownState,
    /// A flow waits for this state, but not on the channel or address the callback came to. It
    /// keeps waiting: the genuine callback can still arrive.
    WrongAddress,
    /// The flow for this state had expired; it is removed.
    Expired { integration_id: String },
}

/// Pending flows by `state`. A state is accepted once and only within [`FLOW_TTL`];
/// starting a new flow for an integration discards its previous one.
#[derive(Default, Clone)]
pub struct FlowRegistry {
    inner: Arc<Mutex<HashMap<String, PendingFlow>>>,
}

impl FlowRegistry {
    pub fn begin(&self, state: String, flow: PendingFlow) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, f| f.integration_id != flow.integration_id);
        map.insert(state, flow);
    }

    /// Takes the flow for `state` (single use) when the callback came through its channel to its
    /// redirect URI. A callback on another channel or address leaves the flow waiting. Expired
    /// flows are removed and reported with their integration.
    pub fn take(
        &self,
        state: &str,
        channel: CallbackChannel,
        address: &str,
        now: i64,
    ) -> Result<PendingFlow, TakeRefused> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let flow = map.get(state).ok_or(TakeRefused::UnknownState)?;
        if !flow.accepts(channel, address) {
            return Err(TakeRefused::WrongAddress);
        }
        let flow = map.remove(state).ok_or(TakeRefused::UnknownState)?;
        if now - flow.created_at > FLOW_TTL.as_secs() as i64 {
            return Err(TakeRefused::Expired {
                integration_id: flow.integration_id,
            });
        }
        Ok(flow)
    }

    /// Discards the pending flow of an integration; true if there was one.
    pub fn cancel(&self, integration_id: &str) -> bool {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, f| f.integration_id != integration_id);
        before != map.len()
    }

    /// Removes the flows older than [`FLOW_TTL`] (closing their loopback listeners) and returns
    /// their integrations, so the UI can be told that the wait is over.
    pub fn expire_stale(&self, now: i64) -> Vec<String> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut expired = Vec::new();
        map.retain(|_, f| {
            let stale = now - f.created_at > FLOW_TTL.as_secs() as i64;
            if stale {
                expired.push(f.integration_id.clone());
            }
            !stale
        });
        expired
    }

    /// When the oldest pending flow becomes stale (Unix s), for the background's next wake-up.
    pub fn next_expiry(&self) -> Option<i64> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.values()
            .map(|f| f.created_at + FLOW_TTL.as_secs() as i64 + 1)
            .min()
    }

    pub fn is_pending(&self, integration_id: &str) -> bool {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.values().any(|f| f.integration_id == integration_id)
    }

    /// The integrations whose flows are waiting (to tell them a stray callback was ignored).
    pub fn pending_integrations(&self) -> Vec<String> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<String> = map.values().map(|f| f.integration_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::now_unix;

    pub(in crate::oauth) fn flow(id: &str, created_at: i64) -> PendingFlow {
        PendingFlow {
            integration_id: id.into(),
            redirect_uri: "onramp://callback".into(),
            channel: CallbackChannel::DeepLink,
            pkce_verifier: None,
            created_at,
            stop_listener: None,
            record: None,
        }
    }

    #[test]
    fn stale_flows_expire_and_close_their_listener() {
        let flows = FlowRegistry::default();
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        flows.begin(
            "old".into(),
            PendingFlow {
                stop_listener: Some(stop_tx),
                ..flow("int-1", now_unix() - 11 * 60)
            },
        );
        flows.begin("fresh".into(), flow("int-2", now_unix()));
        assert_eq!(flows.expire_stale(now_unix()), vec!["int-1".to_string()]);
        assert!(
            matches!(
                stop_rx.try_recv(),
                Err(oneshot::error::TryRecvError::Closed)
            ),
            "the expired flow's listener is told to stop"
        );
        assert!(flows.expire_stale(now_unix()).is_empty(), "reported once");
        assert!(take(&flows, "fresh").is_ok(), "fresh flows stay");
    }

    #[test]
    fn new_flow_replaces_the_previous_one_for_the_same_integration() {
        let flows = FlowRegistry::default();
        flows.begin("old".into(), flow("int-1", now_unix()));
        flows.begin("new".into(), flow("int-1", now_unix()));
        assert!(take(&flows, "old").is_err());
        assert!(take(&flows, "new").is_ok());
    }

    fn take(flows: &FlowRegistry, state: &str) -> Result<PendingFlow, TakeRefused> {
        flows.take(
            state,
            CallbackChannel::DeepLink,
            "onramp://callback",
            now_unix(),
        )
    }

    fn loopback_flow(port: u16) -> PendingFlow {
        PendingFlow {
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            channel: CallbackChannel::Loopback { port },
            ..flow("int-1", now_unix())
        }
    }

    #[test]
    fn a_flow_accepts_only_its_redirect_uri_through_its_channel() {
        let deep = flow("int-1", now_unix());
        assert!(deep.accepts(CallbackChannel::DeepLink, "onramp://callback"));
        let lo = loopback_flow(47823);
        let lo_channel = CallbackChannel::Loopback { port: 47823 };
        assert!(lo.accepts(lo_channel, "http://127.0.0.1:47823/callback"));
        for (what, channel, address) in [
            (
                "other path",
                CallbackChannel::DeepLink,
                "onramp://other-path",
            ),
            (
                "trailing slash",
                CallbackChannel::DeepLink,
                "onramp://callback/",
            ),
            (
                "path below",
                CallbackChannel::DeepLink,
                "onramp://callback/x",
            ),
            (
                "other scheme",
                CallbackChannel::DeepLink,
                "other://callback",
            ),
            (
                "user info",
                CallbackChannel::DeepLink,
                "onramp://u@callback",
            ),
            ("loopback channel", lo_channel, "onramp://callback"),
        ] {
            assert!(!deep.accepts(channel, address), "deep link, {what}");
        }
        for (what, channel, address) in [
            (
                "deep-link channel",
                CallbackChannel::DeepLink,
                "http://127.0.0.1:47823/callback",
            ),
            (
                "other listener",
                CallbackChannel::Loopback { port: 1 },
                "http://127.0.0.1:47823/callback",
            ),
            ("other port", lo_channel, "http://127.0.0.1:47824/callback"),
            ("other host", lo_channel, "http://localhost:47823/callback"),
            (
                "other scheme",
                lo_channel,
                "https://127.0.0.1:47823/callback",
            ),
            ("other path", lo_channel, "http://127.0.0.1:47823/other"),
            (
                "encoded path",
                lo_channel,
                "http://127.0.0.1:47823/%63allback",
            ),
            (
                "path below",
                lo_channel,
                "http://127.0.0.1:47823/callback/x",
            ),
        ] {
            assert!(!lo.accepts(channel, address), "loopback, {what}");
        }
    }

    #[test]
    fn a_callback_on_the_wrong_channel_or_address_leaves_the_flow_waiting() {
        let flows = FlowRegistry::default();
        flows.begin("s".into(), loopback_flow(47823));
        let now = now_unix();
        let lo = CallbackChannel::Loopback { port: 47823 };
        for (channel, address) in [
            (CallbackChannel::DeepLink, "onramp://other-path"),
            (CallbackChannel::DeepLink, "http://127.0.0.1:47823/callback"),
            (lo, "http://127.0.0.1:47823/other"),
        ] {
            assert_eq!(
                flows.take("s", channel, address, now).err(),
                Some(TakeRefused::WrongAddress),
                "{address}"
            );
        }
        assert_eq!(
            flows
                .take("unknown", lo, "http://127.0.0.1:47823/callback", now)
                .err(),
            Some(TakeRefused::UnknownState)
        );
        let taken = flows.take("s", lo, "http://127.0.0.1:47823/callback", now);
        assert!(taken.is_ok(), "the genuine callback still arrives");
        assert!(flows.pending_integrations().is_empty());
    }
}

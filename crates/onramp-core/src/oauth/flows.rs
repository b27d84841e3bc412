//! Authorizations waiting for their callback, by `state`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::OnrampError;

/// How long a started authorization waits for its callback.
pub const FLOW_TTL: Duration = Duration::from_secs(10 * 60);

/// An authorization waiting for its callback.
pub struct PendingFlow {
    pub integration_id: String,
    pub redirect_uri: String,
    pub pkce_verifier: Option<String>,
    pub created_at: i64,
    /// Dropping this stops the loopback listener that waits for this flow, if any.
    pub stop_listener: Option<oneshot::Sender<()>>,
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

    /// Takes the flow for `state` (single use). Expired flows are removed and reported as such,
    /// with their integration.
    pub fn take(
        &self,
        state: &str,
        now: i64,
    ) -> Result<PendingFlow, (Option<String>, OnrampError)> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let flow = map
            .remove(state)
            .ok_or((None, OnrampError::StateMismatch))?;
        if now - flow.created_at > FLOW_TTL.as_secs() as i64 {
            return Err((Some(flow.integration_id), OnrampError::FlowExpired));
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

    pub fn is_pending(&self, integration_id: &str) -> bool {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.values().any(|f| f.integration_id == integration_id)
    }

    /// The integration whose flow is pending, when exactly one is (to report a stray callback).
    pub fn sole_pending_integration(&self) -> Option<String> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids = map.values().map(|f| f.integration_id.clone());
        match (ids.next(), ids.next()) {
            (Some(id), None) => Some(id),
            _ => None,
        }
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
            pkce_verifier: None,
            created_at,
            stop_listener: None,
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
        assert!(flows.take("fresh", now_unix()).is_ok(), "fresh flows stay");
    }

    #[test]
    fn new_flow_replaces_the_previous_one_for_the_same_integration() {
        let flows = FlowRegistry::default();
        flows.begin("old".into(), flow("int-1", now_unix()));
        flows.begin("new".into(), flow("int-1", now_unix()));
        assert!(flows.take("old", now_unix()).is_err());
        assert!(flows.take("new", now_unix()).is_ok());
    }
}

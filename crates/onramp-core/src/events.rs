//! What the engine tells a front end while it works, outside a command's answer: authorization
//! progress, waits before a retry, connections that changed in the background, callbacks nobody
//! waited for. The window implements [`EventSink`] by sending [`EngineEvent`]s down one Tauri
//! channel; tests record them.

use std::sync::Mutex;

use serde::Serialize;
use ts_rs::TS;

use crate::model::{AuthProgress, IntegrationView, RetryNotice, UiError};

/// Where the engine reports progress. Implementations must not block.
pub trait EventSink: Send + Sync {
    fn auth_progress(&self, progress: AuthProgress);
    fn request_progress(&self, notice: RetryNotice);
    fn connection_changed(&self, view: IntegrationView);
    fn callback_unmatched(&self, error: UiError);
}

/// One thing the engine tells a front end, as it travels to the window:
/// `{ "event": "auth-progress", "payload": { … } }`. The window receives them all through the one
/// channel it opened (`listen_events`), in order; the UI's type is generated from this enum.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "event", content = "payload", rename_all = "kebab-case")]
pub enum EngineEvent {
    /// An authorization moved to another stage.
    AuthProgress(AuthProgress),
    /// A request waits before a retry.
    RequestProgress(RetryNotice),
    /// A connection changed outside a command: refreshed in the background, or needs reconnect.
    ConnectionChanged(IntegrationView),
    /// A callback arrived that no authorization was waiting for.
    CallbackUnmatched(UiError),
}

impl EngineEvent {
    /// Its name on the wire (the `event` field), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            EngineEvent::AuthProgress(_) => "auth-progress",
            EngineEvent::RequestProgress(_) => "request-progress",
            EngineEvent::ConnectionChanged(_) => "connection-changed",
            EngineEvent::CallbackUnmatched(_) => "callback-unmatched",
        }
    }
}

/// A sink that keeps what it is told: for tests, and for front ends without live events.
#[derive(Default)]
pub struct RecordingSink {
    events: Mutex<Vec<EngineEvent>>,
}

impl RecordingSink {
    /// Everything recorded so far, oldest first.
    pub fn take(&self) -> Vec<EngineEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn push(&self, event: EngineEvent) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
    }
}

impl EventSink for RecordingSink {
    fn auth_progress(&self, progress: AuthProgress) {
        self.push(EngineEvent::AuthProgress(progress));
    }
    fn request_progress(&self, notice: RetryNotice) {
        self.push(EngineEvent::RequestProgress(notice));
    }
    fn connection_changed(&self, view: IntegrationView) {
        self.push(EngineEvent::ConnectionChanged(view));
    }
    fn callback_unmatched(&self, error: UiError) {
        self.push(EngineEvent::CallbackUnmatched(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuthStage;

    #[test]
    fn an_event_travels_as_its_name_and_its_payload() {
        // The UI dispatches on `event` and reads `payload` (ui/src/lib/api.ts).
        let event = EngineEvent::AuthProgress(AuthProgress {
            integration_id: "int-1".into(),
            stage: AuthStage::Waiting,
            message: "Waiting for the browser".into(),
            error: None,
            notice: None,
            integration: None,
        });
        let wire = serde_json::to_value(&event).unwrap();
        assert_eq!(wire["event"], "auth-progress");
        assert_eq!(wire["event"], event.name());
        assert_eq!(wire["payload"]["integrationId"], "int-1");
        assert_eq!(wire["payload"]["stage"], "waiting");
        assert_eq!(wire.as_object().unwrap().len(), 2, "{wire}");
    }

    #[test]
    fn a_retry_notice_travels_as_request_progress() {
        let notice = RetryNotice {
            integration_id: "int-1".into(),
            attempt: 2,
            status: 429,
            wait_ms: 1000,
            retry_at_ms: 0,
            reason: "rate limited".into(),
        };
        let event = EngineEvent::RequestProgress(notice);
        assert_eq!(serde_json::to_value(&event).unwrap()["event"], event.name());
        assert_eq!(event.name(), "request-progress");
    }
}

//! What the engine tells a front end while it works, outside a command's answer: authorization
//! progress, waits before a retry, connections that changed in the background, callbacks nobody
//! waited for. The window implements [`EventSink`] with Tauri events; tests record them.
//!
//! Event names are declared once here ([`Event`]); the UI's copy is generated from [`Event::ALL`].

use std::sync::Mutex;

use crate::model::{AuthProgress, IntegrationView, RetryNotice, UiError};

/// Where the engine reports progress. Implementations must not block.
pub trait EventSink: Send + Sync {
    fn auth_progress(&self, progress: AuthProgress);
    fn request_progress(&self, notice: RetryNotice);
    fn connection_changed(&self, view: IntegrationView);
    fn callback_unmatched(&self, error: UiError);
}

/// The events a front end can listen to, with their names on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An authorization moved to another stage (payload: `AuthProgress`).
    AuthProgress,
    /// A request waits before a retry (payload: `RetryNotice`).
    RequestProgress,
    /// A connection changed outside a command: refreshed in the background, or needs reconnect
    /// (payload: `IntegrationView`).
    ConnectionChanged,
    /// A callback arrived that no authorization was waiting for (payload: `UiError`).
    CallbackUnmatched,
}

impl Event {
    pub const ALL: [Event; 4] = [
        Event::AuthProgress,
        Event::RequestProgress,
        Event::ConnectionChanged,
        Event::CallbackUnmatched,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::AuthProgress => "auth-progress",
            Event::RequestProgress => "request-progress",
            Event::ConnectionChanged => "connection-changed",
            Event::CallbackUnmatched => "callback-unmatched",
        }
    }
}

/// A sink that keeps what it is told: for tests, and for front ends without live events.
#[derive(Default)]
pub struct RecordingSink {
    events: Mutex<Vec<Recorded>>,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    AuthProgress(AuthProgress),
    RequestProgress(RetryNotice),
    ConnectionChanged(IntegrationView),
    CallbackUnmatched(UiError),
}

impl RecordingSink {
    /// Everything recorded so far, oldest first.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn push(&self, event: Recorded) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
    }
}

impl EventSink for RecordingSink {
    fn auth_progress(&self, progress: AuthProgress) {
        self.push(Recorded::AuthProgress(progress));
    }
    fn request_progress(&self, notice: RetryNotice) {
        self.push(Recorded::RequestProgress(notice));
    }
    fn connection_changed(&self, view: IntegrationView) {
        self.push(Recorded::ConnectionChanged(view));
    }
    fn callback_unmatched(&self, error: UiError) {
        self.push(Recorded::CallbackUnmatched(error));
    }
}

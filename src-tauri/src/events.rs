//! The engine's events, emitted to the window as Tauri events (names from `onramp_core::events::Event`).

use onramp_core::events::{Event, EventSink};
use onramp_core::model::{AuthProgress, IntegrationView, RetryNotice, UiError};
use tauri::{AppHandle, Emitter, Runtime};

pub struct WindowEvents<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> WindowEvents<R> {
    fn emit(&self, event: Event, payload: impl serde::Serialize + Clone) {
        if let Err(e) = self.0.emit(event.name(), payload) {
            tracing::warn!("could not emit {}: {e}", event.name());
        }
    }
}

impl<R: Runtime> EventSink for WindowEvents<R> {
    fn auth_progress(&self, progress: AuthProgress) {
        self.emit(Event::AuthProgress, progress);
    }
    fn request_progress(&self, notice: RetryNotice) {
        self.emit(Event::RequestProgress, notice);
    }
    fn connection_changed(&self, view: IntegrationView) {
        self.emit(Event::ConnectionChanged, view);
    }
    fn callback_unmatched(&self, error: UiError) {
        self.emit(Event::CallbackUnmatched, error);
    }
}

//! The engine's events, sent to the window down the one channel its page opened with
//! `listen_events` (`commands/events.rs`).
//!
//! A channel rather than Tauri's `listen`: every `listen` is answered by a script the shell runs in
//! the page, and WebKitGTK keeps a JavaScript context alive for each such script's result for 10 s
//! after the last one; its teardown then wakes the app for a second. With the channel, nothing runs
//! in the page until there is something to tell (docs/benchmark.md, "Fifth measurement").

use std::sync::Mutex;

use onramp_core::events::{EngineEvent, EventSink};
use onramp_core::model::{AuthProgress, IntegrationView, RetryNotice, UiError};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime};

/// The page's channel, once it has asked for events; a reloaded page replaces it.
#[derive(Default)]
pub struct EventChannel(Mutex<Option<Channel<EngineEvent>>>);

impl EventChannel {
    pub fn replace(&self, channel: Channel<EngineEvent>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(channel);
    }

    /// Sends `event` if the page listens; an event nobody listens to is dropped (as with `emit`).
    fn send(&self, event: EngineEvent) {
        let channel = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(channel) = channel else {
            tracing::debug!("{} not sent: the page does not listen yet", event.name());
            return;
        };
        let name = event.name();
        if let Err(e) = channel.send(event) {
            tracing::warn!("could not send {name}: {e}");
        }
    }
}

pub struct WindowEvents<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> WindowEvents<R> {
    fn send(&self, event: EngineEvent) {
        if let Some(channel) = self.0.try_state::<EventChannel>() {
            channel.send(event);
        }
    }
}

impl<R: Runtime> EventSink for WindowEvents<R> {
    fn auth_progress(&self, progress: AuthProgress) {
        self.send(EngineEvent::AuthProgress(progress));
    }
    fn request_progress(&self, notice: RetryNotice) {
        self.send(EngineEvent::RequestProgress(notice));
    }
    fn connection_changed(&self, view: IntegrationView) {
        self.send(EngineEvent::ConnectionChanged(view));
    }
    fn callback_unmatched(&self, error: UiError) {
        self.send(EngineEvent::CallbackUnmatched(error));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use onramp_core::model::{ErrorCode, RetryNotice};
    use serde_json::Value;
    use tauri::ipc::InvokeResponseBody;

    use super::*;

    /// A channel that keeps what the page would have received.
    fn page_channel() -> (Channel<EngineEvent>, Arc<Mutex<Vec<Value>>>) {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let channel = Channel::new(move |body| {
            let InvokeResponseBody::Json(json) = body else {
                panic!("events travel as JSON");
            };
            sink.lock()
                .unwrap()
                .push(serde_json::from_str(&json).unwrap());
            Ok(())
        });
        (channel, received)
    }

    fn notice(attempt: u32) -> EngineEvent {
        EngineEvent::RequestProgress(RetryNotice {
            integration_id: "int-1".into(),
            attempt,
            status: 429,
            wait_ms: 1000,
            retry_at_ms: 0,
            reason: "rate limited".into(),
        })
    }

    #[test]
    fn events_go_down_the_latest_channel_in_order_and_are_dropped_before_one_is_open() {
        let events = EventChannel::default();
        events.send(notice(1)); // nobody listens yet: dropped, no panic

        let (first, first_received) = page_channel();
        events.replace(first);
        events.send(notice(2));
        events.send(EngineEvent::CallbackUnmatched(UiError {
            code: ErrorCode::CallbackMalformed,
            title: "A callback nobody waited for".into(),
            detail: String::new(),
            hint: None,
            facts: Vec::new(),
        }));

        // A reloaded page opens a new channel: from then on only it hears.
        let (second, second_received) = page_channel();
        events.replace(second);
        events.send(notice(3));

        let first_received = first_received.lock().unwrap();
        let names: Vec<_> = first_received.iter().map(|e| e["event"].clone()).collect();
        assert_eq!(names, ["request-progress", "callback-unmatched"]);
        assert_eq!(first_received[0]["payload"]["attempt"], 2);
        let second_received = second_received.lock().unwrap();
        assert_eq!(second_received.len(), 1);
        assert_eq!(second_received[0]["payload"]["attempt"], 3);
    }
}

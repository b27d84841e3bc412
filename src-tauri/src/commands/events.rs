//! The window's subscription to the engine's events (`crate::events`).

use onramp_core::events::EngineEvent;
use tauri::ipc::Channel;
use tauri::State;

use super::Result;
use crate::events::EventChannel;

/// Every event from now on goes down `channel`, in order; a second call (a reloaded page) replaces
/// the first. Needs no engine: the page asks while the engine starts.
#[tauri::command]
pub fn listen_events(events: State<'_, EventChannel>, channel: Channel<EngineEvent>) -> Result<()> {
    events.replace(channel);
    Ok(())
}

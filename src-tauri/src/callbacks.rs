//! How callbacks and time reach the engine: deep links from the OS, the loopback listener, and the
//! periodic background work. What each callback means is decided by the engine.

use onramp_core::loopback::LoopbackListener;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::events::WindowEvents;
use crate::state::AppState;

/// How often the engine looks for tokens close to expiry and authorizations past their lifetime.
const BACKGROUND_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

pub fn start_background_work<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let events = WindowEvents(app.clone());
        loop {
            tokio::time::sleep(BACKGROUND_CHECK).await;
            app.state::<AppState>()
                .engine
                .background_tick(&events)
                .await;
        }
    });
}

/// Registers the `onramp` scheme with the desktop (Linux: a `.desktop` handler with `%u`) and
/// hands every URL the OS delivers to the engine, including the one that started the app.
pub fn install_deep_link_handler<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(target_os = "linux")]
    if let Err(e) = app.deep_link().register_all() {
        // Needs xdg-mime (xdg-utils). Loopback callbacks keep working without it.
        tracing::warn!("could not register the onramp:// scheme: {e}");
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            handle_callback(&handle, url.to_string());
        }
    });
    // Cold start: the plugin saw the launching URL before this handler existed.
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            handle_callback(app, url.to_string());
        }
    }
}

fn handle_callback<R: Runtime>(app: &AppHandle<R>, url: String) {
    focus_main_window(app);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let events = WindowEvents(app.clone());
        app.state::<AppState>()
            .engine
            .handle_callback(&url, &events)
            .await;
    });
}

/// Serves a flow's loopback listener until its flow ends.
pub fn serve_loopback<R: Runtime>(app: &AppHandle<R>, listener: Option<LoopbackListener>) {
    let Some(mut listener) = listener else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let events = WindowEvents(app.clone());
        while let Some(url) = listener.next_callback().await {
            focus_main_window(&app);
            app.state::<AppState>()
                .engine
                .handle_callback(&url, &events)
                .await;
        }
    });
}

pub fn focus_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

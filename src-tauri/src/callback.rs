//! Receiving the authorization callback, by deep link (`onramp://callback?…`) or by the loopback
//! listener, and reporting each stage to the UI as an `auth-progress` event.

use onramp_core::loopback::LoopbackListener;
use onramp_core::model::{AuthProgress, AuthStage};
use onramp_core::OnrampError;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_plugin_opener::OpenerExt;

use crate::state::AppState;

pub const PROGRESS_EVENT: &str = "auth-progress";
/// A console request waits before a retry (payload: `RetryNotice`).
pub const REQUEST_PROGRESS_EVENT: &str = "request-progress";
/// A connection changed outside a command: refreshed in the background, or needs reconnect
/// (payload: `IntegrationView`).
pub const CONNECTION_EVENT: &str = "connection-changed";
/// A callback arrived that no authorization was waiting for (payload: `UiError`).
pub const UNMATCHED_CALLBACK_EVENT: &str = "callback-unmatched";
/// How often the background work looks for tokens close to expiry and for unanswered
/// authorizations past their lifetime.
const BACKGROUND_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Background work the engine decides on:
/// - authorizations nobody answered in time end (their loopback port is freed) and the UI is told;
/// - tokens are refreshed shortly before they expire, so a connection left open stays alive;
///   failures mark the connection "needs reconnect" and the UI is told.
pub fn start_background_work<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(BACKGROUND_CHECK).await;
            let state = app.state::<AppState>();
            for id in state.engine.expire_stale_authorizations() {
                emit(
                    &app,
                    &id,
                    AuthStage::Expired,
                    "Nobody approved the authorization in time.",
                    None,
                    None,
                );
            }
            for id in state.engine.refresh_due_in_background().await {
                if let Ok(view) = state.engine.integration(&id) {
                    let _ = app.emit(CONNECTION_EVENT, view);
                }
            }
        }
    });
}

/// Registers the `onramp` scheme with the desktop (Linux: a `.desktop` handler with `%u`) and
/// routes every URL the OS delivers to [`handle_callback`], including the one that started the app.
pub fn install_deep_link_handler<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(target_os = "linux")]
    if let Err(e) = app.deep_link().register_all() {
        // Needs xdg-mime (xdg-utils). Loopback callbacks keep working without it.
        tracing::warn!("could not register the onramp:// scheme: {e}");
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            let handle = handle.clone();
            let url = url.to_string();
            tauri::async_runtime::spawn(async move { handle_callback(&handle, &url).await });
        }
    });
    // Cold start: the plugin saw the launching URL before this handler existed.
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            let handle = app.clone();
            let url = url.to_string();
            tauri::async_runtime::spawn(async move { handle_callback(&handle, &url).await });
        }
    }
}

/// Hands every request the loopback listener receives to [`handle_callback`]; a stray one is
/// refused there and the wait goes on. The listener closes when its flow ends.
pub fn wait_for_loopback<R: Runtime>(app: &AppHandle<R>, listener: Option<LoopbackListener>) {
    let Some(mut listener) = listener else { return };
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(url) = listener.next_callback().await {
            handle_callback(&handle, &url).await;
        }
    });
}

pub async fn handle_callback<R: Runtime>(app: &AppHandle<R>, url: &str) {
    focus_main_window(app);
    let state = app.state::<AppState>();
    let accepted = match state.engine.accept_callback(url) {
        Ok(a) => a,
        Err(refused) => {
            let Some(id) = refused.integration_id else {
                tracing::warn!("a callback matched no authorization in progress; ignored");
                let _ = app.emit(UNMATCHED_CALLBACK_EVENT, refused.error.to_ui());
                return;
            };
            // A stray or malformed request does not end the authorization that is still waiting.
            let stage = if refused.still_waiting {
                AuthStage::Waiting
            } else if matches!(refused.error, OnrampError::FlowExpired) {
                AuthStage::Expired
            } else {
                AuthStage::Failed
            };
            emit(
                app,
                &id,
                stage,
                "The callback was refused.",
                Some(&refused.error),
                None,
            );
            return;
        }
    };
    let id = accepted.integration_id.clone();
    emit(
        app,
        &id,
        AuthStage::Exchanging,
        "Exchanging the code for tokens…",
        None,
        None,
    );
    match state.engine.finish_authorization(accepted).await {
        Ok(view) => emit(
            app,
            &id,
            AuthStage::Connected,
            "Connected.",
            None,
            Some(view),
        ),
        Err(e) => emit(
            app,
            &id,
            AuthStage::Failed,
            "The code exchange failed.",
            Some(&e),
            None,
        ),
    }
}

pub fn report_waiting<R: Runtime>(app: &AppHandle<R>, id: &str) {
    emit(
        app,
        id,
        AuthStage::Waiting,
        "Waiting for you to approve in the browser…",
        None,
        None,
    );
}

pub fn report_cancelled<R: Runtime>(app: &AppHandle<R>, id: &str) {
    emit(
        app,
        id,
        AuthStage::Cancelled,
        "Authorization cancelled.",
        None,
        None,
    );
}

/// The system browser, never an embedded webview. If it cannot be opened, the UI still shows the
/// URL to copy, and the flow keeps waiting.
pub fn open_in_browser<R: Runtime>(app: &AppHandle<R>, id: &str, url: &str) {
    if let Err(e) = app.opener().open_url(url, None::<&str>) {
        tracing::warn!("could not open the system browser: {e}");
        let error = OnrampError::Network(format!(
            "The system browser could not be opened ({e}). Copy the authorize URL into a browser."
        ));
        emit(
            app,
            id,
            AuthStage::Waiting,
            "Open the authorize URL in your browser.",
            Some(&error),
            None,
        );
    }
}

pub fn focus_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

fn emit<R: Runtime>(
    app: &AppHandle<R>,
    id: &str,
    stage: AuthStage,
    message: &str,
    error: Option<&OnrampError>,
    integration: Option<onramp_core::model::IntegrationView>,
) {
    tracing::info!(
        "authorization {id}: {stage:?}{}",
        error
            .map(|e| format!(" ({})", e.to_ui().code))
            .unwrap_or_default()
    );
    let payload = AuthProgress {
        integration_id: id.to_string(),
        stage,
        message: message.to_string(),
        error: error.map(OnrampError::to_ui),
        integration,
    };
    if let Err(e) = app.emit(PROGRESS_EVENT, payload) {
        tracing::warn!("could not emit progress: {e}");
    }
}

//! Step 4, authorize: start (system browser, loopback or deep link), cancel, explain an error page.

use onramp_core::model::{AuthorizationStarted, UiError};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_opener::OpenerExt;

use super::Result;
use crate::callbacks;
use crate::events::WindowEvents;
use crate::state::AppState;

/// Progress arrives as `auth-progress` events; the system browser opens on the authorize URL.
#[tauri::command]
pub async fn start_authorization<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<AuthorizationStarted> {
    let events = WindowEvents(app.clone());
    let started = state
        .engine()
        .await?
        .start_authorization(&id, &events)
        .await?;
    callbacks::serve_loopback(&app, started.loopback);
    let url = &started.started.authorize_url;
    if let Err(e) = app.opener().open_url(url, None::<&str>) {
        state
            .engine()
            .await?
            .browser_unavailable(&id, &e.to_string(), &events);
    }
    Ok(started.started)
}

/// A service account's "authorize": a token from its client credentials, no browser.
#[tauri::command]
pub async fn fetch_service_account_token(
    state: State<'_, AppState>,
    id: String,
) -> Result<onramp_core::model::IntegrationView> {
    Ok(state
        .engine()
        .await?
        .fetch_service_account_token(&id)
        .await?)
}

#[tauri::command]
pub async fn cancel_authorization<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<()> {
    state
        .engine()
        .await?
        .cancel_authorization(&id, &WindowEvents(app));
    Ok(())
}

#[tauri::command]
pub async fn diagnose_browser_error(
    state: State<'_, AppState>,
    id: Option<String>,
    text: String,
) -> Result<UiError> {
    Ok(state
        .engine()
        .await?
        .diagnose_browser_error(id.as_deref(), &text)
        .await)
}

//! Tauri commands: one-line calls into the engine. Every command is async and fails with `UiError`.

use onramp_core::model::{
    ApiRequest, AuthorizationStarted, Bootstrap, CustomProviderInput, IntegrationPatch,
    IntegrationView, Provider, ScopeAdvice, ScopeReport, Site, TestCallResult, UiError,
};
use tauri::Emitter;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_opener::OpenerExt;

use crate::callback;
use crate::state::AppState;

type Result<T> = std::result::Result<T, UiError>;

#[tauri::command]
pub async fn bootstrap(state: State<'_, AppState>) -> Result<Bootstrap> {
    Ok(state.engine.bootstrap().await)
}

#[tauri::command]
pub async fn create_integration(
    state: State<'_, AppState>,
    provider_id: String,
) -> Result<IntegrationView> {
    let view = state.engine.create_integration(&provider_id)?;
    state.register_sandbox_callback(&view);
    Ok(view)
}

#[tauri::command]
pub async fn update_integration(
    state: State<'_, AppState>,
    id: String,
    patch: IntegrationPatch,
) -> Result<IntegrationView> {
    let view = state.engine.update_integration(&id, patch)?;
    state.register_sandbox_callback(&view);
    Ok(view)
}

#[tauri::command]
pub async fn save_credentials(
    state: State<'_, AppState>,
    id: String,
    client_id: String,
    secret: Option<String>,
) -> Result<IntegrationView> {
    Ok(state
        .engine
        .save_credentials(&id, &client_id, secret.as_deref())
        .await?)
}

#[tauri::command]
pub async fn start_authorization<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<AuthorizationStarted> {
    state.register_sandbox_callback(&state.engine.integration(&id)?);
    let started = state.engine.start_authorization(&id).await?;
    callback::wait_for_loopback(&app, started.loopback);
    callback::report_waiting(&app, &id);
    callback::open_in_browser(&app, &id, &started.started.authorize_url);
    Ok(started.started)
}

#[tauri::command]
pub async fn cancel_authorization<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<()> {
    if state.engine.cancel_authorization(&id) {
        callback::report_cancelled(&app, &id);
    }
    Ok(())
}

#[tauri::command]
pub async fn list_sites(state: State<'_, AppState>, id: String) -> Result<Vec<Site>> {
    Ok(state.engine.list_sites(&id).await?)
}

#[tauri::command]
pub async fn select_site(
    state: State<'_, AppState>,
    id: String,
    cloud_id: String,
) -> Result<IntegrationView> {
    Ok(state.engine.select_site(&id, &cloud_id)?)
}

/// The URL a console request would go to, or why it cannot be sent (pure; no network).
#[tauri::command]
pub async fn preview_request(
    state: State<'_, AppState>,
    id: String,
    request: ApiRequest,
) -> Result<String> {
    Ok(state.engine.preview_request(&id, &request)?)
}

#[tauri::command]
pub async fn delete_integration(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.engine.delete_integration(&id).await?)
}

/// Opens a documentation or console page in the system browser; only http(s) URLs.
#[tauri::command]
pub async fn open_url<R: Runtime>(app: AppHandle<R>, url: String) -> Result<()> {
    let parsed = onramp_core::links::web_link(&url)?;
    app.opener()
        .open_url(parsed.as_str(), None::<&str>)
        .map_err(|e| {
            onramp_core::OnrampError::Network(format!(
                "the system browser could not be opened: {e}"
            ))
            .into()
        })
}

#[tauri::command]
pub async fn advise_scopes(
    state: State<'_, AppState>,
    provider_id: String,
    scopes: Vec<String>,
) -> Result<ScopeAdvice> {
    Ok(state.engine.advise_scopes(&provider_id, &scopes)?)
}

#[tauri::command]
pub async fn scope_report(state: State<'_, AppState>, id: String) -> Result<ScopeReport> {
    Ok(state.engine.scope_report(&id)?)
}

#[tauri::command]
pub async fn filter_sites(
    state: State<'_, AppState>,
    id: String,
    subdomain: String,
) -> Result<Vec<Site>> {
    Ok(state.engine.filter_sites(&id, &subdomain)?)
}

#[tauri::command]
pub async fn discover_provider(
    state: State<'_, AppState>,
    issuer: String,
) -> Result<CustomProviderInput> {
    Ok(state.engine.discover_provider(&issuer).await?)
}

#[tauri::command]
pub async fn save_custom_provider(
    state: State<'_, AppState>,
    id: Option<String>,
    input: CustomProviderInput,
) -> Result<Provider> {
    Ok(state.engine.save_custom_provider(id, input)?)
}

#[tauri::command]
pub async fn delete_custom_provider(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.engine.delete_custom_provider(&id)?)
}

/// Runs a console request; each wait before a retry is announced as a `request-progress` event.
#[tauri::command]
pub async fn run_request<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    request: ApiRequest,
) -> Result<TestCallResult> {
    let notify = move |notice| {
        let _ = app.emit(callback::REQUEST_PROGRESS_EVENT, notice);
    };
    Ok(state.engine.run_request(&id, &request, &notify).await?)
}

#[tauri::command]
pub async fn curl_command(
    state: State<'_, AppState>,
    id: String,
    request: ApiRequest,
    reveal_token: bool,
) -> Result<String> {
    Ok(state
        .engine
        .curl_command(&id, &request, reveal_token)
        .await?)
}

#[tauri::command]
pub async fn refresh_now(state: State<'_, AppState>, id: String) -> Result<IntegrationView> {
    Ok(state.engine.refresh_now(&id).await?)
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>, id: String) -> Result<IntegrationView> {
    Ok(state.engine.disconnect(&id).await?)
}

#[tauri::command]
pub async fn diagnose_browser_error(
    state: State<'_, AppState>,
    id: Option<String>,
    text: String,
) -> Result<UiError> {
    Ok(state.engine.diagnose_browser_error(id.as_deref(), &text))
}

#[tauri::command]
pub async fn get_integration(state: State<'_, AppState>, id: String) -> Result<IntegrationView> {
    Ok(state.engine.integration(&id)?)
}

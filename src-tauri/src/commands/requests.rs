//! Step 6, requests: preset test calls and custom requests, their URL preview, what their endpoint
//! needs, and their curl form.

use onramp_core::endpoint_advice::EndpointAdvice;
use onramp_core::model::{ApiRequest, ProductId, TestCallResult};
use tauri::{AppHandle, Runtime, State};

use super::Result;
use crate::events::WindowEvents;
use crate::state::AppState;

/// Each wait before a retry is announced as a `request-progress` event.
#[tauri::command]
pub async fn run_request<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    request: ApiRequest,
) -> Result<TestCallResult> {
    let events = WindowEvents(app);
    Ok(state
        .engine()
        .await?
        .run_request(&id, &request, &events)
        .await?)
}

/// The URL a request would go to, or why it cannot be sent (no network).
#[tauri::command]
pub async fn preview_request(
    state: State<'_, AppState>,
    id: String,
    request: ApiRequest,
) -> Result<String> {
    Ok(state.engine().await?.preview_request(&id, &request).await?)
}

/// What the endpoint of a request being typed needs, against the granted scopes (no network).
#[tauri::command]
pub async fn endpoint_scopes(
    state: State<'_, AppState>,
    id: String,
    method: String,
    product: Option<ProductId>,
    path: String,
) -> Result<EndpointAdvice> {
    let engine = state.engine().await?;
    Ok(engine.endpoint_scopes(&id, &method, product, &path).await?)
}

#[tauri::command]
pub async fn curl_command(
    state: State<'_, AppState>,
    id: String,
    request: ApiRequest,
    reveal_token: bool,
) -> Result<String> {
    let engine = state.engine().await?;
    Ok(engine.curl_command(&id, &request, reveal_token).await?)
}

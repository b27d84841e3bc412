//! Saved integrations, and what the window needs to start.

use onramp_core::model::{Bootstrap, IntegrationPatch, IntegrationView};
use tauri::State;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn bootstrap(state: State<'_, AppState>) -> Result<Bootstrap> {
    Ok(state.engine().await?.bootstrap().await)
}

#[tauri::command]
pub async fn get_integration(state: State<'_, AppState>, id: String) -> Result<IntegrationView> {
    Ok(state.engine().await?.integration(&id).await?)
}

#[tauri::command]
pub async fn create_integration(
    state: State<'_, AppState>,
    provider_id: String,
) -> Result<IntegrationView> {
    Ok(state
        .engine()
        .await?
        .create_integration(&provider_id)
        .await?)
}

#[tauri::command]
pub async fn update_integration(
    state: State<'_, AppState>,
    id: String,
    patch: IntegrationPatch,
) -> Result<IntegrationView> {
    Ok(state.engine().await?.update_integration(&id, patch).await?)
}

#[tauri::command]
pub async fn delete_integration(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.engine().await?.delete_integration(&id).await?)
}

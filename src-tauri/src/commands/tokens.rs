//! The token lifecycle's manual controls (the connection panel).

use onramp_core::model::IntegrationView;
use tauri::State;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn refresh_now(state: State<'_, AppState>, id: String) -> Result<IntegrationView> {
    Ok(state.engine().await?.refresh_now(&id).await?)
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>, id: String) -> Result<IntegrationView> {
    Ok(state.engine().await?.disconnect(&id).await?)
}

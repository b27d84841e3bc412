//! The integrations home: every saved integration with its health; opening and duplicating one. Renaming and
//! deleting are `update_integration` and `delete_integration` (`integrations.rs`).

use onramp_core::model::{IntegrationSummary, IntegrationView};
use tauri::State;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn list_integrations(state: State<'_, AppState>) -> Result<Vec<IntegrationSummary>> {
    Ok(state.engine().await?.integration_summaries().await?)
}

/// Opens an integration in the wizard (the one reopened at the next start).
#[tauri::command]
pub async fn open_integration(state: State<'_, AppState>, id: String) -> Result<IntegrationView> {
    Ok(state.engine().await?.open_integration(&id).await?)
}

#[tauri::command]
pub async fn duplicate_integration(
    state: State<'_, AppState>,
    id: String,
) -> Result<IntegrationView> {
    Ok(state.engine().await?.duplicate_integration(&id).await?)
}

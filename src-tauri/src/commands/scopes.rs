//! Step 3, scopes: the guards for a selection, and requested vs granted after consent.

use onramp_core::model::{ScopeAdvice, ScopeReport};
use tauri::State;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn advise_scopes(
    state: State<'_, AppState>,
    provider_id: String,
    scopes: Vec<String>,
) -> Result<ScopeAdvice> {
    Ok(state.engine.advise_scopes(&provider_id, &scopes).await?)
}

#[tauri::command]
pub async fn scope_report(state: State<'_, AppState>, id: String) -> Result<ScopeReport> {
    Ok(state.engine.scope_report(&id).await?)
}

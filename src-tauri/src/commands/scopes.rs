//! Step 3, scopes: the guards for a selection, the endpoint picker's search and proposal, and
//! requested vs granted after consent.

use onramp_core::endpoint_advice::ScopeProposal;
use onramp_core::endpoint_scopes::{EndpointScopes, ScopePreference};
use onramp_core::model::{ScopeAdvice, ScopeInfo, ScopeReport};
use tauri::State;

use super::Result;
use crate::state::AppState;

/// Every catalog scope with what it means, once (kept out of `bootstrap`: only step 3 needs it).
#[tauri::command]
pub async fn scope_catalog(state: State<'_, AppState>) -> Result<Vec<ScopeInfo>> {
    Ok(state.engine().await?.scope_catalog())
}

#[tauri::command]
pub async fn advise_scopes(
    state: State<'_, AppState>,
    provider_id: String,
    scopes: Vec<String>,
) -> Result<ScopeAdvice> {
    Ok(state
        .engine()
        .await?
        .advise_scopes(&provider_id, &scopes)
        .await?)
}

#[tauri::command]
pub async fn scope_report(state: State<'_, AppState>, id: String) -> Result<ScopeReport> {
    Ok(state.engine().await?.scope_report(&id).await?)
}

/// Operations of the provider's products matching `query`, for the endpoint picker.
#[tauri::command]
pub async fn search_operations(
    state: State<'_, AppState>,
    provider_id: String,
    query: String,
    limit: usize,
) -> Result<Vec<EndpointScopes>> {
    let engine = state.engine().await?;
    Ok(engine
        .search_operations(&provider_id, &query, limit)
        .await?)
}

/// The smallest scope set for the chosen operations, and the selection applying it gives.
#[tauri::command]
pub async fn propose_scopes(
    state: State<'_, AppState>,
    id: String,
    operations: Vec<String>,
    prefer: ScopePreference,
) -> Result<ScopeProposal> {
    let engine = state.engine().await?;
    Ok(engine.propose_scopes(&id, &operations, prefer).await?)
}

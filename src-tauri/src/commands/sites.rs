//! Step 5, sites: list what the token reaches, filter, pick.

use onramp_core::model::{IntegrationView, Site, SiteListing};
use tauri::State;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn list_sites(state: State<'_, AppState>, id: String) -> Result<SiteListing> {
    Ok(state.engine().await?.site_listing(&id).await?)
}

#[tauri::command]
pub async fn filter_sites(
    state: State<'_, AppState>,
    id: String,
    subdomain: String,
) -> Result<Vec<Site>> {
    Ok(state.engine().await?.filter_sites(&id, &subdomain).await?)
}

#[tauri::command]
pub async fn select_site(
    state: State<'_, AppState>,
    id: String,
    // The entry's key (a cloudId and its scopes: one cloudId may be listed once per product).
    site_key: String,
) -> Result<IntegrationView> {
    Ok(state.engine().await?.select_site(&id, &site_key).await?)
}

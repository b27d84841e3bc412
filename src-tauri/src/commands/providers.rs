//! Step 1, providers: custom OAuth 2.0 / OpenID servers (the built-in ones come with `bootstrap`).

use onramp_core::model::{CustomProviderInput, Provider};
use tauri::State;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn discover_provider(
    state: State<'_, AppState>,
    issuer: String,
) -> Result<CustomProviderInput> {
    Ok(state.engine().await?.discover_provider(&issuer).await?)
}

#[tauri::command]
pub async fn save_custom_provider(
    state: State<'_, AppState>,
    id: Option<String>,
    input: CustomProviderInput,
) -> Result<Provider> {
    Ok(state
        .engine()
        .await?
        .save_custom_provider(id, input)
        .await?)
}

#[tauri::command]
pub async fn delete_custom_provider(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.engine().await?.delete_custom_provider(&id).await?)
}

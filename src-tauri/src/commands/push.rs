//! Step 7, push to Nango: the secret key (keychain only) and the push itself.

use onramp_core::engine::NANGO_READ_BACK_DELAY;
use onramp_core::model::{IntegrationView, NangoTarget};
use onramp_core::secrets::SecretString;
use tauri::State;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn save_nango_secret_key(
    state: State<'_, AppState>,
    id: String,
    // Deserialized straight into a type that never prints.
    secret_key: SecretString,
) -> Result<IntegrationView> {
    Ok(state
        .engine()
        .await?
        .save_nango_secret_key(&id, &secret_key)
        .await?)
}

#[tauri::command]
pub async fn has_nango_secret_key(state: State<'_, AppState>, id: String) -> Result<bool> {
    Ok(state.engine().await?.has_nango_secret_key(&id).await?)
}

#[tauri::command]
pub async fn push_to_nango(
    state: State<'_, AppState>,
    id: String,
    target: NangoTarget,
) -> Result<IntegrationView> {
    Ok(state
        .engine()
        .await?
        .push_to_nango(&id, target, NANGO_READ_BACK_DELAY)
        .await?)
}

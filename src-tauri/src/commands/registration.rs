//! Step 2, registration in the developer console: credentials, and the console's pages.

use onramp_core::model::{IntegrationView, KeychainStatus};
use onramp_core::preflight::CredentialCheck;
use onramp_core::secrets::SecretString;
use onramp_core::OnrampError;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_opener::OpenerExt;

use super::Result;
use crate::state::AppState;

#[tauri::command]
pub async fn save_credentials(
    state: State<'_, AppState>,
    id: String,
    client_id: String,
    // Deserialized straight into a type that never prints.
    secret: Option<SecretString>,
) -> Result<IntegrationView> {
    Ok(state
        .engine()
        .await?
        .save_credentials(&id, &client_id, secret)
        .await?)
}

/// Whether the OS keychain keeps secrets: asked when a step that stores one opens.
#[tauri::command]
pub async fn keychain_status(state: State<'_, AppState>) -> Result<KeychainStatus> {
    Ok(state.engine().await?.keychain_status().await)
}

/// "Check these credentials": one token probe and one authorize probe (`engine/registration.rs`).
#[tauri::command]
pub async fn check_credentials(state: State<'_, AppState>, id: String) -> Result<CredentialCheck> {
    Ok(state.engine().await?.check_credentials(&id).await?)
}

/// Opens a documentation or developer-console page in the system browser; only http(s) URLs.
#[tauri::command]
pub async fn open_url<R: Runtime>(app: AppHandle<R>, url: String) -> Result<()> {
    let link = onramp_core::links::web_link(&url)?;
    app.opener()
        .open_url(link.as_str(), None::<&str>)
        .map_err(|e| OnrampError::BrowserUnavailable(e.to_string()).into())
}

//! Step 7, hand-off: `.env` / JSON, runnable snippets, the team definition. Files are chosen in a
//! dialog opened here (`crate::files`); a cancelled dialog writes or reads nothing (`None`).

use onramp_core::handoff::{HandoffExport, HandoffFormat, SnippetLanguage};
use onramp_core::model::IntegrationView;
use tauri::{AppHandle, Runtime, State};

use super::Result;
use crate::files;
use crate::state::AppState;

#[tauri::command]
pub async fn export_handoff(
    state: State<'_, AppState>,
    id: String,
    format: HandoffFormat,
    include_secret: bool,
) -> Result<HandoffExport> {
    Ok(state
        .engine()
        .await?
        .export_handoff(&id, format, include_secret)
        .await?)
}

/// Saves the export where the user says; `None` (nothing written) when the dialog was cancelled.
#[tauri::command]
pub async fn save_handoff<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    format: HandoffFormat,
    include_secret: bool,
    file_name: String,
) -> Result<Option<String>> {
    let Some(path) = files::save_path(&app, &file_name).await? else {
        return Ok(None);
    };
    state
        .engine()
        .await?
        .save_handoff(&id, format, include_secret, &path)
        .await?;
    Ok(Some(path.display().to_string()))
}

#[tauri::command]
pub async fn snippet(
    state: State<'_, AppState>,
    id: String,
    language: SnippetLanguage,
) -> Result<String> {
    Ok(state.engine().await?.snippet(&id, language).await?)
}

#[tauri::command]
pub async fn export_definition(state: State<'_, AppState>, id: String) -> Result<String> {
    Ok(state.engine().await?.export_definition(&id).await?)
}

/// Saves the team definition where the user says; `None` when the dialog was cancelled.
#[tauri::command]
pub async fn save_definition<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    file_name: String,
) -> Result<Option<String>> {
    let Some(path) = files::save_path(&app, &file_name).await? else {
        return Ok(None);
    };
    state.engine().await?.save_definition(&id, &path).await?;
    Ok(Some(path.display().to_string()))
}

/// Imports a definition file the user picks; `None` when the dialog was cancelled.
#[tauri::command]
pub async fn import_definition<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Option<IntegrationView>> {
    let Some(path) = files::open_path(&app).await? else {
        return Ok(None);
    };
    Ok(Some(
        state.engine().await?.import_definition_file(&path).await?,
    ))
}

//! File dialogs, opened from Rust so the window needs no dialog or file-system permission.
//! Nothing is ever written to or read from a default path: a cancelled dialog is `None`.
//!
//! Test and automation override: with `ONRAMP_SAVE_PATH_FOR_TESTS` set, no dialog is shown and
//! that path is used instead (for saving and for opening). When it names an existing directory,
//! a saved file goes into it under the suggested file name.

use std::path::PathBuf;

use onramp_core::OnrampError;
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;

/// The environment variable that replaces the dialogs (tests, automation).
pub const SAVE_PATH_FOR_TESTS: &str = "ONRAMP_SAVE_PATH_FOR_TESTS";

fn override_path() -> Option<PathBuf> {
    std::env::var_os(SAVE_PATH_FOR_TESTS)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

async fn ask<R: Runtime>(
    app: &AppHandle<R>,
    save_as: Option<String>,
) -> Result<Option<PathBuf>, OnrampError> {
    let app = app.clone();
    let picked = tauri::async_runtime::spawn_blocking(move || {
        let dialog = app.dialog().file();
        match save_as {
            Some(name) => dialog.set_file_name(name).blocking_save_file(),
            None => dialog.add_filter("JSON", &["json"]).blocking_pick_file(),
        }
    })
    .await
    .map_err(|e| OnrampError::Internal(e.to_string()))?;
    picked
        .map(|p| {
            p.into_path()
                .map_err(|e| OnrampError::Internal(e.to_string()))
        })
        .transpose()
}

/// Where to save a file the user asked for, suggesting `file_name`; `None` when they cancelled.
pub async fn save_path<R: Runtime>(
    app: &AppHandle<R>,
    file_name: &str,
) -> Result<Option<PathBuf>, OnrampError> {
    if let Some(path) = override_path() {
        return Ok(Some(if path.is_dir() {
            path.join(file_name)
        } else {
            path
        }));
    }
    ask(app, Some(file_name.to_string())).await
}

/// Which file to open; `None` when the user cancelled.
pub async fn open_path<R: Runtime>(app: &AppHandle<R>) -> Result<Option<PathBuf>, OnrampError> {
    if let Some(path) = override_path() {
        return Ok(Some(path));
    }
    ask(app, None).await
}

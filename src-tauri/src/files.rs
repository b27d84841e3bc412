//! File dialogs, opened from Rust so the window needs no dialog or file-system permission.
//! Nothing is ever written to or read from a default path: a cancelled dialog is `None`.
//!
//! Test and automation overrides, in place of the dialogs: with `ONRAMP_SAVE_PATH_FOR_TESTS` set,
//! no save dialog is shown and that path is used (when it names an existing directory, the file goes
//! into it under the suggested file name); with `ONRAMP_OPEN_PATH_FOR_TESTS` set, no open dialog is
//! shown and that file is read.

use std::path::PathBuf;

use onramp_core::OnrampError;
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;

/// The environment variable that replaces the save dialog (tests, automation).
pub const SAVE_PATH_FOR_TESTS: &str = "ONRAMP_SAVE_PATH_FOR_TESTS";
/// The environment variable that replaces the open dialog (tests, automation).
pub const OPEN_PATH_FOR_TESTS: &str = "ONRAMP_OPEN_PATH_FOR_TESTS";

fn override_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
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
    if let Some(path) = override_path(SAVE_PATH_FOR_TESTS) {
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
    if let Some(path) = override_path(OPEN_PATH_FOR_TESTS) {
        return Ok(Some(path));
    }
    ask(app, None).await
}

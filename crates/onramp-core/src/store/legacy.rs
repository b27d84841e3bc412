//! The `settings.json` format (version 1) that Onramp used before the store: read once, on the first
//! start, by [`super::import`]. Nothing writes it any more.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Integration;

pub const SETTINGS_FILE: &str = "settings.json";
/// The settings.json format this build imports.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub version: u32,
    #[serde(default)]
    pub integrations: Vec<Integration>,
    #[serde(default)]
    pub last_integration_id: Option<String>,
    #[serde(default)]
    pub custom_providers: Vec<crate::custom::CustomProvider>,
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(SETTINGS_FILE)
}

/// Reads the text of a settings.json; the reason in words when it cannot be imported.
pub fn parse(text: &str) -> Result<Settings, String> {
    let legacy: Settings = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if legacy.version > VERSION {
        return Err(format!(
            "written by a newer Onramp (version {})",
            legacy.version
        ));
    }
    Ok(legacy)
}

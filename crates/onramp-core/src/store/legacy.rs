//! The `settings.json` format (version 1) that Onramp used before the store: read once, on the first
//! start, by [`super::import`]. Nothing writes it any more.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Integration;

pub const SETTINGS_FILE: &str = "settings.json";
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

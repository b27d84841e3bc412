//! Non-secret settings: the saved integrations, in one JSON file in the app config dir.
//!
//! Written atomically (temporary file, fsync, rename), so a crash never leaves half a file. A file
//! that cannot be read is moved aside, never overwritten, and the user is told where it went.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::OnrampError;
use crate::model::{CallbackSettings, Connection, Site};

pub const SETTINGS_FILE: &str = "settings.json";
const CURRENT_VERSION: u32 = 1;

/// A saved integration. Never holds a secret: those are in the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub provider_id: String,
    #[serde(default)]
    pub client_id: String,
    pub callback: CallbackSettings,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub console_done: Vec<String>,
    #[serde(default)]
    pub site: Option<Site>,
    #[serde(default)]
    pub connection: Option<Connection>,
    #[serde(default)]
    pub has_client_secret: bool,
    /// Newest first; method, path, status and time only.
    #[serde(default)]
    pub history: Vec<crate::model::HistoryEntry>,
    pub created_at: i64,
    pub updated_at: i64,
}

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

impl Default for Settings {
    fn default() -> Self {
        Settings {
            version: CURRENT_VERSION,
            integrations: Vec::new(),
            last_integration_id: None,
            custom_providers: Vec::new(),
        }
    }
}

impl Settings {
    pub fn integration(&self, id: &str) -> Result<&Integration, OnrampError> {
        self.integrations
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| OnrampError::UnknownIntegration(id.to_string()))
    }

    pub fn integration_mut(&mut self, id: &str) -> Result<&mut Integration, OnrampError> {
        self.integrations
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| OnrampError::UnknownIntegration(id.to_string()))
    }
}

/// What loading found: the settings, and a problem to show if the file had to be moved aside.
pub struct Loaded {
    pub settings: Settings,
    pub problem: Option<OnrampError>,
    /// False when the file could not be read or moved aside: saving would overwrite it.
    pub writable: bool,
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(SETTINGS_FILE)
}

pub fn load(dir: &Path, now: i64) -> Loaded {
    let path = path_in(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded {
                settings: Settings::default(),
                problem: None,
                writable: true,
            }
        }
        Err(e) => {
            return Loaded {
                settings: Settings::default(),
                problem: Some(OnrampError::Settings {
                    path: path.display().to_string(),
                    problem: format!(
                        "cannot be read ({e}); Onramp runs without saving until it can"
                    ),
                }),
                writable: false,
            }
        }
    };
    let parsed = serde_json::from_str::<Settings>(&text)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            if s.version > CURRENT_VERSION {
                Err(format!("written by a newer Onramp (version {})", s.version))
            } else {
                Ok(s)
            }
        });
    match parsed {
        Ok(settings) => Loaded {
            settings,
            problem: None,
            writable: true,
        },
        Err(why) => {
            let aside = dir.join(format!("{SETTINGS_FILE}.unreadable-{now}"));
            let moved = fs::rename(&path, &aside);
            let writable = moved.is_ok();
            let problem = match moved {
                Ok(()) => format!("{why}. It was moved to {} unchanged; Onramp starts with no saved integrations.", aside.display()),
                Err(e) => format!("{why}. Moving it aside failed ({e}); it was left in place."),
            };
            Loaded {
                settings: Settings::default(),
                problem: Some(OnrampError::Settings {
                    path: path.display().to_string(),
                    problem,
                }),
                writable,
            }
        }
    }
}

/// Atomic replace: write a sibling temp file, flush it to disk, rename over the old file.
pub fn save(dir: &Path, settings: &Settings) -> Result<(), OnrampError> {
    let path = path_in(dir);
    let fail = |e: std::io::Error| OnrampError::Settings {
        path: path.display().to_string(),
        problem: format!("could not be written: {e}"),
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let text = serde_json::to_string_pretty(settings).map_err(|e| OnrampError::Settings {
        path: path.display().to_string(),
        problem: e.to_string(),
    })?;
    let tmp = dir.join(format!(".{SETTINGS_FILE}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallbackKind;

    fn sample() -> Settings {
        Settings {
            version: 1,
            integrations: vec![Integration {
                id: "a1".into(),
                name: "Mine".into(),
                provider_id: "sandbox".into(),
                client_id: "cid".into(),
                callback: CallbackSettings {
                    kind: CallbackKind::Loopback,
                    loopback_port: 47823,
                },
                scopes: vec!["read:me".into()],
                console_done: vec![],
                site: None,
                connection: None,
                has_client_secret: true,
                history: vec![],
                created_at: 1,
                updated_at: 2,
            }],
            last_integration_id: Some("a1".into()),
            custom_providers: Vec::new(),
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &sample()).unwrap();
        let loaded = load(dir.path(), 0);
        assert!(loaded.problem.is_none());
        assert_eq!(loaded.settings, sample());
        // No temp file left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(SETTINGS_FILE)]);
    }

    #[test]
    fn missing_file_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(dir.path(), 0);
        assert!(loaded.problem.is_none());
        assert!(loaded.settings.integrations.is_empty());
    }

    #[test]
    fn corrupt_file_is_moved_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path_in(dir.path()), "{ not json").unwrap();
        let loaded = load(dir.path(), 42);
        assert!(loaded.writable, "moved aside: a fresh file can be written");
        let problem = loaded.problem.expect("a problem is reported");
        assert!(problem.to_ui().detail.contains("unreadable-42"));
        let aside = dir.path().join("settings.json.unreadable-42");
        assert_eq!(fs::read_to_string(aside).unwrap(), "{ not json");
        // Saving afterwards does not touch the moved file.
        save(dir.path(), &sample()).unwrap();
        assert!(dir.path().join("settings.json.unreadable-42").exists());
    }

    #[test]
    fn newer_version_is_not_overwritten_silently() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            path_in(dir.path()),
            r#"{"version": 99, "integrations": []}"#,
        )
        .unwrap();
        let loaded = load(dir.path(), 7);
        assert!(loaded
            .problem
            .unwrap()
            .to_ui()
            .detail
            .contains("newer Onramp"));
        assert!(dir.path().join("settings.json.unreadable-7").exists());
    }

    #[test]
    fn an_unreadable_file_left_in_place_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: it cannot be read, nor moved aside as a file.
        fs::create_dir(path_in(dir.path())).unwrap();
        let loaded = load(dir.path(), 9);
        assert!(loaded.problem.is_some());
        assert!(!loaded.writable, "Onramp must run without saving");
    }
}

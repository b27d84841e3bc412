//! The first start's import of the old `settings.json` (format version 1).
//!
//! Only into a database with no data yet, in one transaction, and only once (recorded in `meta`).
//! The JSON file is then renamed `settings.json.imported-<unix seconds>`, never deleted. A file
//! that cannot be parsed is left in place and reported; Onramp starts with an empty store.

use std::fs;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::legacy::{self as settings, Settings, SETTINGS_FILE};
use super::{insert_integration_in, put_meta, save_custom_provider_in, Work, LAST_INTEGRATION};
use crate::error::OnrampError;

/// Meta key set when the import happened (value: the time and the file it came from).
pub const IMPORTED: &str = "legacy_settings_imported";

/// Imports `dir/settings.json` when there is one and the database is still empty. Returns the
/// problem to show, if any.
pub(super) fn import_legacy(
    conn: &mut Connection,
    db_path: &Path,
    dir: &Path,
    now: i64,
) -> Option<OnrampError> {
    let json = settings::path_in(dir);
    if !json.is_file() {
        return None;
    }
    let imported = (|| -> Work<bool> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !fresh(&tx)? {
            return Ok(false);
        }
        let legacy = read_legacy(&json)?;
        insert_all(&tx, &legacy)?;
        put_meta(&tx, IMPORTED, &format!("{now} {}", json.display()))?;
        tx.commit()?;
        Ok(true)
    })();
    match imported {
        Ok(false) => None,
        Ok(true) => {
            let aside = dir.join(format!("{SETTINGS_FILE}.imported-{now}"));
            match fs::rename(&json, &aside) {
                Ok(()) => tracing::info!(
                    "imported {} into {}; the file is now {}",
                    json.display(),
                    db_path.display(),
                    aside.display()
                ),
                // Imported all the same: the meta record keeps it from being imported again.
                Err(e) => tracing::warn!(
                    "imported {} into {}, but renaming it failed: {e}",
                    json.display(),
                    db_path.display()
                ),
            }
            None
        }
        Err(failure) => Some(failure.into_error(Some(db_path))),
    }
}

/// No data yet and never imported.
fn fresh(tx: &Transaction<'_>) -> Work<bool> {
    let imported = tx
        .query_row("SELECT 1 FROM meta WHERE key = ?1", [IMPORTED], |_| Ok(()))
        .optional()?;
    let data: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM integrations) OR EXISTS (SELECT 1 FROM custom_providers)
            OR EXISTS (SELECT 1 FROM meta WHERE key = ?1)",
        [LAST_INTEGRATION],
        |r| r.get(0),
    )?;
    Ok(imported.is_none() && !data)
}

fn read_legacy(json: &Path) -> Work<Settings> {
    let problem = |why: String| {
        OnrampError::Settings {
        path: json.display().to_string(),
        problem: format!(
            "could not be imported ({why}). It was left in place, and Onramp starts with no saved integrations. Fix the file and restart Onramp before saving anything, or move it away."
        ),
    }
    };
    let text = fs::read_to_string(json).map_err(|e| problem(e.to_string()))?;
    Ok(settings::parse(&text).map_err(problem)?)
}

fn insert_all(tx: &Transaction<'_>, legacy: &Settings) -> Work<()> {
    for integration in &legacy.integrations {
        insert_integration_in(tx, integration)?;
    }
    for provider in &legacy.custom_providers {
        save_custom_provider_in(tx, provider)?;
    }
    if let Some(id) = &legacy.last_integration_id {
        put_meta(tx, LAST_INTEGRATION, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::CustomProvider;
    use crate::model::{
        ApiRequest, CallbackKind, CallbackSettings, ClientAuth, Connection as Conn,
        ConnectionState, CustomProviderInput, HistoryEntry, KeyValue, ProductId, Site,
    };
    use crate::store::Integration;
    use crate::store::Store;
    use std::path::PathBuf;

    fn fixture_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/settings-v1.json")
    }

    /// What `tests/fixtures/settings-v1.json` was written from, by the last Onramp that saved
    /// `settings.json` (its `settings::save`, before the store replaced it).
    fn fixture_settings() -> Settings {
        let history = vec![
            HistoryEntry {
                at: 1_760_000_300,
                method: "GET".into(),
                path: "/ex/jira/11111111-2222-3333-4444-555555555555/rest/api/3/myself".into(),
                status: 200,
                elapsed_ms: 231,
                request: Some(ApiRequest {
                    preset_id: None,
                    method: "GET".into(),
                    product: Some(ProductId::Jira),
                    path: "/rest/api/3/myself".into(),
                    query: None,
                    body: None,
                }),
            },
            HistoryEntry {
                at: 1_760_000_200,
                method: "GET".into(),
                path: "/ex/jira/11111111-2222-3333-4444-555555555555/rest/api/3/search/jql".into(),
                status: 400,
                elapsed_ms: 118,
                request: Some(ApiRequest {
                    preset_id: None,
                    method: "GET".into(),
                    product: Some(ProductId::Jira),
                    path: "/rest/api/3/search/jql".into(),
                    query: Some("jql=project%3DDEMO&maxResults=5".into()),
                    body: None,
                }),
            },
            HistoryEntry {
                at: 1_760_000_100,
                method: "GET".into(),
                path: "/oauth/token/accessible-resources".into(),
                status: 200,
                elapsed_ms: 95,
                request: None,
            },
        ];
        let connected = Integration {
            id: "0a1b2c3d4e5f6071".into(),
            name: "Jira reports".into(),
            provider_id: "atlassian".into(),
            client_id: "example-client-id-not-real".into(),
            callback: CallbackSettings {
                kind: CallbackKind::Loopback,
                loopback_port: 47823,
            },
            scopes: vec![
                "read:jira-work".into(),
                "read:me".into(),
                "offline_access".into(),
            ],
            console_done: vec!["app".into(), "permissions".into()],
            site: Some(Site {
                id: "11111111-2222-3333-4444-555555555555".into(),
                name: "example".into(),
                url: "https://example.atlassian.net".into(),
                scopes: vec!["read:jira-work".into()],
                avatar_url: None,
                key: String::new(),
                products: Vec::new(),
            }),
            connection: Some(Conn {
                state: ConnectionState::Connected,
                connected_at: 1_760_000_000,
                expires_at: Some(1_760_003_600),
                granted_scopes: vec!["read:jira-work".into(), "offline_access".into()],
                has_refresh_token: true,
                reason: None,
                token_lifetime: Some(3600),
                last_refresh_at: None,
            }),
            handed_off: None,
            has_client_secret: true,
            client_secret_revision: 0,
            scopes_reviewed: false,
            sandbox_instance: None,
            history,
            created_at: 1_759_990_000,
            updated_at: 1_760_000_300,
        };
        let bare = Integration {
            id: "8192a3b4c5d6e7f8".into(),
            name: "Local test server".into(),
            provider_id: "custom-9f8e7d6c5b4a3921".into(),
            client_id: String::new(),
            callback: CallbackSettings {
                kind: CallbackKind::DeepLink,
                loopback_port: 47823,
            },
            scopes: vec![],
            console_done: vec![],
            site: None,
            connection: None,
            handed_off: None,
            has_client_secret: false,
            client_secret_revision: 0,
            scopes_reviewed: false,
            sandbox_instance: None,
            history: vec![],
            created_at: 1_759_995_000,
            updated_at: 1_759_995_000,
        };
        let provider = CustomProvider {
            id: "custom-9f8e7d6c5b4a3921".into(),
            input: CustomProviderInput {
                name: "Local test server".into(),
                authorize_url: "http://127.0.0.1:9000/authorize".into(),
                token_url: "http://127.0.0.1:9000/token".into(),
                scopes: vec!["profile".into()],
                extra_params: vec![KeyValue {
                    key: "audience".into(),
                    value: "api.example.test".into(),
                }],
                client_auth: ClientAuth::Basic,
                pkce: true,
                test_call_url: Some("http://127.0.0.1:9000/me".into()),
                issuer: None,
            },
        };
        Settings {
            version: 1,
            integrations: vec![connected, bare],
            last_integration_id: Some("0a1b2c3d4e5f6071".into()),
            custom_providers: vec![provider],
        }
    }

    /// A config dir holding a copy of the committed fixture.
    fn config_with_fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        fs::copy(fixture_path(), settings::path_in(dir.path())).unwrap();
        let db = crate::store::path_in(dir.path());
        (dir, db)
    }

    fn imported_copies(dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("settings.json.imported-")
            })
            .collect();
        found.sort();
        found
    }

    #[tokio::test]
    async fn imports_the_committed_v1_fixture_once() {
        let (dir, db) = config_with_fixture();
        let original = fs::read(fixture_path()).unwrap();
        let expected: Settings = serde_json::from_slice(&original).unwrap();
        assert_eq!(
            expected,
            fixture_settings(),
            "the fixture matches its source"
        );

        let opened = Store::open(&db, Some(dir.path()));
        assert!(opened.problem.is_none(), "{:?}", opened.problem);
        assert!(opened.writable);
        let store = opened.store;

        let got = store.integrations().await.unwrap();
        let without_history: Vec<Integration> = expected
            .integrations
            .iter()
            .map(|i| Integration {
                history: vec![],
                ..i.clone()
            })
            .collect();
        assert_eq!(got, without_history);
        for i in &expected.integrations {
            assert_eq!(
                store.history(&i.id).await.unwrap(),
                i.history,
                "newest first"
            );
        }
        assert_eq!(
            store.custom_providers().await.unwrap(),
            expected.custom_providers
        );
        assert_eq!(
            store.last_integration_id().await.unwrap(),
            expected.last_integration_id
        );

        // Renamed, not deleted, byte for byte.
        assert!(!settings::path_in(dir.path()).exists());
        let copies = imported_copies(dir.path());
        assert_eq!(copies.len(), 1);
        assert_eq!(fs::read(&copies[0]).unwrap(), original);

        // Only once: a settings.json showing up again is not imported into the emptied store.
        for i in &expected.integrations {
            store.delete_integration(&i.id).await.unwrap();
        }
        store
            .delete_custom_provider(&expected.custom_providers[0].id)
            .await
            .unwrap();
        drop(store);
        fs::copy(fixture_path(), settings::path_in(dir.path())).unwrap();
        let again = Store::open(&db, Some(dir.path()));
        assert!(again.problem.is_none());
        assert!(again.store.integrations().await.unwrap().is_empty());
        assert!(settings::path_in(dir.path()).exists(), "left alone");
        assert_eq!(imported_copies(dir.path()).len(), 1);
    }

    #[tokio::test]
    async fn a_database_with_data_imports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::path_in(dir.path());
        let first = Store::open(&db, Some(dir.path()));
        first
            .store
            .set_last_integration_id(Some("kept".into()))
            .await
            .unwrap();
        drop(first);
        fs::copy(fixture_path(), settings::path_in(dir.path())).unwrap();
        let opened = Store::open(&db, Some(dir.path()));
        assert!(opened.problem.is_none());
        assert!(opened.store.integrations().await.unwrap().is_empty());
        assert_eq!(
            opened.store.last_integration_id().await.unwrap().as_deref(),
            Some("kept")
        );
        assert!(settings::path_in(dir.path()).exists());
    }

    #[tokio::test]
    async fn an_unparsable_settings_file_is_left_in_place() {
        for text in ["{ not json", r#"{"version": 2, "integrations": []}"#] {
            let dir = tempfile::tempdir().unwrap();
            let json = settings::path_in(dir.path());
            fs::write(&json, text).unwrap();
            let opened = Store::open(&crate::store::path_in(dir.path()), Some(dir.path()));
            let problem = opened.problem.expect("a problem").to_ui().detail;
            assert!(problem.contains("could not be imported"), "{problem}");
            assert!(problem.contains("settings.json"), "{problem}");
            assert!(opened.writable, "the database itself is fine");
            assert_eq!(fs::read_to_string(&json).unwrap(), text);
            assert!(imported_copies(dir.path()).is_empty());
            let store = opened.store;
            assert!(store.integrations().await.unwrap().is_empty());
            store
                .insert_integration(crate::store::tests::integration("n1", 1))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn no_secret_reaches_the_database_file() {
        let (dir, db) = config_with_fixture();
        let store = Store::open(&db, Some(dir.path())).store;
        let id = "0a1b2c3d4e5f6071";
        store
            .update_integration(id, |i| {
                i.console_done.push("scopes".into());
                Ok(())
            })
            .await
            .unwrap();
        for n in 0..5 {
            store
                .append_history(id, crate::store::tests::entry(n), 50)
                .await
                .unwrap();
        }
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            bytes.extend(fs::read(PathBuf::from(name)).unwrap_or_default());
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Jira reports"), "the data is readable here");
        for secret in [
            "access_token",
            "refresh_token",
            "client_secret",
            "accessToken",
            "refreshToken",
            "clientSecret",
        ] {
            assert!(!text.contains(secret), "{secret} in the database");
        }
    }
}

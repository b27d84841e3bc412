//! Non-secret data in one SQLite database in the app config dir: the integrations, their request
//! history, custom providers and the last integration shown. Secrets stay in the keychain.
//!
//! - WAL mode, a 5 s `busy_timeout`, foreign keys on; the schema is versioned by
//!   `PRAGMA user_version` ([`migrations`]).
//! - Every read-modify-write is one `BEGIN IMMEDIATE` transaction, so two Onramp processes on the
//!   same file never lose each other's updates.
//! - The API is async; the SQLite work runs in `spawn_blocking`, never on the executor's threads.
//! - A damaged file, or one from a newer Onramp, is never modified: Onramp runs on an in-memory
//!   database instead and says why ([`Opened::problem`]).
//! - The first start imports the old `settings.json` (`import.rs`).

mod import;
mod integration;
pub mod legacy;
pub mod migrations;

pub use integration::Integration;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::custom::CustomProvider;
use crate::error::OnrampError;
use crate::model::HistoryEntry;

/// The database's file name in the app config dir.
pub const DATABASE_FILE: &str = "onramp.sqlite3";

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(DATABASE_FILE)
}

const LAST_INTEGRATION: &str = "last_integration_id";

/// The embedded store. Cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

/// What opening found: the store, and a problem to show when it had to fall back to memory or the
/// old settings could not be imported.
#[derive(Debug)]
pub struct Opened {
    pub store: Store,
    pub problem: Option<OnrampError>,
    /// False when the file could not be used: the store is in memory and nothing is saved.
    pub writable: bool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Why a piece of database work failed, turned into an [`OnrampError`] by [`Store::run`].
pub(crate) enum Failure {
    Db(rusqlite::Error),
    Record(String),
    Onramp(OnrampError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::Record(e.to_string())
    }
}

impl From<OnrampError> for Failure {
    fn from(e: OnrampError) -> Self {
        Failure::Onramp(e)
    }
}

impl Failure {
    fn into_error(self, path: Option<&Path>) -> OnrampError {
        let path = path.map_or_else(
            || "(in-memory database)".to_string(),
            |p| p.display().to_string(),
        );
        match self {
            Failure::Onramp(e) => e,
            Failure::Db(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                OnrampError::Settings {
                    path,
                    problem: format!("stayed locked by another Onramp for more than {} s ({e}). Nothing was changed; try again.", migrations::BUSY_TIMEOUT.as_secs()),
                }
            }
            // The disk refused the write (read-only file or folder, full disk, I/O error): the
            // transaction was rolled back, so what was saved before is intact.
            Failure::Db(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(
                        rusqlite::ErrorCode::ReadOnly
                            | rusqlite::ErrorCode::DiskFull
                            | rusqlite::ErrorCode::SystemIoFailure
                            | rusqlite::ErrorCode::CannotOpen
                    )
                ) =>
            {
                OnrampError::StoreWrite {
                    path,
                    problem: e.to_string(),
                }
            }
            Failure::Db(e) => OnrampError::Settings {
                path,
                problem: format!("database error: {e}"),
            },
            Failure::Record(m) => OnrampError::Settings {
                path,
                problem: format!("holds a record Onramp cannot read ({m})."),
            },
        }
    }
}

pub(crate) type Work<T> = Result<T, Failure>;

impl Store {
    /// Opens (or creates) the database at `db_path`, and on the first start imports
    /// `legacy_settings_dir/settings.json`. Blocking: call it at start-up, before the async work.
    pub fn open(db_path: &Path, legacy_settings_dir: Option<&Path>) -> Opened {
        match migrations::open_file(db_path) {
            Ok(mut conn) => {
                let problem = legacy_settings_dir.and_then(|dir| {
                    import::import_legacy(&mut conn, db_path, dir, crate::now_unix())
                });
                Opened {
                    store: Store {
                        conn: Arc::new(Mutex::new(conn)),
                        path: Some(db_path.to_path_buf()),
                    },
                    problem,
                    writable: true,
                }
            }
            Err(problem) => {
                tracing::warn!("store: {problem}");
                Opened {
                    store: Store::in_memory(),
                    problem: Some(problem),
                    writable: false,
                }
            }
        }
    }

    /// An empty store in memory (nothing saved), with the current schema.
    pub fn in_memory() -> Store {
        let conn = migrations::open_in_memory().expect("SQLite opens an in-memory database");
        Store {
            conn: Arc::new(Mutex::new(conn)),
            path: None,
        }
    }

    /// Makes every later write fail as a read-only database does (`PRAGMA query_only`), or lets
    /// writes through again (tests only).
    #[cfg(any(test, feature = "test-support"))]
    pub async fn refuse_writes(&self, refuse: bool) {
        self.run(move |conn| {
            conn.pragma_update(None, "query_only", refuse)?;
            Ok(())
        })
        .await
        .expect("query_only");
    }

    /// The database file; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `work` on the connection in a blocking thread. A caller that stops waiting does not
    /// stop the work: a started write is finished (or rolled back) as a whole.
    async fn run<T, F>(&self, work: F) -> Result<T, OnrampError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Work<T> + Send + 'static,
    {
        let store = self.clone();
        let joined = tokio::task::spawn_blocking(move || store.run_here(work)).await;
        match joined {
            Ok(done) => done,
            Err(e) => Err(OnrampError::Internal(format!(
                "a database task failed: {e}"
            ))),
        }
    }

    /// Runs `work` on the connection in the calling thread, which must be a blocking one (see
    /// [`Blocking`]).
    fn run_here<T>(&self, work: impl FnOnce(&mut Connection) -> Work<T>) -> Result<T, OnrampError> {
        // A panic while holding the lock dropped its transaction (rolled back): go on.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        work(&mut conn).map_err(|f| f.into_error(self.path()))
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed only when it succeeds.
    async fn write<T, F>(&self, work: F) -> Result<T, OnrampError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Work<T> + Send + 'static,
    {
        self.run(move |conn| in_transaction(conn, work)).await
    }

    /// The same reads and writes without a hop to a blocking thread each, for work that already
    /// runs on one (`run_blocking`, `spawn_blocking`) and makes several steps in a row: never call
    /// it from async code.
    pub(crate) fn blocking(&self) -> Blocking<'_> {
        Blocking(self)
    }

    /// All integrations, oldest created first, with `history` empty.
    pub async fn integrations(&self) -> Result<Vec<Integration>, OnrampError> {
        self.run(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, created_at, updated_at, secret_revision, record FROM integrations ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, created, updated, revision, record): (String, i64, i64, i64, String) = row?;
                out.push(integration_from_row(id, created, updated, revision, &record)?);
            }
            Ok(out)
        })
        .await
    }

    /// One integration, with `history` empty.
    pub async fn integration(&self, id: &str) -> Result<Integration, OnrampError> {
        let id = id.to_string();
        self.run(move |conn| read_integration(conn, &id)).await
    }

    /// Adds an integration, with its history (newest first) when it has one.
    pub async fn insert_integration(&self, integration: Integration) -> Result<(), OnrampError> {
        self.write(move |tx| insert_integration_in(tx, &integration))
            .await
    }

    /// Reads, changes and writes one integration in one transaction, and sets its `updated_at`.
    /// When `change` fails nothing is written. Its `id` and `history` are not changed this way.
    pub async fn update_integration<F>(
        &self,
        id: &str,
        change: F,
    ) -> Result<Integration, OnrampError>
    where
        F: FnOnce(&mut Integration) -> Result<(), OnrampError> + Send + 'static,
    {
        let id = id.to_string();
        self.write(move |tx| update_integration_in(tx, id, change))
            .await
    }

    /// Deletes an integration and its history; forgets it as the last integration.
    pub async fn delete_integration(&self, id: &str) -> Result<(), OnrampError> {
        let id = id.to_string();
        self.write(move |tx| {
            if tx.execute("DELETE FROM integrations WHERE id = ?1", [&id])? == 0 {
                return Err(OnrampError::UnknownIntegration(id).into());
            }
            tx.execute(
                "DELETE FROM meta WHERE key = ?1 AND value = ?2",
                params![LAST_INTEGRATION, id],
            )?;
            Ok(())
        })
        .await
    }

    /// An integration's history, newest first.
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, OnrampError> {
        let id = id.to_string();
        self.run(move |conn| history_in(conn, &id)).await
    }

    /// Adds a history entry and drops the oldest beyond `cap`, in one transaction. Like any other
    /// change to the integration it sets `updated_at`.
    pub async fn append_history(
        &self,
        id: &str,
        entry: HistoryEntry,
        cap: usize,
    ) -> Result<(), OnrampError> {
        let id = id.to_string();
        self.write(move |tx| {
            let touched = tx
                .prepare_cached("UPDATE integrations SET updated_at = ?2 WHERE id = ?1")?
                .execute(params![id, crate::now_unix()])?;
            if touched == 0 {
                return Err(OnrampError::UnknownIntegration(id).into());
            }
            insert_history_in(tx, &id, &entry)?;
            tx.prepare_cached(
                "DELETE FROM history WHERE integration_id = ?1 AND id <= (
                    SELECT id FROM history WHERE integration_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![id, i64::try_from(cap).unwrap_or(i64::MAX)])?;
            Ok(())
        })
        .await
    }

    /// Custom providers, in the order they were first saved.
    pub async fn custom_providers(&self) -> Result<Vec<CustomProvider>, OnrampError> {
        self.run(|conn| {
            // Never VACUUMed, so rowids keep the order of first insertion.
            let mut stmt = conn.prepare("SELECT record FROM custom_providers ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(serde_json::from_str(&row?)?);
            }
            Ok(out)
        })
        .await
    }

    /// Adds or replaces (same id, same place in the list) a custom provider.
    pub async fn save_custom_provider(&self, provider: CustomProvider) -> Result<(), OnrampError> {
        self.write(move |tx| save_custom_provider_in(tx, &provider))
            .await
    }

    /// Removes a custom provider; no error when it is already gone. Refused (in the same
    /// transaction) while an integration uses it, so a saved integration is never broken.
    pub async fn delete_custom_provider(&self, id: &str) -> Result<(), OnrampError> {
        let id = id.to_string();
        self.write(move |tx| {
            let mut stmt = tx.prepare(
                "SELECT id, created_at, updated_at, secret_revision, record FROM integrations ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            for row in rows {
                let (iid, created, updated, revision, record): (String, i64, i64, i64, String) =
                    row?;
                let i = integration_from_row(iid, created, updated, revision, &record)?;
                if i.provider_id == id {
                    return Err(OnrampError::invalid(
                        "provider",
                        format!("The integration \"{}\" uses this provider; delete it first.", i.name),
                    )
                    .into());
                }
            }
            tx.execute("DELETE FROM custom_providers WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await
    }

    pub async fn last_integration_id(&self) -> Result<Option<String>, OnrampError> {
        self.run(|conn| {
            Ok(conn
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [LAST_INTEGRATION],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    pub async fn set_last_integration_id(&self, id: Option<String>) -> Result<(), OnrampError> {
        self.write(move |tx| {
            match id {
                Some(id) => put_meta(tx, LAST_INTEGRATION, &id)?,
                None => {
                    tx.execute("DELETE FROM meta WHERE key = ?1", [LAST_INTEGRATION])?;
                }
            }
            Ok(())
        })
        .await
    }
}

/// The store's blocking form (see [`Store::blocking`]): each call runs in the calling thread.
pub(crate) struct Blocking<'a>(&'a Store);

impl Blocking<'_> {
    /// Whether the integration is there (without reading its record):
    /// [`OnrampError::UnknownIntegration`] when it is not.
    pub(crate) fn require_integration(&self, id: &str) -> Result<(), OnrampError> {
        self.0.run_here(|conn| require_integration(conn, id))
    }

    /// [`Store::update_integration`], and the integration's history (newest first) read in the
    /// same transaction.
    pub(crate) fn update_integration_with_history(
        &self,
        id: &str,
        change: impl FnOnce(&mut Integration) -> Result<(), OnrampError>,
    ) -> Result<(Integration, Vec<HistoryEntry>), OnrampError> {
        self.0.run_here(|conn| {
            in_transaction(conn, |tx| {
                let saved = update_integration_in(tx, id.to_string(), change)?;
                Ok((saved, history_rows(tx, id)?))
            })
        })
    }
}

/// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed only when it succeeds.
fn in_transaction<T>(
    conn: &mut Connection,
    work: impl FnOnce(&Transaction<'_>) -> Work<T>,
) -> Work<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = work(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Reads, changes and writes one integration (see [`Store::update_integration`]).
fn update_integration_in(
    tx: &Transaction<'_>,
    id: String,
    change: impl FnOnce(&mut Integration) -> Result<(), OnrampError>,
) -> Work<Integration> {
    let mut i = read_integration(tx, &id)?;
    change(&mut i)?;
    i.id = id;
    i.history.clear();
    i.updated_at = crate::now_unix();
    tx.prepare_cached(
        "UPDATE integrations SET created_at = ?2, updated_at = ?3, record = ?4, secret_revision = ?5 WHERE id = ?1",
    )?
    .execute(params![i.id, i.created_at, i.updated_at, integration_record(&i)?, i.client_secret_revision])?;
    Ok(i)
}

/// An integration's history, newest first (see [`Store::history`]).
fn history_in(conn: &mut Connection, id: &str) -> Work<Vec<HistoryEntry>> {
    let tx = conn.transaction()?;
    require_integration(&tx, id)?;
    history_rows(&tx, id)
}

/// The history rows of `id`, newest first.
fn history_rows(conn: &Connection, id: &str) -> Work<Vec<HistoryEntry>> {
    let mut stmt = conn
        .prepare_cached("SELECT entry FROM history WHERE integration_id = ?1 ORDER BY id DESC")?;
    let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row?)?);
    }
    Ok(out)
}

/// Fields kept in their own columns (or table), left out of the JSON record.
const COLUMN_FIELDS: [&str; 5] = [
    "id",
    "createdAt",
    "updatedAt",
    "clientSecretRevision",
    "history",
];

fn integration_record(i: &Integration) -> Work<String> {
    let mut value = serde_json::to_value(i)?;
    if let Some(fields) = value.as_object_mut() {
        for name in COLUMN_FIELDS {
            fields.remove(name);
        }
    }
    Ok(value.to_string())
}

fn integration_from_row(
    id: String,
    created: i64,
    updated: i64,
    secret_revision: i64,
    record: &str,
) -> Work<Integration> {
    let mut value: serde_json::Value = serde_json::from_str(record)?;
    let fields = value
        .as_object_mut()
        .ok_or_else(|| Failure::Record(format!("integration {id} is not a JSON object")))?;
    fields.insert("createdAt".into(), created.into());
    fields.insert("updatedAt".into(), updated.into());
    fields.insert("clientSecretRevision".into(), secret_revision.into());
    fields.insert("id".into(), id.into());
    Ok(serde_json::from_value(value)?)
}

fn read_integration(conn: &Connection, id: &str) -> Work<Integration> {
    let row = conn
        .prepare_cached(
            "SELECT created_at, updated_at, secret_revision, record FROM integrations WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    let (created, updated, revision, record) =
        row.ok_or_else(|| OnrampError::UnknownIntegration(id.to_string()))?;
    integration_from_row(id.to_string(), created, updated, revision, &record)
}

fn require_integration(conn: &Connection, id: &str) -> Work<()> {
    let found = conn
        .prepare_cached("SELECT 1 FROM integrations WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?;
    found.ok_or_else(|| OnrampError::UnknownIntegration(id.to_string()).into())
}

pub(crate) fn insert_integration_in(tx: &Transaction<'_>, i: &Integration) -> Work<()> {
    let exists = tx
        .query_row("SELECT 1 FROM integrations WHERE id = ?1", [&i.id], |_| {
            Ok(())
        })
        .optional()?;
    if exists.is_some() {
        return Err(OnrampError::Internal(format!(
            "an integration with the id {} already exists",
            i.id
        ))
        .into());
    }
    tx.execute(
        "INSERT INTO integrations (id, created_at, updated_at, record, secret_revision) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![i.id, i.created_at, i.updated_at, integration_record(i)?, i.client_secret_revision],
    )?;
    // Newest first in memory; oldest first into the table, where the newest has the highest id.
    for entry in i.history.iter().rev() {
        insert_history_in(tx, &i.id, entry)?;
    }
    Ok(())
}

fn insert_history_in(tx: &Transaction<'_>, id: &str, entry: &HistoryEntry) -> Work<()> {
    tx.prepare_cached("INSERT INTO history (integration_id, at, entry) VALUES (?1, ?2, ?3)")?
        .execute(params![id, entry.at, serde_json::to_string(entry)?])?;
    Ok(())
}

pub(crate) fn save_custom_provider_in(tx: &Transaction<'_>, p: &CustomProvider) -> Work<()> {
    tx.execute(
        "INSERT INTO custom_providers (id, record) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET record = excluded.record",
        params![p.id, serde_json::to_string(p)?],
    )?;
    Ok(())
}

pub(crate) fn put_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Work<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;

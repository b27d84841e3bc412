//! The schema, versioned by `PRAGMA user_version`, and the checks made before Onramp writes to a
//! database file.
//!
//! An existing file is first examined on a read-only connection: not an SQLite file, failing
//! `quick_check`, or a schema newer than this build knows are reported and the file is left
//! byte for byte as it was. Only then is it opened for writing, put in WAL mode and migrated.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::error::OnrampError;

/// Schema steps: `MIGRATIONS[n]` takes a database from `user_version` n to n + 1, in one
/// transaction. Append only; never edit a step that has shipped.
pub const MIGRATIONS: &[&str] = &[
    // 1: what settings.json held. Integrations keep their non-column fields as JSON (camelCase,
    // as `store::Integration` serializes them, without id, createdAt, updatedAt and history).
    "CREATE TABLE integrations (
        id TEXT PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        record TEXT NOT NULL
    ) STRICT;
    CREATE TABLE custom_providers (
        id TEXT PRIMARY KEY NOT NULL,
        record TEXT NOT NULL
    ) STRICT;
    CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        entry TEXT NOT NULL
    ) STRICT;
    CREATE INDEX history_by_integration ON history(integration_id, id);
    CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;",
    // 2: the client secret's revision (`Integration::client_secret_revision`), bumped by every
    // writer of the secret so that a copy in memory is known stale. Existing rows start at 0. An
    // older Onramp, which would change the secret without bumping it, refuses this file as newer.
    "ALTER TABLE integrations ADD COLUMN secret_revision INTEGER NOT NULL DEFAULT 0;",
];

/// The schema version this build writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// How long a statement waits for another connection's (or process's) write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Opens `path` for reading and writing, creating it (and its folder) when missing. Any problem
/// comes back as words for the user; the file is then left untouched.
pub(super) fn open_file(path: &Path) -> Result<Connection, OnrampError> {
    let problem = |p: String| OnrampError::Settings {
        path: path.display().to_string(),
        problem: p,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| {
            problem(format!(
                "its folder cannot be created ({e}). Onramp runs without saving until it can."
            ))
        })?;
    }
    let existed = examine_existing(path).map_err(problem)?;
    let mut conn = Connection::open(path).map_err(|e| {
        problem(format!(
            "cannot be opened ({e}). Onramp runs without saving until it can."
        ))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| problem(e.to_string()))?;
    if existed == Examined::NeedsWriter {
        // The read-only look was not possible (a crashed writer left a journal to roll back):
        // the same checks on this connection, still before anything is written.
        check(&conn).map_err(problem)?;
    }
    let mode = switch_to_wal(&conn)
        .map_err(|e| problem(format!("cannot be switched to WAL mode ({e}).")))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!("{}: journal mode is {mode}, not WAL", path.display());
    } else {
        // Under WAL, NORMAL syncs at checkpoints instead of at every commit: a commit survives
        // Onramp crashing or being killed, and the file is never corrupted; only a power loss or an OS
        // crash may undo the last commits (a connection, a history line: never a secret, which the
        // keychain keeps). It spares an fsync per write (≈1 ms on a busy disk; docs/benchmark-engine.md).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| problem(format!("cannot set its synchronous mode ({e}).")))?;
    }
    prepare(&mut conn).map_err(problem)?;
    Ok(conn)
}

/// Puts the file in WAL mode. SQLite answers "database is locked" at once, without calling the busy
/// handler, when two connections try to upgrade their locks together (it would deadlock otherwise):
/// several Onramps opening a new file at the same moment meet exactly that. So a busy answer is
/// tried again for up to [`BUSY_TIMEOUT`], as every other statement waits.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// A fresh in-memory database with the current schema.
pub(super) fn open_in_memory() -> Result<Connection, OnrampError> {
    let mut conn =
        Connection::open_in_memory().map_err(|e| OnrampError::Internal(e.to_string()))?;
    prepare(&mut conn).map_err(OnrampError::Internal)?;
    Ok(conn)
}

/// Per-connection settings, then the missing schema steps.
fn prepare(conn: &mut Connection) -> Result<(), String> {
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| e.to_string())?;
    migrate(conn)
}

/// Applies the missing steps, each in its own `BEGIN IMMEDIATE` transaction that reads the version
/// again: two Onramps starting at once apply every step exactly once.
fn migrate(conn: &mut Connection) -> Result<(), String> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| format!("cannot be written ({e})."))?;
        let version = user_version(&tx).map_err(|e| e.to_string())?;
        if version > schema_version() {
            return Err(newer(version));
        }
        if version == schema_version() {
            return Ok(());
        }
        let step = MIGRATIONS[version as usize];
        tx.execute_batch(step)
            .and_then(|()| tx.pragma_update(None, "user_version", version + 1))
            .and_then(|()| tx.commit())
            .map_err(|e| format!("could not be upgraded to schema {} ({e}).", version + 1))?;
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Examined {
    /// No file, or an empty one: SQLite starts a new database in it.
    Fresh,
    /// Looked at read-only: an SQLite file that passes the checks.
    Checked,
    /// An SQLite file whose read-only look needs a writer first (a journal to roll back).
    NeedsWriter,
}

/// Looks at an existing file without writing to it.
fn examine_existing(path: &Path) -> Result<Examined, String> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Examined::Fresh),
        Err(e) => {
            return Err(format!(
                "cannot be read ({e}). Onramp runs without saving until it can."
            ))
        }
    };
    if meta.is_dir() {
        return Err(
            "is a folder, not a database. Onramp runs without saving; move the folder away to start afresh."
                .into(),
        );
    }
    if meta.len() == 0 {
        return Ok(Examined::Fresh);
    }
    let mut header = [0u8; 16];
    let read = fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    if read.is_err() || &header != SQLITE_HEADER {
        return Err(not_a_database("its first bytes are not the SQLite header"));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let probe = Connection::open_with_flags(path, flags).and_then(|c| {
        c.busy_timeout(BUSY_TIMEOUT)?;
        Ok(c)
    });
    let probe = match probe {
        Ok(c) => c,
        Err(e) => return Err(format!("cannot be opened ({e}). It was left untouched.")),
    };
    match user_version(&probe) {
        // A crashed writer left a journal that only a writer may roll back.
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::ReadOnly) => Ok(Examined::NeedsWriter),
        _ => check(&probe).map(|()| Examined::Checked),
    }
}

/// The schema version and `quick_check`, as words for the user when something is wrong.
fn check(conn: &Connection) -> Result<(), String> {
    let version = user_version(conn).map_err(|e| unreadable(&e))?;
    if version > schema_version() {
        return Err(newer(version));
    }
    let mut findings: Vec<String> = Vec::new();
    conn.pragma_query(None, "quick_check", |row| {
        findings.push(row.get::<_, String>(0)?.replace('\n', " "));
        Ok(())
    })
    .map_err(|e| unreadable(&e))?;
    if findings.iter().any(|f| f != "ok") {
        let first: Vec<_> = findings.into_iter().take(3).collect();
        return Err(format!(
            "is damaged (SQLite's quick_check found: {}). It was left untouched; Onramp runs without saving. Move the file away to start afresh (keep it if you want to try recovering it).",
            first.join("; ")
        ));
    }
    Ok(())
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn unreadable(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => not_a_database(&e.to_string()),
        Some(ErrorCode::DatabaseCorrupt) => format!(
            "is damaged ({e}). It was left untouched; Onramp runs without saving. Move the file away to start afresh."
        ),
        _ => format!("cannot be read ({e}). It was left untouched; Onramp runs without saving."),
    }
}

fn not_a_database(why: &str) -> String {
    format!(
        "is not an SQLite database ({why}). It was left untouched; Onramp runs without saving. Move the file away to start afresh."
    )
}

fn newer(version: i64) -> String {
    format!(
        "written by a newer Onramp (schema {version}, this one knows {}); it was left untouched and Onramp runs without saving. Update Onramp, or move the file away to start afresh.",
        schema_version()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn problem_text(e: &OnrampError) -> String {
        e.to_ui().detail
    }

    /// Writes through the store that came back, then checks the file kept its bytes.
    fn assert_untouched_after_writes(path: &Path, before: &[u8], opened: crate::store::Opened) {
        assert!(!opened.writable);
        assert_eq!(opened.store.path(), None, "an in-memory stand-in");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = opened.store;
            store
                .set_last_integration_id(Some("x".into()))
                .await
                .unwrap();
            store
                .insert_integration(crate::store::tests::integration("i1", 1))
                .await
                .unwrap();
            store
                .append_history("i1", crate::store::tests::entry(5), 10)
                .await
                .unwrap();
            assert_eq!(store.history("i1").await.unwrap().len(), 1);
        });
        assert_eq!(fs::read(path).unwrap(), before, "the file was modified");
    }

    #[test]
    fn garbage_is_reported_and_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onramp.db");
        let garbage: Vec<u8> = (0..4096u32).map(|n| (n * 7 % 251) as u8).collect();
        fs::write(&path, &garbage).unwrap();
        let opened = Store::open(&path, None);
        let problem = problem_text(opened.problem.as_ref().expect("a problem"));
        assert!(problem.contains("not an SQLite database"), "{problem}");
        assert!(problem.contains("left untouched"), "{problem}");
        assert_untouched_after_writes(&path, &garbage, opened);
    }

    #[test]
    fn a_newer_schema_is_reported_and_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onramp.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE future (x TEXT); PRAGMA user_version = 99;")
                .unwrap();
        }
        let before = fs::read(&path).unwrap();
        let opened = Store::open(&path, None);
        let problem = problem_text(opened.problem.as_ref().expect("a problem"));
        assert!(
            problem.contains("newer Onramp (schema 99, this one knows 2)"),
            "{problem}"
        );
        assert_untouched_after_writes(&path, &before, opened);
    }

    #[test]
    fn damaged_pages_fail_the_check_and_are_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onramp.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "PRAGMA page_size = 4096; CREATE TABLE t (x TEXT); CREATE INDEX tx ON t(x);",
            )
            .unwrap();
            for n in 0..500 {
                c.execute(
                    "INSERT INTO t VALUES (?1)",
                    [format!("row {n} {}", "x".repeat(50))],
                )
                .unwrap();
            }
        }
        let mut bytes = fs::read(&path).unwrap();
        assert!(bytes.len() > 4 * 4096);
        for b in &mut bytes[2 * 4096..3 * 4096] {
            *b = 0x5a;
        }
        fs::write(&path, &bytes).unwrap();
        let opened = Store::open(&path, None);
        let problem = problem_text(opened.problem.as_ref().expect("a problem"));
        assert!(problem.contains("damaged"), "{problem}");
        assert_untouched_after_writes(&path, &bytes, opened);
    }

    #[test]
    fn a_fresh_file_gets_wal_and_the_current_schema_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/folder/onramp.db");
        let opened = Store::open(&path, None);
        assert!(opened.problem.is_none());
        assert!(opened.writable);
        drop(opened);
        let c = Connection::open(&path).unwrap();
        let mode: String = c
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(user_version(&c).unwrap(), schema_version());
        drop(c);
        // A closed WAL database passes the read-only look and opens again.
        let again = Store::open(&path, None);
        assert!(again.problem.is_none(), "{:?}", again.problem);
        assert!(again.writable);
    }

    /// WAL with `synchronous = NORMAL`: no fsync per commit (see `open_file`).
    #[test]
    fn a_file_store_syncs_at_checkpoints_not_at_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_file(&dir.path().join("onramp.db")).unwrap();
        let synchronous: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
    }

    #[test]
    fn onramps_starting_at_once_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onramp.db");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let opened = Store::open(&path, None);
                    assert!(opened.problem.is_none(), "{:?}", opened.problem);
                    assert!(opened.writable);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let c = Connection::open(&path).unwrap();
        assert_eq!(user_version(&c).unwrap(), schema_version());
    }

    #[test]
    fn a_folder_in_place_of_the_file_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onramp.db");
        fs::create_dir(&path).unwrap();
        let opened = Store::open(&path, None);
        assert!(problem_text(&opened.problem.unwrap()).contains("is a folder"));
        assert!(!opened.writable);
    }
}

//! The local database: `stagehand.db` in the data dir (SQLite through rusqlite, WAL,
//! `synchronous=FULL`), opened by the one process that holds the data-dir lock.
//!
//! A change is one transaction: committed means durable (WAL mode with `synchronous=FULL` syncs the
//! log on every commit), and a failed commit leaves nothing of it behind, so a group of scans is
//! acknowledged all together or not at all. The tables are described in `docs/store.md` and made by
//! [`super::schema`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::lock::DataDirLock;
use super::queue::{EntryState, Queue, QueueEntry, QueueEvent, apply};
use super::{StoreError, legacy, schema, sync_dir};
use crate::serial::SerialKey;

pub const DB_FILE: &str = "stagehand.db";

/// What opening the store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub file: PathBuf,
    /// Queued entries.
    pub entries: usize,
    /// The database did not exist and was created.
    pub created: bool,
    /// Files of an older stagehand imported on this open (each kept as `<name>.migrated`).
    pub imported: Vec<String>,
    /// Something the bench should be told (an imported journal's torn last record was dropped).
    pub notice: Option<String>,
}

impl std::fmt::Display for OpenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} queued entries",
            self.file.display(),
            self.entries
        )?;
        if !self.imported.is_empty() {
            write!(f, "; imported {}", self.imported.join(", "))?;
        }
        if let Some(n) = &self.notice {
            write!(f, "; {n}")?;
        }
        Ok(())
    }
}

/// The open database. Owns the data-dir lock for as long as it lives.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    dir: PathBuf,
    /// Successful queue commits since open.
    commits: u64,
    /// Commits since the last WAL checkpoint.
    unchecked: u64,
    _lock: DataDirLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store {{ {} }}", self.path.display())
    }
}

/// Opens `dir/stagehand.db` with the settings every connection uses.
fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::db(path, "open the database", e))?;
    // Another reader (`review --json`, the sqlite3 shell) may hold the database briefly.
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| StoreError::db(path, "set the busy timeout", e))?;
    Ok(conn)
}

impl Store {
    /// Locks `dir`, opens (or creates) the database, brings its schema up to date, imports the
    /// files an older stagehand kept (`queue.journal`, `review-rejections.jsonl`, each then renamed
    /// to `.migrated`) and returns the queue.
    pub fn open(dir: &Path) -> Result<(Store, Queue, OpenReport), StoreError> {
        let lock = DataDirLock::acquire(dir)?;
        let path = dir.join(DB_FILE);
        let created = !path.exists();
        // Private to this user (0600): SQLite gives the -wal and -shm files the database's mode.
        let file = crate::private::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, "create the database", e))?;
        crate::private::tighten(&file)
            .map_err(|e| StoreError::io(&path, "make the database private", e))?;
        drop(file);
        let mut conn = connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| StoreError::db(&path, "switch to WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::db(
                &path,
                "switch to WAL",
                rusqlite::Error::InvalidParameterName(format!(
                    "the file system kept journal mode {mode} (WAL needs shared memory)"
                )),
            ));
        }
        // Checkpoints run when the store thread is idle (`checkpoint_when_idle`), not inside a
        // commit that a scan is waiting for; closing the last connection checkpoints too.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )
        .map_err(|e| StoreError::db(&path, "set synchronous=FULL", e))?;
        schema::migrate(&mut conn).map_err(|source| StoreError::Schema {
            file: path.clone(),
            source,
        })?;
        if created {
            sync_dir(dir)?;
        }
        let mut store = Store {
            conn,
            path: path.clone(),
            dir: dir.to_path_buf(),
            commits: 0,
            unchecked: 0,
            _lock: lock,
        };
        let (imported, notice) = legacy::import(&mut store)?;
        let queue = store.queue()?;
        let report = OpenReport {
            file: path,
            entries: queue.len(),
            created,
            imported,
            notice,
        };
        Ok((store, queue, report))
    }

    /// Applies `events` as one transaction. On `Ok` every event is durable; on `Err` none is (the
    /// transaction rolled back), and nothing of the group may be shown as saved.
    pub fn append(&mut self, events: &[QueueEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.write("save the queue", |tx| {
            for ev in events {
                apply_sql(tx, ev)?;
            }
            Ok(())
        })?;
        self.commits += 1;
        Ok(())
    }

    /// Runs `f` in one transaction and commits it (durable on `Ok`, rolled back on `Err`).
    /// `action` names the change in the error.
    pub fn write<T>(
        &mut self,
        action: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::db(path, action, e))?;
        let out = f(&tx).map_err(|e| StoreError::db(path, action, e))?;
        tx.commit().map_err(|e| StoreError::db(path, action, e))?;
        self.unchecked += 1;
        if self.unchecked >= Self::CHECKPOINT_FORCED {
            // Never idle for this long: keep the WAL bounded anyway.
            self.checkpoint();
        }
        Ok(out)
    }

    /// Commits after which an idle store checkpoints the WAL into the database.
    const CHECKPOINT_IDLE: u64 = 64;
    /// Commits after which the WAL is checkpointed even while work is waiting.
    const CHECKPOINT_FORCED: u64 = 8192;

    /// Copies the WAL into the database file when enough was committed since the last time. The
    /// store thread calls it when nothing is waiting, so no acknowledgement waits for it.
    pub fn checkpoint_when_idle(&mut self) {
        if self.unchecked >= Self::CHECKPOINT_IDLE {
            self.checkpoint();
        }
    }

    fn checkpoint(&mut self) {
        self.unchecked = 0;
        // PASSIVE never waits for readers; what it cannot copy now is copied next time. A failure
        // loses nothing: the committed frames stay in the WAL.
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::warn!(file = %self.path.display(), error = %e, "WAL checkpoint failed");
        }
    }

    /// The connection, for reads (and for tests that need SQLite's own knobs).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The queue as committed, in scan order.
    pub fn queue(&self) -> Result<Queue, StoreError> {
        load_queue(&self.conn, &self.path)
    }

    /// Successful queue commits since open: each is one transaction however many events it held.
    pub fn group_commits(&self) -> u64 {
        self.commits
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Opens the database for reading only, without the data-dir lock (WAL lets a reader in beside
/// the writer). `None` when there is no database yet.
pub fn open_read_only(dir: &Path) -> Result<Option<Connection>, StoreError> {
    let path = dir.join(DB_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let conn = connect(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::db(&path, "read the schema version", e))?;
    if version > schema::latest() {
        return Err(StoreError::Schema {
            file: path,
            source: schema::MigrateError::Newer {
                found: version,
                known: schema::latest(),
            },
        });
    }
    if version == 0 {
        // Created this instant by a starting console: nothing in it yet.
        return Ok(None);
    }
    Ok(Some(conn))
}

/// The queue as committed, read without the data-dir lock (beside a running console). `None`
/// when there is no database yet.
pub fn read_queue(dir: &Path) -> Result<Option<Queue>, StoreError> {
    match open_read_only(dir)? {
        Some(conn) => load_queue(&conn, &dir.join(DB_FILE)).map(Some),
        None => Ok(None),
    }
}

/// Text for a serde enum (its serde name): how enums are stored.
pub(crate) fn enum_text<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => unreachable!("stored enums serialize to strings, got {other:?}"),
    }
}

pub(crate) fn enum_from<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown value {s:?}"))
}

/// Timestamps are stored as RFC 3339 UTC text (`…Z`), exact to the nanosecond.
pub(crate) fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub(crate) fn time_from(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("not a time ({e}): {s:?}"))
}

/// One event as SQL: the same meaning as [`apply`] has on a [`Queue`].
pub(crate) fn apply_sql(tx: &Transaction<'_>, ev: &QueueEvent) -> rusqlite::Result<()> {
    match ev {
        QueueEvent::Added(e) => {
            let mut st = tx.prepare_cached(
                "INSERT INTO queue (serial_key, serial, manufacturer, model, profile, platform,
                     identifier_type, scanned_at, bench, state, message, note, imported_id, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (serial_key) DO UPDATE SET
                     serial = excluded.serial, manufacturer = excluded.manufacturer,
                     model = excluded.model, profile = excluded.profile,
                     platform = excluded.platform, identifier_type = excluded.identifier_type,
                     scanned_at = excluded.scanned_at, bench = excluded.bench,
                     state = excluded.state, message = excluded.message, note = excluded.note,
                     imported_id = excluded.imported_id, attempts = excluded.attempts",
            )?;
            st.execute(params![
                SerialKey::new(&e.serial),
                e.serial,
                e.manufacturer,
                e.model,
                e.profile,
                enum_text(&e.platform),
                enum_text(&e.identifier_type),
                time_text(&e.scanned_at),
                e.bench,
                enum_text(&e.state),
                e.message,
                e.note,
                e.imported_id,
                e.attempts,
            ])?;
        }
        QueueEvent::State {
            serial,
            state,
            message,
        } => {
            let attempt = i64::from(*state == EntryState::Uploading);
            tx.prepare_cached(
                "UPDATE queue SET state = ?2, message = ?3,
                     attempts = MIN(attempts + ?4, 4294967295) WHERE serial_key = ?1",
            )?
            .execute(params![
                SerialKey::new(serial),
                enum_text(state),
                message,
                attempt
            ])?;
        }
        QueueEvent::Imported {
            serial,
            imported_id,
        } => {
            tx.prepare_cached("UPDATE queue SET imported_id = ?2 WHERE serial_key = ?1")?
                .execute(params![SerialKey::new(serial), imported_id])?;
        }
        QueueEvent::Edited {
            serials,
            manufacturer,
            model,
            profile,
        } => {
            let mut st = tx.prepare_cached(
                "UPDATE queue SET manufacturer = COALESCE(?2, manufacturer),
                     model = COALESCE(?3, model), profile = COALESCE(?4, profile)
                 WHERE serial_key = ?1",
            )?;
            for s in serials {
                st.execute(params![SerialKey::new(s), manufacturer, model, profile])?;
            }
        }
        QueueEvent::Removed { serial } => {
            tx.prepare_cached("DELETE FROM queue WHERE serial_key = ?1")?
                .execute(params![SerialKey::new(serial)])?;
            // A hash queued for Autopilot leaves with its queue entry.
            tx.prepare_cached("DELETE FROM autopilot_registrations WHERE serial_key = ?1")?
                .execute(params![SerialKey::new(serial)])?;
        }
        QueueEvent::Note { serial, note } => {
            tx.prepare_cached("UPDATE queue SET note = ?2 WHERE serial_key = ?1")?
                .execute(params![SerialKey::new(serial), note])?;
        }
        QueueEvent::MarkedFailed { serial, reason } => {
            tx.prepare_cached("UPDATE queue SET state = ?2, note = ?3 WHERE serial_key = ?1")?
                .execute(params![
                    SerialKey::new(serial),
                    enum_text(&EntryState::Failed),
                    reason
                ])?;
        }
    }
    Ok(())
}

/// Reads the queue table in scan order. A row this version cannot read is an error naming the
/// file, the row and the column.
pub(crate) fn load_queue(conn: &Connection, path: &Path) -> Result<Queue, StoreError> {
    let read = |e| StoreError::db(path, "read the queue", e);
    let mut st = conn
        .prepare(
            "SELECT position, serial, manufacturer, model, profile, platform, identifier_type,
                    scanned_at, bench, state, message, note, imported_id, attempts
             FROM queue ORDER BY position",
        )
        .map_err(read)?;
    let mut rows = st.query([]).map_err(read)?;
    let mut queue = Queue::new();
    while let Some(r) = rows.next().map_err(read)? {
        let position: i64 = r.get(0).map_err(read)?;
        let bad = |column: &str, reason: String| StoreError::BadRow {
            file: path.to_path_buf(),
            table: "queue",
            row: position,
            reason: format!("column {column}: {reason}"),
        };
        let text = |i: usize| -> Result<String, StoreError> { r.get(i).map_err(read) };
        let entry = QueueEntry {
            serial: text(1)?,
            manufacturer: text(2)?,
            model: text(3)?,
            profile: text(4)?,
            platform: enum_from(&text(5)?).map_err(|e| bad("platform", e))?,
            identifier_type: enum_from(&text(6)?).map_err(|e| bad("identifier_type", e))?,
            scanned_at: time_from(&text(7)?).map_err(|e| bad("scanned_at", e))?,
            bench: text(8)?,
            state: enum_from(&text(9)?).map_err(|e| bad("state", e))?,
            message: r.get(10).map_err(read)?,
            note: r.get(11).map_err(read)?,
            imported_id: r.get(12).map_err(read)?,
            attempts: r
                .get::<_, i64>(13)
                .map_err(read)?
                .clamp(0, i64::from(u32::MAX)) as u32,
        };
        apply(&mut queue, &QueueEvent::Added(entry));
    }
    Ok(queue)
}

/// Whether a one-time import already committed (its marker is in `keyed_state`).
pub(crate) fn marker(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM keyed_state WHERE kind = 'migrated_file' AND key = ?1",
        [key],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;

//! The durable core: one SQLite database (`stagehand.db`: the intake queue, review rejections,
//! the stage timeline, keyed state for later features), the append-only audit log
//! (`audit.jsonl`), the data-dir lock and the store thread that is the one writer of both.
//!
//! Everything here is plain blocking IO; the UI reaches it only through [`task::spawn_to`], which
//! runs the IO on a dedicated thread and answers with acknowledgements, so drawing never waits on
//! disk. Durability rules: a change is acknowledged only after its transaction committed (WAL with
//! `synchronous=FULL` syncs on every commit) or its audit line was fsync'd; the directory is
//! fsync'd after a create or rename (Unix); a failed fsync is never retried and trusted. The tables
//! are documented in `docs/store.md`.

pub(crate) mod audit;
pub mod db;
pub mod legacy;
pub(crate) mod lock;
pub(crate) mod queue;
pub(crate) mod rejections;
pub(crate) mod schema;
pub(crate) mod state;
pub(crate) mod task;
pub mod timeline;

use std::io;
use std::path::{Path, PathBuf};

pub use audit::{Actor, AuditLog, AuditPhase, AuditRead, AuditRecord, AuditSink};
pub use db::{DB_FILE, OpenReport, Store};
pub use lock::DataDirLock;
pub use queue::{EntryState, Queue, QueueEntry, QueueEvent};
pub use task::{
    AckSink, StoreAck, StoreClient, StoreClosed, StoreHandle, open_headless, spawn, spawn_to,
    spawn_with_audit,
};

/// A store failure, always naming the file (and the line, where one is involved).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{}: another stagehand (pid {}) holds this data dir; close it or use another --data-dir",
        dir.display(),
        pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
    )]
    Locked { dir: PathBuf, pid: Option<u32> },
    #[error("{}: {action}: {source}", file.display())]
    Io {
        file: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: {action}: {source}", file.display())]
    Db {
        file: PathBuf,
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: {source}", file.display())]
    Schema {
        file: PathBuf,
        #[source]
        source: schema::MigrateError,
    },
    #[error("{}: table {table}, row {row}: {reason}; repair the row with the sqlite3 shell or move the database aside", file.display())]
    BadRow {
        file: PathBuf,
        table: &'static str,
        row: i64,
        reason: String,
    },
    #[error(
        "{}:{line}: damaged record in the middle of the file ({reason}); good records follow it, \
         so it is not a torn write: stagehand will not guess and imports nothing. Repair that line, \
         or move the file aside to start without it",
        file.display()
    )]
    Corrupt {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{}:{line}: record passes its checksum but is not a queue event this version understands: {reason}", file.display())]
    Unknown {
        file: PathBuf,
        line: usize,
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn io(file: &Path, action: &'static str, source: io::Error) -> Self {
        Self::Io {
            file: file.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn db(file: &Path, action: &'static str, source: rusqlite::Error) -> Self {
        Self::Db {
            file: file.to_path_buf(),
            action,
            source,
        }
    }
}

/// Makes a create or rename inside `dir` durable. On Unix this fsyncs the directory; on Windows there
/// is no directory handle to flush (NTFS journals the metadata), so it is a documented no-op.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        let d = std::fs::File::open(dir)
            .map_err(|e| StoreError::io(dir, "open the directory for fsync", e))?;
        d.sync_all()
            .map_err(|e| StoreError::io(dir, "fsync the directory", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

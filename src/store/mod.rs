//! The durable core: the intake queue journal, the audit log, the data-dir lock and the store task.
//!
//! Everything here is plain blocking file IO; the UI reaches it only through [`task::spawn`], which
//! runs the IO on a dedicated thread and answers with acknowledgements, so drawing never waits on disk.
//! Durability rules (docs/durability.md): fsync the file before acknowledging, fsync the directory
//! after a create or rename (Unix), and never retry a failed fsync and trust it.

pub mod audit;
pub mod crc32;
pub mod journal;
pub mod lock;
pub mod queue;
pub mod record;
mod replay;
pub mod task;

use std::io;
use std::path::{Path, PathBuf};

pub use audit::{AuditLog, AuditPhase, AuditRead, AuditRecord};
pub use journal::{Journal, OpenReport, TornTail};
pub use lock::DataDirLock;
pub use queue::{EntryState, Queue, QueueEntry, QueueEvent};
pub use task::{StoreAck, StoreClosed, StoreHandle, spawn, spawn_with_audit};

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
    #[error(
        "{}:{line}: damaged record in the middle of the journal ({reason}); good records follow it, \
         so it is not a torn write: stagehand will not guess. Move the file aside to start a new queue, \
         or repair that line",
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
    #[error(
        "{}: an earlier write or fsync failed, so the file's state is unknown; rewriting it from memory also failed: {reason}",
        file.display()
    )]
    Poisoned { file: PathBuf, reason: String },
}

impl StoreError {
    pub(crate) fn io(file: &Path, action: &'static str, source: io::Error) -> Self {
        Self::Io {
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

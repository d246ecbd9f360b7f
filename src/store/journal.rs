//! The crash-safe intake queue journal: `queue.journal` in the data dir, one record per line
//! (format in [`super::record`]), appended in groups with one fsync per group.
//!
//! Recovery rules on open:
//! * bad records at the **end** of the file (after the last good record) are a torn write: the group
//!   they belonged to was never acknowledged, so they are dropped, the file is truncated to the last
//!   good record and the drop is reported in [`OpenReport::torn`];
//! * a bad record **followed by good records** cannot come from an interrupted append (appends only
//!   ever touch the end), so it is media damage or a hand edit: open fails with
//!   [`StoreError::Corrupt`] naming the line and leaves the file untouched. Skipping the record could
//!   silently lose an acknowledged scan, and quarantining would start the bench on a queue that is
//!   known to be wrong; the technician decides instead.
//! * an intact record (CRC good) that is not a known event fails with [`StoreError::Unknown`]
//!   wherever it is (a newer stagehand wrote it).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::lock::DataDirLock;
use super::queue::{Queue, QueueEvent, apply};
use super::record::encode_into;
use super::replay::replay;
use super::{StoreError, sync_dir};

pub const JOURNAL_FILE: &str = "queue.journal";
pub const JOURNAL_TMP: &str = "queue.journal.tmp";

/// When to rewrite the journal as one `Added` record per live entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Never compact a file with fewer records than this.
    pub min_records: u64,
    /// Compact when records exceed this many times the live entries.
    pub ratio: u64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        Self {
            min_records: 4096,
            ratio: 4,
        }
    }
}

/// A torn tail dropped on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// 1-based line of the first dropped record.
    pub line: usize,
    /// Byte offset the file was truncated to.
    pub offset: u64,
    /// Bytes dropped.
    pub bytes: u64,
    pub reason: String,
}

/// What opening the journal found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub file: PathBuf,
    /// Good records replayed.
    pub records: u64,
    /// Live entries after replay.
    pub entries: usize,
    /// The file did not exist and was created.
    pub created: bool,
    pub torn: Option<TornTail>,
}

impl std::fmt::Display for OpenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} records, {} queued entries",
            self.file.display(),
            self.records,
            self.entries
        )?;
        if let Some(t) = &self.torn {
            write!(
                f,
                "; dropped a torn last record at line {} ({} bytes, {}): it was never acknowledged",
                t.line, t.bytes, t.reason
            )?;
        }
        Ok(())
    }
}

/// The open journal. Owns the data-dir lock for as long as it lives.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    /// `None` after a failed rewrite closed it; the next append rewrites from memory.
    file: Option<File>,
    /// The durable queue (what replaying the file gives).
    queue: Queue,
    records: u64,
    /// Successful appends (each one write + one fsync) since open.
    group_commits: u64,
    policy: CompactionPolicy,
    /// A write or fsync failed: the file's tail is unknown, so rewrite from memory before appending.
    damaged: bool,
    _lock: DataDirLock,
}

impl Journal {
    /// Locks `dir`, replays `queue.journal` (creating it if missing) and opens it for appending.
    pub fn open(dir: &Path) -> Result<(Journal, Queue, OpenReport), StoreError> {
        let lock = DataDirLock::acquire(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let tmp = dir.join(JOURNAL_TMP);
        // A leftover temp file is a compaction that never reached its rename: the journal is whole.
        match fs::remove_file(&tmp) {
            Ok(()) => sync_dir(dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&tmp, "remove the stale compaction file", e)),
        }
        let created = !path.exists();
        let (queue, records, torn) = if created {
            (Queue::new(), 0, None)
        } else {
            replay(&path)?
        };
        if let Some(t) = &torn {
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| StoreError::io(&path, "open to drop the torn record", e))?;
            f.set_len(t.offset)
                .and_then(|()| f.sync_all())
                .map_err(|e| StoreError::io(&path, "truncate the torn record", e))?;
            tracing::warn!(file = %path.display(), line = t.line, bytes = t.bytes, reason = %t.reason,
                "dropped a torn last journal record");
        }
        let file = open_append(&path)?;
        if created {
            sync_dir(dir)?;
        }
        let report = OpenReport {
            file: path.clone(),
            records,
            entries: queue.len(),
            created,
            torn,
        };
        let journal = Journal {
            dir: dir.to_path_buf(),
            path,
            file: Some(file),
            queue: queue.clone(),
            records,
            group_commits: 0,
            policy: CompactionPolicy::default(),
            damaged: false,
            _lock: lock,
        };
        Ok((journal, queue, report))
    }

    /// Appends all `events`, then fsyncs once. On `Ok` every event is durable; on `Err` none is
    /// acknowledged and the journal rewrites itself from memory before the next append (a failed
    /// fsync is never retried and trusted).
    pub fn append(&mut self, events: &[QueueEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        if self.damaged || self.file.is_none() {
            self.rewrite().map_err(|e| StoreError::Poisoned {
                file: self.path.clone(),
                reason: e.to_string(),
            })?;
        }
        let mut buf = Vec::with_capacity(events.len() * 320);
        for ev in events {
            encode_into(&mut buf, ev).map_err(|e| {
                StoreError::io(&self.path, "encode a record", std::io::Error::other(e))
            })?;
        }
        let Some(file) = self.file.as_mut() else {
            unreachable!("rewrite leaves the file open")
        };
        if let Err(e) = file.write_all(&buf) {
            self.damaged = true;
            return Err(StoreError::io(&self.path, "append", e));
        }
        if let Err(e) = file.sync_data() {
            self.damaged = true;
            return Err(StoreError::io(&self.path, "fsync", e));
        }
        for ev in events {
            apply(&mut self.queue, ev);
        }
        self.records += events.len() as u64;
        self.group_commits += 1;
        Ok(())
    }

    /// True when the file holds many more records than live entries.
    pub fn compaction_due(&self) -> bool {
        let live = self.queue.len().max(1) as u64;
        self.records >= self.policy.min_records
            && self.records > live.saturating_mul(self.policy.ratio)
    }

    /// Rewrites the journal as one record per live entry: write `queue.journal.tmp`, fsync it,
    /// rename it over `queue.journal`, fsync the directory (Unix; a no-op on Windows).
    pub fn compact(&mut self) -> Result<(), StoreError> {
        self.rewrite()
    }

    pub fn set_compaction_policy(&mut self, policy: CompactionPolicy) {
        self.policy = policy;
    }

    /// The durable queue.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Records in the file.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Successful appends since open: each is one write and one fsync, however many events it held.
    pub fn group_commits(&self) -> u64 {
        self.group_commits
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rewrite(&mut self) -> Result<(), StoreError> {
        let tmp = self.dir.join(JOURNAL_TMP);
        let events = self.queue.snapshot_events();
        let mut buf = Vec::with_capacity(events.len() * 320);
        for ev in &events {
            encode_into(&mut buf, ev)
                .map_err(|e| StoreError::io(&tmp, "encode a record", std::io::Error::other(e)))?;
        }
        let write = || -> std::io::Result<()> {
            let mut f = crate::private::create_temp(&tmp)?;
            f.write_all(&buf)?;
            f.sync_all()
        };
        write().map_err(|e| StoreError::io(&tmp, "write and fsync the compacted journal", e))?;
        // Windows refuses to rename over a file with an open handle: close ours first.
        self.file = None;
        if let Err(e) = fs::rename(&tmp, &self.path) {
            self.file = open_append(&self.path).ok();
            return Err(StoreError::io(
                &self.path,
                "rename the compacted journal into place",
                e,
            ));
        }
        self.records = events.len() as u64;
        // From here the file on disk is the compacted one, whatever happens next.
        if let Err(e) = sync_dir(&self.dir) {
            self.damaged = true;
            return Err(e);
        }
        self.file = Some(open_append(&self.path)?);
        self.damaged = false;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File, StoreError> {
    crate::private::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::io(path, "open for appending", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::queue::tests::entry;

    fn added(serial: &str) -> QueueEvent {
        QueueEvent::Added(entry(serial))
    }

    /// What a failed write or fsync leaves: unknown bytes at the tail and the `damaged` flag (the
    /// flag is what `append` sets on any write or fsync error).
    fn fail_a_write(j: &mut Journal) {
        let mut f = OpenOptions::new().append(true).open(&j.path).unwrap();
        f.write_all(b"0badc0de 99 {\"added\":{\"ser").unwrap();
        j.damaged = true;
    }

    #[test]
    fn after_a_failed_write_the_next_append_rewrites_from_memory_first() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _, _) = Journal::open(dir.path()).unwrap();
        j.append(&[added("A1"), added("B2")]).unwrap();
        fail_a_write(&mut j);
        j.append(&[added("C3")]).unwrap();
        assert!(!j.damaged);
        let expected = j.queue().clone();
        drop(j);
        let (_j, q, report) = Journal::open(dir.path()).unwrap();
        assert!(
            report.torn.is_none(),
            "the unknown tail must be gone: {report}"
        );
        assert_eq!(q, expected);
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn when_the_rewrite_also_fails_append_is_refused_as_poisoned_until_it_can_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _, _) = Journal::open(dir.path()).unwrap();
        j.append(&[added("A1")]).unwrap();
        fail_a_write(&mut j);
        // A directory where the compaction file goes makes the rewrite fail for real.
        let tmp = dir.path().join(JOURNAL_TMP);
        fs::create_dir(&tmp).unwrap();
        let err = j.append(&[added("B2")]).unwrap_err();
        assert!(matches!(err, StoreError::Poisoned { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(JOURNAL_FILE) && msg.contains(JOURNAL_TMP),
            "{msg}"
        );
        assert!(!j.queue().contains("B2"));

        fs::remove_dir(&tmp).unwrap();
        j.append(&[added("B2")]).unwrap();
        drop(j);
        let (_j, q, report) = Journal::open(dir.path()).unwrap();
        assert!(report.torn.is_none());
        assert_eq!(q.entries().len(), 2);
    }

    #[test]
    fn a_failed_compaction_leaves_the_journal_whole_and_appendable() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _, _) = Journal::open(dir.path()).unwrap();
        j.append(&[added("A1"), added("B2")]).unwrap();
        let tmp = dir.path().join(JOURNAL_TMP);
        fs::create_dir(&tmp).unwrap();
        let err = j.compact().unwrap_err();
        assert!(err.to_string().contains(JOURNAL_TMP), "{err}");
        assert!(!j.damaged);
        j.append(&[added("C3")]).unwrap();
        fs::remove_dir(&tmp).unwrap();
        drop(j);
        let (_j, q, report) = Journal::open(dir.path()).unwrap();
        assert_eq!((report.records, q.len()), (3, 3));
    }

    #[test]
    fn compaction_is_due_only_past_both_thresholds() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _, _) = Journal::open(dir.path()).unwrap();
        j.set_compaction_policy(CompactionPolicy {
            min_records: 6,
            ratio: 2,
        });
        j.append(&[added("A1"), added("B2"), added("C3")]).unwrap();
        let churn = QueueEvent::Note {
            serial: "A1".into(),
            note: None,
        };
        j.append(&[churn.clone(), churn.clone(), churn.clone()])
            .unwrap();
        assert!(
            !j.compaction_due(),
            "6 records, 3 live: not more than twice"
        );
        j.append(&[churn]).unwrap();
        assert!(j.compaction_due());
    }
}

//! The audit log: `audit.jsonl` in the data dir, append-only JSON lines, fsync'd before `append`
//! returns. A destructive or ownership change writes a `Before` record, makes the Graph call, then
//! writes an `After` record with the result, so a crash in between leaves the `Before` behind.
//!
//! The file is never rewritten: a torn last line from a crash is sealed with a newline on the next
//! append and reported by [`AuditLog::read_all`] as damaged, never silently dropped. The data-dir lock
//! keeps a second stagehand from writing here, and inside one process only the store thread
//! writes it ([`super::task`]): everything else hands records over through an [`AuditSink`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{StoreError, sync_dir};

pub const AUDIT_FILE: &str = "audit.jsonl";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditPhase {
    /// Written before the change is sent.
    Before,
    /// Written once the outcome is known.
    After,
}

/// One audit line. Never put a token or other secret in any field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time: DateTime<Utc>,
    /// Who did it (user principal name or bench account).
    pub actor: String,
    /// What was done, e.g. `change_primary_user`, `delete_identifier`, `wipe`.
    pub action: String,
    pub phase: AuditPhase,
    pub device_id: Option<String>,
    pub serial: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The approver's verdict, when the change went through review.
    pub verdict: Option<String>,
    /// Action options (e.g. wipe's keep-enrollment flags); `null` when none.
    pub options: serde_json::Value,
    /// Outcome (`After` records): `ok`, or the error.
    pub result: Option<String>,
    /// The `client-request-id` sent to Graph.
    pub request_id: Option<String>,
}

impl AuditRecord {
    /// A `Before` record with no optional fields set.
    pub fn before(time: DateTime<Utc>, actor: &str, action: &str) -> Self {
        Self {
            time,
            actor: actor.into(),
            action: action.into(),
            phase: AuditPhase::Before,
            device_id: None,
            serial: None,
            from: None,
            to: None,
            verdict: None,
            options: serde_json::Value::Null,
            result: None,
            request_id: None,
        }
    }

    /// The matching `After` record: same fields, the new time and the outcome.
    pub fn after(&self, time: DateTime<Utc>, result: &str) -> Self {
        Self {
            time,
            phase: AuditPhase::After,
            result: Some(result.into()),
            ..self.clone()
        }
    }
}

/// Where code that acts hands its audit records: `record` resolves once the record is durable
/// (the store thread's [`super::StoreClient`] in the app). An `Err` means it is not, and the change
/// it announces must not be sent.
pub trait AuditSink: Send + Sync {
    fn record(&self, record: AuditRecord) -> futures::future::BoxFuture<'_, Result<(), String>>;
}

/// Who the audit records name: asked at the moment of each write, so after a switch of account
/// the next record names the account signed in now, never the one signed in when a task started.
#[derive(Clone)]
pub struct Actor(Arc<dyn Fn() -> Option<String> + Send + Sync>);

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Actor({:?})", self.now())
    }
}

impl Actor {
    /// Always the same name (the demo's fixed user, an app identity, a test).
    pub fn fixed(name: impl Into<String>) -> Self {
        let name = name.into();
        Self(Arc::new(move || Some(name.clone())))
    }

    /// Whoever `current` says is signed in at the moment of asking (`None`: nobody).
    pub fn live(current: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(current))
    }

    /// The account signed in now.
    pub fn now(&self) -> Option<String> {
        (self.0)()
    }

    /// The account signed in now, or the reason nothing may be sent.
    pub fn require(&self) -> Result<String, String> {
        self.now()
            .ok_or_else(|| "nobody is signed in: nothing sent".to_string())
    }
}

/// What [`AuditLog::read_all`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRead {
    pub records: Vec<AuditRecord>,
    /// Lines that are not records (1-based line, reason): torn by a crash or damaged.
    pub damaged: Vec<(usize, String)>,
}

#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    /// The file may end mid-line (a crash or a failed write): start the next record on a new line.
    needs_seal: bool,
}

impl AuditLog {
    /// Opens (or creates) `audit.jsonl` in `dir` for appending.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        crate::private::data_dir(dir).map_err(|e| StoreError::io(dir, "create the data dir", e))?;
        let path = dir.join(AUDIT_FILE);
        let created = !path.exists();
        let mut file = crate::private::options()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, "open", e))?;
        if created {
            sync_dir(dir)?;
        }
        let len = file
            .metadata()
            .map_err(|e| StoreError::io(&path, "stat", e))?
            .len();
        let mut needs_seal = false;
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(|e| StoreError::io(&path, "read the last byte", e))?;
            needs_seal = last[0] != b'\n';
        }
        Ok(Self {
            path,
            file,
            needs_seal,
        })
    }

    /// Writes one record as one line and fsyncs it. On `Err` the record must be treated as not
    /// written (the fsync is not retried); the caller should not proceed with the change.
    pub fn append(&mut self, record: &AuditRecord) -> Result<(), StoreError> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Writes each record as one line, then fsyncs once (the store task's group commit).
    pub fn append_all(&mut self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(512 * records.len());
        if self.needs_seal {
            buf.push(b'\n');
        }
        for record in records {
            serde_json::to_writer(&mut buf, record).map_err(|e| {
                StoreError::io(&self.path, "encode a record", std::io::Error::other(e))
            })?;
            buf.push(b'\n');
        }
        let written = self
            .file
            .write_all(&buf)
            .map_err(|e| StoreError::io(&self.path, "append", e))
            .and_then(|()| {
                self.file
                    .sync_data()
                    .map_err(|e| StoreError::io(&self.path, "fsync", e))
            });
        self.needs_seal = written.is_err();
        written
    }

    /// Every record in file order, plus the lines that are not records.
    pub fn read_all(&self) -> Result<AuditRead, StoreError> {
        let bytes = std::fs::read(&self.path).map_err(|e| StoreError::io(&self.path, "read", e))?;
        Ok(parse(&bytes))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn parse(bytes: &[u8]) -> AuditRead {
    let mut out = AuditRead {
        records: Vec::new(),
        damaged: Vec::new(),
    };
    let ends_clean = bytes.last().is_none_or(|&b| b == b'\n');
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        if i == last && !ends_clean {
            out.damaged
                .push((i + 1, "no end of line: the write stopped mid-record".into()));
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(r) => out.records.push(r),
            Err(e) => out.damaged.push((i + 1, e.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(serial: &str) -> AuditRecord {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let mut r = AuditRecord::before(t, "lead@contoso.com", "change_primary_user");
        r.serial = Some(serial.into());
        r.device_id = Some("dev-1".into());
        r.from = Some("staging@contoso.com".into());
        r.to = Some("ana@contoso.com".into());
        r.options = serde_json::json!({"keep_enrollment": true});
        r.request_id = Some("req-1".into());
        r
    }

    #[test]
    fn appends_one_line_per_record_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let before = record("A1");
        let after = before.after(before.time + chrono::Duration::seconds(2), "ok");
        {
            let mut log = AuditLog::open(dir.path()).unwrap();
            log.append(&before).unwrap();
        }
        let mut log = AuditLog::open(dir.path()).unwrap();
        log.append(&after).unwrap();
        let read = log.read_all().unwrap();
        assert_eq!(read.records, vec![before, after.clone()]);
        assert!(read.damaged.is_empty());
        assert_eq!(after.phase, AuditPhase::After);
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().next().unwrap().contains(r#""phase":"before""#));
    }

    #[test]
    fn a_torn_last_line_is_reported_then_sealed_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(dir.path()).unwrap();
        log.append(&record("A1")).unwrap();
        let path = log.path().to_path_buf();
        drop(log);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"time":"2026-11-22T10:00:00Z","act"#)
            .unwrap();
        drop(f);

        let mut log = AuditLog::open(dir.path()).unwrap();
        let read = log.read_all().unwrap();
        assert_eq!(read.records.len(), 1);
        assert_eq!(read.damaged.len(), 1);
        assert_eq!(read.damaged[0].0, 2);

        log.append(&record("B2")).unwrap();
        let read = log.read_all().unwrap();
        let serials: Vec<_> = read
            .records
            .iter()
            .map(|r| r.serial.clone().unwrap())
            .collect();
        assert_eq!(serials, ["A1", "B2"]);
        assert_eq!(read.damaged.len(), 1, "{:?}", read.damaged);
        assert_eq!(read.damaged[0].0, 2);
    }
}

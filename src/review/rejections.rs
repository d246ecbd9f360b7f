//! Rejections remembered across restarts: `review-rejections.jsonl` in the data dir, append-only
//! JSON lines, fsync'd before `append` returns (like the audit log).
//!
//! A line either rejects a device's proposal (`rejected`: device id, the fingerprint of the data the
//! verdict came from, who, when) or forgets an earlier rejection (`cleared`: the device's data changed
//! since). The last line per device wins. A rejection holds only while the device's current
//! fingerprint equals the recorded one, so a new sign-in or a new primary user brings the row back.
//! A torn last line (a crash mid-write) is ignored and sealed with a newline on the next append; a
//! damaged line with good lines after it is an error naming the file and line.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::sync_dir;

pub const REJECTIONS_FILE: &str = "review-rejections.jsonl";

/// One remembered rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The managed device id (the key).
    pub device_id: String,
    pub serial: String,
    /// [`crate::review::fingerprint`] of the assessment the lead rejected.
    pub fingerprint: String,
    /// The proposal that was rejected, for people reading the file.
    pub proposed_upn: Option<String>,
    /// Who rejected it (the signed-in account).
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RejectionLine {
    Rejected(Rejection),
    /// The device's data no longer matches `fingerprint`: the rejection no longer holds.
    Cleared {
        device_id: String,
        fingerprint: String,
        at: DateTime<Utc>,
    },
}

/// A rejections file that cannot be used, naming the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum RejectionError {
    #[error("{}: {action}: {source}", file.display())]
    Io {
        file: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}:{line}: not a rejection record ({reason}); good records follow it, so it is not a torn \
         write. Repair or delete that line (a deleted rejection is only proposed again)",
        file.display()
    )]
    Damaged {
        file: PathBuf,
        line: usize,
        reason: String,
    },
}

/// The rejections in force, by device id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejections {
    by_device: BTreeMap<String, Rejection>,
    /// Set when the last line was torn (1-based line number); it was ignored.
    pub torn_line: Option<usize>,
}

impl Rejections {
    /// The rejection of this device if it still holds for data with this fingerprint.
    pub fn matching(&self, device_id: &str, fingerprint: &str) -> Option<&Rejection> {
        self.by_device
            .get(device_id)
            .filter(|r| r.fingerprint == fingerprint)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rejection> {
        self.by_device.values()
    }

    pub fn len(&self) -> usize {
        self.by_device.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_device.is_empty()
    }

    fn apply(&mut self, line: RejectionLine) {
        match line {
            RejectionLine::Rejected(r) => {
                self.by_device.insert(r.device_id.clone(), r);
            }
            RejectionLine::Cleared {
                device_id,
                fingerprint,
                ..
            } => {
                if self
                    .by_device
                    .get(&device_id)
                    .is_some_and(|r| r.fingerprint == fingerprint)
                {
                    self.by_device.remove(&device_id);
                }
            }
        }
    }

    /// Reads the file's bytes: last line per device wins. An unterminated last line counts when it
    /// is a whole record and is reported in `torn_line` (and ignored) when it is not.
    fn parse(file: &Path, bytes: &[u8]) -> Result<Self, RejectionError> {
        let mut out = Self::default();
        let ends_clean = bytes.last().is_none_or(|&b| b == b'\n');
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<RejectionLine>(line) {
                Ok(l) => out.apply(l),
                Err(_) if i == last && !ends_clean => out.torn_line = Some(i + 1),
                Err(e) => {
                    return Err(RejectionError::Damaged {
                        file: file.into(),
                        line: i + 1,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Reads the rejections in `dir` without opening the file for writing (the headless commands).
/// A missing file means no rejections.
pub fn load(dir: &Path) -> Result<Rejections, RejectionError> {
    let path = dir.join(REJECTIONS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Rejections::parse(&path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Rejections::default()),
        Err(source) => Err(RejectionError::Io {
            file: path,
            action: "read",
            source,
        }),
    }
}

/// The rejections file opened for appending.
#[derive(Debug)]
pub struct RejectionLog {
    path: PathBuf,
    file: File,
    /// Bytes of whole lines (plus an unterminated whole record, sealed on the next append).
    len: u64,
    needs_seal: bool,
    loaded: Rejections,
}

impl RejectionLog {
    /// Opens (or creates) the file in `dir` and reads what it holds (see [`RejectionLog::loaded`]).
    /// A torn last line is cut off, so it can never turn into a damaged line in the middle.
    pub fn open(dir: &Path) -> Result<Self, RejectionError> {
        let path = dir.join(REJECTIONS_FILE);
        let io = |action, source| RejectionError::Io {
            file: path.clone(),
            action,
            source,
        };
        crate::private::data_dir(dir).map_err(|e| io("create the data dir", e))?;
        let created = !path.exists();
        let file = crate::private::options()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io("open", e))?;
        if created {
            sync_dir(dir).map_err(|e| io("fsync the data dir", std::io::Error::other(e)))?;
        }
        let bytes = std::fs::read(&path).map_err(|e| io("read", e))?;
        let loaded = Rejections::parse(&path, &bytes)?;
        let mut len = bytes.len() as u64;
        if loaded.torn_line.is_some() {
            len = bytes
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p as u64 + 1);
            cut(&path, len).map_err(|e| io("cut the torn last line", e))?;
        }
        Ok(Self {
            needs_seal: len > 0 && bytes[len as usize - 1] != b'\n',
            path,
            file,
            len,
            loaded,
        })
    }

    /// What the file holds: what it held when opened, plus every successful append.
    pub fn loaded(&self) -> &Rejections {
        &self.loaded
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the lines and fsyncs once. On `Err` treat them as not written (the fsync is not
    /// retried); what a failed write left behind is cut off when possible.
    pub fn append(&mut self, lines: &[RejectionLine]) -> Result<(), RejectionError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(256 * lines.len());
        if self.needs_seal {
            buf.push(b'\n');
        }
        for line in lines {
            serde_json::to_writer(&mut buf, line).map_err(|e| RejectionError::Io {
                file: self.path.clone(),
                action: "encode a record",
                source: std::io::Error::other(e),
            })?;
            buf.push(b'\n');
        }
        let io = |action, source| RejectionError::Io {
            file: self.path.clone(),
            action,
            source,
        };
        let written = self
            .file
            .write_all(&buf)
            .map_err(|e| io("append", e))
            .and_then(|()| self.file.sync_data().map_err(|e| io("fsync", e)));
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                self.needs_seal = false;
                for l in lines {
                    self.loaded.apply(l.clone());
                }
                Ok(())
            }
            Err(e) => {
                // Best effort: without the partial tail the next append starts clean.
                if cut(&self.path, self.len).is_err() {
                    self.needs_seal = true;
                }
                Err(e)
            }
        }
    }
}

/// Truncates the file to `len` and makes that durable. Through a handle of its own: an append-only
/// handle may not change the file's length (Windows).
fn cut(path: &Path, len: u64) -> std::io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_data()
}

#[cfg(test)]
#[path = "rejections_tests.rs"]
mod tests;

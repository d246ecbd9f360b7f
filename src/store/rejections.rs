//! Review rejections remembered across restarts: the `review_rejections` table, one row per
//! device a lead rejected, with the fingerprint of the data the verdict came from.
//!
//! A rejection holds only while the device's current fingerprint equals the recorded one, so a new
//! sign-in or a new primary user brings the row back (the console then clears it). Changes are
//! expressed as [`RejectionLine`]s (the vocabulary of the old `review-rejections.jsonl`, which is
//! imported once): `rejected` replaces the device's row, `cleared` deletes it if the fingerprint
//! still matches. `crate::review::rejections` is the API the review code uses.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::db::{open_read_only, time_from, time_text};

/// The file older versions kept the rejections in (imported once, then `.migrated`).
pub const LEGACY_FILE: &str = "review-rejections.jsonl";

/// One remembered rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The managed device id (the key).
    pub device_id: String,
    pub serial: String,
    /// `crate::review::fingerprint` of the assessment the lead rejected.
    pub fingerprint: String,
    /// The proposal that was rejected, for people reading the table.
    pub proposed_upn: Option<String>,
    /// Who rejected it (the account signed in at that moment).
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One change to the rejections.
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

/// The rejections in force, by device id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejections {
    by_device: BTreeMap<String, Rejection>,
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

    /// Applies one change, as the table does.
    pub fn apply(&mut self, line: RejectionLine) {
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

    /// The lines of an old `review-rejections.jsonl`. A torn (unterminated, unreadable) last line
    /// is ignored: it was never acknowledged. A bad line with good lines after it is an error
    /// naming the file and line.
    pub fn parse_lines(file: &Path, bytes: &[u8]) -> Result<Vec<RejectionLine>, StoreError> {
        let ends_clean = bytes.last().is_none_or(|&b| b == b'\n');
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let last = lines.len() - 1;
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<RejectionLine>(line) {
                Ok(l) => out.push(l),
                Err(_) if i == last && !ends_clean => {}
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        file: file.into(),
                        line: i + 1,
                        reason: format!("not a rejection record: {e}"),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Writes the changes inside the caller's transaction.
pub fn apply_lines(tx: &Transaction<'_>, lines: &[RejectionLine]) -> rusqlite::Result<()> {
    for line in lines {
        match line {
            RejectionLine::Rejected(r) => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO review_rejections
                         (device_id, serial, fingerprint, proposed_upn, rejected_by, rejected_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    r.device_id,
                    r.serial,
                    r.fingerprint,
                    r.proposed_upn,
                    r.by,
                    time_text(&r.at)
                ])?;
            }
            RejectionLine::Cleared {
                device_id,
                fingerprint,
                ..
            } => {
                tx.prepare_cached(
                    "DELETE FROM review_rejections WHERE device_id = ?1 AND fingerprint = ?2",
                )?
                .execute(params![device_id, fingerprint])?;
            }
        }
    }
    Ok(())
}

/// Every rejection in the table. `path` names the database in errors.
pub fn load_from(conn: &Connection, path: &Path) -> Result<Rejections, StoreError> {
    let read = |e| StoreError::db(path, "read the rejections", e);
    let mut st = conn
        .prepare_cached(
            "SELECT device_id, serial, fingerprint, proposed_upn, rejected_by, rejected_at
             FROM review_rejections",
        )
        .map_err(read)?;
    let mut rows = st.query([]).map_err(read)?;
    let mut out = Rejections::default();
    while let Some(r) = rows.next().map_err(read)? {
        let device_id: String = r.get(0).map_err(read)?;
        let at: String = r.get(5).map_err(read)?;
        let at = time_from(&at).map_err(|reason| StoreError::BadRow {
            file: path.to_path_buf(),
            table: "review_rejections",
            row: 0,
            reason: format!("device {device_id}: column rejected_at: {reason}"),
        })?;
        let rejection = Rejection {
            serial: r.get(1).map_err(read)?,
            fingerprint: r.get(2).map_err(read)?,
            proposed_upn: r.get(3).map_err(read)?,
            by: r.get(4).map_err(read)?,
            at,
            device_id,
        };
        out.by_device.insert(rejection.device_id.clone(), rejection);
    }
    Ok(out)
}

/// The rejections of the data dir, read without the data-dir lock (a console may be running):
/// from the database, plus the old file while it is still there (before the first start of this
/// version imported it; applying its lines again after an import changes nothing).
pub fn load(dir: &Path) -> Result<Rejections, StoreError> {
    let mut out = match open_read_only(dir)? {
        Some(conn) => load_from(&conn, &dir.join(super::db::DB_FILE))?,
        None => Rejections::default(),
    };
    let file = dir.join(LEGACY_FILE);
    match std::fs::read(&file) {
        Ok(bytes) => {
            for line in Rejections::parse_lines(&file, &bytes)? {
                out.apply(line);
            }
            Ok(out)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(out),
        Err(e) => Err(StoreError::io(&file, "read", e)),
    }
}

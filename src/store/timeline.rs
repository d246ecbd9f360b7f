//! The observed stage timeline of every tracked device: the `stage_timeline` table, one row per
//! stage a device was seen entering, so "in stage since" and the detail's timeline survive a
//! restart. The status code records each change it observes and loads the whole table at start.
//!
//! Stages are stored by name (the status code's serde names, e.g. `provisioning`): the store does
//! not know the status model, and the `sqlite3` shell shows words, not numbers.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use super::db::{time_from, time_text};
use crate::serial::SerialKey;

/// One observed change: `serial` entered `stage` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageChange {
    pub serial: SerialKey,
    pub at: DateTime<Utc>,
    pub stage: String,
}

/// Records the changes inside the caller's transaction. Recording the same change twice keeps one
/// row.
pub fn record(tx: &Transaction<'_>, changes: &[StageChange]) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT OR IGNORE INTO stage_timeline (serial_key, observed_at, stage) VALUES (?1, ?2, ?3)",
    )?;
    for c in changes {
        st.execute(params![c.serial, time_text(&c.at), c.stage])?;
    }
    Ok(())
}

/// Forgets the timelines of these serials (a device that left the bench).
pub fn forget(tx: &Transaction<'_>, serials: &[SerialKey]) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached("DELETE FROM stage_timeline WHERE serial_key = ?1")?;
    for s in serials {
        st.execute([s])?;
    }
    Ok(())
}

/// How long a device's timeline is kept after its last observed change: long past any staging
/// run, short enough that a bench running for years keeps a small table.
pub const KEEP_DAYS: i64 = 30;

/// The serials whose last observed change is before `before`: a device that left the bench.
pub fn stale(timelines: &Timelines, before: DateTime<Utc>) -> Vec<SerialKey> {
    timelines
        .iter()
        .filter(|(_, changes)| changes.last().is_none_or(|(at, _)| *at < before))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Every device's changes (when, stage name), oldest first, by serial key (upper-case, trimmed).
pub type Timelines = BTreeMap<SerialKey, Vec<(DateTime<Utc>, String)>>;

/// Every device's changes, oldest first, by serial key.
pub fn load(conn: &Connection, path: &Path) -> Result<Timelines, StoreError> {
    let read = |e| StoreError::db(path, "read the stage timeline", e);
    let mut st = conn
        .prepare_cached(
            "SELECT serial_key, observed_at, stage FROM stage_timeline
             ORDER BY serial_key, observed_at",
        )
        .map_err(read)?;
    let mut rows = st.query([]).map_err(read)?;
    let mut out = Timelines::new();
    while let Some(r) = rows.next().map_err(read)? {
        let key: SerialKey = r.get(0).map_err(read)?;
        let at: String = r.get(1).map_err(read)?;
        let at = time_from(&at).map_err(|reason| StoreError::BadRow {
            file: path.to_path_buf(),
            table: "stage_timeline",
            row: 0,
            reason: format!("serial {key}: column observed_at: {reason}"),
        })?;
        out.entry(key)
            .or_default()
            .push((at, r.get(2).map_err(read)?));
    }
    Ok(out)
}

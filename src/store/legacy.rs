//! One-time import of the files older stagehand versions kept: `queue.journal` (the hand-written
//! checksummed journal) and `review-rejections.jsonl`. Each is read whole, written into the
//! database in one transaction together with a marker row, then renamed to `<name>.migrated` (and
//! the directory fsync'd). A crash after the commit and before the rename finds the marker on the
//! next start and only renames, so nothing is imported twice.
//!
//! The journal's recovery rules stay what they were: bad records at the end are a torn write that
//! was never acknowledged (dropped, and said so); a bad record followed by good ones is damage that
//! stagehand will not guess about (the open fails naming the line, and the file is left alone).

use std::path::Path;

use chrono::Utc;
use rusqlite::params;

use super::db::{Store, apply_sql, marker, time_text};
use super::queue::{Queue, QueueEvent, apply};
use super::rejections::{self, Rejections};
use super::{StoreError, sync_dir};

/// The journal file of stagehand before the SQLite store.
pub const JOURNAL_FILE: &str = "queue.journal";
/// Its compaction temp file (a compaction that never reached its rename).
pub const JOURNAL_TMP: &str = "queue.journal.tmp";
/// Suffix of an imported file.
pub const MIGRATED: &str = ".migrated";

/// Imports whatever old files `store`'s directory holds. Returns their names and a notice for the
/// bench, if any.
pub(crate) fn import(store: &mut Store) -> Result<(Vec<String>, Option<String>), StoreError> {
    let dir = store.dir().to_path_buf();
    let mut imported = Vec::new();
    let mut notice = None;
    let tmp = dir.join(JOURNAL_TMP);
    if tmp.exists() {
        std::fs::remove_file(&tmp)
            .map_err(|e| StoreError::io(&tmp, "remove the stale compaction file", e))?;
    }
    let journal = dir.join(JOURNAL_FILE);
    if journal.exists() {
        if !done(store, JOURNAL_FILE)? {
            let (queue, torn) = replay(&journal)?;
            let events = queue.snapshot_events();
            store.write("import the journal", |tx| {
                for ev in &events {
                    apply_sql(tx, ev)?;
                }
                mark(tx, JOURNAL_FILE)
            })?;
            notice = torn;
        }
        retire(&dir, JOURNAL_FILE)?;
        imported.push(JOURNAL_FILE.to_string());
    }
    let file = dir.join(rejections::LEGACY_FILE);
    if file.exists() {
        if !done(store, rejections::LEGACY_FILE)? {
            let bytes =
                std::fs::read(&file).map_err(|e| StoreError::io(&file, "read for import", e))?;
            let lines = Rejections::parse_lines(&file, &bytes)?;
            store.write("import the rejections", |tx| {
                rejections::apply_lines(tx, &lines)?;
                mark(tx, rejections::LEGACY_FILE)
            })?;
        }
        retire(&dir, rejections::LEGACY_FILE)?;
        imported.push(rejections::LEGACY_FILE.to_string());
    }
    Ok((imported, notice))
}

pub(crate) fn done(store: &Store, name: &str) -> Result<bool, StoreError> {
    marker(store.conn(), name)
        .map_err(|e| StoreError::db(store.path(), "read the import markers", e))
}

pub(crate) fn mark(tx: &rusqlite::Transaction<'_>, name: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO keyed_state (kind, key, value, updated_at)
         VALUES ('migrated_file', ?1, ?2, ?3)",
        params![
            name,
            format!("\"{name}{MIGRATED}\""),
            time_text(&Utc::now())
        ],
    )
    .map(drop)
}

/// Renames `name` to `name.migrated` (replacing an older one) and makes the rename durable.
pub(crate) fn retire(dir: &Path, name: &str) -> Result<(), StoreError> {
    let from = dir.join(name);
    let to = dir.join(format!("{name}{MIGRATED}"));
    std::fs::rename(&from, &to).map_err(|e| StoreError::io(&from, "rename to .migrated", e))?;
    sync_dir(dir)
}

/// Why a journal line is not a good record.
enum LineError {
    /// Cut short or garbled: what a torn write leaves behind.
    Damaged(String),
    /// Intact (length and checksum agree) but not an event this version knows.
    Unknown(String),
}

/// Decodes one line (without its newline) of the old format: `<crc32, 8 hex> <json length>
/// <json>`. `Err` says why it is not a good record.
pub fn decode_line(line: &[u8]) -> Result<QueueEvent, String> {
    decode(line).map_err(|e| match e {
        LineError::Damaged(why) => format!("damaged: {why}"),
        LineError::Unknown(why) => format!("not a known event: {why}"),
    })
}

fn decode(line: &[u8]) -> Result<QueueEvent, LineError> {
    let damaged = |why: &str| LineError::Damaged(why.to_string());
    let (crc_field, rest) = split_field(line).ok_or_else(|| damaged("no checksum field"))?;
    if crc_field.len() != 8 {
        return Err(damaged("checksum field is not 8 hex digits"));
    }
    let crc = std::str::from_utf8(crc_field)
        .ok()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .ok_or_else(|| damaged("checksum field is not hex"))?;
    let (len_field, json) = split_field(rest).ok_or_else(|| damaged("no length field"))?;
    let len: usize = std::str::from_utf8(len_field)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| damaged("length field is not a number"))?;
    if json.len() != len {
        return Err(LineError::Damaged(format!(
            "record says {len} bytes of JSON, line holds {}",
            json.len()
        )));
    }
    if crc32fast::hash(json) != crc {
        return Err(damaged("checksum mismatch"));
    }
    serde_json::from_slice(json).map_err(|e| LineError::Unknown(e.to_string()))
}

fn split_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = bytes.iter().position(|&b| b == b' ')?;
    Some((&bytes[..i], &bytes[i + 1..]))
}

/// Replays an old journal into a queue. Returns the notice for a dropped torn tail.
pub(crate) fn replay(path: &Path) -> Result<(Queue, Option<String>), StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, "read", e))?;
    let mut queue = Queue::new();
    let mut first_bad: Option<(usize, String)> = None;
    let (mut pos, mut line) = (0usize, 0usize);
    let mut good_end = 0usize;
    while pos < bytes.len() {
        line += 1;
        let (text, next, cut) = match bytes[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[pos..pos + i], pos + i + 1, false),
            None => (&bytes[pos..], bytes.len(), true),
        };
        let decoded = if cut {
            Err(LineError::Damaged(
                "no end of line: the write stopped mid-record".into(),
            ))
        } else {
            decode(text)
        };
        match decoded {
            Ok(event) => {
                if let Some((bad_line, reason)) = first_bad {
                    return Err(StoreError::Corrupt {
                        file: path.to_path_buf(),
                        line: bad_line,
                        reason,
                    });
                }
                apply(&mut queue, &event);
                good_end = next;
            }
            Err(LineError::Damaged(reason)) => {
                first_bad.get_or_insert((line, reason));
            }
            Err(LineError::Unknown(reason)) => {
                return Err(StoreError::Unknown {
                    file: path.to_path_buf(),
                    line,
                    reason,
                });
            }
        }
        pos = next;
    }
    let notice = first_bad.map(|(line, reason)| {
        format!(
            "{}: dropped a torn last record at line {line} ({} bytes, {reason}): it was never \
             acknowledged",
            path.display(),
            bytes.len() - good_end
        )
    });
    Ok((queue, notice))
}

#[cfg(test)]
#[path = "legacy_tests.rs"]
mod tests;

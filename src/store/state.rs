//! Small keyed state for features that must remember something across restarts: the
//! `keyed_state` table, `(kind, key) → JSON value`. One `kind` per feature, for example
//! `autopilot_import` (key: the import id; value: what is in flight) or `notification_sent` (key:
//! what was notified; value: when and where). A feature that needs queries beyond "by key" adds a
//! table of its own through a migration instead (`super::schema`).
//!
//! The store itself uses kind `migrated_file` for the one-time imports of older files.

use std::path::Path;

use chrono::Utc;
use rusqlite::{Connection, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::db::{Store, time_text};
use super::legacy;

/// Sets `kind/key` to `value` inside the caller's transaction.
pub fn put<T: Serialize>(
    tx: &Transaction<'_>,
    kind: &str,
    key: &str,
    value: &T,
) -> rusqlite::Result<()> {
    let json = serde_json::to_string(value)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.prepare_cached(
        "INSERT INTO keyed_state (kind, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value,
             updated_at = excluded.updated_at",
    )?
    .execute(params![kind, key, json, time_text(&Utc::now())])?;
    Ok(())
}

/// Removes `kind/key` (no error when it is not there).
#[cfg(test)]
pub fn delete(tx: &Transaction<'_>, kind: &str, key: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM keyed_state WHERE kind = ?1 AND key = ?2")?
        .execute(params![kind, key])?;
    Ok(())
}

fn decode<T: DeserializeOwned>(
    path: &Path,
    kind: &str,
    key: &str,
    json: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::BadRow {
        file: path.to_path_buf(),
        table: "keyed_state",
        row: 0,
        reason: format!("{kind}/{key}: {e}"),
    })
}

/// The value of `kind/key`, if set.
#[cfg(test)]
pub fn get<T: DeserializeOwned>(
    conn: &Connection,
    path: &Path,
    kind: &str,
    key: &str,
) -> Result<Option<T>, StoreError> {
    use rusqlite::OptionalExtension;
    let json: Option<String> = conn
        .query_row(
            "SELECT value FROM keyed_state WHERE kind = ?1 AND key = ?2",
            params![kind, key],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| StoreError::db(path, "read keyed state", e))?;
    json.map(|j| decode(path, kind, key, &j)).transpose()
}

/// Every `(key, value)` of `kind`, by key.
pub fn all<T: DeserializeOwned>(
    conn: &Connection,
    path: &Path,
    kind: &str,
) -> Result<Vec<(String, T)>, StoreError> {
    let read = |e| StoreError::db(path, "read keyed state", e);
    let mut st = conn
        .prepare_cached("SELECT key, value FROM keyed_state WHERE kind = ?1 ORDER BY key")
        .map_err(read)?;
    let mut rows = st.query([kind]).map_err(read)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(read)? {
        let key: String = r.get(0).map_err(read)?;
        let json: String = r.get(1).map_err(read)?;
        let value = decode(path, kind, &key, &json)?;
        out.push((key, value));
    }
    Ok(out)
}

/// Imports `<data dir>/name`, a file of an older stagehand, once: `parse` reads it (an error
/// names the file and nothing is imported), `write` stores it in one transaction together with the
/// `migrated_file` marker, then the file is renamed to `name.migrated`. A crash between the commit
/// and the rename finds the marker next time and only renames. `true` when a file was there.
pub fn import_file_once<T>(
    store: &mut Store,
    name: &str,
    parse: impl FnOnce(&Path, &[u8]) -> Result<T, StoreError>,
    write: impl FnOnce(&Transaction<'_>, T) -> rusqlite::Result<()>,
) -> Result<bool, StoreError> {
    let dir = store.dir().to_path_buf();
    let file = dir.join(name);
    if !file.exists() {
        return Ok(false);
    }
    if !legacy::done(store, name)? {
        let bytes =
            std::fs::read(&file).map_err(|e| StoreError::io(&file, "read for import", e))?;
        let value = parse(&file, &bytes)?;
        store.write("import an older file", |tx| {
            write(tx, value)?;
            legacy::mark(tx, name)
        })?;
    }
    legacy::retire(&dir, name)?;
    Ok(true)
}

/// Deletes every row of `kind` (inside the caller's transaction).
pub fn delete_kind(tx: &Transaction<'_>, kind: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM keyed_state WHERE kind = ?1")?
        .execute(params![kind])?;
    Ok(())
}

//! The database's schema, as an ordered list of migrations. `PRAGMA user_version` holds how many
//! have run; opening the store runs the rest, each in its own transaction together with the new
//! `user_version`, so a crash mid-migration leaves the previous version whole.
//!
//! To add a table: append a migration (never edit one that has shipped), describe the table in
//! `docs/store.md`, and add its read/write functions beside the code that owns the data.

use rusqlite::Connection;

/// One schema step: what it is for (shown in errors) and the SQL that makes it.
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Migration `i` moves the database to `user_version = i + 1`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "intake queue",
        sql: "
            CREATE TABLE queue (
                position        INTEGER PRIMARY KEY,
                serial_key      TEXT NOT NULL UNIQUE,
                serial          TEXT NOT NULL,
                manufacturer    TEXT NOT NULL,
                model           TEXT NOT NULL,
                profile         TEXT NOT NULL,
                platform        TEXT NOT NULL,
                identifier_type TEXT NOT NULL,
                scanned_at      TEXT NOT NULL,
                bench           TEXT NOT NULL,
                state           TEXT NOT NULL,
                message         TEXT,
                note            TEXT,
                imported_id     TEXT,
                attempts        INTEGER NOT NULL DEFAULT 0
            ) STRICT;
        ",
    },
    Migration {
        name: "review rejections",
        sql: "
            CREATE TABLE review_rejections (
                device_id    TEXT PRIMARY KEY,
                serial       TEXT NOT NULL,
                fingerprint  TEXT NOT NULL,
                proposed_upn TEXT,
                rejected_by  TEXT NOT NULL,
                rejected_at  TEXT NOT NULL
            ) STRICT;
        ",
    },
    Migration {
        name: "stage timeline",
        sql: "
            CREATE TABLE stage_timeline (
                serial_key  TEXT NOT NULL,
                observed_at TEXT NOT NULL,
                stage       TEXT NOT NULL,
                PRIMARY KEY (serial_key, observed_at, stage)
            ) STRICT;
        ",
    },
    Migration {
        name: "keyed state",
        sql: "
            CREATE TABLE keyed_state (
                kind       TEXT NOT NULL,
                key        TEXT NOT NULL,
                value      TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (kind, key)
            ) STRICT;
        ",
    },
];

/// The schema version this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// What went wrong while bringing the schema up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database is at schema version {found}, newer than this stagehand knows ({known}); \
         use a newer stagehand or another --data-dir"
    )]
    Newer { found: u32, known: u32 },
    #[error("schema migration {version} ({name}): {source}")]
    Step {
        version: u32,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("reading the schema version: {0}")]
    Version(#[source] rusqlite::Error),
}

/// Runs every migration the database has not seen. Returns the version it found.
pub fn migrate(conn: &mut Connection) -> Result<u32, MigrateError> {
    let found: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(MigrateError::Version)?;
    if found > latest() {
        return Err(MigrateError::Newer {
            found,
            known: latest(),
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as u32 + 1;
        let step = |source| MigrateError::Step {
            version,
            name: m.name,
            source,
        };
        let tx = conn.transaction().map_err(step)?;
        tx.execute_batch(m.sql).map_err(step)?;
        // PRAGMA takes no parameters; `version` is a number we produced.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(step)?;
        tx.commit().map_err(step)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_database_to_the_latest_version_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest());
        // A second run finds nothing to do (and does not fail on existing tables).
        assert_eq!(migrate(&mut conn).unwrap(), latest());
    }

    #[test]
    fn a_newer_database_is_refused_not_touched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(err.to_string().contains("version 999"), "{err}");
    }

    #[test]
    fn a_failed_migration_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A table in the way of migration 1 makes it fail.
        conn.execute_batch("CREATE TABLE queue (x)").unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(err.to_string().contains("intake queue"), "{err}");
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 0);
    }
}

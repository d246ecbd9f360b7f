//! Hash files at the bench: an Autopilot registration queued through the intake queue.
//!
//! `intake import` of a `Get-WindowsAutopilotInfo` file queues the device in the intake queue
//! (manufacturer and model from the decoded hash) and, in the same transaction, a row of the
//! `autopilot_registrations` table with what the import needs (hash, product id, group tag,
//! assigned user, where it came from). The uploader (`intake push`) posts those rows through
//! [`super::import::Run`] instead of as corporate identifiers and records the import id and state
//! here as they come, so an import in flight survives a crash. `status` reads the rows to show
//! import state → profile assignment (`deploymentProfileAssignmentStatus`) → the usual stages.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, Transaction, params};
use serde::Serialize;

use super::api::AutopilotDevice;
use crate::graph::{GraphClient, GraphError};
use crate::serial::SerialKey;
use crate::store::db::time_text;

/// How long "waiting for profile assignment" may last after the import completed before the
/// device is flagged stuck. The service usually assigns within minutes; a sync brings it down.
pub const PROFILE_STUCK_AFTER: Duration = Duration::minutes(30);

/// Where the import of one queued hash stands (`import_state` column, snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportPhase {
    /// Durable on the bench, not yet posted.
    Queued,
    /// Posted; Intune's import record says `unknown`/`pending`.
    Importing,
    /// The Autopilot device exists (`deviceRegistrationId` known).
    Complete,
    /// 806: already registered in this tenant (counts as registered).
    AlreadyRegistered,
    /// The import ended in error (the message words the code).
    Error,
}

impl ImportPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Importing => "importing",
            Self::Complete => "complete",
            Self::AlreadyRegistered => "already_registered",
            Self::Error => "error",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "importing" => Self::Importing,
            "complete" => Self::Complete,
            "already_registered" => Self::AlreadyRegistered,
            "error" => Self::Error,
            _ => return None,
        })
    }
}

/// One queued Autopilot registration (a row of `autopilot_registrations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub serial: String,
    /// The `Hardware Hash` cell as read (base64).
    pub hash_text: String,
    pub product_id: String,
    pub group_tag: Option<String>,
    pub assigned_user: Option<String>,
    /// `file:line` it was read from.
    pub source: String,
    pub import_id: Option<String>,
    pub import_state: ImportPhase,
    /// The Autopilot device id once the import completed.
    pub registration_id: Option<String>,
    pub message: Option<String>,
    /// When the import completed (the start of "waiting for profile assignment").
    pub completed_at: Option<DateTime<Utc>>,
}

impl Registration {
    /// A fresh registration, not yet posted.
    pub fn queued(
        serial: &str,
        hash_text: &str,
        product_id: &str,
        group_tag: Option<String>,
        assigned_user: Option<String>,
        source: String,
    ) -> Self {
        Self {
            serial: serial.to_string(),
            hash_text: hash_text.to_string(),
            product_id: product_id.to_string(),
            group_tag,
            assigned_user,
            source,
            import_id: None,
            import_state: ImportPhase::Queued,
            registration_id: None,
            message: None,
            completed_at: None,
        }
    }
}

/// Queues (or re-queues, after a new capture) a registration inside the caller's transaction;
/// a re-import starts the import over.
pub fn put(tx: &Transaction<'_>, r: &Registration) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO autopilot_registrations (serial_key, serial, hash, product_id, group_tag,
             assigned_user, source, import_id, import_state, registration_id, message,
             completed_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (serial_key) DO UPDATE SET serial = excluded.serial, hash = excluded.hash,
             product_id = excluded.product_id, group_tag = excluded.group_tag,
             assigned_user = excluded.assigned_user, source = excluded.source,
             import_id = excluded.import_id, import_state = excluded.import_state,
             registration_id = excluded.registration_id, message = excluded.message,
             completed_at = excluded.completed_at, updated_at = excluded.updated_at",
    )?
    .execute(params![
        SerialKey::new(&r.serial),
        r.serial,
        r.hash_text,
        r.product_id,
        r.group_tag,
        r.assigned_user,
        r.source,
        r.import_id,
        r.import_state.as_str(),
        r.registration_id,
        r.message,
        r.completed_at.as_ref().map(time_text),
        time_text(&Utc::now()),
    ])?;
    Ok(())
}

/// Records a progress step of the uploader (see [`super::import::Progress`]).
pub fn record(
    tx: &Transaction<'_>,
    p: &super::import::Progress,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    use super::import::Progress;
    let key;
    match p {
        Progress::Posted { serial, import_id } => {
            key = SerialKey::new(serial);
            tx.prepare_cached(
                "UPDATE autopilot_registrations SET import_id = ?2, import_state = 'importing',
                     message = NULL, updated_at = ?3 WHERE serial_key = ?1",
            )?
            .execute(params![key, import_id, time_text(&now)])?;
        }
        Progress::Lost { serial } => {
            key = SerialKey::new(serial);
            tx.prepare_cached(
                "UPDATE autopilot_registrations SET import_id = NULL, import_state = 'queued',
                     updated_at = ?2 WHERE serial_key = ?1",
            )?
            .execute(params![key, time_text(&now)])?;
        }
        Progress::Finished {
            serial,
            phase,
            registration_id,
            message,
        } => {
            key = SerialKey::new(serial);
            let completed = matches!(
                phase,
                ImportPhase::Complete | ImportPhase::AlreadyRegistered
            )
            .then(|| time_text(&now));
            tx.prepare_cached(
                "UPDATE autopilot_registrations SET import_state = ?2,
                     registration_id = COALESCE(?3, registration_id), message = ?4,
                     completed_at = COALESCE(?5, completed_at), updated_at = ?6
                 WHERE serial_key = ?1",
            )?
            .execute(params![
                key,
                phase.as_str(),
                registration_id,
                message,
                completed,
                time_text(&now)
            ])?;
        }
    }
    Ok(())
}

/// Every queued registration by serial key. A row this version cannot read is an error naming it.
pub fn load(conn: &Connection) -> Result<HashMap<SerialKey, Registration>, String> {
    let mut st = conn
        .prepare_cached(
            "SELECT serial_key, serial, hash, product_id, group_tag, assigned_user, source,
                 import_id, import_state, registration_id, message, completed_at
             FROM autopilot_registrations",
        )
        .map_err(|e| format!("autopilot_registrations: {e}"))?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, SerialKey>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, Option<String>>(11)?,
            ))
        })
        .map_err(|e| format!("autopilot_registrations: {e}"))?;
    let mut out = HashMap::new();
    for row in rows {
        let (key, serial, hash, pid, tag, user, source, iid, state, rid, msg, done) =
            row.map_err(|e| format!("autopilot_registrations: {e}"))?;
        let import_state = ImportPhase::parse(&state).ok_or_else(|| {
            format!("autopilot_registrations, serial {key}: unknown import_state {state:?}")
        })?;
        let completed_at = match done {
            Some(t) => Some(
                DateTime::parse_from_rfc3339(&t)
                    .map_err(|e| {
                        format!("autopilot_registrations, serial {key}: completed_at: {e}")
                    })?
                    .to_utc(),
            ),
            None => None,
        };
        out.insert(
            key,
            Registration {
                serial,
                hash_text: hash,
                product_id: pid,
                group_tag: tag,
                assigned_user: user,
                source,
                import_id: iid,
                import_state,
                registration_id: rid,
                message: msg,
                completed_at,
            },
        );
    }
    Ok(out)
}

/// What `status --json` adds to a device that came from a hash file (`"autopilot"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutopilotView {
    pub import_state: ImportPhase,
    pub import_id: Option<String>,
    pub registration_id: Option<String>,
    pub import_message: Option<String>,
    /// `deploymentProfileAssignmentStatus` (e.g. `notAssigned`, `assignedInSync`).
    pub profile_assignment: Option<String>,
    pub profile_assignment_detail: Option<String>,
    pub profile_assigned: bool,
    /// Minutes since the import completed while the profile is not yet assigned.
    pub waiting_for_profile_min: Option<i64>,
    /// Waiting for the profile for longer than [`PROFILE_STUCK_AFTER`].
    pub stuck: bool,
}

/// Whether a registration's Autopilot device is worth looking up (its import completed).
pub fn imported(r: &Registration) -> bool {
    matches!(
        r.import_state,
        ImportPhase::Complete | ImportPhase::AlreadyRegistered
    )
}

/// The Autopilot devices of these registrations, by serial key: one paged listing of
/// `windowsAutopilotDeviceIdentities` whatever the number of devices, matched by serial here
/// (Graph refuses `serialNumber eq`, and one `contains` query per device costs a request each).
/// No request at all while no import has completed.
pub async fn devices_for(
    client: &GraphClient,
    regs: &HashMap<SerialKey, Registration>,
) -> Result<HashMap<SerialKey, AutopilotDevice>, GraphError> {
    let mut out = HashMap::new();
    if !regs.values().any(imported) {
        return Ok(out);
    }
    client
        .for_each_autopilot_device(|d: AutopilotDevice| {
            let Some(serial) = d.serial_number.as_deref() else {
                return;
            };
            let key = SerialKey::new(serial);
            let Some(r) = regs.get(&key) else { return };
            // Several devices with one serial: the registration's own id wins.
            let own = r.registration_id.as_deref() == Some(d.id.as_str());
            if own || !out.contains_key(&key) {
                out.insert(key, d);
            }
        })
        .await?;
    Ok(out)
}

/// Reads the registrations from the database file without the data-dir lock (a reader beside
/// the writer, as `docs/store.md` allows): the status poller of the console and `status`.
/// A missing database has none.
pub fn load_file(db: &std::path::Path) -> Result<HashMap<SerialKey, Registration>, String> {
    if !db.exists() {
        return Ok(HashMap::new());
    }
    let conn = Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("{}: {e}", db.display()))?;
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
    load(&conn)
}

/// The view of one registration, given its Autopilot device (if listed).
pub fn view_of(
    r: &Registration,
    device: Option<&AutopilotDevice>,
    now: DateTime<Utc>,
) -> AutopilotView {
    let assigned = device.is_some_and(AutopilotDevice::is_assigned);
    let imported = matches!(
        r.import_state,
        ImportPhase::Complete | ImportPhase::AlreadyRegistered
    );
    let waiting = (imported && !assigned)
        .then(|| r.completed_at.map(|t| (now - t).num_minutes().max(0)))
        .flatten();
    AutopilotView {
        import_state: r.import_state,
        import_id: r.import_id.clone(),
        registration_id: device
            .map(|d| d.id.clone())
            .or_else(|| r.registration_id.clone()),
        import_message: r.message.clone(),
        profile_assignment: device.and_then(|d| d.deployment_profile_assignment_status.clone()),
        profile_assignment_detail: device
            .and_then(|d| d.deployment_profile_assignment_detailed_status.clone()),
        profile_assigned: assigned,
        waiting_for_profile_min: waiting,
        stuck: waiting.is_some_and(|m| m >= PROFILE_STUCK_AFTER.num_minutes()),
    }
}

/// What a device's row says while it is not enrolled yet: where its registration stands.
pub fn message_of(v: &AutopilotView) -> String {
    if v.profile_assigned {
        format!(
            "Autopilot profile assigned ({})",
            v.profile_assignment.as_deref().unwrap_or("assigned")
        )
    } else if let Some(m) = v.waiting_for_profile_min {
        format!("waiting for profile assignment: {m} min")
    } else {
        match v.import_state {
            ImportPhase::Queued => "Autopilot import queued".to_string(),
            ImportPhase::Importing => "importing to Autopilot".to_string(),
            ImportPhase::Error => match &v.import_message {
                // Graph's words for unknown codes are outside text.
                Some(m) => format!("import failed: {}", super::safe(m)),
                None => "Autopilot import failed".into(),
            },
            ImportPhase::Complete | ImportPhase::AlreadyRegistered => {
                "waiting for profile assignment".to_string()
            }
        }
    }
}

/// A status row of a device from a hash file, with its registration's view: until the device
/// enrolls the message says where the registration stands, a wait for the profile past
/// [`PROFILE_STUCK_AFTER`] flags it stuck, and `stale` (the Autopilot listing failed) flags it
/// stale. The view goes with the row's raw fields (detail view, `status --json`).
pub fn row_with(
    row: &crate::status::DeviceStatus,
    view: AutopilotView,
    stale: bool,
) -> crate::status::DeviceStatus {
    let mut new = row.clone();
    if new.managed_device_id.is_none() {
        new.message = message_of(&view).into();
    }
    new.flags.stuck |= view.stuck;
    new.flags.stale |= stale;
    new.raw = new.raw.with_autopilot(std::sync::Arc::new(view));
    new
}

/// Adds `"autopilot"` (an [`AutopilotView`]) to a `status --json` row. Before the device
/// enrolls, the row's message says where the registration stands; a wait for the profile past
/// [`PROFILE_STUCK_AFTER`] adds the `stuck` flag.
pub fn apply_view(row: &mut serde_json::Value, v: &AutopilotView) {
    let Some(obj) = row.as_object_mut() else {
        return;
    };
    let enrolled = obj.get("managed_device_id").is_some_and(|m| !m.is_null());
    if !enrolled {
        obj.insert("message".into(), serde_json::Value::String(message_of(v)));
    }
    if v.stuck
        && let Some(flags) = obj.get_mut("flags").and_then(|f| f.as_array_mut())
        && !flags.iter().any(|f| f == "stuck")
    {
        flags.push("stuck".into());
    }
    if let Ok(view) = serde_json::to_value(v) {
        obj.insert("autopilot".into(), view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autopilot::import::Progress;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut c).unwrap();
        c
    }

    fn reg(serial: &str) -> Registration {
        Registration::queued(
            serial,
            "T0E=",
            "",
            Some("Kiosk".into()),
            None,
            "a.csv:2".into(),
        )
    }

    #[test]
    fn registrations_survive_in_the_store_with_their_import_progress() {
        let mut c = db();
        let t0 = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc();
        let tx = c.transaction().unwrap();
        put(&tx, &reg("pf1")).unwrap();
        put(&tx, &reg("PF2")).unwrap();
        record(
            &tx,
            &Progress::Posted {
                serial: "PF1".into(),
                import_id: "imp-1".into(),
            },
            t0,
        )
        .unwrap();
        record(
            &tx,
            &Progress::Finished {
                serial: "PF1".into(),
                phase: ImportPhase::Complete,
                registration_id: Some("ap-1".into()),
                message: None,
            },
            t0,
        )
        .unwrap();
        record(
            &tx,
            &Progress::Finished {
                serial: "PF2".into(),
                phase: ImportPhase::Error,
                registration_id: None,
                message: Some("802: invalid hash".into()),
            },
            t0,
        )
        .unwrap();
        tx.commit().unwrap();
        let all = load(&c).unwrap();
        let a = &all[&SerialKey::new("PF1")];
        assert_eq!(a.import_id.as_deref(), Some("imp-1"));
        assert_eq!(a.import_state, ImportPhase::Complete);
        assert_eq!(a.registration_id.as_deref(), Some("ap-1"));
        assert_eq!(a.completed_at, Some(t0));
        assert_eq!(a.group_tag.as_deref(), Some("Kiosk"));
        let b = &all[&SerialKey::new("PF2")];
        assert_eq!(b.import_state, ImportPhase::Error);
        assert_eq!(b.completed_at, None);
        // Removing the queue entry removes its registration.
        let tx = c.transaction().unwrap();
        crate::store::db::apply_sql(
            &tx,
            &crate::store::QueueEvent::Removed {
                serial: "pf2".into(),
            },
        )
        .unwrap();
        tx.commit().unwrap();
        assert!(!load(&c).unwrap().contains_key(&SerialKey::new("PF2")));
    }

    #[test]
    fn an_unknown_import_state_is_an_error_naming_the_row() {
        let c = db();
        c.execute_batch(
            "INSERT INTO autopilot_registrations (serial_key, serial, hash, product_id, source,
                 import_state, updated_at) VALUES ('PF9', 'PF9', 'x', '', 'f:1', 'bogus', 't')",
        )
        .unwrap();
        let e = load(&c).unwrap_err();
        assert!(e.contains("PF9") && e.contains("bogus"), "{e}");
    }

    #[test]
    fn waiting_for_the_profile_past_the_threshold_is_stuck() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc();
        let mut r = reg("PF1");
        r.import_state = ImportPhase::Complete;
        r.completed_at = Some(t0);
        let waiting = AutopilotDevice {
            id: "ap-1".into(),
            deployment_profile_assignment_status: Some("notAssigned".into()),
            ..Default::default()
        };
        let v = view_of(&r, Some(&waiting), t0 + Duration::minutes(6));
        assert_eq!((v.waiting_for_profile_min, v.stuck), (Some(6), false));
        let v = view_of(&r, Some(&waiting), t0 + Duration::minutes(31));
        assert!(v.stuck);
        let mut row = serde_json::json!({"serial": "PF1", "flags": [], "managed_device_id": null});
        apply_view(&mut row, &v);
        assert_eq!(row["flags"], serde_json::json!(["stuck"]));
        assert_eq!(row["message"], "waiting for profile assignment: 31 min");
        assert_eq!(row["autopilot"]["profile_assignment"], "notAssigned");
        let done = AutopilotDevice {
            deployment_profile_assignment_status: Some("assignedInSync".into()),
            ..waiting
        };
        let v = view_of(&r, Some(&done), t0 + Duration::minutes(90));
        assert!(v.profile_assigned && !v.stuck && v.waiting_for_profile_min.is_none());
        // Once enrolled, the usual stage's message stays.
        let mut row = serde_json::json!({"serial": "PF1", "flags": [], "managed_device_id": "md",
            "message": "enrolling"});
        apply_view(&mut row, &v);
        assert_eq!(row["message"], "enrolling");
        assert_eq!(row["autopilot"]["profile_assigned"], true);
    }
}

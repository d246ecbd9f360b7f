//! `stagehand autopilot import`: post the hashes in batches, poll each import until it is
//! complete or failed (bounded, with backoff), explain failures, delete the finished import
//! records, then (with `--wait`) wait until each device's deployment profile is assigned, asking
//! the Autopilot service to sync at most once per 10 minutes. Every write is audited before and
//! after.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use super::api::{self, AutopilotDevice, ImportStatus, MAX_BATCH, NewImport, SyncOutcome};
use super::codes;
use crate::graph::{GraphClient, GraphError};
use crate::store::{Actor, AuditLog, AuditRecord, StoreClient};

/// One device to import (it passed the checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub file: PathBuf,
    pub line: u64,
    pub serial: String,
    pub hash_text: String,
    pub product_id: String,
    pub group_tag: Option<String>,
    pub assigned_user: Option<String>,
    /// The import record of an earlier run still in flight (a crash, a restart): it is polled
    /// by this id instead of posting the hash again (which would answer 806).
    pub import_id: Option<String>,
}

/// How long to wait and how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Until every import is complete or failed.
    pub import_timeout: Duration,
    /// With `--wait`: until every profile is assigned.
    pub profile_timeout: Duration,
    /// First poll interval; doubles up to `poll_max`.
    pub poll_first: Duration,
    pub poll_max: Duration,
    /// Least time between two sync requests (Graph answers 429 within 10 minutes).
    pub sync_gap: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            import_timeout: Duration::from_secs(30 * 60),
            profile_timeout: Duration::from_secs(60 * 60),
            poll_first: Duration::from_secs(5),
            poll_max: Duration::from_secs(30),
            sync_gap: Duration::from_secs(10 * 60),
        }
    }
}

/// How one device ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum Outcome {
    /// Not sent: its audit record could not be made durable, or Graph refused the request.
    Failed(String),
    /// The import ended in error (code in plain words).
    ImportError(String),
    /// Still importing when the bound passed.
    StillImporting,
    /// 806: already registered in this tenant.
    AlreadyRegistered(String),
    /// Imported; the profile is not (yet) assigned, or `--wait` was not given.
    Imported {
        device_id: Option<String>,
        profile: Option<String>,
    },
    /// The deployment profile is assigned.
    Assigned { device_id: String, profile: String },
    /// Profile assignment failed (e.g. hardware requirements not met).
    ProfileFailed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceResult {
    pub serial: String,
    pub file: String,
    pub line: u64,
    pub outcome: Outcome,
}

/// What the run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub devices: Vec<DeviceResult>,
    /// Rows refused by the checks (counted as failed).
    pub refused: usize,
    pub syncs: u32,
}

impl Report {
    /// 0 all assigned (or already registered), 1 some failed, 3 accepted but not yet assigned.
    pub fn exit_status(&self) -> u8 {
        let failed = self.refused > 0
            || self.devices.iter().any(|d| {
                matches!(
                    d.outcome,
                    Outcome::Failed(_) | Outcome::ImportError(_) | Outcome::ProfileFailed(_)
                )
            });
        let pending = self.devices.iter().any(|d| {
            matches!(
                d.outcome,
                Outcome::StillImporting | Outcome::Imported { .. }
            )
        });
        if failed {
            1
        } else if pending {
            3
        } else {
            0
        }
    }
}

/// Where a run's audit records and import steps go.
pub enum Record<'a> {
    /// The headless commands: the audit log they opened under the data-dir lock, and an
    /// optional callback told every import step (the bench's uploader makes them durable).
    Direct {
        audit: &'a mut AuditLog,
        progress: Option<&'a mut (dyn FnMut(Progress) + Send)>,
    },
    /// The console: the store thread, the one writer of the audit log and the database. Each
    /// step is in the `autopilot_registrations` table before the run goes on.
    Store(&'a StoreClient),
}

/// Everything a run needs.
pub struct Run<'a> {
    pub client: &'a GraphClient,
    pub record: Record<'a>,
    /// Who the audit records name: asked at each write (the account signed in now).
    pub actor: Actor,
    pub pacing: Pacing,
    pub wait: bool,
    /// Progress lines (stderr for the CLI).
    pub out: &'a mut (dyn Write + Send),
}

/// A step of an import, for [`Run::progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Intune accepted the device and gave its import record this id.
    Posted { serial: String, import_id: String },
    /// The import record of an earlier run is gone (deleted, or never kept by Intune): the
    /// next run posts the hash again.
    Lost { serial: String },
    /// The import record finished.
    Finished {
        serial: String,
        phase: super::bench::ImportPhase,
        registration_id: Option<String>,
        message: Option<String>,
    },
}

struct Track {
    p: Planned,
    import_id: Option<String>,
    registration_id: Option<String>,
    outcome: Option<Outcome>,
}

impl Run<'_> {
    /// Makes `rec` durable; false (said on `out`) when it could not be.
    async fn audit(&mut self, rec: &AuditRecord) -> bool {
        let r = match &mut self.record {
            Record::Direct { audit, .. } => audit.append(rec).map_err(|e| e.to_string()),
            Record::Store(store) => store.audit(rec.clone()).await,
        };
        match r {
            Ok(()) => true,
            Err(e) => {
                let _ = writeln!(self.out, "audit log: {e}");
                false
            }
        }
    }

    /// A `before` record naming the account signed in now; `None` when nobody is.
    fn before(&mut self, action: &str) -> Option<AuditRecord> {
        match self.actor.now() {
            Some(who) => Some(AuditRecord::before(Utc::now(), &who, action)),
            None => {
                let _ = writeln!(self.out, "nobody is signed in: nothing sent");
                None
            }
        }
    }

    async fn tell(&mut self, p: Progress) {
        match &mut self.record {
            Record::Direct { progress, .. } => {
                if let Some(f) = progress.as_mut() {
                    f(p);
                }
            }
            Record::Store(store) => {
                let saved = store
                    .call(move |s| {
                        s.write("record an Autopilot import", |tx| {
                            super::bench::record(tx, &p, Utc::now())
                        })
                    })
                    .await;
                if let Err(e) = saved {
                    let _ = writeln!(
                        self.out,
                        "an Autopilot import state could not be saved: {e}"
                    );
                }
            }
        }
    }

    fn say(&mut self, msg: String) {
        let _ = writeln!(self.out, "{}", super::safe(&msg));
    }

    /// Imports `planned` (already checked); `refused` rows were stopped by the checks.
    pub async fn import(mut self, planned: Vec<Planned>, refused: usize) -> Report {
        let tracks: Vec<Track> = planned
            .into_iter()
            .map(|p| Track {
                import_id: p.import_id.clone(),
                p,
                registration_id: None,
                outcome: None,
            })
            .collect();
        // Imports already in flight are polled by their id, never posted again.
        let (mut fresh, mut resumed): (Vec<Track>, Vec<Track>) =
            tracks.into_iter().partition(|t| t.import_id.is_none());
        if !resumed.is_empty() {
            self.say(format!(
                "{} import(s) in flight from an earlier run: reading them by id",
                resumed.len()
            ));
        }
        let n = fresh.len();
        let mut start = 0;
        while start < n {
            let end = (start + MAX_BATCH).min(n);
            self.post_batch(&mut fresh[start..end]).await;
            start = end;
        }
        resumed.append(&mut fresh);
        let mut tracks = resumed;
        self.poll_imports(&mut tracks).await;
        let mut syncs = 0;
        if self.wait {
            syncs = self.wait_profiles(&mut tracks).await;
        }
        let devices = tracks
            .into_iter()
            .map(|t| DeviceResult {
                serial: t.p.serial.clone(),
                file: t.p.file.display().to_string(),
                line: t.p.line,
                outcome: t.outcome.unwrap_or(Outcome::Imported {
                    device_id: t.registration_id,
                    profile: None,
                }),
            })
            .collect();
        Report {
            devices,
            refused,
            syncs,
        }
    }

    async fn post_batch(&mut self, batch: &mut [Track]) {
        let mut body = Vec::new();
        let mut sent = Vec::new();
        let mut befores = Vec::new();
        for (i, t) in batch.iter_mut().enumerate() {
            let Some(mut rec) = self.before("import_autopilot_device") else {
                t.outcome = Some(Outcome::Failed("nobody is signed in: nothing sent".into()));
                continue;
            };
            rec.serial = Some(t.p.serial.clone());
            rec.to = t.p.group_tag.clone();
            rec.options = serde_json::json!({
                "file": t.p.file.display().to_string(),
                "line": t.p.line,
                "group_tag": t.p.group_tag,
                "assigned_user": t.p.assigned_user,
            });
            if !self.audit(&rec).await {
                t.outcome = Some(Outcome::Failed(
                    "its audit record could not be made durable, so it was not sent".into(),
                ));
                continue;
            }
            let mut d = NewImport::new(&t.p.serial, &t.p.hash_text);
            d.group_tag = t.p.group_tag.clone();
            d.assigned_user_principal_name = t.p.assigned_user.clone();
            d.product_key = t.p.product_id.clone();
            body.push(d);
            sent.push(i);
            befores.push(rec);
        }
        if body.is_empty() {
            return;
        }
        self.say(format!("importing {} device(s)…", body.len()));
        match api::import(self.client, &body).await {
            Ok(records) => {
                let mut records = records;
                for (k, &i) in sent.iter().enumerate() {
                    let t = &mut batch[i];
                    let mut posted = None;
                    let pos = records.iter().position(|r| {
                        r.serial_number
                            .as_deref()
                            .is_some_and(|s| s.eq_ignore_ascii_case(&t.p.serial))
                    });
                    let result = match pos {
                        Some(pos) => {
                            let r = records.swap_remove(pos);
                            let res = format!("accepted (import {})", r.id);
                            let p = Progress::Posted {
                                serial: t.p.serial.clone(),
                                import_id: r.id.clone(),
                            };
                            t.import_id = Some(r.id);
                            posted = Some(p);
                            res
                        }
                        None => {
                            t.outcome = Some(Outcome::Failed(
                                "Graph returned no import record for this serial".into(),
                            ));
                            "error: no import record returned".to_string()
                        }
                    };
                    // The import id is durable before anything else happens to this device.
                    if let Some(p) = posted {
                        self.tell(p).await;
                    }
                    let after = befores[k].after(Utc::now(), &result);
                    self.audit(&after).await;
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (k, &i) in sent.iter().enumerate() {
                    batch[i].outcome = Some(Outcome::Failed(msg.clone()));
                    let after = befores[k].after(Utc::now(), &format!("error: {msg}"));
                    self.audit(&after).await;
                }
            }
        }
    }

    async fn poll_imports(&mut self, tracks: &mut [Track]) {
        let began = Instant::now();
        let mut delay = self.pacing.poll_first;
        loop {
            let mut running = 0;
            for t in tracks.iter_mut() {
                let Some(id) = t.import_id.clone() else {
                    continue;
                };
                if t.outcome.is_some() || t.registration_id.is_some() {
                    continue;
                }
                let rec = match api::get_import(self.client, &id).await {
                    Ok(r) => r,
                    Err(GraphError::NotFound { .. }) => {
                        // Deleted (by an earlier run that stopped before saving its answer, or
                        // by someone in the portal): post it again next time.
                        self.say(format!(
                            "{}: import {id} is gone from Intune; it will be imported again",
                            t.p.serial
                        ));
                        self.tell(Progress::Lost {
                            serial: t.p.serial.clone(),
                        })
                        .await;
                        t.outcome = Some(Outcome::Failed(
                            "its import record is gone from Intune; it will be imported again"
                                .into(),
                        ));
                        continue;
                    }
                    Err(e) => {
                        self.say(format!("{}: reading the import: {e}", t.p.serial));
                        running += 1;
                        continue;
                    }
                };
                match rec.status() {
                    ImportStatus::Running(_) => running += 1,
                    ImportStatus::Complete => {
                        t.registration_id = rec.state.device_registration_id.clone();
                        self.tell(Progress::Finished {
                            serial: t.p.serial.clone(),
                            phase: super::bench::ImportPhase::Complete,
                            registration_id: t.registration_id.clone(),
                            message: None,
                        })
                        .await;
                        let msg = format!("{}: imported", t.p.serial);
                        self.say(msg);
                        self.delete_record(&t.p.serial, &id, "complete").await;
                    }
                    ImportStatus::Error { code, name } => {
                        let e = codes::explain(code, &name);
                        let msg = e.to_string();
                        self.say(format!("{}: {msg}", t.p.serial));
                        self.tell(Progress::Finished {
                            serial: t.p.serial.clone(),
                            phase: if e.already_here {
                                super::bench::ImportPhase::AlreadyRegistered
                            } else {
                                super::bench::ImportPhase::Error
                            },
                            registration_id: None,
                            message: Some(msg.clone()),
                        })
                        .await;
                        t.outcome = Some(if e.already_here {
                            Outcome::AlreadyRegistered(msg)
                        } else {
                            Outcome::ImportError(msg)
                        });
                        self.delete_record(&t.p.serial, &id, &format!("error {}", e.label))
                            .await;
                    }
                }
            }
            if running == 0 {
                return;
            }
            if began.elapsed() >= self.pacing.import_timeout {
                for t in tracks.iter_mut() {
                    if t.import_id.is_some() && t.outcome.is_none() && t.registration_id.is_none() {
                        t.outcome = Some(Outcome::StillImporting);
                    }
                }
                self.say(format!(
                    "{running} import(s) still running after {}; their import records are kept: run `stagehand autopilot import` later or look in Intune",
                    human(self.pacing.import_timeout)
                ));
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.pacing.poll_max);
        }
    }

    /// Deletes a finished import record (Microsoft's guidance), audited.
    async fn delete_record(&mut self, serial: &str, id: &str, status: &str) {
        let Some(mut rec) = self.before("delete_autopilot_import_record") else {
            return;
        };
        rec.serial = Some(serial.to_string());
        rec.device_id = Some(id.to_string());
        rec.from = Some(status.to_string());
        if !self.audit(&rec).await {
            return;
        }
        let result = match api::delete_import(self.client, id).await {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        self.audit(&rec.after(Utc::now(), &result)).await;
    }

    async fn wait_profiles(&mut self, tracks: &mut [Track]) -> u32 {
        let began = Instant::now();
        let mut delay = self.pacing.poll_first;
        let mut last_sync: Option<Instant> = None;
        let mut syncs = 0;
        loop {
            let mut waiting = 0;
            let mut assigned = 0;
            for t in tracks.iter_mut() {
                let wanted = match &t.outcome {
                    None => t.registration_id.is_some(),
                    Some(Outcome::AlreadyRegistered(_)) => true,
                    _ => false,
                };
                if !wanted {
                    continue;
                }
                let found = match (&t.registration_id, &t.outcome) {
                    (Some(id), None) => api::get_device(self.client, id).await,
                    _ => api::devices_by_serial(self.client, &t.p.serial)
                        .await
                        .map(|v| v.into_iter().next()),
                };
                let dev: Option<AutopilotDevice> = match found {
                    Ok(d) => d,
                    Err(e) => {
                        self.say(format!("{}: reading the Autopilot device: {e}", t.p.serial));
                        waiting += 1;
                        continue;
                    }
                };
                match dev {
                    Some(d) if d.is_assigned() => {
                        assigned += 1;
                        let profile = d
                            .deployment_profile_assignment_status
                            .clone()
                            .unwrap_or_default();
                        self.say(format!("{}: profile assigned ({profile})", t.p.serial));
                        t.outcome = Some(Outcome::Assigned {
                            device_id: d.id,
                            profile,
                        });
                    }
                    Some(d)
                        if d.deployment_profile_assignment_status.as_deref() == Some("failed") =>
                    {
                        let why = d
                            .deployment_profile_assignment_detailed_status
                            .clone()
                            .unwrap_or_else(|| "none".into());
                        let msg = if why == "hardwareRequirementsNotMet" {
                            "profile assignment failed: the device does not meet the profile's hardware requirements (self-deploying and pre-provisioning need TPM 2.0)".to_string()
                        } else {
                            format!("profile assignment failed ({why})")
                        };
                        self.say(format!("{}: {msg}", t.p.serial));
                        t.outcome = Some(Outcome::ProfileFailed(msg));
                    }
                    other => {
                        if let Some(d) = other {
                            t.registration_id.get_or_insert(d.id);
                        }
                        waiting += 1;
                    }
                }
            }
            if waiting == 0 {
                return syncs;
            }
            let elapsed = began.elapsed();
            if elapsed >= self.pacing.profile_timeout {
                for t in tracks.iter_mut() {
                    match &t.outcome {
                        None => {
                            t.outcome = Some(Outcome::Imported {
                                device_id: t.registration_id.clone(),
                                profile: Some("not assigned yet".into()),
                            })
                        }
                        Some(Outcome::AlreadyRegistered(m)) => {
                            t.outcome = Some(Outcome::Imported {
                                device_id: t.registration_id.clone(),
                                profile: Some(format!("{m}; profile not assigned yet")),
                            })
                        }
                        _ => {}
                    }
                }
                self.say(format!(
                    "{waiting} device(s) still waiting for profile assignment after {}: check that a deployment profile targets their group (group tag)",
                    human(self.pacing.profile_timeout)
                ));
                return syncs;
            }
            self.say(format!(
                "waiting for profile assignment: {} ({waiting} waiting, {assigned} assigned this round)",
                human(elapsed)
            ));
            // At most one sync request per gap, whatever its answer.
            if last_sync.is_none_or(|t| t.elapsed() >= self.pacing.sync_gap) {
                if self.maybe_sync().await {
                    syncs += 1;
                }
                last_sync = Some(Instant::now());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.pacing.poll_max);
        }
    }

    /// Asks for a sync unless the service says one ran within the gap; true when one was sent
    /// and accepted. 409 and 429 mean "a sync is pending", never a failure.
    async fn maybe_sync(&mut self) -> bool {
        if let Ok(s) = api::sync_settings(self.client).await {
            let recent = s
                .last_manual_sync_trigger_date_time
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| {
                    let gap = chrono::Duration::from_std(self.pacing.sync_gap)
                        .unwrap_or(chrono::Duration::MAX);
                    // A clock ahead of ours (a sped-up simulator) proves nothing: ask.
                    let age = Utc::now().signed_duration_since(t);
                    age >= chrono::Duration::zero() && age < gap
                });
            if recent {
                return false;
            }
        }
        let Some(rec) = self.before("sync_autopilot") else {
            return false;
        };
        if !self.audit(&rec).await {
            return false;
        }
        let (result, ok) = match api::sync(self.client).await {
            Ok(SyncOutcome::Started) => ("ok".to_string(), true),
            Ok(SyncOutcome::Running) => ("a sync is already running (409)".to_string(), false),
            Ok(SyncOutcome::TooSoon) => (
                "the last sync was less than 10 minutes ago (429)".to_string(),
                false,
            ),
            Err(e) => (format!("error: {e}"), false),
        };
        self.audit(&rec.after(Utc::now(), &result)).await;
        self.say(format!("sync with the Autopilot service: {result}"));
        ok
    }
}

/// `6 min`, `45 s`, `1 h 5 min`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

//! State kept across poll cycles for every tracked serial: the observed timeline and the
//! single-device data read so far. Pure: the feed hands in what it listed, asks which reads to
//! make, records their answers, and gets the rows back.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::inputs::{
    DeviceRow, IdentityInput, LoggedOn, PrimaryRead, QueueInput, ReportRow, SingleDevice,
};
use super::plan::{self, Read, ReadsDone};
use super::row::{DeviceStatus, SharedRow, Sources};
use super::stage::{Inputs, Thresholds, derive};
use super::timeline::Timeline;
use crate::config::StagingConfig;
use crate::store::queue::serial_key;

/// What one cycle listed, keyed by `serial_key`.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// Serials to show, in the order given (queue order, then devices found by scope).
    pub serials: Vec<String>,
    pub queue: HashMap<String, QueueInput>,
    /// Stuck thresholds per serial (from its staging profile); the tracker default otherwise.
    pub thresholds: HashMap<String, Thresholds>,
    pub identities: HashMap<String, IdentityInput>,
    /// Shared with the rows built from them (their raw fields), not copied.
    pub devices: HashMap<String, Arc<DeviceRow>>,
    pub report: HashMap<String, Arc<ReportRow>>,
    /// Some source failed this cycle: what is shown may be old.
    pub poll_failed: bool,
}

/// One answer of a single-device read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAnswer {
    Details {
        enrolled_by: Option<Arc<str>>,
        users_logged_on: Vec<LoggedOn>,
    },
    Primary(PrimaryRead),
    /// `GET /users/{id}`: the UPN, or `None` when the user is gone (404).
    User {
        id: String,
        upn: Option<String>,
    },
}

#[derive(Debug, Clone, Default)]
struct Kept {
    timeline: Timeline,
    /// Shared with the rows built from it; a new answer copies it on write.
    single: Option<Arc<SingleDevice>>,
    reads: ReadsDone,
    /// The managed device the single data belongs to (a re-enrolled device gets a new id).
    device_id: Option<String>,
    /// The row published last cycle: handed out again while nothing in it changes.
    row: Option<SharedRow>,
}

#[derive(Debug, Clone)]
pub struct Tracker {
    staging: StagingConfig,
    default_thresholds: Thresholds,
    kept: HashMap<String, Kept>,
    /// User id -> UPN (`None`: deleted). Resolved once, shared by every device.
    users: HashMap<String, Option<Arc<str>>>,
}

impl Tracker {
    pub fn new(staging: StagingConfig, default_thresholds: Thresholds) -> Self {
        Self {
            staging,
            default_thresholds,
            kept: HashMap::new(),
            users: HashMap::new(),
        }
    }

    pub fn staging(&self) -> &StagingConfig {
        &self.staging
    }

    /// Enrolled-by as last read for this serial.
    pub fn enrolled_by(&self, serial: &str) -> Option<&str> {
        self.kept
            .get(&serial_key(serial))
            .and_then(|k| k.single.as_ref())
            .and_then(|s| s.enrolled_by.as_deref())
    }

    fn derive_at(&self, key: &str, l: &Listed, now: DateTime<Utc>) -> super::stage::Derived {
        let kept = self.kept.get(key);
        let device = l.devices.get(key);
        // Single data read for another managed device id does not apply.
        let single = kept
            .filter(|k| k.device_id.as_deref() == device.map(|d| &*d.id))
            .and_then(|k| k.single.as_ref());
        derive(&Inputs {
            queue: l.queue.get(key),
            identity: l.identities.get(key),
            device: device.map(|d| &**d),
            single: single.map(|s| &**s),
            report: l.report.get(key).map(|r| &**r),
            staging: &self.staging,
            thresholds: l.thresholds.get(key).unwrap_or(&self.default_thresholds),
            previous: kept.and_then(|k| k.timeline.current()),
            poll_failed: l.poll_failed,
            now,
        })
    }

    /// The single-device reads this cycle needs: `(serial key, managed device id, read)`, at most
    /// one per device (see `plan`).
    pub fn plan(&self, l: &Listed, now: DateTime<Utc>) -> Vec<(String, String, Read)> {
        let none = ReadsDone::default();
        let mut by_id: HashMap<&str, String> = HashMap::new();
        let mut candidates = Vec::new();
        for serial in &l.serials {
            let key = serial_key(serial);
            let Some(device) = l.devices.get(&key) else {
                continue;
            };
            let stage = self.derive_at(&key, l, now).stage;
            let kept = self
                .kept
                .get(&key)
                .filter(|k| k.device_id.as_deref() == Some(&*device.id));
            let unresolved = kept
                .and_then(|k| k.single.as_ref())
                .and_then(|s| self.unresolved(s));
            candidates.push(plan::Candidate {
                device_id: &device.id,
                stage,
                has_device: true,
                done: kept.map_or(&none, |k| &k.reads),
                unresolved,
            });
            by_id.insert(&device.id, key);
        }
        plan::plan_reads(candidates)
            .into_iter()
            .filter_map(|(id, read)| by_id.get(id).map(|k| (k.clone(), id.to_string(), read)))
            .collect()
    }

    /// A logged-on user id that is not the primary user and not resolved yet.
    fn unresolved<'a>(&self, s: &'a SingleDevice) -> Option<&'a str> {
        let primary = match &s.primary {
            PrimaryRead::User(u) => Some(u.id.as_str()),
            _ => None,
        };
        s.users_logged_on
            .iter()
            .filter(|l| l.upn.is_none() && Some(l.user_id.as_str()) != primary)
            .map(|l| l.user_id.as_str())
            .find(|id| !self.users.contains_key(*id))
    }

    /// Fills in resolved UPNs and drops deleted users from a device's logons.
    fn apply_users(users: &HashMap<String, Option<Arc<str>>>, single: &mut SingleDevice) {
        single
            .users_logged_on
            .retain_mut(|l| match users.get(&l.user_id) {
                Some(Some(upn)) => {
                    l.upn = Some(upn.clone());
                    true
                }
                Some(None) => false,
                None => true,
            });
    }

    /// Records one read's answer for `serial` whose managed device is `device_id`.
    pub fn record(&mut self, serial: &str, device_id: &str, answer: ReadAnswer, at: DateTime<Utc>) {
        let kept = self.kept.entry(serial_key(serial)).or_default();
        if kept.device_id.as_deref() != Some(device_id) {
            kept.device_id = Some(device_id.to_string());
            kept.single = None;
            kept.reads = ReadsDone::default();
        }
        // The row published last shares the current answers: build the next ones beside them and
        // keep the old `Arc` when nothing changed (the usual case for a device read again), so a
        // poll does not hold a second copy of every device's single-device data.
        let current = kept.single.as_deref();
        let mut next = match answer {
            ReadAnswer::Details {
                enrolled_by,
                users_logged_on,
            } => {
                kept.reads.details = Some(at);
                SingleDevice {
                    enrolled_by,
                    users_logged_on,
                    primary: current.map(|s| s.primary.clone()).unwrap_or_default(),
                }
            }
            ReadAnswer::Primary(p) => {
                if let PrimaryRead::User(u) = &p {
                    self.users.insert(u.id.clone(), Some(u.upn.clone()));
                }
                kept.reads.primary_user = Some(at);
                SingleDevice {
                    primary: p,
                    ..current.cloned().unwrap_or_default()
                }
            }
            ReadAnswer::User { id, upn } => {
                self.users.insert(id, upn.map(Arc::from));
                current.cloned().unwrap_or_default()
            }
        };
        Self::apply_users(&self.users, &mut next);
        if kept.single.as_deref() != Some(&next) {
            kept.single = Some(Arc::new(next));
        }
    }

    /// Derives every listed serial, records stage changes, and returns the rows. A row equal to
    /// the one published last cycle is the same `Arc`, so an unchanged fleet allocates no rows.
    pub fn finish(&mut self, l: &Listed, now: DateTime<Utc>) -> Vec<SharedRow> {
        let mut rows = Vec::with_capacity(l.serials.len());
        for serial in &l.serials {
            let key = serial_key(serial);
            let d = self.derive_at(&key, l, now);
            let kept = self.kept.entry(key.clone()).or_default();
            kept.timeline.observe(d.stage, d.since);
            let device = l.devices.get(&key);
            let single = kept
                .single
                .as_ref()
                .filter(|_| kept.device_id.as_deref() == device.map(|d| &*d.id));
            let src = Sources {
                identity: l.identities.get(&key),
                device,
                single,
                report: l.report.get(&key),
            };
            let row = DeviceStatus::build(serial, d, src, kept.timeline.shared());
            let shared = match &kept.row {
                Some(old) if **old == row => old.clone(),
                _ => SharedRow::new(row),
            };
            kept.row = Some(shared.clone());
            rows.push(shared);
        }
        rows
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;

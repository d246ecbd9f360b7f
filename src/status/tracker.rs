//! State kept across poll cycles for every tracked serial: the observed timeline and the
//! single-device data read so far, each read keyed on the list row it was answered under. Pure:
//! the poller hands in what it listed, asks which reads to make, records their answers, and gets
//! the rows back.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::inputs::{
    DeviceRow, IdentityInput, LoggedOn, PrimaryRead, QueueInput, ReportRow, SingleDevice,
};
use super::plan::{self, Read, ReadsDone, RowKey, Wanted};
use super::row::{DeviceStatus, SharedRow, Sources};
use super::stage::Stage;
use super::stage::{Inputs, Thresholds, derive};
use super::timeline::Timeline;
use crate::config::StagingConfig;
use crate::serial::SerialKey;
use crate::store::timeline::{StageChange, Timelines};

/// What one cycle listed, keyed by [`SerialKey`].
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// Serials to show, in the order given (queue order, then devices found by scope), each with
    /// its key, made once when it is listed: a cycle never normalises a serial again.
    pub serials: Vec<ListedSerial>,
    pub queue: HashMap<SerialKey, QueueInput>,
    /// Stuck thresholds per serial (from its staging profile); the tracker default otherwise.
    pub thresholds: HashMap<SerialKey, Thresholds>,
    pub identities: HashMap<SerialKey, IdentityInput>,
    /// Shared with the rows built from them (their raw fields), not copied.
    pub devices: HashMap<SerialKey, Arc<DeviceRow>>,
    pub report: HashMap<SerialKey, Arc<ReportRow>>,
    /// Some source failed this cycle: what is shown may be old.
    pub poll_failed: bool,
}

/// A listed serial: as given (what its row shows) and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSerial {
    pub serial: String,
    pub key: SerialKey,
}

impl ListedSerial {
    pub fn new(serial: &str) -> Self {
        Self {
            serial: serial.to_string(),
            key: SerialKey::new(serial),
        }
    }
}

impl From<&str> for ListedSerial {
    fn from(serial: &str) -> Self {
        Self::new(serial)
    }
}

/// One answer of a single-device read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAnswer {
    Details {
        enrolled_by: Option<Arc<str>>,
        users_logged_on: Vec<LoggedOn>,
    },
    Primary(PrimaryRead),
}

/// One read the tracker asks for: `read` of managed device `device_id` (serial key `serial`),
/// whose list row shows `row` now; the answer is recorded under that key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRead {
    pub serial: SerialKey,
    pub device_id: String,
    pub read: Read,
    pub row: RowKey,
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
    kept: HashMap<SerialKey, Kept>,
    /// User id -> UPN (`None`: deleted). Resolved once, shared by every device.
    users: HashMap<String, Option<Arc<str>>>,
    /// Stage changes observed and not yet handed to the store; `None` when nobody keeps them
    /// (a one-off report), so nothing piles up.
    unsaved: Option<Vec<StageChange>>,
}

impl Tracker {
    pub fn new(staging: StagingConfig, default_thresholds: Thresholds) -> Self {
        Self {
            staging,
            default_thresholds,
            kept: HashMap::new(),
            users: HashMap::new(),
            unsaved: None,
        }
    }

    /// Takes up the timelines an earlier run observed (the store's `stage_timeline`), so "in
    /// stage since" and the timeline continue where they were, and from now on keeps every
    /// observed change for [`Tracker::take_changes`]. A stage name this version does not know is
    /// skipped.
    pub fn restore(&mut self, timelines: &Timelines) {
        for (key, changes) in timelines {
            let mut timeline = Timeline::default();
            for (at, name) in changes {
                if let Some(stage) = Stage::from_label(name) {
                    timeline.observe(stage, *at);
                }
            }
            self.kept.entry(key.clone()).or_default().timeline = timeline;
        }
        self.unsaved.get_or_insert_with(Vec::new);
    }

    /// The stage changes observed since the last call, oldest first (empty unless
    /// [`Tracker::restore`] turned keeping them on).
    pub fn take_changes(&mut self) -> Vec<StageChange> {
        self.unsaved
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Hands back changes that could not be saved, to go with the next ones.
    pub fn unsaved(&mut self, mut changes: Vec<StageChange>) {
        if let Some(unsaved) = &mut self.unsaved {
            changes.append(unsaved);
            *unsaved = changes;
        }
    }

    pub fn staging(&self) -> &StagingConfig {
        &self.staging
    }

    /// Enrolled-by as last read for this serial.
    pub fn enrolled_by(&self, key: &SerialKey) -> Option<&str> {
        self.kept
            .get(key)
            .and_then(|k| k.single.as_ref())
            .and_then(|s| s.enrolled_by.as_deref())
    }

    fn derive_at(&self, key: &SerialKey, l: &Listed, now: DateTime<Utc>) -> super::stage::Derived {
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

    /// The stage of every listed serial as the data at hand derives it (before this cycle's
    /// reads), for deciding what to read.
    pub fn stages<'a>(
        &'a self,
        l: &'a Listed,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = Stage> + 'a {
        l.serials
            .iter()
            .map(move |s| self.derive_at(&s.key, l, now).stage)
    }

    /// The slow sources (report, identities) the tracked devices need now.
    pub fn wanted(&self, l: &Listed, now: DateTime<Utc>) -> Wanted {
        plan::wanted(self.stages(l, now))
    }

    /// The device reads this cycle needs, at most one of each kind per device (see `plan`).
    /// `force`: the lead asked for a refresh; every readable device is read again.
    pub fn plan(&self, l: &Listed, now: DateTime<Utc>, force: bool) -> Vec<PlannedRead> {
        let none = ReadsDone::default();
        let mut rows: Vec<(&SerialKey, &str, RowKey)> = Vec::new();
        let mut stages = Vec::new();
        for ListedSerial { key, .. } in &l.serials {
            let Some(device) = l.devices.get(key) else {
                continue;
            };
            stages.push(self.derive_at(key, l, now).stage);
            rows.push((key, &*device.id, RowKey::of(device)));
        }
        let candidates = rows.iter().zip(&stages).map(|((key, id, row), stage)| {
            let kept = self
                .kept
                .get(*key)
                .filter(|k| k.device_id.as_deref() == Some(*id));
            plan::Candidate {
                device_id: id,
                stage: *stage,
                done: kept.map_or(&none, |k| &k.reads),
                row,
            }
        });
        let by_id: HashMap<&str, (&SerialKey, &RowKey)> =
            rows.iter().map(|(k, id, row)| (*id, (*k, row))).collect();
        plan::plan_reads(candidates, force)
            .into_iter()
            .filter_map(|(id, read)| {
                by_id.get(id).map(|(serial, row)| PlannedRead {
                    serial: SerialKey::clone(serial),
                    device_id: id.to_string(),
                    read,
                    row: (*row).clone(),
                })
            })
            .collect()
    }

    /// Logged-on user ids of the listed devices that were never looked up (each id once per
    /// session, whichever devices it signed in to), sorted.
    pub fn unresolved_users(&self, l: &Listed) -> Vec<String> {
        let mut ids = BTreeSet::new();
        for ListedSerial { key, .. } in &l.serials {
            let Some(device) = l.devices.get(key) else {
                continue;
            };
            let single = self
                .kept
                .get(key)
                .filter(|k| k.device_id.as_deref() == Some(&*device.id))
                .and_then(|k| k.single.as_deref());
            if let Some(s) = single {
                ids.extend(self.unresolved(s).map(str::to_string));
            }
        }
        ids.into_iter().collect()
    }

    /// Reads and look-ups the next cycle would still make with the same listing: what failed
    /// or could not be planned yet. Zero once every tracked device's data is complete.
    pub fn pending(&self, l: &Listed, now: DateTime<Utc>) -> usize {
        self.plan(l, now, false).len() + self.unresolved_users(l).len()
    }

    /// Logged-on user ids of a device that are not its primary user and were never looked up.
    fn unresolved<'a>(&'a self, s: &'a SingleDevice) -> impl Iterator<Item = &'a str> + 'a {
        let primary = match &s.primary {
            PrimaryRead::User(u) => Some(u.id.as_str()),
            _ => None,
        };
        s.users_logged_on
            .iter()
            .filter(move |l| l.upn.is_none() && Some(l.user_id.as_str()) != primary)
            .map(|l| l.user_id.as_str())
            .filter(|id| !self.users.contains_key(*id))
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

    /// Records one read's answer for `serial` whose managed device is `device_id`, answered
    /// while its list row showed `row`.
    pub fn record(
        &mut self,
        serial: impl Into<SerialKey>,
        device_id: &str,
        answer: ReadAnswer,
        row: RowKey,
    ) {
        let kept = self.kept.entry(serial.into()).or_default();
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
                kept.reads.details = Some(row);
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
                kept.reads.primary_user = Some(row);
                SingleDevice {
                    primary: p,
                    ..current.cloned().unwrap_or_default()
                }
            }
        };
        Self::apply_users(&self.users, &mut next);
        if kept.single.as_deref() != Some(&next) {
            kept.single = Some(Arc::new(next));
        }
    }

    /// Records look-ups of logged-on user ids (`None`: the user is gone, 404) and fills them in
    /// on every device they signed in to.
    pub fn record_users(&mut self, answers: impl IntoIterator<Item = (String, Option<String>)>) {
        let mut any = false;
        for (id, upn) in answers {
            self.users.insert(id, upn.map(Arc::from));
            any = true;
        }
        if !any {
            return;
        }
        let users = &self.users;
        for kept in self.kept.values_mut() {
            let Some(single) = kept.single.as_deref() else {
                continue;
            };
            let touched = single
                .users_logged_on
                .iter()
                .any(|l| l.upn.is_none() && users.contains_key(&l.user_id));
            if touched {
                let mut next = single.clone();
                Self::apply_users(users, &mut next);
                kept.single = Some(Arc::new(next));
            }
        }
    }

    /// Derives every listed serial, records stage changes, and returns the rows. A row equal to
    /// the one published last cycle is the same `Arc`, so an unchanged fleet allocates no rows.
    pub fn finish(&mut self, l: &Listed, now: DateTime<Utc>) -> Vec<SharedRow> {
        let mut rows = Vec::with_capacity(l.serials.len());
        for ListedSerial { serial, key } in &l.serials {
            let d = self.derive_at(key, l, now);
            let kept = self.kept.entry(key.clone()).or_default();
            if kept.timeline.observe(d.stage, d.since)
                && let Some(unsaved) = &mut self.unsaved
            {
                unsaved.push(StageChange {
                    serial: key.clone(),
                    at: d.since,
                    stage: d.stage.label().to_string(),
                });
            }
            let device = l.devices.get(key);
            let single = kept
                .single
                .as_ref()
                .filter(|_| kept.device_id.as_deref() == device.map(|d| &*d.id));
            let src = Sources {
                identity: l.identities.get(key),
                device,
                single,
                report: l.report.get(key),
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

//! The status poller: one cycle reads Graph for every tracked device and hands back the rows.
//! The console's status feed and `stagehand status` both drive it.
//!
//! One cycle: `managedDevices` listed once (`$filter=enrolledDateTime gt <window start>`, a
//! `$select` of what the pane needs, pages of 1,000) and matched to serials client-side; the
//! `AutopilotV2DeploymentStatus` export only while some device is enrolled or provisioning, the
//! corporate identifiers only while some device is queued or registered, both on a slower
//! cadence; then the single-device reads the tracker plans (only devices whose list row moved,
//! see `plan`) in `$batch`es of 20, and a second round for logged-on user ids never seen before.
//! The cost model with figures is in docs/cost.md.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::plan::{self, Cadence, Read};
use super::tracker::{ListedSerial, PlannedRead};
use super::{
    DeviceRow, EnrollmentState, IdentityInput, Listed, LoggedOn, PrimaryRead, QueueInput,
    ReadAnswer, ReportRow, SharedRow, Thresholds, Tracker, UserRef,
};
use crate::config::Config;
use crate::graph::models::{ImportedDeviceIdentity, ManagedDevice, ManagedDeviceSummary, User};
use crate::graph::ops::AutopilotDeployment;
use crate::graph::{BatchRequest, BatchResponse, DeviceFilter, GraphClient, GraphError};
use crate::serial::SerialKey;
use crate::store::{QueueEntry, StoreClient};

/// The list `$select`: only what the pane and the derivation read.
pub const DEVICE_SELECT: &[&str] = &[
    "id",
    "deviceName",
    "serialNumber",
    "userPrincipalName",
    "enrolledDateTime",
    "lastSyncDateTime",
    "complianceState",
];

/// Batches whose answers are held at once (each chunk is whole batches, so the count of batch
/// requests stays ceil(K / 20)).
const READS_IN_FLIGHT: usize = 5;

/// What one cycle cost, for tests, benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleCost {
    pub tracked: usize,
    /// Device reads (details and `/users`) this cycle.
    pub device_reads: usize,
    /// Logged-on user ids looked up this cycle.
    pub user_lookups: usize,
    /// Requests inside the batches: `device_reads + user_lookups`.
    pub single_reads: usize,
    pub batches: usize,
    pub report_ran: bool,
    pub identities_ran: bool,
    /// Listings of `windowsAutopilotDeviceIdentities` this cycle (at most one, whatever the
    /// number of devices queued from hash files).
    pub autopilot_lists: usize,
}

/// The deployment report by serial key, shared with the rows built from it.
type ReportMap = HashMap<SerialKey, Arc<ReportRow>>;

/// Polling state kept between cycles.
pub struct Poller {
    client: GraphClient,
    config: Config,
    tracker: Tracker,
    pub all_staged: bool,
    cadence: Cadence,
    report: Option<(DateTime<Utc>, ReportMap)>,
    identities: Option<(DateTime<Utc>, HashMap<SerialKey, IdentityInput>)>,
    /// The tracked devices as listed last cycle: a device listed again re-uses what did not
    /// change (the whole row, or its text), so two polls do not hold two copies.
    listed: HashMap<SerialKey, Arc<DeviceRow>>,
    pub last_cost: CycleCost,
    /// Some device was still moving at the last cycle (true before the first).
    pub moving: bool,
    /// Serials tracked besides the queue (`stagehand status --serial`).
    pub extra_serials: Vec<String>,
    /// The next cycle reads every readable device again (the lead pressed `r`).
    force: bool,
    /// Reads and look-ups the last cycle could not complete (failed, or not answerable yet).
    pending: usize,
    /// Devices queued from hash files (`autopilot_registrations`), by serial key: their rows
    /// show the import and the profile assignment until they enroll. Read from `autopilot_db`
    /// at each cycle when that is set.
    pub autopilot: HashMap<SerialKey, crate::autopilot::bench::Registration>,
    /// The database to read the registrations from at each cycle (a reader beside the writer).
    pub autopilot_db: Option<std::path::PathBuf>,
    /// The rows of hash devices last published, re-used while nothing about them changed.
    autopilot_rows: HashMap<SerialKey, SharedRow>,
    /// The Autopilot devices of the last listing, by serial key (kept while no listing runs).
    autopilot_devices: HashMap<SerialKey, crate::graph::ops::autopilot::AutopilotDevice>,
    /// Where the observed stage changes are kept (the store thread), once
    /// [`Poller::keep_timeline`] loaded what an earlier run saw.
    store: Option<StoreClient>,
}

impl Poller {
    pub fn new(client: GraphClient, config: Config) -> Self {
        let tracker = Tracker::new(config.staging.clone(), Thresholds::default());
        let cadence =
            Cadence::from_secs(config.status.poll_fast_secs, config.status.poll_slow_secs);
        Self {
            client,
            config,
            tracker,
            all_staged: false,
            cadence,
            report: None,
            identities: None,
            listed: HashMap::new(),
            last_cost: CycleCost::default(),
            moving: true,
            extra_serials: Vec::new(),
            force: false,
            pending: 0,
            autopilot: HashMap::new(),
            autopilot_db: None,
            autopilot_rows: HashMap::new(),
            autopilot_devices: HashMap::new(),
            store: None,
        }
    }

    /// Keeps the observed timeline in the local store: loads the changes an earlier run saw (so
    /// "in stage since" and the timeline are the same after a restart) and, from the next cycle
    /// on, hands every stage change to the store thread, the one writer.
    pub async fn keep_timeline(&mut self, store: StoreClient) -> Result<(), String> {
        // Devices that left the bench long ago: their rows go, so the table stays small.
        let before = Utc::now() - chrono::Duration::days(crate::store::timeline::KEEP_DAYS);
        match store.prune_timelines(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                devices = n,
                "forgot stage timelines older than the retention"
            ),
            Err(e) => tracing::warn!(error = %e, "old stage timelines not forgotten"),
        }
        let timelines = store.timelines().await?;
        self.tracker.restore(&timelines);
        self.store = Some(store);
        Ok(())
    }

    /// Hands this cycle's stage changes to the store thread and waits for the commit (this runs
    /// in the poller's task, never on the console's loop). A failed write is logged and tried
    /// again with the next cycle's changes.
    async fn save_changes(&mut self) {
        let Some(store) = &self.store else {
            return;
        };
        let changes = self.tracker.take_changes();
        if changes.is_empty() {
            return;
        }
        if let Err(e) = store.record_stages(changes.clone()).await {
            tracing::warn!(error = %e, changes = changes.len(), "stage timeline not saved; trying again next poll");
            self.tracker.unsaved(changes);
        }
    }

    /// Reads the Autopilot registrations from `db` (the store's database file) at each cycle.
    pub fn with_autopilot_db(mut self, db: std::path::PathBuf) -> Self {
        self.autopilot_db = Some(db);
        self
    }

    pub fn cadence(&self) -> Cadence {
        self.cadence
    }

    /// The next cycle reads every tracked device's single-device data again, whether or not its
    /// list row moved: the lead asked (`r`).
    pub fn refresh_all(&mut self) {
        self.force = true;
    }

    /// Reads the last cycle left to do (device reads and user look-ups still planned, a report
    /// export or identity listing that failed): zero when every tracked device's data is
    /// complete. A one-shot answer polls until this is zero.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// One poll cycle. Errors only when the device list itself fails; a failed report, identity
    /// list or single read keeps the previous data and flags the rows stale.
    pub async fn cycle(
        &mut self,
        queue: &[impl Borrow<QueueEntry>],
        now: DateTime<Utc>,
    ) -> Result<Vec<SharedRow>, GraphError> {
        // The rows of two polls ago are gone by now (the pane holds the last poll's): hand the
        // holes they left back to the system before this poll allocates its own.
        crate::alloc::release_free();
        // Checked: a window reaching past chrono's calendar starts at its first day, never panics.
        let window = now
            .checked_sub_signed(chrono::Duration::hours(i64::from(
                self.config.status.window_hours,
            )))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut l = self.listed_from_queue(queue);
        l.devices = self.list_devices(window).await?;
        // The slow sources' maps are lent to this cycle (not copied) and handed back below.
        l.report = self
            .report
            .as_mut()
            .map(|(_, r)| std::mem::take(r))
            .unwrap_or_default();
        l.identities = self
            .identities
            .as_mut()
            .map(|(_, i)| std::mem::take(i))
            .unwrap_or_default();
        if self.all_staged {
            self.add_staged(&mut l);
        }
        let mut cost = CycleCost::default();
        let mut failed = false;
        // A slow source that was due and failed: the answer is not complete either.
        let mut slow_failed = 0;
        let wanted = self.tracker.wanted(&l, now);
        let moving = self.moving;
        let due = |last: Option<DateTime<Utc>>| plan::report_due(last, now, &self.cadence, moving);
        if wanted.report && due(self.report.as_ref().map(|(at, _)| *at)) {
            cost.report_ran = true;
            match self.export_report(&l.report).await {
                Ok(map) => {
                    l.report = map;
                    self.report = Some((now, HashMap::new()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "deployment report failed; keeping the previous one");
                    failed = true;
                    slow_failed += 1;
                }
            }
            if self.all_staged {
                // The report names who signed in during OOBE: more staged devices.
                self.add_staged(&mut l);
            }
        }
        // Read once whatever the stages (the rows show each device's enrollment state), then
        // only while a device waits to enroll.
        let identities_at = self.identities.as_ref().map(|(at, _)| *at);
        if (wanted.identities || identities_at.is_none()) && due(identities_at) {
            cost.identities_ran = true;
            match self.list_identities().await {
                Ok(ids) => {
                    l.identities = ids;
                    self.identities = Some((now, HashMap::new()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "identity list failed; keeping the previous one");
                    failed = true;
                    slow_failed += 1;
                }
            }
        }
        // Only tracked serials are kept.
        let tracked: HashSet<&SerialKey> = l.serials.iter().map(|s| &s.key).collect();
        l.devices.retain(|k, _| tracked.contains(k));

        // Round 1: the device reads whose answers may have changed.
        let reads = self.tracker.plan(&l, now, std::mem::take(&mut self.force));
        cost.device_reads = reads.len();
        cost.batches += plan::chunks(reads.len(), plan::BATCH_MAX);
        if !reads.is_empty()
            && let Err(e) = self.device_reads(&reads).await
        {
            tracing::warn!(error = %e, "single-device reads failed; rows marked stale");
            failed = true;
        }
        // Round 2: logged-on user ids the answers brought that were never looked up.
        let users = self.tracker.unresolved_users(&l);
        cost.user_lookups = users.len();
        cost.batches += plan::chunks(users.len(), plan::BATCH_MAX);
        if !users.is_empty()
            && let Err(e) = self.user_lookups(&users).await
        {
            tracing::warn!(error = %e, "user look-ups failed; rows marked stale");
            failed = true;
        }
        cost.single_reads = cost.device_reads + cost.user_lookups;
        l.poll_failed = failed;
        cost.tracked = l.serials.len();
        self.last_cost = cost;
        self.pending = self.tracker.pending(&l, now) + slow_failed;
        let rows = self.tracker.finish(&l, now);
        let rows = self.autopilot_rows(rows, &l.serials, now, &mut cost).await;
        self.last_cost = cost;
        self.save_changes().await;
        self.listed = std::mem::take(&mut l.devices);
        if let Some((_, r)) = &mut self.report {
            *r = std::mem::take(&mut l.report);
        }
        if let Some((_, i)) = &mut self.identities {
            *i = std::mem::take(&mut l.identities);
        }
        self.moving = plan::moving(rows.iter().map(|r| r.stage));
        Ok(rows)
    }

    /// The rows of devices queued from hash files, with where their registration stands: one
    /// listing of the Autopilot devices per cycle (none while no import has completed), matched
    /// by serial. Until a device enrolls its message is the registration's ("importing to
    /// Autopilot", "waiting for profile assignment: 6 min", …), and a wait for the profile past
    /// `PROFILE_STUCK_AFTER` flags it stuck. A failed listing keeps what the store knows and
    /// flags those rows stale. `listed` are the rows' serials, in the same order.
    async fn autopilot_rows(
        &mut self,
        mut rows: Vec<SharedRow>,
        listed: &[ListedSerial],
        now: DateTime<Utc>,
        cost: &mut CycleCost,
    ) -> Vec<SharedRow> {
        use crate::autopilot::bench;
        if let Some(db) = self.autopilot_db.clone() {
            match tokio::task::spawn_blocking(move || bench::load_file(&db)).await {
                Ok(Ok(regs)) => self.autopilot = regs,
                Ok(Err(e)) => tracing::warn!(error = %e, "Autopilot registrations unreadable"),
                Err(e) => tracing::warn!(error = %e, "Autopilot registrations unreadable"),
            }
        }
        if self.autopilot.is_empty() {
            self.autopilot_rows.clear();
            return rows;
        }
        let tracked: Vec<&bench::Registration> = listed
            .iter()
            .filter_map(|s| self.autopilot.get(&s.key))
            .collect();
        if tracked.is_empty() {
            self.autopilot_rows.clear();
            return rows;
        }
        let needed = autopilot_list_needed(&rows, listed, &self.autopilot, &self.autopilot_devices);
        let mut failed = false;
        if needed {
            cost.autopilot_lists = 1;
            match bench::devices_for(&self.client, &self.autopilot).await {
                Ok(d) => self.autopilot_devices = d,
                Err(e) => {
                    tracing::warn!(error = %e, "Autopilot device list failed; rows marked stale");
                    self.pending += 1;
                    failed = true;
                }
            }
        }
        let devices = &self.autopilot_devices;
        let mut kept = HashMap::new();
        for (row, ListedSerial { key, .. }) in rows.iter_mut().zip(listed) {
            let Some(reg) = self.autopilot.get(key) else {
                continue;
            };
            let view = bench::view_of(reg, devices.get(key), now);
            let new = bench::row_with(row, view, failed && bench::imported(reg));
            let shared = match self.autopilot_rows.get(key) {
                Some(old) if **old == new => old.clone(),
                _ => Arc::new(new),
            };
            *row = shared.clone();
            kept.insert(key.clone(), shared);
        }
        self.autopilot_rows = kept;
        rows
    }

    /// The queue's serials (then `--serial` ones), with their local state and thresholds.
    fn listed_from_queue(&self, queue: &[impl Borrow<QueueEntry>]) -> Listed {
        let mut l = Listed::default();
        for e in queue {
            let e = e.borrow();
            let key = SerialKey::new(&e.serial);
            l.serials.push(ListedSerial {
                serial: e.serial.clone(),
                key: key.clone(),
            });
            l.queue.insert(
                key.clone(),
                QueueInput {
                    state: e.state,
                    scanned_at: e.scanned_at,
                    message: e.message.clone(),
                },
            );
            // Only a profile that differs from the default costs an entry.
            if let Some(p) = self.config.profiles.get(&e.profile) {
                let th = Thresholds::from_profile_minutes(p.stuck_minutes);
                if th != Thresholds::default() {
                    l.thresholds.insert(key, th);
                }
            }
        }
        for s in &self.extra_serials {
            let key = SerialKey::new(s);
            if !l.queue.contains_key(&key) {
                l.serials.push(ListedSerial {
                    serial: s.clone(),
                    key,
                });
            }
        }
        l
    }

    /// The deployment report by serial. Rows are converted as the CSV is parsed: the report never
    /// sits in memory whole. A device whose row did not change since `previous` keeps the row it
    /// had (the rows on screen share it), so two exports do not hold two copies.
    async fn export_report(&self, previous: &ReportMap) -> Result<ReportMap, GraphError> {
        let mut map = HashMap::new();
        self.client
            .each_autopilot_v2_deployment(None, |r| {
                if !r.serial_number.is_empty() {
                    let key = SerialKey::new(&r.serial_number);
                    let row = report_row(&r);
                    let row = match previous.get(&key) {
                        Some(old) if **old == row => old.clone(),
                        _ => Arc::new(row),
                    };
                    map.insert(key, row);
                }
            })
            .await?;
        Ok(map)
    }

    /// Every managed device enrolled since `window`, as compact rows keyed by serial. Each page is
    /// converted as it arrives, so a 10,000-device fleet never sits in memory as full entities.
    async fn list_devices(
        &self,
        window: DateTime<Utc>,
    ) -> Result<HashMap<SerialKey, Arc<DeviceRow>>, GraphError> {
        let mut out = HashMap::new();
        let filter = DeviceFilter::EnrolledAfter(window);
        self.client
            .for_each_managed_device(Some(&filter), DEVICE_SELECT, |d: ManagedDeviceSummary| {
                let Some(serial) = d.serial_number.as_deref().filter(|s| !s.trim().is_empty())
                else {
                    return;
                };
                let key = SerialKey::new(serial);
                let row = device_row_like(d, self.listed.get(&key));
                out.insert(key, row);
            })
            .await?;
        Ok(out)
    }

    /// Corporate identifiers by serial, converted page by page.
    async fn list_identities(&self) -> Result<HashMap<SerialKey, IdentityInput>, GraphError> {
        let mut out = HashMap::new();
        self.client
            .for_each_imported_identity(|i| out.extend(identity(&i)))
            .await?;
        Ok(out)
    }

    /// Scope "all staged": every listed device a staging account enrolled (list UPN, report UPN
    /// or a single read's `enrolledByUserPrincipalName`).
    fn add_staged(&self, l: &mut Listed) {
        let staging = &self.config.staging;
        let tracked: HashSet<&SerialKey> = l.serials.iter().map(|s| &s.key).collect();
        let mut extra: Vec<SerialKey> = l
            .devices
            .iter()
            .filter(|(k, _)| !tracked.contains(*k))
            .filter(|(k, d)| {
                d.user_principal_name
                    .as_deref()
                    .is_some_and(|u| staging.is_staging(u))
                    || l.report
                        .get(*k)
                        .and_then(|r| r.upn.as_deref())
                        .is_some_and(|u| staging.is_staging(u))
                    || self
                        .tracker
                        .enrolled_by(k)
                        .is_some_and(|u| staging.is_staging(u))
            })
            .map(|(k, _)| k.clone())
            .collect();
        extra.sort();
        // Found by scope, not scanned: the row shows the key.
        l.serials.extend(extra.into_iter().map(|key| ListedSerial {
            serial: key.to_string(),
            key,
        }));
    }

    /// Runs the planned device reads in `$batch`es of 20, a few batches at a time, recording each
    /// answer as it comes: answers are not all held at once. A failed chunk stops the rest,
    /// unless only some answers in it were unusable.
    async fn device_reads(&mut self, reads: &[PlannedRead]) -> Result<(), GraphError> {
        let mut result = Ok(());
        for chunk in reads.chunks(plan::BATCH_MAX * READS_IN_FLIGHT) {
            let requests = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let req = match r.read {
                        Read::Details => BatchRequest::device_details(&r.device_id),
                        Read::PrimaryUser => BatchRequest::device_users(&r.device_id),
                    };
                    req.with_id(i.to_string())
                })
                .collect();
            let answers = self.client.batch(requests).await?;
            let mut unusable = 0;
            for (r, resp) in chunk.iter().zip(answers) {
                match device_answer(r.read, resp) {
                    Some(a) => {
                        self.tracker
                            .record(r.serial.clone(), &r.device_id, a, r.row.clone())
                    }
                    None => unusable += 1,
                }
            }
            if unusable > 0 {
                result = Err(GraphError::Invalid(format!(
                    "{unusable} single-device reads failed"
                )));
            }
        }
        result
    }

    /// Looks up logged-on user ids in `$batch`es of 20. A deleted user (404) is recorded as gone.
    async fn user_lookups(&mut self, ids: &[String]) -> Result<(), GraphError> {
        let mut result = Ok(());
        for chunk in ids.chunks(plan::BATCH_MAX * READS_IN_FLIGHT) {
            let requests = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| BatchRequest::user(id).with_id(i.to_string()))
                .collect();
            let answers = self.client.batch(requests).await?;
            let mut unusable = 0;
            let mut found = Vec::with_capacity(chunk.len());
            for (id, resp) in chunk.iter().zip(answers) {
                match resp.status {
                    200 => {
                        let u: Option<User> =
                            resp.body.and_then(|b| serde_json::from_value(b).ok());
                        found.push((id.clone(), u.and_then(|u| u.user_principal_name)));
                    }
                    404 => found.push((id.clone(), None)),
                    _ => unusable += 1,
                }
            }
            self.tracker.record_users(found);
            if unusable > 0 {
                result = Err(GraphError::Invalid(format!(
                    "{unusable} user look-ups failed"
                )));
            }
        }
        result
    }
}

/// A device read's answer, `None` when it failed or cannot be read.
fn device_answer(read: Read, resp: BatchResponse) -> Option<ReadAnswer> {
    if resp.status != 200 {
        return None;
    }
    let body = resp.body.unwrap_or_default();
    match read {
        Read::Details => {
            serde_json::from_value::<ManagedDevice>(body)
                .ok()
                .map(|d| ReadAnswer::Details {
                    enrolled_by: d.enrolled_by_user_principal_name.map(Arc::from),
                    users_logged_on: d
                        .users_logged_on
                        .into_iter()
                        .filter_map(|u| {
                            Some(LoggedOn {
                                user_id: u.user_id?,
                                upn: None,
                                at: u.last_log_on_date_time?,
                            })
                        })
                        .collect(),
                })
        }
        Read::PrimaryUser => {
            let users: Vec<User> =
                serde_json::from_value(body.get("value")?.clone()).unwrap_or_default();
            Some(ReadAnswer::Primary(match users.into_iter().next() {
                Some(User {
                    id: Some(id),
                    user_principal_name: Some(upn),
                    ..
                }) => PrimaryRead::User(UserRef {
                    id,
                    upn: upn.into(),
                }),
                _ => PrimaryRead::NoUser,
            }))
        }
    }
}

/// `device_row`, re-using `previous` when nothing changed, and its text where it is the same.
fn device_row_like(d: ManagedDeviceSummary, previous: Option<&Arc<DeviceRow>>) -> Arc<DeviceRow> {
    let Some(p) = previous else {
        return Arc::new(device_row(d));
    };
    let same = |old: &Arc<str>, new: String| {
        if **old == *new {
            old.clone()
        } else {
            Arc::from(new)
        }
    };
    let row = DeviceRow {
        compliance: d.compliance_state,
        id: same(&p.id, d.id),
        device_name: same(&p.device_name, d.device_name.unwrap_or_default()),
        user_principal_name: match (&p.user_principal_name, d.user_principal_name) {
            (Some(old), Some(new)) => Some(same(old, new)),
            (_, new) => new.map(Arc::from),
        },
        enrolled_at: d.enrolled_date_time,
        last_sync: d.last_sync_date_time,
    };
    if row == **p { p.clone() } else { Arc::new(row) }
}

fn device_row(d: ManagedDeviceSummary) -> DeviceRow {
    DeviceRow {
        compliance: d.compliance_state,
        id: d.id.into(),
        device_name: d.device_name.unwrap_or_default().into(),
        user_principal_name: d.user_principal_name.map(Arc::from),
        enrolled_at: d.enrolled_date_time,
        last_sync: d.last_sync_date_time,
    }
}

/// The serial of an identity: the last field of `manufacturer,model,serial`, else the whole value.
fn identity(i: &ImportedDeviceIdentity) -> Option<(SerialKey, IdentityInput)> {
    let value = i.imported_device_identifier.as_deref()?;
    let serial = value.rsplit([',', ';']).next().unwrap_or(value);
    // A member this build does not know reads as `unknown`, as a missing one does.
    let state = match i.enrollment_state {
        None | Some(EnrollmentState::Other) => EnrollmentState::Unknown,
        Some(s) => s,
    };
    Some((
        SerialKey::new(serial),
        IdentityInput {
            enrollment_state: state,
            last_contacted: i.last_contacted_date_time,
        },
    ))
}

fn report_row(r: &AutopilotDeployment) -> ReportRow {
    ReportRow {
        deployment_status: r.deployment_status.as_str().into(),
        phase: r.current_provisioning_phase.clone(),
        result_code: r.result_code.clone(),
        upn: (!r.upn.is_empty()).then(|| r.upn.clone()),
        enrollment_time: parse_time(&r.enrollment_time_utc),
    }
}

/// Report timestamps arrive as RFC 3339 or as a naive UTC date-time.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
#[path = "poll_tests.rs"]
mod tests;

/// Whether this cycle lists the Autopilot devices: while some imported registration still
/// waits for its profile, or its device has not enrolled. Once each is assigned and enrolled
/// nothing the listing says can change its row, so the whole-tenant listing stops.
fn autopilot_list_needed(
    rows: &[SharedRow],
    listed: &[ListedSerial],
    regs: &HashMap<SerialKey, crate::autopilot::bench::Registration>,
    last: &HashMap<SerialKey, crate::graph::ops::autopilot::AutopilotDevice>,
) -> bool {
    rows.iter().zip(listed).any(|(r, l)| {
        regs.get(&l.key).is_some_and(|reg| {
            crate::autopilot::bench::imported(reg)
                && !(r.managed_device_id.is_some()
                    && last.get(&l.key).is_some_and(|d| d.is_assigned()))
        })
    })
}

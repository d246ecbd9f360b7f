//! The status feed: polls Graph for every tracked device and sends the whole table to the app.
//!
//! One cycle: `managedDevices` listed once (`$filter=enrolledDateTime gt <window start>`, a
//! `$select` of what the pane needs, pages of 1,000) and matched to serials client-side; the
//! corporate identifiers and the `AutopilotV2DeploymentStatus` export on a slower cadence; then
//! the single-device reads the tracker plans, at most one per device, in `$batch`es of 20.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

use crate::app::Msg;
use crate::app::status::{StatusCmd, StatusMsg};
use crate::config::Config;
use crate::graph::models::{
    ComplianceState, ImportedDeviceIdentity, ManagedDevice, ManagedDeviceSummary, User,
};
use crate::graph::odata::Query;
use crate::graph::{BatchRequest, GraphClient, GraphError};
use crate::status::plan::{self, Cadence, Read};
use crate::status::{
    DeviceRow, EnrollmentState, IdentityInput, Listed, LoggedOn, PrimaryRead, QueueInput,
    ReadAnswer, ReportRow, SharedRow, Thresholds, Tracker, UserRef,
};
use crate::store::QueueEntry;
use crate::store::queue::serial_key;

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

/// What one cycle cost, for tests and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleCost {
    pub tracked: usize,
    /// Devices that got a single-device read this cycle.
    pub single_reads: usize,
    pub batches: usize,
    pub report_ran: bool,
    pub identities_ran: bool,
}

/// The deployment report by serial key, shared with the rows built from it.
type ReportMap = HashMap<String, Arc<ReportRow>>;

/// Polling state kept between cycles. Used by the feed task and by `stagehand status`.
pub struct Poller {
    client: GraphClient,
    config: Config,
    tracker: Tracker,
    pub all_staged: bool,
    cadence: Cadence,
    report: Option<(DateTime<Utc>, ReportMap)>,
    identities: Option<HashMap<String, IdentityInput>>,
    /// The tracked devices as listed last cycle: a device listed again re-uses what did not
    /// change (the whole row, or its text), so two polls do not hold two copies.
    listed: HashMap<String, Arc<DeviceRow>>,
    pub last_cost: CycleCost,
    /// Some device was still moving at the last cycle (true before the first).
    pub moving: bool,
    /// Serials tracked besides the queue (`stagehand status --serial`).
    pub extra_serials: Vec<String>,
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
        }
    }

    pub fn cadence(&self) -> Cadence {
        self.cadence
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
        let devices = self.list_devices(window).await?;
        let mut l = Listed::default();
        let mut failed = false;
        for e in queue {
            let e = e.borrow();
            let key = serial_key(&e.serial);
            l.serials.push(e.serial.clone());
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
            if !l.queue.contains_key(&serial_key(s)) {
                l.serials.push(s.clone());
            }
        }
        l.devices = devices;
        let moving = self.moving;
        let mut cost = CycleCost::default();
        if plan::report_due(
            self.report.as_ref().map(|(at, _)| *at),
            now,
            &self.cadence,
            moving,
        ) {
            cost.report_ran = true;
            // Rows are converted as the CSV is parsed: the report never sits in memory whole. A
            // device whose row did not change since the last export keeps the row it had (the
            // rows on screen share it), so two exports do not hold two copies.
            let mut map = HashMap::new();
            let previous = self.report.as_ref().map(|(_, m)| m);
            let result = self
                .client
                .each_autopilot_v2_deployment(None, |r| {
                    if !r.serial_number.is_empty() {
                        let key = serial_key(&r.serial_number);
                        let row = report_row(&r);
                        let row = match previous.and_then(|m| m.get(&key)) {
                            Some(old) if **old == row => old.clone(),
                            _ => Arc::new(row),
                        };
                        map.insert(key, row);
                    }
                })
                .await;
            match result {
                Ok(_) => self.report = Some((now, map)),
                Err(e) => {
                    tracing::warn!(error = %e, "deployment report failed; keeping the previous one");
                    failed = true;
                }
            }
        }
        // Identities only tell failed/blocked apart (a new device shows in the device list): they
        // run with the report, on the slower cadence.
        let need_identities = self.identities.is_none() || cost.report_ran;
        if need_identities {
            cost.identities_ran = true;
            match self.list_identities().await {
                Ok(ids) => self.identities = Some(ids),
                Err(e) => {
                    tracing::warn!(error = %e, "identity list failed; keeping the previous one");
                    failed = true;
                }
            }
        }
        // The slow-cadence maps are lent to this cycle (not copied) and handed back below.
        l.report = self
            .report
            .as_mut()
            .map(|(_, r)| std::mem::take(r))
            .unwrap_or_default();
        l.identities = self
            .identities
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        if self.all_staged {
            self.add_staged(&mut l);
        }
        // Only tracked serials are kept.
        let tracked: std::collections::HashSet<String> =
            l.serials.iter().map(|s| serial_key(s)).collect();
        l.devices.retain(|k, _| tracked.contains(k));

        let reads = self.tracker.plan(&l, now);
        cost.single_reads = reads.len();
        cost.batches = plan::chunks(reads.len(), plan::BATCH_MAX);
        if !reads.is_empty()
            && let Err(e) = self.single_reads(&reads, now).await
        {
            tracing::warn!(error = %e, "single-device reads failed; rows marked stale");
            failed = true;
        }
        l.poll_failed = failed;
        cost.tracked = l.serials.len();
        self.last_cost = cost;
        let rows = self.tracker.finish(&l, now);
        self.listed = std::mem::take(&mut l.devices);
        if let Some((_, r)) = &mut self.report {
            *r = std::mem::take(&mut l.report);
        }
        if let Some(i) = &mut self.identities {
            *i = std::mem::take(&mut l.identities);
        }
        self.moving = plan::moving(rows.iter().map(|r| r.stage));
        Ok(rows)
    }

    /// Every managed device enrolled since `window`, as compact rows keyed by serial. Each page is
    /// converted as it arrives, so a 10,000-device fleet never sits in memory as full entities.
    async fn list_devices(
        &self,
        window: DateTime<Utc>,
    ) -> Result<HashMap<String, Arc<DeviceRow>>, GraphError> {
        let q = Query::new()
            .filter(format!(
                "enrolledDateTime gt {}",
                window.format("%Y-%m-%dT%H:%M:%SZ")
            ))
            .select(DEVICE_SELECT)
            .top(plan::LIST_PAGE as u32);
        let mut out = HashMap::new();
        let url = self.client.beta("/deviceManagement/managedDevices", &q);
        self.client
            .for_each_page(url, |page: Vec<ManagedDeviceSummary>| {
                for d in page {
                    // Intune may ignore the filter: re-check it here.
                    if d.enrolled_date_time.is_some_and(|t| t <= window) {
                        continue;
                    }
                    let Some(serial) = d.serial_number.as_deref().filter(|s| !s.trim().is_empty())
                    else {
                        continue;
                    };
                    let key = serial_key(serial);
                    let row = device_row_like(d, self.listed.get(&key));
                    out.insert(key, row);
                }
            })
            .await?;
        Ok(out)
    }

    /// Corporate identifiers by serial, converted page by page.
    async fn list_identities(&self) -> Result<HashMap<String, IdentityInput>, GraphError> {
        let mut out = HashMap::new();
        let url = self
            .client
            .beta("/deviceManagement/importedDeviceIdentities", &Query::new());
        self.client
            .for_each_page(url, |page: Vec<ImportedDeviceIdentity>| {
                out.extend(page.iter().filter_map(identity));
            })
            .await?;
        Ok(out)
    }

    /// Scope "all staged": every listed device a staging account enrolled (list UPN, report UPN
    /// or a single read's `enrolledByUserPrincipalName`).
    fn add_staged(&self, l: &mut Listed) {
        let staging = &self.config.staging;
        let tracked: std::collections::HashSet<String> =
            l.serials.iter().map(|s| serial_key(s)).collect();
        let mut extra: Vec<String> = l
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
        l.serials.extend(extra);
    }

    /// Runs the planned reads in `$batch`es of 20, a few batches at a time, recording each answer
    /// as it comes: answers are not all held at once. The first failed chunk stops the rest.
    async fn single_reads(
        &mut self,
        reads: &[(String, String, Read)],
        now: DateTime<Utc>,
    ) -> Result<(), GraphError> {
        let mut result = Ok(());
        for chunk in reads.chunks(plan::BATCH_MAX * READS_IN_FLIGHT) {
            if let Err(e) = self.single_reads_chunk(chunk, now).await {
                if matches!(e, GraphError::Invalid(_)) {
                    // Some answers were unusable; the others are recorded. Carry on.
                    result = Err(e);
                } else {
                    return Err(e);
                }
            }
        }
        result
    }

    async fn single_reads_chunk(
        &mut self,
        reads: &[(String, String, Read)],
        now: DateTime<Utc>,
    ) -> Result<(), GraphError> {
        let requests: Vec<BatchRequest> = reads
            .iter()
            .enumerate()
            .map(|(i, (_, id, read))| BatchRequest::get(i.to_string(), read_url(id, read)))
            .collect();
        let answers = self.client.batch(requests).await?;
        let mut partial = false;
        for ((serial, id, read), resp) in reads.iter().zip(answers) {
            let body = resp.body.unwrap_or_default();
            let answer = match (read, resp.status) {
                (Read::Details, 200) => {
                    serde_json::from_value::<ManagedDevice>(body).ok().map(|d| {
                        ReadAnswer::Details {
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
                        }
                    })
                }
                (Read::PrimaryUser, 200) => {
                    let users: Vec<User> =
                        serde_json::from_value(body["value"].clone()).unwrap_or_default();
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
                (Read::User(uid), 200) => {
                    let u: Option<User> = serde_json::from_value(body).ok();
                    Some(ReadAnswer::User {
                        id: uid.clone(),
                        upn: u.and_then(|u| u.user_principal_name),
                    })
                }
                (Read::User(uid), 404) => Some(ReadAnswer::User {
                    id: uid.clone(),
                    upn: None,
                }),
                _ => None,
            };
            match answer {
                Some(a) => self.tracker.record(serial, id, a, now),
                None => partial = true,
            }
        }
        if partial {
            return Err(GraphError::Invalid(
                "some single-device reads failed".into(),
            ));
        }
        Ok(())
    }
}

fn read_url(device_id: &str, read: &Read) -> String {
    // The same encoding the client uses for path segments.
    let id = crate::graph::odata::encode(device_id);
    match read {
        Read::Details => format!(
            "/deviceManagement/managedDevices/{id}?$select=id,usersLoggedOn,enrolledByUserPrincipalName"
        ),
        Read::PrimaryUser => format!("/deviceManagement/managedDevices/{id}/users"),
        Read::User(uid) => {
            let uid =
                percent_encoding::utf8_percent_encode(uid, percent_encoding::NON_ALPHANUMERIC);
            format!("/users/{uid}?$select=id,userPrincipalName")
        }
    }
}

fn graph_name<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
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
        compliance: d.compliance_state.map(ComplianceState::as_graph),
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
        compliance: d.compliance_state.map(ComplianceState::as_graph),
        id: d.id.into(),
        device_name: d.device_name.unwrap_or_default().into(),
        user_principal_name: d.user_principal_name.map(Arc::from),
        enrolled_at: d.enrolled_date_time,
        last_sync: d.last_sync_date_time,
    }
}

/// The serial of an identity: the last field of `manufacturer,model,serial`, else the whole value.
fn identity(i: &ImportedDeviceIdentity) -> Option<(String, IdentityInput)> {
    let value = i.imported_device_identifier.as_deref()?;
    let serial = value.rsplit([',', ';']).next().unwrap_or(value);
    let state = i
        .enrollment_state
        .as_ref()
        .and_then(graph_name)
        .unwrap_or_default();
    Some((
        serial_key(serial),
        IdentityInput {
            enrollment_state: EnrollmentState::from_graph(&state),
            last_contacted: i.last_contacted_date_time,
        },
    ))
}

fn report_row(r: &crate::graph::ops::AutopilotDeployment) -> ReportRow {
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

/// Starts the status feed. Send `StatusCmd`s on the returned channel; results arrive as
/// `Msg::Status` stamped with the generation of the latest command seen. `queue` carries the
/// local queue's entries (the console publishes it whenever the queue changes).
pub fn spawn(
    client: GraphClient,
    config: Config,
    queue: watch::Receiver<Vec<Arc<QueueEntry>>>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<StatusCmd> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    crate::runtime::supervise::spawn(
        "status feed",
        tx.clone(),
        run(Poller::new(client, config), queue, cmd_rx, tx, cancel),
    );
    cmd_tx
}

/// The feed loop: one cycle in flight; commands that arrive meanwhile are coalesced (the newest
/// scope and generation win) and answered by one immediate cycle.
pub async fn run(
    mut poller: Poller,
    queue: watch::Receiver<Vec<Arc<QueueEntry>>>,
    mut cmd_rx: mpsc::UnboundedReceiver<StatusCmd>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) {
    let mut generation = 0u64;
    let mut throttled = 0u32;
    let mut retry_after = None;
    let mut period = poller.cadence().fast;
    let mut tick = interval_at(Instant::now(), period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            cmd = cmd_rx.recv() => {
                let Some(mut cmd) = cmd else { break };
                while let Ok(newer) = cmd_rx.try_recv() {
                    cmd = newer;
                }
                match cmd {
                    StatusCmd::Refresh { generation: g } => generation = generation.max(g),
                    StatusCmd::Scope { all_staged, generation: g } => {
                        generation = generation.max(g);
                        poller.all_staged = all_staged;
                    }
                }
            }
            _ = tick.tick() => {}
        }
        if tx
            .send(Msg::Status(StatusMsg::Loading { generation }))
            .await
            .is_err()
        {
            break;
        }
        let entries = queue.borrow().clone();
        let now = Utc::now();
        let msg = tokio::select! {
            _ = cancel.cancelled() => break,
            result = poller.cycle(&entries, now) => match result {
                Ok(rows) => {
                    throttled = 0;
                    StatusMsg::Snapshot { generation, at: now, rows }
                }
                Err(e) => {
                    if let GraphError::Throttled { retry_after: ra, .. } = &e {
                        throttled += 1;
                        retry_after = *ra;
                    }
                    StatusMsg::Failed { generation, reason: e.to_string() }
                }
            },
        };
        if tx.send(Msg::Status(msg)).await.is_err() {
            break;
        }
        let next = plan::next_interval(&poller.cadence(), poller.moving, throttled, retry_after);
        if next != period {
            period = next;
        }
        tick = interval_at(Instant::now() + period, period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_times_parse_in_both_shapes() {
        let want = DateTime::parse_from_rfc3339("2026-11-22T09:12:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(parse_time("2026-11-22T09:12:00Z"), Some(want));
        assert_eq!(parse_time("2026-11-22T09:12:00.000"), Some(want));
        assert_eq!(parse_time("2026-11-22 09:12:00"), Some(want));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn single_read_urls_are_relative_and_escaped() {
        assert_eq!(
            read_url("md-1", &Read::Details),
            "/deviceManagement/managedDevices/md-1?$select=id,usersLoggedOn,enrolledByUserPrincipalName"
        );
        assert_eq!(
            read_url("abc", &Read::PrimaryUser),
            "/deviceManagement/managedDevices/abc/users"
        );
        assert_eq!(
            read_url("x", &Read::User("u/1".into())),
            "/users/u%2F1?$select=id,userPrincipalName"
        );
    }

    #[test]
    fn every_selected_field_lands_in_the_summary() {
        let mut obj = serde_json::Map::new();
        for f in DEVICE_SELECT {
            let v = match *f {
                "enrolledDateTime" | "lastSyncDateTime" => "2026-11-22T09:00:00Z",
                "complianceState" => "noncompliant",
                other => other,
            };
            obj.insert(f.to_string(), v.into());
        }
        let d: ManagedDeviceSummary = serde_json::from_value(obj.into()).unwrap();
        let row = device_row(d.clone());
        assert_eq!(&*row.id, "id");
        assert_eq!(&*row.device_name, "deviceName");
        assert_eq!(d.serial_number.as_deref(), Some("serialNumber"));
        assert_eq!(
            row.user_principal_name.as_deref(),
            Some("userPrincipalName")
        );
        assert!(row.enrolled_at.is_some() && row.last_sync.is_some());
        assert_eq!(row.compliance, Some("noncompliant"));
    }

    #[test]
    fn a_device_listed_again_reuses_what_did_not_change() {
        let summary = |sync: &str, upn: Option<&str>| ManagedDeviceSummary {
            id: "md-1".into(),
            device_name: Some("CT-1".into()),
            serial_number: Some("PF1".into()),
            user_principal_name: upn.map(String::from),
            last_sync_date_time: Some(sync.parse().unwrap()),
            ..Default::default()
        };
        let first = device_row_like(summary("2026-11-22T09:00:00Z", Some("a@x")), None);
        let same = device_row_like(summary("2026-11-22T09:00:00Z", Some("a@x")), Some(&first));
        assert!(
            Arc::ptr_eq(&first, &same),
            "an unchanged device is the same row"
        );
        let synced = device_row_like(summary("2026-11-22T10:00:00Z", Some("a@x")), Some(&first));
        assert!(!Arc::ptr_eq(&first, &synced));
        assert_eq!(
            synced.last_sync,
            Some("2026-11-22T10:00:00Z".parse().unwrap())
        );
        assert!(
            Arc::ptr_eq(&first.id, &synced.id)
                && Arc::ptr_eq(&first.device_name, &synced.device_name)
        );
        let upn = |r: &DeviceRow| r.user_principal_name.clone().unwrap();
        assert!(Arc::ptr_eq(&upn(&first), &upn(&synced)));
        let moved = device_row_like(summary("2026-11-22T10:00:00Z", Some("b@x")), Some(&synced));
        assert_eq!(moved.user_principal_name.as_deref(), Some("b@x"));
        assert_eq!(
            *device_row_like(summary("2026-11-22T10:00:00Z", None), Some(&moved)),
            DeviceRow {
                user_principal_name: None,
                ..(*moved).clone()
            }
        );
    }

    #[test]
    fn identity_serial_is_the_last_field() {
        let i = ImportedDeviceIdentity {
            imported_device_identifier: Some("Dell Inc.,Latitude 7440,pf1abc".into()),
            ..Default::default()
        };
        let (k, v) = identity(&i).unwrap();
        assert_eq!(k, "PF1ABC");
        assert_eq!(v.enrollment_state, EnrollmentState::Unknown);
    }
}

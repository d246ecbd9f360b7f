//! What one poll cycle reads, and how long until the next: the cost rule as pure functions.
//!
//! A cycle for N tracked devices costs at most ceil(N / 1000) list requests, the report job (on a
//! slower cadence), and ceil(K / 20) `$batch` requests for the K devices that need single-device
//! data. Each such device gets exactly ONE inner request per cycle: the older of its two reads.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::stage::Stage;

/// `managedDevices` page size (Graph's default and maximum observed, docs/graph.md §2.4).
pub const LIST_PAGE: usize = 1000;
/// Requests per `$batch` (docs/graph.md §10).
pub const BATCH_MAX: usize = 20;

/// The single-device reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Read {
    /// `GET managedDevices/{id}?$select=id,usersLoggedOn,enrolledByUserPrincipalName`.
    Details,
    /// `GET managedDevices/{id}/users` (authoritative primary user).
    PrimaryUser,
    /// `GET /users/{id}?$select=id,userPrincipalName`: who a `usersLoggedOn` id is (a deleted
    /// user answers 404). Each id is resolved once and cached by the tracker.
    User(String),
}

/// When each single-device read last succeeded for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadsDone {
    pub details: Option<DateTime<Utc>>,
    pub primary_user: Option<DateTime<Utc>>,
}

/// Whether a device in `stage` needs a single-device read this cycle. Only devices with a managed
/// device can be read. Stages where a user may sign in or the primary user may change need them;
/// an assigned device is confirmed once through `/users` (the list row can lag), then left alone;
/// failed devices and devices not yet enrolled need none.
pub fn needs_single(stage: Stage, has_device: bool, done: &ReadsDone) -> bool {
    if !has_device {
        return false;
    }
    match stage {
        Stage::Enrolled | Stage::Provisioning | Stage::Provisioned | Stage::InUse => true,
        Stage::Assigned => done.primary_user.is_none(),
        Stage::Queued | Stage::Registered | Stage::Failed => false,
    }
}

/// The read a device gets this cycle: one never done first (details, then primary user), then a
/// logged-on user id not yet resolved, else the older of the two device reads. An assigned device
/// only ever needs its `/users` confirmation.
pub fn next_read(stage: Stage, done: &ReadsDone, unresolved: Option<&str>) -> Read {
    if stage == Stage::Assigned {
        return Read::PrimaryUser;
    }
    match (done.details, done.primary_user, unresolved) {
        (None, _, _) => Read::Details,
        (Some(_), None, _) => Read::PrimaryUser,
        (_, _, Some(id)) => Read::User(id.to_string()),
        (Some(d), Some(p), None) if p < d => Read::PrimaryUser,
        _ => Read::Details,
    }
}

/// One device as the planner sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub device_id: &'a str,
    pub stage: Stage,
    pub has_device: bool,
    pub done: &'a ReadsDone,
    /// A `usersLoggedOn` id the tracker has not resolved yet.
    pub unresolved: Option<&'a str>,
}

/// The reads of one cycle, in input order, at most one per device.
pub fn plan_reads<'a, I>(devices: I) -> Vec<(&'a str, Read)>
where
    I: IntoIterator<Item = Candidate<'a>>,
{
    devices
        .into_iter()
        .filter(|c| needs_single(c.stage, c.has_device, c.done))
        .map(|c| (c.device_id, next_read(c.stage, c.done, c.unresolved)))
        .collect()
}

/// Requests to list `n` items in pages or batches of `size`.
pub fn chunks(n: usize, size: usize) -> usize {
    n.div_ceil(size)
}

/// The most requests a cycle may make: list pages, identity pages, batches, and `report_job`
/// requests for the export job when it is due.
pub fn cycle_bound(tracked: usize, needing_single: usize, report_job: usize) -> usize {
    chunks(tracked, LIST_PAGE) + chunks(needing_single, BATCH_MAX) + report_job
}

/// Poll cadence settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// While any device is moving.
    pub fast: Duration,
    /// When every device is settled.
    pub slow: Duration,
    /// Cap on the back-off after repeated throttling.
    pub max_backoff: Duration,
}

impl Cadence {
    pub fn from_secs(fast: u64, slow: u64) -> Self {
        Self {
            fast: Duration::from_secs(fast.max(1)),
            slow: Duration::from_secs(slow.max(fast).max(1)),
            max_backoff: Duration::from_secs(600),
        }
    }

    /// The report export runs at most this often: four fast cycles, at least a minute, while
    /// moving; the slow interval when settled.
    pub fn report_every(&self, moving: bool) -> Duration {
        if moving {
            (self.fast * 4).max(Duration::from_secs(60))
        } else {
            self.slow.max(Duration::from_secs(60))
        }
    }
}

/// True when any device is still moving through the pipeline.
pub fn moving<I: IntoIterator<Item = Stage>>(stages: I) -> bool {
    stages.into_iter().any(|s| !s.settled())
}

/// The wait before the next cycle. After a 429, wait at least the server's Retry-After and back
/// off exponentially over consecutive throttled cycles (no Retry-After = the doubling alone).
pub fn next_interval(
    c: &Cadence,
    moving: bool,
    throttled_in_a_row: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let base = if moving { c.fast } else { c.slow };
    if throttled_in_a_row == 0 {
        return base;
    }
    let doubled = c
        .fast
        .saturating_mul(1u32 << throttled_in_a_row.min(16))
        .min(c.max_backoff);
    doubled.max(retry_after.unwrap_or_default()).max(base)
}

/// Whether the report export is due this cycle.
pub fn report_due(
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    c: &Cadence,
    moving: bool,
) -> bool {
    match last {
        None => true,
        Some(at) => (now - at)
            .to_std()
            .is_ok_and(|elapsed| elapsed >= c.report_every(moving)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn which_stages_need_single_reads() {
        let none = ReadsDone::default();
        let confirmed = ReadsDone {
            details: None,
            primary_user: Some(t("2026-11-22T09:00:00Z")),
        };
        // (stage, has_device, done) -> needs
        let cases = [
            (Stage::Queued, false, none, false),
            (Stage::Registered, false, none, false),
            (Stage::Enrolled, false, none, false),
            (Stage::Enrolled, true, none, true),
            (Stage::Provisioning, true, confirmed, true),
            (Stage::Provisioned, true, confirmed, true),
            (Stage::InUse, true, confirmed, true),
            (Stage::Failed, true, none, false),
            (Stage::Assigned, true, none, true),
            (Stage::Assigned, true, confirmed, false),
        ];
        for (stage, has, done, want) in cases {
            assert_eq!(needs_single(stage, has, &done), want, "{stage:?} {has}");
        }
    }

    #[test]
    fn reads_alternate_oldest_first() {
        let a = t("2026-11-22T09:00:00Z");
        let b = t("2026-11-22T09:01:00Z");
        let r = |d, p| ReadsDone {
            details: d,
            primary_user: p,
        };
        let e = Stage::Enrolled;
        assert_eq!(next_read(e, &r(None, None), None), Read::Details);
        assert_eq!(next_read(e, &r(None, Some(a)), None), Read::Details);
        assert_eq!(
            next_read(e, &r(Some(a), None), Some("u1")),
            Read::PrimaryUser
        );
        assert_eq!(next_read(e, &r(Some(b), Some(a)), None), Read::PrimaryUser);
        assert_eq!(next_read(e, &r(Some(a), Some(b)), None), Read::Details);
        assert_eq!(next_read(e, &r(Some(a), Some(a)), None), Read::Details);
        assert_eq!(
            next_read(e, &r(Some(a), Some(b)), Some("u1")),
            Read::User("u1".into())
        );
        assert_eq!(
            next_read(Stage::Assigned, &r(None, None), Some("u1")),
            Read::PrimaryUser
        );
    }

    #[test]
    fn one_read_per_device_keeps_the_batch_bound() {
        let done = ReadsDone::default();
        let ids: Vec<String> = (0..10_000).map(|i| format!("md-{i}")).collect();
        let devices = ids.iter().enumerate().map(|(i, id)| {
            let stage = Stage::ALL[i % Stage::ALL.len()];
            let has = !matches!(stage, Stage::Queued | Stage::Registered);
            Candidate {
                device_id: id.as_str(),
                stage,
                has_device: has,
                done: &done,
                unresolved: None,
            }
        });
        let plan = plan_reads(devices);
        // enrolled, provisioning, provisioned, in_use and (unconfirmed) assigned: 5 of 8.
        assert_eq!(plan.len(), 5 * 10_000 / 8);
        let mut seen = std::collections::HashSet::new();
        assert!(
            plan.iter().all(|(id, _)| seen.insert(*id)),
            "one read per device"
        );
        assert_eq!(chunks(plan.len(), BATCH_MAX), 313);
        assert_eq!(cycle_bound(10_000, plan.len(), 3), 10 + 313 + 3);
    }

    #[test]
    fn chunk_arithmetic() {
        for (n, size, want) in [
            (0, 20, 0),
            (1, 20, 1),
            (20, 20, 1),
            (21, 20, 2),
            (10_000, 1000, 10),
            (10_001, 1000, 11),
        ] {
            assert_eq!(chunks(n, size), want, "{n}/{size}");
        }
    }

    #[test]
    fn interval_adapts_and_backs_off() {
        let c = Cadence::from_secs(15, 120);
        let s = Duration::from_secs;
        assert_eq!(next_interval(&c, true, 0, None), s(15));
        assert_eq!(next_interval(&c, false, 0, None), s(120));
        assert_eq!(next_interval(&c, true, 1, None), s(30));
        assert_eq!(next_interval(&c, true, 2, None), s(60));
        assert_eq!(next_interval(&c, true, 1, Some(s(90))), s(90));
        assert_eq!(
            next_interval(&c, true, 1, Some(Duration::from_millis(2128))),
            s(30)
        );
        assert_eq!(next_interval(&c, true, 30, None), s(600), "capped");
        assert_eq!(
            next_interval(&c, false, 1, None),
            s(120),
            "never faster than settled"
        );
    }

    #[test]
    fn moving_means_any_unsettled_stage() {
        assert!(!moving([Stage::Assigned, Stage::Failed, Stage::InUse]));
        assert!(moving([Stage::Assigned, Stage::Provisioning]));
        assert!(!moving([]));
    }

    #[test]
    fn report_runs_on_a_slower_cadence() {
        let c = Cadence::from_secs(15, 120);
        let now = t("2026-11-22T10:00:00Z");
        assert!(report_due(None, now, &c, true));
        assert!(!report_due(Some(t("2026-11-22T09:59:30Z")), now, &c, true));
        assert!(report_due(Some(t("2026-11-22T09:59:00Z")), now, &c, true));
        assert!(!report_due(Some(t("2026-11-22T09:59:00Z")), now, &c, false));
        assert!(report_due(Some(t("2026-11-22T09:58:00Z")), now, &c, false));
        assert!(
            !report_due(Some(t("2026-11-22T10:01:00Z")), now, &c, true),
            "clock went back"
        );
    }
}

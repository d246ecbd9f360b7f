//! What one poll cycle reads, and how long until the next: the cost rule as pure functions.
//!
//! A device's single-device data (`usersLoggedOn`, `enrolledByUserPrincipalName`) only changes
//! when the device checks in, and a check-in moves the `lastSyncDateTime` its list row shows; the
//! primary user changes by a write (the review pane, the portal), and the list row's
//! `userPrincipalName` follows it. So each read is keyed on what the list row showed when it was
//! answered ([`RowKey`]) and is made again only when that moved, when the device's stage needs a
//! read it never had, or when the lead asks (`r`). Stages the single reads cannot change (not
//! enrolled yet, failed, assigned once confirmed) are not read at all.
//!
//! A cycle for N tracked devices of which K checked in costs ceil(N / 1000) list requests, the
//! report export and the identity pages only while some device needs them (and on a slower
//! cadence), ceil(K / 20) `$batch` requests for the K details reads, and ceil(U / 20) more for the
//! U logged-on user ids never seen before (each id is looked up once per session).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::inputs::DeviceRow;
use super::stage::Stage;

/// `managedDevices` page size (Graph's default and maximum observed, docs/graph.md §2.4).
pub const LIST_PAGE: usize = crate::graph::ops::DEVICE_PAGE as usize;
/// Requests per `$batch` (docs/graph.md §10).
pub const BATCH_MAX: usize = crate::graph::batch::MAX_BATCH;

/// The single-device reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Read {
    /// `GET managedDevices/{id}?$select=id,usersLoggedOn,enrolledByUserPrincipalName`.
    Details,
    /// `GET managedDevices/{id}/users` (authoritative primary user).
    PrimaryUser,
}

/// What a device's list row showed when a read was answered: the answer holds until it changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowKey {
    pub last_sync: Option<DateTime<Utc>>,
    pub upn: Option<Arc<str>>,
}

impl RowKey {
    pub fn of(row: &DeviceRow) -> Self {
        Self {
            last_sync: row.last_sync,
            upn: row.user_principal_name.clone(),
        }
    }

    /// The device checked in since (details may have changed).
    fn synced_since(&self, now: &RowKey) -> bool {
        self.last_sync != now.last_sync
    }

    /// The list row names another primary user since (`/users` may have changed).
    fn primary_moved(&self, now: &RowKey) -> bool {
        let norm = |u: &Option<Arc<str>>| {
            u.as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_ascii_lowercase)
        };
        norm(&self.upn) != norm(&now.upn)
    }
}

/// The list row each of a device's reads was answered under (`None`: never read).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadsDone {
    pub details: Option<RowKey>,
    pub primary_user: Option<RowKey>,
}

/// Which reads a device needs this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needed {
    pub details: bool,
    pub primary_user: bool,
}

/// The reads a device in `stage` with list row `now` needs. Only stages the single reads can
/// still change are read: enrolled, provisioning and provisioned (a real user may sign in) and in
/// use (the primary user may be handed over). An assigned device is confirmed once through
/// `/users` (the list row can lag), then left alone; failed devices and devices not enrolled yet
/// are never read. `force`: the lead asked for a refresh.
pub fn needed(stage: Stage, done: &ReadsDone, now: &RowKey, force: bool) -> Needed {
    match stage {
        Stage::Queued | Stage::Registered | Stage::Failed => Needed::default(),
        Stage::Assigned => Needed {
            details: false,
            primary_user: force || done.primary_user.is_none(),
        },
        Stage::Enrolled | Stage::Provisioning | Stage::Provisioned | Stage::InUse => Needed {
            details: force || done.details.as_ref().is_none_or(|k| k.synced_since(now)),
            primary_user: force
                || done
                    .primary_user
                    .as_ref()
                    .is_none_or(|k| k.primary_moved(now)),
        },
    }
}

/// One device as the planner sees it (only devices with a managed device can be read).
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub device_id: &'a str,
    pub stage: Stage,
    pub done: &'a ReadsDone,
    pub row: &'a RowKey,
}

/// The device reads of one cycle, in input order: details before `/users` for each device.
pub fn plan_reads<'a, I>(devices: I, force: bool) -> Vec<(&'a str, Read)>
where
    I: IntoIterator<Item = Candidate<'a>>,
{
    let mut out = Vec::new();
    for c in devices {
        let n = needed(c.stage, c.done, c.row, force);
        if n.details {
            out.push((c.device_id, Read::Details));
        }
        if n.primary_user {
            out.push((c.device_id, Read::PrimaryUser));
        }
    }
    out
}

/// The slow sources a cycle needs, from the stages of the tracked devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wanted {
    /// The deployment report: some device is enrolled or provisioning (the report is what moves
    /// it on; a device with no report row yet derives as enrolled, so a new one asks for it).
    pub report: bool,
    /// The corporate identifiers: some device is queued or registered (no managed device yet;
    /// only the identifier can say its enrollment failed or was blocked).
    pub identities: bool,
}

/// What the tracked devices' stages ask for.
pub fn wanted<I: IntoIterator<Item = Stage>>(stages: I) -> Wanted {
    let mut w = Wanted::default();
    for s in stages {
        match s {
            Stage::Enrolled | Stage::Provisioning => w.report = true,
            Stage::Queued | Stage::Registered => w.identities = true,
            _ => {}
        }
    }
    w
}

/// Requests to list `n` items in pages or batches of `size`.
pub fn chunks(n: usize, size: usize) -> usize {
    n.div_ceil(size)
}

/// The most requests a cycle may make: list pages, batches for `reads` device reads and for
/// `lookups` user look-ups (a second round), and `slow` requests for the report export job and
/// the identity pages when they are due.
pub fn cycle_bound(tracked: usize, reads: usize, lookups: usize, slow: usize) -> usize {
    chunks(tracked, LIST_PAGE) + chunks(reads, BATCH_MAX) + chunks(lookups, BATCH_MAX) + slow
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

/// Whether a slow source (the report export, the identity pages) last read at `last` is due
/// again: never read, or [`Cadence::report_every`] has passed.
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

    fn row(sync: &str, upn: &str) -> RowKey {
        RowKey {
            last_sync: Some(t(sync)),
            upn: Some(upn.into()),
        }
    }

    #[test]
    fn which_stages_need_single_reads() {
        let now = row("2026-11-22T09:00:00Z", "stage01@x");
        let none = ReadsDone::default();
        let both = ReadsDone {
            details: Some(now.clone()),
            primary_user: Some(now.clone()),
        };
        let n = |d, p| Needed {
            details: d,
            primary_user: p,
        };
        // (stage, done) -> needed
        let cases = [
            (Stage::Queued, &none, n(false, false)),
            (Stage::Registered, &none, n(false, false)),
            (Stage::Failed, &none, n(false, false)),
            (Stage::Enrolled, &none, n(true, true)),
            (Stage::Provisioning, &none, n(true, true)),
            (Stage::Provisioned, &none, n(true, true)),
            (Stage::InUse, &none, n(true, true)),
            (Stage::Assigned, &none, n(false, true)),
            (Stage::Enrolled, &both, n(false, false)),
            (Stage::Provisioning, &both, n(false, false)),
            (Stage::Provisioned, &both, n(false, false)),
            (Stage::InUse, &both, n(false, false)),
            (Stage::Assigned, &both, n(false, false)),
        ];
        for (stage, done, want) in cases {
            assert_eq!(needed(stage, done, &now, false), want, "{stage:?} {done:?}");
        }
        // An explicit refresh reads every stage that can be read, however fresh.
        assert_eq!(needed(Stage::InUse, &both, &now, true), n(true, true));
        assert_eq!(needed(Stage::Assigned, &both, &now, true), n(false, true));
        assert_eq!(needed(Stage::Failed, &both, &now, true), n(false, false));
    }

    #[test]
    fn a_check_in_rereads_details_and_a_new_list_upn_rereads_the_primary_user() {
        let read = row("2026-11-22T09:00:00Z", "stage01@x");
        let done = ReadsDone {
            details: Some(read.clone()),
            primary_user: Some(read.clone()),
        };
        let p = Stage::Provisioned;
        let synced = row("2026-11-22T09:03:00Z", "stage01@x");
        assert_eq!(
            needed(p, &done, &synced, false),
            Needed {
                details: true,
                primary_user: false
            },
            "a check-in: one read"
        );
        let handed_over = row("2026-11-22T09:00:00Z", "ada@x");
        assert_eq!(
            needed(Stage::InUse, &done, &handed_over, false),
            Needed {
                details: false,
                primary_user: true
            }
        );
        // The same UPN in another case or with blanks around it is no change.
        let same = row("2026-11-22T09:00:00Z", " STAGE01@x ");
        assert_eq!(needed(p, &done, &same, false), Needed::default());
        // A row that never showed a sync time: read once, then only when it shows one.
        let unsynced = RowKey {
            last_sync: None,
            upn: None,
        };
        let done = ReadsDone {
            details: Some(unsynced.clone()),
            primary_user: Some(unsynced.clone()),
        };
        assert_eq!(needed(p, &done, &unsynced, false), Needed::default());
        assert!(needed(p, &done, &synced, false).details);
    }

    fn plan_all<'a>(
        ids: &'a [String],
        done: &'a ReadsDone,
        row: &'a RowKey,
    ) -> Vec<(&'a str, Read)> {
        let candidates = ids.iter().enumerate().map(|(i, id)| Candidate {
            device_id: id.as_str(),
            stage: Stage::ALL[i % Stage::ALL.len()],
            done,
            row,
        });
        plan_reads(candidates, false)
    }

    #[test]
    fn a_static_fleet_plans_no_reads_and_a_new_one_two_per_device() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("md-{i}")).collect();
        let key = row("2026-11-22T09:00:00Z", "stage01@x");
        let read = ReadsDone {
            details: Some(key.clone()),
            primary_user: Some(key.clone()),
        };
        let never = ReadsDone::default();
        let first = plan_all(&ids, &never, &key);
        // enrolled, provisioning, provisioned, in_use: two reads; assigned: one.
        assert_eq!(first.len(), 10_000 / 8 * 9);
        assert!(plan_all(&ids, &read, &key).is_empty(), "nothing moved");
        assert_eq!(cycle_bound(10_000, first.len(), 40, 3), 10 + 563 + 2 + 3);
    }

    #[test]
    fn slow_sources_are_wanted_only_by_the_stages_they_move() {
        let w = |s: &[Stage]| wanted(s.iter().copied());
        assert_eq!(w(&[]), Wanted::default());
        let settled = [
            Stage::Provisioned,
            Stage::InUse,
            Stage::Assigned,
            Stage::Failed,
        ];
        assert_eq!(w(&settled), Wanted::default());
        for s in [Stage::Enrolled, Stage::Provisioning] {
            assert_eq!(
                w(&[Stage::InUse, s]),
                Wanted {
                    report: true,
                    identities: false
                }
            );
        }
        for s in [Stage::Queued, Stage::Registered] {
            assert_eq!(
                w(&[Stage::Assigned, s]),
                Wanted {
                    report: false,
                    identities: true
                }
            );
        }
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

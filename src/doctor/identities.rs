//! Check 6: corporate identifiers registered, stale (never contacted long after registration)
//! and failed (docs/graph.md §1).

use chrono::{DateTime, Duration, Utc};

use super::{CheckResult, ids};
use crate::graph::GraphClient;
use crate::graph::models::{EnrollmentState, ImportedDeviceIdentity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub registered: usize,
    pub stale: usize,
    pub failed: usize,
}

/// Stale: still `notContacted` and registered more than `stale_days` ago. `lastContactedDateTime`
/// of a never-contacted identity is a placeholder (the epoch, or year 1), so it is not used.
pub fn count(list: &[ImportedDeviceIdentity], now: DateTime<Utc>, stale_days: u32) -> Counts {
    let cutoff = now - Duration::days(i64::from(stale_days));
    let mut c = Counts {
        registered: list.len(),
        ..Counts::default()
    };
    for i in list {
        match i.enrollment_state {
            Some(EnrollmentState::Failed) => c.failed += 1,
            Some(EnrollmentState::NotContacted) | None => {
                let since = i.created_date_time.or(i.last_modified_date_time);
                if since.is_some_and(|t| t < cutoff) {
                    c.stale += 1;
                }
            }
            _ => {}
        }
    }
    c
}

pub async fn check(client: &GraphClient, now: DateTime<Utc>, stale_days: u32) -> CheckResult {
    let r = CheckResult::new(ids::CORPORATE_IDENTIFIERS, "Corporate identifiers");
    match client.list_imported_identities(None).await {
        Ok(list) => judge(r, count(&list, now, stale_days), stale_days),
        Err(e) => r.failed_read("importedDeviceIdentities", &e),
    }
}

pub fn judge(r: CheckResult, c: Counts, stale_days: u32) -> CheckResult {
    let r = r
        .saw(format!("registered: {}", c.registered))
        .saw(format!(
            "never contacted for more than {stale_days} days: {}",
            c.stale
        ))
        .saw(format!("failed: {}", c.failed));
    let mut fixes = Vec::new();
    if c.stale > 0 {
        fixes.push(format!(
            "review the {} stale identifiers (Devices > Enrollment > Corporate device identifiers) and delete those that will not be staged",
            c.stale
        ));
    }
    if c.failed > 0 {
        fixes.push(format!(
            "look at the {} failed enrollments in the status pane before staging more",
            c.failed
        ));
    }
    if fixes.is_empty() {
        r.pass()
    } else {
        r.warn(fixes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn ident(state: EnrollmentState, created: &str) -> ImportedDeviceIdentity {
        ImportedDeviceIdentity {
            enrollment_state: Some(state),
            created_date_time: Some(at(created)),
            // What Graph sends for a device that never called in.
            last_contacted_date_time: Some(at("0001-01-01T00:00:00Z")),
            ..ImportedDeviceIdentity::default()
        }
    }

    #[test]
    fn stale_means_never_contacted_and_registered_before_the_cutoff() {
        let now = at("2026-11-22T09:00:00Z");
        let list = [
            ident(EnrollmentState::NotContacted, "2026-10-01T00:00:00Z"),
            ident(EnrollmentState::NotContacted, "2026-11-20T00:00:00Z"),
            ident(EnrollmentState::Enrolled, "2026-01-01T00:00:00Z"),
            ident(EnrollmentState::Failed, "2026-11-21T00:00:00Z"),
            ident(EnrollmentState::Failed, "2026-11-21T00:00:00Z"),
        ];
        assert_eq!(
            count(&list, now, 30),
            Counts {
                registered: 5,
                stale: 1,
                failed: 2
            }
        );
        assert_eq!(count(&list, now, 1).stale, 2);
        assert_eq!(count(&list, now, 365).stale, 0);
    }

    #[test]
    fn verdict_warns_on_stale_or_failed_and_passes_otherwise() {
        let r = || CheckResult::new(ids::CORPORATE_IDENTIFIERS, "t");
        let ok = judge(
            r(),
            Counts {
                registered: 3,
                stale: 0,
                failed: 0,
            },
            30,
        );
        assert_eq!(ok.status, super::super::Status::Pass);
        assert_eq!(ok.evidence[0], "registered: 3");
        let w = judge(
            r(),
            Counts {
                registered: 3,
                stale: 0,
                failed: 1,
            },
            30,
        );
        assert_eq!(w.status, super::super::Status::Warn);
        assert!(w.fix.unwrap().contains("1 failed"));
    }
}

//! Check 6: corporate identifiers registered, stale (never contacted long after registration)
//! and failed (REFERENCE.md §1).

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

//! The plan: one row per candidate in the JSON shape of `stagehand review --json`, plan files the
//! lead reviews and hands to `stagehand reassign --apply --plan FILE`, and the drift re-check that
//! decides whether a reviewed row may still be written.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::rejections::Rejection;
use super::verdict::{Assessment, BlockReason, DeviceFacts, Person, Verdict};

/// One plan row. The field names are the headless contract (issue 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRow {
    pub serial: String,
    pub managed_device_id: String,
    pub device_name: String,
    pub current_primary_upn: String,
    pub proposed_upn: Option<String>,
    pub last_logon: Option<DateTime<Utc>>,
    /// `propose`, `waiting`, `ambiguous`, `blocked` or `rejected` (a lead rejected this proposal
    /// and the device's data has not changed since).
    pub verdict: String,
    /// Empty for `propose`.
    pub reason: String,
}

impl PlanRow {
    pub fn new(device: &DeviceFacts, a: &Assessment) -> Self {
        Self {
            serial: device.serial.clone(),
            managed_device_id: device.id.clone(),
            device_name: device.name.clone(),
            current_primary_upn: a.current.upn.clone(),
            proposed_upn: a.proposed.as_ref().map(|p| p.upn.clone()),
            last_logon: a.last_logon,
            verdict: a.verdict.word().into(),
            reason: a.verdict.reason(),
        }
    }

    /// The row of a candidate a lead rejected (for the same data): verdict `rejected`, never written.
    pub fn rejected(device: &DeviceFacts, a: &Assessment, r: &Rejection) -> Self {
        Self {
            verdict: "rejected".into(),
            reason: rejected_reason(r),
            ..Self::new(device, a)
        }
    }
}

/// "rejected by lead@… at 2026-11-22 10:00 UTC".
pub fn rejected_reason(r: &Rejection) -> String {
    format!(
        "rejected by {} at {}",
        r.by,
        r.at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A stable digest of what the review saw of a device: primary user, sign-in history, proposal and
/// verdict. A rejection is remembered against it; any change in the device's data changes it.
pub fn fingerprint(device_id: &str, a: &Assessment) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(device_id);
    field(&a.current.id);
    for e in &a.history {
        field(&e.user_id);
        field(&e.at.to_rfc3339());
    }
    field(a.proposed.as_ref().map_or("", |p| p.id.as_str()));
    field(&format!("{:?}", a.verdict));
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// The outcome of re-checking a reviewed row against current data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Still as reviewed: write this user.
    Unchanged(Person),
    /// The primary user is no longer a staging account (someone else fixed it, or the device left).
    NoLongerCandidate,
    PrimaryChanged {
        reviewed: String,
        now: String,
    },
    /// A newer sign-in arrived, or the reviewed user is no longer among the choices.
    ProposalChanged {
        reviewed: Option<String>,
        now: Option<String>,
    },
    /// The row was `waiting` or `blocked` when reviewed: there is nothing to write.
    NotWritable {
        verdict: String,
    },
    Blocked(BlockReason),
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "nobody".into());
        match self {
            Self::Unchanged(p) => write!(f, "unchanged: {}", p.upn),
            Self::NoLongerCandidate => f.write_str("primary user is no longer a staging account"),
            Self::PrimaryChanged { reviewed, now } => {
                write!(
                    f,
                    "primary user changed from {reviewed} to {now} since review"
                )
            }
            Self::ProposalChanged { reviewed, now } => write!(
                f,
                "proposal changed since review: reviewed {}, now {}",
                opt(reviewed),
                opt(now)
            ),
            Self::NotWritable { verdict } => write!(f, "row was {verdict} when reviewed"),
            Self::Blocked(r) => write!(f, "blocked now: {r}"),
        }
    }
}

/// Re-checks a reviewed row against the device's current assessment (`None` = not a candidate).
/// A `propose` row passes when the primary user and the proposal (user and last sign-in) are as
/// reviewed; an `ambiguous` row passes when the reviewed user is still the proposal or one of its
/// alternatives and no newer sign-in arrived. The user must not be blocked now. `pick` re-runs the
/// user rules for an alternative.
pub fn recheck(
    row: &PlanRow,
    current: Option<&Assessment>,
    pick: impl Fn(&Person) -> Verdict,
) -> Drift {
    if row.verdict != "propose" && row.verdict != "ambiguous" {
        return Drift::NotWritable {
            verdict: row.verdict.clone(),
        };
    }
    let Some(a) = current else {
        return Drift::NoLongerCandidate;
    };
    if !a.current.upn.eq_ignore_ascii_case(&row.current_primary_upn) {
        return Drift::PrimaryChanged {
            reviewed: row.current_primary_upn.clone(),
            now: a.current.upn.clone(),
        };
    }
    let changed = || Drift::ProposalChanged {
        reviewed: row.proposed_upn.clone(),
        now: a.proposed.as_ref().map(|p| p.upn.clone()),
    };
    let Some(want) = row.proposed_upn.as_deref() else {
        return changed();
    };
    if a.last_logon != row.last_logon {
        return changed();
    }
    let same = |p: &&Person| p.upn.eq_ignore_ascii_case(want);
    if let Some(p) = a.proposed.as_ref().filter(same) {
        return match &a.verdict {
            Verdict::Blocked(r) => Drift::Blocked(r.clone()),
            Verdict::Propose | Verdict::Ambiguous => Drift::Unchanged(p.clone()),
            Verdict::Waiting => changed(),
        };
    }
    if row.verdict == "ambiguous"
        && let Some((p, _)) = a.alternatives.iter().find(|(p, _)| same(&p))
    {
        return match pick(p) {
            Verdict::Blocked(r) => Drift::Blocked(r),
            _ => Drift::Unchanged(p.clone()),
        };
    }
    changed()
}

/// A plan file that cannot be used, naming the file and where.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}: {action}: {source}", file.display())]
    Io {
        file: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not a plan (a JSON array of rows): {reason}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{}: row {row} ({serial}): field `{field}`: {reason}", file.display())]
    Field {
        file: PathBuf,
        row: usize,
        serial: String,
        field: &'static str,
        reason: String,
    },
}

/// Reads and validates a plan file.
pub fn read_plan(path: &Path) -> Result<Vec<PlanRow>, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Io {
        file: path.into(),
        action: "read",
        source,
    })?;
    let rows: Vec<PlanRow> = serde_json::from_str(&text).map_err(|e| PlanError::Syntax {
        file: path.into(),
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    for (i, r) in rows.iter().enumerate() {
        let bad = |field, reason: &str| PlanError::Field {
            file: path.into(),
            row: i + 1,
            serial: r.serial.clone(),
            field,
            reason: reason.into(),
        };
        if r.managed_device_id.trim().is_empty() {
            return Err(bad("managed_device_id", "empty"));
        }
        if !["propose", "waiting", "ambiguous", "blocked", "rejected"].contains(&r.verdict.as_str())
        {
            return Err(bad(
                "verdict",
                "must be propose, waiting, ambiguous, blocked or rejected",
            ));
        }
        let writable = r.verdict == "propose" || r.verdict == "ambiguous";
        if writable && r.proposed_upn.as_deref().is_none_or(|u| !u.contains('@')) {
            return Err(bad("proposed_upn", "a propose/ambiguous row needs a UPN"));
        }
        if rows[..i].iter().any(|o| {
            o.managed_device_id
                .eq_ignore_ascii_case(&r.managed_device_id)
        }) {
            return Err(bad("managed_device_id", "device listed twice"));
        }
    }
    Ok(rows)
}

/// Writes a plan file atomically: a temp file in the same directory, fsync, rename, fsync the dir.
pub fn write_plan(path: &Path, rows: &[PlanRow]) -> Result<(), PlanError> {
    let io = |action, source| PlanError::Io {
        file: path.into(),
        action,
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut text = serde_json::to_vec_pretty(rows).map_err(|e| io("encode", e.into()))?;
    text.push(b'\n');
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map_or("plan".into(), |n| n.to_string_lossy())
    ));
    let mut f = crate::private::create_temp(&tmp).map_err(|e| io("create the temp file", e))?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("write the temp file", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io("rename into place", e))?;
    crate::store::sync_dir(dir).map_err(|e| io("fsync the directory", std::io::Error::other(e)))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

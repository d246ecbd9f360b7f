//! The stage and flags of one device: a pure function of plain inputs.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::deployment::{self, Deployment};
use super::inputs::{
    DeviceRow, EnrollmentState, IdentityInput, PrimaryRead, QueueInput, ReportRow, SingleDevice,
};
use crate::config::StagingConfig;
use crate::graph::models::ComplianceState;
use crate::store::EntryState;

/// Where a device is in the pipeline, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// In the local queue, not yet in Intune.
    Queued,
    /// Corporate identifier in Intune, no managed device yet.
    Registered,
    /// Managed device exists, no Device Preparation report yet.
    Enrolled,
    /// Deployment in progress.
    Provisioning,
    /// Deployment succeeded, waiting for the user.
    Provisioned,
    /// Import rejected, enrollment failed or blocked, or deployment failed.
    Failed,
    /// A real user signed in; the primary user is still a staging account.
    InUse,
    /// The primary user is a real user.
    Assigned,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Queued,
        Stage::Registered,
        Stage::Enrolled,
        Stage::Provisioning,
        Stage::Provisioned,
        Stage::Failed,
        Stage::InUse,
        Stage::Assigned,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Registered => "registered",
            Stage::Enrolled => "enrolled",
            Stage::Provisioning => "provisioning",
            Stage::Provisioned => "provisioned",
            Stage::Failed => "failed",
            Stage::InUse => "in_use",
            Stage::Assigned => "assigned",
        }
    }

    /// The stage named by its [`Stage::label`] token (as the store keeps it), if it is one.
    pub fn from_label(token: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.label() == token)
    }

    /// The stage as words for the panes ("in use"); JSON keeps [`Stage::label`]'s tokens.
    pub fn words(self) -> &'static str {
        match self {
            Stage::InUse => "in use",
            other => other.label(),
        }
    }

    /// Position in [`Stage::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Nothing more will happen without a person: assigned, failed, or in use (waiting for the
    /// review pane). Polling slows down when every device is settled.
    pub fn settled(self) -> bool {
        matches!(self, Stage::Assigned | Stage::Failed | Stage::InUse)
    }
}

/// Flags shown beside the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// Longer in this stage than the profile allows.
    pub stuck: bool,
    /// The last poll failed: what is shown may be old.
    pub stale: bool,
    pub noncompliant: bool,
}

impl Flags {
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.stuck, "stuck"),
            (self.stale, "stale"),
            (self.noncompliant, "noncompliant"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

/// How long a device may stay in a stage before it is flagged stuck; `None` = never.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    per_stage: [Option<Duration>; 8],
}

impl Thresholds {
    /// The profile's `stuck_minutes` applies to provisioning (the SOP expects 15 to 30 minutes).
    pub fn from_profile_minutes(minutes: u32) -> Self {
        Self::none().with(Stage::Provisioning, Duration::minutes(i64::from(minutes)))
    }

    pub fn none() -> Self {
        Self {
            per_stage: [None; 8],
        }
    }

    pub fn with(mut self, stage: Stage, limit: Duration) -> Self {
        self.per_stage[stage.index()] = Some(limit);
        self
    }

    pub fn limit(&self, stage: Stage) -> Option<Duration> {
        self.per_stage[stage.index()]
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Self::from_profile_minutes(30)
    }
}

/// Everything known about one device this cycle.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub queue: Option<&'a QueueInput>,
    pub identity: Option<&'a IdentityInput>,
    pub device: Option<&'a DeviceRow>,
    pub single: Option<&'a SingleDevice>,
    pub report: Option<&'a ReportRow>,
    pub staging: &'a StagingConfig,
    pub thresholds: &'a Thresholds,
    /// The stage this console last saw, and since when (from the timeline).
    pub previous: Option<(Stage, DateTime<Utc>)>,
    /// The last poll failed.
    pub poll_failed: bool,
    pub now: DateTime<Utc>,
}

/// The derivation's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub stage: Stage,
    pub flags: Flags,
    /// When the device entered `stage` (observed, or from Graph's own timestamps on first sight).
    pub since: DateTime<Utc>,
    pub message: String,
    /// Failure code (enrollment state or deployment result code) when failed.
    pub code: Option<String>,
    /// Deployment phase while provisioning.
    pub phase: Option<String>,
    /// Primary user: `/users` when read, else the list row's `userPrincipalName`.
    pub primary_user: Option<Arc<str>>,
    pub enrolled_by: Option<Arc<str>>,
    /// Set when the list row and `/users` disagree on the primary user.
    pub disagreement: Option<String>,
}

/// Derives stage, flags and message for one device.
pub fn derive(i: &Inputs) -> Derived {
    let (primary_user, disagreement) = primary_user(i.device, i.single);
    let enrolled_by = i.single.and_then(|s| s.enrolled_by.clone());
    let (stage, message, code, phase, evidence) = stage_of(i, primary_user.as_deref());
    // Time in stage comes from Intune's own timestamps where it has them (enrolledDateTime, the
    // report's enrollment time, the identity's last contact, the real user's logon), not from
    // when this console first looked. A change this console saw is dated by Intune's timestamp
    // when that is later than the previous stage's start (it says when the new stage began),
    // else by the moment it was seen.
    let since = match i.previous {
        Some((prev, since)) if prev == stage => since,
        Some((_, prev_since)) => evidence
            .filter(|t| *t > prev_since)
            .map_or(i.now, |t| t.min(i.now)),
        None => evidence.map_or(i.now, |t| t.min(i.now)),
    };
    let flags = Flags {
        stuck: i
            .thresholds
            .limit(stage)
            .is_some_and(|limit| i.now - since > limit),
        stale: i.poll_failed,
        noncompliant: i
            .device
            .is_some_and(|d| d.compliance == Some(ComplianceState::Noncompliant)),
    };
    Derived {
        stage,
        flags,
        since,
        message,
        code,
        phase,
        primary_user,
        enrolled_by,
        disagreement,
    }
}

/// The single-device `/users` read wins over the list's `userPrincipalName`, which can lag.
fn primary_user(
    device: Option<&DeviceRow>,
    single: Option<&SingleDevice>,
) -> (Option<Arc<str>>, Option<String>) {
    let listed = device
        .and_then(|d| d.user_principal_name.clone())
        .filter(|u| !u.trim().is_empty());
    let read = single.map_or(&PrimaryRead::NotRead, |s| &s.primary);
    let authoritative = match read {
        PrimaryRead::NotRead => return (listed, None),
        PrimaryRead::NoUser => None,
        PrimaryRead::User(u) => Some(u.upn.clone()),
    };
    let agree = match (&listed, &authoritative) {
        (Some(l), Some(a)) => l.eq_ignore_ascii_case(a),
        (None, None) => true,
        _ => false,
    };
    let note = (!agree).then(|| {
        format!(
            "list row says primary user {}, /users says {} (using /users)",
            listed.as_deref().unwrap_or("none"),
            authoritative.as_deref().unwrap_or("none")
        )
    });
    (authoritative, note)
}

type StageOf = (
    Stage,
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

fn stage_of(i: &Inputs, primary: Option<&str>) -> StageOf {
    if let Some(failed) = failure(i) {
        return failed;
    }
    let Some(device) = i.device else {
        return before_enrollment(i);
    };
    if let Some(upn) = primary.filter(|u| !i.staging.is_staging(u)) {
        return (
            Stage::Assigned,
            format!("primary user {upn}"),
            None,
            None,
            None,
        );
    }
    if let Some((msg, at)) = real_user_signed_in(i, primary) {
        return (Stage::InUse, msg, None, None, Some(at));
    }
    match i.report {
        Some(r) if deployment::deployment(&r.deployment_status) == Deployment::Succeeded => (
            Stage::Provisioned,
            "deployment succeeded; waiting for the user".into(),
            None,
            None,
            None,
        ),
        Some(r) => {
            let phase = deployment::phase_label(&r.phase);
            (
                Stage::Provisioning,
                format!("deploying, {phase}"),
                None,
                Some(phase),
                r.enrollment_time.or(device.enrolled_at),
            )
        }
        None => (
            Stage::Enrolled,
            "enrolled; no deployment report yet".into(),
            None,
            None,
            device.enrolled_at,
        ),
    }
}

fn failure(i: &Inputs) -> Option<StageOf> {
    let failed = |msg: String, code: Option<String>| Some((Stage::Failed, msg, code, None, None));
    if let Some(q) = i.queue.filter(|q| q.state == EntryState::Rejected) {
        let why = q.message.as_deref().unwrap_or("no reason given");
        return failed(format!("import rejected: {why}"), None);
    }
    if let Some(id) = i.identity {
        match id.enrollment_state {
            EnrollmentState::Failed | EnrollmentState::Blocked => {
                let state = id.enrollment_state.as_graph();
                return failed(
                    format!("enrollment {state} (corporate identifier)"),
                    Some(format!("enrollmentState={state}")),
                );
            }
            _ => {}
        }
    }
    if let Some(r) = i.report
        && deployment::deployment(&r.deployment_status) == Deployment::Failed
    {
        let phase = deployment::phase_label(&r.phase);
        let code = deployment::result_code_label(&r.result_code);
        // The code and what it means first, so a narrow column keeps the fact that matters.
        let msg = match (super::codes::parse(&r.result_code), &code) {
            (Some(n), Some(_)) => format!("{} (deployment, {phase})", super::codes::short(n)),
            (None, Some(c)) => format!("deployment failed at {phase}, result {c}"),
            _ => format!("deployment failed at {phase}"),
        };
        return failed(msg, code);
    }
    None
}

/// A logged-on user, resolved to a UPN, who is neither a staging account nor the current
/// (staging) primary user. Ids not resolved yet (or deleted users, which the feed drops) never
/// count: a deleted account's old logon must not look like a hand-over.
fn real_user_signed_in(i: &Inputs, primary: Option<&str>) -> Option<(String, DateTime<Utc>)> {
    let single = i.single?;
    let primary_id = match &single.primary {
        PrimaryRead::User(u) => Some(u.id.as_str()),
        _ => None,
    };
    let real = single
        .users_logged_on
        .iter()
        .filter(|l| Some(l.user_id.as_str()) != primary_id)
        .filter(|l| l.upn.as_deref().is_some_and(|u| !i.staging.is_staging(u)))
        .max_by_key(|l| l.at)?;
    let who = real.upn.as_deref().unwrap_or(&real.user_id);
    let primary = primary.unwrap_or("none");
    Some((
        format!(
            "{who} signed in {}; primary user still {primary}: waiting for review",
            real.at.format("%Y-%m-%d %H:%M")
        ),
        real.at,
    ))
}

fn before_enrollment(i: &Inputs) -> StageOf {
    if let Some(id) = i.identity {
        let state = id.enrollment_state.as_graph();
        return (
            Stage::Registered,
            format!("corporate identifier in Intune ({state}); no managed device yet"),
            None,
            None,
            id.last_contacted.or(i.queue.map(|q| q.scanned_at)),
        );
    }
    match i.queue {
        Some(q) if q.state == EntryState::Registered => (
            Stage::Registered,
            "corporate identifier accepted; no managed device yet".into(),
            None,
            None,
            Some(q.scanned_at),
        ),
        Some(q) => {
            let msg = match (&q.state, &q.message) {
                (EntryState::Failed, Some(m)) => format!("upload failed: {m}"),
                (EntryState::Failed, None) => "upload failed".into(),
                (EntryState::Uploading, _) => "uploading to Intune".into(),
                _ => "waiting to be uploaded".into(),
            };
            (Stage::Queued, msg, None, None, Some(q.scanned_at))
        }
        None => (Stage::Queued, "not seen in Intune".into(), None, None, None),
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;

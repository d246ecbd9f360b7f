//! The review pane's messages from its feed and commands to it.

use chrono::{DateTime, Utc};

use crate::review::{ApplyJob, ApplyState, Proposal, Rejection};

/// From the review feed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewMsg {
    Loading,
    /// A complete candidate list (the review's proposals); `generation` increases with each
    /// refresh.
    Loaded {
        generation: u64,
        at: DateTime<Utc>,
        candidates: Vec<Proposal>,
    },
    Failed {
        generation: u64,
        reason: String,
    },
    /// An approved change moved on (writing, confirming, confirmed, failed).
    Progress {
        device_id: String,
        state: ApplyState,
    },
    /// The rejections remembered in the data dir, sent once before the first `Loaded`.
    Remembered(Vec<Rejection>),
    /// Rejections sent with `ReviewCmd::Reject` were made durable (`Ok`) or not (`Err`, the rows
    /// come back). `audit_error`: saved, but the audit record could not be written.
    RejectSaved {
        device_ids: Vec<String>,
        result: Result<(), String>,
        audit_error: Option<String>,
        /// Who the rejection records name, and when.
        by: String,
        at: DateTime<Utc>,
    },
    /// Rejections lifted with `ReviewCmd::Lift` are forgotten durably (`Ok`) or not (`Err`, the
    /// rows are hidden again). `audit_error`: lifted, but the audit record could not be written.
    LiftSaved {
        device_ids: Vec<String>,
        result: Result<(), String>,
        audit_error: Option<String>,
    },
    /// `cmd` reached no review feed (not connected): each part is answered as failed.
    Unsent {
        cmd: ReviewCmd,
        reason: String,
    },
}

/// To the review feed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewCmd {
    Refresh,
    /// Write these confirmed changes (audit before, POST users/$ref, audit after, read back).
    Apply(Vec<ApplyJob>),
    /// Remember these rejections (the store's database, then the audit log); answered by
    /// `RejectSaved`.
    Reject(Vec<Reject>),
    /// These rejections no longer hold (device id, fingerprint): the device's data changed.
    Forget(Vec<(String, String)>),
    /// The lead lifts these rejections (undo, or the rejected view): forgotten on disk, then
    /// audited; answered by `LiftSaved`.
    Lift(Vec<Lift>),
}

/// A rejection the lead lifts; the feed adds who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lift {
    pub device_id: String,
    pub serial: String,
    pub fingerprint: String,
    /// The current (staging) primary user, when the device is still a candidate.
    pub from_upn: Option<String>,
    /// The proposal that had been rejected.
    pub proposed_upn: Option<String>,
    /// Who rejected it, and when (for the audit record).
    pub rejected_by: Option<String>,
}

/// A row the lead rejected; the feed adds who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub device_id: String,
    pub serial: String,
    pub fingerprint: String,
    /// The current (staging) primary user.
    pub from_upn: String,
    /// The rejected proposal (the hand pick, if one was made).
    pub proposed_upn: Option<String>,
    /// The verdict word shown when rejected.
    pub verdict: String,
}

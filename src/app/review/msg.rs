//! The review pane's messages from its feed and commands to it.

use chrono::{DateTime, Utc};

use crate::review::{ApplyJob, ApplyState, Assessment, DeviceFacts, Person, Verdict};

/// A user the lead may pick for a row (a non-staging user from its sign-in history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub person: Person,
    pub at: DateTime<Utc>,
    /// What the user rules say about this user on this device (`propose` or `blocked`).
    pub verdict: Verdict,
}

/// One candidate as the feed reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub device: DeviceFacts,
    pub assessment: Assessment,
    /// Every resolved non-staging user of the history, newest first, one entry per user.
    pub choices: Vec<Choice>,
}

/// From the review feed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewMsg {
    Loading,
    /// A complete candidate list; `generation` increases with each refresh.
    Loaded {
        generation: u64,
        at: DateTime<Utc>,
        candidates: Vec<Candidate>,
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
}

/// To the review feed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewCmd {
    Refresh,
    /// Write these confirmed changes (audit before, POST users/$ref, audit after, read back).
    Apply(Vec<ApplyJob>),
}

//! What makes a notice: a device entering a bad condition opens an episode; leaving it closes
//! the episode. Plain functions of a status row.

use serde::{Deserialize, Serialize};

use crate::status::{DeviceStatus, Stage};

/// The conditions a notice is about (each switchable in `[notify]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Failed,
    Stuck,
    Noncompliant,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Failed, Kind::Stuck, Kind::Noncompliant];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Failed => "failed",
            Kind::Stuck => "stuck",
            Kind::Noncompliant => "noncompliant",
        }
    }

    /// Is `row` in this condition?
    pub fn holds(self, row: &DeviceStatus) -> bool {
        match self {
            Kind::Failed => row.stage == Stage::Failed,
            Kind::Stuck => row.flags.stuck,
            Kind::Noncompliant => row.flags.noncompliant,
        }
    }
}

/// An episode opened or closed by a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Opened { episode: String },
    Recovered { episode: String },
}

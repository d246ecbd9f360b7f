//! Plain inputs to the stage derivation. The feed maps Graph's types into these; nothing here
//! knows about HTTP or serde shapes of Graph.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::graph::models::ComplianceState;
use crate::store::EntryState;

/// The local queue's view of a serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInput {
    pub state: EntryState,
    pub scanned_at: DateTime<Utc>,
    pub message: Option<String>,
}

/// `importedDeviceIdentity.enrollmentState` (docs/graph.md §1.1), typed once when read.
pub use crate::graph::models::EnrollmentState;

/// The corporate identifier in Intune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInput {
    pub enrollment_state: EnrollmentState,
    pub last_contacted: Option<DateTime<Utc>>,
}

/// A `managedDevices` list row (only the `$select`ed fields). Text is shared (`Arc<str>`) with
/// the rows built from it, which also keep the whole row (`Arc<DeviceRow>`) for the detail view.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceRow {
    pub id: Arc<str>,
    pub device_name: Arc<str>,
    /// The list's `userPrincipalName`: may lag a primary-user change (docs/graph.md §3.4).
    pub user_principal_name: Option<Arc<str>>,
    pub enrolled_at: Option<DateTime<Utc>>,
    pub last_sync: Option<DateTime<Utc>>,
    /// `complianceState`, typed once when the list is read.
    pub compliance: Option<ComplianceState>,
}

/// One `usersLoggedOn` entry; `upn` once the feed resolved the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOn {
    pub user_id: String,
    pub upn: Option<Arc<str>>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    pub id: String,
    pub upn: Arc<str>,
}

/// What `GET managedDevices/{id}/users` said, if it was read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PrimaryRead {
    #[default]
    NotRead,
    /// Read: the device has no primary user (shared).
    NoUser,
    User(UserRef),
}

/// Single-device reads (`$select=usersLoggedOn,enrolledByUserPrincipalName` and `/users`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SingleDevice {
    pub enrolled_by: Option<Arc<str>>,
    pub users_logged_on: Vec<LoggedOn>,
    pub primary: PrimaryRead,
}

/// One `AutopilotV2DeploymentStatus` report row, codes kept raw (see `deployment.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportRow {
    pub deployment_status: Arc<str>,
    pub phase: String,
    pub result_code: String,
    /// The user who signed in during OOBE.
    pub upn: Option<String>,
    pub enrollment_time: Option<DateTime<Utc>>,
}

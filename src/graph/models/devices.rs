//! `managedDevice` and its parts (docs/graph.md §2, §6).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{graph_enum, null_default};

graph_enum!(ComplianceState {
    Unknown,
    Compliant,
    Noncompliant,
    Conflict,
    Error,
    InGracePeriod,
    ConfigManager
});
impl ComplianceState {
    /// Every member Graph documents, in its order.
    pub const ALL: [Self; 7] = [
        Self::Unknown,
        Self::Compliant,
        Self::Noncompliant,
        Self::Conflict,
        Self::Error,
        Self::InGracePeriod,
        Self::ConfigManager,
    ];

    /// A documented member by its Graph name, ASCII-case-insensitively (`INGRACEPERIOD`).
    pub fn from_graph(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_graph().eq_ignore_ascii_case(name.trim()))
    }

    /// Graph's member name (`other` for one this build does not know).
    pub fn as_graph(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Compliant => "compliant",
            Self::Noncompliant => "noncompliant",
            Self::Conflict => "conflict",
            Self::Error => "error",
            Self::InGracePeriod => "inGracePeriod",
            Self::ConfigManager => "configManager",
            Self::Other => "other",
        }
    }
}

graph_enum!(ManagementState {
    Managed,
    RetirePending,
    RetireFailed,
    WipePending,
    WipeFailed,
    Unhealthy,
    DeletePending,
    RetireIssued,
    WipeIssued,
    WipeCanceled,
    RetireCanceled,
    Discovered
});
graph_enum!(JoinType {
    Unknown,
    #[serde(rename = "azureADJoined")]
    AzureAdJoined,
    #[serde(rename = "azureADRegistered")]
    AzureAdRegistered,
    #[serde(rename = "hybridAzureADJoined")]
    HybridAzureAdJoined
});
graph_enum!(OwnerType {
    Unknown,
    Company,
    Personal
});
graph_enum!(ActionState {
    None,
    Pending,
    Canceled,
    Active,
    Done,
    Failed,
    NotSupported
});
graph_enum!(ObliterationBehavior {
    Always,
    Default,
    DoNotObliterate,
    ObliterateWithWarning
});

/// `loggedOnUser`: one entry of `usersLoggedOn`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOnUser {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub last_log_on_date_time: Option<DateTime<Utc>>,
}

/// `deviceActionResult`: progress of a remote action.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceActionResult {
    #[serde(default)]
    pub action_name: Option<String>,
    #[serde(default)]
    pub action_state: Option<ActionState>,
    #[serde(default)]
    pub start_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_updated_date_time: Option<DateTime<Utc>>,
}

/// The `managedDevice` properties the status feed lists (its `$select`), and nothing else: a page
/// of 1,000 parses into 1,000 of these, not 1,000 full `ManagedDevice`s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDeviceSummary {
    pub id: String,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub enrolled_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_sync_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub compliance_state: Option<ComplianceState>,
}

/// The `managedDevice` properties the console uses; the rest are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDevice {
    pub id: String,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub user_display_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub enrolled_by_user_principal_name: Option<String>,
    #[serde(default)]
    pub enrolled_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_sync_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub compliance_state: Option<ComplianceState>,
    #[serde(default)]
    pub management_state: Option<ManagementState>,
    /// Kept as text: the enum has 20+ members and grows.
    #[serde(default)]
    pub device_enrollment_type: Option<String>,
    #[serde(default)]
    pub managed_device_owner_type: Option<OwnerType>,
    #[serde(default)]
    pub join_type: Option<JoinType>,
    #[serde(default, rename = "azureADDeviceId")]
    pub azure_ad_device_id: Option<String>,
    #[serde(default)]
    pub autopilot_enrolled: Option<bool>,
    #[serde(default)]
    pub operating_system: Option<String>,
    #[serde(default)]
    pub os_version: Option<String>,
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub enrollment_profile_name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub users_logged_on: Vec<LoggedOnUser>,
    #[serde(default, deserialize_with = "null_default")]
    pub device_action_results: Vec<DeviceActionResult>,
}

/// Body of `POST managedDevices/{id}/wipe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WipeOptions {
    pub keep_enrollment_data: bool,
    pub keep_user_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persist_esim_data_plan: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_protected_wipe: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obliteration_behavior: Option<ObliterationBehavior>,
}

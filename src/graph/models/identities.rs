//! Corporate device identifiers (`importedDeviceIdentity`, docs/graph.md §1).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::graph_enum;

graph_enum!(
    /// How `importedDeviceIdentifier` is to be read.
    ImportedDeviceIdentityType { Unknown, Imei, SerialNumber, ManufacturerModelSerial }
);
graph_enum!(
    /// Enrollment state of an imported identity.
    EnrollmentState { Unknown, Enrolled, PendingReset, Failed, NotContacted, Blocked }
);
impl EnrollmentState {
    /// Graph's member name (`other` for one this build does not know).
    pub fn as_graph(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Enrolled => "enrolled",
            Self::PendingReset => "pendingReset",
            Self::Failed => "failed",
            Self::NotContacted => "notContacted",
            Self::Blocked => "blocked",
            Self::Other => "other",
        }
    }
}
graph_enum!(
    /// Device platform. The wire strings are case-sensitive and follow the metadata: `macOS`,
    /// `visionOS`, `tvOS` (the docs page spells it `tvos`, still read) (docs/graph.md §1.1).
    Platform { Unknown, Ios, Android, Windows, WindowsMobile, #[serde(rename = "macOS")] MacOs, #[serde(rename = "visionOS")] VisionOs, #[serde(rename = "tvOS", alias = "tvos")] TvOs }
);

/// `microsoft.graph.importedDeviceIdentity`. Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedDeviceIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub imported_device_identifier: Option<String>,
    #[serde(default)]
    pub imported_device_identity_type: Option<ImportedDeviceIdentityType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing)]
    pub enrollment_state: Option<EnrollmentState>,
    #[serde(default, skip_serializing)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing)]
    pub last_modified_date_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing)]
    pub last_contacted_date_time: Option<DateTime<Utc>>,
}

impl ImportedDeviceIdentity {
    /// A Windows `manufacturer,model,serial` identifier (comma-joined as the portal CSV does,
    /// docs/graph.md §1.3).
    pub fn windows(manufacturer: &str, model: &str, serial: &str) -> Self {
        Self {
            imported_device_identifier: Some(format!("{manufacturer},{model},{serial}")),
            imported_device_identity_type: Some(
                ImportedDeviceIdentityType::ManufacturerModelSerial,
            ),
            platform: Some(Platform::Windows),
            ..Self::default()
        }
    }
}

/// `microsoft.graph.importedDeviceIdentityResult`: the identity plus `status`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedDeviceIdentityResult {
    #[serde(flatten)]
    pub identity: ImportedDeviceIdentity,
    #[serde(default)]
    pub status: Option<bool>,
}

//! Typed view of the Autopilot device preparation deployment report (docs/graph.md §4.1).

use super::super::client::GraphClient;
use super::super::error::GraphError;
use super::super::export::{ExportPolling, ReportRecord};

/// The APv2 deployment report name.
pub const AUTOPILOT_V2_DEPLOYMENT_STATUS: &str = "AutopilotV2DeploymentStatus";

const COLUMNS: &[&str] = &[
    "DeviceId",
    "DeviceName",
    "SerialNumber",
    "UPN",
    "EnrollmentTimeInUtc",
    "CurrentProvisioningPhase",
    "DeploymentStatus",
    "DeploymentDurationTimeInSeconds",
    "Phase",
    "ResultCode",
];

/// One row of `AutopilotV2DeploymentStatus`. Numeric codes are kept raw: their labels are
/// undocumented (observed: status 2 = success, 3 = failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutopilotDeployment {
    pub device_id: String,
    pub device_name: String,
    pub serial_number: String,
    pub upn: String,
    pub enrollment_time_utc: String,
    pub current_provisioning_phase: String,
    pub deployment_status: String,
    pub duration_seconds: String,
    pub phase: String,
    pub result_code: String,
}

impl AutopilotDeployment {
    fn from_record(r: &ReportRecord<'_>) -> Self {
        let g = |k: &str| r.get(k).unwrap_or_default().to_string();
        Self {
            device_id: g("DeviceId"),
            device_name: g("DeviceName"),
            serial_number: g("SerialNumber"),
            upn: g("UPN"),
            enrollment_time_utc: g("EnrollmentTimeInUtc"),
            current_provisioning_phase: g("CurrentProvisioningPhase"),
            deployment_status: g("DeploymentStatus"),
            duration_seconds: g("DeploymentDurationTimeInSeconds"),
            phase: g("Phase"),
            result_code: g("ResultCode"),
        }
    }
}

impl GraphClient {
    /// Exports `AutopilotV2DeploymentStatus` and types its rows.
    pub async fn autopilot_v2_deployments(
        &self,
        filter: Option<&str>,
    ) -> Result<Vec<AutopilotDeployment>, GraphError> {
        let mut rows = Vec::new();
        self.each_autopilot_v2_deployment(filter, |d| rows.push(d))
            .await?;
        Ok(rows)
    }

    /// Exports `AutopilotV2DeploymentStatus` and hands each typed row to `each` as it is parsed.
    /// Returns the number of rows; on an error part of them may have been handed over.
    pub async fn each_autopilot_v2_deployment(
        &self,
        filter: Option<&str>,
        mut each: impl FnMut(AutopilotDeployment),
    ) -> Result<usize, GraphError> {
        self.export_report_each(
            AUTOPILOT_V2_DEPLOYMENT_STATUS,
            COLUMNS,
            filter,
            ExportPolling::default(),
            |r| each(AutopilotDeployment::from_record(&r)),
        )
        .await
    }
}

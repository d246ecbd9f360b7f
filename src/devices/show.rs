//! `devices show`: one device in full, with its primary user (read from `/users`, which is
//! authoritative over the device's own `userPrincipalName`), its corporate identifier and its
//! Autopilot device preparation deployment.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::graph::GraphClient;
use crate::graph::models::{
    ActionState, ComplianceState, EnrollmentState, JoinType, ManagedDevice, ManagementState,
};
use crate::graph::ops::AutopilotDeployment;
use crate::status::deployment::{self, Deployment};

use super::{DeviceKey, DevicesError, resolve};

/// A remote action's progress (`deviceActionResults`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingAction {
    pub action: String,
    pub state: Option<ActionState>,
    pub started: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

/// The corporate identifier registered for the serial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorporateIdentifier {
    pub id: Option<String>,
    pub identifier: String,
    pub enrollment_state: Option<EnrollmentState>,
}

/// The device's APv2 deployment row (codes raw: their labels are undocumented).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceDeployment {
    /// `succeeded`, `failed` or `in progress` (observed codes 2 and 3; anything else in progress).
    pub status: String,
    pub status_code: String,
    pub phase: String,
    pub result_code: String,
    pub upn: String,
}

impl DeviceDeployment {
    /// The row as shown; the status code is read by `status::deployment`, the one reader.
    fn of(row: &AutopilotDeployment) -> Self {
        let status = match deployment::deployment(&row.deployment_status) {
            Deployment::Succeeded => "succeeded",
            Deployment::Failed => "failed",
            Deployment::InProgress => "in progress",
        };
        Self {
            status: status.into(),
            status_code: row.deployment_status.clone(),
            phase: row.phase.clone(),
            result_code: row.result_code.clone(),
            upn: row.upn.clone(),
        }
    }
}

/// Everything `devices show` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceDetail {
    pub id: String,
    pub serial: String,
    pub name: String,
    pub manufacturer: String,
    pub model: String,
    pub operating_system: String,
    pub os_version: String,
    pub last_sync: Option<DateTime<Utc>>,
    pub compliance: Option<ComplianceState>,
    /// From `managedDevices/{id}/users`; `None` = shared device.
    pub primary_user: Option<String>,
    pub enrolled_by: Option<String>,
    pub enrollment_profile: Option<String>,
    pub join_type: Option<JoinType>,
    pub management_state: Option<ManagementState>,
    pub pending_actions: Vec<PendingAction>,
    pub corporate_identifier: Option<CorporateIdentifier>,
    /// `None` when not asked for or no row names this device.
    pub deployment: Option<DeviceDeployment>,
}

/// Properties only a single GET fills in reliably (docs/graph.md §2.3).
pub const SHOW_SELECT: &[&str] = &[
    "id",
    "deviceName",
    "serialNumber",
    "manufacturer",
    "model",
    "operatingSystem",
    "osVersion",
    "lastSyncDateTime",
    "complianceState",
    "enrolledByUserPrincipalName",
    "enrollmentProfileName",
    "joinType",
    "managementState",
    "deviceActionResults",
];

/// The detail of the device `key` names. `with_deployment` runs the deployment report export
/// (seconds, not milliseconds: the export job is polled).
pub async fn show(
    client: &GraphClient,
    key: &DeviceKey,
    with_deployment: bool,
) -> Result<DeviceDetail, DevicesError> {
    let found = resolve(client, key).await?;
    let d = client.get_managed_device(&found.id, SHOW_SELECT).await?;
    let primary = client.device_primary_users(&d.id).await?;
    let serial = d.serial_number.clone().unwrap_or_default();
    let identifier = if serial.is_empty() {
        None
    } else {
        corporate_identifier(client, &serial).await?
    };
    let deployment = if with_deployment {
        deployment_of(client, &d.id, &serial).await?
    } else {
        None
    };
    Ok(detail(
        &d,
        primary.first().and_then(|u| u.user_principal_name.clone()),
        identifier,
        deployment,
    ))
}

/// The deployment report row naming the device (by id, else by serial); `None` when no row does.
/// Runs the report export (seconds: the job is polled).
pub async fn deployment_of(
    client: &GraphClient,
    device_id: &str,
    serial: &str,
) -> Result<Option<DeviceDeployment>, DevicesError> {
    Ok(client
        .autopilot_v2_deployments(None)
        .await?
        .iter()
        .find(|r| {
            r.device_id.eq_ignore_ascii_case(device_id)
                || (!serial.is_empty() && r.serial_number.eq_ignore_ascii_case(serial))
        })
        .map(DeviceDeployment::of))
}

/// The identifier whose serial part is exactly `serial` (the list filter is `contains`).
async fn corporate_identifier(
    client: &GraphClient,
    serial: &str,
) -> Result<Option<CorporateIdentifier>, DevicesError> {
    let all = client.list_imported_identities(Some(serial)).await?;
    Ok(all
        .into_iter()
        .find(|i| {
            i.imported_device_identifier.as_deref().is_some_and(|v| {
                v.rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case(serial))
            })
        })
        .map(|i| CorporateIdentifier {
            id: i.id,
            identifier: i.imported_device_identifier.unwrap_or_default(),
            enrollment_state: i.enrollment_state,
        }))
}

fn detail(
    d: &ManagedDevice,
    primary_user: Option<String>,
    corporate_identifier: Option<CorporateIdentifier>,
    deployment: Option<DeviceDeployment>,
) -> DeviceDetail {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    DeviceDetail {
        id: d.id.clone(),
        serial: s(&d.serial_number),
        name: s(&d.device_name),
        manufacturer: s(&d.manufacturer),
        model: s(&d.model),
        operating_system: s(&d.operating_system),
        os_version: s(&d.os_version),
        last_sync: d.last_sync_date_time,
        compliance: d.compliance_state,
        primary_user,
        enrolled_by: d.enrolled_by_user_principal_name.clone(),
        enrollment_profile: d.enrollment_profile_name.clone(),
        join_type: d.join_type,
        management_state: d.management_state,
        pending_actions: d
            .device_action_results
            .iter()
            .map(|r| PendingAction {
                action: r.action_name.clone().unwrap_or_default(),
                state: r.action_state,
                started: r.start_date_time,
                updated: r.last_updated_date_time,
            })
            .collect(),
        corporate_identifier,
        deployment,
    }
}

/// The text form of `devices show`: one `label: value` line per field.
pub fn render_text(d: &DeviceDetail) -> String {
    fn e<T: Serialize>(v: &Option<T>) -> String {
        v.as_ref()
            .and_then(|v| serde_json::to_value(v).ok())
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "-".into())
    }
    let t = |v: &Option<DateTime<Utc>>| v.map_or_else(|| "-".into(), |t| t.to_rfc3339());
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![
        (
            "Device",
            format!("{} ({} {})", d.name, d.manufacturer, d.model),
        ),
        ("Serial", d.serial.clone()),
        ("Id", d.id.clone()),
        ("OS", format!("{} {}", d.operating_system, d.os_version)),
        ("Last sync", t(&d.last_sync)),
        (
            "Compliance",
            d.compliance.map_or("-", ComplianceState::as_graph).into(),
        ),
        ("Primary user", o(&d.primary_user)),
        ("Enrolled by", o(&d.enrolled_by)),
        ("Enrollment profile", o(&d.enrollment_profile)),
        ("Join type", e(&d.join_type)),
        ("Management state", e(&d.management_state)),
    ];
    let actions: Vec<String> = d
        .pending_actions
        .iter()
        .map(|a| format!("{} {} since {}", a.action, e(&a.state), t(&a.started)))
        .collect();
    lines.push((
        "Actions",
        if actions.is_empty() {
            "-".into()
        } else {
            actions.join("; ")
        },
    ));
    lines.push((
        "Corporate identifier",
        d.corporate_identifier.as_ref().map_or_else(
            || "-".into(),
            |c| {
                format!(
                    "{} ({})",
                    c.identifier,
                    c.enrollment_state.map_or("?", EnrollmentState::as_graph)
                )
            },
        ),
    ));
    lines.push((
        "Deployment",
        d.deployment.as_ref().map_or_else(
            || "-".into(),
            |x| {
                format!(
                    "{} (status {}, phase {}, result {})",
                    x.status, x.status_code, x.phase, x.result_code
                )
            },
        ),
    ));
    lines
        .into_iter()
        // Every value is Graph text: escaped, so it stays on its line and carries no sequence.
        .map(|(k, v)| format!("{k:<21} {}\n", crate::text::escape(&v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_codes_get_labels_and_stay_raw() {
        let row = |code: &str| AutopilotDeployment {
            deployment_status: code.into(),
            ..AutopilotDeployment::default()
        };
        assert_eq!(DeviceDeployment::of(&row("2")).status, "succeeded");
        assert_eq!(DeviceDeployment::of(&row("3")).status, "failed");
        let odd = DeviceDeployment::of(&row("7"));
        assert_eq!(
            (odd.status.as_str(), odd.status_code.as_str()),
            ("in progress", "7")
        );
    }
}

//! One device's status as the pane, the detail view and `stagehand status --json` show it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::inputs::{DeviceRow, IdentityInput, ReportRow, SingleDevice};
use super::stage::{Derived, Flags, Stage};
use super::timeline::Change;

/// Plain, owned, serializable: sent from the feed to the app and printed by the headless command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceStatus {
    pub serial: String,
    pub stage: Stage,
    pub flags: Flags,
    pub device_name: Option<String>,
    pub managed_device_id: Option<String>,
    pub primary_user: Option<String>,
    pub enrolled_by: Option<String>,
    /// `importedDeviceIdentity.enrollmentState`, as Graph names it.
    pub enrollment_state: Option<String>,
    /// The report's raw `DeploymentStatus` code (undocumented; see `status::deployment`).
    pub deployment_status: Option<String>,
    pub last_sync: Option<DateTime<Utc>>,
    pub compliance: Option<String>,
    pub message: String,
    pub code: Option<String>,
    pub phase: Option<String>,
    /// When the device entered `stage`.
    pub since: DateTime<Utc>,
    /// Stage changes this console observed.
    pub timeline: Vec<Change>,
    /// Raw Graph fields behind the row, for the detail view.
    pub raw: BTreeMap<String, String>,
}

/// The Graph side of one device, as it was read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    pub identity: Option<&'a IdentityInput>,
    pub device: Option<&'a DeviceRow>,
    pub single: Option<&'a SingleDevice>,
    pub report: Option<&'a ReportRow>,
}

impl DeviceStatus {
    pub fn build(serial: &str, d: Derived, src: Sources, timeline: &[Change]) -> Self {
        let Derived {
            stage,
            flags,
            since,
            mut message,
            code,
            phase,
            primary_user,
            enrolled_by,
            disagreement,
        } = d;
        if let Some(note) = &disagreement {
            message = format!("{message} ({note})");
        }
        DeviceStatus {
            serial: serial.to_string(),
            stage,
            flags,
            device_name: src.device.map(|d| d.device_name.clone()),
            managed_device_id: src.device.map(|d| d.id.clone()),
            primary_user,
            enrolled_by,
            enrollment_state: src
                .identity
                .map(|i| i.enrollment_state.as_graph().to_string()),
            deployment_status: src.report.map(|r| r.deployment_status.clone()),
            last_sync: src.device.and_then(|d| d.last_sync),
            compliance: src.device.and_then(|d| d.compliance.clone()),
            message,
            code,
            phase,
            since,
            timeline: timeline.to_vec(),
            raw: raw_fields(src),
        }
    }
}

fn raw_fields(src: Sources) -> BTreeMap<String, String> {
    let mut raw = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            raw.insert(k.to_string(), v);
        }
    };
    let ts = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
    if let Some(i) = src.identity {
        put(
            "importedDeviceIdentity.enrollmentState",
            Some(i.enrollment_state.as_graph().into()),
        );
        put(
            "importedDeviceIdentity.lastContactedDateTime",
            ts(i.last_contacted),
        );
    }
    if let Some(d) = src.device {
        put("managedDevice.id", Some(d.id.clone()));
        put("managedDevice.deviceName", Some(d.device_name.clone()));
        put(
            "managedDevice.userPrincipalName",
            d.user_principal_name.clone(),
        );
        put("managedDevice.enrolledDateTime", ts(d.enrolled_at));
        put("managedDevice.lastSyncDateTime", ts(d.last_sync));
        put("managedDevice.complianceState", d.compliance.clone());
    }
    if let Some(s) = src.single {
        put(
            "managedDevice.enrolledByUserPrincipalName",
            s.enrolled_by.clone(),
        );
        let logons: Vec<String> = s
            .users_logged_on
            .iter()
            .map(|l| {
                format!(
                    "{} at {}",
                    l.upn.as_deref().unwrap_or(&l.user_id),
                    l.at.to_rfc3339()
                )
            })
            .collect();
        if !logons.is_empty() {
            put("managedDevice.usersLoggedOn", Some(logons.join(", ")));
        }
        let users = match &s.primary {
            super::PrimaryRead::NotRead => None,
            super::PrimaryRead::NoUser => Some("(none)".to_string()),
            super::PrimaryRead::User(u) => Some(format!("{} ({})", u.upn, u.id)),
        };
        put("managedDevice/users", users);
    }
    if let Some(r) = src.report {
        put("report.DeploymentStatus", Some(r.deployment_status.clone()));
        put("report.CurrentProvisioningPhase", Some(r.phase.clone()));
        put("report.ResultCode", Some(r.result_code.clone()));
        put("report.UPN", r.upn.clone());
        put("report.EnrollmentTimeInUtc", ts(r.enrollment_time));
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StagingConfig;
    use crate::status::{EnrollmentState, Inputs, PrimaryRead, Thresholds, UserRef, derive};

    #[test]
    fn json_has_the_documented_fields() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc();
        let identity = IdentityInput {
            enrollment_state: EnrollmentState::Enrolled,
            last_contacted: None,
        };
        let device = DeviceRow {
            id: "md-1".into(),
            device_name: "DESKTOP-1".into(),
            user_principal_name: Some("ada@contoso.example".into()),
            enrolled_at: Some(now),
            last_sync: Some(now),
            compliance: Some("noncompliant".into()),
        };
        let single = SingleDevice {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![],
            primary: PrimaryRead::User(UserRef {
                id: "u-s".into(),
                upn: "stage01@contoso.example".into(),
            }),
        };
        let report = ReportRow {
            deployment_status: "2".into(),
            phase: "4".into(),
            result_code: "0".into(),
            upn: None,
            enrollment_time: None,
        };
        let staging = StagingConfig {
            accounts: vec!["stage01@contoso.example".into()],
        };
        let th = Thresholds::default();
        let d = derive(&Inputs {
            queue: None,
            identity: Some(&identity),
            device: Some(&device),
            single: Some(&single),
            report: Some(&report),
            staging: &staging,
            thresholds: &th,
            previous: None,
            poll_failed: false,
            now,
        });
        let src = Sources {
            identity: Some(&identity),
            device: Some(&device),
            single: Some(&single),
            report: Some(&report),
        };
        let row = DeviceStatus::build("PF1", d, src, &[]);
        assert!(row.message.contains("using /users"), "{}", row.message);
        let v = serde_json::to_value(&row).unwrap();
        for key in [
            "serial",
            "stage",
            "flags",
            "device_name",
            "managed_device_id",
            "primary_user",
            "enrolled_by",
            "enrollment_state",
            "deployment_status",
            "last_sync",
            "message",
        ] {
            assert!(v.get(key).is_some(), "missing {key}: {v}");
        }
        assert_eq!(v["stage"], "provisioned");
        assert_eq!(v["flags"], serde_json::json!(["noncompliant"]));
        assert_eq!(v["primary_user"], "stage01@contoso.example");
        assert_eq!(v["deployment_status"], "2");
        assert_eq!(
            v["raw"]["managedDevice.userPrincipalName"],
            "ada@contoso.example"
        );
        assert_eq!(
            v["raw"]["managedDevice/users"],
            "stage01@contoso.example (u-s)"
        );
    }
}

//! One device's status as the pane, the detail view and `stagehand status --json` show it.
//!
//! Rows are shared (`Arc<DeviceStatus>`) between the tracker, the feed's messages and the pane,
//! and re-used while nothing about the device changes. The raw Graph inputs behind a row are
//! shared with the tracker and the feed's maps (`Arc`), never copied; their text form is built
//! only when something reads it (the detail view of the one open row, or `--json`).

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::inputs::{
    DeviceRow, EnrollmentState, IdentityInput, PrimaryRead, ReportRow, SingleDevice,
};
use super::stage::{Derived, Flags, Stage};
use super::timeline::Change;
use crate::graph::models::ComplianceState;

/// A row as the feed publishes it and the pane keeps it: shared, never copied per publish.
pub type SharedRow = Arc<DeviceStatus>;

/// Plain, owned, serializable: sent from the feed to the app and printed by the headless command.
/// Text that comes from Graph is shared (`Arc<str>`) with the inputs it was read into, and the raw
/// inputs themselves are kept by reference: a row costs one allocation for itself, one for the
/// serial and one for the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceStatus {
    pub serial: Box<str>,
    pub stage: Stage,
    pub flags: Flags,
    pub device_name: Option<Arc<str>>,
    pub managed_device_id: Option<Arc<str>>,
    pub primary_user: Option<Arc<str>>,
    pub enrolled_by: Option<Arc<str>>,
    /// `importedDeviceIdentity.enrollmentState` (serialised as Graph names it).
    pub enrollment_state: Option<EnrollmentState>,
    /// The report's raw `DeploymentStatus` code (undocumented; see `status::deployment`).
    pub deployment_status: Option<Arc<str>>,
    pub last_sync: Option<DateTime<Utc>>,
    /// `complianceState` (serialised as Graph names it).
    pub compliance: Option<ComplianceState>,
    pub message: Box<str>,
    pub code: Option<Box<str>>,
    pub phase: Option<Box<str>>,
    /// When the device entered `stage`.
    pub since: DateTime<Utc>,
    /// The last stage changes this console observed (at most `timeline::MAX_CHANGES`), shared
    /// with the tracker until the next change.
    pub timeline: Arc<[Change]>,
    /// Raw Graph fields behind the row, for the detail view.
    pub raw: RawFields,
}

/// The Graph side of one device, as it was read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    pub identity: Option<&'a IdentityInput>,
    pub device: Option<&'a Arc<DeviceRow>>,
    pub single: Option<&'a Arc<SingleDevice>>,
    pub report: Option<&'a Arc<ReportRow>>,
}

impl DeviceStatus {
    pub fn build(serial: &str, d: Derived, src: Sources, timeline: Arc<[Change]>) -> Self {
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
            serial: serial.into(),
            stage,
            flags,
            device_name: src.device.map(|d| d.device_name.clone()),
            managed_device_id: src.device.map(|d| d.id.clone()),
            primary_user,
            enrolled_by,
            enrollment_state: src.identity.map(|i| i.enrollment_state),
            deployment_status: src.report.map(|r| r.deployment_status.clone()),
            last_sync: src.device.and_then(|d| d.last_sync),
            compliance: src.device.and_then(|d| d.compliance),
            message: message.into(),
            code: code.map(Box::from),
            phase: phase.map(Box::from),
            since,
            timeline,
            raw: RawFields::from_sources(src),
        }
    }
}

/// Raw Graph fields of one row: the inputs it was derived from, shared, not copied; `iter`
/// renders `(name, value)` pairs, sorted by name, once per row and only when asked.
#[derive(Debug, Clone, Default)]
pub struct RawFields {
    identity: Option<IdentityInput>,
    device: Option<Arc<DeviceRow>>,
    single: Option<Arc<SingleDevice>>,
    report: Option<Arc<ReportRow>>,
    /// Where the Autopilot registration of a device queued from a hash file stands.
    autopilot: Option<Arc<crate::autopilot::bench::AutopilotView>>,
    shown: OnceLock<Box<[(&'static str, String)]>>,
}

impl PartialEq for RawFields {
    /// Compares the Graph values, not whether the text form was built yet.
    fn eq(&self, o: &Self) -> bool {
        (&self.identity, &self.device, &self.single, &self.report)
            == (&o.identity, &o.device, &o.single, &o.report)
            && self.autopilot == o.autopilot
    }
}

impl Eq for RawFields {}

impl RawFields {
    pub fn from_sources(src: Sources) -> Self {
        RawFields {
            identity: src.identity.cloned(),
            device: src.device.cloned(),
            single: src.single.cloned(),
            report: src.report.cloned(),
            autopilot: None,
            shown: OnceLock::new(),
        }
    }

    /// The same fields with the Autopilot registration's view (a device from a hash file).
    pub fn with_autopilot(&self, v: Arc<crate::autopilot::bench::AutopilotView>) -> Self {
        RawFields {
            identity: self.identity.clone(),
            device: self.device.clone(),
            single: self.single.clone(),
            report: self.report.clone(),
            autopilot: Some(v),
            shown: OnceLock::new(),
        }
    }

    /// The Autopilot registration behind these fields, for devices queued from hash files.
    pub fn autopilot(&self) -> Option<&Arc<crate::autopilot::bench::AutopilotView>> {
        self.autopilot.as_ref()
    }

    /// The report row behind these fields, as shared with the feed.
    pub fn report(&self) -> Option<&Arc<ReportRow>> {
        self.report.as_ref()
    }

    /// The listed device behind these fields, as shared with the feed.
    pub fn device(&self) -> Option<&Arc<DeviceRow>> {
        self.device.as_ref()
    }

    /// `(Graph field, value)` pairs, sorted by field name. Built on first use, then kept.
    pub fn iter(&self) -> std::slice::Iter<'_, (&'static str, String)> {
        self.shown
            .get_or_init(|| self.render().into_boxed_slice())
            .iter()
    }

    /// The value of one field, as `iter` shows it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.identity.is_none()
            && self.device.is_none()
            && self.single.is_none()
            && self.report.is_none()
            && self.autopilot.is_none()
    }

    fn render(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        let mut put = |k: &'static str, v: Option<&str>| {
            if let Some(v) = v {
                out.push((k, v.to_string()));
            }
        };
        let ts = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
        if let Some(i) = &self.identity {
            put(
                "importedDeviceIdentity.enrollmentState",
                Some(i.enrollment_state.as_graph()),
            );
            put(
                "importedDeviceIdentity.lastContactedDateTime",
                ts(&i.last_contacted).as_deref(),
            );
        }
        if let Some(d) = &self.device {
            put("managedDevice.id", Some(&d.id));
            put("managedDevice.deviceName", Some(&d.device_name));
            put(
                "managedDevice.userPrincipalName",
                d.user_principal_name.as_deref(),
            );
            put(
                "managedDevice.enrolledDateTime",
                ts(&d.enrolled_at).as_deref(),
            );
            put(
                "managedDevice.lastSyncDateTime",
                ts(&d.last_sync).as_deref(),
            );
            put(
                "managedDevice.complianceState",
                d.compliance.map(ComplianceState::as_graph),
            );
        }
        if let Some(s) = &self.single {
            put(
                "managedDevice.enrolledByUserPrincipalName",
                s.enrolled_by.as_deref(),
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
                put("managedDevice.usersLoggedOn", Some(&logons.join(", ")));
            }
            let users = match &s.primary {
                PrimaryRead::NotRead => None,
                PrimaryRead::NoUser => Some("(none)".to_string()),
                PrimaryRead::User(u) => Some(format!("{} ({})", u.upn, u.id)),
            };
            put("managedDevice/users", users.as_deref());
        }
        if let Some(r) = &self.report {
            put("report.DeploymentStatus", Some(&r.deployment_status));
            put("report.CurrentProvisioningPhase", Some(&r.phase));
            put("report.ResultCode", Some(&r.result_code));
            put("report.UPN", r.upn.as_deref());
            put(
                "report.EnrollmentTimeInUtc",
                ts(&r.enrollment_time).as_deref(),
            );
        }
        if let Some(a) = &self.autopilot {
            put("autopilot.importState", Some(a.import_state.as_str()));
            put("autopilot.importId", a.import_id.as_deref());
            put("autopilot.importMessage", a.import_message.as_deref());
            put(
                "windowsAutopilotDeviceIdentity.id",
                a.registration_id.as_deref(),
            );
            put(
                "windowsAutopilotDeviceIdentity.deploymentProfileAssignmentStatus",
                a.profile_assignment.as_deref(),
            );
            put(
                "windowsAutopilotDeviceIdentity.deploymentProfileAssignmentDetailedStatus",
                a.profile_assignment_detail.as_deref(),
            );
        }
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }
}

impl Serialize for RawFields {
    /// A JSON object of field -> value (no text cache is kept for printed rows).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pairs = match self.shown.get() {
            Some(p) => std::borrow::Cow::Borrowed(&p[..]),
            None => std::borrow::Cow::Owned(self.render()),
        };
        s.collect_map(pairs.iter().map(|(k, v)| (*k, v)))
    }
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
            compliance: Some(ComplianceState::Noncompliant),
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
        let (device, single, report) = (Arc::new(device), Arc::new(single), Arc::new(report));
        let src = Sources {
            identity: Some(&identity),
            device: Some(&device),
            single: Some(&single),
            report: Some(&report),
        };
        let row = DeviceStatus::build("PF1", d, src, Arc::new([]));
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
            row.raw.get("report.DeploymentStatus"),
            Some("2"),
            "the detail view reads the same pairs"
        );
        assert_eq!(
            v["raw"]["managedDevice/users"],
            "stage01@contoso.example (u-s)"
        );
    }
}

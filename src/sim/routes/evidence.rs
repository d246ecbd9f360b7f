//! The evidence endpoints (REFERENCE 16): Enrollment Status Page configurations and their
//! assignments, per-device configuration and compliance policy states, the two per-device
//! stream reports, remote diagnostics (log collection, download URL, the blob) and the
//! sign-in log, which this tenant cannot serve (no Entra ID P1).
//!
//! Shapes follow Microsoft's published samples (tests/fixtures/graph/README.md lists them);
//! the values are derived from the fleet so a failed device looks failed everywhere.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::table::Spec;
use super::{body_json, context, error, page};
use crate::sim::auth::Token;
use crate::sim::fleet::{Device, SimDeployment as Deployment, iso};
use crate::sim::limits::ThrottleFamily;
use crate::sim::server::{Incoming, Reply, ReplyBody, State};

/// Report actions (docs of `getDevicePoliciesComplianceReport` and siblings).
const REPORT_READ: &[&str] = &[
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementApps.ReadWrite.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
];
const SVC_READ: &[&str] = &[
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
];
const DEV_READ: &[&str] = &[
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
];
/// `createDeviceLogCollectionRequest` (REFERENCE 16 #8).
const LOGS_WRITE: &[&str] = &[
    "DeviceManagementManagedDevices.ReadWrite.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
const AUDIT_LOG: &[&str] = &["AuditLog.Read.All"];

/// The evidence routes, matched after the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    EnrollmentConfigurations,
    EnrollmentConfigurationAssignments(String),
    ConfigurationStates(String),
    CompliancePolicyStates(String),
    CompliancePolicyReport,
    AppInstallReport,
    CreateLogCollection(String),
    LogCollection(String, String),
    LogDownloadUrl(String, String),
    SignIns,
    /// `devices(deviceId='…')/transitiveMemberOf` (the Entra device's `deviceId`).
    DeviceMemberOf(String),
    /// `users/{id | userPrincipalName}/transitiveMemberOf`.
    UserMemberOf(String),
}

/// `device-list-transitivememberof`: least privileged Device.Read.All.
const DEVICE_GROUPS_READ: &[&str] = &[
    "Device.Read.All",
    "Device.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// `user-list-transitivememberof`: GroupMember.Read.All (with a user read permission).
const USER_GROUPS_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// The security group the staging accounts are in (user-targeted assignments in this tenant).
pub const STAGING_USERS_GROUP_ID: &str = "3c5e7a91-0b2d-4f46-8e13-5a7c9d1e2f30";

/// `devices(deviceId='x')` or `devices(deviceId=%27x%27)` → `x`.
fn device_alternate_key(seg: &str) -> Option<String> {
    let s = percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .to_string();
    let inner = s.strip_prefix("devices(deviceId=")?.strip_suffix(')')?;
    crate::graph::odata::parse_literal(inner)
}

/// Remote diagnostics requested in this tenant.
#[derive(Debug, Default)]
pub struct EvidenceState {
    requests: HashMap<String, LogRequest>,
}

#[derive(Debug, Clone)]
struct LogRequest {
    id: String,
    device_id: String,
    requested: DateTime<Utc>,
    by: String,
    enrolled_by: String,
    /// Reads so far: `pending` on the first, `completed` from the second.
    polls: u32,
    sig: String,
    zip: Vec<u8>,
}

pub fn parse(method: &str, version: &str, segs: &[&str]) -> Option<Ev> {
    let id = |s: &str| s.to_string();
    let beta = version == "beta";
    Some(match (method, segs) {
        ("GET", ["deviceManagement", "deviceEnrollmentConfigurations"]) if beta => {
            Ev::EnrollmentConfigurations
        }
        (
            "GET",
            [
                "deviceManagement",
                "deviceEnrollmentConfigurations",
                x,
                "assignments",
            ],
        ) if beta => Ev::EnrollmentConfigurationAssignments(id(x)),
        (
            "GET",
            [
                "deviceManagement",
                "managedDevices",
                x,
                "deviceConfigurationStates",
            ],
        ) => Ev::ConfigurationStates(id(x)),
        (
            "GET",
            [
                "deviceManagement",
                "managedDevices",
                x,
                "deviceCompliancePolicyStates",
            ],
        ) => Ev::CompliancePolicyStates(id(x)),
        (
            "POST",
            [
                "deviceManagement",
                "reports",
                "getDevicePoliciesComplianceReport",
            ],
        ) => Ev::CompliancePolicyReport,
        (
            "POST",
            [
                "deviceManagement",
                "reports",
                "retrieveDeviceAppInstallationStatusReport",
            ],
        ) if beta => Ev::AppInstallReport,
        (
            "POST",
            [
                "deviceManagement",
                "managedDevices",
                x,
                "createDeviceLogCollectionRequest",
            ],
        ) if beta => Ev::CreateLogCollection(id(x)),
        (
            "GET",
            [
                "deviceManagement",
                "managedDevices",
                x,
                "logCollectionRequests",
                r,
            ],
        ) if beta => Ev::LogCollection(id(x), id(r)),
        (
            "POST",
            [
                "deviceManagement",
                "managedDevices",
                x,
                "logCollectionRequests",
                r,
                "createDownloadUrl",
            ],
        ) if beta => Ev::LogDownloadUrl(id(x), id(r)),
        ("GET", ["auditLogs", "signIns"]) if !beta => Ev::SignIns,
        ("GET", [d, "transitiveMemberOf"]) if d.starts_with("devices(") => {
            Ev::DeviceMemberOf(device_alternate_key(d)?)
        }
        ("GET", ["users", x, "transitiveMemberOf"]) => Ev::UserMemberOf(id(x)),
        _ => return None,
    })
}

impl Ev {
    pub fn spec(&self) -> Spec {
        let s = |family, write, scopes| Spec {
            family,
            write,
            scopes,
            delegated_only: false,
        };
        match self {
            Ev::EnrollmentConfigurations | Ev::EnrollmentConfigurationAssignments(_) => {
                s(ThrottleFamily::Enrollment, false, SVC_READ)
            }
            Ev::ConfigurationStates(_) | Ev::CompliancePolicyStates(_) => {
                s(ThrottleFamily::Devices, false, DEV_READ)
            }
            Ev::CompliancePolicyReport | Ev::AppInstallReport => {
                s(ThrottleFamily::Reports, false, REPORT_READ)
            }
            Ev::CreateLogCollection(_) => s(ThrottleFamily::Devices, true, LOGS_WRITE),
            Ev::LogCollection(..) | Ev::LogDownloadUrl(..) => {
                s(ThrottleFamily::Devices, false, DEV_READ)
            }
            Ev::SignIns => s(ThrottleFamily::Identity, false, AUDIT_LOG),
            Ev::DeviceMemberOf(_) => s(ThrottleFamily::Identity, false, DEVICE_GROUPS_READ),
            Ev::UserMemberOf(_) => s(ThrottleFamily::Identity, false, USER_GROUPS_READ),
        }
    }
}

pub fn handle(st: &mut State, inc: &Incoming, ev: &Ev, token: &Token) -> Reply {
    match ev {
        Ev::EnrollmentConfigurations => {
            let items = enrollment_configurations(st);
            let ctx = context(st, inc, "deviceManagement/deviceEnrollmentConfigurations");
            page(st, inc, items, &ctx)
        }
        Ev::EnrollmentConfigurationAssignments(id) => assignments(st, inc, id),
        Ev::DeviceMemberOf(aad) => device_member_of(st, inc, aad),
        Ev::UserMemberOf(raw) => user_member_of(st, inc, raw),
        Ev::ConfigurationStates(id) => with_device(st, inc, id, |st, d, now| {
            let upn = staging_upn(d);
            let rows: Vec<Value> = configuration_policies(d, now)
                .into_iter()
                .map(|(pid, name, state)| {
                    json!({
                        "@odata.type": "#microsoft.graph.deviceConfigurationState",
                        "id": pid, "displayName": name, "version": 1,
                        "platformType": "windows10AndLater", "state": state,
                        "settingCount": 4, "userId": "", "userPrincipalName": upn,
                        "settingStates": [],
                    })
                })
                .collect();
            let ctx = context(
                st,
                inc,
                "deviceManagement/managedDevices('id')/deviceConfigurationStates",
            );
            Reply::json(200, json!({"@odata.context": ctx, "value": rows}))
        }),
        Ev::CompliancePolicyStates(id) => with_device(st, inc, id, |st, d, now| {
            let upn = staging_upn(d);
            let (pid, name, state) = compliance_policy(d, now, st);
            let rows = vec![json!({
                "@odata.type": "#microsoft.graph.deviceCompliancePolicyState",
                "id": pid, "displayName": name, "version": 2,
                "platformType": "windows10AndLater", "state": state,
                "settingCount": 3, "userId": "", "userPrincipalName": upn,
                "settingStates": [],
            })];
            let ctx = context(
                st,
                inc,
                "deviceManagement/managedDevices('id')/deviceCompliancePolicyStates",
            );
            Reply::json(200, json!({"@odata.context": ctx, "value": rows}))
        }),
        Ev::CompliancePolicyReport => stream_report(st, inc, compliance_report),
        Ev::AppInstallReport => stream_report(st, inc, app_report),
        Ev::CreateLogCollection(id) => create_log_collection(st, inc, id, token),
        Ev::LogCollection(id, rid) => log_collection(st, inc, id, rid),
        Ev::LogDownloadUrl(id, rid) => download_url(st, inc, id, rid),
        Ev::SignIns => error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
            inc,
        ),
    }
}

fn staging_upn(d: &Device) -> String {
    d.staging_upn.clone()
}

fn with_device(
    st: &mut State,
    inc: &Incoming,
    id: &str,
    f: impl FnOnce(&State, &Device, DateTime<Utc>) -> Reply,
) -> Reply {
    let now = st.clock.now();
    match st.fleet.device(id, now) {
        Some(d) => f(st, d, now),
        None => error(
            404,
            "ResourceNotFound",
            &format!("managedDevice '{id}' was not found."),
            inc,
        ),
    }
}

fn group(id: &str, name: &str, description: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.group",
        "id": id, "deletedDateTime": null, "classification": null,
        "createdDateTime": "2026-01-12T08:40:00Z", "description": description,
        "displayName": name, "groupTypes": [], "mail": null, "mailEnabled": false,
        "mailNickname": name.replace(' ', "-").to_lowercase(), "securityEnabled": true,
        "membershipRule": null, "membershipRuleProcessingState": null, "visibility": null,
    })
}

fn directory_objects(st: &State, inc: &Incoming, value: Vec<Value>) -> Reply {
    let ctx = context(st, inc, "directoryObjects");
    Reply::json(200, json!({"@odata.context": ctx, "value": value}))
}

/// Every enrolled device is in the Device Preparation device group (Intune adds it at
/// enrollment), which the staging ESP targets.
fn device_member_of(st: &mut State, inc: &Incoming, aad: &str) -> Reply {
    let now = st.clock.now();
    let known = st
        .fleet
        .devices
        .iter()
        .any(|d| d.enroll_at <= now && d.aad_id.eq_ignore_ascii_case(aad));
    if !known {
        return error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{aad}' does not exist or one of its queried reference-property objects are not present."
            ),
            inc,
        );
    }
    let g = group(
        &st.opts.tenant.device_group_id,
        "Device Preparation devices",
        "Devices enrolled through Windows Autopilot device preparation",
    );
    directory_objects(st, inc, vec![g])
}

/// Everyone is in "All Staff"; the staging accounts are also in "Staging accounts".
fn user_member_of(st: &mut State, inc: &Incoming, raw: &str) -> Reply {
    let key = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .to_string();
    let Some(u) = st.dir.find(&key) else {
        return error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
            inc,
        );
    };
    let staging = st.dir.staging().iter().any(|s| s.id == u.id);
    let mut value = vec![group(
        "5f3b2c1a-0000-4000-8000-00000000a11a",
        "All Staff",
        "Everyone",
    )];
    if staging {
        value.push(group(
            STAGING_USERS_GROUP_ID,
            "Staging accounts",
            "Accounts technicians enroll devices with",
        ));
    }
    directory_objects(st, inc, value)
}

/// The id the default ESP carries: `{tenant}_DefaultWindows10EnrollmentCompletionPageConfiguration`.
fn default_esp_id(st: &State) -> String {
    format!(
        "{}_DefaultWindows10EnrollmentCompletionPageConfiguration",
        st.tenant_id
    )
}
const STAGING_ESP_ID: &str = "4b1d9c3e-2a7f-4e61-9b58-0c3d2e1f6a70";
/// Assigned to the staging accounts' group (user-targeted), excluding nobody here.
const STAGING_USERS_ESP_ID: &str = "7e2a4c6b-8d1f-4b3a-9c5e-1f0a2b3c4d5e";
/// A group nobody is in, excluded from the user-targeted ESP.
const KIOSK_GROUP_ID: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";
const LIMIT_ID_SUFFIX: &str = "_DefaultLimit";

/// The default ESP, the staging ESP (assigned to the Device Preparation device group) and the
/// default device limit, which is not an ESP (callers filter by `@odata.type`).
fn enrollment_configurations(st: &State) -> Vec<Value> {
    let esp = |id: &str, name: &str, prio: u32, kind: &str, show: bool| {
        json!({
            "@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
            "id": id, "displayName": name, "description": "", "priority": prio,
            "createdDateTime": "2026-01-12T09:00:00Z", "lastModifiedDateTime": "2026-03-02T14:10:00Z",
            "version": 3, "roleScopeTagIds": ["0"], "deviceEnrollmentConfigurationType": kind,
            "showInstallationProgress": show, "blockDeviceSetupRetryByUser": false,
            "allowDeviceResetOnInstallFailure": true, "allowLogCollectionOnInstallFailure": true,
            "customErrorMessage": "Setup could not be completed. Please contact IT support.",
            "installProgressTimeoutInMinutes": 60, "allowDeviceUseOnInstallFailure": false,
            "selectedMobileAppIds": [], "trackInstallProgressForAutopilotOnly": true,
            "disableUserStatusTrackingAfterFirstUser": true, "allowNonBlockingAppInstallation": false,
            "installQualityUpdates": false,
        })
    };
    vec![
        esp(
            &default_esp_id(st),
            "All users and all devices",
            0,
            "defaultWindows10EnrollmentCompletionPageConfiguration",
            false,
        ),
        esp(
            STAGING_ESP_ID,
            "Staging ESP",
            1,
            "windows10EnrollmentCompletionPageConfiguration",
            true,
        ),
        esp(
            STAGING_USERS_ESP_ID,
            "Staging accounts ESP",
            2,
            "windows10EnrollmentCompletionPageConfiguration",
            true,
        ),
        json!({
            "@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration",
            "id": format!("{}{LIMIT_ID_SUFFIX}", st.tenant_id),
            "displayName": "All users and all devices", "description": "", "priority": 0,
            "deviceEnrollmentConfigurationType": "limit", "limit": 15, "version": 1,
            "roleScopeTagIds": ["0"],
        }),
    ]
}

fn assignments(st: &State, inc: &Incoming, id: &str) -> Reply {
    let one = |n: usize, target: Value| {
        json!({
            "@odata.type": "#microsoft.graph.enrollmentConfigurationAssignment",
            "id": format!("{id}_assignment{n}"), "target": target,
            "source": "direct", "sourceId": id,
        })
    };
    let assign = |target: Value| json!([one(0, target)]);
    let value = if id.eq_ignore_ascii_case(&default_esp_id(st))
        || (id.ends_with(LIMIT_ID_SUFFIX) && id.starts_with(&st.tenant_id))
    {
        assign(json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}))
    } else if id.eq_ignore_ascii_case(STAGING_USERS_ESP_ID) {
        json!([
            one(
                0,
                json!({
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "groupId": STAGING_USERS_GROUP_ID,
                })
            ),
            one(
                1,
                json!({
                    "@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget",
                    "groupId": KIOSK_GROUP_ID,
                })
            ),
        ])
    } else if id.eq_ignore_ascii_case(STAGING_ESP_ID) {
        assign(json!({
            "@odata.type": "#microsoft.graph.groupAssignmentTarget",
            "groupId": st.opts.tenant.device_group_id,
        }))
    } else {
        return error(
            404,
            "ResourceNotFound",
            &format!("deviceEnrollmentConfiguration '{id}' was not found."),
            inc,
        );
    };
    let ctx = context(
        st,
        inc,
        "deviceManagement/deviceEnrollmentConfigurations('id')/assignments",
    );
    Reply::json(200, json!({"@odata.context": ctx, "value": value}))
}

/// (id, name, `complianceStatus`) of each configuration policy on the device: the one that
/// installs in the phase a failed deployment stopped in is in `error`.
fn configuration_policies(d: &Device, now: DateTime<Utc>) -> Vec<(String, String, &'static str)> {
    let dep = d.deployment(now);
    let names = [
        ("1", "Staging - BitLocker"),
        ("2", "Staging - Defender baseline"),
        ("3", "Staging - Wi-Fi and VPN"),
    ];
    names
        .iter()
        .map(|(n, name)| {
            let phase: u8 = n.parse().unwrap_or(1);
            let state = match dep {
                Some(Deployment::Failed { phase: f }) if f == phase => "error",
                Some(Deployment::Failed { phase: f }) if f < phase => "notApplicable",
                Some(Deployment::InProgress { phase: p }) if p <= phase => "unknown",
                None => "unknown",
                _ => "compliant",
            };
            (
                format!("0c1f5a2b-7d3e-4f60-8a91-00000000000{n}"),
                name.to_string(),
                state,
            )
        })
        .collect()
}

fn compliance_policy(d: &Device, now: DateTime<Utc>, st: &State) -> (String, String, &'static str) {
    let state = match d.to_json(now, &st.dir, false)["complianceState"].as_str() {
        Some("compliant") => "compliant",
        Some("noncompliant") => "nonCompliant",
        Some("error") => "error",
        _ => "unknown",
    };
    (
        "6f2e8d14-3b5a-4c97-9e10-2d4b6c8a0e31".into(),
        "Windows baseline compliance".into(),
        state,
    )
}

/// The device id in a report filter such as `(DeviceId eq '<id>')` or `(IntuneDeviceId eq …)`.
fn device_in_filter(filter: &str) -> Option<String> {
    let at = filter.find("DeviceId eq '")? + "DeviceId eq '".len();
    let rest = &filter[at..];
    Some(rest[..rest.find('\'')?].to_string())
}

/// Builds a report's (schema, rows) for one device.
type Rows =
    fn(&State, &Device, DateTime<Utc>) -> (Vec<(&'static str, &'static str)>, Vec<Vec<Value>>);

/// A stream report: `application/octet-stream` holding `{ TotalRowCount, Schema, Values }`.
fn stream_report(st: &mut State, inc: &Incoming, rows: Rows) -> Reply {
    let body = match body_json(inc) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(id) = body["filter"].as_str().and_then(device_in_filter) else {
        return error(
            400,
            "BadRequest",
            "filter: expected (DeviceId eq '<id>').",
            inc,
        );
    };
    let now = st.clock.now();
    let (schema, values) = match st.fleet.device(&id, now) {
        Some(d) => rows(st, d, now),
        None => (rows_schema_only(st, rows), vec![]),
    };
    let out = json!({
        "TotalRowCount": values.len(),
        "Schema": schema.iter().map(|(c, t)| json!({"Column": c, "PropertyType": t})).collect::<Vec<_>>(),
        "Values": values,
    });
    Reply {
        status: 200,
        headers: vec![],
        body: ReplyBody::Bytes {
            content_type: "application/octet-stream",
            data: serde_json::to_vec(&out).unwrap_or_default(),
        },
        drop: false,
    }
}

/// The schema a report has when no device matched (the columns do not depend on the rows).
fn rows_schema_only(st: &State, rows: Rows) -> Vec<(&'static str, &'static str)> {
    let now = st.clock.now();
    st.fleet
        .devices
        .first()
        .map(|d| rows(st, d, now).0)
        .unwrap_or_default()
}

fn compliance_report(
    st: &State,
    d: &Device,
    now: DateTime<Utc>,
) -> (Vec<(&'static str, &'static str)>, Vec<Vec<Value>>) {
    let (pid, name, state) = compliance_policy(d, now, st);
    let (code, label) = match state {
        "compliant" => (2, "Compliant"),
        "nonCompliant" => (4, "Not compliant"),
        "error" => (5, "Error"),
        _ => (1, "Not evaluated"),
    };
    let schema = vec![
        ("DeviceId", "String"),
        ("PolicyId", "String"),
        ("PolicyName", "String"),
        ("PolicyPlatformType", "Int32"),
        ("PolicyStatus", "Int32"),
        ("PolicyStatus_loc", "String"),
        ("UPN", "String"),
        ("LastContact", "DateTime"),
    ];
    let row = vec![
        json!(d.id),
        json!(pid),
        json!(name),
        json!(6),
        json!(code),
        json!(label),
        json!(d.staging_upn),
        json!(iso(now.min(d.enroll_at + chrono::Duration::minutes(30)))),
    ];
    (schema, vec![row])
}

fn app_report(
    _st: &State,
    d: &Device,
    now: DateTime<Utc>,
) -> (Vec<(&'static str, &'static str)>, Vec<Vec<Value>>) {
    let schema = vec![
        ("ApplicationId", "String"),
        ("AppName", "String"),
        ("AppVersion", "String"),
        ("AppInstallState", "Int32"),
        ("AppInstallState_loc", "String"),
        ("AppInstallStateDetails", "String"),
        ("ErrorCode", "Int32"),
        ("UserPrincipalName", "String"),
        ("LastModifiedDateTime", "DateTime"),
    ];
    let dep = d.deployment(now);
    let apps = [
        (
            "a3c1e2f4-1b2c-4d3e-8f90-000000000001",
            "Company Portal",
            "11.2.1",
        ),
        (
            "a3c1e2f4-1b2c-4d3e-8f90-000000000002",
            "Microsoft 365 Apps",
            "16.0.18129",
        ),
    ];
    let rows = apps
        .iter()
        .enumerate()
        .map(|(i, (id, name, version))| {
            let (state, label, detail, code) = match dep {
                Some(Deployment::Succeeded) => (1, "Installed", "", 0),
                Some(Deployment::Failed { phase: 3 }) if i == 1 => {
                    (2, "Failed", "The application was not detected after installation completed successfully (0x87D1041C)", -2016345060)
                }
                Some(Deployment::Failed { .. }) => (5, "Not installed", "", 0),
                _ => (3, "Pending install", "", 0),
            };
            vec![
                json!(id),
                json!(name),
                json!(version),
                json!(state),
                json!(label),
                json!(detail),
                json!(code),
                json!(d.staging_upn),
                json!(iso(now)),
            ]
        })
        .collect();
    (schema, rows)
}

fn create_log_collection(st: &mut State, inc: &Incoming, id: &str, token: &Token) -> Reply {
    let body = match body_json(inc) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // The action parameter `templateType` is itself an object with a `templateType` member.
    let kind = body["templateType"]["templateType"].as_str();
    if !matches!(kind, Some("predefined" | "unknownFutureValue")) {
        return error(
            400,
            "BadRequest",
            "templateType: expected { \"templateType\": \"predefined\" }.",
            inc,
        );
    }
    let now = st.clock.now();
    let Some(d) = st.fleet.device(id, now) else {
        return error(
            404,
            "ResourceNotFound",
            &format!("managedDevice '{id}' was not found."),
            inc,
        );
    };
    let by = match &token.subject {
        crate::sim::auth::Subject::User(u) => {
            st.dir.find(u).map(|u| u.upn.clone()).unwrap_or_default()
        }
        crate::sim::auth::Subject::App(_) => String::new(),
    };
    let zip = diagnostics_zip(d, now).unwrap_or_default();
    let (device_id, enrolled_by) = (d.id.clone(), d.staging_upn.clone());
    let req = LogRequest {
        id: st.fleet.rng.guid(),
        device_id,
        requested: now,
        by,
        enrolled_by,
        polls: 0,
        sig: uuid::Uuid::new_v4().simple().to_string(),
        zip,
    };
    let v = log_json(&req, "pending", now);
    st.evidence.requests.insert(req.id.clone(), req);
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "microsoft.graph.deviceLogCollectionResponse"), "value": v}),
    )
}

fn log_json(r: &LogRequest, status: &str, now: DateTime<Utc>) -> Value {
    let done = status == "completed";
    json!({
        "@odata.type": "#microsoft.graph.deviceLogCollectionResponse",
        "id": r.id, "status": status, "managedDeviceId": r.device_id, "errorCode": 0,
        "requestedDateTimeUTC": iso(r.requested),
        "receivedDateTimeUTC": if done { Value::String(iso(now)) } else { Value::Null },
        "initiatedByUserPrincipalName": r.by,
        "expirationDateTimeUTC": iso(r.requested + chrono::Duration::days(28)),
        "size": if done { r.zip.len() as f64 / 1024.0 / 1024.0 } else { 0.0 },
        "sizeInKB": if done { r.zip.len() as f64 / 1024.0 } else { 0.0 },
        "enrolledByUser": r.enrolled_by,
    })
}

fn find_request<'a>(
    st: &'a mut State,
    inc: &Incoming,
    id: &str,
    rid: &str,
) -> Result<&'a mut LogRequest, Reply> {
    match st.evidence.requests.get_mut(rid) {
        Some(r) if r.device_id.eq_ignore_ascii_case(id) => Ok(r),
        _ => Err(error(
            404,
            "ResourceNotFound",
            &format!("deviceLogCollectionResponse '{rid}' was not found."),
            inc,
        )),
    }
}

fn log_collection(st: &mut State, inc: &Incoming, id: &str, rid: &str) -> Reply {
    let now = st.clock.now();
    let v = match find_request(st, inc, id, rid) {
        Ok(r) => {
            r.polls += 1;
            let status = if r.polls >= 2 { "completed" } else { "pending" };
            log_json(r, status, now)
        }
        Err(reply) => return reply,
    };
    let mut v = v;
    v["@odata.context"] = json!(context(
        st,
        inc,
        "deviceManagement/managedDevices('id')/logCollectionRequests/$entity"
    ));
    Reply::json(200, v)
}

fn download_url(st: &mut State, inc: &Incoming, id: &str, rid: &str) -> Reply {
    let base = st.base.clone();
    let url = match find_request(st, inc, id, rid) {
        Ok(r) if r.polls >= 2 => format!("{base}_blob/logs/{}.zip?sig={}", r.id, r.sig),
        Ok(_) => {
            return error(
                400,
                "BadRequest",
                "The log collection request has not completed.",
                inc,
            );
        }
        Err(reply) => return reply,
    };
    Reply::json(200, json!({"value": url}))
}

/// `GET /_blob/logs/{id}.zip?sig=…`: the diagnostics archive, like a pre-signed blob.
pub fn serve_log_blob(st: &mut State, inc: &Incoming) -> Reply {
    let name = inc
        .path
        .trim_start_matches("/_blob/logs/")
        .trim_end_matches(".zip");
    let blob = |status, content_type, data: Vec<u8>| Reply {
        status,
        headers: vec![],
        body: ReplyBody::Bytes { content_type, data },
        drop: false,
    };
    match st.evidence.requests.get(name) {
        Some(r) if inc.query.get("sig") == Some(&r.sig) && r.polls >= 2 => {
            blob(200, "application/zip", r.zip.clone())
        }
        Some(_) => blob(
            403,
            "application/xml",
            b"<Error><Code>AuthenticationFailed</Code></Error>".to_vec(),
        ),
        None => blob(
            404,
            "application/xml",
            b"<Error><Code>BlobNotFound</Code></Error>".to_vec(),
        ),
    }
}

/// A small diagnostics archive as the device would upload it: an IME log naming the staging
/// account that enrolled it and, for a failed deployment, the failure.
fn diagnostics_zip(d: &Device, now: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let mut ime = String::new();
    ime.push_str(&format!(
        "<![LOG[[Win32App] ExecManager: processing session for user {}]LOG]!><time=\"{}\" component=\"IntuneManagementExtension\">\n",
        d.staging_upn,
        iso(d.enroll_at)
    ));
    match d.deployment(now) {
        Some(Deployment::Failed { phase }) => ime.push_str(&format!(
            "<![LOG[[Win32App] Device Preparation phase {phase} failed with 0x80070714 (-2147023436)]LOG]!>\n"
        )),
        Some(dep) => ime.push_str(&format!(
            "<![LOG[[Win32App] Device Preparation status {}]LOG]!>\n",
            dep.status_code()
        )),
        None => {}
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("IntuneManagementExtension.log", opts)?;
    zip.write_all(ime.as_bytes())?;
    zip.start_file("MDMDiagReport.xml", opts)?;
    zip.write_all(
        format!(
            "<MDMDiagReport><Device><SerialNumber>{}</SerialNumber><EnrollmentUPN>{}</EnrollmentUPN></Device></MDMDiagReport>\n",
            d.serial, d.staging_upn
        )
        .as_bytes(),
    )?;
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_and_filters_name_the_device() {
        let p = |m, v, path: &str| parse(m, v, &path.split('/').collect::<Vec<_>>());
        assert_eq!(
            p(
                "GET",
                "beta",
                "deviceManagement/deviceEnrollmentConfigurations"
            ),
            Some(Ev::EnrollmentConfigurations)
        );
        assert_eq!(
            p(
                "POST",
                "beta",
                "deviceManagement/managedDevices/x/logCollectionRequests/r/createDownloadUrl"
            ),
            Some(Ev::LogDownloadUrl("x".into(), "r".into()))
        );
        assert_eq!(p("GET", "beta", "auditLogs/signIns"), None, "v1.0 only");
        assert_eq!(p("GET", "v1.0", "auditLogs/signIns"), Some(Ev::SignIns));
        assert_eq!(
            device_in_filter("(DeviceId eq 'abc') and ((PolicyPlatformType eq '4'))").as_deref(),
            Some("abc")
        );
        assert_eq!(
            device_in_filter("(IntuneDeviceId eq 'x1')").as_deref(),
            Some("x1")
        );
        assert_eq!(device_in_filter("(PolicyId eq 'x')"), None);
    }
}

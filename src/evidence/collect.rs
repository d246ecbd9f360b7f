//! Collects one device's bundle in memory: every item of the runbook's "Evidence to collect"
//! that Graph provides (docs/evidence.md), stagehand's own observations, and a manifest entry
//! for each item that could not be had.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::esp::{self, Groups};
use super::manifest::{FORMAT, FileEntry, MANIFEST, Manifest, Missing, sha256_hex};
use super::redact::Redactor;
use crate::graph::ops::{ESP_TYPE, Fetched};
use crate::graph::{GraphClient, GraphError};
use crate::status::DeviceStatus;
use crate::store::{AuditRecord, QueueEntry};

/// Source name for what stagehand itself recorded.
pub const LOCAL: &str = "stagehand (local records)";

#[derive(Debug, Clone)]
pub struct Options {
    /// Request a remote diagnostics collection and download it.
    pub logs: bool,
    /// How long to wait for the device to upload its logs.
    pub log_wait: Duration,
    /// First pause between polls of the collection (doubles up to 30 s).
    pub log_poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            logs: false,
            log_wait: Duration::from_secs(15 * 60),
            log_poll: Duration::from_secs(5),
        }
    }
}

/// Who collects, for which tenant.
#[derive(Debug, Clone)]
pub struct Collector {
    pub tenant: String,
    pub collector: String,
}

/// What stagehand knows locally about a device.
#[derive(Debug, Clone, Default)]
pub struct Local<'a> {
    pub status: Option<&'a DeviceStatus>,
    pub queue: Option<&'a QueueEntry>,
    pub audit: Vec<&'a AuditRecord>,
}

/// One device's files (relative path → bytes) and its manifest, before it is written.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Bundle {
    fn new(serial: &str, who: &Collector, at: DateTime<Utc>) -> Self {
        Self {
            manifest: Manifest {
                format: FORMAT.into(),
                serial: serial.into(),
                tenant: who.tenant.clone(),
                collector: who.collector.clone(),
                collected_at: at,
                stagehand_version: env!("CARGO_PKG_VERSION").into(),
                redacted: false,
                files: vec![],
                not_collected: vec![],
            },
            files: vec![],
        }
    }

    fn add(&mut self, path: &str, item: &str, source: &str, bytes: Vec<u8>) {
        self.manifest.files.push(FileEntry {
            path: path.into(),
            item: item.into(),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            source: source.into(),
        });
        self.files.push((path.into(), bytes));
    }

    fn add_json(&mut self, path: &str, item: &str, source: &str, v: &Value) {
        let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
        b.push(b'\n');
        self.add(path, item, source, b);
    }

    fn fetched(&mut self, path: &str, item: &str, f: Fetched) {
        self.add_json(path, item, &f.request, &f.value);
    }

    fn missing(&mut self, item: &str, source: Option<String>, why: impl Into<String>) {
        self.manifest.not_collected.push(Missing {
            item: item.into(),
            source,
            why: why.into(),
        });
    }

    /// `Ok` → file, `Err` → a "not collected" entry with the reason.
    fn take(&mut self, path: &str, item: &str, r: Result<Fetched, GraphError>) -> Option<Value> {
        match r {
            Ok(f) => {
                let v = f.value.clone();
                self.fetched(path, item, f);
                Some(v)
            }
            Err(e) => {
                self.missing(item, None, why(&e));
                None
            }
        }
    }

    /// Redacts every file and the manifest's people, then re-hashes.
    pub fn redact(&mut self, r: &mut Redactor) {
        for (_, b) in &self.files {
            if let Ok(v) = serde_json::from_slice::<Value>(b) {
                r.learn(&v);
            }
        }
        for (i, (path, b)) in self.files.iter_mut().enumerate() {
            let (out, done) = r.bytes(b);
            if !done {
                self.manifest.not_collected.push(Missing {
                    item: format!("redaction of {path}"),
                    source: None,
                    why: "binary content that is not a zip: kept as collected".into(),
                });
            }
            *b = out;
            let e = &mut self.manifest.files[i];
            e.sha256 = sha256_hex(b);
            e.bytes = b.len() as u64;
        }
        let m = &mut self.manifest;
        m.collector = r.text(&m.collector);
        for f in &mut m.files {
            f.source = r.text(&f.source);
        }
        for n in &mut m.not_collected {
            n.why = r.text(&n.why);
            n.source = n.source.as_ref().map(|s| r.text(s));
        }
        m.redacted = true;
    }

    /// The files and `manifest.json`, in write order.
    pub fn all_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = self.files.clone();
        let mut m = serde_json::to_vec_pretty(&self.manifest).unwrap_or_default();
        m.push(b'\n');
        out.push((MANIFEST.into(), m));
        out
    }
}

/// Why Graph did not give an item, in words for the manifest.
pub fn why(e: &GraphError) -> String {
    match e {
        GraphError::Forbidden { code, message, .. }
            if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" =>
        {
            format!(
                "the tenant has no Microsoft Entra ID P1/P2 licence, which this log needs ({code}: {message})"
            )
        }
        GraphError::Forbidden { code, message, .. } => {
            format!("permission missing for the signed-in account or app ({code}: {message})")
        }
        GraphError::NotFound { message, .. } => format!("not found in the tenant: {message}"),
        GraphError::Server {
            status: 400,
            message,
            ..
        } if message.starts_with("Resource not found for the segment") => {
            format!("this tenant does not offer the endpoint: {message}")
        }
        other => format!("Graph failed: {other}"),
    }
}

fn pretty_line(v: &impl serde::Serialize) -> Vec<u8> {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// Collects the bundle of `serial`. `progress` gets one line per step.
pub async fn collect(
    client: &GraphClient,
    who: &Collector,
    serial: &str,
    local: &Local<'_>,
    opts: &Options,
    progress: &mut (dyn FnMut(String) + Send),
) -> Bundle {
    let mut b = Bundle::new(serial, who, Utc::now());
    progress(format!("{serial}: managed device"));
    let device = match client.find_device_by_serial(serial).await {
        Ok(Some(d)) => {
            let r = client.evidence_managed_device(&d.id).await;
            b.take("graph/managed-device.json", "managed device", r)
                .map(|v| (d.id.clone(), v))
        }
        Ok(None) => {
            b.missing(
                "managed device",
                None,
                "no managed device with this serial in Intune (not enrolled yet, or removed)",
            );
            None
        }
        Err(e) => {
            b.missing("managed device", None, why(&e));
            None
        }
    };

    progress(format!("{serial}: Autopilot record"));
    autopilot(client, serial, &mut b).await;

    progress(format!("{serial}: Enrollment Status Page"));
    esp(client, device.as_ref().map(|(_, v)| v), &mut b).await;

    match &device {
        Some((id, dv)) => {
            progress(format!("{serial}: policies, apps, Device Preparation"));
            per_device(client, id, dv, &mut b).await;
            if opts.logs {
                logs(client, serial, id, opts, &mut b, progress).await;
            }
        }
        None => {
            let no = "no managed device: nothing to read per device";
            for item in [
                "configuration policy states",
                "compliance policy states",
                "compliance per policy (report)",
                "app install states (report)",
                "Device Preparation report row",
                "sign-in logs",
            ] {
                b.missing(item, None, no);
            }
            if opts.logs {
                b.missing("diagnostics (IME and enrollment logs)", None, no);
            }
        }
    }

    // Stagehand's own records.
    let observed = json!({
        "serial": serial,
        "queue": local.queue,
        "status": local.status,
        "note": "stage changes as this stagehand observed them, with the queue entry from the bench",
    });
    b.add_json(
        "stagehand/timeline.json",
        "observed timeline",
        LOCAL,
        &observed,
    );
    let mut audit = Vec::new();
    for r in &local.audit {
        audit.extend(pretty_line(r));
    }
    b.add(
        "stagehand/audit.jsonl",
        "audit records for the device",
        LOCAL,
        audit,
    );
    b
}

async fn autopilot(client: &GraphClient, serial: &str, b: &mut Bundle) {
    let item = "Autopilot record";
    let list = match client.evidence_autopilot_records(serial).await {
        Ok(f) => f,
        Err(e) => {
            b.missing(item, None, why(&e));
            b.missing("Autopilot deployment profile", None, "no Autopilot record");
            return;
        }
    };
    // `contains` is a substring match: keep the exact serial only.
    let exact: Vec<&Value> = list.value["value"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| {
                    r["serialNumber"]
                        .as_str()
                        .is_some_and(|s| s.trim().eq_ignore_ascii_case(serial.trim()))
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(id) = exact
        .first()
        .and_then(|r| r["id"].as_str())
        .map(str::to_string)
    else {
        b.missing(
            item,
            Some(list.request),
            "no Autopilot record with this serial (Device Preparation does not need one)",
        );
        b.missing("Autopilot deployment profile", None, "no Autopilot record");
        return;
    };
    let Some(rec) = b.take(
        "graph/autopilot-record.json",
        item,
        client.evidence_autopilot_record(&id).await,
    ) else {
        return;
    };
    let profile = rec["deploymentProfile"]["id"]
        .as_str()
        .or(rec["intendedDeploymentProfile"]["id"].as_str());
    match profile {
        Some(pid) => match client.evidence_deployment_profile(pid).await {
            Ok((p, a)) => {
                b.fetched(
                    "graph/autopilot-profile.json",
                    "Autopilot deployment profile",
                    p,
                );
                b.fetched(
                    "graph/autopilot-profile-assignments.json",
                    "Autopilot deployment profile assignments",
                    a,
                );
            }
            Err(e) => b.missing("Autopilot deployment profile", None, why(&e)),
        },
        None => b.missing(
            "Autopilot deployment profile",
            None,
            "the Autopilot record has no deployment profile assigned",
        ),
    }
}

/// The ESPs with their assignments, and which one applies and why (`super::esp`): the device's
/// and the enrolling user's groups are read (`transitiveMemberOf`) to match the assignments.
async fn esp(client: &GraphClient, device: Option<&Value>, b: &mut Bundle) {
    let item = "Enrollment Status Page configurations";
    let all = match client.evidence_enrollment_configurations().await {
        Ok(f) => f,
        Err(e) => {
            b.missing(item, None, why(&e));
            return;
        }
    };
    let is_esp = |c: &&Value| {
        c["@odata.type"] == ESP_TYPE
            || c["deviceEnrollmentConfigurationType"]
                .as_str()
                .is_some_and(|t| {
                    t.eq_ignore_ascii_case("windows10EnrollmentCompletionPageConfiguration")
                        || t.eq_ignore_ascii_case(
                            "defaultWindows10EnrollmentCompletionPageConfiguration",
                        )
                })
    };
    let mut esps: Vec<Value> = all.value["value"]
        .as_array()
        .map(|a| a.iter().filter(is_esp).cloned().collect())
        .unwrap_or_default();
    let mut sources = vec![all.request.clone()];
    for e in &mut esps {
        let id = e["id"].as_str().unwrap_or_default().to_string();
        match client.evidence_enrollment_assignments(&id).await {
            Ok(a) => {
                sources.push(a.request);
                e["assignments"] = a.value["value"].clone();
            }
            Err(err) => e["assignments"] = json!({ "not collected": why(&err) }),
        }
    }
    esps.sort_by_key(|e| e["priority"].as_i64().unwrap_or(i64::MAX));

    // Whose groups: the Entra device behind the managed device, and the user who enrolled it.
    let text = |v: Option<&Value>, k: &str| {
        v.and_then(|d| d[k].as_str())
            .filter(|s| !s.is_empty() && *s != "00000000-0000-0000-0000-000000000000")
            .map(str::to_string)
    };
    let aad = text(device, "azureADDeviceId");
    let user =
        text(device, "enrolledByUserPrincipalName").or_else(|| text(device, "userPrincipalName"));
    let no_device = "no managed device with an Entra device id yet";
    let (device_groups, device_read) = match &aad {
        Some(id) => member_of(client.evidence_device_member_of(id).await, &mut sources),
        None => (
            Groups::Unknown(no_device.into()),
            json!({ "not collected": no_device }),
        ),
    };
    let (user_groups, user_read) = match (&user, device) {
        (Some(u), _) => member_of(client.evidence_user_member_of(u).await, &mut sources),
        (None, Some(_)) => (
            Groups::None,
            json!({ "not collected": "the device has no enrolling user (self-deploying or pre-provisioned)" }),
        ),
        (None, None) => (
            Groups::Unknown(no_device.into()),
            json!({ "not collected": no_device }),
        ),
    };
    let r = esp::resolve(&esps, &device_groups, &user_groups);
    let mut applies = r.applies.clone().unwrap_or(Value::Null);
    if let Some(o) = applies.as_object_mut() {
        o.insert("targeted".into(), json!(r.targeted));
        o.insert("why".into(), json!(r.why));
    }
    let out = json!({
        "applies": applies,
        "caveats": r.caveats,
        "rule": "Intune applies the highest-priority ESP (lowest priority number) assigned to the device; if none, the highest-priority ESP assigned to the enrolling user (when there is one); otherwise the default ESP. A group assignment counts when the device (the user) is a transitive member of the group; an exclusion group holding it takes the ESP away",
        "membership": {
            "device": { "azureADDeviceId": aad, "groups": device_read },
            "enrollingUser": { "userPrincipalName": user, "groups": user_read },
        },
        "candidates": esps,
    });
    b.add_json(
        "graph/enrollment-status-page.json",
        item,
        &sources.join(" ; "),
        &out,
    );
}

/// The groups of a `transitiveMemberOf` answer (other directory objects, such as administrative
/// units and roles, are kept in the file but match no assignment).
fn member_of(r: Result<Fetched, GraphError>, sources: &mut Vec<String>) -> (Groups, Value) {
    match r {
        Ok(f) => {
            sources.push(f.request);
            let items = f.value["value"].as_array().cloned().unwrap_or_default();
            let ids = items
                .iter()
                .filter(|g| g["@odata.type"] == "#microsoft.graph.group")
                .filter_map(|g| g["id"].as_str());
            (Groups::of(ids), Value::Array(items))
        }
        Err(e) => (
            Groups::Unknown(why(&e)),
            json!({ "not collected": why(&e) }),
        ),
    }
}

async fn per_device(client: &GraphClient, id: &str, device: &Value, b: &mut Bundle) {
    let r = client
        .evidence_policy_states(id, "deviceConfigurationStates")
        .await;
    b.take(
        "graph/configuration-policy-states.json",
        "configuration policy states",
        r,
    );
    let r = client
        .evidence_policy_states(id, "deviceCompliancePolicyStates")
        .await;
    b.take(
        "graph/compliance-policy-states.json",
        "compliance policy states",
        r,
    );
    let lit = crate::graph::odata::literal(id);
    let body = json!({
        "filter": format!("(DeviceId eq {lit}) and ((PolicyPlatformType eq '4') or (PolicyPlatformType eq '5') or (PolicyPlatformType eq '6') or (PolicyPlatformType eq '8') or (PolicyPlatformType eq '100'))"),
        "orderBy": ["PolicyName asc"],
    });
    let r = client
        .evidence_stream_report("getDevicePoliciesComplianceReport", &body)
        .await;
    b.take(
        "graph/compliance-report.json",
        "compliance per policy (report)",
        r,
    );
    let body = json!({ "filter": format!("(DeviceId eq {lit})"), "top": 500 });
    let r = client
        .evidence_stream_report("retrieveDeviceAppInstallationStatusReport", &body)
        .await;
    b.take(
        "graph/app-install-report.json",
        "app install states (report)",
        r,
    );

    let item = "Device Preparation report row";
    let filter = format!("(DeviceId eq {lit})");
    match client
        .export_report(
            crate::graph::ops::AUTOPILOT_V2_DEPLOYMENT_STATUS,
            &[],
            Some(&filter),
        )
        .await
    {
        Ok(rows) => {
            let mine: Vec<_> = rows
                .into_iter()
                .filter(|r| {
                    r.get("DeviceId")
                        .is_some_and(|d| d.eq_ignore_ascii_case(id))
                })
                .collect();
            let source = format!(
                "POST /beta/deviceManagement/reports/exportJobs {{\"reportName\":\"{}\",\"filter\":\"{filter}\"}}",
                crate::graph::ops::AUTOPILOT_V2_DEPLOYMENT_STATUS
            );
            if mine.is_empty() {
                b.missing(
                    item,
                    Some(source),
                    "the report has no row for this device yet",
                );
            } else {
                b.add_json(
                    "graph/device-preparation-report.json",
                    item,
                    &source,
                    &json!({ "value": mine }),
                );
            }
        }
        Err(e) => b.missing(item, None, why(&e)),
    }

    let item = "sign-in logs";
    let upn = device["userPrincipalName"]
        .as_str()
        .filter(|u| !u.is_empty())
        .or(device["enrolledByUserPrincipalName"].as_str());
    let since = device["enrolledDateTime"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc() - chrono::Duration::hours(1));
    match (upn, since) {
        (Some(upn), Some(since)) => {
            let r = client.evidence_sign_ins(upn, since).await;
            b.take("graph/sign-ins.json", item, r);
        }
        _ => b.missing(
            item,
            None,
            "the device has no user or enrollment time to search by",
        ),
    }
}

async fn logs(
    client: &GraphClient,
    serial: &str,
    id: &str,
    opts: &Options,
    b: &mut Bundle,
    progress: &mut (dyn FnMut(String) + Send),
) {
    let item = "diagnostics (IME and enrollment logs)";
    progress(format!("{serial}: requesting diagnostics"));
    let mut req = match client.create_log_collection(id).await {
        Ok(r) => r,
        Err(e) => return b.missing(item, None, why(&e)),
    };
    let started = tokio::time::Instant::now();
    let mut wait = opts.log_poll;
    while req.status == "pending" {
        let waited = started.elapsed();
        if waited + wait > opts.log_wait {
            b.add_json(
                "graph/log-collection-request.json",
                "diagnostics request",
                "GET /beta/deviceManagement/managedDevices/{id}/logCollectionRequests/{requestId}",
                &req.raw,
            );
            return b.missing(
                item,
                None,
                format!(
                    "the device had not uploaded its logs after {} s (it must be online and receive the request within 24 h); request {} stays open in Intune",
                    opts.log_wait.as_secs(),
                    req.id
                ),
            );
        }
        progress(format!(
            "{serial}: waiting for the device to upload its logs ({} s)",
            waited.as_secs()
        ));
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
        req = match client.get_log_collection(id, &req.id).await {
            Ok(r) => r,
            Err(e) => return b.missing(item, None, why(&e)),
        };
    }
    let label = format!(
        "GET /beta/deviceManagement/managedDevices/{id}/logCollectionRequests/{}",
        req.id
    );
    b.add_json(
        "graph/log-collection-request.json",
        "diagnostics request",
        &label,
        &req.raw,
    );
    if req.status != "completed" {
        return b.missing(
            item,
            Some(label),
            format!("the collection ended as {:?}", req.status),
        );
    }
    progress(format!("{serial}: downloading diagnostics"));
    match client.download_log_collection(id, &req.id).await {
        Ok(zip) => b.add(
            "logs/diagnostics.zip",
            item,
            &format!("{label}/createDownloadUrl (then the download URL, no token)"),
            zip,
        ),
        Err(e) => b.missing(item, Some(label), why(&e)),
    }
}

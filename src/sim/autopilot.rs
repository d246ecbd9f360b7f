//! Windows Autopilot in the simulated tenant: hash imports that finish after a delay (with the
//! documented error codes), Autopilot devices whose deployment profile is assigned after a
//! further delay, and the sync with its limits (409 while running, 429 within 10 minutes).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::autopilot::hash;

/// Sim-time delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From `import` to `complete`/`error` (one device took 95 s in a published report).
    pub import: Duration,
    /// From the import completing to the profile being assigned, without a sync.
    pub profile: Duration,
    /// After a sync, the profile is assigned within this.
    pub after_sync: Duration,
    /// A sync runs this long (a second one meanwhile is 409).
    pub sync_running: Duration,
    /// A sync within this of the previous one is 429.
    pub sync_gap: Duration,
    /// The technician resets an imported device this long after its profile is assigned, and
    /// it enrolls through a staging account (a managed device with its serial appears and moves
    /// through the usual stages). `None` (the default): nobody resets it in the simulator.
    pub enroll_after_profile: Option<Duration>,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            import: Duration::seconds(90),
            profile: Duration::minutes(8),
            after_sync: Duration::minutes(2),
            sync_running: Duration::minutes(1),
            sync_gap: Duration::minutes(10),
            enroll_after_profile: None,
        }
    }
}

/// An import record.
#[derive(Debug, Clone)]
pub struct ImportRec {
    pub id: String,
    pub serial: String,
    pub group_tag: String,
    pub product_key: String,
    pub user: String,
    pub hash_text: String,
    pub created: DateTime<Utc>,
    /// `Ok(device id)` or the error (code, name), shown once `created + import` has passed.
    pub result: Result<String, (i64, &'static str)>,
}

/// An Autopilot device.
#[derive(Debug, Clone)]
pub struct ApDevice {
    pub id: String,
    pub serial: String,
    pub manufacturer: String,
    pub model: String,
    pub sku: String,
    pub family: String,
    pub group_tag: String,
    pub user: String,
    /// Visible from here on (the import completed).
    pub visible_at: DateTime<Utc>,
    pub profile_at: DateTime<Utc>,
}

/// Autopilot state of the tenant.
#[derive(Debug, Clone, Default)]
pub struct Autopilot {
    pub timing: Timing,
    pub imports: Vec<ImportRec>,
    pub devices: Vec<ApDevice>,
    /// Serials registered to another tenant: importing them ends in 808.
    pub other_tenant: Vec<String>,
    pub last_manual_sync: Option<DateTime<Utc>>,
    pub last_sync: Option<DateTime<Utc>>,
    /// Sync requests answered 204 / 409 / 429.
    pub syncs: (u32, u32, u32),
}

/// Why an `import` request was refused as a whole.
pub struct BadImport(pub String);

impl Autopilot {
    /// Registers a device directly (as an OEM would), visible and assigned at `now`.
    pub fn register(&mut self, id: String, serial: &str, now: DateTime<Utc>) {
        self.devices.push(ApDevice {
            id,
            serial: serial.into(),
            manufacturer: "Contoso".into(),
            model: "Laptop 7".into(),
            sku: String::new(),
            family: String::new(),
            group_tag: String::new(),
            user: String::new(),
            visible_at: now,
            profile_at: now,
        });
    }

    /// `POST …/import`: records every element; the outcome shows after the import delay.
    pub fn import(
        &mut self,
        items: &[Value],
        now: DateTime<Utc>,
        mut new_id: impl FnMut() -> String,
    ) -> Result<Vec<Value>, BadImport> {
        use base64::Engine;
        // Edm.Binary: the whole request fails on a literal that is not padded base64.
        for item in items {
            let h = item["hardwareIdentifier"].as_str().unwrap_or("");
            if base64::engine::general_purpose::STANDARD.decode(h).is_err() {
                let shown: String = h.chars().take(64).collect();
                return Err(BadImport(format!(
                    "Cannot convert the literal '{shown}' to the expected type 'Edm.Binary'."
                )));
            }
        }
        let mut out = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for item in items {
            let text = item["hardwareIdentifier"].as_str().unwrap_or("");
            let serial = item["serialNumber"]
                .as_str()
                .unwrap_or("")
                .trim()
                .to_string();
            let decoded = hash::parse(text).ok();
            let key = serial.to_ascii_uppercase();
            let result = match &decoded {
                _ if serial.is_empty() => Err((803, "MissingZtdSerialNumberAndProductKey")),
                None => Err((802, "InvalidZtdHardwareHash")),
                Some(h)
                    if h.serial.as_deref().is_none_or(str::is_empty)
                        || h.manufacturer.as_deref().is_none_or(str::is_empty) =>
                {
                    Err((802, "InvalidZtdHardwareHash"))
                }
                Some(_) if seen.contains(&key) => Err((0, "ZtdDeviceDuplicated")),
                Some(_)
                    if self
                        .other_tenant
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(&serial)) =>
                {
                    Err((808, "ZtdDeviceAssignedToOtherTenant"))
                }
                Some(_)
                    if self
                        .devices
                        .iter()
                        .any(|d| d.serial.eq_ignore_ascii_case(&serial)) =>
                {
                    Err((806, "ZtdDeviceAlreadyAssigned"))
                }
                Some(h) => {
                    let id = new_id();
                    let visible_at = now + self.timing.import;
                    self.devices.push(ApDevice {
                        id: id.clone(),
                        serial: serial.clone(),
                        manufacturer: h.manufacturer.clone().unwrap_or_default(),
                        model: h.model.clone().unwrap_or_default(),
                        sku: h.sku.clone().unwrap_or_default(),
                        family: h.family.clone().unwrap_or_default(),
                        group_tag: item["groupTag"].as_str().unwrap_or("").into(),
                        user: item["assignedUserPrincipalName"]
                            .as_str()
                            .unwrap_or("")
                            .into(),
                        visible_at,
                        profile_at: visible_at + self.timing.profile,
                    });
                    Ok(id)
                }
            };
            seen.push(key);
            let rec = ImportRec {
                id: new_id(),
                serial,
                group_tag: item["groupTag"].as_str().unwrap_or("").into(),
                product_key: item["productKey"].as_str().unwrap_or("").into(),
                user: item["assignedUserPrincipalName"]
                    .as_str()
                    .unwrap_or("")
                    .into(),
                hash_text: text.into(),
                created: now,
                result,
            };
            out.push(self.import_json(&rec, now));
            self.imports.push(rec);
        }
        Ok(out)
    }

    pub fn import_json(&self, r: &ImportRec, now: DateTime<Utc>) -> Value {
        let done = now >= r.created + self.timing.import;
        let (status, reg, code, name) = match (&r.result, done) {
            (_, false) => ("unknown", "", 0, ""),
            (Ok(id), true) => ("complete", id.as_str(), 0, "None"),
            (Err((code, name)), true) => ("error", "", *code, *name),
        };
        // When not sent, the service fills importId (and productKey) with the record's id.
        let or_id = |s: &str| {
            if s.is_empty() {
                r.id.clone()
            } else {
                s.to_string()
            }
        };
        json!({
            "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
            "id": r.id,
            "groupTag": r.group_tag,
            "serialNumber": r.serial,
            "productKey": or_id(&r.product_key),
            "importId": r.id,
            "hardwareIdentifier": r.hash_text,
            "assignedUserPrincipalName": r.user,
            "state": {
                "@odata.type": "microsoft.graph.importedWindowsAutopilotDeviceIdentityState",
                "deviceImportStatus": status,
                "deviceRegistrationId": reg,
                "deviceErrorCode": code,
                "deviceErrorName": name,
            }
        })
    }

    pub fn device_json(&self, d: &ApDevice, now: DateTime<Utc>) -> Value {
        let status = if now >= d.profile_at {
            "assignedInSync"
        } else if now >= d.profile_at - Duration::seconds(60) {
            "pending"
        } else {
            "notAssigned"
        };
        let assigned = (now >= d.profile_at).then(|| d.profile_at.to_rfc3339());
        json!({
            "@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity",
            "id": d.id,
            "deploymentProfileAssignmentStatus": status,
            "deploymentProfileAssignmentDetailedStatus": "none",
            "deploymentProfileAssignedDateTime": assigned.unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "groupTag": d.group_tag,
            "purchaseOrderIdentifier": "",
            "serialNumber": d.serial,
            "productKey": "",
            "manufacturer": d.manufacturer,
            "model": d.model,
            "enrollmentState": "notContacted",
            "lastContactedDateTime": "0001-01-01T00:00:00Z",
            "addressableUserName": "",
            "userPrincipalName": d.user,
            "resourceName": "",
            "skuNumber": d.sku,
            "systemFamily": d.family,
            "azureActiveDirectoryDeviceId": d.id,
            "azureAdDeviceId": d.id,
            "managedDeviceId": "00000000-0000-0000-0000-000000000000",
            "displayName": "",
            "remediationState": "noRemediationRequired",
        })
    }

    /// Visible devices.
    pub fn visible(&self, now: DateTime<Utc>) -> impl Iterator<Item = &ApDevice> {
        self.devices.iter().filter(move |d| now >= d.visible_at)
    }

    /// `POST windowsAutopilotSettings/sync`: 204, or 409 while one runs, or 429 within the gap.
    pub fn sync(&mut self, now: DateTime<Utc>) -> u16 {
        if let Some(last) = self.last_manual_sync {
            if now < last + self.timing.sync_running {
                self.syncs.1 += 1;
                return 409;
            }
            if now < last + self.timing.sync_gap {
                self.syncs.2 += 1;
                return 429;
            }
        }
        self.syncs.0 += 1;
        self.last_manual_sync = Some(now);
        self.last_sync = Some(now + self.timing.sync_running);
        let soon = now + self.timing.after_sync;
        for d in &mut self.devices {
            if d.profile_at > soon {
                d.profile_at = soon.max(d.visible_at);
            }
        }
        204
    }

    pub fn settings_json(&self, now: DateTime<Utc>) -> Value {
        let t = |x: Option<DateTime<Utc>>| {
            x.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), |t| t.to_rfc3339())
        };
        let running = self
            .last_manual_sync
            .is_some_and(|l| now < l + self.timing.sync_running);
        let status = if running {
            "inProgress"
        } else if self.last_manual_sync.is_some() {
            "completed"
        } else {
            "unknown"
        };
        json!({
            "@odata.type": "#microsoft.graph.windowsAutopilotSettings",
            "id": "windowsAutopilotSettings",
            "lastSyncDateTime": t(self.last_sync.filter(|l| *l <= now)),
            "lastManualSyncTriggerDateTime": t(self.last_manual_sync),
            "syncStatus": status,
        })
    }
}

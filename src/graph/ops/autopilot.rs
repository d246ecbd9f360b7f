//! The Graph calls for Autopilot registration (beta; `autopilot::api` re-exports them): hash import and its records, Autopilot
//! devices, `updateDeviceProperties`, and the sync with the Autopilot service.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::graph::client::Request;
use crate::graph::odata::{Query, encode, literal};
use crate::graph::{GraphClient, GraphError, RetryPolicy, RetrySafety};

const IMPORTED: &str = "/deviceManagement/importedWindowsAutopilotDeviceIdentities";
const DEVICES: &str = "/deviceManagement/windowsAutopilotDeviceIdentities";
const SETTINGS: &str = "/deviceManagement/windowsAutopilotSettings";

/// Most devices per `import` call (the portal's per-file limit; Graph documents none).
pub const MAX_BATCH: usize = 500;

/// One device to import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewImport {
    #[serde(rename = "@odata.type")]
    pub odata_type: &'static str,
    pub serial_number: String,
    /// Padded base64 (Graph's Edm.Binary refuses unpadded text).
    pub hardware_identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_tag: Option<String>,
    pub product_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user_principal_name: Option<String>,
}

impl NewImport {
    pub fn new(serial: &str, hash_text: &str) -> Self {
        Self {
            odata_type: "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
            serial_number: serial.to_string(),
            hardware_identifier: pad(hash_text.trim()),
            group_tag: None,
            product_key: String::new(),
            assigned_user_principal_name: None,
        }
    }
}

/// Pads base64 with `=` to a multiple of four (device-side hashes come unpadded).
pub fn pad(b64: &str) -> String {
    let mut s = b64.to_string();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

/// An import record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Imported {
    pub id: String,
    pub serial_number: Option<String>,
    pub group_tag: Option<String>,
    pub state: ImportState,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImportState {
    pub device_import_status: Option<String>,
    pub device_registration_id: Option<String>,
    pub device_error_code: Option<i64>,
    pub device_error_name: Option<String>,
}

/// Where an import stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportStatus {
    /// `unknown`, `pending` or `partial`: keep polling.
    Running(String),
    Complete,
    Error {
        code: i64,
        name: String,
    },
}

impl Imported {
    pub fn status(&self) -> ImportStatus {
        let s = &self.state;
        match s.device_import_status.as_deref().unwrap_or("unknown") {
            "complete" => ImportStatus::Complete,
            "error" => ImportStatus::Error {
                code: s.device_error_code.unwrap_or(0),
                name: s.device_error_name.clone().unwrap_or_default(),
            },
            other => ImportStatus::Running(other.to_string()),
        }
    }
}

/// An Autopilot device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AutopilotDevice {
    pub id: String,
    pub serial_number: Option<String>,
    pub group_tag: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub enrollment_state: Option<String>,
    pub deployment_profile_assignment_status: Option<String>,
    pub deployment_profile_assignment_detailed_status: Option<String>,
    pub deployment_profile_assigned_date_time: Option<String>,
}

impl AutopilotDevice {
    /// `assignedInSync`, `assignedOutOfSync`, `assignedUnkownSyncState` (sic): a prefix test.
    pub fn is_assigned(&self) -> bool {
        self.deployment_profile_assignment_status
            .as_deref()
            .is_some_and(|s| s.starts_with("assigned"))
    }
}

/// `windowsAutopilotSettings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncSettings {
    pub last_sync_date_time: Option<String>,
    pub last_manual_sync_trigger_date_time: Option<String>,
    pub sync_status: Option<String>,
}

/// What a sync request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Started,
    /// 409: a sync is already running.
    Running,
    /// 429: the last sync was less than 10 minutes ago.
    TooSoon,
}

#[derive(Deserialize)]
struct Values<T> {
    value: Vec<T>,
}

/// `POST …/importedWindowsAutopilotDeviceIdentities/import`.
pub async fn import(c: &GraphClient, devices: &[NewImport]) -> Result<Vec<Imported>, GraphError> {
    let body = serde_json::json!({ "importedWindowsAutopilotDeviceIdentities": devices });
    let v: Values<Imported> = c
        .send_json(
            Method::POST,
            c.beta(&format!("{IMPORTED}/import"), &Query::new()),
            Some(&body),
            RetrySafety::NotIdempotent,
        )
        .await?;
    Ok(v.value)
}

pub async fn get_import(c: &GraphClient, id: &str) -> Result<Imported, GraphError> {
    c.get_entity(c.beta(&format!("{IMPORTED}/{}", encode(id)), &Query::new()))
        .await
}

pub async fn delete_import(c: &GraphClient, id: &str) -> Result<(), GraphError> {
    c.execute(Request {
        method: Method::DELETE,
        url: c.beta(&format!("{IMPORTED}/{}", encode(id)), &Query::new()),
        body: None,
        safety: RetrySafety::Idempotent,
    })
    .await
    .map(|_| ())
}

/// One Autopilot device by id; `None` while it is not there yet (404).
pub async fn get_device(c: &GraphClient, id: &str) -> Result<Option<AutopilotDevice>, GraphError> {
    match c
        .get_entity(c.beta(&format!("{DEVICES}/{}", encode(id)), &Query::new()))
        .await
    {
        Ok(d) => Ok(Some(d)),
        Err(GraphError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Autopilot devices with exactly this serial. Graph refuses `serialNumber eq`; `contains` is
/// what Microsoft staff confirmed, so the exact match is re-checked here.
pub async fn devices_by_serial(
    c: &GraphClient,
    serial: &str,
) -> Result<Vec<AutopilotDevice>, GraphError> {
    let q = Query::new().filter(format!("contains(serialNumber,{})", literal(serial)));
    let all: Vec<AutopilotDevice> = c.get_all(c.beta(DEVICES, &q)).await?;
    Ok(all
        .into_iter()
        .filter(|d| {
            d.serial_number
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(serial))
        })
        .collect())
}

/// `POST …/{id}/updateDeviceProperties` with the group tag.
pub async fn set_group_tag(c: &GraphClient, id: &str, tag: &str) -> Result<(), GraphError> {
    let body = serde_json::json!({ "groupTag": tag });
    c.send_json::<_, serde_json::Value>(
        Method::POST,
        c.beta(
            &format!("{DEVICES}/{}/updateDeviceProperties", encode(id)),
            &Query::new(),
        ),
        Some(&body),
        RetrySafety::Idempotent,
    )
    .await
    .map(|_| ())
}

pub async fn sync_settings(c: &GraphClient) -> Result<SyncSettings, GraphError> {
    c.get_entity(c.beta(SETTINGS, &Query::new())).await
}

/// `POST windowsAutopilotSettings/sync`, sent once: its 429 means "within 10 minutes of the last
/// sync" and is not retried like a throttle.
pub async fn sync(c: &GraphClient) -> Result<SyncOutcome, GraphError> {
    let once = c.clone().with_retry(RetryPolicy {
        max_attempts: 1,
        ..c.retry_policy()
    });
    let r = once
        .execute(Request {
            method: Method::POST,
            url: c.beta(&format!("{SETTINGS}/sync"), &Query::new()),
            body: None,
            safety: RetrySafety::NotIdempotent,
        })
        .await;
    match r {
        Ok(_) => Ok(SyncOutcome::Started),
        Err(GraphError::Throttled { .. }) => Ok(SyncOutcome::TooSoon),
        Err(GraphError::Server { status: 409, .. }) => Ok(SyncOutcome::Running),
        Err(e) => Err(e),
    }
}

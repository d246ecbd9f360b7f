//! The evidence endpoints (docs/evidence.md): raw JSON of each item, kept as
//! Graph returned it, with the request it came from. Nothing here interprets report columns:
//! a stream report is kept whole, `Schema` and `Values` together.

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::super::client::{GraphClient, Request};
use super::super::error::GraphError;
use super::super::odata::{Query, literal};
use super::super::retry::RetrySafety;
use super::seg;

/// One item as Graph answered it, and the request (method, path and query below the Graph
/// root) it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub request: String,
    pub value: Value,
}

/// The ESP's `@odata.type`; the collection also holds enrollment limits, Hello settings, ….
pub const ESP_TYPE: &str = "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration";

/// A remote diagnostics request as Graph reports it (`deviceLogCollectionResponse`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogCollection {
    pub id: String,
    /// `appLogUploadState`: `pending`, `completed`, `failed`, or a newer member.
    pub status: String,
    pub raw: Value,
}

impl LogCollection {
    fn from_value(v: Value) -> Result<Self, GraphError> {
        let id = v["id"].as_str().unwrap_or_default().to_string();
        if id.is_empty() {
            return Err(GraphError::Decode {
                what: "deviceLogCollectionResponse".into(),
                detail: "no id".into(),
                request_id: None,
            });
        }
        Ok(Self {
            id,
            status: v["status"].as_str().unwrap_or("unknown").to_string(),
            raw: v,
        })
    }
}

impl GraphClient {
    /// `METHOD /beta/...?...` as the manifest names a request (no host: the tenant is recorded
    /// beside it).
    pub fn request_label(&self, method: &Method, url: &Url) -> String {
        let path = url
            .path()
            .strip_prefix(self.base().path())
            .unwrap_or(url.path());
        match url.query() {
            // Decoded, so a person can read it (and `--redact` can find the addresses in it).
            Some(q) => format!(
                "{method} /{path}?{}",
                percent_encoding::percent_decode_str(q).decode_utf8_lossy()
            ),
            None => format!("{method} /{path}"),
        }
    }

    async fn fetch_entity(&self, url: Url) -> Result<Fetched, GraphError> {
        let request = self.request_label(&Method::GET, &url);
        let value: Value = self.get_entity(url).await?;
        Ok(Fetched { request, value })
    }

    /// Every item of a collection (all pages), kept as `{ "value": [...] }`.
    async fn fetch_collection(&self, url: Url) -> Result<Fetched, GraphError> {
        let request = self.request_label(&Method::GET, &url);
        let items: Vec<Value> = self.get_all(url).await?;
        Ok(Fetched {
            request,
            value: json!({ "value": items }),
        })
    }

    /// The managed device, full single-GET form.
    pub async fn evidence_managed_device(&self, id: &str) -> Result<Fetched, GraphError> {
        self.fetch_entity(self.beta(
            &format!("/deviceManagement/managedDevices/{}", seg(id)),
            &Query::new(),
        ))
        .await
    }

    /// Autopilot records whose serial contains `serial` (a substring match: the caller keeps
    /// the exact ones), as listed.
    pub async fn evidence_autopilot_records(&self, serial: &str) -> Result<Fetched, GraphError> {
        let q = Query::new().filter(format!("contains(serialNumber,{})", literal(serial)));
        self.fetch_collection(self.beta("/deviceManagement/windowsAutopilotDeviceIdentities", &q))
            .await
    }

    /// One Autopilot record with its deployment profiles expanded.
    pub async fn evidence_autopilot_record(&self, id: &str) -> Result<Fetched, GraphError> {
        let mut url = self.beta(
            &format!(
                "/deviceManagement/windowsAutopilotDeviceIdentities/{}",
                seg(id)
            ),
            &Query::new(),
        );
        url.set_query(Some("$expand=deploymentProfile,intendedDeploymentProfile"));
        self.fetch_entity(url).await
    }

    /// A deployment profile and its assignments.
    pub async fn evidence_deployment_profile(
        &self,
        id: &str,
    ) -> Result<(Fetched, Fetched), GraphError> {
        let base = format!(
            "/deviceManagement/windowsAutopilotDeploymentProfiles/{}",
            seg(id)
        );
        let profile = self.fetch_entity(self.beta(&base, &Query::new())).await?;
        let assignments = self
            .fetch_collection(self.beta(&format!("{base}/assignments"), &Query::new()))
            .await?;
        Ok((profile, assignments))
    }

    /// Every enrollment configuration (filtered to ESPs by the caller: filtering on
    /// `@odata.type` server-side is not documented).
    pub async fn evidence_enrollment_configurations(&self) -> Result<Fetched, GraphError> {
        self.fetch_collection(self.beta(
            "/deviceManagement/deviceEnrollmentConfigurations",
            &Query::new(),
        ))
        .await
    }

    /// `GET /v1.0/devices(deviceId='…')/transitiveMemberOf`: the groups (nested ones too) of the
    /// Entra device whose `deviceId` is the managed device's `azureADDeviceId`.
    pub async fn evidence_device_member_of(
        &self,
        azure_ad_device_id: &str,
    ) -> Result<Fetched, GraphError> {
        self.fetch_collection(self.v1(
            &format!(
                "/devices(deviceId={})/transitiveMemberOf",
                seg(&literal(azure_ad_device_id))
            ),
            &Query::new(),
        ))
        .await
    }

    /// `GET /v1.0/users/{id | userPrincipalName}/transitiveMemberOf`.
    pub async fn evidence_user_member_of(&self, user: &str) -> Result<Fetched, GraphError> {
        self.fetch_collection(self.v1(
            &format!("/users/{}/transitiveMemberOf", seg(user)),
            &Query::new(),
        ))
        .await
    }

    pub async fn evidence_enrollment_assignments(&self, id: &str) -> Result<Fetched, GraphError> {
        self.fetch_collection(self.beta(
            &format!(
                "/deviceManagement/deviceEnrollmentConfigurations/{}/assignments",
                seg(id)
            ),
            &Query::new(),
        ))
        .await
    }

    /// `deviceConfigurationStates` or `deviceCompliancePolicyStates` of a device.
    pub async fn evidence_policy_states(
        &self,
        device_id: &str,
        which: &str,
    ) -> Result<Fetched, GraphError> {
        self.fetch_collection(self.beta(
            &format!(
                "/deviceManagement/managedDevices/{}/{which}",
                seg(device_id)
            ),
            &Query::new(),
        ))
        .await
    }

    /// A stream report action (`POST /beta/deviceManagement/reports/{action}`): the answer is
    /// `application/octet-stream` holding JSON `{ TotalRowCount, Schema, Values }`.
    pub async fn evidence_stream_report(
        &self,
        action: &str,
        body: &Value,
    ) -> Result<Fetched, GraphError> {
        let url = self.beta(
            &format!("/deviceManagement/reports/{}", seg(action)),
            &Query::new(),
        );
        let request = self.request_label(&Method::POST, &url);
        let a = self
            .execute(Request {
                method: Method::POST,
                url: url.clone(),
                body: Some(
                    serde_json::to_vec(body).map_err(|e| GraphError::Invalid(e.to_string()))?,
                ),
                // A report read: asking twice changes nothing.
                safety: RetrySafety::Idempotent,
            })
            .await?;
        let value: Value = serde_json::from_slice(&a.body).map_err(|e| GraphError::Decode {
            what: url.path().to_string(),
            detail: e.to_string(),
            request_id: a.request_id.clone(),
        })?;
        Ok(Fetched {
            request: format!("{request} {body}"),
            value,
        })
    }

    /// Sign-ins of `upn` since `since` (v1.0; needs Entra ID P1 and AuditLog.Read.All).
    pub async fn evidence_sign_ins(
        &self,
        upn: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Fetched, GraphError> {
        let q = Query::new().filter(format!(
            "userPrincipalName eq {} and createdDateTime ge {}",
            literal(upn),
            since.format("%Y-%m-%dT%H:%M:%SZ")
        ));
        self.fetch_collection(self.v1("/auditLogs/signIns", &q))
            .await
    }

    /// `createDeviceLogCollectionRequest` with the predefined template. Not idempotent: a repeat
    /// is a second collection (a device keeps at most ten).
    pub async fn create_log_collection(
        &self,
        device_id: &str,
    ) -> Result<LogCollection, GraphError> {
        let body = json!({ "templateType": {
            "@odata.type": "#microsoft.graph.deviceLogCollectionRequest",
            "templateType": "predefined",
        }});
        let v: Value = self
            .send_json(
                Method::POST,
                self.beta(
                    &format!(
                        "/deviceManagement/managedDevices/{}/createDeviceLogCollectionRequest",
                        seg(device_id)
                    ),
                    &Query::new(),
                ),
                Some(&body),
                RetrySafety::NotIdempotent,
            )
            .await?;
        LogCollection::from_value(v)
    }

    pub async fn get_log_collection(
        &self,
        device_id: &str,
        request_id: &str,
    ) -> Result<LogCollection, GraphError> {
        let v: Value = self
            .get_entity(self.beta(
                &format!(
                    "/deviceManagement/managedDevices/{}/logCollectionRequests/{}",
                    seg(device_id),
                    seg(request_id)
                ),
                &Query::new(),
            ))
            .await?;
        LogCollection::from_value(v)
    }

    /// Downloads a completed collection: `createDownloadUrl`, then the archive from that URL
    /// with the plain client (no bearer token).
    pub async fn download_log_collection(
        &self,
        device_id: &str,
        request_id: &str,
    ) -> Result<Vec<u8>, GraphError> {
        let v: Value = self
            .send_json::<Value, Value>(
                Method::POST,
                self.beta(
                    &format!(
                        "/deviceManagement/managedDevices/{}/logCollectionRequests/{}/createDownloadUrl",
                        seg(device_id),
                        seg(request_id)
                    ),
                    &Query::new(),
                ),
                None,
                RetrySafety::Idempotent,
            )
            .await?;
        let url = v.as_str().ok_or_else(|| GraphError::Decode {
            what: "createDownloadUrl".into(),
            detail: "no URL in the answer".into(),
            request_id: None,
        })?;
        self.download_blob(url).await
    }
}

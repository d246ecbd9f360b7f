//! Managed devices: listing, primary user, remote actions (docs/graph.md §2, §3, §6).

use reqwest::Method;
use serde_json::json;

use super::super::client::{GraphClient, Request};
use super::super::error::GraphError;
use super::super::models::{ManagedDevice, User, WipeOptions};
use super::super::odata::{DeviceFilter, Query};
use super::super::retry::RetrySafety;
use super::seg;

const BASE: &str = "/deviceManagement/managedDevices";

impl GraphClient {
    /// All managed devices (pages of 1,000 via `@odata.nextLink`). With a filter, rows that do
    /// not satisfy it are dropped: Intune ignores filters it does not support.
    pub async fn list_managed_devices(
        &self,
        filter: Option<DeviceFilter>,
        select: &[&str],
    ) -> Result<Vec<ManagedDevice>, GraphError> {
        let mut out = Vec::new();
        self.for_each_managed_device(filter.as_ref(), select, |d| out.push(d))
            .await?;
        Ok(out)
    }

    /// One device; use `select` for properties only populated on single GETs.
    pub async fn get_managed_device(
        &self,
        id: &str,
        select: &[&str],
    ) -> Result<ManagedDevice, GraphError> {
        self.get_entity(self.beta(&format!("{BASE}/{}", seg(id)), &Query::new().select(select)))
            .await
    }

    /// The device's primary user(s) (0 or 1): authoritative over `userPrincipalName` on the device.
    pub async fn device_primary_users(&self, id: &str) -> Result<Vec<User>, GraphError> {
        self.get_all(self.beta(&format!("{BASE}/{}/users", seg(id)), &Query::new()))
            .await
    }

    /// `POST managedDevices/{id}/users/$ref`. Idempotent: it *replaces* the primary user, so a
    /// repeat leaves the same user in place. Returns Graph's `request-id` (for the audit log).
    pub async fn set_primary_user(
        &self,
        device_id: &str,
        user_id: &str,
    ) -> Result<Option<String>, GraphError> {
        uuid::Uuid::parse_str(user_id)
            .map_err(|_| GraphError::Invalid(format!("user id {user_id:?} is not a GUID")))?;
        let target = self.beta(&format!("/users/{}", seg(user_id)), &Query::new());
        let body = serde_json::to_vec(&json!({ "@odata.id": target.as_str() }))
            .map_err(|e| GraphError::Invalid(e.to_string()))?;
        let answer = self
            .execute(Request {
                method: Method::POST,
                url: self.beta(
                    &format!("{BASE}/{}/users/$ref", seg(device_id)),
                    &Query::new(),
                ),
                body: Some(body),
                safety: RetrySafety::Idempotent,
            })
            .await?;
        Ok(answer.request_id)
    }

    /// `POST syncDevice`: asking a device to check in twice is harmless, so retried.
    pub async fn sync_device(&self, id: &str) -> Result<(), GraphError> {
        self.action(id, "syncDevice", None, RetrySafety::Idempotent)
            .await
            .map(|_| ())
    }

    /// `POST retire`: destructive; never replayed after an unclear outcome. Read
    /// `managementState` (`retirePending`) before issuing it again. Returns Graph's
    /// `request-id` (for the audit log).
    pub async fn retire(&self, id: &str) -> Result<Option<String>, GraphError> {
        self.action(id, "retire", None, RetrySafety::NotIdempotent)
            .await
    }

    /// `POST wipe`: destructive; never replayed after an unclear outcome. Read
    /// `managementState` (`wipePending`) before issuing it again. Returns Graph's `request-id`
    /// (for the audit log).
    pub async fn wipe(
        &self,
        id: &str,
        options: &WipeOptions,
    ) -> Result<Option<String>, GraphError> {
        let body = serde_json::to_vec(options)
            .map_err(|e| GraphError::Invalid(format!("wipe options: {e}")))?;
        self.action(id, "wipe", Some(body), RetrySafety::NotIdempotent)
            .await
    }

    /// A device action, through [`GraphClient::execute`] so the `request-id` of a success is
    /// kept too.
    async fn action(
        &self,
        id: &str,
        action: &str,
        body: Option<Vec<u8>>,
        safety: RetrySafety,
    ) -> Result<Option<String>, GraphError> {
        let answer = self
            .execute(Request {
                method: Method::POST,
                url: self.beta(&format!("{BASE}/{}/{action}", seg(id)), &Query::new()),
                body,
                safety,
            })
            .await?;
        Ok(answer.request_id)
    }

    /// The one device with this serial, `None` if there is none; more than one is an error so
    /// nothing downstream acts on the wrong device.
    pub async fn find_device_by_serial(
        &self,
        serial: &str,
    ) -> Result<Option<ManagedDevice>, GraphError> {
        let mut found = self
            .list_managed_devices(Some(DeviceFilter::SerialNumber(serial.to_string())), &[])
            .await?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            n => Err(GraphError::Ambiguous {
                what: format!("device with serial {serial:?}"),
                count: n,
            }),
        }
    }
}

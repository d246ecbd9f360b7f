//! JSON `$batch` (docs/graph.md §10): at most 20 requests per call, relative URLs, per-item status.
//!
//! Throttled or failed (429/5xx) items are retried in a new batch after the largest item
//! `Retry-After`, but only when their method is safe to repeat (GET, HEAD, PUT, DELETE): a POST
//! or PATCH that got a 5xx may have been applied, so its answer goes back to the caller as is.
//! A failed dependency comes back as 424 and is not retried.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{GraphClient, Request};
use super::error::GraphError;
use super::governor::Family;
use super::models::null_default;
use super::odata::Query;
use super::ops::seg;
use super::retry::{RetrySafety, backoff, parse_retry_after};

/// Graph's per-call limit.
pub const MAX_BATCH: usize = 20;

/// One request inside a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub id: String,
    pub method: String,
    /// Relative to the version root, e.g. `/deviceManagement/managedDevices/{id}/users`.
    pub url: String,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            method: "GET".into(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    /// A request with a JSON body (adds the `Content-Type` Graph requires).
    pub fn with_body(
        id: impl Into<String>,
        method: &str,
        url: impl Into<String>,
        body: Value,
    ) -> Self {
        let mut r = Self::get(id, url);
        r.method = method.to_ascii_uppercase();
        r.headers
            .insert("Content-Type".into(), "application/json".into());
        r.body = Some(body);
        r
    }

    /// The same request under another batch id (ids must be unique within one `$batch`).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// `GET managedDevices/{id}?$select=id,usersLoggedOn,enrolledByUserPrincipalName`: the
    /// properties the list call leaves empty (REFERENCE: `managedDevice`, single-device GET).
    /// Batch id `"0"`; set another with [`Self::with_id`].
    pub fn device_details(device_id: &str) -> Self {
        Self::managed_device(
            device_id,
            &["id", "usersLoggedOn", "enrolledByUserPrincipalName"],
        )
    }

    /// `GET managedDevices/{id}?$select=…`: one device with the properties `select` names (all
    /// of them when it is empty).
    pub fn managed_device(device_id: &str, select: &[&str]) -> Self {
        Self::get(
            "0",
            format!(
                "/deviceManagement/managedDevices/{}{}",
                seg(device_id),
                select_suffix(select)
            ),
        )
    }

    /// `GET managedDevices/{id}/users`: the device's primary user, authoritative over the list
    /// row's `userPrincipalName`.
    pub fn device_users(device_id: &str) -> Self {
        Self::get(
            "0",
            format!("/deviceManagement/managedDevices/{}/users", seg(device_id)),
        )
    }

    /// `GET /users/{id}?$select=id,userPrincipalName`: who a user id is (404 once deleted).
    pub fn user(user_id: &str) -> Self {
        Self::user_with(user_id, &["id", "userPrincipalName"])
    }

    /// `GET /users/{id}?$select=…`: a user with the properties `select` names (all of them when
    /// it is empty; 404 once deleted).
    pub fn user_with(user_id: &str, select: &[&str]) -> Self {
        Self::get(
            "0",
            format!("/users/{}{}", seg(user_id), select_suffix(select)),
        )
    }

    /// `GET /users/{id}/licenseDetails`: the user's licences with their service plans by name
    /// (delegated tokens; an app-only token gets 403).
    pub fn user_license_details(user_id: &str) -> Self {
        Self::get("0", format!("/users/{}/licenseDetails", seg(user_id)))
    }

    /// Whether sending this again after an unclear outcome cannot act twice.
    pub fn is_repeatable(&self) -> bool {
        matches!(
            self.method.to_ascii_uppercase().as_str(),
            "GET" | "HEAD" | "PUT" | "DELETE"
        )
    }
}

/// `?$select=a,b` for a relative batch URL (Graph reads property names as they are), or nothing.
fn select_suffix(select: &[&str]) -> String {
    if select.is_empty() {
        String::new()
    } else {
        format!("?$select={}", select.join(","))
    }
}

/// One answer inside a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    #[serde(default, deserialize_with = "null_default")]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
}

impl BatchResponse {
    /// The item's `Retry-After`, header name matched case-insensitively.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, v)| parse_retry_after(v, SystemTime::now()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchRequestBody {
    pub requests: Vec<BatchRequest>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchResponseBody {
    #[serde(default, deserialize_with = "null_default")]
    pub responses: Vec<BatchResponse>,
}

fn validate(requests: &[BatchRequest]) -> Result<(), GraphError> {
    let mut seen = HashSet::new();
    for (i, r) in requests.iter().enumerate() {
        if !seen.insert(r.id.to_ascii_lowercase()) {
            return Err(GraphError::Invalid(format!(
                "batch item {i}: duplicate id {:?}",
                r.id
            )));
        }
        if r.url.contains("://") || r.url.starts_with("/beta/") || r.url.starts_with("/v1.0/") {
            return Err(GraphError::Invalid(format!(
                "batch item {:?}: url must be relative to the version root, got {:?}",
                r.id, r.url
            )));
        }
        // Dependencies must travel in the same 20-request chunk.
        let chunk = i / MAX_BATCH;
        for d in &r.depends_on {
            let pos = requests.iter().position(|o| o.id.eq_ignore_ascii_case(d));
            if pos.map(|p| p / MAX_BATCH) != Some(chunk) {
                return Err(GraphError::Invalid(format!(
                    "batch item {:?}: dependsOn {d:?} is not in the same batch of {MAX_BATCH}",
                    r.id
                )));
            }
        }
    }
    Ok(())
}

impl GraphClient {
    /// Runs `requests` through `/beta/$batch` in chunks of 20; answers come back in input order.
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        validate(&requests)?;
        let order: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
        let mut done: HashMap<String, BatchResponse> = HashMap::new();
        let mut pending = requests;
        let max_rounds = self.retry_policy().max_attempts;
        for round in 1..=max_rounds {
            let mut retry = Vec::new();
            let mut wait: Option<Duration> = None;
            for chunk in pending.chunks(MAX_BATCH) {
                for r in chunk {
                    let family = Family::of_path(r.url.split('?').next().unwrap_or(""));
                    self.governor()
                        .acquire(family, !r.method.eq_ignore_ascii_case("GET"))
                        .await;
                }
                let safety = if chunk.iter().all(BatchRequest::is_repeatable) {
                    RetrySafety::Idempotent
                } else {
                    RetrySafety::NotIdempotent
                };
                let body = serde_json::to_vec(&BatchRequestBody {
                    requests: chunk.to_vec(),
                })
                .map_err(|e| GraphError::Invalid(format!("batch body: {e}")))?;
                let url = self.beta("/$batch", &Query::new());
                let answer = self
                    .execute(Request {
                        method: Method::POST,
                        url: url.clone(),
                        body: Some(body),
                        safety,
                    })
                    .await?;
                let parsed: BatchResponseBody =
                    serde_json::from_slice(&answer.body).map_err(|e| GraphError::Decode {
                        what: url.path().to_string(),
                        detail: e.to_string(),
                        request_id: answer.request_id.clone(),
                    })?;
                for resp in parsed.responses {
                    let Some(req) = chunk.iter().find(|r| r.id.eq_ignore_ascii_case(&resp.id))
                    else {
                        tracing::warn!(id = %resp.id, "batch answer for an id that was not sent");
                        continue;
                    };
                    let transient = resp.status == 429 || resp.status >= 500;
                    let repeatable = resp.status == 429 || req.is_repeatable();
                    if transient && repeatable && round < max_rounds {
                        let w = resp
                            .retry_after()
                            .unwrap_or_else(|| backoff(&self.retry_policy(), round));
                        if resp.status == 429 {
                            self.governor().throttled(Family::of_path(&req.url), w);
                        }
                        wait = Some(wait.map_or(w, |x| x.max(w)));
                        retry.push(req.clone());
                    } else {
                        done.insert(req.id.clone(), resp);
                    }
                }
                for r in chunk {
                    if !done.contains_key(&r.id) && !retry.iter().any(|x| x.id == r.id) {
                        return Err(GraphError::Decode {
                            what: url.path().to_string(),
                            detail: format!("no answer for batch item {:?}", r.id),
                            request_id: answer.request_id.clone(),
                        });
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            retry.sort_by_key(|r| order.iter().position(|id| *id == r.id));
            let w = wait.unwrap_or_default();
            tracing::info!(
                items = retry.len(),
                wait_ms = w.as_millis() as u64,
                "retrying batch items"
            );
            tokio::time::sleep(w).await;
            pending = retry;
        }
        Ok(order
            .into_iter()
            .filter_map(|id| done.remove(&id))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_ids_absolute_urls_and_split_dependencies_are_refused() {
        let dup = vec![
            BatchRequest::get("a", "/users"),
            BatchRequest::get("A", "/groups"),
        ];
        assert!(
            validate(&dup)
                .unwrap_err()
                .to_string()
                .contains("duplicate id")
        );
        let abs = vec![BatchRequest::get(
            "a",
            "https://graph.microsoft.com/beta/users",
        )];
        assert!(validate(&abs).unwrap_err().to_string().contains("relative"));
        let mut many: Vec<_> = (0..21)
            .map(|i| BatchRequest::get(i.to_string(), "/users"))
            .collect();
        many[20].depends_on = vec!["0".into()];
        assert!(
            validate(&many)
                .unwrap_err()
                .to_string()
                .contains("same batch")
        );
        many[20].depends_on.clear();
        assert!(validate(&many).is_ok());
    }

    #[test]
    fn only_safe_methods_repeat_and_bodies_get_a_content_type() {
        let p = BatchRequest::with_body("1", "post", "/x/wipe", serde_json::json!({}));
        assert!(!p.is_repeatable());
        assert_eq!(p.headers["Content-Type"], "application/json");
        assert!(BatchRequest::get("2", "/x").is_repeatable());
    }

    #[test]
    fn typed_reads_are_relative_and_escape_their_ids() {
        assert_eq!(
            BatchRequest::device_details("md-1").with_id("7"),
            BatchRequest::get(
                "7",
                "/deviceManagement/managedDevices/md-1?$select=id,usersLoggedOn,enrolledByUserPrincipalName"
            )
        );
        assert_eq!(
            BatchRequest::device_users("a/b?c").url,
            "/deviceManagement/managedDevices/a%2Fb%3Fc/users"
        );
        assert_eq!(
            BatchRequest::user("u/1").url,
            "/users/u%2F1?$select=id,userPrincipalName"
        );
        assert_eq!(
            BatchRequest::managed_device("a b", &["id", "usersLoggedOn"]).url,
            "/deviceManagement/managedDevices/a%20b?$select=id,usersLoggedOn"
        );
        assert_eq!(BatchRequest::user_with("u#1", &[]).url, "/users/u%231");
        assert_eq!(
            BatchRequest::user_license_details("u?1").url,
            "/users/u%3F1/licenseDetails"
        );
        let all = [
            BatchRequest::device_details("x"),
            BatchRequest::device_users("x"),
            BatchRequest::user("x"),
        ];
        assert!(all.iter().all(|r| r.is_repeatable() && r.method == "GET"));
        assert!(validate(&[all[0].clone().with_id("a"), all[1].clone().with_id("b")]).is_ok());
    }

    #[test]
    fn item_retry_after_is_read_case_insensitively() {
        let r: BatchResponse =
            serde_json::from_str(r#"{"id":"1","status":429,"headers":{"retry-after":"2.5"}}"#)
                .unwrap();
        assert_eq!(r.retry_after(), Some(Duration::from_millis(2500)));
    }
}

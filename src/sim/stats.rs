//! What the simulator saw: counters (served at `GET {base}/_sim/stats`) and a request log.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

/// Counters for tests and benchmarks.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SimStats {
    pub requests_total: u64,
    /// `"GET /beta/deviceManagement/managedDevices/{id}"` → count (ids replaced by `{id}`).
    pub requests_per_route: BTreeMap<String, u64>,
    pub throttled_429: u64,
    /// Requests that came back to a throttled family before the Retry-After they were given.
    pub retry_after_violations: u64,
    pub unauthorized_401: u64,
    pub forbidden_403: u64,
    pub injected_5xx: u64,
    pub dropped_connections: u64,
    pub blob_requests: u64,
    pub blob_requests_with_authorization: u64,
    pub batch_requests: u64,
    /// Bodiless POSTs that came without `Content-Length` (answered 411, as Graph does).
    pub length_required_411: u64,
}

/// One request as it arrived (batch items are recorded too, with `in_batch`).
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub route: String,
    pub had_authorization: bool,
    pub arrived_at: Instant,
    pub retry_after_violation: bool,
    pub in_batch: bool,
    pub status: u16,
    /// The `Retry-After` the simulator answered with, if any.
    pub retry_after: Option<String>,
}

/// Route label: path segments that look like ids (GUIDs, digits, UPNs, blob names) become `{id}`.
pub fn route_label(method: &str, path: &str) -> String {
    let segs: Vec<String> = path
        .split('/')
        .map(|s| {
            let looks_like_id = uuid::Uuid::parse_str(s).is_ok()
                || s.contains('@')
                || s.ends_with(".zip")
                || (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
            if looks_like_id {
                "{id}".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    format!("{method} {}", segs.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_collapse_in_route_labels() {
        assert_eq!(
            route_label(
                "GET",
                "/beta/deviceManagement/managedDevices/0b6c7a43-3c8d-4f25-9a5e-0c5ee5a1e0a4/users"
            ),
            "GET /beta/deviceManagement/managedDevices/{id}/users"
        );
        assert_eq!(
            route_label("GET", "/v1.0/users/a@b.example"),
            "GET /v1.0/users/{id}"
        );
        assert_eq!(route_label("POST", "/beta/$batch"), "POST /beta/$batch");
    }
}

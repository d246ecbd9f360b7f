//! `POST /{beta|v1.0}/$batch` (docs/graph.md §10): ≤ 20 requests, unique ids (case-insensitive),
//! relative urls, per-item status/headers/body, per-item 429s, `dependsOn` → 424, and responses
//! in a shuffled order.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use serde_json::{Map, Value, json};

use super::{body_json, dispatch, error};
use crate::sim::server::{Incoming, Reply, ReplyBody, State, parse_query};

pub fn handle(st: &mut State, inc: &Incoming, version: &str, now: Instant) -> Reply {
    let body = match body_json(inc) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(reqs) = body["requests"].as_array() else {
        return error(
            400,
            "BadRequest",
            "Invalid batch payload: 'requests' (an array) is required.",
            inc,
        );
    };
    if reqs.len() > 20 {
        return error(
            400,
            "BadRequest",
            &format!(
                "Invalid batch payload: {} requests; the maximum is 20.",
                reqs.len()
            ),
            inc,
        );
    }
    let mut seen = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let Some(id) = r["id"].as_str() else {
            return error(
                400,
                "BadRequest",
                &format!("Invalid batch payload: requests[{i}] has no 'id'."),
                inc,
            );
        };
        if r["method"].as_str().is_none() || r["url"].as_str().is_none() {
            return error(
                400,
                "BadRequest",
                &format!("Invalid batch payload: request '{id}' needs 'method' and 'url'."),
                inc,
            );
        }
        if seen.iter().any(|s: &String| s.eq_ignore_ascii_case(id)) {
            return error(
                400,
                "BadRequest",
                &format!("Invalid batch payload: duplicate request id '{id}'."),
                inc,
            );
        }
        seen.push(id.to_string());
    }
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut out = Vec::new();
    for r in reqs {
        let id = r["id"].as_str().unwrap_or_default().to_string();
        let deps: Vec<String> = r["dependsOn"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        let reply = if deps
            .iter()
            .any(|d| statuses.get(d).is_none_or(|s| *s >= 400))
        {
            error(
                424,
                "FailedDependency",
                "A request this one depends on failed or was not run first.",
                inc,
            )
        } else {
            run_item(st, inc, version, r, now)
        };
        statuses.insert(id.to_lowercase(), reply.status);
        out.push(item_json(&id, reply));
    }
    if out.len() > 1 {
        let k = st.fault_rng.range(0, out.len() as u64) as usize;
        out.rotate_left(k);
    }
    Reply::json(200, json!({"responses": out}))
}

fn run_item(st: &mut State, outer: &Incoming, version: &str, r: &Value, now: Instant) -> Reply {
    let url = r["url"].as_str().unwrap_or_default();
    let rel = url.trim_start_matches('/');
    if url.contains("://") || rel.starts_with("beta/") || rel.starts_with("v1.0/") {
        return error(
            400,
            "BadRequest",
            "Batch request urls must be relative and carry no version (e.g. /users).",
            outer,
        );
    }
    let mut headers: HashMap<String, String> = r["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let body = match r.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(b) => {
            if !headers.contains_key("content-type") {
                return error(
                    400,
                    "BadRequest",
                    "A batch request with a body must set a Content-Type header.",
                    outer,
                );
            }
            Bytes::from(serde_json::to_vec(b).unwrap_or_default())
        }
    };
    if let Some(a) = outer.header("authorization") {
        headers.insert("authorization".into(), a.to_string());
    }
    let (path, query) = rel
        .split_once('?')
        .map(|(p, q)| (p, Some(q.to_string())))
        .unwrap_or((rel, None));
    let inc = Incoming {
        method: r["method"].as_str().unwrap_or("GET").to_ascii_uppercase(),
        path: format!("/{version}/{path}"),
        query: parse_query(query.as_deref()),
        raw_query: query,
        headers,
        body,
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    dispatch(st, &inc, true, now)
}

fn item_json(id: &str, reply: Reply) -> Value {
    let mut headers = Map::new();
    for (k, v) in reply.headers {
        headers.insert(k, Value::String(v));
    }
    let body = match reply.body {
        ReplyBody::Empty => None,
        ReplyBody::Json(v) => {
            headers.insert("Content-Type".into(), json!("application/json"));
            Some(v)
        }
        ReplyBody::Bytes { content_type, data } => {
            headers.insert("Content-Type".into(), json!(content_type));
            Some(Value::String(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                data,
            )))
        }
    };
    let mut item = json!({"id": id, "status": reply.status, "headers": headers});
    if let Some(b) = body {
        item["body"] = b;
    }
    item
}

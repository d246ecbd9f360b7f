//! HTTP plumbing: the shared state, the axum server on loopback, and the one handler every
//! request goes through (stats and blobs, the Entra endpoints, Graph).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration as Span, Utc};
use serde_json::Value;
use url::Url;

use super::auth::Tokens;
use super::directory::Directory;
use super::faults::Faults;
use super::fleet::Fleet;
use super::limits::Throttles;
use super::reports::SimExportJob;
use super::rng::Rng;
use super::stats::{RequestRecord, SimStats, route_label};
use super::{SimOptions, routes};

pub type Shared = Arc<Mutex<State>>;

/// Sim time = start + elapsed × speed + whatever `advance()` added.
#[derive(Debug)]
pub struct Clock {
    pub real_start: Instant,
    pub sim_start: DateTime<Utc>,
    pub speed: f64,
    pub advanced: Span,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = self.real_start.elapsed().as_secs_f64() * self.speed;
        self.sim_start + Span::milliseconds((elapsed * 1000.0) as i64) + self.advanced
    }
}

/// Everything the simulator knows, behind one mutex (it is a server, not the UI).
#[derive(Debug)]
pub struct State {
    pub opts: SimOptions,
    pub base: Url,
    pub tenant_id: String,
    pub client_id: String,
    pub clock: Clock,
    pub dir: Directory,
    pub fleet: Fleet,
    pub tokens: Tokens,
    pub limits: Throttles,
    pub faults: Faults,
    pub fault_rng: Rng,
    pub stats: SimStats,
    pub records: Vec<RequestRecord>,
    pub exports: HashMap<String, SimExportJob>,
    /// Remote diagnostics requests (`routes/evidence.rs`).
    pub evidence: routes::EvidenceState,
    /// Windows Autopilot: hash imports, devices, sync.
    pub autopilot: super::autopilot::Autopilot,
    /// Parsed `SimOptions::certificates`.
    pub certificates: Vec<super::certs::Registered>,
}

/// What a handler answers; turned into an HTTP response (or a `$batch` item).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
    /// Cut the connection after the status line (fault injection).
    pub drop: bool,
}

#[derive(Debug, Clone)]
pub enum ReplyBody {
    Empty,
    Json(Value),
    Bytes {
        content_type: &'static str,
        data: Vec<u8>,
    },
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Self {
        Self {
            status,
            headers: vec![],
            body: ReplyBody::Json(v),
            drop: false,
        }
    }
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: ReplyBody::Empty,
            drop: false,
        }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// The request as the dispatchers see it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub raw_query: Option<String>,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    pub request_id: String,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

pub async fn handle(AxState(shared): AxState<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut headers = HashMap::new();
    for (k, v) in &parts.headers {
        headers.insert(
            k.as_str().to_ascii_lowercase(),
            v.to_str().unwrap_or("").to_string(),
        );
    }
    let inc = Incoming {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().map(str::to_string),
        query: parse_query(parts.uri.query()),
        headers,
        body,
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let latency = shared.lock().map(|s| s.faults.latency).unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let reply = {
        let Ok(mut st) = shared.lock() else {
            return plain(500, "simulator state poisoned");
        };
        dispatch_top(&mut st, &inc)
    };
    into_response(reply, &inc)
}

fn dispatch_top(st: &mut State, inc: &Incoming) -> Reply {
    let now = Instant::now();
    let had_auth = inc.header("authorization").is_some();
    let reply = if inc.path == "/_sim/stats" {
        Reply::json(200, serde_json::to_value(&st.stats).unwrap_or_default())
    } else if inc.path.starts_with("/_blob/logs/") {
        st.stats.blob_requests += 1;
        if had_auth {
            st.stats.blob_requests_with_authorization += 1;
        }
        routes::serve_log_blob(st, inc)
    } else if inc.path.starts_with("/_blob/") {
        st.stats.blob_requests += 1;
        if had_auth {
            st.stats.blob_requests_with_authorization += 1;
        }
        super::reports::serve_blob(st, inc)
    } else if inc.path.contains("/oauth2/v2.0/") {
        super::auth::dispatch(st, inc)
    } else if inc.path == super::verify::PATH {
        super::verify::handle(st, inc)
    } else if length_required(inc) {
        // Graph's front end over HTTP/1.1 (docs/graph.md §17).
        st.stats.length_required_411 += 1;
        Reply {
            status: 411,
            headers: vec![],
            body: ReplyBody::Bytes {
                content_type: "text/html; charset=us-ascii",
                data: LENGTH_REQUIRED_PAGE.as_bytes().to_vec(),
            },
            drop: false,
        }
    } else {
        return routes::dispatch(st, inc, false, now);
    };
    record(st, inc, now, false, &reply, false);
    reply
}

const LENGTH_REQUIRED_PAGE: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n<HTML><HEAD><TITLE>Length Required</TITLE>\r\n<META HTTP-EQUIV=\"Content-Type\" Content-Type=\"text/html; charset=us-ascii\"></HEAD>\r\n<BODY><h2>Length Required</h2>\r\n<hr><p>HTTP Error 411. The request must be chunked or have a content length.</p>\r\n</BODY></HTML>\r\n";

/// A POST (or PUT, PATCH) that says neither how long its body is nor that it is chunked.
fn length_required(inc: &Incoming) -> bool {
    matches!(inc.method.as_str(), "POST" | "PUT" | "PATCH")
        && inc.header("content-length").is_none()
        && inc.header("transfer-encoding").is_none()
}

/// Counts and logs one request (Graph ones are recorded by `routes::dispatch`).
pub fn record(
    st: &mut State,
    inc: &Incoming,
    at: Instant,
    violation: bool,
    reply: &Reply,
    in_batch: bool,
) {
    let route = route_label(&inc.method, &inc.path);
    st.stats.requests_total += 1;
    *st.stats
        .requests_per_route
        .entry(route.clone())
        .or_default() += 1;
    match reply.status {
        401 => st.stats.unauthorized_401 += 1,
        403 => st.stats.forbidden_403 += 1,
        429 => st.stats.throttled_429 += 1,
        _ => {}
    }
    if violation {
        st.stats.retry_after_violations += 1;
    }
    st.records.push(RequestRecord {
        method: inc.method.clone(),
        path: inc.path.clone(),
        query: inc.raw_query.clone(),
        route,
        had_authorization: inc.header("authorization").is_some(),
        arrived_at: at,
        retry_after_violation: violation,
        in_batch,
        status: reply.status,
        retry_after: reply
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .map(|(_, v)| v.clone()),
    });
}

fn plain(status: u16, msg: &str) -> Response {
    let mut r = Response::new(Body::from(msg.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

fn into_response(reply: Reply, inc: &Incoming) -> Response {
    let (ctype, bytes): (Option<&str>, Vec<u8>) = match reply.body {
        ReplyBody::Empty => (None, vec![]),
        ReplyBody::Json(v) => (
            Some(
                "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
            ),
            serde_json::to_vec(&v).unwrap_or_default(),
        ),
        ReplyBody::Bytes { content_type, data } => (Some(content_type), data),
    };
    let body = if reply.drop {
        // Headers go out, then the body stream fails: hyper aborts the connection mid-response.
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"va")),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated drop",
            )),
        ];
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(bytes)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h: &mut HeaderMap = resp.headers_mut();
    if let Some(ct) = ctype {
        h.insert("content-type", HeaderValue::from_static(ct));
    }
    if let Ok(v) = HeaderValue::from_str(&inc.request_id) {
        h.insert("request-id", v);
    }
    if let Some(c) = inc
        .header("client-request-id")
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        h.insert("client-request-id", c);
    }
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            h.insert(k, v);
        }
    }
    resp
}

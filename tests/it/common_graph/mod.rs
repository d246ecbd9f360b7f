//! A canned Graph server for client tests: binds 127.0.0.1:0, records every request (method,
//! path, query, headers, body, arrival time) and answers through a closure. It stops when the
//! `CannedServer` is dropped (and with the test's runtime).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    /// Raw (still percent-encoded) query string.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

pub type Responder = dyn Fn(&Recorded, usize) -> Response<Body> + Send + Sync;

pub struct CannedServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CannedServer {
    /// Starts a server whose answers come from `respond(request, index_of_request)`.
    pub async fn start(
        respond: impl Fn(&Recorded, usize) -> Response<Body> + Send + Sync + 'static,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let respond: Arc<Responder> = Arc::new(respond);
        let recs = requests.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let recs = recs.clone();
            let respond = respond.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 64 << 20)
                    .await
                    .unwrap_or_default();
                let rec = Recorded {
                    method: parts.method,
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().map(str::to_string),
                    headers: parts.headers,
                    body,
                    at: Instant::now(),
                };
                let index = {
                    let mut r = recs.lock().unwrap();
                    r.push(rec.clone());
                    r.len() - 1
                };
                respond(&rec, index)
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        CannedServer {
            url,
            requests,
            task,
        }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// A JSON answer with extra headers.
pub fn json(status: u16, headers: &[(&str, &str)], body: serde_json::Value) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

pub fn empty(status: u16) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::empty())
        .unwrap()
}

pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// A Graph client for the simulator with `token`, its own governor (documented limits) and the
/// default retry policy: what most simulator tests talk through.
pub fn sim_client_with_token(
    sim: &stagehand::sim::SimHandle,
    token: stagehand::secret::Secret,
) -> stagehand::graph::GraphClient {
    stagehand::graph::GraphClient::new(
        sim.base_url.clone(),
        stagehand::graph::Timeouts::default(),
        Arc::new(stagehand::auth::StaticToken(token)),
        Arc::new(stagehand::graph::Governor::new(&[])),
    )
    .unwrap()
}

/// [`sim_client_with_token`] with a delegated token of `scopes`, valid for an hour.
pub fn sim_client(
    sim: &stagehand::sim::SimHandle,
    scopes: &[&str],
) -> stagehand::graph::GraphClient {
    sim_client_with_token(sim, sim.issue_token(scopes, Duration::from_secs(3600)))
}

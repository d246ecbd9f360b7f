//! Every POST without a body carries `Content-Length: 0` (Graph answers 411 without it over
//! HTTP/1.1, and reqwest sends none for an empty body: docs/graph.md §17). The server here reads
//! the raw request bytes off a loopback socket, before any HTTP library could add or drop a
//! header, so the test sees exactly what went on the wire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use stagehand::auth::StaticToken;
use stagehand::graph::client::Request;
use stagehand::graph::models::WipeOptions;
use stagehand::graph::{Governor, GraphClient, RetrySafety, Timeouts};
use stagehand::secret::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// One request as it arrived: the head (request line and headers) as text, and the body bytes.
#[derive(Debug, Clone)]
struct Raw {
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// Every value of header `name` (case-insensitive), as sent.
    fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

/// Answers every request on its own connection (`connection: close`) after reading it whole.
async fn raw_server() -> (Url, Arc<Mutex<Vec<Raw>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let seen: Arc<Mutex<Vec<Raw>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut raw = Raw {
                    head,
                    body: Vec::new(),
                };
                let want: usize = raw
                    .headers("content-length")
                    .first()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = buf[head_end..].to_vec();
                while body.len() < want {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                raw.body = body;
                let answer = if raw
                    .request_line()
                    .contains("retrieveEnrollmentTimeDeviceMembershipTarget")
                {
                    let json = br#"{"validationSucceeded":true,"enrollmentTimeDeviceMembershipTargetValidationStatuses":[]}"#;
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        json.len()
                    )
                    .into_bytes();
                    a.extend_from_slice(json);
                    a
                } else {
                    b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".to_vec()
                };
                log.lock().unwrap().push(raw);
                let _ = sock.write_all(&answer).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, seen)
}

fn client(url: &Url) -> GraphClient {
    GraphClient::new(
        url.clone(),
        Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(20),
        },
        Arc::new(StaticToken(Secret::new("tok"))),
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
}

#[tokio::test]
async fn every_bodiless_post_says_content_length_0_on_the_wire() {
    let (url, seen) = raw_server().await;
    let c = client(&url);
    // The typed operations that POST without a body.
    c.sync_device("dev-1").await.unwrap();
    c.retire("dev-1").await.unwrap();
    let target = c
        .retrieve_enrollment_time_membership_target("pol-1")
        .await
        .unwrap();
    assert_eq!(target.validation_succeeded, Some(true));
    // Any other bodiless write through the one HTTP layer (later operations get it for free).
    for method in [Method::POST, Method::PUT, Method::PATCH] {
        c.execute(Request {
            method,
            url: c.beta(
                "/deviceManagement/someAction",
                &stagehand::graph::odata::Query::new(),
            ),
            body: None,
            safety: RetrySafety::NotIdempotent,
        })
        .await
        .unwrap();
    }
    // A POST with a body says its real length, once.
    c.wipe("dev-1", &WipeOptions::default()).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 7, "{seen:#?}");
    for raw in &seen[..6] {
        assert_eq!(
            raw.headers("content-length"),
            ["0"],
            "exactly one Content-Length: 0 in {}",
            raw.head
        );
        assert!(raw.headers("transfer-encoding").is_empty(), "{}", raw.head);
        assert!(raw.body.is_empty(), "{}", raw.head);
    }
    let lines: Vec<&str> = seen.iter().map(Raw::request_line).collect();
    assert!(lines[0].starts_with("POST /beta/deviceManagement/managedDevices/dev-1/syncDevice "));
    assert!(lines[1].starts_with("POST /beta/deviceManagement/managedDevices/dev-1/retire "));
    assert!(lines[2].starts_with(
        "POST /beta/deviceManagement/configurationPolicies/pol-1/retrieveEnrollmentTimeDeviceMembershipTarget "
    ));
    assert!(
        lines[3].starts_with("POST ")
            && lines[4].starts_with("PUT ")
            && lines[5].starts_with("PATCH ")
    );
    let wipe = &seen[6];
    assert!(
        wipe.request_line()
            .starts_with("POST /beta/deviceManagement/managedDevices/dev-1/wipe ")
    );
    assert!(!wipe.body.is_empty());
    assert_eq!(
        wipe.headers("content-length"),
        [wipe.body.len().to_string()],
        "{}",
        wipe.head
    );
}

#[tokio::test]
async fn the_simulator_refuses_a_bodiless_post_without_a_length_as_graph_does() {
    let sim = stagehand::sim::start(stagehand::sim::SimOptions {
        devices: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let token = sim.issue_token(stagehand::sim::ALL_DELEGATED, Duration::from_secs(600));
    let c = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token.clone())),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let device = c.list_managed_devices(None, &[]).await.unwrap()[0]
        .id
        .clone();
    c.sync_device(&device).await.unwrap();
    assert_eq!(sim.stats().length_required_411, 0);
    // The same call by hand without the header: 411, never reaching the route.
    let bare = reqwest::Client::new()
        .post(
            sim.base_url
                .join(&format!(
                    "beta/deviceManagement/managedDevices/{device}/syncDevice"
                ))
                .unwrap(),
        )
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 411);
    assert_eq!(sim.stats().length_required_411, 1);
    let syncs: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/syncDevice"))
        .map(|r| r.status)
        .collect();
    assert_eq!(syncs, [204, 411], "the refused POST is no sync");
}

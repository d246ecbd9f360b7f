//! Whatever a Graph server (or a blob store) sends, memory stays bounded and nothing runs away:
//! a nextLink loop ends in an error, an endless body is cut at the response limit, one 429 pauses
//! its family for no longer than a retry would wait, and the export download follows at most one
//! https redirect with no `Referer`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Response;
use stagehand::auth::StaticToken;
use stagehand::graph::export::ExportPolling;
use stagehand::graph::limits::MAX_RESPONSE_BYTES;
use stagehand::graph::{Governor, GraphClient, GraphConn, GraphError, Timeouts};
use stagehand::secret::Secret;
use url::Url;

use crate::common_graph::{CannedServer, bytes, json};

fn client(url: &str) -> GraphClient {
    GraphClient::new(
        Url::parse(url).unwrap(),
        Timeouts::default(),
        Arc::new(StaticToken(Secret::new("t"))),
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_loop_a_b_a_is_an_error_after_two_pages() {
    let server = CannedServer::start(|r, _| {
        let base = format!("http://{}", r.header("host").unwrap());
        let next = if r.path.ends_with("/a") { "b" } else { "a" };
        json(
            200,
            &[],
            serde_json::json!({
                "value": [{"id": r.path.clone()}],
                "@odata.nextLink": format!("{base}/beta/{next}")
            }),
        )
    })
    .await;
    let c = client(&server.url);
    let err = c
        .get_all::<serde_json::Value>(c.beta("/a", &Default::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("loops back"), "{err}");
    assert_eq!(
        server.count(),
        2,
        "A and B read once each, then the loop is caught"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_cut_at_the_response_limit() {
    let server = CannedServer::start(|_, _| {
        let chunk = Bytes::from(vec![b' '; 1 << 16]);
        let endless = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from_stream(endless))
            .unwrap()
    })
    .await;
    let c = client(&server.url);
    let err = c
        .get_entity::<serde_json::Value>(c.beta("/endless", &Default::default()))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("larger than {} MiB", MAX_RESPONSE_BYTES >> 20)),
        "{err}"
    );
    assert_eq!(server.count(), 1, "an answer over the limit is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_429_pauses_its_family_no_longer_than_a_retry_would_wait() {
    for retry_after in ["86400", "Fri, 31 Dec 9999 23:59:59 GMT"] {
        let server = CannedServer::start(move |_, _| {
            json(
                429,
                &[("retry-after", retry_after)],
                serde_json::json!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
            )
        })
        .await;
        let c = client(&server.url);
        let ceiling = c.retry_policy().max_retry_after;
        let before = tokio::time::Instant::now();
        let err = c
            .get_entity::<serde_json::Value>(
                c.beta("/deviceManagement/managedDevices", &Default::default()),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, GraphError::Throttled { .. }), "{err:?}");
        let state = c.conn_state().borrow().clone();
        match state {
            GraphConn::Throttled { until } => assert!(
                until <= before + ceiling + Duration::from_secs(1),
                "{retry_after}: paused {:?}",
                until - before
            ),
            other => panic!("{retry_after}: {other:?}"),
        }
        assert_eq!(server.count(), 1);
    }
}

/// A tenant whose export job completes at `/blob0`, and a blob store whose `/blob{n}` redirects
/// along `hops` (each a Location) before the last answers the ZIP.
async fn export_server(hops: Vec<String>) -> CannedServer {
    CannedServer::start(move |r, _| {
        let base = format!("http://{}", r.header("host").unwrap());
        if r.path.ends_with("/exportJobs") {
            return json(
                201,
                &[],
                serde_json::json!({"id": "job1", "status": "completed", "url": format!("{base}/blob0?sig=secret")}),
            );
        }
        let n: usize = r
            .path
            .strip_prefix("/blob")
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        match hops.get(n) {
            Some(loc) => Response::builder()
                .status(302)
                .header("location", loc.replace("{base}", &base))
                .body(Body::empty())
                .unwrap(),
            None => bytes(200, "application/zip", zip_csv()),
        }
    })
    .await
}

fn zip_csv() -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("r.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"SerialNumber\nSN1\n").unwrap();
    w.finish().unwrap().into_inner()
}

async fn export(c: &GraphClient) -> Result<usize, GraphError> {
    c.export_report_each("R", &[], None, ExportPolling::default(), |_| {})
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_download_follows_one_redirect_without_a_referer() {
    let server = export_server(vec!["{base}/blob1".into()]).await;
    let c = client(&server.url);
    assert_eq!(export(&c).await.unwrap(), 1);
    let second = server
        .recorded()
        .into_iter()
        .find(|r| r.path == "/blob1")
        .expect("the redirect was followed");
    assert_eq!(second.header("referer"), None);
    assert_eq!(second.header("authorization"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_download_refuses_a_second_redirect_and_any_redirect_to_http() {
    let server = export_server(vec!["{base}/blob1".into(), "{base}/blob2".into()]).await;
    let err = export(&client(&server.url)).await.unwrap_err();
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(!server.recorded().iter().any(|r| r.path == "/blob2"));

    let server = export_server(vec!["http://evil.example/steal".into()]).await;
    let err = export(&client(&server.url)).await.unwrap_err();
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_from_graph_stays_one_path_segment() {
    let server = CannedServer::start(|r, _| {
        if r.path.ends_with("/$batch") {
            let body = r.json();
            let responses: Vec<serde_json::Value> = body["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| serde_json::json!({"id": q["id"], "status": 404, "body": {"error": {"code": "NotFound", "message": q["url"]}}}))
                .collect();
            return json(200, &[], serde_json::json!({"responses": responses}));
        }
        json(404, &[], serde_json::json!({"error": {"code": "NotFound", "message": "no"}}))
    })
    .await;
    let c = client(&server.url);
    let hostile = "../../users/x?$select=*#frag/more";
    let _ = c.get_managed_device(hostile, &[]).await;
    let direct = &server.recorded()[0];
    assert_eq!(
        direct.path,
        "/beta/deviceManagement/managedDevices/..%2F..%2Fusers%2Fx%3F%24select%3D%2A%23frag%2Fmore"
    );
    assert_eq!(direct.query, None, "nothing of the id became a query");
    // A dot segment would be resolved away and address the collection itself.
    let _ = c.get_managed_device("..", &[]).await;
    let dots = server.recorded().last().unwrap().path.clone();
    assert!(
        dots.starts_with("/beta/deviceManagement/managedDevices/") && dots.len() > 38,
        "{dots}"
    );
}

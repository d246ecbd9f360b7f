//! What the Graph client writes to the log: the request-id and client-request-id, never the token.
//!
//! This test lives alone in its own test binary on purpose; add no other test here. It installs a
//! thread-scoped subscriber (`tracing::subscriber::set_default`), and tracing caches each
//! callsite's `Interest` process-wide. While exactly one `Dispatch` is registered, tracing-core
//! 0.1.36 computes the interest of a newly hit callsite from the *registering thread's* default
//! (`Rebuilder::JustOne` → `get_default`): when another test thread, which has no subscriber, is
//! the first to hit one of the client's callsites (the `graph` span, the "answer" event, hyper's
//! events), `Interest::never` is cached and nothing rebuilds it, so this thread's subscriber never
//! sees those events (tokio-rs/tracing#3611, fix proposed in #3614). In `graph_http` with 8 test
//! threads the log came back empty 30 runs out of 30; with 2 threads it failed now and then. With
//! no other test in the process, every callsite this test checks is first hit on this thread,
//! under its subscriber.

#[path = "it/common_graph/mod.rs"]
mod common_graph;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common_graph::{CannedServer, json};
use futures::future::BoxFuture;
use serde_json::json as j;
use stagehand::auth::{AuthError, TokenProvider};
use stagehand::graph::{Governor, GraphClient, RetryPolicy, Timeouts};
use stagehand::secret::Secret;
use url::Url;

/// Hands out "old" until told it was rejected, then "new".
struct Rotating;

impl TokenProvider for Rotating {
    fn access_token<'a>(
        &'a self,
        rejected: Option<&'a Secret>,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            Ok(Secret::new(if rejected.is_some() {
                "new-token-value"
            } else {
                "old-token-value"
            }))
        })
    }
}

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_keep_the_request_id_and_never_the_token() {
    let buf = LogBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = CannedServer::start(|_, i| match i {
        0 => json(401, &[("request-id", "rid-401")], j!({})),
        _ => json(
            500,
            &[("request-id", "rid-500")],
            j!({"error": {"code": "InternalError", "message": "boom"}}),
        ),
    })
    .await;
    let c = GraphClient::new(
        Url::parse(&server.url).unwrap(),
        Timeouts::default(),
        Arc::new(Rotating),
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(10),
    });
    let err = c.get_user("u1", &[]).await.unwrap_err();
    assert_eq!(err.request_id(), Some("rid-500"));
    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("rid-500"), "request-id is in the log:\n{log}");
    assert!(
        log.contains("client_request_id"),
        "client-request-id is in the log:\n{log}"
    );
    for secret in ["Bearer", "old-token-value", "new-token-value"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert_eq!(server.count(), 2);
}

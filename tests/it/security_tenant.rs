//! The tenant id cannot redirect a token request, and a token answer's numbers cannot panic.
//!
//! Two loopback listeners: the login server (a canned token endpoint) and a second one standing
//! for `evil.example`. Every hostile tenant id must leave the second without a single connection,
//! whether it reaches `TokenEndpoint::new` directly or through the config and environment.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use stagehand::auth::TokenEndpoint;
use stagehand::secret::Secret;
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::common_graph::{CannedServer, json};

/// A listener that records the peer address of every connection it accepts.
async fn bystander() -> (SocketAddr, Arc<Mutex<Vec<SocketAddr>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            log.lock().unwrap().push(peer);
            drop(stream);
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tenant_id_sends_the_token_request_to_another_host() {
    let login = CannedServer::start(|_, _| {
        json(
            200,
            &[],
            serde_json::json!({"access_token": "a", "token_type": "Bearer", "expires_in": 3599}),
        )
    })
    .await;
    let (evil, seen) = bystander().await;
    let login_url = Url::parse(&login.url).unwrap();
    let hostile = [
        format!("http:{evil}"),
        format!("https:{evil}"),
        format!("\\\\{evil}"),
        format!("//{evil}"),
        format!("\\/{evil}"),
        format!("..\\..\\{evil}"),
        format!("%2F%2F{evil}"),
        format!("x@{evil}"),
        format!("{evil}"),
    ];
    for tenant in &hostile {
        match TokenEndpoint::new(&login_url, tenant, "client") {
            Err(e) => assert!(e.to_string().contains("tenant"), "{tenant}: {e}"),
            Ok(ep) => {
                // Whatever was accepted must stay on the login origin.
                assert_eq!(
                    ep.url("token").origin(),
                    login_url.origin(),
                    "{tenant}: {}",
                    ep.url("token")
                );
                let _ = ep.refresh(&Secret::new("refresh-secret"), "scope").await;
            }
        }
    }
    // Through the config too (STAGEHAND_TENANT): refused before any URL is built.
    for tenant in &hostile {
        let env = |k: &str| (k == "STAGEHAND_TENANT").then(|| tenant.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "").unwrap();
        let ov = stagehand::config::Overrides {
            config_path: Some(path),
            ..Default::default()
        };
        let err = stagehand::config::Config::load(&ov, &env).unwrap_err();
        assert!(err.to_string().contains("tenant.id"), "{tenant}: {err}");
    }
    // A last connection of our own: once the bystander has accepted it, it has accepted every
    // connection made before it (the kernel queues them in order).
    let probe = TcpStream::connect(evil).await.unwrap();
    let mine = probe.local_addr().unwrap();
    let deadline = std::time::Instant::now() + crate::common::timeout();
    while !seen.lock().unwrap().contains(&mine) {
        assert!(std::time::Instant::now() < deadline, "probe never accepted");
        tokio::task::yield_now().await;
    }
    let others: Vec<SocketAddr> = seen
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|p| *p != mine)
        .collect();
    assert!(
        others.is_empty(),
        "token requests reached the second listener: {others:?}"
    );
    // The well-formed tenants did reach the login server.
    assert!(
        login
            .recorded()
            .iter()
            .all(|r| r.path.ends_with("/oauth2/v2.0/token"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_expires_in_is_a_bounded_lifetime_not_a_panic() {
    for expires_in in [
        serde_json::json!(18446744073709551615u64),
        serde_json::json!("18446744073709551615"),
        serde_json::json!(0),
    ] {
        let login = CannedServer::start(move |_, _| {
            json(
                200,
                &[],
                serde_json::json!({"access_token": "a", "token_type": "Bearer", "expires_in": expires_in.clone()}),
            )
        })
        .await;
        let ep = TokenEndpoint::new(&Url::parse(&login.url).unwrap(), "common", "client").unwrap();
        let set = ep
            .refresh(&Secret::new("r"), "scope")
            .await
            .expect("a token");
        assert!(set.expires_in <= stagehand::auth::endpoint::MAX_TOKEN_LIFETIME);
        assert!(set.expires_at <= tokio::time::Instant::now() + set.expires_in);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_token_answer_is_cut_not_read_into_memory() {
    use axum::body::{Body, Bytes};
    let login = CannedServer::start(|_, _| {
        let chunk = Bytes::from(vec![b' '; 1 << 16]);
        let endless = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        axum::http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from_stream(endless))
            .unwrap()
    })
    .await;
    let ep = TokenEndpoint::new(&Url::parse(&login.url).unwrap(), "common", "client").unwrap();
    let err = ep.refresh(&Secret::new("r"), "scope").await.unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

//! The Graph client's HTTP layer over real loopback HTTP: paging, origin checks, throttling,
//! token refresh, error mapping, timeouts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common_graph::{CannedServer, empty, json};
use futures::future::BoxFuture;
use serde_json::json as j;
use stagehand::auth::{AuthError, StaticToken, TokenProvider};
use stagehand::graph::models::User;
use stagehand::graph::odata::Query;
use stagehand::graph::{Governor, GraphClient, GraphConn, GraphError, RetryPolicy, Timeouts};
use stagehand::secret::Secret;
use url::Url;

fn client_with(url: &str, tokens: Arc<dyn TokenProvider>, timeouts: Timeouts) -> GraphClient {
    GraphClient::new(
        Url::parse(url).unwrap(),
        timeouts,
        tokens,
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(10),
    })
}

fn client(url: &str) -> GraphClient {
    client_with(
        url,
        Arc::new(StaticToken(Secret::new("tok-1"))),
        Timeouts::default(),
    )
}

#[tokio::test]
async fn paging_follows_next_link_verbatim_across_three_pages() {
    let server = CannedServer::start(|req, i| {
        let host = req.header("host").unwrap().to_string();
        let next = |t: &str| format!("http://{host}/beta/users?$top=2&$skiptoken={t}");
        match i {
            0 => json(
                200,
                &[],
                j!({"value": [{"id": "a"}, {"id": "b"}], "@odata.nextLink": next("X%2BY%3D%3D")}),
            ),
            1 => json(
                200,
                &[],
                j!({"value": [{"id": "c"}, {"id": "d"}], "@odata.nextLink": next("page3")}),
            ),
            _ => json(200, &[], j!({"value": [{"id": "e"}]})),
        }
    })
    .await;
    let c = client(&server.url);
    let users: Vec<User> = c
        .get_all(c.beta("/users", &Query::new().top(2)))
        .await
        .unwrap();
    let ids: Vec<_> = users.iter().map(|u| u.id.clone().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e"]);
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 3);
    // The nextLink is sent exactly as received, not re-encoded or rebuilt.
    assert_eq!(
        reqs[1].query.as_deref(),
        Some("$top=2&$skiptoken=X%2BY%3D%3D")
    );
    assert_eq!(reqs[2].query.as_deref(), Some("$top=2&$skiptoken=page3"));
    let mut ids = std::collections::HashSet::new();
    for r in &reqs {
        assert_eq!(r.header("authorization"), Some("Bearer tok-1"));
        let crid = r
            .header("client-request-id")
            .expect("client-request-id on every request");
        assert!(uuid::Uuid::parse_str(crid).is_ok());
        assert!(
            ids.insert(crid.to_string()),
            "client-request-id is fresh per request"
        );
        assert!(r.header("accept-encoding").unwrap_or("").contains("gzip"));
    }
}

#[tokio::test]
async fn a_foreign_origin_next_link_never_receives_the_token() {
    let foreign = CannedServer::start(|_, _| json(200, &[], j!({"value": []}))).await;
    let foreign_url = foreign.url.clone();
    let server = CannedServer::start(move |_, _| {
        json(200, &[], j!({"value": [{"id": "a"}], "@odata.nextLink": format!("{foreign_url}beta/users?$skiptoken=1")}))
    })
    .await;
    let c = client(&server.url);
    let err = c
        .get_all::<User>(c.beta("/users", &Query::new()))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::ForeignOrigin { .. }), "{err:?}");
    assert_eq!(server.count(), 1);
    assert_eq!(
        foreign.count(),
        0,
        "nothing at all is sent to a foreign origin"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let foreign = CannedServer::start(|_, _| json(200, &[], j!({"id": "x"}))).await;
    let target = format!("{}beta/users/x", foreign.url);
    let server = CannedServer::start(move |_, _| {
        axum::http::Response::builder()
            .status(302)
            .header("location", target.as_str())
            .body(axum::body::Body::empty())
            .unwrap()
    })
    .await;
    let c = client(&server.url);
    let err = c.get_user("x", &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(302));
    assert_eq!(foreign.count(), 0);
}

#[tokio::test]
async fn throttling_waits_for_fractional_retry_after_and_publishes_state() {
    let server = CannedServer::start(|_, i| match i {
        0 => json(
            429,
            &[("retry-after", "1.5"), ("request-id", "r-429")],
            j!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
        ),
        _ => json(200, &[], j!({"id": "u1"})),
    })
    .await;
    let c = client(&server.url);
    let mut state = c.conn_state();
    let user = c.get_user("u1", &[]).await.unwrap();
    assert_eq!(user.id.as_deref(), Some("u1"));
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(1500),
        "retried after {gap:?}, before Retry-After"
    );
    // The status bar saw the throttle and then the recovery.
    assert!(state.has_changed().unwrap());
    assert_eq!(*state.borrow_and_update(), GraphConn::Online);
}

#[tokio::test]
async fn throttling_honours_an_http_date_and_falls_back_to_backoff_without_header() {
    let server = CannedServer::start(|_, i| match i {
        0 => {
            let at = chrono::Utc::now() + chrono::Duration::seconds(2);
            let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            json(503, &[("retry-after", date.as_str())], j!({}))
        }
        1 => json(429, &[], j!({"error": {"code": "TooManyRequests", "message": "{\"_version\": 3, \"Message\": \"An error has occurred\", \"RetryAfter\": null}"}})),
        _ => json(200, &[], j!({"id": "u1"})),
    })
    .await;
    let c = client(&server.url);
    c.get_user("u1", &[]).await.unwrap();
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 3);
    // The date has one-second resolution: at least one whole second must have passed.
    assert!(reqs[1].at - reqs[0].at >= Duration::from_secs(1));
    // No header: jittered backoff of at least base/2 (10 ms) before the retry.
    assert!(reqs[2].at - reqs[1].at >= Duration::from_millis(10));
}

#[tokio::test]
async fn retries_are_bounded_and_the_last_error_is_typed() {
    let server = CannedServer::start(|_, _| {
        json(
            429,
            &[("retry-after", "0")],
            j!({"error": {"code": "TooManyRequests", "message": "no"}}),
        )
    })
    .await;
    let c = client(&server.url);
    let err = c.get_user("u1", &[]).await.unwrap_err();
    assert!(matches!(err, GraphError::Throttled { .. }), "{err:?}");
    assert_eq!(server.count(), 4, "max_attempts bounds the retries");
}

#[tokio::test]
async fn a_wipe_that_got_503_is_not_replayed() {
    let server = CannedServer::start(|_, _| {
        json(
            503,
            &[("request-id", "r-503")],
            j!({"error": {"code": "ServiceUnavailable", "message": "try later"}}),
        )
    })
    .await;
    let c = client(&server.url);
    let err = c.wipe("dev-1", &Default::default()).await.unwrap_err();
    assert_eq!(
        server.count(),
        1,
        "a wipe that may have been processed is never resent"
    );
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.request_id(), Some("r-503"));
    // The same 503 on an idempotent GET is retried.
    let server = CannedServer::start(|_, i| {
        if i == 0 {
            json(503, &[], j!({}))
        } else {
            json(200, &[], j!({"id": "d"}))
        }
    })
    .await;
    let c = client(&server.url);
    c.get_managed_device("d", &[]).await.unwrap();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_wipe_that_got_429_is_resent_after_retry_after() {
    let server = CannedServer::start(|_, i| {
        if i == 0 {
            json(429, &[("retry-after", "1")], j!({}))
        } else {
            empty(204)
        }
    })
    .await;
    let c = client(&server.url);
    c.wipe("dev-1", &Default::default()).await.unwrap();
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_secs(1));
    assert_eq!(
        reqs[0].path,
        "/beta/deviceManagement/managedDevices/dev-1/wipe"
    );
    assert_eq!(
        reqs[0].json(),
        j!({"keepEnrollmentData": false, "keepUserData": false})
    );
}

/// Hands out "old" until told it was rejected, then "new"; counts refreshes.
struct Rotating {
    refreshes: Mutex<u32>,
}

impl TokenProvider for Rotating {
    fn access_token<'a>(
        &'a self,
        rejected: Option<&'a Secret>,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            if rejected.is_some() {
                *self.refreshes.lock().unwrap() += 1;
                Ok(Secret::new("new"))
            } else {
                Ok(Secret::new("old"))
            }
        })
    }
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries_once() {
    let server = CannedServer::start(|req, _| {
        if req.header("authorization") == Some("Bearer new") {
            json(200, &[], j!({"id": "u1"}))
        } else {
            json(
                401,
                &[],
                j!({"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}),
            )
        }
    })
    .await;
    let tokens = Arc::new(Rotating {
        refreshes: Mutex::new(0),
    });
    let c = client_with(&server.url, tokens.clone(), Timeouts::default());
    c.get_user("u1", &[]).await.unwrap();
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer old"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer new"));
    assert_eq!(*tokens.refreshes.lock().unwrap(), 1);

    // A second 401 is final: one refresh, then Unauthorized.
    let server = CannedServer::start(|_, _| json(401, &[("request-id", "r-401")], j!({}))).await;
    let tokens = Arc::new(Rotating {
        refreshes: Mutex::new(0),
    });
    let c = client_with(&server.url, tokens.clone(), Timeouts::default());
    let err = c.get_user("u1", &[]).await.unwrap_err();
    assert_eq!(
        err,
        GraphError::Unauthorized {
            request_id: Some("r-401".into())
        }
    );
    assert_eq!(server.count(), 2);
    assert_eq!(*tokens.refreshes.lock().unwrap(), 1);
}

#[tokio::test]
async fn errors_carry_status_code_message_and_request_id_without_the_token() {
    let server = CannedServer::start(|_, _| {
        json(400, &[("request-id", "rid-9")], j!({"error": {"code": "BadRequest", "message": "{\r\n \"_version\": 3,\r\n \"Message\": \"User id must be in the form of Guid - Activity ID: 42\",\r\n \"CustomApiErrorPhrase\": \"\"\r\n}"}}))
    })
    .await;
    let c = client(&server.url);
    let err = c.get_managed_device("x", &[]).await.unwrap_err();
    let line = err.to_string();
    assert_eq!(
        line,
        "Graph error 400: User id must be in the form of Guid - Activity ID: 42 (BadRequest) [request-id rid-9]"
    );
    assert!(!format!("{err:?}").contains("tok-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_hits_the_total_timeout() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let server = CannedServer::start(move |_, _| {
        // Hold the answer until the test ends (the client gives up first).
        let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(5));
        json(200, &[], j!({"id": "late"}))
    })
    .await;
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        total: Duration::from_millis(300),
    };
    let c = client_with(
        &server.url,
        Arc::new(StaticToken(Secret::new("t"))),
        timeouts,
    )
    .with_retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    });
    let err = c.get_user("u1", &[]).await.unwrap_err();
    drop(tx);
    assert!(matches!(err, GraphError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn a_429_seen_by_one_task_pauses_the_family_for_every_client_sharing_the_governor() {
    let server = CannedServer::start(|req, i| {
        if i == 0 {
            assert!(req.path.ends_with("/managedDevices/a"));
            return json(429, &[("retry-after", "1")], j!({}));
        }
        json(200, &[], j!({"id": "x"}))
    })
    .await;
    let governor = Arc::new(Governor::new(&[]));
    let make = || {
        GraphClient::new(
            Url::parse(&server.url).unwrap(),
            Timeouts::default(),
            Arc::new(StaticToken(Secret::new("t"))),
            governor.clone(),
        )
        .unwrap()
    };
    let (a, b) = (make(), make());
    let mut state = a.conn_state();
    let task = tokio::spawn(async move { a.get_managed_device("a", &[]).await });
    // Wait until the status bar shows the throttle, then start an unrelated device read.
    state
        .wait_for(|s| matches!(s, GraphConn::Throttled { .. }))
        .await
        .unwrap();
    b.get_managed_device("b", &[]).await.unwrap();
    task.await.unwrap().unwrap();
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 3);
    let b_req = reqs.iter().find(|r| r.path.ends_with("/b")).unwrap();
    assert!(
        b_req.at - reqs[0].at >= Duration::from_secs(1),
        "another task's request went out before the family's Retry-After"
    );
    assert_eq!(governor.granted(stagehand::graph::Family::Devices), 3);
}

/// Records the claims of every challenge; hands out "old", then "with-claims" after a challenge.
#[derive(Default)]
struct ClaimsAware {
    challenges: Mutex<Vec<String>>,
    plain_refreshes: Mutex<u32>,
}

impl TokenProvider for ClaimsAware {
    fn access_token<'a>(
        &'a self,
        rejected: Option<&'a Secret>,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            if rejected.is_some() {
                *self.plain_refreshes.lock().unwrap() += 1;
            }
            Ok(Secret::new("old"))
        })
    }
    fn claims_challenge<'a>(
        &'a self,
        _rejected: &'a Secret,
        claims: &'a str,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            self.challenges.lock().unwrap().push(claims.to_string());
            Ok(Secret::new("with-claims"))
        })
    }
}

#[tokio::test]
async fn a_claims_challenge_asks_the_provider_for_a_token_with_those_claims() {
    // The documented CAE challenge: base64 of {"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}.
    let challenge = r#"Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTYwNDEwNjY1MSJ9fX0=""#;
    let server = CannedServer::start(move |req, _| {
        if req.header("authorization") == Some("Bearer with-claims") {
            json(200, &[], j!({"id": "u1"}))
        } else {
            json(
                401,
                &[("www-authenticate", challenge)],
                j!({"error": {"code": "InvalidAuthenticationToken", "message": "claims"}}),
            )
        }
    })
    .await;
    let tokens = Arc::new(ClaimsAware::default());
    let c = client_with(&server.url, tokens.clone(), Timeouts::default());
    let user = c.get_user("u1", &[]).await.unwrap();
    assert_eq!(user.id.as_deref(), Some("u1"));
    let challenges = tokens.challenges.lock().unwrap().clone();
    assert_eq!(challenges.len(), 1, "one challenge answered");
    let claims: serde_json::Value = serde_json::from_str(&challenges[0]).unwrap();
    assert_eq!(claims["access_token"]["nbf"]["value"], "1604106651");
    assert_eq!(*tokens.plain_refreshes.lock().unwrap(), 0);
    assert_eq!(server.count(), 2, "the challenged request, then one retry");
}

#[tokio::test]
async fn a_plain_401_still_refreshes_without_claims() {
    let server = CannedServer::start(|_, i| match i {
        0 => json(
            401,
            &[("www-authenticate", r#"Bearer error="invalid_token""#)],
            j!({"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}),
        ),
        _ => json(200, &[], j!({"id": "u1"})),
    })
    .await;
    let tokens = Arc::new(ClaimsAware::default());
    let c = client_with(&server.url, tokens.clone(), Timeouts::default());
    c.get_user("u1", &[]).await.unwrap();
    assert!(tokens.challenges.lock().unwrap().is_empty());
    assert_eq!(*tokens.plain_refreshes.lock().unwrap(), 1);
}

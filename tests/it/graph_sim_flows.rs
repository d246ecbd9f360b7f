//! The Graph client against the real simulator over loopback, continued: a 401 answered by one
//! refresh of a real `auth::Session`, the export download without the token, and OData literals
//! with a quote. Paging, batch and throttling are in `graph_sim.rs`.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use stagehand::auth::{Role, Session, StaticToken, TokenEndpoint, device_code};
use stagehand::graph::export::ExportPolling;
use stagehand::graph::models::{ImportedDeviceIdentity, ImportedDeviceIdentityType};
use stagehand::graph::odata::{Query, literal};
use stagehand::graph::ops::AUTOPILOT_V2_DEPLOYMENT_STATUS;
use stagehand::graph::{Governor, GraphClient, GraphError, RetryPolicy, Timeouts};
use stagehand::sim::{self, DEPLOYMENT_REPORT_COLUMNS, RequestRecord, SimHandle, SimOptions};

fn client(sim: &SimHandle, tokens: Arc<dyn stagehand::auth::TokenProvider>) -> GraphClient {
    GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        tokens,
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(10),
    })
}

fn lead(sim: &SimHandle) -> Arc<StaticToken> {
    Arc::new(StaticToken(
        sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600)),
    ))
}

fn token_requests(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count()
}

fn no_wait(_: Duration) -> BoxFuture<'static, ()> {
    Box::pin(async {})
}

#[tokio::test]
async fn a_401_costs_exactly_one_refresh_and_one_retry() {
    let sim = sim::start(SimOptions {
        devices: 5,
        speed: 0.001,
        auto_approve_device_code: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    // A real sign-in: device code against the simulator, then a session on its refresh token.
    let ep = TokenEndpoint::new(&sim.base_url, &sim.tenant_id(), &sim.client_id()).unwrap();
    let scope = Role::Lead.scope_param();
    let prompt = device_code::start(&ep, &scope).await.unwrap();
    let first = device_code::poll(&ep, &prompt, &no_wait).await.unwrap();
    let refresh = first
        .refresh_token
        .clone()
        .expect("offline_access gives a refresh token");
    let session = Session::delegated(ep, scope, "lead".into(), refresh, Some(first), None);
    let c = client(&sim, Arc::new(session));
    let id = c.list_managed_devices(None, &["id"]).await.unwrap()[0]
        .id
        .clone();
    assert_eq!(
        token_requests(&sim),
        1,
        "only the device-code redemption so far"
    );

    sim.expire_access_tokens();
    let before = sim.requests().len();
    let d = c.get_managed_device(&id, &[]).await.unwrap();
    assert_eq!(d.id, id);
    let after: Vec<RequestRecord> = sim.requests().split_off(before);
    let summary: Vec<(bool, u16)> = after
        .iter()
        .map(|r| (r.path.ends_with("/token"), r.status))
        .collect();
    assert_eq!(
        summary,
        [(false, 401), (true, 200), (false, 200)],
        "401, one refresh, one retry"
    );
    assert_eq!(token_requests(&sim), 2);
    assert_eq!(sim.stats().unauthorized_401, 1);

    // When the refresh itself is refused, the 401 is final: still one refresh attempt, no
    // second Graph retry.
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    let before = sim.requests().len();
    let err = c.get_managed_device(&id, &[]).await.unwrap_err();
    assert!(matches!(err, GraphError::Auth(_)), "{err:?}");
    let after = sim.requests().split_off(before);
    let summary: Vec<(bool, u16)> = after
        .iter()
        .map(|r| (r.path.ends_with("/token"), r.status))
        .collect();
    assert_eq!(summary.len(), 2, "{summary:?}");
    assert_eq!(summary[0], (false, 401));
    assert!(summary[1].0 && summary[1].1 >= 400, "{summary:?}");
}

#[tokio::test]
async fn the_export_zip_is_downloaded_without_the_authorization_header() {
    let sim = sim::start(SimOptions {
        devices: 20,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = client(&sim, lead(&sim));
    let polling = ExportPolling {
        first_wait: Duration::from_millis(20),
        max_wait: Duration::from_millis(100),
        deadline: Duration::from_secs(30),
    };
    let rows = c
        .export_report_with(
            AUTOPILOT_V2_DEPLOYMENT_STATUS,
            DEPLOYMENT_REPORT_COLUMNS,
            None,
            polling,
        )
        .await
        .unwrap();
    assert!(!rows.is_empty(), "the seeded fleet has deployments");
    for row in &rows {
        for col in DEPLOYMENT_REPORT_COLUMNS {
            assert!(row.contains_key(*col), "{col} missing from {row:?}");
        }
    }

    let reqs = sim.requests();
    let blobs: Vec<&RequestRecord> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/_blob/"))
        .collect();
    assert_eq!(blobs.len(), 1);
    assert!(
        !blobs[0].had_authorization,
        "the pre-signed URL gets no token"
    );
    assert_eq!(blobs[0].status, 200);
    let graph: Vec<&RequestRecord> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/beta/"))
        .collect();
    assert!(graph.len() >= 2, "create and at least one poll");
    assert!(graph.iter().all(|r| r.had_authorization));
    let stats = sim.stats();
    assert_eq!(
        (stats.blob_requests, stats.blob_requests_with_authorization),
        (1, 0)
    );
}

#[tokio::test]
async fn a_literal_with_a_quote_reaches_the_simulator_encoded_and_matches() {
    let sim = sim::start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = client(&sim, lead(&sim));
    let ident = |s: &str| ImportedDeviceIdentity {
        imported_device_identifier: Some(s.into()),
        imported_device_identity_type: Some(ImportedDeviceIdentityType::SerialNumber),
        ..ImportedDeviceIdentity::default()
    };
    let serials = ["O'NEIL-001", "ONEIL-002", "XO'NEIL-9", "O''NEIL-3"];
    let ids: Vec<_> = serials.iter().map(|s| ident(s)).collect();
    c.import_device_identities(&ids, false).await.unwrap();

    let mut found: Vec<String> = c
        .list_imported_identities(Some("o'neil"))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|i| i.imported_device_identifier)
        .collect();
    found.sort();
    assert_eq!(found, ["O'NEIL-001", "XO'NEIL-9"]);

    // On the wire: the quote doubled inside the literal, then percent-encoded.
    let list = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.ends_with("/importedDeviceIdentities"))
        .unwrap();
    let raw = list.query.clone().unwrap();
    assert!(raw.contains("%27o%27%27neil%27"), "{raw}");
    let filter = url::form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        filter.as_deref(),
        Some("contains(importedDeviceIdentifier,'o''neil')")
    );
    // The simulator itself matched (not just the client's re-check): the same URL, read raw,
    // returns exactly the two rows.
    let url = c.beta(
        "/deviceManagement/importedDeviceIdentities",
        &Query::new().filter(format!(
            "contains(importedDeviceIdentifier,{})",
            literal("o'neil")
        )),
    );
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(60));
    let page: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 2, "{page}");

    // A UPN with a quote as a path key.
    let upn = format!("o'neil.staging@{}", sim::directory::DOMAIN);
    let user = c.get_user(&upn, &[]).await.unwrap();
    assert_eq!(user.user_principal_name.as_deref(), Some(upn.as_str()));
}

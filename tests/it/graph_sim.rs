//! The Graph client against the real simulator over loopback (no canned server): paging through
//! the simulator's own nextLinks, `$batch` partial failures, throttling, and a nextLink that
//! points at another origin. Counts and timings come from the simulator's request record.
//! Token refresh, export download and OData literals are in `graph_sim_flows.rs`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::common_graph::{CannedServer, json};
use serde_json::json as j;
use stagehand::auth::StaticToken;
use stagehand::graph::models::ManagedDevice;
use stagehand::graph::odata::Query;
use stagehand::graph::{BatchRequest, Governor, GraphClient, GraphError, RetryPolicy, Timeouts};
use stagehand::sim::{self, Faults, RequestRecord, Scripted, SimHandle, SimOptions};
use url::Url;

const DEVICES: &str = "/beta/deviceManagement/managedDevices";
const LIST_ROUTE: &str = "GET /beta/deviceManagement/managedDevices";

/// A simulator whose clock barely moves, so the fleet holds still while a test reads it.
async fn still_sim(devices: usize, faults: Faults) -> SimHandle {
    sim::start(SimOptions {
        devices,
        speed: 0.001,
        faults,
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

fn client_for(sim: &SimHandle, governor: Arc<Governor>) -> GraphClient {
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600));
    GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        governor,
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
        max_retry_after: Duration::from_secs(10),
    })
}

fn client(sim: &SimHandle) -> GraphClient {
    client_for(sim, Arc::new(Governor::new(&[])))
}

/// Graph requests the simulator saw whose path starts with `prefix`, in arrival order.
fn seen(sim: &SimHandle, prefix: &str) -> Vec<RequestRecord> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .collect()
}

#[tokio::test]
async fn paging_follows_the_simulators_next_links_verbatim() {
    let sim = still_sim(40, Faults::default()).await;
    let c = client(&sim);
    let first = c.beta("/deviceManagement/managedDevices", &Query::new().top(4));
    let devices: Vec<ManagedDevice> = c.get_all(first.clone()).await.unwrap();
    let n = devices.len();
    assert!(n > 8, "the fleet must span three or more pages, has {n}");
    let ids: HashSet<_> = devices.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), n, "no device twice, none skipped by paging");
    let pages = n.div_ceil(4);
    let client_reqs = seen(&sim, DEVICES);
    assert_eq!(client_reqs.len(), pages);
    assert_eq!(sim.stats().requests_per_route[LIST_ROUTE], pages as u64);
    assert!(
        client_reqs
            .iter()
            .all(|r| r.had_authorization && r.status == 200)
    );

    // Walk the same chain by hand: each client request after the first carries exactly the
    // query of the nextLink the simulator handed out (the simulator percent-encodes `$` as
    // `%24`, which a client that rebuilt the URL would not reproduce).
    let raw = reqwest::Client::new();
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(60));
    let mut next = Some(first.to_string());
    let mut links = Vec::new();
    while let Some(u) = next.take() {
        let page: serde_json::Value = raw
            .get(&u)
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        next = page["@odata.nextLink"].as_str().map(str::to_string);
        links.extend(next.clone());
    }
    assert_eq!(links.len(), pages - 1);
    for (link, req) in links.iter().zip(&client_reqs[1..]) {
        let link = Url::parse(link).unwrap();
        assert_eq!(
            req.query.as_deref(),
            link.query(),
            "nextLink followed verbatim"
        );
        assert!(link.query().unwrap().contains("%24skiptoken="));
    }
}

#[tokio::test]
async fn a_foreign_next_link_never_receives_the_token() {
    let foreign = CannedServer::start(|_, _| json(200, &[], j!({"value": []}))).await;
    let sim = still_sim(
        12,
        Faults {
            next_link_origin: Some(Url::parse(&foreign.url).unwrap()),
            ..Faults::default()
        },
    )
    .await;
    let c = client(&sim);
    let err = c
        .get_all::<ManagedDevice>(c.beta("/deviceManagement/managedDevices", &Query::new().top(2)))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::ForeignOrigin { .. }), "{err:?}");
    assert_eq!(
        foreign.count(),
        0,
        "nothing at all goes to the other origin"
    );
    assert_eq!(sim.stats().requests_per_route[LIST_ROUTE], 1);
    assert_eq!(sim.stats().requests_total, 1);
}

#[tokio::test]
async fn batch_retries_only_failed_safe_items_after_the_largest_retry_after() {
    let sim = still_sim(12, Faults::default()).await;
    let c = client(&sim);
    let ids: Vec<String> = c
        .list_managed_devices(None, &["id"])
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert!(ids.len() >= 5, "{ids:?}");
    let path = |i: usize| format!("{DEVICES}/{}", ids[i]);
    let ghost = "00000000-0000-4000-8000-000000000000";
    sim.set_faults(Faults {
        scripted: vec![
            Scripted::new("GET", &path(0), 429, 1).retry_after("1"),
            Scripted::new("GET", &path(1), 503, 1).retry_after("0.2"),
            Scripted::new("GET", &path(2), 500, 1),
            Scripted::new("POST", &format!("{}/syncDevice", path(3)), 503, 1),
        ],
        ..Faults::default()
    });
    let rel = |i: usize| format!("/deviceManagement/managedDevices/{}", ids[i]);
    let mut dependent = BatchRequest::get("g", format!("{}/users", rel(4)));
    dependent.depends_on = vec!["f".into()];
    let requests = vec![
        BatchRequest::get("a", rel(0)),
        BatchRequest::get("b", rel(1)),
        BatchRequest::get("c", rel(2)),
        BatchRequest::get("d", rel(4)),
        BatchRequest::with_body("e", "POST", format!("{}/syncDevice", rel(3)), j!({})),
        BatchRequest::get("f", format!("/deviceManagement/managedDevices/{ghost}")),
        dependent,
    ];
    let answers = c.batch(requests).await.unwrap();
    let got: Vec<(&str, u16)> = answers.iter().map(|a| (a.id.as_str(), a.status)).collect();
    assert_eq!(
        got,
        [
            ("a", 200),
            ("b", 200),
            ("c", 200),
            ("d", 200),
            ("e", 503),
            ("f", 404),
            ("g", 424)
        ],
        "throttled and failed GETs recovered; the POST's 503 is not replayed"
    );
    assert_eq!(answers[0].body.as_ref().unwrap()["id"], ids[0].as_str());
    assert_eq!(sim.stats().batch_requests, 2, "one retry round");

    let items: Vec<RequestRecord> = sim.requests().into_iter().filter(|r| r.in_batch).collect();
    let count = |p: &str| items.iter().filter(|r| r.path == p).count();
    assert_eq!(count(&path(0)), 2, "429 item retried once");
    assert_eq!(count(&path(1)), 2, "503 item retried once");
    assert_eq!(count(&path(2)), 2, "500 item retried once");
    assert_eq!(count(&path(4)), 1, "a success is never resent");
    assert_eq!(
        count(&format!("{}/syncDevice", path(3))),
        1,
        "a POST that got 503 may have run"
    );
    assert_eq!(count(&format!("{DEVICES}/{ghost}")), 1, "a 404 is final");
    assert_eq!(
        count(&format!("{}/users", path(4))),
        0,
        "424 items never run"
    );

    // Every retried item waited for the largest item Retry-After (1 s), not its own 0.2 s.
    let first_round = items.iter().find(|r| r.path == path(0)).unwrap().arrived_at;
    for i in 0..3 {
        let second = items.iter().filter(|r| r.path == path(i)).nth(1).unwrap();
        assert!(
            second.arrived_at - first_round >= Duration::from_secs(1),
            "item {i} came back after {:?}",
            second.arrived_at - first_round
        );
    }
}

#[tokio::test]
async fn no_request_of_a_throttled_family_arrives_before_its_retry_after() {
    let sim = still_sim(
        15,
        Faults {
            throttle_burst: Some(3),
            ..Faults::default()
        },
    )
    .await;
    // Two tasks share one governor, as the panes of the console do.
    let governor = Arc::new(Governor::new(&[]));
    let (lister, reader) = (
        client_for(&sim, governor.clone()),
        client_for(&sim, governor),
    );
    let listing = tokio::spawn(async move {
        lister
            .get_all::<ManagedDevice>(
                lister.beta("/deviceManagement/managedDevices", &Query::new().top(3)),
            )
            .await
    });
    let devices = listing.await.unwrap().unwrap();
    for d in devices.iter().take(5) {
        reader.get_managed_device(&d.id, &[]).await.unwrap();
    }
    let stats = sim.stats();
    assert!(
        stats.throttled_429 >= 2,
        "the burst limit was hit: {stats:?}"
    );
    assert_eq!(stats.retry_after_violations, 0, "{stats:?}");
    // The same, checked from the record: after each 429 that carried a Retry-After, the next
    // request of the family arrives no earlier than that.
    let family = seen(&sim, DEVICES);
    let mut checked = 0;
    for (i, r) in family.iter().enumerate() {
        let (429, Some(ra)) = (r.status, r.retry_after.as_deref()) else {
            continue;
        };
        let wait = Duration::from_secs_f64(ra.parse().unwrap());
        if let Some(next) = family.get(i + 1) {
            assert!(
                next.arrived_at - r.arrived_at >= wait,
                "request {} came {:?} after a 429 with Retry-After {ra}",
                i + 1,
                next.arrived_at - r.arrived_at
            );
            checked += 1;
        }
    }
    let with_header = family
        .iter()
        .filter(|r| r.status == 429 && r.retry_after.is_some())
        .count();
    assert!(
        with_header >= 1,
        "seed 7 gives at least one Retry-After: {stats:?}"
    );
    assert_eq!(
        checked, with_header,
        "every 429 with a Retry-After was followed up"
    );
    assert_eq!(
        family.iter().filter(|r| r.status == 200).count(),
        devices.len().div_ceil(3) + 5,
        "each page and each read succeeded exactly once"
    );
}

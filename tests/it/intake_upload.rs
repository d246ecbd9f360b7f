//! The uploader against the simulated tenant over loopback HTTP: registration, read-back,
//! repeats after a crash, refusals, throttling and server failures.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use stagehand::app::intake::{UploadOutcome, UploadResult};
use stagehand::auth::StaticToken;
use stagehand::config::{IdentifierType, Platform};
use stagehand::feeds::intake::upload;
use stagehand::graph::{Governor, GraphClient, RetryPolicy, Timeouts};
use stagehand::sim::{self, Faults, SimHandle, SimOptions};
use stagehand::store::{EntryState, QueueEntry};

fn entry(serial: &str) -> QueueEntry {
    QueueEntry {
        serial: serial.into(),
        manufacturer: "Contoso".into(),
        model: "Laptop 7".into(),
        profile: "Standard".into(),
        platform: Platform::Windows,
        identifier_type: IdentifierType::ManufacturerModelSerial,
        scanned_at: Utc::now(),
        bench: "bench-1".into(),
        state: EntryState::Queued,
        message: None,
        note: None,
        imported_id: None,
        attempts: 1,
    }
}

async fn setup(opts: SimOptions) -> (SimHandle, GraphClient) {
    let sim = sim::start(opts).await.unwrap();
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600));
    // A governor of its own, so tests do not share throttling state.
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::default()
    });
    (sim, client)
}

fn route_count(sim: &SimHandle, route: &str) -> u64 {
    sim.stats()
        .requests_per_route
        .iter()
        .filter(|(k, _)| k.contains(route))
        .map(|(_, v)| *v)
        .sum()
}

fn registered(o: &UploadOutcome) -> bool {
    matches!(o.result, UploadResult::Registered { .. })
}

#[tokio::test]
async fn a_batch_is_registered_and_read_back_and_a_repeat_imports_nothing() {
    let (sim, client) = setup(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    let batch: Vec<QueueEntry> = (0..25).map(|i| entry(&format!("UP{i:04}"))).collect();
    let out = upload(&client, &batch).await;
    assert_eq!(out.len(), 25);
    assert!(out.iter().all(registered), "{out:?}");
    assert!(out.iter().all(|o| matches!(
        &o.result,
        UploadResult::Registered {
            imported_id: Some(_),
            ..
        }
    )));
    assert_eq!(
        route_count(&sim, "importDeviceIdentityList"),
        1,
        "one import call for the batch"
    );
    assert_eq!(
        route_count(&sim, "searchExistingIdentities"),
        2,
        "asked first, read back after"
    );

    // The same batch again (a restart after a crash mid-upload): found, not imported again.
    let again = upload(&client, &batch).await;
    assert!(again.iter().all(registered));
    assert!(
        matches!(&again[0].result, UploadResult::Registered { message, .. } if message.starts_with("already registered"))
    );
    assert_eq!(route_count(&sim, "importDeviceIdentityList"), 1);
}

#[tokio::test]
async fn a_malformed_identifier_is_rejected_and_the_rest_registered() {
    let (_sim, client) = setup(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    let mut bad = entry("BAD0001");
    bad.model = String::new();
    let out = upload(&client, &[entry("GOOD001"), bad]).await;
    assert!(registered(&out[0]), "{out:?}");
    assert!(
        matches!(out[1].result, UploadResult::Rejected { .. }),
        "{out:?}"
    );
}

#[tokio::test]
async fn server_failures_are_transient_and_a_later_attempt_succeeds() {
    let (sim, client) = setup(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    sim.set_faults(Faults {
        error_5xx_rate: 1.0,
        ..Faults::default()
    });
    let batch = vec![entry("FL0001"), entry("FL0002")];
    let out = upload(&client, &batch).await;
    assert!(
        out.iter()
            .all(|o| matches!(o.result, UploadResult::Failed { .. })),
        "{out:?}"
    );
    assert_eq!(
        route_count(&sim, "importDeviceIdentityList"),
        0,
        "nothing imported while failing"
    );
    sim.set_faults(Faults::default());
    let out = upload(&client, &batch).await;
    assert!(out.iter().all(registered), "{out:?}");
}

#[tokio::test]
async fn throttling_is_waited_out_without_a_request_before_its_retry_after() {
    let (sim, client) = setup(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    sim.set_faults(Faults {
        throttle_burst: Some(2),
        ..Faults::default()
    });
    let batch = vec![entry("TH0001")];
    let first = upload(&client, &batch).await;
    let second = upload(&client, &[entry("TH0002")]).await;
    let stats = sim.stats();
    assert!(
        stats.throttled_429 > 0,
        "the burst limit was hit: {stats:?}"
    );
    assert_eq!(stats.retry_after_violations, 0, "{stats:?}");
    // Whatever was not registered is reported transient, to be retried with backoff.
    for o in first.iter().chain(&second) {
        assert!(
            matches!(
                o.result,
                UploadResult::Registered { .. } | UploadResult::Failed { .. }
            ),
            "{o:?}"
        );
    }
}

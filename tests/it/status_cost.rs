//! What the status poller costs the tenant, counted at the simulator over loopback: a static
//! fleet costs one list page per poll and no single-device read once the first poll completed;
//! a device that checks in with a new sign-in is read again, alone, and shows `in_use` on the
//! next poll; an explicit refresh reads every readable device again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use stagehand::auth::StaticToken;
use stagehand::config::{Config, IdentifierType, Platform};
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, RequestRecord, SimHandle, SimOptions};
use stagehand::status::poll::Poller;
use stagehand::status::{SharedRow, Stage};
use stagehand::store::{EntryState, QueueEntry};

fn entry(serial: &str) -> QueueEntry {
    QueueEntry {
        serial: serial.into(),
        manufacturer: "Contoso".into(),
        model: "Laptop 7".into(),
        profile: Config::default().intake.default_profile,
        platform: Platform::Windows,
        identifier_type: IdentifierType::ManufacturerModelSerial,
        scanned_at: chrono::Utc::now(),
        bench: "bench-1".into(),
        state: EntryState::Registered,
        message: None,
        note: None,
        imported_id: None,
        attempts: 1,
    }
}

/// A tenant whose seeded deployments all finished hours ago (nothing checks in by itself for
/// hours), a poller on it, and a queue holding every identity.
async fn static_fleet(devices: usize) -> (SimHandle, Poller, Vec<QueueEntry>) {
    let sim = sim::start(SimOptions {
        devices,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    sim.advance(Duration::from_secs(3 * 3600));
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let queue = client
        .list_imported_identities(None)
        .await
        .unwrap()
        .iter()
        .filter_map(|i| i.imported_device_identifier.as_deref())
        .map(|v| entry(v.rsplit(',').next().unwrap()))
        .collect();
    let mut config = Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    (sim, Poller::new(client, config), queue)
}

/// Polls once at the simulator's clock; returns the rows and the requests the poll made.
async fn poll(
    sim: &SimHandle,
    poller: &mut Poller,
    queue: &[QueueEntry],
) -> (Vec<SharedRow>, Vec<RequestRecord>) {
    let before = sim.requests().len();
    let rows = poller.cycle(queue, sim.now()).await.unwrap();
    let made = sim.requests().into_iter().skip(before).collect();
    (rows, made)
}

fn routes(reqs: &[RequestRecord], in_batch: bool) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in reqs.iter().filter(|r| r.in_batch == in_batch) {
        *m.entry(r.route.clone()).or_default() += 1;
    }
    m
}

#[tokio::test]
async fn a_static_fleet_is_not_read_again_and_a_check_in_is_read_at_once() {
    let (sim, mut poller, queue) = static_fleet(40).await;
    let (rows, first) = poll(&sim, &mut poller, &queue).await;
    assert_eq!(rows.len(), queue.len());
    assert!(
        first.iter().any(|r| r.in_batch),
        "the first poll reads the devices"
    );
    assert_eq!(poller.pending(), 0, "the first poll is complete: {rows:?}");
    assert!(
        poller.last_cost.report_ran,
        "no stage known yet: the report runs"
    );
    let stages: BTreeMap<Stage, usize> = rows.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.stage).or_default() += 1;
        m
    });
    assert!(
        !stages.contains_key(&Stage::Enrolled)
            && !stages.contains_key(&Stage::Provisioning)
            && !stages.contains_key(&Stage::Registered),
        "every deployment finished: {stages:?}"
    );

    // Three more polls, the clock moving as the feed's would: one list page each, nothing else.
    for _ in 0..3 {
        sim.advance(Duration::from_secs(15));
        let (again, made) = poll(&sim, &mut poller, &queue).await;
        assert_eq!(
            routes(&made, false),
            BTreeMap::from([("GET /beta/deviceManagement/managedDevices".to_string(), 1)]),
            "one list page per poll, no report, no identities, no batch"
        );
        assert!(routes(&made, true).is_empty(), "no single-device read");
        assert_eq!(poller.last_cost.single_reads, 0);
        for (a, b) in rows.iter().zip(&again) {
            assert_eq!((a.stage, &a.serial), (b.stage, &b.serial));
        }
    }

    // One device waiting for its user checks in, and a real user signed in on it.
    let waiting = rows
        .iter()
        .find(|r| r.stage == Stage::Provisioned)
        .expect("a provisioned device");
    let device_id = waiting.managed_device_id.as_deref().unwrap().to_string();
    let serial = waiting.serial.to_string();
    let (users, _) = sim.users();
    let (user_id, upn) = users
        .iter()
        .find(|(_, upn)| !upn.contains("staging") && !upn.starts_with("lead@"))
        .cloned()
        .unwrap();
    sim.advance(Duration::from_secs(15));
    assert_eq!(sim.check_in(&serial), 1);
    let now = sim.now();
    assert_eq!(
        sim.shape_device(&serial, |s| s.extra_logons.push((user_id.clone(), now))),
        1
    );
    sim.advance(Duration::from_secs(5));
    let (rows, made) = poll(&sim, &mut poller, &queue).await;
    let inner: Vec<&RequestRecord> = made.iter().filter(|r| r.in_batch).collect();
    let device_reads: Vec<&&RequestRecord> = inner
        .iter()
        .filter(|r| r.path.contains("/managedDevices/"))
        .collect();
    assert_eq!(
        device_reads.len(),
        1,
        "exactly that device is read again: {inner:?}"
    );
    assert!(
        device_reads[0].path.ends_with(&device_id),
        "{device_reads:?}"
    );
    assert!(
        inner.len() <= 2,
        "plus at most the look-up of a user never seen: {inner:?}"
    );
    let shown = rows.iter().find(|r| *r.serial == *serial).unwrap();
    assert_eq!(shown.stage, Stage::InUse, "{shown:?}");
    assert!(shown.message.contains(&upn), "{}", shown.message);
    assert_eq!(poller.pending(), 0);

    // Quiet again.
    sim.advance(Duration::from_secs(15));
    let (_, made) = poll(&sim, &mut poller, &queue).await;
    assert!(routes(&made, true).is_empty(), "{made:?}");

    // The lead asks for a refresh: every device a read can still change is read again (failed
    // and confirmed-assigned devices are not), and no user id is looked up twice.
    poller.refresh_all();
    let (rows, made) = poll(&sim, &mut poller, &queue).await;
    let readable = rows
        .iter()
        .filter(|r| matches!(r.stage, Stage::Provisioned | Stage::InUse))
        .count();
    let assigned = rows.iter().filter(|r| r.stage == Stage::Assigned).count();
    let inner = routes(&made, true);
    assert_eq!(
        inner.get("GET /beta/deviceManagement/managedDevices/{id}"),
        Some(&readable),
        "{inner:?}"
    );
    assert_eq!(
        inner.get("GET /beta/deviceManagement/managedDevices/{id}/users"),
        Some(&(readable + assigned)),
        "{inner:?}"
    );
    assert!(
        !inner
            .keys()
            .any(|k| k.contains("/users/{id}") && !k.contains("managedDevices")),
        "user ids resolve once per session: {inner:?}"
    );
    sim.advance(Duration::from_secs(15));
    let (_, made) = poll(&sim, &mut poller, &queue).await;
    assert!(
        routes(&made, true).is_empty(),
        "a refresh is once: {made:?}"
    );
}

#[tokio::test]
async fn the_report_runs_only_while_a_device_is_deploying_and_identities_while_one_waits() {
    let sim = sim::start(SimOptions {
        devices: 16,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let ids = client.list_imported_identities(None).await.unwrap();
    let queue: Vec<QueueEntry> = ids
        .iter()
        .filter_map(|i| i.imported_device_identifier.as_deref())
        .map(|v| entry(v.rsplit(',').next().unwrap()))
        .collect();
    let mut config = Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    let mut poller = Poller::new(client, config);
    // A fresh fleet: some devices are not enrolled yet, some are deploying.
    let (rows, _) = poll(&sim, &mut poller, &queue).await;
    assert!(poller.last_cost.report_ran && poller.last_cost.identities_ran);
    assert!(rows.iter().any(|r| r.stage == Stage::Registered));
    assert!(rows.iter().any(|r| r.stage == Stage::Provisioning));
    // Within the slower cadence neither runs again.
    sim.advance(Duration::from_secs(15));
    let (_, made) = poll(&sim, &mut poller, &queue).await;
    assert!(!poller.last_cost.report_ran && !poller.last_cost.identities_ran);
    let slow = |made: &[RequestRecord]| {
        made.iter()
            .filter(|r| {
                r.path.contains("exportJobs") || r.path.contains("importedDeviceIdentities")
            })
            .count()
    };
    assert_eq!(slow(&made), 0, "{made:?}");
    // Past it, both run while they are needed.
    sim.advance(Duration::from_secs(61));
    let (_, _) = poll(&sim, &mut poller, &queue).await;
    assert!(poller.last_cost.report_ran && poller.last_cost.identities_ran);
    // Hours later every device enrolled and finished: neither runs, however long it has been.
    sim.advance(Duration::from_secs(3 * 3600));
    let (rows, _) = poll(&sim, &mut poller, &queue).await;
    assert!(
        rows.iter()
            .all(|r| !matches!(r.stage, Stage::Queued | Stage::Registered)),
        "{rows:?}"
    );
    // That poll saw the last devices move on; from the next one the fleet asks for nothing.
    for _ in 0..2 {
        sim.advance(Duration::from_secs(3600));
        let (_, made) = poll(&sim, &mut poller, &queue).await;
        assert!(!poller.last_cost.identities_ran);
        assert!(!poller.last_cost.report_ran, "{made:?}");
        assert_eq!(slow(&made), 0, "{made:?}");
    }
}

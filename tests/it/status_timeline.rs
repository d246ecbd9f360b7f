//! The observed stage timeline survives a restart: a poller keeping its timeline in a real
//! SQLite store watches the simulated fleet move through its stages; everything is dropped (the
//! store thread shut down, the database closed, the data-dir lock released); a new poller on the
//! same data dir shows the same "in stage since" and the same timeline for every device.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use stagehand::config::Config;
use stagehand::graph::GraphClient;
use stagehand::sim::{self, SimHandle, SimOptions};
use stagehand::status::poll::Poller;
use stagehand::status::{SharedRow, Stage};
use stagehand::store::{QueueEntry, Store, StoreHandle};

use crate::common::Sandbox;

const NO_QUEUE: [QueueEntry; 0] = [];

type Seen = BTreeMap<String, (Stage, DateTime<Utc>, Vec<(DateTime<Utc>, Stage)>)>;

fn seen(rows: &[SharedRow]) -> Seen {
    rows.iter()
        .map(|r| {
            let timeline = r.timeline.iter().map(|c| (c.at, c.stage)).collect();
            (r.serial.to_string(), (r.stage, r.since, timeline))
        })
        .collect()
}

fn client(sim: &SimHandle) -> GraphClient {
    crate::common_graph::sim_client(sim, sim::ALL_DELEGATED)
}

/// A poller on the store of `dir` (which takes the data-dir lock), every staged device in scope.
async fn poller(sim: &SimHandle, config: &Config, dir: &std::path::Path) -> (Poller, StoreHandle) {
    let (db, _, _) = Store::open(dir).unwrap();
    let store = stagehand::store::spawn_to(db, None, Box::new(|_| {}));
    let mut poller = Poller::new(client(sim), config.clone());
    poller.all_staged = true;
    poller.keep_timeline(store.client().unwrap()).await.unwrap();
    (poller, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_and_time_in_stage_are_the_same_after_a_restart() {
    let opts = SimOptions {
        devices: 24,
        // The simulated clock stands nearly still: it moves when the test advances it.
        speed: 0.000_001,
        ..SimOptions::default()
    };
    let mut config = Config::default();
    config.staging.accounts = opts.staging_accounts.clone();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    let dir = sb.data();
    std::fs::create_dir_all(&dir).unwrap();

    // Run 1: the fleet moves on between polls.
    let (mut first, store) = poller(&sim, &config, &dir).await;
    let start = Utc::now();
    let step = chrono::Duration::minutes(10);
    let mut before = Seen::new();
    let mut now = start;
    for i in 0..4 {
        if i > 0 {
            sim.advance(step.to_std().unwrap());
            now += step;
        }
        before = seen(&first.cycle(&NO_QUEUE, now).await.unwrap());
    }
    assert!(!before.is_empty());
    assert!(
        before.values().any(|(_, _, tl)| tl.len() >= 2),
        "some device changed stage while watched: {before:?}"
    );
    // A stage Intune dates nowhere (provisioned, failed, assigned) is dated when first seen.
    assert!(
        before.values().any(|(stage, _, _)| matches!(
            stage,
            Stage::Provisioned | Stage::Failed | Stage::Assigned
        )),
        "{before:?}"
    );
    drop(first);
    tokio::task::spawn_blocking(move || drop(store.shutdown().unwrap()))
        .await
        .unwrap();

    // Run 2, later, on the same data dir: the fleet has not moved since.
    let (mut second, store) = poller(&sim, &config, &dir).await;
    let later = now + chrono::Duration::minutes(3);
    let after = seen(&second.cycle(&NO_QUEUE, later).await.unwrap());
    assert_eq!(after, before);
    tokio::task::spawn_blocking(move || drop(store.shutdown().unwrap()))
        .await
        .unwrap();
    sim.shutdown().await;
}

/// The console's status feed with the store (`spawn_with_store`, as the console wires it): the
/// first snapshot of a restarted feed dates every device as the previous run did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_feed_starts_from_the_stored_timeline() {
    use stagehand::app::Msg;
    use stagehand::app::status::{StatusCmd, StatusMsg};
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    let opts = SimOptions {
        devices: 24,
        speed: 0.000_001,
        ..SimOptions::default()
    };
    let mut config = Config::default();
    config.staging.accounts = opts.staging_accounts.clone();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    let dir = sb.data();
    std::fs::create_dir_all(&dir).unwrap();

    let mut runs = Vec::new();
    for _ in 0..2 {
        let (db, _, _) = Store::open(&dir).unwrap();
        let store = stagehand::store::spawn_to(db, None, Box::new(|_| {}));
        let (_queue_tx, queue_rx) = watch::channel(Vec::new());
        let (tx, mut rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let cmds = stagehand::feeds::status::spawn_with_store(
            client(&sim),
            config.clone(),
            store.client().unwrap(),
            queue_rx,
            tx,
            cancel.clone(),
        );
        cmds.send(StatusCmd::Scope {
            all_staged: true,
            generation: 1,
        })
        .unwrap();
        let rows = loop {
            let msg = tokio::time::timeout(crate::common::timeout(), rx.recv())
                .await
                .expect("a snapshot in time")
                .expect("feed open");
            if let Msg::Status(StatusMsg::Snapshot {
                generation: 1,
                rows,
                ..
            }) = msg
                && !rows.is_empty()
            {
                break rows;
            }
        };
        runs.push(seen(&rows));
        cancel.cancel();
        tokio::task::spawn_blocking(move || drop(store.shutdown().unwrap()))
            .await
            .unwrap();
    }
    assert!(
        runs[0].values().any(|(stage, _, _)| matches!(
            stage,
            Stage::Provisioned | Stage::Failed | Stage::Assigned
        )),
        "{:?}",
        runs[0]
    );
    assert_eq!(runs[1], runs[0]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_not_seen_changing_for_the_retention_is_forgotten_at_start() {
    use stagehand::serial::SerialKey;
    use stagehand::store::timeline::{KEEP_DAYS, StageChange};
    let sb = Sandbox::new();
    let now = Utc::now();
    let days = |d: i64| now - chrono::Duration::days(d);
    let change = |serial: &str, at, stage: &str| StageChange {
        serial: SerialKey::new(serial),
        at,
        stage: stage.into(),
    };
    {
        let (db, _, _) = Store::open(&sb.data()).unwrap();
        let store = stagehand::store::spawn_to(db, None, Box::new(|_| {}));
        store
            .client()
            .unwrap()
            .record_stages(vec![
                // Left the bench long ago.
                change("GONE1", days(KEEP_DAYS + 10), "registered"),
                change("GONE1", days(KEEP_DAYS + 5), "in_use"),
                // Started long ago, still moving: kept whole.
                change("SLOW1", days(KEEP_DAYS + 10), "registered"),
                change("SLOW1", days(1), "provisioning"),
                change("NEW1", days(0), "registered"),
            ])
            .await
            .unwrap();
        tokio::task::spawn_blocking(move || store.shutdown())
            .await
            .unwrap()
            .unwrap();
    }
    let sim = sim::start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let (db, _, _) = Store::open(&sb.data()).unwrap();
    let store = stagehand::store::spawn_to(db, None, Box::new(|_| {}));
    let client_store = store.client().unwrap();
    let mut p = Poller::new(client(&sim), Config::default());
    p.keep_timeline(client_store.clone()).await.unwrap();
    let left = client_store.timelines().await.unwrap();
    let keys: Vec<String> = left.keys().map(|k| k.to_string()).collect();
    assert_eq!(keys, ["NEW1", "SLOW1"]);
    assert_eq!(left[&SerialKey::new("SLOW1")].len(), 2, "kept whole");
    drop((p, client_store));
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .unwrap()
        .unwrap();
}

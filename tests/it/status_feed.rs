//! The status feed task against the simulated tenant: it polls on its own, answers a scope
//! change with a snapshot stamped with the new generation, and stops when cancelled.

use std::sync::Arc;
use std::time::Duration;

use stagehand::app::Msg;
use stagehand::app::status::{StatusCmd, StatusMsg};
use stagehand::auth::StaticToken;
use stagehand::config::Config;
use stagehand::feeds::status::spawn;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, SimOptions};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Waits (bounded) for the first status message matching `want`.
async fn next_matching(
    rx: &mut mpsc::Receiver<Msg>,
    want: impl Fn(&StatusMsg) -> bool,
) -> StatusMsg {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("no matching status message within 60 s")
            .expect("feed closed");
        if let Msg::Status(m) = msg
            && want(&m)
        {
            return m;
        }
    }
}

#[tokio::test]
async fn polls_answers_a_scope_change_and_stops_on_cancel() {
    let staging = vec!["stage01@contoso.example".to_string()];
    let sim = sim::start(SimOptions {
        devices: 24,
        staging_accounts: staging.clone(),
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
    let mut config = Config::default();
    config.staging.accounts = staging;
    let (_queue_tx, queue_rx) = watch::channel(Vec::new());
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let cmds = spawn(client, config, queue_rx, tx, cancel.clone());

    // The first tick polls on its own: an empty queue tracks nothing.
    let first = next_matching(&mut rx, |m| matches!(m, StatusMsg::Snapshot { .. })).await;
    let StatusMsg::Snapshot {
        generation, rows, ..
    } = first
    else {
        unreachable!()
    };
    assert_eq!(generation, 0);
    assert!(rows.is_empty());

    // All staged devices: the seeded fleet shows up, stamped with the new generation.
    cmds.send(StatusCmd::Scope {
        all_staged: true,
        generation: 3,
    })
    .unwrap();
    let m = next_matching(&mut rx, |m| {
        matches!(m, StatusMsg::Snapshot { generation: 3, .. })
    })
    .await;
    let StatusMsg::Snapshot { rows, .. } = m else {
        unreachable!()
    };
    assert!(!rows.is_empty(), "staged devices tracked");
    assert!(rows.iter().all(|r| r.managed_device_id.is_some()));

    cancel.cancel();
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the feed stops after cancel");
}

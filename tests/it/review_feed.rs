//! The review feed driven like the console drives it: messages into the real `App`, its `Cmd`s
//! back to the feed, against the simulator. Waits are polls with a timeout.

use std::time::Duration;

use crate::review_common::{Tenant, key, until};
use crossterm::event::KeyCode;
use stagehand::app::review::ReviewCmd;
use stagehand::app::{App, Cmd, LoadState, Pane};
use stagehand::feeds::review::{FeedTiming, spawn_with};
use stagehand::review::ApplyState;
use stagehand::store::{Actor, AuditLog, AuditPhase};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn refresh_approve_confirm_write_and_confirm_through_the_feed() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let feed = spawn_with(
        t.client.clone(),
        cfg.clone(),
        stagehand::store::open_headless(dir.path())
            .unwrap()
            .client()
            .unwrap(),
        Actor::fixed("lead@contoso.example"),
        tx,
        cancel.clone(),
        FeedTiming {
            poll: Duration::from_secs(3600),
            confirm_every: Duration::from_millis(50),
        },
    );
    let mut app = App::new(cfg, chrono::Utc::now());
    app.focus = Pane::Review;
    // The first poll tick fires at once.
    until(&mut app, &mut rx, "the first load", |a| {
        matches!(a.review.load, LoadState::Ready { .. })
    })
    .await;
    let target = app
        .review
        .rows
        .iter()
        .position(|r| r.verdict_word() == "propose")
        .expect("a propose row");
    let device = app.review.rows[target].candidate.device.id.clone();
    app.review.list.home();
    while app.review.list.selected_key() != Some(&device) {
        key(&mut app, KeyCode::Down);
    }
    assert!(
        key(&mut app, KeyCode::Char('a')).is_empty(),
        "approve writes nothing"
    );
    let cmds = key(&mut app, KeyCode::Char('y'));
    let [Cmd::Review(cmd @ ReviewCmd::Apply(_))] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    feed.send(cmd.clone()).unwrap();
    let state = |a: &App| a.review.row(&device).and_then(|r| r.apply.clone());
    until(&mut app, &mut rx, "applied, confirming", |a| {
        matches!(state(a), Some(ApplyState::Confirming { .. }))
    })
    .await;
    assert!(t.ref_post_devices().contains(&device));
    // The sim propagates the change after three sim minutes.
    t.sim.advance(Duration::from_secs(200));
    let loaded_at = |a: &App| match a.review.load {
        LoadState::Ready { at } => Some(at),
        _ => None,
    };
    let before = loaded_at(&app);
    until(&mut app, &mut rx, "confirmed", |a| {
        matches!(state(a), Some(ApplyState::Confirmed { .. }))
    })
    .await;
    // A confirmation triggers a refresh; the device is no longer a candidate, and its row stays
    // in the pane as confirmed (last, counted apart from the verdicts).
    until(
        &mut app,
        &mut rx,
        "the refresh after the confirmation",
        |a| loaded_at(a) > before,
    )
    .await;
    assert!(matches!(state(&app), Some(ApplyState::Confirmed { .. })));
    assert_eq!(app.review.counts.confirmed, 1);
    assert_eq!(
        app.review
            .rows
            .last()
            .map(|r| r.candidate.device.id.as_str()),
        Some(device.as_str())
    );
    let audit = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    let phases: Vec<_> = audit.records.iter().map(|r| r.phase).collect();
    assert_eq!(phases, [AuditPhase::Before, AuditPhase::After]);
    cancel.cancel();
}

#[tokio::test]
async fn a_failed_read_reports_the_reason_and_a_later_refresh_recovers() {
    let t = Tenant::start(16).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    t.sim.set_faults(stagehand::sim::Faults {
        error_5xx_rate: 1.0,
        ..Default::default()
    });
    let feed = spawn_with(
        t.client.clone(),
        cfg.clone(),
        stagehand::store::open_headless(dir.path())
            .unwrap()
            .client()
            .unwrap(),
        Actor::fixed("lead"),
        tx,
        cancel.clone(),
        FeedTiming {
            poll: Duration::from_secs(3600),
            confirm_every: Duration::from_secs(3600),
        },
    );
    let mut app = App::new(cfg, chrono::Utc::now());
    until(&mut app, &mut rx, "a failure", |a| {
        matches!(a.review.load, LoadState::Failed(_))
    })
    .await;
    let LoadState::Failed(reason) = &app.review.load else {
        unreachable!()
    };
    assert!(reason.contains("503"), "{reason}");
    t.sim.set_faults(stagehand::sim::Faults::default());
    feed.send(ReviewCmd::Refresh).unwrap();
    until(&mut app, &mut rx, "a load", |a| {
        matches!(a.review.load, LoadState::Ready { .. })
    })
    .await;
    assert!(!app.review.rows.is_empty());
    cancel.cancel();
}

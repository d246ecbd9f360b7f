//! The console's device operations against the simulated tenant: the app's state machine and the
//! real devices feed, wired as the runtime wires them (every `Cmd::Devices` goes to the feed,
//! every answer back through `App::update`), with the simulator's request log and the audit file
//! as the witnesses.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use stagehand::app::devices::{DeploymentLoad, DetailLoad, DevicesCmd, ModalStage};
use stagehand::app::status::StatusMsg;
use stagehand::app::{App, Cmd, Msg};
use stagehand::commands::devices::{DemoRole, DevicesSession, demo_session};
use stagehand::config::Config;
use stagehand::devices::{Lifecycle, ListFilter, list};
use stagehand::graph::models::ManagementState;
use stagehand::status::{Change, DeviceStatus, Flags, Stage};
use stagehand::store::{Actor, AuditLog, AuditPhase};

fn config() -> Config {
    let mut c = Config::default();
    c.staging.accounts = stagehand::sim::SimOptions::default().staging_accounts;
    c
}

fn timeout() -> Duration {
    let secs = std::env::var("STAGEHAND_TEST_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// The app, the feed and the pipe between them.
struct Harness {
    app: App,
    to_feed: mpsc::UnboundedSender<DevicesCmd>,
    from_feed: mpsc::Receiver<Msg>,
    _cancel: tokio_util::sync::DropGuard,
}

impl Harness {
    fn start(s: &DevicesSession, audit_dir: &std::path::Path) -> Harness {
        let (tx, rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let to_feed = stagehand::feeds::devices::spawn(
            s.client.clone(),
            config(),
            stagehand::store::open_headless(audit_dir)
                .unwrap()
                .client()
                .unwrap(),
            Actor::fixed(s.actor.clone()),
            tx,
            cancel.clone(),
        );
        let mut app = App::new(config(), Utc::now());
        app.update(Msg::Resize {
            width: 120,
            height: 40,
        });
        app.update(key(KeyCode::F(3)));
        Harness {
            app,
            to_feed,
            from_feed: rx,
            _cancel: cancel.drop_guard(),
        }
    }

    fn run(&mut self, cmds: Vec<Cmd>) {
        for c in cmds {
            if let Cmd::Devices(d) = c {
                self.to_feed.send(d).unwrap();
            }
        }
    }

    fn press(&mut self, code: KeyCode) {
        let cmds = self.app.update(key(code));
        self.app.settle();
        self.run(cmds);
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    /// Applies the feed's answers until `cond` holds (or the timeout fails the test).
    async fn until(&mut self, what: &str, cond: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout();
        while !cond(&self.app) {
            let msg = tokio::time::timeout_at(deadline, self.from_feed.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("the feed stopped");
            let cmds = self.app.update(msg);
            self.app.settle();
            self.run(cmds);
        }
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// One status row for a managed device, as the status feed would report it.
fn row(serial: &str, id: &str, now: DateTime<Utc>) -> DeviceStatus {
    DeviceStatus {
        serial: serial.into(),
        stage: Stage::Provisioned,
        flags: Flags::default(),
        device_name: None,
        managed_device_id: Some(id.into()),
        primary_user: None,
        enrolled_by: None,
        enrollment_state: None,
        deployment_status: None,
        last_sync: None,
        compliance: None,
        message: "".into(),
        code: None,
        phase: None,
        since: now,
        timeline: vec![Change {
            at: now,
            stage: Stage::Provisioned,
        }]
        .into(),
        raw: Default::default(),
    }
}

/// A managed device with nothing pending: (serial, id).
async fn some_device(s: &DevicesSession) -> (String, String) {
    let rows = list(&s.client, &config().staging, &ListFilter::default())
        .await
        .unwrap();
    let r = rows
        .iter()
        .find(|r| {
            r.management_state == Some(ManagementState::Managed) && r.stage != Lifecycle::Unassigned
        })
        .expect("the demo fleet has managed devices");
    (r.serial.clone(), r.id.clone())
}

fn posts(s: &DevicesSession, suffix: &str) -> usize {
    s.sim
        .as_ref()
        .unwrap()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(suffix))
        .count()
}

fn show(h: &mut Harness, serial: &str, id: &str) {
    let now = h.app.now;
    h.app.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: now,
        rows: vec![std::sync::Arc::new(row(serial, id, now))],
    }));
    h.app.settle();
}

#[tokio::test]
async fn detail_sync_and_wipe_from_the_console_reach_the_tenant_audited() {
    let s = demo_session(7, DemoRole::Admin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(&s, dir.path());
    let (serial, id) = some_device(&s).await;
    show(&mut h, &serial, &id);
    h.until("the role check", |a| a.devices.may_destroy()).await;

    // Enter: the detail, then its deployment row.
    h.press(KeyCode::Enter);
    assert!(matches!(h.app.devices.detail, DetailLoad::Loading { .. }));
    h.until("the deployment row", |a| {
        matches!(
            &a.devices.detail,
            DetailLoad::Ready { deployment, .. } if *deployment != DeploymentLoad::Loading
        )
    })
    .await;
    let DetailLoad::Ready { detail, .. } = &h.app.devices.detail else {
        unreachable!()
    };
    assert_eq!(
        (detail.id.as_str(), detail.serial.as_str()),
        (id.as_str(), serial.as_str())
    );
    assert!(!detail.os_version.is_empty(), "{detail:?}");
    assert!(
        detail
            .pending_actions
            .iter()
            .all(|a| a.action != "syncDevice")
    );

    // y: sync, then r: the detail again shows the pending sync.
    h.press(KeyCode::Char('y'));
    h.until("the sync answer", |a| {
        a.devices
            .notice
            .as_ref()
            .is_some_and(|n| !n.text.contains('…'))
    })
    .await;
    let notice = h.app.devices.notice.clone().unwrap();
    assert_eq!(notice.text, format!("{serial}: sync requested"));
    assert_eq!(posts(&s, &format!("{id}/syncDevice")), 1);
    h.press(KeyCode::Char('r'));
    h.until("the refreshed detail", |a| {
        matches!(&a.devices.detail, DetailLoad::Ready { detail, .. }
            if detail.pending_actions.iter().any(|x| x.action == "syncDevice"))
    })
    .await;

    // W with a wrong serial: refused before Intune; then the right one: sent once.
    h.press(KeyCode::Char('W'));
    h.type_text("NOT-IT");
    h.press(KeyCode::Enter);
    h.until("the refusal", |a| {
        a.devices
            .modal
            .as_ref()
            .is_some_and(|m| matches!(m.stage, ModalStage::Done { .. }))
    })
    .await;
    let m = h.app.devices.modal.clone().unwrap();
    assert!(
        matches!(&m.stage, ModalStage::Done { ok: false, message } if message.contains("does not match")),
        "{m:?}"
    );
    assert_eq!(posts(&s, "/wipe"), 0);
    h.press(KeyCode::Esc);
    h.press(KeyCode::Char('W'));
    h.type_text(&serial.to_lowercase());
    h.press(KeyCode::Enter);
    h.until("the wipe outcome", |a| {
        a.devices
            .modal
            .as_ref()
            .is_some_and(|m| matches!(m.stage, ModalStage::Done { .. }))
    })
    .await;
    let m = h.app.devices.modal.clone().unwrap();
    assert!(
        matches!(&m.stage, ModalStage::Done { ok: true, .. }),
        "{m:?}"
    );
    assert_eq!(posts(&s, &format!("{id}/wipe")), 1);

    // Once more: a wipe is pending now, so the guard refuses and nothing reaches Intune.
    h.press(KeyCode::Esc);
    h.press(KeyCode::Char('W'));
    h.type_text(&serial);
    h.press(KeyCode::Enter);
    h.until("the pending refusal", |a| {
        a.devices
            .modal
            .as_ref()
            .is_some_and(|m| matches!(m.stage, ModalStage::Done { .. }))
    })
    .await;
    let m = h.app.devices.modal.clone().unwrap();
    assert!(
        matches!(&m.stage, ModalStage::Done { ok: false, message } if message.contains("already pending")),
        "{m:?}"
    );
    assert_eq!(posts(&s, &format!("{id}/wipe")), 1);

    // The audit log holds every attempt, before and after.
    let rec = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    assert!(rec.damaged.is_empty());
    let seen: Vec<(&str, AuditPhase, Option<&str>)> = rec
        .records
        .iter()
        .map(|r| (r.action.as_str(), r.phase, r.result.as_deref()))
        .collect();
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(seen[0], ("sync", AuditPhase::Before, None));
    assert_eq!(seen[1], ("sync", AuditPhase::After, Some("ok")));
    assert_eq!(seen[2], ("wipe", AuditPhase::Before, None));
    assert!(
        seen[3]
            .2
            .is_some_and(|r| r.starts_with("refused: confirmation")),
        "{seen:?}"
    );
    assert_eq!(seen[5], ("wipe", AuditPhase::After, Some("ok")));
    assert!(
        seen[7]
            .2
            .is_some_and(|r| r.starts_with("refused: a wipe is already pending")),
        "{seen:?}"
    );
    assert!(
        rec.records
            .iter()
            .all(|r| r.actor == "lead@contoso.example"
                && r.serial.as_deref() == Some(serial.as_str()))
    );
}

#[tokio::test]
async fn the_technician_is_never_offered_retire_or_wipe_and_the_feed_refuses_them() {
    let s = demo_session(7, DemoRole::Technician).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(&s, dir.path());
    let (serial, id) = some_device(&s).await;
    show(&mut h, &serial, &id);
    // The role check answers first; wait for it to have been applied.
    let first = tokio::time::timeout(timeout(), h.from_feed.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&first, Msg::Devices(stagehand::app::devices::DevicesMsg::Authority(Err(e))) if e.contains("neither")),
        "{first:?}"
    );
    h.app.update(first);
    for c in ['R', 'W'] {
        h.press(KeyCode::Char(c));
        assert!(h.app.devices.modal.is_none());
    }
    // Even a request that reaches the feed is refused by the role check through Graph.
    h.to_feed
        .send(DevicesCmd::Destructive(
            stagehand::devices::DestructiveRequest {
                serial: serial.clone(),
                confirm: Some(serial.clone()),
                action: stagehand::devices::Destructive::Retire,
            },
        ))
        .unwrap();
    h.until("the refusal", |a| a.devices.notice.is_some()).await;
    let n = h.app.devices.notice.clone().unwrap();
    assert!(
        n.bad && n.text.contains("refused") && n.text.contains("neither"),
        "{n:?}"
    );
    assert_eq!(posts(&s, "/retire"), 0);
    // Sync is for everyone.
    h.press(KeyCode::Char('y'));
    h.until("the sync answer", |a| {
        a.devices
            .notice
            .as_ref()
            .is_some_and(|n| n.text.ends_with("sync requested"))
    })
    .await;
    assert_eq!(posts(&s, &format!("{id}/syncDevice")), 1);
}

#[tokio::test]
async fn a_failed_read_shows_graph_s_error_with_its_request_id() {
    let s = demo_session(7, DemoRole::Admin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(&s, dir.path());
    let (serial, id) = some_device(&s).await;
    show(&mut h, &serial, &id);
    h.until("the role check", |a| a.devices.may_destroy()).await;
    s.sim.as_ref().unwrap().set_faults(stagehand::sim::Faults {
        error_5xx_rate: 1.0,
        ..stagehand::sim::Faults::default()
    });
    h.press(KeyCode::Enter);
    h.until("the failure", |a| {
        matches!(a.devices.detail, DetailLoad::Failed { .. })
    })
    .await;
    let DetailLoad::Failed { serial: s2, reason } = &h.app.devices.detail else {
        unreachable!()
    };
    assert_eq!(s2, &serial);
    assert!(
        reason.contains("503") && reason.contains("request-id"),
        "{reason}"
    );
    // Nothing was written: a read is not audited.
    let rec = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    assert!(rec.records.is_empty());
}

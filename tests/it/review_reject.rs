//! Rejections remembered across restarts, against the simulator: `r` in the pane goes through the
//! real feed into the data dir's database (through the store thread) and the audit log; a new App and feed on the same
//! data dir still hide the row; the headless commands read it (`review --json` shows `rejected`,
//! `reassign --apply` never writes it); a new sign-in on the device brings the row back everywhere.

use std::path::Path;
use std::time::Duration;

use crate::review_common::{Tenant, key, until};
use crossterm::event::KeyCode;
use stagehand::app::review::ReviewCmd;
use stagehand::app::{App, Cmd, LoadState, Msg, Pane};
use stagehand::commands::review::{ReassignArgs, ReviewArgs, reassign, review};
use stagehand::config::Config;
use stagehand::feeds::review::{FeedTiming, REJECT_ACTION, spawn_with};
use stagehand::review::{PlanRow, rejections};
use stagehand::store::{Actor, AuditLog, AuditPhase, StoreHandle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LEAD: &str = "lead@contoso.example";

/// One console run: a fresh App and review feed on `dir`, loaded once.
struct Session {
    app: App,
    rx: mpsc::Receiver<Msg>,
    feed: mpsc::UnboundedSender<ReviewCmd>,
    cancel: CancellationToken,
    /// The data dir's store thread (and lock), stopped when the session ends.
    store: Option<StoreHandle>,
}

impl Session {
    async fn open(t: &Tenant, cfg: &Config, dir: &Path) -> (Session, Vec<Cmd>) {
        let (tx, rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let store = stagehand::store::open_headless(dir).unwrap();
        let feed = spawn_with(
            t.client.clone(),
            cfg.clone(),
            store.client().unwrap(),
            Actor::fixed(LEAD),
            tx,
            cancel.clone(),
            FeedTiming {
                poll: Duration::from_secs(3600),
                confirm_every: Duration::from_secs(3600),
            },
        );
        let mut app = App::new(cfg.clone(), chrono::Utc::now());
        app.focus = Pane::Review;
        let mut s = Session {
            app,
            rx,
            feed,
            cancel,
            store: Some(store),
        };
        let cmds = s
            .until("the first load", |a| {
                matches!(a.review.load, LoadState::Ready { .. })
            })
            .await;
        (s, cmds)
    }

    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) -> Vec<Cmd> {
        until(&mut self.app, &mut self.rx, what, done).await
    }

    /// Hands the app's review commands to the feed, as the console's effects do.
    fn run(&self, cmds: Vec<Cmd>) {
        for c in cmds {
            if let Cmd::Review(c) = c {
                self.feed.send(c).unwrap();
            }
        }
    }

    fn visible(&self, device: &str) -> bool {
        let list = &self.app.review.list;
        list.visible()
            .iter()
            .any(|&i| list.key_at(i).is_some_and(|k| k == device))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.cancel.cancel();
        // Everything handed to the store is durable and the data-dir lock is free once this
        // returns (the store thread needs no runtime, so joining it here cannot deadlock).
        if let Some(store) = self.store.take() {
            let _ = store.shutdown();
        }
    }
}

async fn plan(t: &Tenant, cfg: &Config, dir: &Path) -> Vec<PlanRow> {
    let mut out = Vec::new();
    let args = ReviewArgs {
        csv: false,
        json: true,
        out: None,
    };
    review(&t.client, cfg, dir, &args, &mut out).await.unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[tokio::test]
async fn a_rejection_survives_a_restart_and_a_new_sign_in_brings_the_row_back() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();

    // First run: reject a `propose` row.
    let (mut s, _) = Session::open(&t, &cfg, dir.path()).await;
    let row = s
        .app
        .review
        .rows
        .iter()
        .find(|r| r.verdict_word() == "propose")
        .expect("a propose row")
        .clone();
    let device = row.candidate.device.id.clone();
    let serial = row.candidate.device.serial.clone();
    let proposed = row.candidate.assessment.proposed.clone().unwrap();
    s.app.review.list.home();
    while s.app.review.list.selected_key() != Some(&device) {
        key(&mut s.app, KeyCode::Down);
    }
    let cmds = key(&mut s.app, KeyCode::Char('r'));
    assert!(!s.visible(&device), "hidden at once");
    // Queued behind a refresh, the rejection still reaches the writer (coalescing refreshes
    // must not swallow other commands).
    s.feed.send(ReviewCmd::Refresh).unwrap();
    s.run(cmds);
    s.until("the rejection to be saved", |a| {
        a.review
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("rejected: hidden"))
    })
    .await;
    drop(s);
    let on_disk = rejections::load(dir.path()).unwrap();
    let saved = on_disk
        .matching(&device, &row.fingerprint)
        .expect("on disk");
    assert_eq!(saved.by, LEAD);
    assert_eq!(saved.serial, serial);
    let audit = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    let [rec] = audit.records.as_slice() else {
        panic!("{:?}", audit.records)
    };
    assert_eq!(rec.action, REJECT_ACTION);
    assert_eq!(rec.actor, LEAD);
    assert_eq!(rec.phase, AuditPhase::After);
    assert_eq!(rec.device_id.as_deref(), Some(device.as_str()));
    assert_eq!(rec.to.as_deref(), Some(proposed.upn.as_str()));
    assert_eq!(rec.result.as_deref(), Some("rejected"));

    // Restart: a new App and feed on the same data dir.
    let (s, cmds) = Session::open(&t, &cfg, dir.path()).await;
    assert!(s.app.review.row(&device).is_some(), "still a candidate");
    assert!(!s.visible(&device), "still rejected after a restart");
    assert!(cmds.is_empty(), "nothing forgotten: {cmds:?}");
    drop(s);

    // Headless: `review --json` shows it as rejected; `reassign --apply` writes everything else.
    let rows = plan(&t, &cfg, dir.path()).await;
    let r = rows.iter().find(|r| r.managed_device_id == device).unwrap();
    assert_eq!(r.verdict, "rejected");
    assert!(
        r.reason.starts_with(&format!("rejected by {LEAD} at ")),
        "{}",
        r.reason
    );
    let others = rows.iter().filter(|r| r.verdict == "propose").count();
    let args = ReassignArgs {
        apply: true,
        yes: true,
        plan: None,
        dry_run: false,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let mut out = Vec::new();
    let report = reassign(
        &t.client,
        &cfg,
        dir.path(),
        LEAD,
        &args,
        &mut std::io::empty(),
        &mut out,
    )
    .await
    .unwrap();
    let posted = t.ref_post_devices();
    assert!(!posted.contains(&device), "a rejected row is never written");
    assert_eq!(posted.len(), others);
    assert!(
        report
            .skipped
            .iter()
            .any(|(s, why)| *s == serial && why.contains("rejected by")),
        "{report:?}"
    );

    // The device's data moves: the proposed user signs in again.
    let now = t.sim.now();
    assert_eq!(
        t.sim
            .shape_device(&serial, |s| s.extra_logons.push((proposed.id.clone(), now))),
        1
    );
    let rows = plan(&t, &cfg, dir.path()).await;
    let r = rows.iter().find(|r| r.managed_device_id == device).unwrap();
    assert_eq!(r.verdict, "propose", "proposed again headless");
    let (s, cmds) = Session::open(&t, &cfg, dir.path()).await;
    assert!(s.visible(&device), "proposed again in the pane");
    assert_eq!(
        cmds,
        vec![Cmd::Review(ReviewCmd::Forget(vec![(
            device.clone(),
            row.fingerprint.clone()
        )]))]
    );
    s.run(cmds);
    // The forgetting is durable too: poll the file until the rejection is gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !rejections::load(dir.path()).unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rejection was never forgotten on disk"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_plan_row_rejected_after_the_plan_was_made_is_not_written() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let mut out = Vec::new();
    let args = ReviewArgs {
        csv: false,
        json: true,
        out: Some(plan_path.clone()),
    };
    review(&t.client, &cfg, dir.path(), &args, &mut out)
        .await
        .unwrap();
    let rows: Vec<PlanRow> = serde_json::from_slice(&out).unwrap();
    let propose: Vec<&PlanRow> = rows.iter().filter(|r| r.verdict == "propose").collect();
    assert!(propose.len() >= 2);
    // The lead rejects the first propose row in the console after the plan was written.
    let (mut s, _) = Session::open(&t, &cfg, dir.path()).await;
    let target = &propose[0].managed_device_id;
    s.app.review.list.home();
    while s.app.review.list.selected_key() != Some(target) {
        key(&mut s.app, KeyCode::Down);
    }
    let cmds = key(&mut s.app, KeyCode::Char('r'));
    s.run(cmds);
    s.until("the rejection to be saved", |a| {
        a.review
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("rejected: hidden"))
    })
    .await;
    drop(s);
    let args = ReassignArgs {
        apply: true,
        yes: true,
        plan: Some(plan_path),
        dry_run: false,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let mut out = Vec::new();
    let report = reassign(
        &t.client,
        &cfg,
        dir.path(),
        LEAD,
        &args,
        &mut std::io::empty(),
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let posted = t.ref_post_devices();
    assert!(!posted.contains(target), "{text}");
    assert_eq!(posted.len(), propose.len() - 1, "{text}");
    assert!(
        text.contains(&format!(
            "skip   {:<14} rejected by {LEAD}",
            propose[0].serial
        )),
        "{text}"
    );
    assert!(report.failed.is_empty(), "{text}");
}

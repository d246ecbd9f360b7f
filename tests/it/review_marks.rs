//! The lead's review driven fast, against the simulator through the real feed: an approval is
//! frozen at `a` (a sign-in that lands before `y` is shown as drift and not written), undo lifts a
//! rejection durably and on the record, and an export holds exactly the rows on screen.

use std::path::Path;
use std::time::Duration;

use crate::review_common::{Tenant, key, until};
use crossterm::event::KeyCode;
use stagehand::app::review::{DRIFTED, ReviewCmd, ReviewModal};
use stagehand::app::{App, Cmd, LoadState, Msg, Pane};
use stagehand::commands::review::{ReviewArgs, review};
use stagehand::config::Config;
use stagehand::feeds::review::{FeedTiming, LIFT_ACTION, REJECT_ACTION, spawn_with};
use stagehand::review::rejections;
use stagehand::store::{Actor, AuditLog, AuditPhase, StoreHandle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LEAD: &str = "lead@contoso.example";

struct Session {
    app: App,
    rx: mpsc::Receiver<Msg>,
    feed: mpsc::UnboundedSender<ReviewCmd>,
    cancel: CancellationToken,
    /// The data dir's store thread (and lock), stopped when the session ends.
    store: Option<StoreHandle>,
}

impl Session {
    async fn open(t: &Tenant, cfg: &Config, dir: &Path) -> Session {
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
        app.update(Msg::Resize {
            width: 120,
            height: 36,
        });
        let mut s = Session {
            app,
            rx,
            feed,
            cancel,
            store: Some(store),
        };
        s.until("the first load", |a| {
            matches!(a.review.load, LoadState::Ready { .. })
        })
        .await;
        s
    }

    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) -> Vec<Cmd> {
        until(&mut self.app, &mut self.rx, what, done).await
    }

    fn run(&self, cmds: Vec<Cmd>) {
        for c in cmds {
            if let Cmd::Review(c) = c {
                self.feed.send(c).unwrap();
            }
        }
    }

    fn select(&mut self, device: &str) {
        self.app.review.list.home();
        for _ in 0..self.app.review.list.len() {
            if self.app.review.list.selected_key().map(String::as_str) == Some(device) {
                return;
            }
            key(&mut self.app, KeyCode::Down);
        }
        panic!("{device} is not in view");
    }

    fn visible(&self) -> Vec<String> {
        let list = &self.app.review.list;
        list.visible()
            .iter()
            .filter_map(|&i| list.key_at(i).cloned())
            .collect()
    }

    fn notice(&self) -> String {
        self.app.review.notice.clone().unwrap_or_default()
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

fn audit(dir: &Path) -> Vec<stagehand::store::AuditRecord> {
    AuditLog::open(dir).unwrap().read_all().unwrap().records
}

#[tokio::test]
async fn approve_then_a_new_sign_in_then_confirm_writes_nothing_for_that_row_and_shows_the_drift() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::open(&t, &cfg, dir.path()).await;
    let proposals: Vec<_> = s
        .app
        .review
        .rows
        .iter()
        .filter(|r| r.verdict_word() == "propose")
        .cloned()
        .collect();
    assert!(proposals.len() >= 2, "two propose rows in the fleet");
    let (moved, kept) = (&proposals[0], &proposals[1]);
    for r in [moved, kept] {
        s.select(&r.candidate.device.id);
        key(&mut s.app, KeyCode::Char(' '));
    }
    assert!(key(&mut s.app, KeyCode::Char('a')).is_empty());
    assert!(matches!(
        s.app.review.modal,
        Some(ReviewModal::Confirm { ref approvals, .. }) if approvals.len() == 2
    ));
    // Between approve and confirm, another employee signs in on one of the two devices.
    let was = moved.candidate.assessment.proposed.clone().unwrap();
    let (users, _) = t.sim.users();
    let other = users
        .iter()
        .find(|(id, upn)| *id != was.id && !upn.contains("staging") && upn != LEAD)
        .unwrap()
        .0
        .clone();
    let now = t.sim.now();
    assert_eq!(
        t.sim.shape_device(&moved.candidate.device.serial, |sh| {
            sh.extra_logons.push((other.clone(), now))
        }),
        1
    );
    s.feed.send(ReviewCmd::Refresh).unwrap();
    let fp = moved.fingerprint.clone();
    let id = moved.candidate.device.id.clone();
    s.until("the refresh to show the new sign-in", |a| {
        a.review.row(&id).is_some_and(|r| r.fingerprint != fp)
    })
    .await;
    assert!(s.app.review.modal.is_some(), "the question is still open");
    let cmds = key(&mut s.app, KeyCode::Char('y'));
    let [Cmd::Review(ReviewCmd::Apply(jobs))] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let written: Vec<&str> = jobs.iter().map(|j| j.device_id.as_str()).collect();
    assert_eq!(written, [kept.candidate.device.id.as_str()]);
    assert_eq!(
        jobs[0].to,
        kept.candidate.assessment.proposed.clone().unwrap(),
        "exactly the approved user"
    );
    s.run(cmds);
    s.until("the kept change written", |a| {
        a.review
            .row(&kept.candidate.device.id)
            .is_some_and(|r| r.apply.as_ref().is_some_and(|st| st.label() != "approved"))
    })
    .await;
    // The simulator received one write, for the unchanged device only.
    assert_eq!(t.ref_post_devices(), [kept.candidate.device.id.as_str()]);
    let row = s.app.review.row(&id).unwrap();
    assert!(row.drifted && row.apply.is_none());
    assert!(s.notice().contains(DRIFTED), "{}", s.notice());
    let records = audit(dir.path());
    assert!(
        records
            .iter()
            .all(|r| r.device_id.as_deref() != Some(id.as_str())),
        "nothing on the record for the drifted row: {records:?}"
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r.phase == AuditPhase::Before)
            .count(),
        1
    );
}

#[tokio::test]
async fn undo_restores_a_rejected_row_and_writes_an_audit_record() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::open(&t, &cfg, dir.path()).await;
    let device = s.visible()[0].clone();
    s.select(&device);
    let cmds = key(&mut s.app, KeyCode::Char('r'));
    assert!(!s.visible().contains(&device));
    s.run(cmds);
    s.until("the rejection saved", |a| {
        a.review
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("rejected: hidden"))
    })
    .await;
    assert_eq!(rejections::load(dir.path()).unwrap().len(), 1);
    let cmds = key(&mut s.app, KeyCode::Char('u'));
    assert!(s.visible().contains(&device), "back at once");
    s.run(cmds);
    s.until("the lifting saved", |a| {
        a.review
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("lifted"))
    })
    .await;
    assert!(rejections::load(dir.path()).unwrap().is_empty());
    let records = audit(dir.path());
    let actions: Vec<(&str, &str, Option<&str>)> = records
        .iter()
        .map(|r| (r.action.as_str(), r.actor.as_str(), r.result.as_deref()))
        .collect();
    assert_eq!(
        actions,
        [
            (REJECT_ACTION, LEAD, Some("rejected")),
            (LIFT_ACTION, LEAD, Some("lifted")),
        ]
    );
    assert_eq!(records[1].device_id.as_deref(), Some(device.as_str()));
    assert_eq!(records[1].options["rejected_by"], LEAD);
    // Nothing was written to Intune, and a restart shows the row.
    assert_eq!(t.ref_posts(), 0);
    drop(s);
    let s = Session::open(&t, &cfg, dir.path()).await;
    assert!(s.visible().contains(&device));
}

#[tokio::test]
async fn an_exported_csv_of_a_filtered_review_has_exactly_the_visible_rows() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::open(&t, &cfg, dir.path()).await;
    let total = s.visible().len();
    key(&mut s.app, KeyCode::Char('/'));
    for c in "propose".chars() {
        key(&mut s.app, KeyCode::Char(c));
    }
    key(&mut s.app, KeyCode::Enter);
    let shown: Vec<String> = s
        .visible()
        .iter()
        .map(|id| {
            s.app
                .review
                .row(id)
                .unwrap()
                .candidate
                .device
                .serial
                .clone()
        })
        .collect();
    assert!(
        !shown.is_empty() && shown.len() < total,
        "{total} {shown:?}"
    );
    let cmds = key(&mut s.app, KeyCode::Char('E'));
    let [Cmd::Export(table)] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    // What the console's effects run for `Cmd::Export`.
    let w = stagehand::export::write(dir.path(), table, chrono::Utc::now()).unwrap();
    assert!(w.csv.starts_with(dir.path().join("exports")));
    let mut r = csv::Reader::from_path(&w.csv).unwrap();
    let h = r.headers().unwrap().clone();
    let serial = h.iter().position(|c| c == "Serial").unwrap();
    let upn = h.iter().position(|c| c == "Proposed UPN").unwrap();
    let got: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let serials: Vec<&str> = got.iter().map(|x| &x[serial]).collect();
    assert_eq!(serials, shown, "exactly the visible rows, in screen order");
    for (rec, id) in got.iter().zip(s.visible()) {
        let row = s.app.review.row(&id).unwrap();
        assert_eq!(&rec[upn], row.target().0.unwrap().upn.as_str());
    }
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&w.json).unwrap()).unwrap();
    assert_eq!(json.len(), shown.len());

    // Headless: `review --csv` writes every candidate the same way and prints both paths.
    let mut out = Vec::new();
    let args = ReviewArgs {
        csv: true,
        json: false,
        out: None,
    };
    review(&t.client, &cfg, dir.path(), &args, &mut out)
        .await
        .unwrap();
    let printed = String::from_utf8(out).unwrap();
    let paths: Vec<&str> = printed.lines().collect();
    assert_eq!(paths.len(), 2, "{printed}");
    assert!(paths[0].ends_with(".csv") && paths[1].ends_with(".json"));
    let rows = csv::Reader::from_path(paths[0]).unwrap().records().count();
    assert_eq!(rows, s.app.review.rows.len());
}

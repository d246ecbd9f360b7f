//! Removing a registered corporate identifier (`X` in the queue list), end to end in-process: the
//! intake pane, the real uploader against the simulator and the store thread as the console wires
//! them. Exactly one `DELETE importedDeviceIdentities/{id}` reaches Intune, after a durable
//! `before` record, and exactly two audit lines (before, after) name whoever is signed in.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use stagehand::app::intake::Removal;
use stagehand::app::{App, Cmd, ConnState, Msg, Pane, SessionState};
use stagehand::auth::StaticToken;
use stagehand::config::Config;
use stagehand::feeds::intake::UploaderCmd;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, SimOptions};
use stagehand::store::{AuditLog, AuditPhase, EntryState, Store, StoreHandle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Console {
    app: App,
    store: StoreHandle,
    uploads: mpsc::UnboundedSender<UploaderCmd>,
    rx: mpsc::Receiver<Msg>,
}

impl Console {
    /// Runs the effects the console's runtime would.
    fn run(&mut self, cmds: Vec<Cmd>) {
        for cmd in cmds {
            match cmd {
                Cmd::Store { ticket, events } => self.store.append(events, ticket).unwrap(),
                Cmd::Audit { ticket, record } => self.store.audit(*record, ticket).unwrap(),
                Cmd::Upload(batch) => self.uploads.send(UploaderCmd::Upload(batch)).unwrap(),
                Cmd::RemoveIdentity {
                    serial,
                    imported_id,
                } => self
                    .uploads
                    .send(UploaderCmd::Remove {
                        serial,
                        imported_id,
                    })
                    .unwrap(),
                _ => {}
            }
        }
    }

    fn update(&mut self, msg: Msg) {
        let cmds = self.app.update(msg);
        self.run(cmds);
        self.app.settle();
    }

    fn key(&mut self, code: KeyCode) {
        self.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done(&self.app) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => self.update(m),
                _ => panic!("timed out waiting for {what}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_identity_sends_one_delete_with_two_audit_lines() {
    let sim = sim::start(SimOptions {
        devices: 0,
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
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = Store::open(dir.path()).unwrap();
    let (tx, rx) = mpsc::channel(256);
    let acks = tx.clone();
    let store = stagehand::store::spawn_to(
        db,
        Some(AuditLog::open(dir.path()).unwrap()),
        Box::new(move |ack| {
            let _ = acks.blocking_send(Msg::Stored(ack));
        }),
    );
    let cancel = CancellationToken::new();
    let uploads = stagehand::feeds::intake::spawn(client, tx, cancel.clone());
    let mut c = Console {
        app: App::new(Config::default(), chrono::Utc::now()),
        store,
        uploads,
        rx,
    };
    c.app.focus = Pane::Intake;
    let (_, lead) = sim.signed_in_user();
    c.update(Msg::Conn(ConnState::Online));
    c.update(Msg::Session(SessionState::SignedIn {
        account: lead.clone(),
    }));
    c.update(Msg::Paste("PF0REMOVE01\n".into()));
    c.until("the identity registered", |a| {
        a.intake
            .queue
            .get("PF0REMOVE01")
            .is_some_and(|e| e.state == EntryState::Registered && e.imported_id.is_some())
    })
    .await;
    let imported = c
        .app
        .intake
        .queue
        .get("PF0REMOVE01")
        .unwrap()
        .imported_id
        .clone()
        .unwrap();

    // The question `X` opens (its key binding belongs to the key table): remove this identity?
    c.key(KeyCode::F(6));
    c.app.intake.removal = Some(Removal {
        serial: "PF0REMOVE01".into(),
        imported_id: imported.clone(),
        audit_ticket: None,
    });
    c.key(KeyCode::Char('y'));
    c.until("the entry removed", |a| a.intake.queue.is_empty())
        .await;

    let deletes: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("importedDeviceIdentities/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].ends_with(&imported), "{deletes:?}");

    let store = c.store;
    let (_, audit) = tokio::task::spawn_blocking(move || store.shutdown().unwrap())
        .await
        .unwrap();
    let read = audit.unwrap().read_all().unwrap();
    assert!(read.damaged.is_empty());
    let rec = read.records;
    assert_eq!(rec.len(), 2, "{rec:?}");
    assert_eq!(
        (rec[0].phase, rec[1].phase),
        (AuditPhase::Before, AuditPhase::After)
    );
    assert_eq!(rec[1].result.as_deref(), Some("ok"));
    for r in &rec {
        assert_eq!(r.action, "delete_identifier");
        assert_eq!(r.actor, lead);
        assert_eq!(r.serial.as_deref(), Some("PF0REMOVE01"));
    }
    cancel.cancel();
    sim.shutdown().await;
}

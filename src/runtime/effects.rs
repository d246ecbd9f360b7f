//! The console's effects: `Cmd`s from `App::update` become sends to the store thread and the
//! feeds. Every send is non-blocking; a command that reaches no worker is answered at once with
//! [`Cmd::unanswered`], so no pane waits for an answer that cannot come.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::app::{self, App, Cmd, Msg};
use crate::feeds::Feed;
use crate::feeds::intake::UploaderCmd;
use crate::{export, status, store, term};

/// Effects the real console runs.
pub struct ConsoleEffects {
    pub bell: bool,
    /// Exports go to its `exports/` folder.
    pub data_dir: PathBuf,
    pub store: store::StoreHandle,
    /// Answers that must reach the app when no worker takes a command.
    pub back: mpsc::UnboundedSender<Msg>,
    pub uploads: Feed<UploaderCmd>,
    pub reviews: Feed<app::review::ReviewCmd>,
    pub statuses: Feed<app::status::StatusCmd>,
    pub devices: Feed<app::devices::DevicesCmd>,
    pub signin: Feed<app::signin::SignInCmd>,
    /// The queue as the status feed tracks it, republished when it changes.
    pub queue: tokio::sync::watch::Sender<Vec<Arc<store::QueueEntry>>>,
    pub queue_version: u64,
    /// The notifier (`[notify]`): the status rows, each time they change.
    pub notify: Option<mpsc::UnboundedSender<Vec<status::SharedRow>>>,
    /// The rows last handed to the notifier, by address (rows are shared and re-used while
    /// nothing changes, so equal addresses mean nothing new).
    pub notified: Vec<usize>,
    /// The evidence worker (the Status pane's evidence key).
    pub evidence: Feed<app::status::evidence::EvidenceCmd>,
}

impl ConsoleEffects {
    /// The store thread is gone: the write is answered as failed, with the store's reason.
    fn stored(&self, ticket: u64, sent: Result<(), store::StoreClosed>) -> Option<Cmd> {
        if let Err(e) = sent {
            let _ = self.back.send(Msg::Stored(store::StoreAck {
                ticket,
                result: Err(e.to_string()),
            }));
        }
        None
    }

    /// A command no worker took: its answer goes back to the app.
    fn unsent(&self, cmd: Cmd) {
        if let Some(msg) = cmd.unanswered() {
            let _ = self.back.send(msg);
        }
    }
}

impl super::Effects for ConsoleEffects {
    fn after_batch(&mut self, app: &App) {
        if app.intake.queue_version != self.queue_version {
            self.queue_version = app.intake.queue_version;
            // Pointers to the entries, not copies: cheap on every scan even with 10,000 queued.
            let _ = self.queue.send(app.intake.queue.entries().to_vec());
        }
        if let Some(tx) = &self.notify {
            let rows = &app.status.rows;
            let same = rows.len() == self.notified.len()
                && rows
                    .iter()
                    .zip(&self.notified)
                    .all(|(r, p)| Arc::as_ptr(r) as usize == *p);
            if !same {
                self.notified = rows.iter().map(|r| Arc::as_ptr(r) as usize).collect();
                let _ = tx.send(rows.clone());
            }
        }
    }

    fn run(&mut self, cmd: Cmd) {
        let unsent = match cmd {
            Cmd::Bell => {
                if self.bell {
                    term::bell();
                }
                None
            }
            Cmd::Export(table) => {
                // Off the loop: two small files, each fsync'd.
                let (dir, back) = (self.data_dir.clone(), self.back.clone());
                tokio::task::spawn_blocking(move || {
                    let result =
                        export::write(&dir, &table, chrono::Utc::now()).map_err(|e| e.to_string());
                    let _ = back.send(Msg::Exported {
                        table: table.name,
                        result,
                    });
                });
                None
            }
            Cmd::Store { ticket, events } => {
                let sent = self.store.append(events, ticket);
                self.stored(ticket, sent)
            }
            Cmd::Audit { ticket, record } => {
                let sent = self.store.audit(*record, ticket);
                self.stored(ticket, sent)
            }
            Cmd::Upload(batch) => self
                .uploads
                .send(UploaderCmd::Upload(batch))
                .err()
                .map(Cmd::from),
            Cmd::RemoveIdentity {
                serial,
                imported_id,
            } => self
                .uploads
                .send(UploaderCmd::Remove {
                    serial,
                    imported_id,
                })
                .err()
                .map(Cmd::from),
            Cmd::Review(c) => self.reviews.send(c).err().map(Cmd::Review),
            Cmd::Status(c) => self.statuses.send(c).err().map(Cmd::Status),
            Cmd::Devices(c) => self.devices.send(c).err().map(Cmd::Devices),
            Cmd::SignIn(c) => self.signin.send(c).err().map(Cmd::SignIn),
            Cmd::Evidence(c) => self.evidence.send(c).err().map(Cmd::Evidence),
        };
        if let Some(cmd) = unsent {
            self.unsent(cmd);
        }
    }
}

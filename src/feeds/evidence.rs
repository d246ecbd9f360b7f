//! The evidence worker behind the Status pane's `e` key, off the UI loop: one task per requested
//! bundle, progress and the outcome sent back as messages (the same collection as `stagehand
//! evidence`, `evidence::command::collect_into_data_dir`).

use std::path::PathBuf;

use tokio::sync::mpsc::UnboundedSender;

use crate::app::Msg;
use crate::app::status::evidence::{EvidenceCmd, EvidenceMsg};
use crate::evidence::Collector;
use crate::graph::GraphClient;
use crate::store::Actor;

/// What a collection needs; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    pub client: GraphClient,
    pub tenant: String,
    /// Who is signed in at the moment the key is pressed (the manifest's collector).
    pub actor: Actor,
    pub data_dir: PathBuf,
    pub back: UnboundedSender<Msg>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// The evidence worker: one collection task per command, all running side by side; each ends
/// with `EvidenceMsg::Done`. Stops (aborting what runs) when `cancel` fires or the sender drops.
pub fn spawn(
    runner: Runner,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<EvidenceCmd>,
    cancel: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut running = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        running.spawn(runner.clone().collect(cmd));
                    }
                    None => break,
                },
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        running.abort_all();
    })
}

impl Runner {
    /// One collection, its progress and its outcome sent back as messages.
    async fn collect(self, cmd: EvidenceCmd) {
        let r = self;
        {
            let who = Collector {
                tenant: r.tenant.clone(),
                collector: r.actor.now().unwrap_or_default(),
            };
            let serial = cmd.serial.clone();
            let back = r.back.clone();
            let prefix = format!("{serial}: ");
            let mut progress = |line: String| {
                let step = line.strip_prefix(&prefix).unwrap_or(&line).to_string();
                let _ = back.send(Msg::Evidence(EvidenceMsg::Progress {
                    serial: serial.clone(),
                    step,
                }));
            };
            let result = crate::evidence::command::collect_into_data_dir(
                &r.client,
                &who,
                &r.data_dir,
                &cmd.serial,
                cmd.status.as_deref(),
                cmd.queue.as_deref(),
                &mut progress,
            )
            .await
            .map_err(|e| format!("{e:#}"));
            let _ = r.back.send(Msg::Evidence(EvidenceMsg::Done {
                serial: cmd.serial,
                result,
            }));
        }
    }
}

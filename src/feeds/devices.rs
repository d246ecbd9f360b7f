//! The devices feed: the console's device operations against Graph. It asks once whether the
//! signed-in identity may retire or wipe (to decide what is offered), fetches one device at a
//! time for the detail view (a newer request replaces the one in flight), and runs sync, retire
//! and wipe in order, each audited before and after through the same library functions as the
//! CLI (`devices::show`, `devices::sync`, `devices::run_destructive`).

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::Msg;
use crate::app::devices::{ActionFailure, DevicesCmd, DevicesMsg};
use crate::config::Config;
use crate::devices::{self, ActionContext, DeviceKey, DevicesError};
use crate::graph::GraphClient;
use crate::store::{Actor, StoreClient};

pub use crate::devices::SYNC_AUDIT_ACTION;

/// Starts the feed. `audit` is the store thread (the one audit writer); `actor` says who is
/// signed in at the moment of each action. Send `DevicesCmd`s on the returned channel; answers
/// arrive as `Msg::Devices` on `tx`.
pub fn spawn(
    client: GraphClient,
    config: Config,
    audit: StoreClient,
    actor: Actor,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<DevicesCmd> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let feed = Feed {
        client,
        config,
        audit,
        actor,
        tx,
    };
    let tx = feed.tx.clone();
    crate::runtime::supervise::spawn("devices feed", tx, feed.run(cmd_rx, cancel));
    cmd_tx
}

struct Feed {
    client: GraphClient,
    config: Config,
    audit: StoreClient,
    actor: Actor,
    tx: mpsc::Sender<Msg>,
}

impl Feed {
    async fn run(
        mut self,
        mut cmds: mpsc::UnboundedReceiver<DevicesCmd>,
        cancel: CancellationToken,
    ) {
        // Beside the commands, so a slow role check never holds up a detail or a sync.
        let (client, config, actor, tx) = (
            self.client.clone(),
            self.config.clone(),
            self.actor.clone(),
            self.tx.clone(),
        );
        let role = tokio::spawn(async move {
            let authority = match actor.require() {
                Ok(actor) => devices::check_authority(&client, &config, &actor)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            let _ = tx
                .send(Msg::Devices(DevicesMsg::Authority(authority)))
                .await;
        });
        let mut fetch: Option<JoinHandle<()>> = None;
        loop {
            let cmd = tokio::select! {
                _ = cancel.cancelled() => break,
                cmd = cmds.recv() => match cmd {
                    Some(c) => c,
                    None => break,
                },
            };
            match cmd {
                DevicesCmd::Show { generation, key } => {
                    // The newest detail wins; the one in flight is no longer wanted.
                    if let Some(old) = fetch.take() {
                        old.abort();
                    }
                    let (client, tx) = (self.client.clone(), self.tx.clone());
                    fetch = Some(tokio::spawn(show(client, tx, generation, key)));
                }
                DevicesCmd::Sync { serial, key } => {
                    let result = self.sync(&serial, &key).await;
                    if self
                        .send(DevicesMsg::Synced { serial, result })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                DevicesCmd::Destructive(req) => {
                    let result = match self.actor.require() {
                        Ok(actor) => {
                            let ctx = ActionContext {
                                client: &self.client,
                                config: &self.config,
                                audit: &self.audit,
                                actor: &actor,
                                now: &Utc::now,
                            };
                            // The typed serial in the modal was the final question.
                            devices::run_destructive(ctx, &req, |_| true)
                                .await
                                .map_err(|e| ActionFailure {
                                    refused: matches!(e, DevicesError::Refused(_)),
                                    message: match e {
                                        DevicesError::Refused(r) => r.to_string(),
                                        other => other.to_string(),
                                    },
                                })
                        }
                        Err(message) => Err(ActionFailure {
                            refused: true,
                            message,
                        }),
                    };
                    let serial = req.serial.trim().to_string();
                    if self
                        .send(DevicesMsg::Acted { serial, result })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        role.abort();
        if let Some(f) = fetch {
            f.abort();
        }
    }

    async fn send(&self, m: DevicesMsg) -> Result<(), ()> {
        self.tx.send(Msg::Devices(m)).await.map_err(|_| ())
    }

    /// `syncDevice` with an audit record before and after, as the account signed in now.
    async fn sync(&mut self, serial: &str, key: &DeviceKey) -> Result<(), String> {
        let actor = self.actor.require()?;
        devices::sync_audited(&self.client, &self.audit, &actor, &Utc::now, serial, key)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// One detail fetch: the device at once, then its deployment row (a report export, seconds).
async fn show(client: GraphClient, tx: mpsc::Sender<Msg>, generation: u64, key: DeviceKey) {
    let detail = devices::show(&client, &key, false).await;
    let found = detail
        .as_ref()
        .ok()
        .map(|d| (d.id.clone(), d.serial.clone()));
    let result = detail.map(Box::new).map_err(|e| e.to_string());
    if tx
        .send(Msg::Devices(DevicesMsg::Detail { generation, result }))
        .await
        .is_err()
    {
        return;
    }
    let Some((id, serial)) = found else {
        return;
    };
    let result = devices::show::deployment_of(&client, &id, &serial)
        .await
        .map_err(|e| e.to_string());
    let _ = tx
        .send(Msg::Devices(DevicesMsg::Deployment { generation, result }))
        .await;
}

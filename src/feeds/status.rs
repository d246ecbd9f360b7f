//! The status feed: runs the status poller (`status::poll`) in a loop and sends the whole table
//! to the app. One cycle in flight; commands that arrive meanwhile are coalesced.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

use crate::app::Msg;
use crate::app::status::{StatusCmd, StatusMsg};
use crate::config::Config;
use crate::graph::{GraphClient, GraphError};
use crate::status::plan;
use crate::status::poll::Poller;
use crate::store::{QueueEntry, StoreClient};

/// How long the feed waits after the queue changed before it polls (a burst of scans is one poll).
pub const QUEUE_SETTLE: std::time::Duration = std::time::Duration::from_millis(400);

/// Starts the status feed. Send `StatusCmd`s on the returned channel; results arrive as
/// `Msg::Status` stamped with the generation of the latest command seen. `queue` carries the
/// local queue's entries (the console publishes it whenever the queue changes).
pub fn spawn(
    client: GraphClient,
    config: Config,
    queue: watch::Receiver<Vec<Arc<QueueEntry>>>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<StatusCmd> {
    spawn_poller(Poller::new(client, config), queue, tx, cancel)
}

/// [`spawn`] with a poller set up by the caller (e.g. reading Autopilot registrations).
pub fn spawn_poller(
    poller: Poller,
    queue: watch::Receiver<Vec<Arc<QueueEntry>>>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<StatusCmd> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    crate::runtime::supervise::spawn(
        "status feed",
        tx.clone(),
        run(poller, queue, cmd_rx, tx, cancel),
    );
    cmd_tx
}

/// [`spawn`], keeping the observed stage timeline in the local store: the feed loads it before
/// its first poll and records every stage change through the store thread (see
/// `Poller::keep_timeline`), so "in stage since" survives a restart.
pub fn spawn_with_store(
    client: GraphClient,
    config: Config,
    store: StoreClient,
    queue: watch::Receiver<Vec<Arc<QueueEntry>>>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<StatusCmd> {
    spawn_poller_with_store(Poller::new(client, config), store, queue, tx, cancel)
}

/// [`spawn_with_store`] with a poller set up by the caller (e.g. reading Autopilot
/// registrations).
pub fn spawn_poller_with_store(
    mut poller: Poller,
    store: StoreClient,
    queue: watch::Receiver<Vec<Arc<QueueEntry>>>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<StatusCmd> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let feed_tx = tx.clone();
    crate::runtime::supervise::spawn("status feed", tx.clone(), async move {
        if let Err(e) = poller.keep_timeline(store).await {
            tracing::warn!(error = %e, "the stage timeline could not be loaded; starting afresh");
        }
        run(poller, queue, cmd_rx, feed_tx, cancel).await
    });
    cmd_tx
}

/// One command: the newest scope and generation win; a refresh asked for at any point makes the
/// next cycle read every device again.
fn apply(poller: &mut Poller, generation: &mut u64, cmd: StatusCmd) {
    match cmd {
        StatusCmd::Refresh { generation: g } => {
            *generation = (*generation).max(g);
            poller.refresh_all();
        }
        StatusCmd::Scope {
            all_staged,
            generation: g,
        } => {
            *generation = (*generation).max(g);
            poller.all_staged = all_staged;
        }
    }
}

/// The feed loop: one cycle in flight; commands that arrive meanwhile are coalesced (the newest
/// scope and generation win) and answered by one immediate cycle.
pub async fn run(
    mut poller: Poller,
    mut queue: watch::Receiver<Vec<Arc<QueueEntry>>>,
    mut cmd_rx: mpsc::UnboundedReceiver<StatusCmd>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) {
    let mut generation = 0u64;
    let mut throttled = 0u32;
    let mut retry_after = None;
    let mut period = poller.cadence().fast;
    let mut tick = interval_at(Instant::now(), period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut queue_open = true;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            // The bench changed the queue (a scan, an upload registered): poll soon, once the
            // burst has settled, so the Status pane follows the bench within seconds.
            changed = queue.changed(), if queue_open => {
                if changed.is_err() {
                    queue_open = false;
                    continue;
                }
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(QUEUE_SETTLE) => {}
                }
                queue.borrow_and_update();
            }
            cmd = cmd_rx.recv() => {
                let Some(cmd) = cmd else { break };
                apply(&mut poller, &mut generation, cmd);
                // Everything queued meanwhile joins this one cycle.
                while let Ok(more) = cmd_rx.try_recv() {
                    apply(&mut poller, &mut generation, more);
                }
            }
            _ = tick.tick() => {}
        }
        if tx
            .send(Msg::Status(StatusMsg::Loading { generation }))
            .await
            .is_err()
        {
            break;
        }
        let entries = queue.borrow().clone();
        let now = Utc::now();
        let msg = tokio::select! {
            _ = cancel.cancelled() => break,
            result = poller.cycle(&entries, now) => match result {
                Ok(rows) => {
                    throttled = 0;
                    StatusMsg::Snapshot { generation, at: now, rows }
                }
                Err(e) => {
                    if let GraphError::Throttled { retry_after: ra, .. } = &e {
                        throttled += 1;
                        retry_after = *ra;
                    }
                    StatusMsg::Failed { generation, reason: e.to_string() }
                }
            },
        };
        if tx.send(Msg::Status(msg)).await.is_err() {
            break;
        }
        let next = plan::next_interval(&poller.cadence(), poller.moving, throttled, retry_after);
        if next != period {
            period = next;
        }
        tick = interval_at(Instant::now() + period, period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
}

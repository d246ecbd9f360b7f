//! The review feed: one reader task (refresh on a slow interval or on `ReviewCmd::Refresh`, one
//! request in flight, each result stamped with a generation) and one writer task that owns the
//! audit sink (audit before, write, audit after, then read back until confirmed or 10 minutes).

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::app::Msg;
use crate::app::review::{ReviewCmd, ReviewMsg};
use crate::config::Config;
use crate::graph::GraphClient;
use crate::review::ApplyJob;
use crate::review::fetch::Fetcher;
use crate::review::write::{AuditSink, Writer};

/// How often the feed looks again, and how often it reads back changes it wrote.
#[derive(Debug, Clone, Copy)]
pub struct FeedTiming {
    pub poll: Duration,
    pub confirm_every: Duration,
}

impl Default for FeedTiming {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(120),
            confirm_every: Duration::from_secs(15),
        }
    }
}

/// Starts the review feed with the default timing. `audit` receives every `Before`/`After` record
/// (an `AuditLog` opened on the data dir); `actor` is who the audit names (the signed-in account).
/// Send `ReviewCmd`s on the returned channel; answers arrive as `Msg::Review` on `tx`.
pub fn spawn(
    client: GraphClient,
    config: Config,
    audit: Box<dyn AuditSink>,
    actor: String,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<ReviewCmd> {
    spawn_with(
        client,
        config,
        audit,
        actor,
        tx,
        cancel,
        FeedTiming::default(),
    )
}

/// [`spawn`] with explicit timing (tests use short intervals).
pub fn spawn_with(
    client: GraphClient,
    config: Config,
    audit: Box<dyn AuditSink>,
    actor: String,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    timing: FeedTiming,
) -> mpsc::UnboundedSender<ReviewCmd> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (job_tx, job_rx) = mpsc::unbounded_channel();
    let writer = Writer::new(client.clone(), audit, &actor);
    tokio::spawn(write_loop(
        writer,
        job_rx,
        cmd_tx.clone(),
        tx.clone(),
        cancel.clone(),
        timing.confirm_every,
    ));
    tokio::spawn(read_loop(
        client,
        config,
        cmd_rx,
        job_tx,
        tx,
        cancel,
        timing.poll,
    ));
    cmd_tx
}

async fn read_loop(
    client: GraphClient,
    config: Config,
    mut cmds: mpsc::UnboundedReceiver<ReviewCmd>,
    jobs: mpsc::UnboundedSender<Vec<ApplyJob>>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    poll: Duration,
) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut generation = 0u64;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            cmd = cmds.recv() => match cmd {
                None => break,
                Some(ReviewCmd::Apply(batch)) => {
                    if jobs.send(batch).is_err() {
                        break;
                    }
                    continue;
                }
                Some(ReviewCmd::Refresh) => {
                    // Several refreshes queued become one.
                    while let Ok(ReviewCmd::Refresh) = cmds.try_recv() {}
                }
            },
            _ = tick.tick() => {}
        }
        generation += 1;
        if tx.send(Msg::Review(ReviewMsg::Loading)).await.is_err() {
            break;
        }
        let msg = match Fetcher::new(&client, &config).candidates().await {
            Ok(candidates) => ReviewMsg::Loaded {
                generation,
                at: Utc::now(),
                candidates,
            },
            Err(e) => ReviewMsg::Failed {
                generation,
                reason: e.to_string(),
            },
        };
        if tx.send(Msg::Review(msg)).await.is_err() {
            break;
        }
    }
}

async fn write_loop(
    mut writer: Writer,
    mut incoming: mpsc::UnboundedReceiver<Vec<ApplyJob>>,
    refresh: mpsc::UnboundedSender<ReviewCmd>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    confirm_every: Duration,
) {
    let mut confirming: Vec<ApplyJob> = Vec::new();
    let mut tick = tokio::time::interval(confirm_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let progress = |job: &ApplyJob| {
        Msg::Review(ReviewMsg::Progress {
            device_id: job.device_id.clone(),
            state: job.state.clone(),
        })
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            batch = incoming.recv() => {
                let Some(batch) = batch else { break };
                for mut job in batch {
                    writer.write(&mut job).await;
                    if tx.send(progress(&job)).await.is_err() {
                        return;
                    }
                    if !job.state.is_final() {
                        confirming.push(job);
                    }
                }
            }
            _ = tick.tick(), if !confirming.is_empty() => {
                match writer.confirm(&mut confirming, Utc::now()).await {
                    Ok(changed) => {
                        for i in &changed {
                            if tx.send(progress(&confirming[*i])).await.is_err() {
                                return;
                            }
                        }
                        if !changed.is_empty() {
                            confirming.retain(|j| !j.state.is_final());
                            let _ = refresh.send(ReviewCmd::Refresh);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "read-back failed; trying again"),
                }
            }
        }
    }
}

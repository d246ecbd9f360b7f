//! The review feed: one reader task (refresh on a slow interval or on `ReviewCmd::Refresh`, one
//! request in flight, each result stamped with a generation) and one writer task (audit before,
//! write, audit after, then read back until confirmed or 10 minutes; a rejection durable first,
//! then its audit record). Audit records and rejections go to the store thread, the one writer of
//! both; every record names the account signed in at the moment it is written.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::app::Msg;
use crate::app::review::{Lift, REFRESH_EVERY, Reject, ReviewCmd, ReviewMsg};
use crate::config::Config;
use crate::graph::GraphClient;
use crate::review::fetch::Fetcher;
use crate::review::write::Writer;
use crate::review::{ApplyJob, CONFIRM_TIMEOUT, Rejection, RejectionLine};
use crate::store::{Actor, AuditPhase, AuditRecord, StoreClient};

/// The audit `action` of a rejected reassignment.
pub const REJECT_ACTION: &str = "reject_primary_user_change";
/// The audit `action` of a rejection the lead lifted (undo, or the rejected view).
pub const LIFT_ACTION: &str = "lift_primary_user_rejection";

/// How often the feed looks again, and how often it reads back changes it wrote.
#[derive(Debug, Clone, Copy)]
pub struct FeedTiming {
    pub poll: Duration,
    pub confirm_every: Duration,
}

impl Default for FeedTiming {
    fn default() -> Self {
        Self {
            poll: REFRESH_EVERY,
            confirm_every: Duration::from_secs(15),
        }
    }
}

/// Starts the review feed with the default timing. `store` is the store thread: it receives every
/// `Before`/`After` record and every rejection, and its remembered rejections go to the pane first
/// (`ReviewMsg::Remembered`); `actor` says who is signed in at the moment of each write. Send
/// `ReviewCmd`s on the returned channel; answers arrive as `Msg::Review`.
pub fn spawn(
    client: GraphClient,
    config: Config,
    store: StoreClient,
    actor: Actor,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<ReviewCmd> {
    spawn_with(
        client,
        config,
        store,
        actor,
        tx,
        cancel,
        FeedTiming::default(),
    )
}

/// [`spawn`] with explicit timing (tests use short intervals).
#[allow(clippy::too_many_arguments)]
pub fn spawn_with(
    client: GraphClient,
    config: Config,
    store: StoreClient,
    actor: Actor,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    timing: FeedTiming,
) -> mpsc::UnboundedSender<ReviewCmd> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (job_tx, job_rx) = mpsc::unbounded_channel();
    let writer = Writer::new(client.clone(), Arc::new(store.clone()), actor);
    crate::runtime::supervise::spawn(
        "review writer",
        tx.clone(),
        write_loop(
            writer,
            store.clone(),
            job_rx,
            cmd_tx.clone(),
            tx.clone(),
            cancel.clone(),
            timing.confirm_every,
        ),
    );
    crate::runtime::supervise::spawn(
        "review feed",
        tx.clone(),
        read_loop(
            client,
            config,
            store,
            cmd_rx,
            job_tx,
            tx,
            cancel,
            timing.poll,
        ),
    );
    cmd_tx
}

#[allow(clippy::too_many_arguments)]
async fn read_loop(
    client: GraphClient,
    config: Config,
    store: StoreClient,
    mut cmds: mpsc::UnboundedReceiver<ReviewCmd>,
    writes: mpsc::UnboundedSender<ReviewCmd>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    poll: Duration,
) {
    // Before any rows, so a remembered rejection hides its row from the first load on. Without
    // them no row is shown at all: a rejected row must never look proposable.
    let remembered = match store.rejections().await {
        Ok(r) => r.iter().cloned().collect::<Vec<Rejection>>(),
        Err(reason) => {
            let reason = format!("cannot read the remembered rejections: {reason}");
            let _ = tx
                .send(Msg::Review(ReviewMsg::Failed {
                    generation: 0,
                    reason,
                }))
                .await;
            return;
        }
    };
    if tx
        .send(Msg::Review(ReviewMsg::Remembered(remembered)))
        .await
        .is_err()
    {
        return;
    }
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut generation = 0u64;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            cmd = cmds.recv() => match cmd {
                None => break,
                Some(ReviewCmd::Refresh) => {
                    // Several refreshes queued become one; anything else queued goes to the writer.
                    while let Ok(next) = cmds.try_recv() {
                        if next != ReviewCmd::Refresh && writes.send(next).is_err() {
                            return;
                        }
                    }
                }
                Some(other) => {
                    if writes.send(other).is_err() {
                        break;
                    }
                    continue;
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
    store: StoreClient,
    mut incoming: mpsc::UnboundedReceiver<ReviewCmd>,
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
            cmd = incoming.recv() => match cmd {
                None => break,
                Some(ReviewCmd::Apply(batch)) => {
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
                Some(ReviewCmd::Reject(rejects)) => {
                    let msg = reject(&writer, &store, rejects).await;
                    if tx.send(Msg::Review(msg)).await.is_err() {
                        return;
                    }
                }
                Some(ReviewCmd::Lift(lifts)) => {
                    let msg = lift(&writer, &store, lifts).await;
                    if tx.send(Msg::Review(msg)).await.is_err() {
                        return;
                    }
                }
                Some(ReviewCmd::Forget(stale)) => {
                    let now = Utc::now();
                    let lines = stale
                        .into_iter()
                        .map(|(device_id, fingerprint)| RejectionLine::Cleared {
                            device_id,
                            fingerprint,
                            at: now,
                        })
                        .collect();
                    if let Err(e) = store.apply_rejections(lines).await {
                        // Harmless: a stale rejection no longer matches the device's data.
                        tracing::warn!(error = %e, "could not record forgotten rejections");
                    }
                }
                Some(ReviewCmd::Refresh) => {}
            },
            _ = tick.tick(), if !confirming.is_empty() => {
                match writer.confirm(&mut confirming, Utc::now(), Some(CONFIRM_TIMEOUT)).await {
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

/// Makes the rejections durable, then audits each one (who, when, what was proposed).
async fn reject(writer: &Writer, store: &StoreClient, rejects: Vec<Reject>) -> ReviewMsg {
    let now = Utc::now();
    let device_ids = rejects.iter().map(|r| r.device_id.clone()).collect();
    // Who is signed in now: the record and the rejection name the same account.
    let actor = match writer.actor().require() {
        Ok(a) => a,
        Err(e) => {
            return ReviewMsg::RejectSaved {
                device_ids,
                result: Err(e),
                audit_error: None,
                by: String::new(),
                at: now,
            };
        }
    };
    let by = actor.clone();
    let lines = rejects
        .iter()
        .map(|r| {
            RejectionLine::Rejected(Rejection {
                device_id: r.device_id.clone(),
                serial: r.serial.clone(),
                fingerprint: r.fingerprint.clone(),
                proposed_upn: r.proposed_upn.clone(),
                by: actor.clone(),
                at: now,
            })
        })
        .collect();
    let result = store.apply_rejections(lines).await;
    if result.is_err() {
        return ReviewMsg::RejectSaved {
            device_ids,
            result,
            audit_error: None,
            by,
            at: now,
        };
    }
    let mut audit_error = None;
    for r in &rejects {
        if let Err(e) = writer.record(audit_record(r, &actor, now)).await {
            tracing::error!(device = %r.device_id, error = %e, "rejection not audited");
            audit_error = Some(e);
        }
    }
    ReviewMsg::RejectSaved {
        device_ids,
        result: Ok(()),
        audit_error,
        by,
        at: now,
    }
}

/// Forgets the rejections durably, then audits each lifting as the account signed in now.
async fn lift(writer: &Writer, store: &StoreClient, lifts: Vec<Lift>) -> ReviewMsg {
    let now = Utc::now();
    let device_ids: Vec<String> = lifts.iter().map(|l| l.device_id.clone()).collect();
    let actor = match writer.actor().require() {
        Ok(a) => a,
        Err(e) => {
            return ReviewMsg::LiftSaved {
                device_ids,
                result: Err(e),
                audit_error: None,
            };
        }
    };
    let lines = lifts
        .iter()
        .map(|l| RejectionLine::Cleared {
            device_id: l.device_id.clone(),
            fingerprint: l.fingerprint.clone(),
            at: now,
        })
        .collect();
    let result = store.apply_rejections(lines).await;
    if result.is_err() {
        return ReviewMsg::LiftSaved {
            device_ids,
            result,
            audit_error: None,
        };
    }
    let mut audit_error = None;
    for l in &lifts {
        if let Err(e) = writer.record(lift_record(l, &actor, now)).await {
            tracing::error!(device = %l.device_id, error = %e, "lifted rejection not audited");
            audit_error = Some(e);
        }
    }
    ReviewMsg::LiftSaved {
        device_ids,
        result: Ok(()),
        audit_error,
    }
}

/// One audit line per lifted rejection (nothing is sent to Graph): phase `after`, result
/// `lifted`, the proposal that is back in review, and who had rejected it.
pub fn lift_record(l: &Lift, actor: &str, now: chrono::DateTime<Utc>) -> AuditRecord {
    let mut rec = AuditRecord::before(now, actor, LIFT_ACTION);
    rec.phase = AuditPhase::After;
    rec.device_id = Some(l.device_id.clone());
    rec.serial = Some(l.serial.clone());
    rec.from = l.from_upn.clone();
    rec.to = l.proposed_upn.clone();
    rec.result = Some("lifted".into());
    if let Some(by) = &l.rejected_by {
        rec.options = serde_json::json!({ "rejected_by": by });
    }
    rec
}

/// One audit line per rejection: a decision with its outcome known, so a single `after` record
/// with result `rejected` (no change was sent).
pub fn audit_record(r: &Reject, actor: &str, now: chrono::DateTime<Utc>) -> AuditRecord {
    let mut rec = AuditRecord::before(now, actor, REJECT_ACTION);
    rec.phase = AuditPhase::After;
    rec.device_id = Some(r.device_id.clone());
    rec.serial = Some(r.serial.clone());
    rec.from = Some(r.from_upn.clone());
    rec.to = r.proposed_upn.clone();
    rec.verdict = Some(r.verdict.clone());
    rec.result = Some("rejected".into());
    rec
}

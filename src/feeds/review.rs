//! The review feed: one reader task (refresh on a slow interval or on `ReviewCmd::Refresh`, one
//! request in flight, each result stamped with a generation) and one writer task that owns the
//! audit sink (audit before, write, audit after, then read back until confirmed or 10 minutes) and
//! the rejections file (rejection durable first, then its audit record).

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
use crate::review::write::{AuditSink, Writer};
use crate::review::{ApplyJob, CONFIRM_TIMEOUT, Rejection, RejectionLine, RejectionLog};
use crate::store::{AuditPhase, AuditRecord};

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

/// Starts the review feed with the default timing. `audit` receives every `Before`/`After` record
/// (an `AuditLog` opened on the data dir); `rejections` is the data dir's rejections file (its
/// contents go to the pane first, as `ReviewMsg::Remembered`); `actor` is who the audit names (the
/// signed-in account). Send `ReviewCmd`s on the returned channel; answers arrive as `Msg::Review`.
pub fn spawn(
    client: GraphClient,
    config: Config,
    audit: Box<dyn AuditSink>,
    rejections: RejectionLog,
    actor: String,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<ReviewCmd> {
    spawn_with(
        client,
        config,
        audit,
        rejections,
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
    audit: Box<dyn AuditSink>,
    rejections: RejectionLog,
    actor: String,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    timing: FeedTiming,
) -> mpsc::UnboundedSender<ReviewCmd> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (job_tx, job_rx) = mpsc::unbounded_channel();
    let writer = Writer::new(client.clone(), audit, &actor);
    let remembered: Vec<Rejection> = rejections.loaded().iter().cloned().collect();
    crate::runtime::supervise::spawn(
        "review writer",
        tx.clone(),
        write_loop(
            writer,
            rejections,
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
            remembered,
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
    remembered: Vec<Rejection>,
    mut cmds: mpsc::UnboundedReceiver<ReviewCmd>,
    writes: mpsc::UnboundedSender<ReviewCmd>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    poll: Duration,
) {
    // Before any rows, so a remembered rejection hides its row from the first load on.
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
    rejections: RejectionLog,
    mut incoming: mpsc::UnboundedReceiver<ReviewCmd>,
    refresh: mpsc::UnboundedSender<ReviewCmd>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
    confirm_every: Duration,
) {
    let mut rejections = Some(rejections);
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
                    let msg = reject(&mut writer, &mut rejections, rejects).await;
                    if tx.send(Msg::Review(msg)).await.is_err() {
                        return;
                    }
                }
                Some(ReviewCmd::Lift(lifts)) => {
                    let msg = lift(&mut writer, &mut rejections, lifts).await;
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
                    if let Err(e) = append(&mut rejections, lines).await {
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

/// Appends on a blocking thread (the file is fsync'd). The log is out of `slot` meanwhile; should
/// that thread die, every later append reports the loss.
async fn append(slot: &mut Option<RejectionLog>, lines: Vec<RejectionLine>) -> Result<(), String> {
    let mut log = slot.take().ok_or("the rejections file was lost")?;
    let (log, result) = tokio::task::spawn_blocking(move || {
        let r = log.append(&lines).map_err(|e| e.to_string());
        (log, r)
    })
    .await
    .map_err(|e| format!("rejections writer: {e}"))?;
    *slot = Some(log);
    result
}

/// Makes the rejections durable, then audits each one (who, when, what was proposed).
async fn reject(
    writer: &mut Writer,
    log: &mut Option<RejectionLog>,
    rejects: Vec<Reject>,
) -> ReviewMsg {
    let now = Utc::now();
    let lines = rejects
        .iter()
        .map(|r| {
            RejectionLine::Rejected(Rejection {
                device_id: r.device_id.clone(),
                serial: r.serial.clone(),
                fingerprint: r.fingerprint.clone(),
                proposed_upn: r.proposed_upn.clone(),
                by: writer.actor().into(),
                at: now,
            })
        })
        .collect();
    let result = append(log, lines).await;
    let device_ids = rejects.iter().map(|r| r.device_id.clone()).collect();
    let by = writer.actor().to_string();
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
        if let Err(e) = writer.record(audit_record(r, writer.actor(), now)).await {
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

/// Forgets the rejections durably (a `cleared` line each), then audits each lifting.
async fn lift(writer: &mut Writer, log: &mut Option<RejectionLog>, lifts: Vec<Lift>) -> ReviewMsg {
    let now = Utc::now();
    let lines = lifts
        .iter()
        .map(|l| RejectionLine::Cleared {
            device_id: l.device_id.clone(),
            fingerprint: l.fingerprint.clone(),
            at: now,
        })
        .collect();
    let result = append(log, lines).await;
    let device_ids = lifts.iter().map(|l| l.device_id.clone()).collect();
    if result.is_err() {
        return ReviewMsg::LiftSaved {
            device_ids,
            result,
            audit_error: None,
        };
    }
    let mut audit_error = None;
    for l in &lifts {
        if let Err(e) = writer.record(lift_record(l, writer.actor(), now)).await {
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

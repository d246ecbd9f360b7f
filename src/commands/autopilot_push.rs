//! `intake push` for entries queued from hash files: they are Autopilot registrations, posted
//! with `autopilot import`'s own code ([`crate::autopilot::import::Run`]: batches, polling with
//! backoff, error codes in plain words, deleting finished import records, audit before and
//! after), while every import id and import state is written to the store as it comes. An import
//! in flight when an earlier run stopped is read by its id, never posted again
//! ([`crate::autopilot::uploader`]).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use crate::app::intake::UploadResult;
use crate::autopilot::bench::{self, Registration};
use crate::autopilot::import::{Pacing, Progress, Record, Run};
use crate::autopilot::uploader;
use crate::graph::GraphClient;
use crate::store::queue::apply;
use crate::store::{Actor, AuditLog, EntryState, Queue, QueueEntry, QueueEvent, Store};
use crate::text::escape;

/// Uploads `hashes` (queue entries with a registration in `regs`). Returns (registered, rejected,
/// failed) counts; every outcome is saved in the queue.
pub(crate) async fn push(
    db: &mut Store,
    queue: &mut Queue,
    regs: &HashMap<crate::serial::SerialKey, Registration>,
    hashes: &[QueueEntry],
    client: &GraphClient,
    data_dir: &Path,
    actor: &str,
) -> anyhow::Result<(usize, usize, usize)> {
    let start: Vec<QueueEvent> = hashes
        .iter()
        .map(|e| QueueEvent::State {
            serial: e.serial.clone(),
            state: EntryState::Uploading,
            message: Some("importing to Autopilot".into()),
        })
        .collect();
    for e in &start {
        apply(queue, e);
    }
    db.append(&start)?;
    let mut audit = AuditLog::open(data_dir)?;
    let mut save_error: Option<String> = None;
    let outcomes = {
        let mut record = |p: Progress| {
            if let Err(e) = db.write("record an Autopilot import", |tx| {
                bench::record(tx, &p, Utc::now())
            }) {
                save_error.get_or_insert_with(|| e.to_string());
            }
        };
        let mut err = std::io::stderr();
        let run = Run {
            client,
            record: Record::Direct {
                audit: &mut audit,
                progress: Some(&mut record),
            },
            actor: Actor::fixed(actor),
            pacing: Pacing {
                poll_first: Duration::from_secs(1),
                poll_max: Duration::from_secs(15),
                ..Pacing::default()
            },
            wait: false,
            out: &mut err,
        };
        uploader::upload(run, hashes, regs).await
    };
    if let Some(e) = save_error {
        eprintln!("stagehand: an Autopilot import state could not be saved: {e}");
    }
    let (mut registered, mut rejected, mut failed) = (0, 0, 0);
    let mut events = Vec::new();
    for o in outcomes {
        let (state, message) = match o.result {
            UploadResult::Registered { message, .. } => {
                registered += 1;
                (EntryState::Registered, message)
            }
            UploadResult::Rejected { message } => {
                rejected += 1;
                eprintln!("{}: rejected: {}", escape(&o.serial), escape(&message));
                (EntryState::Rejected, message)
            }
            UploadResult::Failed { message } => {
                failed += 1;
                eprintln!("{}: failed: {}", escape(&o.serial), escape(&message));
                (EntryState::Queued, message)
            }
        };
        events.push(QueueEvent::State {
            serial: o.serial,
            state,
            message: Some(message),
        });
    }
    for e in &events {
        apply(queue, e);
    }
    db.append(&events)?;
    Ok((registered, rejected, failed))
}

//! `intake push` for entries queued from hash files: they are Autopilot registrations, posted
//! with `autopilot import`'s own code ([`crate::autopilot::import::Run`]: batches, polling with
//! backoff, error codes in plain words, deleting finished import records, audit before and
//! after), while every import id and import state is written to the store as it comes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use crate::autopilot::bench::{self, Registration};
use crate::autopilot::import::{Outcome, Pacing, Planned, Progress, Run};
use crate::graph::GraphClient;
use crate::store::queue::{apply, serial_key};
use crate::store::{AuditLog, EntryState, Queue, QueueEntry, QueueEvent, Store};
use crate::text::escape;

/// Uploads `hashes` (queue entries with a registration in `regs`). Returns (registered, rejected,
/// failed) counts; every outcome is saved in the queue.
pub(crate) async fn push(
    db: &mut Store,
    queue: &mut Queue,
    regs: &HashMap<String, Registration>,
    hashes: &[QueueEntry],
    client: &GraphClient,
    data_dir: &Path,
    actor: &str,
) -> anyhow::Result<(usize, usize, usize)> {
    let planned: Vec<Planned> = hashes
        .iter()
        .filter_map(|e| regs.get(&serial_key(&e.serial)).map(|r| planned(e, r)))
        .collect();
    let start: Vec<QueueEvent> = planned
        .iter()
        .map(|p| QueueEvent::State {
            serial: p.serial.clone(),
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
    let report = {
        let mut record = |p: Progress| {
            if let Err(e) = db.write("record an Autopilot import", |tx| {
                bench::record(tx, &p, Utc::now())
            }) {
                save_error.get_or_insert_with(|| e.to_string());
            }
        };
        let mut err = std::io::stderr();
        Run {
            client,
            audit: &mut audit,
            actor,
            pacing: Pacing {
                poll_first: Duration::from_secs(1),
                poll_max: Duration::from_secs(15),
                ..Pacing::default()
            },
            wait: false,
            out: &mut err,
            progress: Some(&mut record),
        }
        .import(planned, 0)
        .await
    };
    if let Some(e) = save_error {
        eprintln!("stagehand: an Autopilot import state could not be saved: {e}");
    }
    let (mut registered, mut rejected, mut failed) = (0, 0, 0);
    let mut events = Vec::new();
    for d in report.devices {
        let (state, message) = match d.outcome {
            Outcome::Imported { .. } => {
                registered += 1;
                (
                    EntryState::Registered,
                    "imported to Autopilot; waiting for profile assignment".to_string(),
                )
            }
            Outcome::Assigned { profile, .. } => {
                registered += 1;
                (
                    EntryState::Registered,
                    format!("profile assigned ({profile})"),
                )
            }
            Outcome::AlreadyRegistered(m) => {
                registered += 1;
                (EntryState::Registered, m)
            }
            Outcome::ImportError(m) | Outcome::ProfileFailed(m) => {
                rejected += 1;
                eprintln!("{}: rejected: {}", escape(&d.serial), escape(&m));
                (EntryState::Rejected, m)
            }
            Outcome::Failed(m) => {
                failed += 1;
                eprintln!("{}: failed: {}", escape(&d.serial), escape(&m));
                (EntryState::Queued, m)
            }
            Outcome::StillImporting => {
                failed += 1;
                let m = "still importing in Intune; run intake push again later".to_string();
                eprintln!("{}: {m}", escape(&d.serial));
                (EntryState::Uploading, m)
            }
        };
        events.push(QueueEvent::State {
            serial: d.serial,
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

fn planned(e: &QueueEntry, r: &Registration) -> Planned {
    let (file, line) = match r.source.rsplit_once(':') {
        Some((f, l)) => (f, l.parse().unwrap_or(0)),
        None => (r.source.as_str(), 0),
    };
    Planned {
        file: PathBuf::from(file),
        line,
        serial: e.serial.clone(),
        hash_text: r.hash_text.clone(),
        product_id: r.product_id.clone(),
        group_tag: r.group_tag.clone(),
        assigned_user: r.assigned_user.clone(),
    }
}

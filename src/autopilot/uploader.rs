//! The uploader's part for queue entries that came from hash files: one code path for
//! `intake push` and the console's uploader (`feeds::intake`). Each entry's registration says
//! where its import stands, so a restart never posts a hash twice:
//!
//! - `queued` or `error` (a retry after the cause was fixed): posted as a new import;
//! - `importing` with an import id: that import record is read by its id, not posted again
//!   (posting again would only answer 806 and lose the import's own answer);
//! - `complete` or `already_registered`: nothing to send, the entry is registered.
//!
//! The imports themselves run through [`super::import::Run`] (batches, polling with backoff,
//! codes in plain words, finished records deleted, audit before and after).

use std::collections::HashMap;
use std::path::PathBuf;

use super::bench::{ImportPhase, Registration};
use super::import::{Outcome, Planned, Report, Run};
use crate::app::intake::{UploadOutcome, UploadResult};
use crate::serial::SerialKey;
use crate::store::QueueEntry;

/// What the entry shows while its profile is not assigned yet.
pub const WAITING: &str = "imported to Autopilot; waiting for profile assignment";

/// Splits hash entries into imports to run and entries already settled by an earlier run.
pub fn prepare(
    entries: &[QueueEntry],
    regs: &HashMap<SerialKey, Registration>,
) -> (Vec<Planned>, Vec<UploadOutcome>) {
    let mut planned = Vec::new();
    let mut done = Vec::new();
    for e in entries {
        let Some(r) = regs.get(&SerialKey::new(&e.serial)) else {
            continue;
        };
        let settled = match r.import_state {
            ImportPhase::Complete => Some(WAITING.to_string()),
            ImportPhase::AlreadyRegistered => Some(
                r.message
                    .clone()
                    .unwrap_or_else(|| "already registered in Autopilot".into()),
            ),
            _ => None,
        };
        match settled {
            Some(message) => done.push(UploadOutcome {
                serial: e.serial.clone(),
                result: UploadResult::Registered {
                    imported_id: None,
                    message,
                },
            }),
            None => planned.push(plan(e, r)),
        }
    }
    (planned, done)
}

fn plan(e: &QueueEntry, r: &Registration) -> Planned {
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
        import_id: match r.import_state {
            ImportPhase::Importing => r.import_id.clone(),
            _ => None,
        },
    }
}

/// Each device of a run as the intake queue records it. 806 counts as registered; an import
/// still running when the run's bound passed is a transient failure: the next attempt reads
/// it by its id.
pub fn outcomes(report: Report) -> Vec<UploadOutcome> {
    report
        .devices
        .into_iter()
        .map(|d| UploadOutcome {
            serial: d.serial,
            result: match d.outcome {
                Outcome::Imported { .. } => UploadResult::Registered {
                    imported_id: None,
                    message: WAITING.into(),
                },
                Outcome::Assigned { profile, .. } => UploadResult::Registered {
                    imported_id: None,
                    message: format!("profile assigned ({profile})"),
                },
                Outcome::AlreadyRegistered(m) => UploadResult::Registered {
                    imported_id: None,
                    message: m,
                },
                Outcome::ImportError(m) | Outcome::ProfileFailed(m) => {
                    UploadResult::Rejected { message: m }
                }
                Outcome::Failed(m) => UploadResult::Failed { message: m },
                Outcome::StillImporting => UploadResult::Failed {
                    message: "still importing in Intune; its import is read again later".into(),
                },
            },
        })
        .collect()
}

/// Uploads the hash entries among `entries` with `run`; entries without a registration are
/// left out of the answer.
pub async fn upload(
    run: Run<'_>,
    entries: &[QueueEntry],
    regs: &HashMap<SerialKey, Registration>,
) -> Vec<UploadOutcome> {
    let (planned, mut done) = prepare(entries, regs);
    if !planned.is_empty() {
        done.extend(outcomes(run.import(planned, 0).await));
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{IdentifierType, Platform};
    use crate::store::EntryState;

    fn entry(serial: &str) -> QueueEntry {
        QueueEntry {
            serial: serial.into(),
            manufacturer: "LENOVO".into(),
            model: "T14".into(),
            profile: "default".into(),
            platform: Platform::Windows,
            identifier_type: IdentifierType::ManufacturerModelSerial,
            scanned_at: chrono::Utc::now(),
            bench: "b".into(),
            state: EntryState::Uploading,
            message: None,
            note: None,
            imported_id: None,
            attempts: 1,
        }
    }

    #[test]
    fn an_import_in_flight_is_resumed_by_its_id_and_a_finished_one_is_not_sent() {
        let mut regs = HashMap::new();
        let mut a = Registration::queued("PF1", "T0E=", "", None, None, "a.csv:2".into());
        a.import_state = ImportPhase::Importing;
        a.import_id = Some("imp-1".into());
        let mut b = Registration::queued("PF2", "T0E=", "", None, None, "b.csv:2".into());
        b.import_state = ImportPhase::Complete;
        let mut c = Registration::queued("PF3", "T0E=", "", None, None, "c.csv:7".into());
        c.import_state = ImportPhase::Error;
        c.import_id = Some("imp-3".into());
        for r in [a, b, c] {
            regs.insert(SerialKey::new(&r.serial), r);
        }
        let entries = [entry("PF1"), entry("PF2"), entry("PF3"), entry("PLAIN")];
        let (planned, done) = prepare(&entries, &regs);
        assert_eq!(planned.len(), 2);
        assert_eq!(planned[0].import_id.as_deref(), Some("imp-1"));
        // An import that ended in error is posted anew when retried.
        assert_eq!(
            (planned[1].import_id.as_deref(), planned[1].line),
            (None, 7)
        );
        assert_eq!(done.len(), 1);
        assert_eq!(
            done[0].result,
            UploadResult::Registered {
                imported_id: None,
                message: WAITING.into()
            }
        );
    }
}

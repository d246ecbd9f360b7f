//! The uploader: registers queue entries in Intune as corporate identifiers, and entries queued
//! from hash files (`intake import`) as Windows Autopilot imports.
//!
//! Per batch: ask Intune which identities already exist (`searchExistingIdentities`, a read),
//! import the rest with `overwrite: false`, then read back to confirm. Asking first makes a
//! repeat after a crash or an unclear answer safe: what the first attempt created is found and
//! reported registered instead of being imported twice.
//!
//! Entries with a row in `autopilot_registrations` never become corporate identifiers: they go
//! through `intake push`'s own code ([`crate::autopilot::uploader`]: the import posted, its id
//! saved before anything else, polled with backoff, resumed by id after a restart, audited
//! before and after through the store thread with the account signed in at that moment).

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use std::time::Duration;

use crate::app::Msg;
use crate::app::intake::{UploadOutcome, UploadResult};
use crate::autopilot::import::{Pacing, Record, Run};
use crate::config::{IdentifierType, Platform};
use crate::graph::models::{EnrollmentState, ImportedDeviceIdentity, ImportedDeviceIdentityType};
use crate::graph::{GraphClient, GraphError};
use crate::store::QueueEntry;
use crate::store::{Actor, StoreClient};

/// What the intake pane asks of the uploader.
#[derive(Debug)]
pub enum UploaderCmd {
    /// Register these entries; answered with `Msg::Uploaded`.
    Upload(Vec<QueueEntry>),
    /// Delete a corporate identifier; answered with `Msg::IdentityRemoved`.
    Remove { serial: String, imported_id: String },
}

/// What the uploader needs for entries queued from hash files.
#[derive(Clone, Debug)]
pub struct HashImports {
    /// The store thread: registrations are read and import steps saved there, audit records
    /// written there.
    pub store: StoreClient,
    /// Who the audit records name, asked at each write.
    pub actor: Actor,
    /// How long one upload waits for its imports: one still running after that is answered as
    /// a transient failure, and the next attempt reads it by its id.
    pub pacing: Pacing,
}

impl HashImports {
    pub fn new(store: StoreClient, actor: Actor) -> Self {
        Self {
            store,
            actor,
            pacing: Pacing {
                import_timeout: Duration::from_secs(120),
                poll_first: Duration::from_secs(2),
                poll_max: Duration::from_secs(15),
                ..Pacing::default()
            },
        }
    }
}

/// Starts the uploader. Requests are handled one at a time, in order.
pub fn spawn(
    client: GraphClient,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<UploaderCmd> {
    spawn_with(client, None, tx, cancel)
}

/// [`spawn`], with entries from hash files imported into Autopilot (`hashes`).
pub fn spawn_with(
    client: GraphClient,
    hashes: Option<HashImports>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<UploaderCmd> {
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<UploaderCmd>();
    crate::runtime::supervise::spawn("uploader", tx.clone(), async move {
        loop {
            let cmd = tokio::select! {
                _ = cancel.cancelled() => break,
                cmd = cmd_rx.recv() => match cmd { Some(c) => c, None => break },
            };
            let msg = match cmd {
                UploaderCmd::Upload(batch) => {
                    Msg::Uploaded(upload_any(&client, hashes.as_ref(), &batch).await)
                }
                UploaderCmd::Remove {
                    serial,
                    imported_id,
                } => {
                    let result = client
                        .delete_imported_identity(&imported_id)
                        .await
                        .map_err(|e| e.to_string());
                    Msg::IdentityRemoved { serial, result }
                }
            };
            if tx.send(msg).await.is_err() {
                break;
            }
        }
    });
    cmd_tx
}

/// The identity Intune stores for an entry (docs/graph.md §1.2-1.4).
pub fn identity_for(e: &QueueEntry) -> ImportedDeviceIdentity {
    match e.identifier_type {
        IdentifierType::ManufacturerModelSerial => {
            ImportedDeviceIdentity::windows(&e.manufacturer, &e.model, &e.serial)
        }
        IdentifierType::SerialNumber | IdentifierType::Imei => ImportedDeviceIdentity {
            imported_device_identifier: Some(e.serial.clone()),
            imported_device_identity_type: Some(match e.identifier_type {
                IdentifierType::Imei => ImportedDeviceIdentityType::Imei,
                _ => ImportedDeviceIdentityType::SerialNumber,
            }),
            description: (!e.profile.is_empty()).then(|| e.profile.clone()),
            platform: Some(match e.platform {
                Platform::Windows => crate::graph::models::Platform::Windows,
                Platform::Ios => crate::graph::models::Platform::Ios,
                Platform::Android => crate::graph::models::Platform::Android,
            }),
            ..Default::default()
        },
    }
}

fn identifier(i: &ImportedDeviceIdentity) -> String {
    i.imported_device_identifier
        .as_deref()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn state_text(state: Option<&EnrollmentState>) -> String {
    match state {
        Some(s) => format!("{s:?}").to_lowercase(),
        None => "unknown".into(),
    }
}

fn all(batch: &[QueueEntry], result: impl Fn() -> UploadResult) -> Vec<UploadOutcome> {
    batch
        .iter()
        .map(|e| UploadOutcome {
            serial: e.serial.clone(),
            result: result(),
        })
        .collect()
}

fn failure(batch: &[QueueEntry], e: &GraphError) -> Vec<UploadOutcome> {
    let message = e.to_string();
    if e.is_transient() {
        all(batch, || UploadResult::Failed {
            message: message.clone(),
        })
    } else {
        all(batch, || UploadResult::Rejected {
            message: message.clone(),
        })
    }
}

/// Progress lines of an Autopilot run, to the log (already escaped by the run).
struct LogLines;

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let line = text.trim_end();
        if !line.is_empty() {
            tracing::info!(target: "stagehand::autopilot", "{line}");
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Uploads one batch: entries queued from hash files as Autopilot imports (when `hashes` is
/// given), the others as corporate identifiers. One answer per entry.
pub async fn upload_any(
    client: &GraphClient,
    hashes: Option<&HashImports>,
    batch: &[QueueEntry],
) -> Vec<UploadOutcome> {
    let Some(h) = hashes else {
        return upload(client, batch).await;
    };
    let regs = match h
        .store
        .call(|s| Ok(crate::autopilot::bench::load(s.conn())))
        .await
        .and_then(|r| r)
    {
        Ok(r) => r,
        Err(e) => {
            // Without the registrations a hash entry would go out as a corporate identifier.
            let message = format!("the Autopilot registrations could not be read: {e}");
            return all(batch, || UploadResult::Failed {
                message: message.clone(),
            });
        }
    };
    let (hash, plain): (Vec<QueueEntry>, Vec<QueueEntry>) = batch
        .iter()
        .cloned()
        .partition(|e| regs.contains_key(&crate::serial::SerialKey::new(&e.serial)));
    let mut out = Vec::with_capacity(batch.len());
    if !hash.is_empty() {
        let mut lines = LogLines;
        let run = Run {
            client,
            record: Record::Store(&h.store),
            actor: h.actor.clone(),
            pacing: h.pacing,
            wait: false,
            out: &mut lines,
        };
        out.extend(crate::autopilot::uploader::upload(run, &hash, &regs).await);
    }
    if !plain.is_empty() {
        out.extend(upload(client, &plain).await);
    }
    out
}

/// Uploads one batch and says, per entry, what Intune made of it.
pub async fn upload(client: &GraphClient, batch: &[QueueEntry]) -> Vec<UploadOutcome> {
    let identities: Vec<ImportedDeviceIdentity> = batch.iter().map(identity_for).collect();
    let existing = match client.search_existing_identities(&identities).await {
        Ok(found) => found,
        Err(e) => return failure(batch, &e),
    };
    let find = |list: &[ImportedDeviceIdentity], want: &str| -> Option<ImportedDeviceIdentity> {
        list.iter().find(|i| identifier(i) == want).cloned()
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut to_import = Vec::new();
    for (entry, identity) in batch.iter().zip(&identities) {
        match find(&existing, &identifier(identity)) {
            Some(found) => outcomes.push(UploadOutcome {
                serial: entry.serial.clone(),
                result: UploadResult::Registered {
                    imported_id: found.id.clone(),
                    message: format!(
                        "already registered ({})",
                        state_text(found.enrollment_state.as_ref())
                    ),
                },
            }),
            None => to_import.push((entry, identity.clone())),
        }
    }
    if to_import.is_empty() {
        return outcomes;
    }
    let ids: Vec<ImportedDeviceIdentity> = to_import.iter().map(|(_, i)| i.clone()).collect();
    let entries: Vec<QueueEntry> = to_import.iter().map(|(e, _)| (*e).clone()).collect();
    let results = match client.import_device_identities(&ids, false).await {
        Ok(r) => r,
        Err(e) => {
            outcomes.extend(failure(&entries, &e));
            return outcomes;
        }
    };
    // Read back what Intune now holds; an import that said yes but does not show is retried
    // (and then found by the search above).
    let confirmed = client.search_existing_identities(&ids).await.ok();
    for (entry, identity) in to_import {
        let want = identifier(&identity);
        let result = results.iter().find(|r| identifier(&r.identity) == want);
        let seen = confirmed.as_deref().and_then(|c| find(c, &want));
        let outcome = match (result.and_then(|r| r.status), seen) {
            (_, Some(found)) => UploadResult::Registered {
                imported_id: found.id.clone(),
                message: format!(
                    "registered ({})",
                    state_text(found.enrollment_state.as_ref())
                ),
            },
            (Some(true), None) => UploadResult::Failed {
                message: "imported, not visible yet; confirming".into(),
            },
            (Some(false), None) => UploadResult::Rejected {
                message: "Intune refused the identifier (status false)".into(),
            },
            (None, None) => UploadResult::Failed {
                message: "Intune did not answer for this identifier".into(),
            },
        };
        outcomes.push(UploadOutcome {
            serial: entry.serial.clone(),
            result: outcome,
        });
    }
    outcomes
}

impl From<UploaderCmd> for crate::app::Cmd {
    /// The console's command an uploader command came from (to answer it when none ran).
    fn from(c: UploaderCmd) -> Self {
        match c {
            UploaderCmd::Upload(batch) => crate::app::Cmd::Upload(batch),
            UploaderCmd::Remove {
                serial,
                imported_id,
            } => crate::app::Cmd::RemoveIdentity {
                serial,
                imported_id,
            },
        }
    }
}

//! The uploader: registers queue entries in Intune as corporate identifiers.
//!
//! Per batch: ask Intune which identities already exist (`searchExistingIdentities`, a read),
//! import the rest with `overwrite: false`, then read back to confirm. Asking first makes a
//! repeat after a crash or an unclear answer safe: what the first attempt created is found and
//! reported registered instead of being imported twice.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::Msg;
use crate::app::intake::{UploadOutcome, UploadResult};
use crate::config::{IdentifierType, Platform};
use crate::graph::models::{EnrollmentState, ImportedDeviceIdentity, ImportedDeviceIdentityType};
use crate::graph::{GraphClient, GraphError};
use crate::store::QueueEntry;

/// What the intake pane asks of the uploader.
#[derive(Debug)]
pub enum UploaderCmd {
    /// Register these entries; answered with `Msg::Uploaded`.
    Upload(Vec<QueueEntry>),
    /// Delete a corporate identifier; answered with `Msg::IdentityRemoved`.
    Remove { serial: String, imported_id: String },
}

/// Starts the uploader. Requests are handled one at a time, in order.
pub fn spawn(
    client: GraphClient,
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
                UploaderCmd::Upload(batch) => Msg::Uploaded(upload(&client, &batch).await),
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

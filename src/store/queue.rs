//! The intake queue as plain data, and the vocabulary of its changes with a pure `apply` (the
//! database applies the same events as SQL: `super::db`).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{IdentifierType, Platform};
use crate::serial::SerialKey;

/// Where a scanned device is on its way into Intune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Durable on the bench, not yet sent.
    Queued,
    /// Sent to Intune; no answer yet.
    Uploading,
    /// Intune accepted the corporate identifier.
    Registered,
    /// Intune refused it (the message says why).
    Rejected,
    /// Sending failed, or a technician marked it failed (the note says why).
    Failed,
}

/// One scanned device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub serial: String,
    pub manufacturer: String,
    pub model: String,
    /// Staging profile name from the config.
    pub profile: String,
    pub platform: Platform,
    pub identifier_type: IdentifierType,
    pub scanned_at: DateTime<Utc>,
    /// Host name of the bench that scanned it.
    pub bench: String,
    pub state: EntryState,
    /// The latest message from Intune.
    pub message: Option<String>,
    /// A technician's local note; kept in the store, never sent to Intune.
    pub note: Option<String>,
    /// The `importedDeviceIdentity` id once Intune has one.
    pub imported_id: Option<String>,
    /// How many times an upload was started.
    pub attempts: u32,
}

/// One change to the queue. Applying every change in order with [`apply`] rebuilds the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueEvent {
    /// A scan (or, after compaction, a live entry with its whole state). An existing serial is
    /// replaced in place.
    Added(QueueEntry),
    /// A state change with Intune's message; entering `Uploading` counts an attempt.
    State {
        serial: String,
        state: EntryState,
        message: Option<String>,
    },
    /// Intune assigned an id to the corporate identifier.
    Imported { serial: String, imported_id: String },
    /// A bulk edit from the intake pane; `None` leaves a field alone.
    Edited {
        serials: Vec<String>,
        manufacturer: Option<String>,
        model: Option<String>,
        profile: Option<String>,
    },
    /// The entry left the queue.
    Removed { serial: String },
    /// A local note (`None` clears it).
    Note {
        serial: String,
        note: Option<String>,
    },
    /// A technician marked the entry failed with a reason: local only, never sent to Intune.
    MarkedFailed { serial: String, reason: String },
}

/// The queue: entries in insertion order plus a case-insensitive serial index ([`SerialKey`]).
/// Entries are shared (`Arc`): the status feed gets the queue by cloning pointers, not 10,000
/// entries, on every scan; a change copies only the entry it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    entries: Vec<Arc<QueueEntry>>,
    index: HashMap<SerialKey, usize>,
}

impl Queue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in insertion order.
    pub fn entries(&self) -> &[Arc<QueueEntry>] {
        &self.entries
    }

    /// The entry of `serial`, whatever its case and surrounding blanks.
    pub fn get(&self, serial: &str) -> Option<&QueueEntry> {
        self.get_key(&SerialKey::new(serial))
    }

    /// The entry of a serial already normalised: no normalising again.
    pub fn get_key(&self, key: &SerialKey) -> Option<&QueueEntry> {
        self.index.get(key).map(|&i| &*self.entries[i])
    }

    pub fn contains(&self, serial: &str) -> bool {
        self.contains_key(&SerialKey::new(serial))
    }

    pub fn contains_key(&self, key: &SerialKey) -> bool {
        self.index.contains_key(key)
    }

    fn get_mut(&mut self, serial: &str) -> Option<&mut QueueEntry> {
        let i = *self.index.get(&SerialKey::new(serial))?;
        Some(Arc::make_mut(&mut self.entries[i]))
    }

    /// The events that rebuild this queue from nothing: one `Added` per live entry.
    pub fn snapshot_events(&self) -> Vec<QueueEvent> {
        self.entries
            .iter()
            .map(|e| QueueEvent::Added(QueueEntry::clone(e)))
            .collect()
    }
}

/// Applies one event. Returns `false` when it changed nothing (an unknown serial), which replay
/// tolerates: the event was durable, its target simply no longer exists.
pub fn apply(queue: &mut Queue, event: &QueueEvent) -> bool {
    match event {
        QueueEvent::Added(entry) => {
            let key = SerialKey::new(&entry.serial);
            if let Some(&i) = queue.index.get(&key) {
                queue.entries[i] = Arc::new(entry.clone());
            } else {
                queue.index.insert(key, queue.entries.len());
                queue.entries.push(Arc::new(entry.clone()));
            }
            true
        }
        QueueEvent::State {
            serial,
            state,
            message,
        } => with_entry(queue, serial, |e| {
            if *state == EntryState::Uploading {
                e.attempts = e.attempts.saturating_add(1);
            }
            e.state = *state;
            e.message = message.clone();
        }),
        QueueEvent::Imported {
            serial,
            imported_id,
        } => with_entry(queue, serial, |e| e.imported_id = Some(imported_id.clone())),
        QueueEvent::Edited {
            serials,
            manufacturer,
            model,
            profile,
        } => {
            let mut changed = false;
            for serial in serials {
                changed |= with_entry(queue, serial, |e| {
                    if let Some(m) = manufacturer {
                        e.manufacturer = m.clone();
                    }
                    if let Some(m) = model {
                        e.model = m.clone();
                    }
                    if let Some(p) = profile {
                        e.profile = p.clone();
                    }
                });
            }
            changed
        }
        QueueEvent::Removed { serial } => {
            let Some(i) = queue.index.remove(&SerialKey::new(serial)) else {
                return false;
            };
            queue.entries.remove(i);
            // Entries after it move up one place; their keys stay.
            for j in queue.index.values_mut() {
                if *j > i {
                    *j -= 1;
                }
            }
            true
        }
        QueueEvent::Note { serial, note } => with_entry(queue, serial, |e| e.note = note.clone()),
        QueueEvent::MarkedFailed { serial, reason } => with_entry(queue, serial, |e| {
            e.state = EntryState::Failed;
            e.note = Some(reason.clone());
        }),
    }
}

fn with_entry(queue: &mut Queue, serial: &str, f: impl FnOnce(&mut QueueEntry)) -> bool {
    match queue.get_mut(serial) {
        Some(e) => {
            f(e);
            true
        }
        None => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn entry(serial: &str) -> QueueEntry {
        QueueEntry {
            serial: serial.into(),
            manufacturer: "Contoso".into(),
            model: "Laptop 7".into(),
            profile: "Standard".into(),
            platform: Platform::Windows,
            identifier_type: IdentifierType::ManufacturerModelSerial,
            scanned_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap(),
            bench: "BENCH-01".into(),
            state: EntryState::Queued,
            message: None,
            note: None,
            imported_id: None,
            attempts: 0,
        }
    }

    fn queue_of(events: &[QueueEvent]) -> Queue {
        let mut q = Queue::new();
        for e in events {
            apply(&mut q, e);
        }
        q
    }

    fn serials(q: &Queue) -> Vec<&str> {
        q.entries().iter().map(|e| e.serial.as_str()).collect()
    }

    #[test]
    fn keeps_insertion_order_and_finds_serials_case_insensitively() {
        let q = queue_of(&[
            QueueEvent::Added(entry("B2")),
            QueueEvent::Added(entry("A1")),
            QueueEvent::Added(entry("C3")),
        ]);
        assert_eq!(serials(&q), ["B2", "A1", "C3"]);
        assert_eq!(q.get("a1").map(|e| e.serial.as_str()), Some("A1"));
        assert!(q.contains(" c3 "));
        assert!(!q.contains("D4"));
    }

    #[test]
    fn re_adding_a_serial_replaces_in_place() {
        let mut again = entry("a1");
        again.model = "Laptop 7 Pro".into();
        let q = queue_of(&[
            QueueEvent::Added(entry("A1")),
            QueueEvent::Added(entry("B2")),
            QueueEvent::Added(again),
        ]);
        assert_eq!(serials(&q), ["a1", "B2"]);
        assert_eq!(q.get("A1").unwrap().model, "Laptop 7 Pro");
    }

    #[test]
    fn removal_keeps_the_index_consistent() {
        let mut q = queue_of(&[
            QueueEvent::Added(entry("A1")),
            QueueEvent::Added(entry("B2")),
            QueueEvent::Added(entry("C3")),
        ]);
        assert!(apply(
            &mut q,
            &QueueEvent::Removed {
                serial: "b2".into()
            }
        ));
        assert!(!apply(
            &mut q,
            &QueueEvent::Removed {
                serial: "B2".into()
            }
        ));
        assert_eq!(serials(&q), ["A1", "C3"]);
        assert_eq!(q.get("C3").unwrap().serial, "C3");
        assert!(apply(
            &mut q,
            &QueueEvent::Note {
                serial: "C3".into(),
                note: Some("dent".into())
            }
        ));
        assert_eq!(q.entries()[1].note.as_deref(), Some("dent"));
    }

    #[test]
    fn state_changes_count_upload_attempts_and_keep_the_message() {
        let up = |m: Option<&str>, s| QueueEvent::State {
            serial: "A1".into(),
            state: s,
            message: m.map(String::from),
        };
        let q = queue_of(&[
            QueueEvent::Added(entry("A1")),
            up(None, EntryState::Uploading),
            up(Some("timeout"), EntryState::Failed),
            up(None, EntryState::Uploading),
            QueueEvent::Imported {
                serial: "A1".into(),
                imported_id: "id-1".into(),
            },
            up(Some("ok"), EntryState::Registered),
        ]);
        let e = q.get("A1").unwrap();
        assert_eq!(e.attempts, 2);
        assert_eq!(e.state, EntryState::Registered);
        assert_eq!(e.message.as_deref(), Some("ok"));
        assert_eq!(e.imported_id.as_deref(), Some("id-1"));
    }

    #[test]
    fn bulk_edit_and_local_failure_touch_only_named_fields() {
        let q = queue_of(&[
            QueueEvent::Added(entry("A1")),
            QueueEvent::Added(entry("B2")),
            QueueEvent::Edited {
                serials: vec!["a1".into(), "B2".into(), "ZZ".into()],
                manufacturer: None,
                model: Some("Laptop 9".into()),
                profile: Some("Executive".into()),
            },
            QueueEvent::MarkedFailed {
                serial: "B2".into(),
                reason: "cracked screen".into(),
            },
        ]);
        for s in ["A1", "B2"] {
            let e = q.get(s).unwrap();
            assert_eq!(
                (e.manufacturer.as_str(), e.model.as_str()),
                ("Contoso", "Laptop 9")
            );
            assert_eq!(e.profile, "Executive");
        }
        let b = q.get("B2").unwrap();
        assert_eq!(b.state, EntryState::Failed);
        assert_eq!(b.note.as_deref(), Some("cracked screen"));
        assert_eq!(q.get("A1").unwrap().state, EntryState::Queued);
    }

    #[test]
    fn snapshot_rebuilds_the_same_queue() {
        let q = queue_of(&[
            QueueEvent::Added(entry("A1")),
            QueueEvent::Added(entry("B2")),
            QueueEvent::MarkedFailed {
                serial: "A1".into(),
                reason: "no power".into(),
            },
            QueueEvent::Removed {
                serial: "B2".into(),
            },
            QueueEvent::Added(entry("C3")),
        ]);
        assert_eq!(queue_of(&q.snapshot_events()), q);
    }

    #[test]
    fn events_serialize_as_snake_case() {
        let json = serde_json::to_string(&QueueEvent::State {
            serial: "A1".into(),
            state: EntryState::Uploading,
            message: None,
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"state":{"serial":"A1","state":"uploading","message":null}}"#
        );
    }
}

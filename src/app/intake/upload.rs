//! Choosing upload batches and applying their outcomes; queue edits (delete, retry, profile).

use chrono::{DateTime, Duration, Utc};

use super::IntakeState;
use crate::app::Cmd;
use crate::config::Config;
use crate::serial::SerialKey;
use crate::store::{EntryState, QueueEntry, QueueEvent};

/// Transient upload failures retried automatically before an entry is marked failed.
pub const MAX_ATTEMPTS: u32 = 5;

/// What Intune made of one entry of an upload batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOutcome {
    pub serial: String,
    pub result: UploadResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadResult {
    /// Intune holds the corporate identifier (imported now or already there).
    Registered {
        imported_id: Option<String>,
        message: String,
    },
    /// Intune refused it; retrying will not help without a change.
    Rejected { message: String },
    /// The upload did not complete (offline, throttled, 5xx): retried with backoff.
    Failed { message: String },
}

/// Wait before the next automatic attempt after `attempts` failed ones: 10 s doubling, at most
/// 5 minutes.
pub fn backoff_delay(attempts: u32) -> Duration {
    let secs = 10i64.saturating_mul(1 << attempts.saturating_sub(1).min(5));
    Duration::seconds(secs.min(300))
}

impl IntakeState {
    /// Starts the next upload batch when uploads may run and none is in flight.
    pub(crate) fn start_upload(&mut self, config: &Config) -> Vec<Cmd> {
        if !self.can_upload || !self.uploading.is_empty() {
            return Vec::new();
        }
        let now = self.now;
        let batch: Vec<QueueEntry> = self
            .queue
            .entries()
            .iter()
            // `Uploading` left over from a crash is uploaded again: the uploader first asks
            // Intune whether the identity exists, so nothing is imported twice.
            .filter(|e| matches!(e.state, EntryState::Queued | EntryState::Uploading))
            // The upload hold: a fresh scan waits so a mistaken one can be taken back with `d`.
            .filter(|e| e.state == EntryState::Uploading || e.scanned_at + self.hold <= now)
            .filter(|e| {
                self.backoff
                    .get(&SerialKey::new(&e.serial))
                    .is_none_or(|t| *t <= now)
            })
            .take(config.intake.batch_size.max(1))
            .map(|e| QueueEntry::clone(e))
            .collect();
        if batch.is_empty() {
            return Vec::new();
        }
        let events = batch
            .iter()
            .map(|e| QueueEvent::State {
                serial: e.serial.clone(),
                state: EntryState::Uploading,
                message: None,
            })
            .collect();
        self.uploading = batch.iter().map(|e| SerialKey::new(&e.serial)).collect();
        self.rows_stale = true;
        vec![self.send(events), Cmd::Upload(batch)]
    }

    /// The uploader's answer for a batch.
    /// The batch's keys stay in `uploading` until these results are durable, so no entry is
    /// picked for another upload while its outcome is still being saved.
    pub fn on_uploaded(&mut self, outcomes: Vec<UploadOutcome>) -> Vec<Cmd> {
        let mut events = Vec::new();
        let mut answered = std::collections::BTreeSet::new();
        for o in outcomes {
            let key = SerialKey::new(&o.serial);
            answered.insert(key.clone());
            let attempts = self.queue.get(&key).map_or(1, |e| e.attempts.max(1));
            match o.result {
                UploadResult::Registered {
                    imported_id,
                    message,
                } => {
                    self.backoff.remove(&key);
                    events.push(QueueEvent::State {
                        serial: o.serial.clone(),
                        state: EntryState::Registered,
                        message: Some(message),
                    });
                    if let Some(id) = imported_id {
                        events.push(QueueEvent::Imported {
                            serial: o.serial,
                            imported_id: id,
                        });
                    }
                }
                UploadResult::Rejected { message } => events.push(QueueEvent::State {
                    serial: o.serial,
                    state: EntryState::Rejected,
                    message: Some(message),
                }),
                UploadResult::Failed { message } if attempts >= MAX_ATTEMPTS => {
                    events.push(QueueEvent::State {
                        serial: o.serial,
                        state: EntryState::Failed,
                        message: Some(format!(
                            "{message} (gave up after {attempts} attempts; R retries)"
                        )),
                    })
                }
                UploadResult::Failed { message } => {
                    let delay = backoff_delay(attempts);
                    self.backoff.insert(key, self.now + delay);
                    events.push(QueueEvent::State {
                        serial: o.serial,
                        state: EntryState::Queued,
                        message: Some(format!("{message}; retrying in {} s", delay.num_seconds())),
                    });
                }
            }
        }
        // Entries the uploader did not answer for go back to the queue.
        for key in self.uploading.difference(&answered) {
            if let Some(e) = self.queue.get(key) {
                events.push(QueueEvent::State {
                    serial: e.serial.clone(),
                    state: EntryState::Queued,
                    message: Some("no answer from the uploader; will retry".into()),
                });
            }
        }
        self.rows_stale = true;
        if events.is_empty() {
            self.uploading.clear();
            return Vec::new();
        }
        let cmd = self.send(events);
        if let Cmd::Store { ticket, .. } = &cmd {
            self.results_ticket = Some(*ticket);
        }
        vec![cmd]
    }

    /// Deletes the targeted entries that have not been uploaded.
    pub(crate) fn delete_selected(&mut self) -> Vec<Cmd> {
        let events: Vec<QueueEvent> = self
            .targets()
            .iter()
            .filter(|k| !self.uploading.contains(*k))
            .filter_map(|k| self.queue.get_key(k))
            .filter(|e| e.state != EntryState::Registered)
            .map(|e| QueueEvent::Removed {
                serial: e.serial.clone(),
            })
            .collect();
        self.marked.clear();
        if events.is_empty() {
            return Vec::new();
        }
        let serials: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                QueueEvent::Removed { serial } => Some(serial.as_str()),
                _ => None,
            })
            .collect();
        self.feedback = Some(super::Feedback {
            kind: super::FeedbackKind::Notice,
            serial: serials.join(", "),
            text: "taken back: nothing was sent to Intune".into(),
            at: self.now,
        });
        vec![self.send(events)]
    }

    /// Puts failed and rejected entries (the targeted ones, or all when none is marked) back in
    /// the queue and starts an upload.
    pub(crate) fn retry_failed(&mut self) -> Vec<Cmd> {
        let keys: Vec<SerialKey> = if self.marked.is_empty() {
            self.queue
                .entries()
                .iter()
                .map(|e| SerialKey::new(&e.serial))
                .collect()
        } else {
            self.marked.iter().cloned().collect()
        };
        let events: Vec<QueueEvent> = keys
            .iter()
            .filter_map(|k| self.queue.get_key(k))
            .filter(|e| matches!(e.state, EntryState::Failed | EntryState::Rejected))
            .map(|e| QueueEvent::State {
                serial: e.serial.clone(),
                state: EntryState::Queued,
                message: None,
            })
            .collect();
        for k in &keys {
            self.backoff.remove(k);
        }
        self.marked.clear();
        if events.is_empty() {
            return Vec::new();
        }
        vec![self.send(events)]
    }

    /// Gives the targeted entries that are not uploaded yet the active profile's manufacturer,
    /// model and name.
    pub(crate) fn apply_profile(&mut self, config: &Config) -> Vec<Cmd> {
        let Some(profile) = config.profiles.get(&self.profile) else {
            return Vec::new();
        };
        let serials: Vec<String> = self
            .targets()
            .iter()
            .filter(|k| !self.uploading.contains(*k))
            .filter_map(|k| self.queue.get_key(k))
            .filter(|e| !matches!(e.state, EntryState::Registered | EntryState::Uploading))
            .map(|e| e.serial.clone())
            .collect();
        self.marked.clear();
        if serials.is_empty() {
            return Vec::new();
        }
        vec![self.send(vec![QueueEvent::Edited {
            serials,
            manufacturer: Some(profile.manufacturer.clone()),
            model: Some(profile.model.clone()),
            profile: Some(self.profile.clone()),
        }])]
    }

    /// Seconds left of a queued entry's upload hold (`d` still takes it back), for the view.
    pub fn hold_left(&self, e: &QueueEntry, now: DateTime<Utc>) -> Option<i64> {
        if e.state != EntryState::Queued || self.uploading.contains(&SerialKey::new(&e.serial)) {
            return None;
        }
        let left = e.scanned_at + self.hold - now;
        (left > Duration::zero()).then(|| (left.num_milliseconds() + 999) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_delay(1).num_seconds(), 10);
        assert_eq!(backoff_delay(2).num_seconds(), 20);
        assert_eq!(backoff_delay(3).num_seconds(), 40);
        assert_eq!(backoff_delay(10).num_seconds(), 300);
    }
}

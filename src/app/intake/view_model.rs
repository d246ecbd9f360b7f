//! What the intake view reads: each row's display state, and the row order (newest first),
//! rebuilt once per batch of messages rather than once per scan.

use super::IntakeState;
use crate::serial::SerialKey;
use crate::store::{EntryState, QueueEntry};

/// A row's state as shown: the stored state, plus "saving" (not yet durable) and "uploading"
/// (in the batch in flight, even before that state change is durable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Saving,
    Queued,
    Uploading,
    Registered,
    Rejected,
    Failed,
}

impl RowState {
    pub fn label(self) -> &'static str {
        match self {
            RowState::Saving => "saving",
            RowState::Queued => "queued",
            RowState::Uploading => "uploading",
            RowState::Registered => "registered",
            RowState::Rejected => "rejected",
            RowState::Failed => "failed",
        }
    }
}

impl From<EntryState> for RowState {
    fn from(s: EntryState) -> Self {
        match s {
            EntryState::Queued => RowState::Queued,
            EntryState::Uploading => RowState::Uploading,
            EntryState::Registered => RowState::Registered,
            EntryState::Rejected => RowState::Rejected,
            EntryState::Failed => RowState::Failed,
        }
    }
}

/// One row of the queue table, borrowed from the state.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub key: &'a str,
    pub entry: &'a QueueEntry,
    pub state: RowState,
    pub marked: bool,
}

impl IntakeState {
    /// Recomputes derived state after a batch of messages (called before each draw).
    pub fn settle(&mut self) {
        if !self.rows_stale {
            return;
        }
        self.rows_stale = false;
        let keys: Vec<SerialKey> = self
            .pending
            .iter()
            .rev()
            .map(|e| SerialKey::new(&e.serial))
            .chain(
                self.queue
                    .entries()
                    .iter()
                    .rev()
                    .map(|e| SerialKey::new(&e.serial)),
            )
            .collect();
        self.list.set_rows(keys, |_| true);
        if std::mem::take(&mut self.follow_newest) || self.input_focused {
            // While scanning, the newest entry stays in view at the top (and selected).
            self.list.home();
        }
        self.counts = self.count_states();
    }

    /// The key of the `i`th row of `list` (an index from `list.window()`).
    pub fn list_key(&self, i: usize) -> Option<&SerialKey> {
        self.list.key_at(i)
    }

    /// The row for a key of `list`.
    pub fn row<'a>(&'a self, key: &'a SerialKey) -> Option<Row<'a>> {
        let marked = self.marked.contains(key);
        let key_text = key.as_str();
        if let Some(entry) = self.queue.get_key(key) {
            let state = if self.uploading.contains(key) {
                RowState::Uploading
            } else {
                entry.state.into()
            };
            return Some(Row {
                key: key_text,
                entry,
                state,
                marked,
            });
        }
        self.pending
            .iter()
            .find(|e| e.serial.eq_ignore_ascii_case(key_text))
            .map(|entry| Row {
                key: key_text,
                entry,
                state: RowState::Saving,
                marked,
            })
    }

    fn count_states(&self) -> [(RowState, usize); 6] {
        let mut counts = [
            (RowState::Saving, self.pending.len()),
            (RowState::Queued, 0),
            (RowState::Uploading, 0),
            (RowState::Registered, 0),
            (RowState::Rejected, 0),
            (RowState::Failed, 0),
        ];
        for e in self.queue.entries() {
            let s: RowState = if self.uploading.contains(&SerialKey::new(&e.serial)) {
                RowState::Uploading
            } else {
                e.state.into()
            };
            if let Some(c) = counts.iter_mut().find(|(k, _)| *k == s) {
                c.1 += 1;
            }
        }
        counts
    }
}

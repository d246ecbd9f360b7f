//! Intake pane state: the scan input line (always ready), the active staging profile, the durable
//! queue as the store last acknowledged it, the scans still being saved, and the upload batch.
//!
//! A scan shows as queued only after the store task acknowledged it durable; until then it shows
//! as saving. Nothing here does IO: saving and uploading are `Cmd`s, their answers are `Msg`s.

pub(crate) mod note;
pub(crate) mod paste;
mod remove;
pub mod scan;
mod upload;
mod view_model;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use remove::Removal;
pub use scan::{Accepted, Refusal, ScanContext};
pub use upload::{UploadOutcome, UploadResult};
pub use view_model::{Row, RowState};

use super::Cmd;
use super::keymap::Action;
use super::list::SelectList;
use crate::config::{Config, Terminator};
use crate::serial::SerialKey;
use crate::store::queue::apply;
use crate::store::{Queue, QueueEntry, QueueEvent, StoreAck};

/// How long a scan's green or red flash lasts.
pub const FLASH_MS: i64 = 1200;

/// What the last scan did, for the flash and the feedback line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackKind {
    /// Being made durable.
    Saving,
    /// Durable and queued.
    Queued,
    /// Queued, with a notice (periods removed).
    Notice,
    /// Already in the queue.
    Duplicate,
    /// Refused by validation.
    Invalid,
    /// The store could not save it.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub kind: FeedbackKind,
    pub serial: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct IntakeState {
    /// What has been typed since the last terminator.
    pub input: String,
    /// The scan input has focus (the default); F6 moves focus to the queue list.
    pub input_focused: bool,
    /// Name of the active staging profile.
    pub profile: String,
    /// Host name of this bench, recorded on every scan.
    pub bench: String,
    /// The queue as the store last acknowledged it durable.
    pub queue: Queue,
    /// Bumped whenever `queue` changes (the status feed follows it).
    pub queue_version: u64,
    /// Scans sent to the store, not yet acknowledged, oldest first.
    pub pending: VecDeque<QueueEntry>,
    /// Serial keys of `pending`, for the duplicate check.
    pending_keys: HashSet<SerialKey>,
    /// Every store request awaiting its acknowledgement, by ticket.
    inflight: BTreeMap<u64, Vec<QueueEvent>>,
    /// Requests the store failed to save; sent again on the next tick.
    retry: Vec<Vec<QueueEvent>>,
    next_ticket: u64,
    pub feedback: Option<Feedback>,
    /// Serial keys in display order (newest first); rebuilt once per batch of messages.
    pub list: SelectList<SerialKey>,
    rows_stale: bool,
    /// Entries per shown state, for the pane title; recomputed with the rows.
    pub counts: [(RowState, usize); 6],
    /// Marked rows (serial keys) for bulk actions.
    pub marked: BTreeSet<SerialKey>,
    /// Serial keys in the upload in flight: an entry is never in two uploads at once.
    pub uploading: BTreeSet<SerialKey>,
    /// The store ticket of the last batch's results; `uploading` clears when it is acknowledged.
    results_ticket: Option<u64>,
    /// Earliest next attempt for entries whose upload failed transiently.
    pub backoff: HashMap<SerialKey, DateTime<Utc>>,
    /// Uploads may start (signed in, online).
    pub can_upload: bool,
    /// Who is signed in, for audit records.
    pub actor: String,
    /// A removal from Intune waiting for `y`.
    pub removal: Option<Removal>,
    /// Confirmed removals in flight (audit first, then Intune).
    pub removing: Vec<Removal>,
    /// Audit "after" records of removals not yet durable: (ticket, serial, what Intune did).
    pub removal_after: Vec<(u64, String, String)>,
    /// The last store failure, shown until a save succeeds.
    pub store_error: Option<String>,
    /// What opening the store reported (an imported journal's torn last record), shown once.
    pub notice: Option<String>,
    /// The "mark failed" reason prompt, while open (`note.rs`).
    pub fail_prompt: Option<note::FailPrompt>,
    /// A scan arrived while the queue list had focus: select it (so `d` takes it back).
    follow_newest: bool,
    /// The upload hold (`[intake] hold_secs`).
    pub hold: chrono::Duration,
    /// What the last multi-line paste did, line by line (F8 shows the refused lines).
    pub paste_report: Option<paste::PasteReport>,
    pub now: DateTime<Utc>,
}

impl IntakeState {
    pub fn new(config: &Config) -> Self {
        Self {
            input: String::new(),
            input_focused: true,
            profile: config.intake.default_profile.clone(),
            bench: String::from("bench"),
            queue: Queue::new(),
            queue_version: 0,
            pending: VecDeque::new(),
            pending_keys: HashSet::new(),
            inflight: BTreeMap::new(),
            retry: Vec::new(),
            next_ticket: 1,
            feedback: None,
            list: SelectList::default(),
            rows_stale: true,
            counts: [
                (RowState::Saving, 0),
                (RowState::Queued, 0),
                (RowState::Uploading, 0),
                (RowState::Registered, 0),
                (RowState::Rejected, 0),
                (RowState::Failed, 0),
            ],
            marked: BTreeSet::new(),
            uploading: BTreeSet::new(),
            backoff: HashMap::new(),
            results_ticket: None,
            can_upload: false,
            actor: String::from("unknown"),
            removal: None,
            removing: Vec::new(),
            removal_after: Vec::new(),
            store_error: None,
            notice: None,
            fail_prompt: None,
            paste_report: None,
            follow_newest: false,
            hold: chrono::Duration::seconds(i64::try_from(config.intake.hold_secs).unwrap_or(0)),
            now: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// Loads the queue the store read at start.
    pub fn load(&mut self, queue: Queue, notice: Option<String>) {
        self.queue = queue;
        self.queue_version += 1;
        if notice.is_some() {
            self.notice = notice;
        }
        self.rows_stale = true;
    }

    /// Whether the flash of the last scan is still on.
    pub fn flashing(&self) -> Option<&Feedback> {
        self.feedback
            .as_ref()
            .filter(|f| (self.now - f.at).num_milliseconds() < FLASH_MS)
    }

    pub fn on_tick(&mut self, now: DateTime<Utc>, config: &Config) -> Vec<Cmd> {
        self.now = now;
        let mut cmds: Vec<Cmd> = std::mem::take(&mut self.retry)
            .into_iter()
            .map(|events| self.send(events))
            .collect();
        cmds.extend(self.start_upload(config));
        cmds
    }

    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>, config: &Config) -> Vec<Cmd> {
        if self.removal.is_some() {
            return self
                .answer_removal(matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')));
        }
        if self.fail_prompt.is_some() {
            return self.on_fail_prompt_key(key, action);
        }
        if let Some(action) = action {
            match action {
                Action::SwitchFocus => {
                    self.input_focused = !self.input_focused;
                    return Vec::new();
                }
                Action::NextProfile => {
                    self.next_profile(config);
                    return Vec::new();
                }
                Action::Back => {
                    if self.input_focused {
                        self.input.clear();
                    } else {
                        self.input_focused = true;
                    }
                    return Vec::new();
                }
                Action::Refresh => {
                    self.backoff.clear();
                    return self.start_upload(config);
                }
                Action::Mark => {
                    self.toggle_mark();
                    return Vec::new();
                }
                Action::Delete => return self.delete_selected(),
                Action::Retry => return self.retry_failed(),
                Action::MarkFailed => return self.open_fail_prompt(),
                Action::ApplyProfile => return self.apply_profile(config),
                Action::RemoveFromIntune => return self.ask_removal(),
                other if self.list.navigate(other) => return Vec::new(),
                _ => {}
            }
        }
        if !self.input_focused {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter if config.intake.terminators.contains(&Terminator::Enter) => {
                self.submit(config)
            }
            KeyCode::Tab if config.intake.terminators.contains(&Terminator::Tab) => {
                self.submit(config)
            }
            KeyCode::Backspace => {
                self.input.pop();
                Vec::new()
            }
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                Vec::new()
            }
            KeyCode::Char(c) if !ctrl => {
                self.input.push(c);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A bracketed paste: every line is a scan; a last line without a newline is one too. A
    /// spreadsheet header on the first line is skipped. More than one line ends with a summary
    /// ("5 lines: 3 queued, 1 duplicate, 1 refused (line 3: '!' not allowed)") and every refused
    /// line kept in [`PasteReport`] (F8 lists them).
    pub fn on_paste(&mut self, text: &str, config: &Config) -> Vec<Cmd> {
        let text = text.replace("\r\n", "\n");
        let mut cmds = Vec::new();
        let mut report = paste::PasteReport::default();
        let mut first = true;
        for (i, line) in text.split(['\n', '\r']).enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if std::mem::take(&mut first) && crate::serial::rules::is_header(line) {
                report.header = Some(line.trim().to_string());
                continue;
            }
            let (outcome, more) = self.scan_one(line, config);
            for c in more {
                // One bell for the whole paste.
                if !(matches!(c, Cmd::Bell) && cmds.iter().any(|c| matches!(c, Cmd::Bell))) {
                    cmds.push(c);
                }
            }
            report.record(i + 1, line, outcome);
        }
        if report.lines() > 1 || report.header.is_some() {
            self.feedback = Some(Feedback {
                kind: if report.refused.is_empty() {
                    FeedbackKind::Queued
                } else {
                    FeedbackKind::Invalid
                },
                serial: "paste".into(),
                text: report.summary(),
                at: self.now,
            });
            self.paste_report = Some(report);
        }
        cmds
    }

    /// A scanner burst that arrived while focus was elsewhere (see `app::scanner`).
    pub fn scan_burst(&mut self, text: &str, config: &Config) -> Vec<Cmd> {
        self.scan_one(text, config).1
    }

    /// Validates the input as one scan and, when it is good and new, sends it to the store.
    fn submit(&mut self, config: &Config) -> Vec<Cmd> {
        let raw = std::mem::take(&mut self.input);
        self.scan_one(&raw, config).1
    }

    /// One scan: validated, checked for a duplicate, sent to the store; feedback either way.
    fn scan_one(&mut self, raw: &str, config: &Config) -> (paste::Outcome, Vec<Cmd>) {
        if raw.trim().is_empty() {
            return (paste::Outcome::Empty, Vec::new());
        }
        let ctx = ScanContext {
            config,
            profile: &self.profile,
            manufacturer: None,
            model: None,
            bench: &self.bench,
            now: self.now,
        };
        let accepted = scan::accept(raw, &ctx, |k| {
            self.queue.contains_key(k) || self.pending_keys.contains(k)
        });
        let Accepted { entry, notice } = match accepted {
            Ok(a) => a,
            Err(Refusal::Duplicate) => {
                let serial = crate::serial::clean(raw)
                    .map(|c| c.value.into_owned())
                    .unwrap_or(raw.to_string());
                let state = self
                    .queue
                    .get(&SerialKey::new(&serial))
                    .map_or("saving", |e| RowState::from(e.state).label());
                let text = format!("duplicate: already in the queue ({state})");
                let cmds = self.refuse(FeedbackKind::Duplicate, &serial, text, config);
                return (paste::Outcome::Duplicate, cmds);
            }
            Err(e) => {
                let reason = e.to_string();
                let cmds = self.refuse(FeedbackKind::Invalid, raw.trim(), reason.clone(), config);
                return (paste::Outcome::Refused(reason), cmds);
            }
        };
        self.pending_keys.insert(SerialKey::new(&entry.serial));
        self.pending.push_back(entry.clone());
        let kind = if notice.is_some() {
            FeedbackKind::Notice
        } else {
            FeedbackKind::Saving
        };
        let text = notice.unwrap_or_else(|| "saving…".to_string());
        self.feedback = Some(Feedback {
            kind,
            serial: entry.serial.clone(),
            text,
            at: self.now,
        });
        self.rows_stale = true;
        self.follow_newest = true;
        (
            paste::Outcome::Queued,
            vec![self.send(vec![QueueEvent::Added(entry)])],
        )
    }

    /// A notice on the feedback line (not tied to a scan).
    pub fn say(&mut self, text: &str) {
        self.feedback = Some(Feedback {
            kind: FeedbackKind::Notice,
            serial: String::new(),
            text: text.to_string(),
            at: self.now,
        });
    }

    fn refuse(
        &mut self,
        kind: FeedbackKind,
        serial: &str,
        text: String,
        config: &Config,
    ) -> Vec<Cmd> {
        self.feedback = Some(Feedback {
            kind,
            serial: serial.to_string(),
            text,
            at: self.now,
        });
        if config.intake.bell_on_error {
            vec![Cmd::Bell]
        } else {
            Vec::new()
        }
    }

    /// Sends events to the store under a new ticket.
    fn send(&mut self, events: Vec<QueueEvent>) -> Cmd {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.inflight.insert(ticket, events.clone());
        Cmd::Store { ticket, events }
    }

    /// The store's answer: applied to the queue when durable, kept and re-sent when not.
    pub fn on_ack(&mut self, ack: StoreAck, config: &Config) -> Vec<Cmd> {
        let Some(events) = self.inflight.remove(&ack.ticket) else {
            return self.on_audit_ack(ack.ticket, &ack.result);
        };
        match ack.result {
            Ok(()) => {
                self.store_error = None;
                if self.results_ticket == Some(ack.ticket) {
                    self.results_ticket = None;
                    self.uploading.clear();
                }
                self.queue_version += 1;
                for e in &events {
                    apply(&mut self.queue, e);
                    match e {
                        QueueEvent::Added(entry) => self.saved(&entry.serial),
                        // "marking failed…" becomes what happened once it is durable.
                        QueueEvent::MarkedFailed { serial, .. } => {
                            if let Some(f) = self
                                .feedback
                                .as_mut()
                                .filter(|f| f.serial == *serial && f.kind == FeedbackKind::Saving)
                            {
                                f.kind = FeedbackKind::Queued;
                                f.text = "marked failed (local note, not sent to Intune)".into();
                                f.at = self.now;
                            }
                        }
                        _ => {}
                    }
                }
                self.rows_stale = true;
                self.start_upload(config)
            }
            Err(reason) => {
                if let Some(QueueEvent::Added(entry)) = events.first() {
                    self.feedback = Some(Feedback {
                        kind: FeedbackKind::Error,
                        serial: entry.serial.clone(),
                        text: format!("not saved yet, retrying: {reason}"),
                        at: self.now,
                    });
                }
                self.store_error = Some(reason);
                self.retry.push(events);
                Vec::new()
            }
        }
    }

    /// A scan became durable: it leaves `pending` and its flash turns to "queued".
    fn saved(&mut self, serial: &str) {
        let key = SerialKey::new(serial);
        if self.pending_keys.remove(&key) {
            // Acknowledgements come in request order, so the saved scan is almost always first.
            if self
                .pending
                .front()
                .is_some_and(|p| p.serial.eq_ignore_ascii_case(serial))
            {
                self.pending.pop_front();
            } else {
                self.pending
                    .retain(|p| !p.serial.eq_ignore_ascii_case(serial));
            }
        }
        if let Some(f) = self.feedback.as_mut().filter(|f| f.serial == serial) {
            if matches!(f.kind, FeedbackKind::Saving | FeedbackKind::Error) {
                f.kind = FeedbackKind::Queued;
                f.text = "queued".into();
            }
            f.at = self.now;
        }
    }

    fn toggle_mark(&mut self) {
        if let Some(key) = self.list.selected_key().cloned()
            && !self.marked.remove(&key)
        {
            self.marked.insert(key);
        }
    }

    /// The marked rows, or the selected one when none is marked.
    fn targets(&self) -> Vec<SerialKey> {
        if self.marked.is_empty() {
            self.list.selected_key().cloned().into_iter().collect()
        } else {
            self.marked.iter().cloned().collect()
        }
    }

    fn next_profile(&mut self, config: &Config) {
        let names: Vec<&String> = config.profiles.keys().collect();
        if names.is_empty() {
            return;
        }
        let at = names.iter().position(|n| **n == self.profile);
        self.profile = names[at.map_or(0, |i| (i + 1) % names.len())].clone();
    }
}

#[cfg(test)]
mod tests;

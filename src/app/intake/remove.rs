//! Removing a registered corporate identifier from Intune: asked first, recorded in the audit log
//! before the call (durably) and after it.

use super::{Feedback, FeedbackKind, IntakeState};
use crate::app::Cmd;
use crate::serial::SerialKey;
use crate::store::{AuditRecord, EntryState, QueueEvent};

/// A removal waiting for the technician's answer, or for its audit record to be durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub serial: String,
    pub imported_id: String,
    /// Set once confirmed: the ticket of the durable "before" audit record.
    pub audit_ticket: Option<u64>,
}

impl IntakeState {
    /// `X` on the queue list: ask before removing the selected registered identity.
    pub(crate) fn ask_removal(&mut self) -> Vec<Cmd> {
        let Some(key) = self.list.selected_key().cloned() else {
            return Vec::new();
        };
        let Some(e) = self.queue.get(&key) else {
            return Vec::new();
        };
        match (&e.state, &e.imported_id) {
            (EntryState::Registered, Some(id)) => {
                self.removal = Some(Removal {
                    serial: e.serial.clone(),
                    imported_id: id.clone(),
                    audit_ticket: None,
                });
            }
            _ => {
                self.feedback = Some(Feedback {
                    kind: FeedbackKind::Invalid,
                    serial: e.serial.clone(),
                    text: "only a registered identity can be removed from Intune (d deletes a queued one)".into(),
                    at: self.now,
                });
            }
        }
        Vec::new()
    }

    /// The answer to the question: `y` records the audit "before" record; anything else cancels.
    pub(crate) fn answer_removal(&mut self, yes: bool) -> Vec<Cmd> {
        let Some(mut r) = self.removal.take() else {
            return Vec::new();
        };
        if !yes || r.audit_ticket.is_some() {
            return Vec::new();
        }
        let mut record = AuditRecord::before(self.now, &self.actor, "delete_identifier");
        record.serial = Some(r.serial.clone());
        record.device_id = Some(r.imported_id.clone());
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        r.audit_ticket = Some(ticket);
        self.removing.push(r);
        vec![Cmd::Audit {
            ticket,
            record: Box::new(record),
        }]
    }

    /// An audit record's answer. The "before" record is durable: now ask Intune. An "after"
    /// record that could not be written is said, beside what Intune did.
    pub(crate) fn on_audit_ack(&mut self, ticket: u64, result: &Result<(), String>) -> Vec<Cmd> {
        if let Some(i) = self.removal_after.iter().position(|(t, _, _)| *t == ticket) {
            let (_, serial, outcome) = self.removal_after.remove(i);
            if let Err(e) = result {
                tracing::error!(%serial, error = %e, "audit after-record of a removal not written");
                self.feedback = Some(Feedback {
                    kind: FeedbackKind::Error,
                    serial,
                    text: format!("{outcome}; the audit 'after' record could not be written: {e}"),
                    at: self.now,
                });
            }
            return Vec::new();
        }
        let ok = result.is_ok();
        let Some(pos) = self
            .removing
            .iter()
            .position(|r| r.audit_ticket == Some(ticket))
        else {
            return Vec::new();
        };
        if !ok {
            let r = self.removing.remove(pos);
            self.feedback = Some(Feedback {
                kind: FeedbackKind::Error,
                serial: r.serial,
                text: "not removed: the audit record could not be saved".into(),
                at: self.now,
            });
            return Vec::new();
        }
        let r = &self.removing[pos];
        vec![Cmd::RemoveIdentity {
            serial: r.serial.clone(),
            imported_id: r.imported_id.clone(),
        }]
    }

    /// Intune's answer: the entry leaves the queue when removed; the audit "after" records it.
    pub fn on_identity_removed(&mut self, serial: &str, result: Result<(), String>) -> Vec<Cmd> {
        let Some(pos) = self.removing.iter().position(|r| r.serial == serial) else {
            return Vec::new();
        };
        let r = self.removing.remove(pos);
        let before = {
            let mut b = AuditRecord::before(self.now, &self.actor, "delete_identifier");
            b.serial = Some(r.serial.clone());
            b.device_id = Some(r.imported_id.clone());
            b
        };
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => e.clone(),
        };
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let said = match &result {
            Ok(()) => "removed from Intune".to_string(),
            Err(e) => format!("not removed: {e}"),
        };
        self.removal_after.push((ticket, r.serial.clone(), said));
        let mut cmds = vec![Cmd::Audit {
            ticket,
            record: Box::new(before.after(self.now, &outcome)),
        }];
        match result {
            Ok(()) => {
                self.feedback = Some(Feedback {
                    kind: FeedbackKind::Queued,
                    serial: r.serial.clone(),
                    text: "removed from Intune".into(),
                    at: self.now,
                });
                self.marked.remove(&SerialKey::new(&r.serial));
                cmds.push(self.send(vec![QueueEvent::Removed { serial: r.serial }]));
            }
            Err(e) => {
                self.feedback = Some(Feedback {
                    kind: FeedbackKind::Error,
                    serial: r.serial,
                    text: format!("not removed: {e}"),
                    at: self.now,
                });
            }
        }
        cmds
    }
}

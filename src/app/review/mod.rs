//! Review pane state: one row per reassignment candidate (rows arrive from the review feed), marks,
//! approve/reject, the edit picker, the history overlay and the "Apply N changes?" confirmation.
//!
//! Nothing is written before the lead confirms: approving only opens the summary; confirming
//! returns `Cmd::Review(ReviewCmd::Apply(..))`. Rejections are remembered per device with the
//! fingerprint of the device's data (the feed keeps them in the data dir, `ReviewCmd::Reject`), so a
//! new sign-in or a new primary user brings the row back (`ReviewCmd::Forget`).

mod modal;
mod msg;
mod reject;

use std::collections::{BTreeMap, BTreeSet};

use crossterm::event::KeyEvent;

pub use msg::{Candidate, Choice, Reject, ReviewCmd, ReviewMsg};
use reject::is_rejected;

use super::filter::{FilterEdit, FilterInput};
use super::keymap::Action;
use super::list::SelectList;
use super::{Cmd, LoadState};
use crate::review::{ApplyJob, ApplyState, Person, Verdict, fingerprint};

/// Rows of the detail box under the review table (border included).
pub const DETAIL_HEIGHT: usize = 5;

/// A row of the pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRow {
    pub candidate: Candidate,
    pub fingerprint: String,
    /// The user the lead picked with `e`, replacing the proposal.
    pub pick: Option<Choice>,
    /// Where an approved change stands.
    pub apply: Option<ApplyState>,
}

impl ReviewRow {
    /// The user that would be written, and the verdict that applies to them.
    pub fn target(&self) -> (Option<&Person>, &Verdict) {
        match &self.pick {
            Some(c) => (Some(&c.person), &c.verdict),
            None => (
                self.candidate.assessment.proposed.as_ref(),
                &self.candidate.assessment.verdict,
            ),
        }
    }

    /// The verdict word shown (an accepted hand pick shows `edited`).
    pub fn verdict_word(&self) -> &'static str {
        match (&self.pick, self.target().1) {
            (Some(_), Verdict::Propose) => "edited",
            (_, v) => v.word(),
        }
    }

    /// Can this row be approved now?
    pub fn writable(&self) -> bool {
        let (who, verdict) = self.target();
        who.is_some()
            && matches!(verdict, Verdict::Propose | Verdict::Ambiguous)
            && self
                .apply
                .as_ref()
                .is_none_or(|s| matches!(s, ApplyState::Failed { .. }))
    }

    pub(super) fn in_flight(&self) -> bool {
        self.apply.as_ref().is_some_and(|s| !s.is_final())
    }

    pub(super) fn job(&self) -> Option<ApplyJob> {
        let (who, _) = self.target();
        let d = &self.candidate.device;
        Some(ApplyJob::new(
            &d.id,
            &d.serial,
            &self.candidate.assessment.current.upn,
            who?.clone(),
            self.verdict_word(),
        ))
    }
}

/// A review overlay; it takes every key while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewModal {
    /// The whole `usersLoggedOn` of a device.
    History { device_id: String },
    /// Pick another user for a device.
    Pick { device_id: String, cursor: usize },
    /// "Apply N changes?": nothing is written before `y`/Enter.
    Confirm { device_ids: Vec<String> },
}

#[derive(Debug, Clone, Default)]
pub struct ReviewState {
    pub load: LoadState,
    /// Keyed by managed device id.
    pub list: SelectList<String>,
    pub filter: FilterInput,
    pub rows: Vec<ReviewRow>,
    /// Marked device ids (Space).
    pub marks: BTreeSet<String>,
    /// Rejected rows: device id → fingerprint of the data the lead rejected.
    pub rejected: BTreeMap<String, String>,
    pub modal: Option<ReviewModal>,
    /// One line of feedback (skipped rows, rejections).
    pub notice: Option<String>,
    generation: u64,
}

impl ReviewState {
    /// Keys go to the pane (not the keymap's pane bindings) while a filter or overlay is open.
    pub fn captures_keys(&self) -> bool {
        self.filter.editing || self.modal.is_some()
    }

    pub fn row(&self, device_id: &str) -> Option<&ReviewRow> {
        self.rows
            .iter()
            .find(|r| r.candidate.device.id == device_id)
    }

    pub fn selected(&self) -> Option<&ReviewRow> {
        self.list.selected_index().and_then(|i| self.rows.get(i))
    }

    /// Is this row rejected (for the data it shows)?
    pub fn is_rejected(&self, row: &ReviewRow) -> bool {
        is_rejected(&self.rejected, row)
    }

    /// Rejected rows stay hidden until their fingerprint changes.
    pub fn hidden_count(&self) -> usize {
        self.rows.iter().filter(|r| self.is_rejected(r)).count()
    }

    pub fn on_msg(&mut self, msg: ReviewMsg) -> Vec<Cmd> {
        match msg {
            ReviewMsg::Loading => {
                if !matches!(self.load, LoadState::Ready { .. }) {
                    self.load = LoadState::Loading;
                }
            }
            ReviewMsg::Loaded {
                generation,
                at,
                candidates,
            } => {
                if generation < self.generation {
                    return Vec::new();
                }
                self.generation = generation;
                self.load = LoadState::Ready { at };
                return self.merge(candidates);
            }
            ReviewMsg::Failed { generation, reason } => {
                if generation >= self.generation {
                    self.generation = generation;
                    self.load = LoadState::Failed(reason);
                }
            }
            ReviewMsg::Progress { device_id, state } => {
                if let Some(r) = self
                    .rows
                    .iter_mut()
                    .find(|r| r.candidate.device.id == device_id)
                {
                    r.apply = Some(state);
                }
            }
            ReviewMsg::Remembered(rejections) => self.remember(rejections),
            ReviewMsg::RejectSaved {
                device_ids,
                result,
                audit_error,
            } => self.reject_saved(&device_ids, result, audit_error),
        }
        Vec::new()
    }

    /// New candidates replace the rows; a row keeps its hand pick (if that user is still a
    /// choice) and its apply state; a row still being written or confirmed stays even when the
    /// device has left the candidates (the read-back will settle it).
    /// Rejections whose device now shows other data are dropped (and forgotten on disk).
    fn merge(&mut self, candidates: Vec<Candidate>) -> Vec<Cmd> {
        let mut old: BTreeMap<String, ReviewRow> = self
            .rows
            .drain(..)
            .map(|r| (r.candidate.device.id.clone(), r))
            .collect();
        let mut rows: Vec<ReviewRow> = candidates
            .into_iter()
            .map(|c| {
                let fingerprint = fingerprint(&c.device.id, &c.assessment);
                let prev = old.remove(&c.device.id);
                let pick = prev.as_ref().and_then(|p| p.pick.as_ref()).and_then(|p| {
                    c.choices
                        .iter()
                        .find(|ch| ch.person.id == p.person.id)
                        .cloned()
                });
                let apply = prev.and_then(|p| p.apply);
                ReviewRow {
                    candidate: c,
                    fingerprint,
                    pick,
                    apply,
                }
            })
            .collect();
        rows.extend(old.into_values().filter(ReviewRow::in_flight));
        self.rows = rows;
        let stale = self.drop_stale_rejections();
        let ids: BTreeSet<&String> = self.rows.iter().map(|r| &r.candidate.device.id).collect();
        self.marks.retain(|m| ids.contains(m));
        if let Some(ReviewModal::History { device_id } | ReviewModal::Pick { device_id, .. }) =
            &self.modal
            && !ids.contains(device_id)
        {
            self.modal = None;
        }
        self.settle();
        self.forget(stale)
    }

    /// Recomputes the visible rows (filter, rejections) after rows or filter changed.
    pub fn settle(&mut self) {
        let keys = self
            .rows
            .iter()
            .map(|r| r.candidate.device.id.clone())
            .collect();
        let rows = &self.rows;
        let filter = &self.filter;
        let rejected = &self.rejected;
        self.list.set_rows(keys, |i| {
            let r = &rows[i];
            let a = &r.candidate.assessment;
            let d = &r.candidate.device;
            let proposed = r.target().0.map_or("", |p| p.upn.as_str());
            !is_rejected(rejected, r)
                && filter.matches([
                    d.name.as_str(),
                    d.serial.as_str(),
                    a.current.upn.as_str(),
                    proposed,
                    r.verdict_word(),
                ])
        });
    }

    pub fn on_paste(&mut self, text: &str) {
        if self.filter.paste(text) {
            self.settle();
        }
    }

    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
        if self.filter.editing {
            if self.filter.on_key(&key) == FilterEdit::Changed {
                self.settle();
            }
            return Vec::new();
        }
        if let Some(modal) = self.modal.take() {
            return self.on_modal_key(modal, key);
        }
        let Some(action) = action else {
            return Vec::new();
        };
        if self.list.navigate(action) {
            return Vec::new();
        }
        match action {
            Action::Filter => self.filter.start(),
            Action::Refresh => return vec![Cmd::Review(ReviewCmd::Refresh)],
            Action::Mark => {
                if let Some(id) = self.list.selected_key().cloned()
                    && !self.marks.remove(&id)
                {
                    self.marks.insert(id);
                }
                self.list.move_by(1);
            }
            Action::Approve => self.approve(),
            Action::Reject => return self.reject(),
            Action::Edit => {
                if let Some(r) = self.selected() {
                    if r.candidate.choices.is_empty() {
                        self.notice = Some("no real user has signed in on this device".into());
                    } else {
                        self.modal = Some(ReviewModal::Pick {
                            device_id: r.candidate.device.id.clone(),
                            cursor: 0,
                        });
                    }
                }
            }
            Action::Open => {
                if let Some(id) = self.list.selected_key() {
                    self.modal = Some(ReviewModal::History {
                        device_id: id.clone(),
                    });
                }
            }
            Action::Back => {
                self.marks.clear();
                self.notice = None;
            }
            _ => {}
        }
        Vec::new()
    }

    /// The marked rows that are visible, else the selected row.
    fn targets(&self) -> Vec<String> {
        let visible: Vec<&String> = self
            .list
            .visible()
            .iter()
            .filter_map(|&i| self.list.key_at(i))
            .collect();
        let marked: Vec<String> = visible
            .into_iter()
            .filter(|k| self.marks.contains(*k))
            .cloned()
            .collect();
        if marked.is_empty() {
            self.list.selected_key().cloned().into_iter().collect()
        } else {
            marked
        }
    }

    fn approve(&mut self) {
        let targets = self.targets();
        let (ok, skipped): (Vec<String>, Vec<String>) = targets
            .into_iter()
            .partition(|id| self.row(id).is_some_and(ReviewRow::writable));
        self.notice = (!skipped.is_empty()).then(|| {
            format!(
                "{} row(s) skipped: waiting, blocked or already applying",
                skipped.len()
            )
        });
        if !ok.is_empty() {
            self.modal = Some(ReviewModal::Confirm { device_ids: ok });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

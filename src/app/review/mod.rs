//! Review pane state: one row per reassignment candidate (rows arrive from the review feed), marks,
//! approve/reject/undo, the rejected view, the edit picker, the history overlay and the
//! confirmations.
//!
//! Marks and the cursor: with no marks a key acts on the cursor row; with marks it acts on the
//! marked rows the lead can see, asks first, and says how many marked rows the filter hides (those
//! are never acted on). Nothing is written before the lead confirms: `a` freezes each approval as
//! (device, from, to, fingerprint) and opens "Apply N changes?"; `y` writes only the frozen
//! approvals whose device still shows the same data, and reports the others as drifted.
//! Rejections are remembered per device with the fingerprint of the device's data (the feed keeps
//! them in the data dir, `ReviewCmd::Reject`), so a new sign-in or a new primary user brings the
//! row back (`ReviewCmd::Forget`); `u` undoes this session's rejections one batch at a time, and
//! the rejected view (`v`) lifts any remembered one (`ReviewCmd::Lift`, audited).

mod modal;
mod msg;
mod reject;
mod targets;
pub(crate) mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

pub use msg::{Lift, Reject, ReviewCmd, ReviewMsg};
use reject::is_rejected;

use super::filter::{FilterEdit, FilterInput};
use super::keymap::Action;
use super::list::SelectList;
use super::{Cmd, LoadState};
use crate::review::{ApplyJob, ApplyState, Choice, Person, Proposal, Verdict, fingerprint};

/// Rows of the detail box under the review table (border included).
pub const DETAIL_HEIGHT: usize = 7;

/// How often the review feed looks again; opening the pane with older data refreshes it at once.
pub const REFRESH_EVERY: Duration = Duration::from_secs(120);

/// Shown on a row whose data changed between approve and confirm (nothing was written).
pub const DRIFTED: &str = "changed since you approved: re-review";

/// A row of the pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRow {
    /// The review's proposal for the device, as the feed last reported it.
    pub candidate: Proposal,
    pub fingerprint: String,
    /// The user the lead picked with `e`, replacing the proposal.
    pub pick: Option<Choice>,
    /// Where an approved change stands.
    pub apply: Option<ApplyState>,
    /// Approved, but the device's data changed before the lead confirmed: not written.
    pub drifted: bool,
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

/// One approval as the lead saw it at `a`: exactly this change is written at confirm, and only
/// while the device still shows data with this fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub job: ApplyJob,
    pub fingerprint: String,
    pub device_name: String,
}

/// A review overlay; it takes every key while open.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewModal {
    /// The whole `usersLoggedOn` of a device.
    History { device_id: String },
    /// Pick another user for a device.
    Pick { device_id: String, cursor: usize },
    /// "Apply N changes?": the approvals frozen at `a`; nothing is written before `y`/Enter.
    /// `hidden`: marked rows the filter hides (not included); `skipped`: targets that cannot be
    /// approved. `scroll`: first line shown of the list.
    Confirm {
        approvals: Vec<Approval>,
        hidden: usize,
        skipped: usize,
        scroll: usize,
    },
    /// "Reject N marked rows?"
    Reject {
        device_ids: Vec<String>,
        hidden: usize,
        scroll: usize,
    },
    /// "Lift the rejection of …?" (the rejected view).
    Lift { device_ids: Vec<String> },
}

/// Which list the pane shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReviewView {
    #[default]
    Candidates,
    /// The remembered rejections, with who and when.
    Rejected,
}

/// A rejection in force (remembered, or made this session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub fingerprint: String,
    pub serial: String,
    pub proposed_upn: Option<String>,
    /// Who and when, once the feed has made it durable (or read it from the data dir).
    pub by: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// Verdicts of the rows in review (rejected rows and confirmed changes not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictCounts {
    pub propose: usize,
    pub waiting: usize,
    pub ambiguous: usize,
    pub blocked: usize,
    pub confirmed: usize,
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
    /// Rejections in force, by device id.
    pub rejected: BTreeMap<String, Rejected>,
    /// Rejections being lifted, kept until the feed says the lifting is durable.
    lifting: BTreeMap<String, Rejected>,
    /// This session's rejections, one batch per `r`, newest last (`u` undoes the last one).
    undo: Vec<Vec<String>>,
    pub view: ReviewView,
    /// The rejected view's list, keyed by device id.
    pub rejected_list: SelectList<String>,
    pub counts: VerdictCounts,
    pub modal: Option<ReviewModal>,
    /// One line of feedback (skipped rows, rejections). It clears itself: work in flight (a
    /// notice ending in '…') when its outcome replaces it, anything else after
    /// [`crate::app::NOTICE_SECS`] on screen (see [`ReviewState::on_tick`]).
    pub notice: Option<String>,
    generation: u64,
    /// The notice as the last tick saw it, and since when.
    notice_seen: Option<(String, DateTime<Utc>)>,
    /// Device ids of changes sent to be applied whose outcome is not known yet.
    applying: BTreeSet<String>,
    /// Outcomes of the changes sent since `applying` was last empty: (confirmed, failed).
    applied: (usize, usize),
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

    /// Marked rows the filter hides from view (never acted on).
    pub fn marks_hidden(&self) -> usize {
        let visible: BTreeSet<&String> = self
            .list
            .visible()
            .iter()
            .filter_map(|&i| self.list.key_at(i))
            .collect();
        self.marks.iter().filter(|m| !visible.contains(m)).count()
    }

    /// Rows in review: every candidate not rejected (the filter aside).
    pub fn in_review(&self) -> usize {
        self.rows.len() - self.hidden_count()
    }

    /// Opening the pane: data older than `every` (or a failed load) is refreshed at once.
    pub fn on_focus(&mut self, now: DateTime<Utc>, every: Duration) -> Vec<Cmd> {
        let stale = match &self.load {
            LoadState::Ready { at } => (now - *at).to_std().is_ok_and(|age| age >= every),
            LoadState::Failed(_) => true,
            LoadState::Idle | LoadState::Loading => false,
        };
        if stale {
            vec![Cmd::Review(ReviewCmd::Refresh)]
        } else {
            Vec::new()
        }
    }

    /// The clock moved: a notice that has been on screen for [`crate::app::NOTICE_SECS`] goes.
    /// A notice ending in '…' reports work in flight and stays until its outcome replaces it.
    pub fn on_tick(&mut self, now: DateTime<Utc>) {
        let Some(text) = &self.notice else {
            self.notice_seen = None;
            return;
        };
        if text.ends_with('…') {
            self.notice_seen = None;
            return;
        }
        match &self.notice_seen {
            Some((seen, since)) if seen == text => {
                if now - *since >= chrono::Duration::seconds(crate::app::NOTICE_SECS) {
                    self.notice = None;
                    self.notice_seen = None;
                }
            }
            _ => self.notice_seen = Some((text.clone(), now)),
        }
    }

    /// Changes sent to be applied: the notice says so until every outcome is in.
    pub(super) fn applying(&mut self, device_ids: impl IntoIterator<Item = String>) {
        if self.applying.is_empty() {
            self.applied = (0, 0);
        }
        self.applying.extend(device_ids);
    }

    /// One change moved on; when it was the last one in flight, the notice gives the outcome.
    fn applied_one(&mut self, device_id: &str, state: &ApplyState) {
        if !state.is_final() || !self.applying.remove(device_id) {
            return;
        }
        match state {
            ApplyState::Confirmed { .. } => self.applied.0 += 1,
            _ => self.applied.1 += 1,
        }
        if self.applying.is_empty() {
            let (ok, failed) = self.applied;
            self.notice = Some(match failed {
                0 => format!("{ok} change(s) applied and confirmed"),
                _ => format!("{ok} change(s) confirmed, {failed} failed (see the rows)"),
            });
        }
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
                    r.apply = Some(state.clone());
                }
                self.applied_one(&device_id, &state);
                self.settle();
            }
            ReviewMsg::Remembered(rejections) => self.remember(rejections),
            ReviewMsg::RejectSaved {
                device_ids,
                result,
                audit_error,
                by,
                at,
            } => self.reject_saved(&device_ids, result, audit_error, by, at),
            ReviewMsg::LiftSaved {
                device_ids,
                result,
                audit_error,
            } => self.lift_saved(&device_ids, result, audit_error),
            ReviewMsg::Unsent { cmd, reason } => return self.unsent(cmd, reason),
        }
        Vec::new()
    }

    /// A command that reached no review feed: each one says so where it was asked for.
    fn unsent(&mut self, cmd: ReviewCmd, reason: String) -> Vec<Cmd> {
        match cmd {
            ReviewCmd::Refresh => {
                if !matches!(self.load, LoadState::Ready { .. }) {
                    self.load = LoadState::Failed(reason);
                }
            }
            ReviewCmd::Apply(jobs) => {
                // Nothing was written: say so on each row instead of leaving it "approved".
                for job in jobs {
                    return_progress(self, job.device_id, reason.clone());
                }
                self.settle();
            }
            ReviewCmd::Reject(rejects) => {
                let ids: Vec<String> = rejects.into_iter().map(|r| r.device_id).collect();
                self.reject_saved(&ids, Err(reason), None, String::new(), DateTime::UNIX_EPOCH);
            }
            ReviewCmd::Lift(lifts) => {
                let ids: Vec<String> = lifts.into_iter().map(|l| l.device_id).collect();
                self.lift_saved(&ids, Err(reason), None);
            }
            // Stale rejections are dropped again at the next load.
            ReviewCmd::Forget(_) => {}
        }
        Vec::new()
    }

    /// New candidates replace the rows; a row keeps its hand pick (if that user is still a
    /// choice), its apply state and its drift mark while its data is the same; a row still being
    /// written or confirmed, or confirmed this session, stays even when the device has left the
    /// candidates. Rows sort proposals first. Rejections whose device now shows other data are
    /// dropped (and forgotten on disk).
    fn merge(&mut self, candidates: Vec<Proposal>) -> Vec<Cmd> {
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
                let drifted = prev
                    .as_ref()
                    .is_some_and(|p| p.drifted && p.fingerprint == fingerprint);
                let apply = prev.and_then(|p| p.apply);
                ReviewRow {
                    candidate: c,
                    fingerprint,
                    pick,
                    apply,
                    drifted,
                }
            })
            .collect();
        rows.extend(
            old.into_values()
                .filter(|r| r.in_flight() || matches!(r.apply, Some(ApplyState::Confirmed { .. }))),
        );
        rows.sort_by(|a, b| {
            text::rank(a)
                .cmp(&text::rank(b))
                .then_with(|| a.candidate.device.name.cmp(&b.candidate.device.name))
        });
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

    /// Recomputes the visible rows (filter, rejections) and the verdict counts after rows or
    /// filter changed.
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
            let (name, upn) = r
                .target()
                .0
                .map_or(("", ""), |p| (p.display_name.as_str(), p.upn.as_str()));
            !is_rejected(rejected, r)
                && filter.matches([
                    d.name.as_str(),
                    d.serial.as_str(),
                    a.current.upn.as_str(),
                    upn,
                    name,
                    r.verdict_word(),
                ])
        });
        let mut c = VerdictCounts::default();
        for r in self.rows.iter().filter(|r| !is_rejected(rejected, r)) {
            if matches!(r.apply, Some(ApplyState::Confirmed { .. })) {
                c.confirmed += 1;
                continue;
            }
            match r.target().1 {
                Verdict::Propose => c.propose += 1,
                Verdict::Waiting => c.waiting += 1,
                Verdict::Ambiguous => c.ambiguous += 1,
                Verdict::Blocked(_) => c.blocked += 1,
            }
        }
        self.counts = c;
        self.settle_rejected();
    }

    pub fn on_paste(&mut self, text: &str) {
        if self.filter.paste(text) {
            self.settle();
        }
    }

    /// The list the keys move in: the candidates or the rejected view.
    fn active_list(&mut self) -> &mut SelectList<String> {
        match self.view {
            ReviewView::Candidates => &mut self.list,
            ReviewView::Rejected => &mut self.rejected_list,
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
        if self.active_list().navigate(action) {
            return Vec::new();
        }
        match action {
            Action::Filter => self.filter.start(),
            Action::Refresh => return vec![Cmd::Review(ReviewCmd::Refresh)],
            Action::Back => self.back(),
            Action::ToggleRejected => self.toggle_view(),
            Action::Undo if self.view == ReviewView::Rejected => self.ask_lift(),
            Action::Undo => return self.undo(),
            Action::Export => return vec![Cmd::Export(self.export())],
            _ if self.view == ReviewView::Rejected => {
                self.notice =
                    Some("the rejected view: u lifts a rejection · v back to review".into());
            }
            Action::Mark => {
                if let Some(id) = self.list.selected_key().cloned()
                    && !self.marks.remove(&id)
                {
                    self.marks.insert(id);
                }
                self.list.move_by(1);
            }
            Action::MarkProposals => self.mark_proposals(),
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
            _ => {}
        }
        Vec::new()
    }

    /// Esc: clears the filter first, then the marks, then leaves the rejected view.
    fn back(&mut self) {
        self.notice = None;
        if !self.filter.text.is_empty() {
            self.filter.text.clear();
            self.settle();
        } else if !self.marks.is_empty() {
            self.marks.clear();
        } else {
            self.view = ReviewView::Candidates;
        }
    }

    fn toggle_view(&mut self) {
        self.notice = None;
        self.view = match self.view {
            ReviewView::Candidates if self.rejected.is_empty() => {
                self.notice = Some("no rejection is in force".into());
                ReviewView::Candidates
            }
            ReviewView::Candidates => ReviewView::Rejected,
            ReviewView::Rejected => ReviewView::Candidates,
        };
        self.settle();
    }
}

#[cfg(test)]
mod marks_tests;
#[cfg(test)]
pub(crate) mod tests;

/// Marks one approved row failed with `reason` (nothing was written).
fn return_progress(state: &mut ReviewState, device_id: String, reason: String) {
    if let Some(r) = state
        .rows
        .iter_mut()
        .find(|r| r.candidate.device.id == device_id)
    {
        r.apply = Some(ApplyState::Failed { reason });
    }
}

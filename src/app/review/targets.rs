//! Which rows a key acts on. No marks: the cursor row. Marks: the marked rows the lead can see;
//! marked rows the filter hides are counted, named in the confirmation, and never acted on.

use super::{Approval, ReviewModal, ReviewRow, ReviewState};

/// The rows an action applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Targets {
    pub ids: Vec<String>,
    /// The ids are the visible marked rows (else the cursor row).
    pub marked: bool,
    /// Marked rows hidden by the filter (not in `ids`).
    pub hidden: usize,
}

impl ReviewState {
    pub(super) fn targets(&self) -> Targets {
        let visible: Vec<&String> = self
            .list
            .visible()
            .iter()
            .filter_map(|&i| self.list.key_at(i))
            .collect();
        if self.marks.is_empty() {
            return Targets {
                ids: self.list.selected_key().cloned().into_iter().collect(),
                marked: false,
                hidden: 0,
            };
        }
        let ids: Vec<String> = visible
            .into_iter()
            .filter(|k| self.marks.contains(*k))
            .cloned()
            .collect();
        Targets {
            hidden: self.marks.len() - ids.len(),
            ids,
            marked: true,
        }
    }

    /// What to say when a key finds no row to act on.
    pub(super) fn nothing_to(&self, verb: &str, t: &Targets) -> String {
        if t.marked {
            format!(
                "nothing to {verb}: the {} marked row(s) are all hidden by the filter (Esc clears \
                 it)",
                t.hidden
            )
        } else if !self.filter.text.is_empty() {
            format!(
                "nothing to {verb}: {}",
                self.empty_message().unwrap_or_default()
            )
        } else {
            format!("nothing to {verb}: no rows in review")
        }
    }

    /// The line shown when the candidates view has no visible row, if it has none.
    pub fn empty_message(&self) -> Option<String> {
        if !self.list.is_empty() {
            return None;
        }
        let n = self.in_review();
        Some(if !self.filter.text.is_empty() {
            format!(
                "no rows match '{}' ({n} candidate{})",
                self.filter.text,
                if n == 1 { "" } else { "s" }
            )
        } else if self.rows.is_empty() {
            "No device lists a staging account as its primary user.".into()
        } else {
            format!(
                "every candidate is rejected ({}): v lists them",
                self.hidden_count()
            )
        })
    }

    /// `a`: freezes each writable target as it is now and asks "Apply N changes?".
    pub(super) fn approve(&mut self) {
        let t = self.targets();
        if t.ids.is_empty() {
            self.notice = Some(self.nothing_to("approve", &t));
            return;
        }
        let mut approvals = Vec::new();
        let mut skipped = 0;
        for id in &t.ids {
            match self.row(id).filter(|r| r.writable()).and_then(freeze) {
                Some(a) => approvals.push(a),
                None => skipped += 1,
            }
        }
        if approvals.is_empty() {
            self.notice = Some(format!(
                "nothing to approve: {skipped} row(s) waiting, blocked or already applying"
            ));
            return;
        }
        self.notice = None;
        self.modal = Some(ReviewModal::Confirm {
            approvals,
            hidden: t.hidden,
            skipped,
            scroll: 0,
        });
    }

    /// Marks every visible `propose` row (or, when all are marked already, unmarks them).
    pub(super) fn mark_proposals(&mut self) {
        let ids: Vec<String> = self
            .list
            .visible()
            .iter()
            .filter_map(|&i| self.rows.get(i))
            .filter(|r| r.verdict_word() == "propose" && r.writable())
            .map(|r| r.candidate.device.id.clone())
            .collect();
        if ids.is_empty() {
            self.notice = Some("no propose rows in view".into());
        } else if ids.iter().all(|id| self.marks.contains(id)) {
            for id in &ids {
                self.marks.remove(id);
            }
            self.notice = Some(format!("{} propose row(s) unmarked", ids.len()));
        } else {
            self.notice = Some(format!("{} propose row(s) marked", ids.len()));
            self.marks.extend(ids);
        }
    }
}

/// The approval of a row as it is now.
fn freeze(r: &ReviewRow) -> Option<Approval> {
    Some(Approval {
        job: r.job()?,
        fingerprint: r.fingerprint.clone(),
        device_name: r.candidate.device.name.clone(),
    })
}

//! Keys while a review overlay is open: the history (any key closes), the user picker, the
//! "Reject N marked rows?" and "Lift …?" questions, and the "Apply N changes?" confirmation, the
//! only place a write is started. The confirmations scroll (↑↓ PgUp PgDn), so every change can be
//! read in full before `y`.

use crossterm::event::{KeyCode, KeyEvent};

use super::{Approval, DRIFTED, ReviewCmd, ReviewModal, ReviewState};
use crate::app::Cmd;
use crate::review::ApplyState;

/// A scroll key's new first line, or `None` when `key` does not scroll.
fn scrolled(key: &KeyEvent, scroll: usize, len: usize) -> Option<usize> {
    let max = len.saturating_sub(1);
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (scroll + 1).min(max),
        KeyCode::PageUp => scroll.saturating_sub(10),
        KeyCode::PageDown => (scroll + 10).min(max),
        KeyCode::Home => 0,
        KeyCode::End => max,
        _ => return None,
    })
}

impl ReviewState {
    pub(super) fn on_modal_key(&mut self, modal: ReviewModal, key: KeyEvent) -> Vec<Cmd> {
        match modal {
            ReviewModal::History { .. } => {}
            ReviewModal::Confirm {
                approvals,
                hidden,
                skipped,
                scroll,
            } => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => return self.confirm(approvals),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.notice = Some("nothing applied".into());
                }
                _ => {
                    let scroll = scrolled(&key, scroll, approvals.len()).unwrap_or(scroll);
                    self.modal = Some(ReviewModal::Confirm {
                        approvals,
                        hidden,
                        skipped,
                        scroll,
                    });
                }
            },
            ReviewModal::Reject {
                device_ids,
                hidden,
                scroll,
            } => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => return self.reject_rows(&device_ids),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.notice = Some("nothing rejected".into());
                }
                _ => {
                    let scroll = scrolled(&key, scroll, device_ids.len()).unwrap_or(scroll);
                    self.modal = Some(ReviewModal::Reject {
                        device_ids,
                        hidden,
                        scroll,
                    });
                }
            },
            ReviewModal::Lift { device_ids } => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => return self.lift(&device_ids, false),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.notice = Some("nothing lifted".into());
                }
                _ => self.modal = Some(ReviewModal::Lift { device_ids }),
            },
            ReviewModal::Pick { device_id, cursor } => {
                let n = self
                    .row(&device_id)
                    .map_or(0, |r| r.candidate.choices.len());
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.modal = Some(ReviewModal::Pick {
                            device_id,
                            cursor: cursor.saturating_sub(1),
                        });
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.modal = Some(ReviewModal::Pick {
                            device_id,
                            cursor: (cursor + 1).min(n.saturating_sub(1)),
                        });
                    }
                    KeyCode::Enter => self.pick(&device_id, cursor),
                    KeyCode::Esc => {}
                    _ => self.modal = Some(ReviewModal::Pick { device_id, cursor }),
                }
            }
        }
        Vec::new()
    }

    fn pick(&mut self, device_id: &str, cursor: usize) {
        let Some(r) = self
            .rows
            .iter_mut()
            .find(|r| r.candidate.device.id == device_id)
        else {
            return;
        };
        let Some(choice) = r.candidate.choices.get(cursor).cloned() else {
            return;
        };
        let is_proposal = r
            .candidate
            .assessment
            .proposed
            .as_ref()
            .is_some_and(|p| p.id == choice.person.id);
        r.pick = (!is_proposal).then_some(choice);
        self.settle();
    }

    /// Writes exactly the frozen approvals whose device still shows the data the lead approved;
    /// the others are not written and their rows say so.
    fn confirm(&mut self, approvals: Vec<Approval>) -> Vec<Cmd> {
        let mut jobs = Vec::new();
        let mut drifted = Vec::new();
        for a in approvals {
            let Some(r) = self
                .rows
                .iter_mut()
                .find(|r| r.candidate.device.id == a.job.device_id)
            else {
                drifted.push(a.device_name);
                continue;
            };
            let same = r.fingerprint == a.fingerprint
                && r.target().0.is_some_and(|p| *p == a.job.to)
                && r.writable();
            if same {
                r.apply = Some(ApplyState::Approved);
                r.drifted = false;
                jobs.push(a.job);
            } else {
                if r.apply.is_none() {
                    r.drifted = true;
                }
                drifted.push(a.device_name);
            }
        }
        self.marks.clear();
        let not_written = (!drifted.is_empty()).then(|| {
            format!(
                "{} not written, {DRIFTED}: {}",
                drifted.len(),
                drifted.join(", ")
            )
        });
        // In flight ('…') until the last outcome replaces it; "nothing applied" clears in time.
        self.notice = Some(match (jobs.len(), not_written) {
            (0, Some(n)) => format!("nothing applied; {n}"),
            (0, None) => "nothing applied".into(),
            (k, Some(n)) => format!("{n}; applying {k} change(s)…"),
            (k, None) => format!("applying {k} change(s)…"),
        });
        self.settle();
        if jobs.is_empty() {
            return Vec::new();
        }
        self.applying(jobs.iter().map(|j| j.device_id.clone()));
        vec![Cmd::Review(ReviewCmd::Apply(jobs))]
    }
}

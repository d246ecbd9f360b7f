//! Keys while a review overlay is open: the history (any key closes), the user picker, and the
//! "Apply N changes?" confirmation, the only place a write is started.

use crossterm::event::{KeyCode, KeyEvent};

use super::{ReviewCmd, ReviewModal, ReviewState};
use crate::app::Cmd;
use crate::review::ApplyState;

impl ReviewState {
    pub(super) fn on_modal_key(&mut self, modal: ReviewModal, key: KeyEvent) -> Vec<Cmd> {
        match modal {
            ReviewModal::History { .. } => {}
            ReviewModal::Confirm { device_ids } => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => return self.confirm(&device_ids),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.notice = Some("nothing applied".into());
                }
                _ => self.modal = Some(ReviewModal::Confirm { device_ids }),
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

    fn confirm(&mut self, device_ids: &[String]) -> Vec<Cmd> {
        let mut jobs = Vec::new();
        for id in device_ids {
            if let Some(r) = self.rows.iter_mut().find(|r| r.candidate.device.id == *id)
                && r.writable()
                && let Some(job) = r.job()
            {
                r.apply = Some(ApplyState::Approved);
                jobs.push(job);
            }
        }
        self.marks.clear();
        self.notice = Some(format!("applying {} change(s)", jobs.len()));
        if jobs.is_empty() {
            return Vec::new();
        }
        vec![Cmd::Review(ReviewCmd::Apply(jobs))]
    }
}

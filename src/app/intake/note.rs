//! Local status notes: a technician marks a queue entry failed with a reason (a hardware fault,
//! say). The reason is kept in the store (`QueueEvent::MarkedFailed`), shown in the queue, and
//! never sent to Intune. `f` in the queue list opens a one-line reason prompt; Enter saves it,
//! Esc cancels.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{Feedback, FeedbackKind, IntakeState};
use crate::app::Cmd;
use crate::app::keymap::Action;
use crate::store::QueueEvent;

/// Longest reason kept (characters).
pub const MAX_REASON: usize = 200;

/// The journal event for "`serial` failed because `reason`", or why the reason is not usable.
pub fn mark_failed(serial: &str, reason: &str) -> Result<QueueEvent, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("a reason is required".into());
    }
    if let Some(c) = reason.chars().find(|c| c.is_control()) {
        return Err(format!("the reason contains a control character {c:?}"));
    }
    let n = reason.chars().count();
    if n > MAX_REASON {
        return Err(format!(
            "the reason is {n} characters; at most {MAX_REASON}"
        ));
    }
    Ok(QueueEvent::MarkedFailed {
        serial: serial.trim().to_string(),
        reason: reason.to_string(),
    })
}

/// The open reason prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailPrompt {
    pub serial: String,
    pub reason: String,
    /// Focus to give back on close (the prompt takes the typing focus while open).
    list_had_focus: bool,
}

impl FailPrompt {
    /// The prompt line as shown on the feedback line.
    pub fn line(&self) -> String {
        format!(
            "reason it failed: {}█  (Enter: mark failed, local only · Esc: cancel)",
            self.reason
        )
    }
}

impl IntakeState {
    /// `f` on a saved queue entry: opens the prompt. While it is open keys go to it, so the pane
    /// reports typing focus (scan keys such as `d` or space type into the reason).
    pub(super) fn open_fail_prompt(&mut self) -> Vec<Cmd> {
        let Some(key) = self.list.selected_key().cloned() else {
            return Vec::new();
        };
        let Some(entry) = self.queue.get(&key) else {
            return Vec::new();
        };
        let prompt = FailPrompt {
            serial: entry.serial.clone(),
            reason: String::new(),
            list_had_focus: !self.input_focused,
        };
        self.input_focused = true;
        self.show_prompt(&prompt);
        self.fail_prompt = Some(prompt);
        Vec::new()
    }

    fn show_prompt(&mut self, p: &FailPrompt) {
        self.feedback = Some(Feedback {
            kind: FeedbackKind::Notice,
            serial: p.serial.clone(),
            text: p.line(),
            at: self.now,
        });
    }

    fn close_prompt(&mut self, p: &FailPrompt) {
        self.fail_prompt = None;
        if p.list_had_focus {
            self.input_focused = false;
        }
    }

    /// Every key while the prompt is open.
    pub(super) fn on_fail_prompt_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
        let Some(mut p) = self.fail_prompt.clone() else {
            return Vec::new();
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match (key.code, action) {
            (_, Some(Action::Back)) | (KeyCode::Esc, _) => {
                self.close_prompt(&p);
                self.feedback = Some(Feedback {
                    kind: FeedbackKind::Notice,
                    serial: p.serial.clone(),
                    text: "not marked failed".into(),
                    at: self.now,
                });
                Vec::new()
            }
            (KeyCode::Enter, _) => match mark_failed(&p.serial, &p.reason) {
                Ok(event) => {
                    self.close_prompt(&p);
                    self.feedback = Some(Feedback {
                        kind: FeedbackKind::Saving,
                        serial: p.serial.clone(),
                        text: "marking failed (local note, not sent to Intune)…".into(),
                        at: self.now,
                    });
                    self.rows_stale = true;
                    vec![self.send(vec![event])]
                }
                Err(why) => {
                    self.feedback = Some(Feedback {
                        kind: FeedbackKind::Invalid,
                        serial: p.serial.clone(),
                        text: format!("{why} — {}", p.line()),
                        at: self.now,
                    });
                    Vec::new()
                }
            },
            (KeyCode::Backspace, _) => {
                p.reason.pop();
                self.show_prompt(&p);
                self.fail_prompt = Some(p);
                Vec::new()
            }
            (KeyCode::Char(c), _) if !ctrl && p.reason.chars().count() < MAX_REASON => {
                p.reason.push(c);
                self.show_prompt(&p);
                self.fail_prompt = Some(p);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::{EntryState, StoreAck};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn reasons_are_required_printable_and_bounded() {
        assert!(mark_failed("PF1", "  ").is_err());
        assert!(
            mark_failed("PF1", "bad\u{7}beep")
                .unwrap_err()
                .contains("control")
        );
        assert!(
            mark_failed("PF1", &"x".repeat(MAX_REASON + 1))
                .unwrap_err()
                .contains("at most")
        );
        assert_eq!(
            mark_failed(" PF1 ", " cracked hinge "),
            Ok(QueueEvent::MarkedFailed {
                serial: "PF1".into(),
                reason: "cracked hinge".into()
            })
        );
    }

    /// A state with one saved entry, the queue list focused and the entry selected.
    fn with_entry(config: &Config) -> IntakeState {
        let mut s = IntakeState::new(config);
        for c in "PF1ABC".chars() {
            s.on_key(key(KeyCode::Char(c)), None, config);
        }
        let cmds = s.on_key(key(KeyCode::Enter), None, config);
        let [Cmd::Store { ticket, .. }] = cmds.as_slice() else {
            panic!("{cmds:?}")
        };
        s.on_ack(
            StoreAck {
                ticket: *ticket,
                result: Ok(()),
            },
            config,
        );
        s.settle();
        s.list.home();
        s.input_focused = false;
        s
    }

    #[test]
    fn f_opens_a_prompt_typed_keys_fill_it_and_enter_journals_the_note() {
        let config = Config::default();
        let mut s = with_entry(&config);
        assert!(s.open_fail_prompt().is_empty());
        assert!(s.input_focused, "the prompt takes typing focus");
        // `d` and space are list keys elsewhere; here they type.
        for c in "no boot d".chars() {
            let action = (c == 'd').then_some(Action::Delete);
            assert!(s.on_key(key(KeyCode::Char(c)), action, &config).is_empty());
        }
        s.on_key(key(KeyCode::Backspace), None, &config);
        s.on_key(key(KeyCode::Backspace), None, &config);
        assert_eq!(s.fail_prompt.as_ref().unwrap().reason, "no boot");
        assert!(s.feedback.as_ref().unwrap().text.contains("no boot"));
        let cmds = s.on_key(key(KeyCode::Enter), None, &config);
        let [Cmd::Store { ticket, events }] = cmds.as_slice() else {
            panic!("{cmds:?}")
        };
        assert_eq!(
            events,
            &vec![QueueEvent::MarkedFailed {
                serial: "PF1ABC".into(),
                reason: "no boot".into()
            }]
        );
        assert!(s.fail_prompt.is_none() && !s.input_focused);
        s.on_ack(
            StoreAck {
                ticket: *ticket,
                result: Ok(()),
            },
            &config,
        );
        let e = s.queue.get("PF1ABC").unwrap();
        assert_eq!(
            (e.state, e.note.as_deref()),
            (EntryState::Failed, Some("no boot"))
        );
    }

    #[test]
    fn empty_reason_keeps_the_prompt_and_esc_cancels_without_a_store() {
        let config = Config::default();
        let mut s = with_entry(&config);
        s.open_fail_prompt();
        assert!(s.on_key(key(KeyCode::Enter), None, &config).is_empty());
        assert!(s.fail_prompt.is_some());
        assert_eq!(s.feedback.as_ref().unwrap().kind, FeedbackKind::Invalid);
        assert!(
            s.on_key(key(KeyCode::Esc), Some(Action::Back), &config)
                .is_empty()
        );
        assert!(s.fail_prompt.is_none() && !s.input_focused);
        assert_ne!(s.queue.get("PF1ABC").unwrap().state, EntryState::Failed);
    }
}

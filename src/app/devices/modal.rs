//! The retire/wipe confirmation modal: what will happen, the wipe toggles, and the device's serial
//! typed to confirm. Enter sends the request as typed; `devices::run_destructive` decides (it
//! checks the confirmation, the role through Graph, ambiguity and pending actions, and audits).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::devices::{Destructive, DestructiveRequest};
use crate::graph::models::WipeOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Retire,
    Wipe,
}

/// Which part of the modal takes keys (Tab moves on; the toggles exist for wipe only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Serial,
    KeepEnrollmentData,
    KeepUserData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModalStage {
    Editing,
    /// Sent; waiting for the outcome.
    Sending,
    /// The outcome: sent, refused (nothing reached Intune) or failed.
    Done {
        ok: bool,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionModal {
    pub kind: ActionKind,
    /// The selected row's serial: the one to type.
    pub serial: String,
    pub device_name: Option<String>,
    pub keep_enrollment_data: bool,
    pub keep_user_data: bool,
    pub typed: String,
    pub focus: Field,
    pub stage: ModalStage,
}

/// What a key did.
#[derive(Debug, Clone, PartialEq)]
pub enum ModalKey {
    Stay,
    Close,
    Submit(DestructiveRequest),
}

impl ActionModal {
    pub fn new(kind: ActionKind, serial: &str, device_name: Option<String>) -> Self {
        Self {
            kind,
            serial: serial.to_string(),
            device_name,
            keep_enrollment_data: false,
            keep_user_data: false,
            typed: String::new(),
            focus: Field::Serial,
            stage: ModalStage::Editing,
        }
    }

    pub fn action(&self) -> Destructive {
        match self.kind {
            ActionKind::Retire => Destructive::Retire,
            ActionKind::Wipe => Destructive::Wipe(WipeOptions {
                keep_enrollment_data: self.keep_enrollment_data,
                keep_user_data: self.keep_user_data,
                ..WipeOptions::default()
            }),
        }
    }

    /// Whether the typed text is the serial (the same test the guard applies).
    pub fn confirmed(&self) -> bool {
        crate::devices::guard::check_confirmation(&self.serial, Some(&self.typed)).is_ok()
    }

    pub fn on_key(&mut self, key: &KeyEvent) -> ModalKey {
        if key.code == KeyCode::Esc {
            return ModalKey::Close;
        }
        match &self.stage {
            ModalStage::Sending => return ModalKey::Stay,
            ModalStage::Done { .. } => return ModalKey::Close,
            ModalStage::Editing => {}
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match (key.code, self.focus) {
            (KeyCode::Enter, _) => {
                self.stage = ModalStage::Sending;
                return ModalKey::Submit(DestructiveRequest {
                    serial: self.serial.clone(),
                    confirm: Some(self.typed.clone()),
                    action: self.action(),
                });
            }
            (KeyCode::Tab | KeyCode::Down, _) => self.focus = self.next_field(true),
            (KeyCode::BackTab | KeyCode::Up, _) => self.focus = self.next_field(false),
            (KeyCode::Char(' '), Field::KeepEnrollmentData) => {
                self.keep_enrollment_data = !self.keep_enrollment_data;
            }
            (KeyCode::Char(' '), Field::KeepUserData) => self.keep_user_data = !self.keep_user_data,
            (KeyCode::Backspace, Field::Serial) => {
                self.typed.pop();
            }
            (KeyCode::Char('u'), Field::Serial) if ctrl => self.typed.clear(),
            (KeyCode::Char(c), Field::Serial) if !ctrl && !c.is_control() => self.typed.push(c),
            _ => {}
        }
        ModalKey::Stay
    }

    pub fn paste(&mut self, text: &str) {
        if self.stage == ModalStage::Editing && self.focus == Field::Serial {
            self.typed.extend(text.chars().filter(|c| !c.is_control()));
        }
    }

    fn next_field(&self, forward: bool) -> Field {
        if self.kind == ActionKind::Retire {
            return Field::Serial;
        }
        let order = [
            Field::Serial,
            Field::KeepEnrollmentData,
            Field::KeepUserData,
        ];
        let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = order.len();
        order[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(m: &mut ActionModal, text: &str) {
        for c in text.chars() {
            assert_eq!(m.on_key(&k(KeyCode::Char(c))), ModalKey::Stay);
        }
    }

    #[test]
    fn wipe_toggles_reach_the_request_and_the_serial_is_sent_as_typed() {
        let mut m = ActionModal::new(ActionKind::Wipe, "5CG123", None);
        m.on_key(&k(KeyCode::Tab));
        m.on_key(&k(KeyCode::Char(' ')));
        assert_eq!(m.focus, Field::KeepEnrollmentData);
        assert!(m.keep_enrollment_data && !m.keep_user_data);
        m.on_key(&k(KeyCode::Tab));
        m.on_key(&k(KeyCode::Tab));
        assert_eq!(m.focus, Field::Serial);
        typed(&mut m, "5cg12");
        assert!(!m.confirmed());
        typed(&mut m, "3");
        assert!(m.confirmed());
        let ModalKey::Submit(req) = m.on_key(&k(KeyCode::Enter)) else {
            panic!("Enter submits")
        };
        assert_eq!(req.serial, "5CG123");
        assert_eq!(req.confirm.as_deref(), Some("5cg123"));
        assert_eq!(
            req.action,
            Destructive::Wipe(WipeOptions {
                keep_enrollment_data: true,
                ..WipeOptions::default()
            })
        );
        assert_eq!(m.stage, ModalStage::Sending);
        // Keys do nothing while it is sent, except Esc.
        assert_eq!(m.on_key(&k(KeyCode::Enter)), ModalKey::Stay);
        assert_eq!(m.on_key(&k(KeyCode::Esc)), ModalKey::Close);
    }

    #[test]
    fn retire_has_no_toggles_and_space_is_not_typed_into_the_serial_field_as_a_toggle() {
        let mut m = ActionModal::new(ActionKind::Retire, "A1", None);
        m.on_key(&k(KeyCode::Tab));
        assert_eq!(m.focus, Field::Serial);
        typed(&mut m, "A 1");
        m.on_key(&k(KeyCode::Backspace));
        assert_eq!(m.typed, "A ");
        assert!(!m.keep_enrollment_data && !m.keep_user_data);
        assert_eq!(m.action(), Destructive::Retire);
        m.stage = ModalStage::Done {
            ok: true,
            message: "sent".into(),
        };
        assert_eq!(m.on_key(&k(KeyCode::Char('x'))), ModalKey::Close);
    }
}

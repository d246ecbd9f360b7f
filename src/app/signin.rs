//! The sign-in modal's state: plain data, no IO. The flow itself (device code or browser) runs in
//! `auth::interactive` and reports by [`SignInMsg`]; this side asks for it with [`SignInCmd`].
//! Every attempt carries a generation so answers from an abandoned attempt are dropped.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};

use super::Cmd;

pub use crate::auth::interactive::{Failure, SignInCmd};

/// From the sign-in task (and from the console itself: [`SignInMsg::Offer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInMsg {
    /// Open the modal and start signing in (no usable session at start).
    Offer {
        why: Option<String>,
    },
    /// The device code to show.
    Code {
        generation: u64,
        user_code: String,
        verification_uri: String,
        expires_at: DateTime<Utc>,
    },
    /// The browser sign-in URL (opened if a browser could be started).
    Browser {
        generation: u64,
        url: String,
        opened: bool,
    },
    /// Signed in; `note` says when nothing could be kept for next time.
    Done {
        generation: u64,
        account: String,
        note: Option<String>,
    },
    Failed {
        generation: u64,
        failure: Failure,
    },
}

/// Where the modal stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Idle,
    /// Asking the token endpoint for a code (or starting the loopback listener).
    Requesting {
        browser: bool,
    },
    Code {
        user_code: String,
        verification_uri: String,
        expires_at: DateTime<Utc>,
    },
    Browser {
        url: String,
        opened: bool,
    },
    SignedIn {
        account: String,
        note: Option<String>,
    },
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInState {
    /// The modal is on screen (Esc closes it and cancels an attempt in progress).
    pub open: bool,
    pub phase: Phase,
    pub generation: u64,
    /// Why the modal opened by itself: the session was lost (revoked, expired, claims challenge).
    pub why: Option<String>,
    /// Why signing in is impossible here; `None` once the console runs a sign-in task (the
    /// console clears it when it starts one).
    pub unavailable: Option<String>,
}

/// Until the console starts a sign-in task, signing in is not possible.
pub const NO_SIGNIN_TASK: &str = "sign-in is not available here";

impl Default for SignInState {
    fn default() -> Self {
        Self {
            open: false,
            phase: Phase::Idle,
            generation: 0,
            why: None,
            unavailable: Some(NO_SIGNIN_TASK.into()),
        }
    }
}

impl SignInState {
    /// A state whose sign-in task runs (the console's, and tests').
    pub fn available() -> Self {
        Self {
            unavailable: None,
            ..Self::default()
        }
    }
}

impl SignInState {
    /// Whether an attempt is running (a code is shown or being asked for).
    pub fn in_progress(&self) -> bool {
        matches!(
            self.phase,
            Phase::Requesting { .. } | Phase::Code { .. } | Phase::Browser { .. }
        )
    }

    /// Opens the modal and starts a fresh attempt.
    pub fn start(&mut self, browser: bool) -> Vec<Cmd> {
        self.open = true;
        if let Some(why) = &self.unavailable {
            self.phase = Phase::Failed(Failure::Error(why.clone()));
            return Vec::new();
        }
        self.generation += 1;
        self.phase = Phase::Requesting { browser };
        vec![Cmd::SignIn(SignInCmd::Start {
            generation: self.generation,
            browser,
        })]
    }

    /// The sign-in key: show the attempt in progress, or start one.
    pub fn open(&mut self) -> Vec<Cmd> {
        if self.in_progress() {
            self.open = true;
            Vec::new()
        } else {
            self.start(false)
        }
    }

    /// The session was lost mid-run: say why and start signing in again.
    pub fn session_lost(&mut self, why: String) -> Vec<Cmd> {
        self.why = Some(why);
        if self.in_progress() {
            self.open = true;
            return Vec::new();
        }
        self.start(false)
    }

    pub fn on_msg(&mut self, msg: SignInMsg) -> Vec<Cmd> {
        let current = |g: u64, s: &Self| g == s.generation && s.in_progress();
        match msg {
            SignInMsg::Offer { why } => {
                self.why = why;
                return self.start(false);
            }
            SignInMsg::Code {
                generation,
                user_code,
                verification_uri,
                expires_at,
            } if current(generation, self) => {
                self.phase = Phase::Code {
                    user_code,
                    verification_uri,
                    expires_at,
                };
            }
            SignInMsg::Browser {
                generation,
                url,
                opened,
            } if current(generation, self) => self.phase = Phase::Browser { url, opened },
            SignInMsg::Done {
                generation,
                account,
                note,
            } if current(generation, self) => {
                self.phase = Phase::SignedIn { account, note };
                self.why = None;
            }
            SignInMsg::Failed {
                generation,
                failure,
            } if current(generation, self) => self.phase = Phase::Failed(failure),
            _ => {}
        }
        Vec::new()
    }

    /// Keys while the modal is open. Esc closes it (cancelling an attempt in progress); `b`
    /// switches to the browser; after a failure Enter (or `n`) gets a new code; after success any
    /// key closes. Scanner bursts never get here (`app::scanner` takes them first).
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        match (&self.phase, key.code) {
            (_, KeyCode::Esc) => {
                self.open = false;
                if self.in_progress() {
                    self.phase = Phase::Idle;
                    return vec![Cmd::SignIn(SignInCmd::Cancel)];
                }
                Vec::new()
            }
            (Phase::SignedIn { .. }, _) => {
                self.open = false;
                Vec::new()
            }
            (_, KeyCode::Char('b' | 'B')) if self.unavailable.is_none() => self.start(true),
            // A named key, never "any key": a stray key (or a scan) must not start a new code.
            (Phase::Failed(_) | Phase::Idle, KeyCode::Enter | KeyCode::Char('n' | 'N'))
                if self.unavailable.is_none() =>
            {
                self.start(false)
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T09:15:00Z")
            .unwrap()
            .to_utc()
    }

    fn code(generation: u64) -> SignInMsg {
        SignInMsg::Code {
            generation,
            user_code: "ABCD-1234".into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            expires_at: at(),
        }
    }

    #[test]
    fn offer_opens_and_starts_a_device_code_attempt() {
        let mut s = SignInState::available();
        let cmds = s.on_msg(SignInMsg::Offer { why: None });
        assert!(s.open);
        assert_eq!(s.phase, Phase::Requesting { browser: false });
        assert_eq!(
            cmds,
            vec![Cmd::SignIn(SignInCmd::Start {
                generation: 1,
                browser: false
            })]
        );
        s.on_msg(code(1));
        assert!(matches!(&s.phase, Phase::Code { user_code, .. } if user_code == "ABCD-1234"));
        s.on_msg(SignInMsg::Done {
            generation: 1,
            account: "lead@contoso.com".into(),
            note: None,
        });
        assert_eq!(
            s.phase,
            Phase::SignedIn {
                account: "lead@contoso.com".into(),
                note: None
            }
        );
        // Any key closes the success screen and starts nothing.
        assert!(s.on_key(key(KeyCode::Char('x'))).is_empty());
        assert!(!s.open);
    }

    #[test]
    fn answers_from_an_abandoned_attempt_are_dropped() {
        let mut s = SignInState::available();
        s.start(false);
        s.on_key(key(KeyCode::Char('b')));
        assert_eq!(s.generation, 2);
        assert_eq!(s.phase, Phase::Requesting { browser: true });
        s.on_msg(code(1));
        s.on_msg(SignInMsg::Done {
            generation: 1,
            account: "old@contoso.com".into(),
            note: None,
        });
        assert_eq!(s.phase, Phase::Requesting { browser: true });
        s.on_msg(SignInMsg::Browser {
            generation: 2,
            url: "http://127.0.0.1/authorize".into(),
            opened: false,
        });
        assert!(matches!(s.phase, Phase::Browser { opened: false, .. }));
    }

    #[test]
    fn esc_cancels_the_attempt_and_closes_and_the_key_starts_a_new_one() {
        let mut s = SignInState::available();
        s.start(false);
        s.on_msg(code(1));
        assert_eq!(
            s.on_key(key(KeyCode::Esc)),
            vec![Cmd::SignIn(SignInCmd::Cancel)]
        );
        assert!(!s.open);
        assert_eq!(s.phase, Phase::Idle);
        // A late code from the cancelled attempt does not reopen anything.
        s.on_msg(code(1));
        assert_eq!(s.phase, Phase::Idle);
        let cmds = s.open();
        assert!(s.open);
        assert_eq!(
            cmds,
            vec![Cmd::SignIn(SignInCmd::Start {
                generation: 2,
                browser: false
            })]
        );
        // Opening again while a code is shown only shows it.
        s.on_msg(code(2));
        s.open = false;
        assert!(s.open().is_empty());
        assert!(s.open && matches!(s.phase, Phase::Code { .. }));
    }

    #[test]
    fn declined_and_expired_wait_for_a_key_then_get_a_new_code() {
        for failure in [Failure::Declined, Failure::CodeExpired] {
            let mut s = SignInState::available();
            s.start(false);
            s.on_msg(code(1));
            s.on_msg(SignInMsg::Failed {
                generation: 1,
                failure: failure.clone(),
            });
            assert_eq!(s.phase, Phase::Failed(failure));
            let cmds = s.on_key(key(KeyCode::Enter));
            assert_eq!(
                cmds,
                vec![Cmd::SignIn(SignInCmd::Start {
                    generation: 2,
                    browser: false
                })]
            );
        }
    }

    #[test]
    fn keys_during_an_attempt_do_nothing_but_esc_and_b() {
        let mut s = SignInState::available();
        s.start(false);
        s.on_msg(code(1));
        for c in [KeyCode::Enter, KeyCode::Char('q'), KeyCode::F(5)] {
            assert!(s.on_key(key(c)).is_empty());
        }
        assert!(matches!(s.phase, Phase::Code { .. }));
    }

    #[test]
    fn session_loss_says_why_and_starts_over() {
        let mut s = SignInState::available();
        let cmds = s.session_lost("sign-in expired or was revoked (invalid_grant)".into());
        assert!(s.open);
        assert_eq!(cmds.len(), 1);
        assert!(s.why.as_deref().unwrap().contains("invalid_grant"));
        s.on_msg(SignInMsg::Done {
            generation: 1,
            account: "lead@contoso.com".into(),
            note: None,
        });
        assert_eq!(s.why, None);
    }

    #[test]
    fn without_a_tenant_the_modal_says_so_and_starts_nothing() {
        let mut s = SignInState {
            unavailable: Some("no tenant configured".into()),
            ..SignInState::available()
        };
        assert_eq!(
            SignInState::default().unavailable.as_deref(),
            Some(NO_SIGNIN_TASK)
        );
        assert!(s.open().is_empty());
        assert!(s.open);
        assert_eq!(
            s.phase,
            Phase::Failed(Failure::Error("no tenant configured".into()))
        );
        assert!(s.on_key(key(KeyCode::Char('b'))).is_empty());
        assert!(s.on_key(key(KeyCode::Enter)).is_empty());
    }

    #[test]
    fn ctrl_l_opens_the_modal_over_typing_and_esc_hands_keys_back_to_intake() {
        use crate::app::{Msg, SessionState};
        let mut a = crate::app::tests::app();
        a.signin.unavailable = None;
        let cmds = a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('l'),
            KeyModifiers::CONTROL,
        )));
        assert!(a.signin.open);
        assert!(matches!(cmds[..], [Cmd::SignIn(SignInCmd::Start { .. })]));
        // Printable keys do not reach the scan input while the modal is open.
        a.update(Msg::Key(key(KeyCode::Char('X'))));
        assert_eq!(a.intake.input, "");
        a.update(Msg::Key(key(KeyCode::Esc)));
        assert!(!a.signin.open);
        a.update(Msg::Key(key(KeyCode::Char('X'))));
        assert_eq!(a.intake.input, "X");
        // Losing the session opens the modal by itself, once.
        let lost = SessionState::Expired {
            reason: "revoked".into(),
        };
        assert_eq!(a.update(Msg::Session(lost.clone())).len(), 1);
        assert!(a.signin.open);
        assert!(a.update(Msg::Session(lost)).is_empty());
        // Ctrl-C still quits from the modal.
        a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        )));
        assert!(a.quit);
    }
}

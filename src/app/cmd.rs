//! Effects as data: `App::update` returns these and the runtime executes them.

use crate::store::{AuditRecord, QueueEntry, QueueEvent};

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// Ring the terminal bell (scan rejected, duplicate).
    Bell,
    /// Make these queue events durable (one transaction); the store answers `Msg::Stored` with
    /// the ticket.
    Store {
        ticket: u64,
        events: Vec<QueueEvent>,
    },
    /// Register these entries in Intune; the uploader answers `Msg::Uploaded`.
    Upload(Vec<QueueEntry>),
    /// To the review feed: refresh, or write confirmed changes.
    Review(super::review::ReviewCmd),
    /// Append an audit record durably; the store answers `Msg::Stored` with the ticket.
    Audit {
        ticket: u64,
        record: Box<AuditRecord>,
    },
    /// Delete a corporate identifier from Intune; answered by `Msg::IdentityRemoved`.
    RemoveIdentity { serial: String, imported_id: String },
    /// To the status feed.
    Status(crate::app::status::StatusCmd),
    /// To the devices feed: detail, sync, retire/wipe.
    Devices(crate::app::devices::DevicesCmd),
    /// To the sign-in task.
    SignIn(crate::app::signin::SignInCmd),
    /// Write this view to `<data dir>/exports/` as CSV and JSON; answered by `Msg::Exported`.
    Export(crate::export::Table),
    /// Collect a device's evidence bundle in the background; answered by `Msg::Evidence`.
    Evidence(crate::app::status::evidence::EvidenceCmd),
}

/// What the console says when a command reaches no worker (not connected, not signed in, the
/// task gone).
pub const NOT_CONNECTED: &str = "not connected to a tenant: nothing sent";

impl Cmd {
    /// The answer a command gets when no worker takes it, so the pane that sent it never waits
    /// for ever (a pane left on "loading…", a row left "approved"). `None` for commands that
    /// need no answer (the bell, an export, which run in the console itself, or a cancel).
    pub fn unanswered(self) -> Option<super::Msg> {
        use super::Msg;
        use super::devices::{ActionFailure, DevicesCmd, DevicesMsg};
        use super::intake::{UploadOutcome, UploadResult};
        use super::review::ReviewMsg;
        use super::signin::{Failure, SignInCmd, SignInMsg};
        use super::status::{StatusCmd, StatusMsg};
        let why = || NOT_CONNECTED.to_string();
        Some(match self {
            Cmd::Bell | Cmd::Export(_) => return None,
            Cmd::Store { ticket, .. } | Cmd::Audit { ticket, .. } => {
                Msg::Stored(crate::store::StoreAck {
                    ticket,
                    result: Err("the store is closed: nothing written".into()),
                })
            }
            Cmd::Upload(batch) => Msg::Uploaded(
                batch
                    .into_iter()
                    .map(|e| UploadOutcome {
                        serial: e.serial,
                        result: UploadResult::Failed {
                            message: "not connected to a tenant".into(),
                        },
                    })
                    .collect(),
            ),
            Cmd::RemoveIdentity { serial, .. } => Msg::IdentityRemoved {
                serial,
                result: Err("not connected to a tenant".into()),
            },
            Cmd::Review(cmd) => Msg::Review(ReviewMsg::Unsent { cmd, reason: why() }),
            Cmd::Status(
                StatusCmd::Refresh { generation } | StatusCmd::Scope { generation, .. },
            ) => Msg::Status(StatusMsg::Failed {
                generation,
                reason: why(),
            }),
            Cmd::Devices(cmd) => Msg::Devices(match cmd {
                DevicesCmd::Show { generation, .. } => DevicesMsg::Detail {
                    generation,
                    result: Err(why()),
                },
                DevicesCmd::Sync { serial, .. } => DevicesMsg::Synced {
                    serial,
                    result: Err(why()),
                },
                DevicesCmd::Destructive(req) => DevicesMsg::Acted {
                    serial: req.serial.trim().to_string(),
                    result: Err(ActionFailure {
                        refused: false,
                        message: why(),
                    }),
                },
            }),
            Cmd::SignIn(SignInCmd::Start { generation, .. }) => Msg::SignIn(SignInMsg::Failed {
                generation,
                failure: Failure::Error("sign-in is not possible here".into()),
            }),
            Cmd::SignIn(SignInCmd::Cancel) => return None,
            Cmd::Evidence(c) => Msg::Evidence(super::status::evidence::EvidenceMsg::Done {
                serial: c.serial,
                result: Err(why()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;
    use crate::app::{LoadState, Msg};

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// The console with no worker at all: every command comes back and is answered.
    fn offline(app: &mut crate::app::App, msg: Msg) {
        let mut todo = app.update(msg);
        while let Some(cmd) = todo.pop() {
            if let Some(answer) = cmd.unanswered() {
                todo.extend(app.update(answer));
            }
        }
    }

    #[test]
    fn toggling_the_status_scope_while_not_connected_says_so_instead_of_loading_for_ever() {
        let mut app = crate::app::tests::app();
        offline(&mut app, key(KeyCode::F(3)));
        offline(&mut app, key(KeyCode::Char('a')));
        assert!(app.status.all_staged);
        assert_eq!(
            app.status.load,
            LoadState::Failed(NOT_CONNECTED.to_string())
        );
        offline(&mut app, key(KeyCode::Char('r')));
        assert!(!matches!(app.status.load, LoadState::Loading));
    }

    #[test]
    fn refreshing_review_while_not_connected_says_so() {
        let mut app = crate::app::tests::app();
        offline(&mut app, key(KeyCode::F(4)));
        offline(&mut app, key(KeyCode::F(5)));
        assert_eq!(
            app.review.load,
            LoadState::Failed(NOT_CONNECTED.to_string())
        );
    }

    #[test]
    fn every_command_that_waits_for_an_answer_gets_one() {
        use crate::app::devices::DevicesCmd;
        use crate::app::review::ReviewCmd;
        use crate::app::signin::SignInCmd;
        use crate::app::status::StatusCmd;
        let answered = [
            Cmd::Store {
                ticket: 1,
                events: Vec::new(),
            },
            Cmd::Upload(Vec::new()),
            Cmd::RemoveIdentity {
                serial: "S1".into(),
                imported_id: "i".into(),
            },
            Cmd::Review(ReviewCmd::Refresh),
            Cmd::Review(ReviewCmd::Apply(Vec::new())),
            Cmd::Status(StatusCmd::Refresh { generation: 3 }),
            Cmd::Devices(DevicesCmd::Sync {
                serial: "S1".into(),
                key: crate::devices::DeviceKey::Serial("S1".into()),
            }),
            Cmd::SignIn(SignInCmd::Start {
                generation: 2,
                browser: false,
            }),
        ];
        for cmd in answered {
            let name = format!("{cmd:?}");
            assert!(cmd.unanswered().is_some(), "{name} got no answer");
        }
        for cmd in [Cmd::Bell, Cmd::SignIn(SignInCmd::Cancel)] {
            assert_eq!(cmd.unanswered(), None);
        }
        let Some(Msg::Status(crate::app::status::StatusMsg::Failed { generation, .. })) =
            Cmd::Status(StatusCmd::Scope {
                all_staged: true,
                generation: 7,
            })
            .unanswered()
        else {
            panic!("a scope change is answered as a failed poll of its generation")
        };
        assert_eq!(generation, 7);
    }
}

//! The session's events as console messages: auth publishes its own types (the session state
//! on a `watch`, the sign-in task's [`SignInEvent`]s) and knows nothing of the console; this
//! module maps them into [`Msg`]s.

use tokio::sync::watch;

use crate::app::signin::SignInMsg;
use crate::app::{Msg, SessionState};
use crate::auth::interactive::SignInEvent;

impl From<SignInEvent> for Msg {
    fn from(e: SignInEvent) -> Self {
        Msg::SignIn(match e {
            SignInEvent::Code {
                generation,
                user_code,
                verification_uri,
                expires_at,
            } => SignInMsg::Code {
                generation,
                user_code,
                verification_uri,
                expires_at,
            },
            SignInEvent::Browser {
                generation,
                url,
                opened,
            } => SignInMsg::Browser {
                generation,
                url,
                opened,
            },
            SignInEvent::Done {
                generation,
                account,
                note,
            } => SignInMsg::Done {
                generation,
                account,
                note,
            },
            SignInEvent::Failed {
                generation,
                failure,
            } => SignInMsg::Failed {
                generation,
                failure,
            },
        })
    }
}

/// Forwards the session state to the console as `Msg::Session` until `cancel` or until the
/// session is gone: the current state first, then every change. Run it as a task beside the feeds.
pub async fn forward_state(
    mut rx: watch::Receiver<SessionState>,
    tx: tokio::sync::mpsc::Sender<Msg>,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        let state = rx.borrow_and_update().clone();
        if tx.send(Msg::Session(state)).await.is_err() {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
    }
}

//! One async task per pane. Each talks to Graph and reports to the app as plain `Msg`s; none of
//! them touches the app's state.

pub mod conn;
pub mod devices;
pub mod intake;
pub mod review;
pub mod status;

use tokio::sync::watch;

use crate::app::SessionState;
use crate::store::Actor;

/// Who the feeds' audit records name: the account the session state says is signed in at the
/// moment of each write (after a switch of account, the new one), nobody while signed out.
pub fn session_actor(state: watch::Receiver<SessionState>) -> Actor {
    Actor::live(move || match &*state.borrow() {
        SessionState::SignedIn { account } => Some(account.clone()),
        _ => None,
    })
}

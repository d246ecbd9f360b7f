//! One async task per pane. Each talks to Graph and reports to the app as plain `Msg`s; none of
//! them touches the app's state.

pub(crate) mod conn;
pub mod devices;
pub(crate) mod evidence;
pub mod intake;
pub mod review;
pub mod session;
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

/// A worker's inbox as the console holds it: a command reaches the worker, or comes back to
/// the caller when no worker runs (not connected, or the task has ended), who then answers it
/// with [`crate::app::Cmd::unanswered`]. One idiom for every feed instead of one per feed.
#[derive(Debug)]
pub struct Feed<C>(Option<tokio::sync::mpsc::UnboundedSender<C>>);

impl<C> Feed<C> {
    /// A feed with no worker: every command comes back.
    pub fn none() -> Self {
        Feed(None)
    }

    pub fn to(tx: tokio::sync::mpsc::UnboundedSender<C>) -> Self {
        Feed(Some(tx))
    }

    /// Hands `cmd` to the worker, or gives it back.
    pub fn send(&self, cmd: C) -> Result<(), C> {
        match &self.0 {
            Some(tx) => tx.send(cmd).map_err(|e| e.0),
            None => Err(cmd),
        }
    }
}

impl<C> From<Option<tokio::sync::mpsc::UnboundedSender<C>>> for Feed<C> {
    fn from(tx: Option<tokio::sync::mpsc::UnboundedSender<C>>) -> Self {
        Feed(tx)
    }
}

#[cfg(test)]
mod feed_tests {
    use super::Feed;

    #[test]
    fn a_command_reaches_a_live_worker_and_comes_back_from_none_or_a_gone_one() {
        let none: Feed<u32> = Feed::none();
        assert_eq!(none.send(7), Err(7));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let live = Feed::to(tx);
        assert_eq!(live.send(8), Ok(()));
        assert_eq!(rx.try_recv(), Ok(8));
        drop(rx);
        assert_eq!(live.send(9), Err(9));
    }
}

//! Forwards the Graph client's connection state to the app as `Msg::Conn`.

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::app::{ConnState, Msg};
use crate::graph::governor::GraphConn;

/// Maps the governor's state (monotonic instants) to the app's (wall-clock deadlines).
pub fn to_app(state: &GraphConn) -> ConnState {
    match state {
        GraphConn::Online => ConnState::Online,
        GraphConn::Throttled { until } => {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            ConnState::Throttled {
                until: chrono::Utc::now() + left,
            }
        }
        GraphConn::Offline(reason) => ConnState::Offline(reason.clone()),
        GraphConn::SignedOut(_) => ConnState::SignedOut,
    }
}

pub fn spawn(mut rx: watch::Receiver<GraphConn>, tx: mpsc::Sender<Msg>, cancel: CancellationToken) {
    crate::runtime::supervise::spawn("connection state", tx.clone(), async move {
        loop {
            let state = to_app(&rx.borrow_and_update());
            if tx.send(Msg::Conn(state)).await.is_err() {
                break;
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                changed = rx.changed() => if changed.is_err() { break },
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_sign_in_gate_is_signed_out_not_an_outage_with_a_made_up_reason() {
        assert_eq!(
            to_app(&GraphConn::SignedOut("refresh token revoked".into())),
            ConnState::SignedOut
        );
        assert_eq!(
            to_app(&GraphConn::Offline("dns".into())),
            ConnState::Offline("dns".into())
        );
    }
}

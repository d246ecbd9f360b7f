//! SIGTERM and SIGHUP (or a closed console window on Windows) become `Msg::Quit`, so the normal
//! quit path restores the terminal.

use tokio::sync::mpsc::UnboundedSender;

use crate::app::Msg;

#[cfg(unix)]
pub async fn run(tx: UnboundedSender<Msg>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::warn!("cannot listen for SIGTERM/SIGHUP");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: quitting"),
        _ = hup.recv() => tracing::info!("SIGHUP: quitting"),
    }
    let _ = tx.send(Msg::Quit);
}

#[cfg(windows)]
pub async fn run(tx: UnboundedSender<Msg>) {
    if let Ok(mut close) = tokio::signal::windows::ctrl_close() {
        close.recv().await;
        let _ = tx.send(Msg::Quit);
    }
}

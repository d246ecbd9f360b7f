//! SIGTERM and SIGHUP (or a closed console window on Windows) become `Msg::Quit`, so the normal
//! quit path restores the terminal. The handlers are registered by [`listen`] before the terminal
//! is taken over, so no signal can arrive between the first frame and the handler.

use tokio::sync::mpsc::UnboundedSender;

use crate::app::Msg;

#[cfg(unix)]
pub struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(windows)]
pub struct Signals {
    close: tokio::signal::windows::CtrlClose,
}

/// Registers the handlers now (call inside the runtime, before entering the terminal).
#[cfg(unix)]
pub fn listen() -> std::io::Result<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok(Signals {
        term: signal(SignalKind::terminate())?,
        hup: signal(SignalKind::hangup())?,
    })
}

#[cfg(windows)]
pub fn listen() -> std::io::Result<Signals> {
    Ok(Signals {
        close: tokio::signal::windows::ctrl_close()?,
    })
}

#[cfg(unix)]
pub async fn run(mut s: Signals, tx: UnboundedSender<Msg>) {
    tokio::select! {
        _ = s.term.recv() => tracing::info!("SIGTERM: quitting"),
        _ = s.hup.recv() => tracing::info!("SIGHUP: quitting"),
    }
    let _ = tx.send(Msg::Quit);
}

#[cfg(windows)]
pub async fn run(mut s: Signals, tx: UnboundedSender<Msg>) {
    s.close.recv().await;
    let _ = tx.send(Msg::Quit);
}

//! Messages into the model. Everything the app learns arrives as one of these: keys from the input
//! task, results from the feed tasks, acknowledgements from the store task, ticks.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

/// Connection to Graph as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnState {
    /// Nothing has been asked of Graph yet.
    #[default]
    Idle,
    Online,
    /// A 429 paused requests until this time.
    Throttled {
        until: DateTime<Utc>,
    },
    Offline(String),
    /// Nobody is signed in: every request waits at the sign-in gate (the status bar says how
    /// to sign in).
    SignedOut,
}

/// Who is signed in, as the status bar shows it: published by `auth` (its own type, mapped
/// into [`Msg::Session`] by `feeds::session`).
pub use crate::auth::session::SessionState;

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// A key press (releases are dropped by the input task).
    Key(KeyEvent),
    /// An export (`Cmd::Export`) was written (the paths) or not (why).
    Exported {
        table: &'static str,
        result: Result<crate::export::Written, String>,
    },
    /// A bracketed paste.
    Paste(String),
    /// A left click at a cell.
    Click {
        column: u16,
        row: u16,
    },
    Resize {
        width: u16,
        height: u16,
    },
    /// The slow clock (about once a second).
    Tick(DateTime<Utc>),
    /// Held keys may have waited long enough to be a person's (see `app::scanner`).
    FlushKeys,
    Conn(ConnState),
    Session(SessionState),
    /// The store task's answer to a `Cmd::Store`.
    Stored(crate::store::StoreAck),
    /// The uploader's answer to a `Cmd::Upload`.
    Uploaded(Vec<super::intake::UploadOutcome>),
    /// From the review feed.
    Review(super::review::ReviewMsg),
    /// Intune's answer to `Cmd::RemoveIdentity`.
    IdentityRemoved {
        serial: String,
        result: Result<(), String>,
    },
    /// The tenant readiness checks finished (`stagehand doctor` in the console).
    Doctor(Vec<crate::doctor::CheckResult>),
    /// From the status feed.
    Status(super::status::StatusMsg),
    /// From the devices feed.
    Devices(super::devices::DevicesMsg),
    /// From the sign-in task, or the console asking the modal to sign in.
    SignIn(super::signin::SignInMsg),
    /// A background task ended by a panic; the console goes on without it.
    TaskFailed {
        task: &'static str,
        reason: String,
    },
    /// SIGTERM, SIGHUP or a closed console window.
    Quit,
    /// From a background evidence collection (`Cmd::Evidence`).
    Evidence(super::status::evidence::EvidenceMsg),
    /// From the notifier task: what a round sent, and what is kept for retry.
    Notify(super::status::notices::NotifyMsg),
}

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
}

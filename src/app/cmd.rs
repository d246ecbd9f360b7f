//! Effects as data: `App::update` returns these and the runtime executes them.

use crate::store::{QueueEntry, QueueEvent};

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// Ring the terminal bell (scan rejected, duplicate).
    Bell,
    /// Ask every feed to refresh now.
    RefreshAll,
    /// Make these journal events durable; the store answers `Msg::Stored` with the ticket.
    Store {
        ticket: u64,
        events: Vec<QueueEvent>,
    },
    /// Register these entries in Intune; the uploader answers `Msg::Uploaded`.
    Upload(Vec<QueueEntry>),
    /// To the status feed.
    Status(crate::app::status::StatusCmd),
}

//! Effects as data: `App::update` returns these and the runtime executes them.

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// Ring the terminal bell (scan rejected, duplicate).
    Bell,
    /// Ask every feed to refresh now.
    RefreshAll,
}

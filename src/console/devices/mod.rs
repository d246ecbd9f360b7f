//! Device operations on the status pane: the filters and the last outcome in the pane's border,
//! and the retire/wipe modal over the pane.

pub(crate) mod modal;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::theme;
use crate::app::App;

/// Adds the device filters (after the title: "filter: user ~ad · stage failed 2 of 5") and the
/// last sync/retire/wipe outcome (bottom left) to the status pane's block.
pub fn decorate<'a>(mut block: Block<'a>, app: &App) -> Block<'a> {
    let s = &app.status;
    let f = &s.facets;
    if !f.is_empty() || f.user.editing {
        let cursor = if f.user.editing { "█" } else { "" };
        // After the pane's own title, left-aligned, so neither hides the other.
        block = block.title(Line::from(vec![
            Span::styled("filter: ", theme::title()),
            Span::raw(format!("{}{cursor} ", f.describe())),
            Span::styled(
                format!("{} of {} ", s.list.len(), s.list.total()),
                theme::dim(),
            ),
        ]));
    }
    if let Some(n) = &app.devices.notice {
        let style = if n.bad {
            Style::new().fg(theme::BAD)
        } else {
            Style::new().fg(theme::OK)
        };
        block = block.title_bottom(Line::from(Span::styled(format!(" {} ", n.text), style)));
    }
    block
}

#[cfg(test)]
mod tests;

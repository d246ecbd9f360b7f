//! The evidence key's progress and outcome, in the status pane's bottom border (left), escaped:
//! a serial, a path and an error come from outside.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::theme;
use crate::app::App;

pub fn decorate<'a>(block: Block<'a>, app: &App) -> Block<'a> {
    let Some((text, bad)) = app.status.evidence.line() else {
        return block;
    };
    let style = if bad {
        Style::new().fg(theme::BAD)
    } else {
        theme::dim()
    };
    let text = crate::text::escape(&text).into_owned();
    block.title_bottom(Line::from(Span::styled(format!(" {text} (e) "), style)))
}

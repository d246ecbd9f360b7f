//! Notices in the console: the status bar's count of undelivered notices (or the last one sent),
//! and the list the `n` key opens over the status table. Text from ServiceNow, Teams and the
//! tenant (serials, errors) is escaped.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::theme;
use crate::app::App;
use crate::text::escape;

/// "✉ 1 undelivered (n)" or "✉ PF1: incident INC0010001 opened (n)"; nothing before the notifier
/// reported.
pub fn status_bar_span(app: &App) -> Option<Span<'static>> {
    let (text, bad) = app.status.notices.summary()?;
    let style = if bad {
        Style::new().fg(theme::WARN)
    } else {
        Style::new()
    };
    Some(Span::styled(format!("✉ {}", escape(&text)), style))
}

/// The list over the table: undelivered first, then what was sent, newest first.
pub fn draw_list(frame: &mut Frame, app: &App, area: Rect) {
    let n = &app.status.notices;
    let mut lines = Vec::new();
    lines.push(Line::from(Span::styled(
        format!("Kept for retry: {}", n.undelivered.len()),
        theme::title(),
    )));
    for u in &n.undelivered {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {} ", escape(&u.serial)),
                Style::new().fg(theme::WARN),
            ),
            Span::raw(format!(
                "{} · tries {} · next {}",
                escape(&u.what),
                u.attempts,
                u.next_at.format("%H:%M:%S UTC")
            )),
        ]));
        if let Some(e) = &u.last_error {
            lines.push(Line::from(Span::styled(
                format!("    {}", escape(e)),
                theme::dim(),
            )));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled("Sent", theme::title())));
    if n.said.is_empty() {
        let why = if n.active {
            "  nothing yet"
        } else {
            "  notifications are off ([notify] names no destination, or not signed in)"
        };
        lines.push(Line::from(Span::styled(why, theme::dim())));
    }
    for (at, s) in n.said.iter().rev() {
        let style = if s.bad {
            Style::new().fg(theme::BAD)
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", at.format("%H:%M:%S")), theme::dim()),
            Span::styled(escape(&s.text).into_owned(), style),
        ]));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Notices (n or Esc closes) ", theme::title()));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

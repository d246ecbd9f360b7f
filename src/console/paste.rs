//! The paste result overlay (F8): the last paste's summary and every refused line with its line
//! number, what was pasted and why it was refused. Scrolls with the arrows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::theme;
use crate::app::App;

/// The overlay's lines, before scrolling. Pasted text is shown escaped (it came from outside).
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let Some(r) = &app.intake.paste_report else {
        return vec![Line::from("No paste yet.")];
    };
    let mut out = vec![Line::from(Span::styled(r.summary(), theme::title()))];
    if let Some(h) = &r.header {
        out.push(Line::from(Span::styled(
            format!("header row skipped: {}", h.escape_debug()),
            theme::dim(),
        )));
    }
    if r.refused.is_empty() {
        out.push(Line::from("No line was refused."));
    }
    for l in &r.refused {
        out.push(Line::from(vec![
            Span::styled(format!("line {:>4}  ", l.line), theme::dim()),
            Span::raw(format!("\"{}\"  ", l.text.escape_debug())),
            Span::styled(
                l.reason.clone(),
                ratatui::style::Style::new().fg(theme::BAD),
            ),
        ]));
    }
    out
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let all = lines(app);
    let width = area.width.saturating_sub(4).min(110);
    let height = (all.len() as u16 + 2).clamp(3, area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let visible = usize::from(height.saturating_sub(2));
    let first = app.help_scroll.min(all.len().saturating_sub(visible));
    let more = all.len().saturating_sub(first + visible);
    let bottom = if first > 0 || more > 0 {
        format!(" ↓ {more} more · ↑↓ scroll · any other key closes ")
    } else {
        " any key closes ".to_string()
    };
    let text: Vec<Line> = all.into_iter().skip(first).collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(Span::styled(" Last paste ", theme::title()))
                .title_bottom(Line::from(Span::styled(bottom, theme::dim()))),
        ),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use crate::app::{Msg, Overlay};
    use crate::console::test_support::{app, render};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn f8_lists_every_refused_line_and_scrolls() {
        let mut a = app();
        let mut paste = String::from("Serial Number\n");
        for i in 0..30 {
            paste.push_str(&format!("PF#{i:03}\n"));
        }
        paste.push_str("PF1GOOD1\n");
        a.update(Msg::Paste(paste));
        a.update(Msg::Key(KeyEvent::new(KeyCode::F(8), KeyModifiers::NONE)));
        assert_eq!(a.overlay, Some(Overlay::PasteReport));
        let mut seen = String::new();
        for _ in 0..40 {
            let t = render(&mut a, 80, 24);
            seen.push_str(&format!("{}", t.backend()));
            a.update(Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
        }
        for i in 0..30 {
            assert!(seen.contains(&format!("PF#{i:03}")), "line {i} missing");
        }
        assert!(seen.contains("31 lines: 1 queued, 30 refused"), "{seen}");
    }
}

//! The help overlay: every key of the focused pane, read from the keymap table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Row, Table};

use super::theme;
use crate::app::App;
use crate::app::keymap::help_for_role;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let entries = help_for_role(app.focus, app.devices.may_destroy());
    let height = (entries.len() as u16 + 2).min(area.height);
    let width = area.width.saturating_sub(4).min(90);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let visible = usize::from(height.saturating_sub(2));
    let first = app.help_scroll.min(entries.len().saturating_sub(visible));
    let rows = entries
        .iter()
        .skip(first)
        .map(|(k, h)| Row::new(vec![Span::styled(k.clone(), theme::title()), Span::raw(*h)]));
    let title = format!(" Keys · {:?} pane ", app.focus);
    let more = entries.len().saturating_sub(first + visible);
    let bottom = if first > 0 || more > 0 {
        format!(" ↓ {more} more · ↑↓ scroll · any other key closes ")
    } else {
        " any key closes ".to_string()
    };
    let table = Table::new(rows, [Constraint::Length(12), Constraint::Fill(1)])
        .block(
            Block::bordered()
                .title(Span::styled(title, theme::title()))
                .title_bottom(Line::from(Span::styled(bottom, theme::dim()))),
        )
        .column_spacing(2);
    frame.render_widget(Clear, rect);
    frame.render_widget(table, rect);
}

#[cfg(test)]
mod tests {
    use crate::app::{Msg, Pane};
    use crate::console::test_support::{app, render};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    /// Every help line of every pane is reachable in the overlay at 80x24, scrolling as needed.
    #[test]
    fn help_lists_every_key_of_the_focused_pane() {
        for pane in [Pane::Intake, Pane::Status, Pane::Review] {
            let mut a = app();
            a.focus = pane;
            a.update(Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
            let mut text = String::new();
            for _ in 0..40 {
                let t = render(&mut a, 80, 24);
                text.push_str(&format!("{}", t.backend()));
                a.update(Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
            }
            assert!(a.overlay.is_some(), "arrows scroll, they do not close");
            for (key, help) in crate::app::keymap::help_for(pane) {
                assert!(text.contains(help), "{pane:?}: {help} missing\n{text}");
                assert!(text.contains(&key), "{pane:?}: {key} missing\n{text}");
            }
        }
    }
}

//! The intake pane: the scan input on top, the queue below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, Paragraph};

use super::theme;
use crate::app::App;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let [input, queue] = Layout::vertical([Constraint::Length(3), Constraint::Fill(1)]).areas(area);
    let s = &app.intake;
    let profile = app.config.profiles.get(&s.profile);
    let profile_text = match profile {
        Some(p) => format!(
            " {} · {:?} {} {} · F7 next ",
            s.profile, p.platform, p.manufacturer, p.model
        ),
        None => format!(" {} ", s.profile),
    };
    let border = if s.input_focused {
        Style::new().fg(theme::ACCENT)
    } else {
        theme::dim()
    };
    let block = Block::bordered()
        .border_style(border)
        .title(Span::styled(" Scan ", theme::title()))
        .title(Line::from(Span::styled(profile_text, theme::dim())).right_aligned());
    let cursor = if s.input_focused { "█" } else { "" };
    let line = Line::from(vec![
        Span::styled("› ", theme::title()),
        Span::raw(s.input.as_str()),
        Span::raw(cursor),
    ]);
    frame.render_widget(Paragraph::new(line).block(block), input);

    let title = format!(
        " Queue · {} entries · {} saving ",
        s.list.total(),
        s.pending.len()
    );
    let block = Block::bordered().title(Span::styled(title, theme::title()));
    let items: Vec<ListItem> = s
        .pending
        .iter()
        .rev()
        .take(usize::from(queue.height.saturating_sub(2)))
        .map(|raw| {
            ListItem::new(Line::from(vec![
                Span::styled("saving…  ", theme::dim()),
                Span::raw(raw.as_str()),
            ]))
        })
        .collect();
    if items.is_empty() {
        let hint = Paragraph::new(Span::styled(
            "Scan a serial (Enter or Tab ends it), or paste a column from a spreadsheet.",
            theme::dim(),
        ))
        .block(block);
        frame.render_widget(hint, queue);
    } else {
        frame.render_widget(List::new(items).block(block), queue);
    }
}

#[cfg(test)]
mod tests {
    use crate::console::test_support::{app, render};

    #[test]
    fn empty_intake_80x24() {
        let mut a = app();
        insta::assert_snapshot!(render(&mut a, 80, 24).backend());
    }

    #[test]
    fn empty_intake_160x48() {
        let mut a = app();
        insta::assert_snapshot!(render(&mut a, 160, 48).backend());
    }
}

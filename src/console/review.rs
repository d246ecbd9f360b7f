//! The review pane: one row per reassignment candidate.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};

use super::{pane_block, theme};
use crate::app::App;

const COLUMNS: [&str; 7] = [
    "",
    "Device",
    "Serial",
    "Primary user → proposed",
    "Last sign-in",
    "Verdict",
    "Reason",
];

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let header = Row::new(COLUMNS).style(theme::header());
    let widths = [
        Constraint::Length(2),
        Constraint::Length(14),
        Constraint::Length(14),
        Constraint::Length(40),
        Constraint::Length(16),
        Constraint::Length(10),
        Constraint::Fill(1),
    ];
    let table = Table::new(Vec::<Row>::new(), widths)
        .header(header)
        .block(pane_block("Review", &app.review.load, app));
    frame.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use crate::app::Pane;
    use crate::console::test_support::{app, render};

    #[test]
    fn idle_review_80x24() {
        let mut a = app();
        a.focus = Pane::Review;
        insta::assert_snapshot!(render(&mut a, 80, 24).backend());
    }

    #[test]
    fn idle_review_160x48() {
        let mut a = app();
        a.focus = Pane::Review;
        insta::assert_snapshot!(render(&mut a, 160, 48).backend());
    }
}

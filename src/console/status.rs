//! The status pane: one row per tracked device.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};

use super::{pane_block, theme};
use crate::app::App;

const COLUMNS: [&str; 9] = [
    "Serial",
    "Device",
    "Stage",
    "In stage",
    "Enrolled by",
    "Primary user",
    "Last sync",
    "Compliance",
    "Message",
];

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let header = Row::new(COLUMNS).style(theme::header());
    let widths = [
        Constraint::Length(14),
        Constraint::Length(14),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(18),
        Constraint::Length(18),
        Constraint::Length(10),
        Constraint::Length(11),
        Constraint::Fill(1),
    ];
    let table = Table::new(Vec::<Row>::new(), widths)
        .header(header)
        .block(pane_block("Status", &app.status.load, app));
    frame.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use crate::app::Pane;
    use crate::console::test_support::{app, render};

    #[test]
    fn idle_status_80x24() {
        let mut a = app();
        a.focus = Pane::Status;
        insta::assert_snapshot!(render(&mut a, 80, 24).backend());
    }

    #[test]
    fn idle_status_160x48() {
        let mut a = app();
        a.focus = Pane::Status;
        insta::assert_snapshot!(render(&mut a, 160, 48).backend());
    }
}

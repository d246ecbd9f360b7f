//! Review overlays: the whole sign-in history, the user picker, and "Apply N changes?".

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, TableState};

use super::{person_label, short_time};
use crate::app::App;
use crate::app::review::ReviewModal;
use crate::console::theme;
use crate::review::Verdict;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    match &app.review.modal {
        None => {}
        Some(ReviewModal::History { device_id }) => history(frame, app, device_id, area),
        Some(ReviewModal::Pick { device_id, cursor }) => {
            picker(frame, app, device_id, *cursor, area);
        }
        Some(ReviewModal::Confirm { device_ids }) => confirm(frame, app, device_ids, area),
    }
}

/// A centred box of at most `width` x `height` inside `area`.
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width.saturating_sub(2));
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn boxed<'a>(title: String, bottom: &'a str) -> Block<'a> {
    Block::bordered()
        .border_style(Style::new().fg(theme::ACCENT))
        .title(Span::styled(title, theme::title()))
        .title_bottom(Line::from(Span::styled(bottom, theme::dim())))
}

fn history(frame: &mut Frame, app: &App, device_id: &str, area: Rect) {
    let Some(r) = app.review.row(device_id) else {
        return;
    };
    let h = &r.candidate.assessment.history;
    let rect = centred(area, 90, h.len().max(1) as u16 + 4);
    let rows = h.iter().map(|e| {
        let who = match &e.person {
            Some(p) => person_label(p),
            None => format!("{} (no longer exists)", e.user_id),
        };
        let tag = if e.staging { "staging" } else { "" };
        let style = if e.staging {
            theme::dim()
        } else {
            Style::new()
        };
        Row::new(vec![
            Span::raw(e.at.format("%Y-%m-%d %H:%M").to_string()),
            Span::raw(who),
            Span::raw(tag),
        ])
        .style(style)
    });
    let title = format!(" Sign-ins on {} ", r.candidate.device.name);
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Fill(1),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(["When (UTC)", "User", ""]).style(theme::header()))
    .block(boxed(title, " any key closes "));
    frame.render_widget(Clear, rect);
    frame.render_widget(table, rect);
}

fn picker(frame: &mut Frame, app: &App, device_id: &str, cursor: usize, area: Rect) {
    let Some(r) = app.review.row(device_id) else {
        return;
    };
    let choices = &r.candidate.choices;
    let rect = centred(area, 90, choices.len() as u16 + 4);
    let rows = choices.iter().map(|c| {
        let (word, style) = match &c.verdict {
            Verdict::Blocked(b) => (
                format!("blocked: {b}"),
                Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
            ),
            _ => ("can be assigned".into(), Style::new().fg(theme::OK)),
        };
        Row::new(vec![
            Span::raw(person_label(&c.person)),
            Span::raw(short_time(c.at)),
            Span::styled(word, style),
        ])
    });
    let title = format!(" Primary user for {} ", r.candidate.device.name);
    let table = Table::new(
        rows,
        [
            Constraint::Fill(2),
            Constraint::Length(11),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["User", "Last in", ""]).style(theme::header()))
    .block(boxed(title, " ↑↓ choose · Enter pick · Esc cancel "))
    .row_highlight_style(theme::selected());
    let mut state = TableState::default().with_selected(Some(cursor));
    frame.render_widget(Clear, rect);
    frame.render_stateful_widget(table, rect, &mut state);
}

fn confirm(frame: &mut Frame, app: &App, device_ids: &[String], area: Rect) {
    let n = device_ids.len();
    let shown = (area.height as usize).saturating_sub(8).min(n);
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Apply {n} change{}?", if n == 1 { "" } else { "s" }),
            theme::title(),
        )),
        Line::from(""),
    ];
    for id in &device_ids[..shown] {
        if let Some(r) = app.review.row(id) {
            let to = r.target().0.map_or_else(String::new, person_label);
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{:<13} ", r.candidate.device.name),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    format!("{} → ", r.candidate.assessment.current.upn),
                    theme::dim(),
                ),
                Span::raw(to),
            ]));
        }
    }
    if shown < n {
        lines.push(Line::from(Span::styled(
            format!("… and {} more", n - shown),
            theme::dim(),
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Each change is audited before and after it is written.",
        theme::dim(),
    )));
    let rect = centred(area, 84, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(boxed(
            " Confirm ".into(),
            " y / Enter apply · n / Esc cancel ",
        )),
        rect,
    );
}

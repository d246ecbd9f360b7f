//! The detail view of one device: what it is waiting for, the stage changes this console
//! observed, and the raw Graph fields behind the row (report codes included, unmapped).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{short_duration, stage_cell, stage_style};
use crate::app::App;
use crate::console::theme;
use crate::status::DeviceStatus;

/// Draws in place of the table (`area` is the pane's inner area).
pub fn draw(frame: &mut Frame, app: &App, row: &DeviceStatus, area: Rect, wide: bool) {
    let mut head = vec![
        Line::from(vec![
            Span::styled(row.serial.clone(), theme::title()),
            Span::styled(
                row.device_name
                    .as_deref()
                    .map(|n| format!(" · {n}"))
                    .unwrap_or_default(),
                theme::dim(),
            ),
            Span::styled("   Esc closes", theme::dim()),
        ]),
        Line::from(
            [
                vec![Span::raw("Stage  ")],
                stage_cell(row.stage, row.flags, true).spans,
                vec![Span::styled(
                    format!("  for {}", short_duration(app.now - row.since)),
                    theme::dim(),
                )],
            ]
            .concat(),
        ),
        Line::raw(format!("Why    {}", row.message)),
    ];
    if let Some(code) = &row.code {
        head.push(Line::raw(format!("Code   {code}")));
    }
    if let Some(phase) = &row.phase {
        head.push(Line::raw(format!("Phase  {phase}")));
    }
    let head_height = head.len() as u16 + 1;
    let [top, bottom] =
        Layout::vertical([Constraint::Length(head_height), Constraint::Fill(1)]).areas(area);
    frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), top);

    let timeline: Vec<Line> = std::iter::once(Line::styled("Timeline (observed)", theme::header()))
        .chain(row.timeline.iter().map(|c| {
            Line::from(vec![
                Span::styled(c.at.format("%m-%d %H:%M:%S ").to_string(), theme::dim()),
                Span::styled(c.stage.label(), stage_style(c.stage)),
            ])
        }))
        .collect();
    let raw: Vec<Line> = std::iter::once(Line::styled("Graph fields", theme::header()))
        .chain(row.raw.iter().map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k} "), theme::dim()),
                Span::raw(v.as_str()),
            ])
        }))
        .collect();
    if wide {
        let [left, right] =
            Layout::horizontal([Constraint::Length(30), Constraint::Fill(1)]).areas(bottom);
        frame.render_widget(Paragraph::new(timeline), left);
        frame.render_widget(Paragraph::new(raw).wrap(Wrap { trim: false }), right);
    } else {
        let n = timeline.len() as u16 + 1;
        let [upper, lower] =
            Layout::vertical([Constraint::Length(n), Constraint::Fill(1)]).areas(bottom);
        frame.render_widget(Paragraph::new(timeline), upper);
        frame.render_widget(Paragraph::new(raw).wrap(Wrap { trim: false }), lower);
    }
}

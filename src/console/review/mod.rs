//! The review pane: one row per reassignment candidate, a detail box for the selected row, and the
//! review overlays (history, picker, confirmation) drawn over it.

mod overlays;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

use super::{pane_block, theme};
use crate::app::App;
use crate::app::review::{DETAIL_HEIGHT, ReviewRow};
use crate::review::{ApplyState, Person, Verdict};

/// Wide terminals show the current primary user in the row; narrow ones in the detail box.
const WIDE: u16 = 120;

pub fn person_label(p: &Person) -> String {
    if p.display_name.is_empty() {
        p.upn.clone()
    } else {
        format!("{} <{}>", p.display_name, p.upn)
    }
}

pub fn short_time(t: DateTime<Utc>) -> String {
    t.format("%m-%d %H:%M").to_string()
}

fn verdict_style(row: &ReviewRow) -> Style {
    match (&row.apply, row.target().1) {
        (Some(ApplyState::Failed { .. }), _) | (None, Verdict::Blocked(_)) => {
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD)
        }
        (Some(ApplyState::Confirmed { .. }), _) | (None, Verdict::Propose) => {
            Style::new().fg(theme::OK)
        }
        (Some(_), _) => Style::new().fg(theme::ACCENT),
        (None, Verdict::Ambiguous) => Style::new().fg(theme::WARN),
        (None, Verdict::Waiting) => theme::dim(),
    }
}

/// The reason column: the apply state when there is one, else the verdict's reason and, for an
/// ambiguous row, its alternatives.
pub fn reason(row: &ReviewRow) -> String {
    if let Some(s) = &row.apply {
        return s.label();
    }
    let a = &row.candidate.assessment;
    match (&row.pick, row.target().1) {
        (Some(_), Verdict::Propose) => "picked by the lead".into(),
        (None, Verdict::Ambiguous) => {
            let alts: Vec<String> = a
                .alternatives
                .iter()
                .map(|(p, at)| format!("{} at {}", p.upn, short_time(*at)))
                .collect();
            format!("also signed in: {}", alts.join(", "))
        }
        (_, v) => v.reason(),
    }
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.review;
    let [table_area, detail_area] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(DETAIL_HEIGHT as u16),
    ])
    .areas(area);
    let wide = area.width >= WIDE;
    let header = Row::new([
        "",
        "Device",
        "Serial",
        if wide {
            "Primary user → proposed"
        } else {
            "Proposed user"
        },
        "Signed in",
        "Verdict",
        "Reason",
    ])
    .style(theme::header());
    let rows = s.list.window().iter().filter_map(|&i| {
        let r = s.rows.get(i)?;
        let d = &r.candidate.device;
        let a = &r.candidate.assessment;
        let target = r.target().0.map_or_else(|| "—".to_string(), person_label);
        let change = if wide {
            format!("{} → {target}", a.current.upn)
        } else {
            target
        };
        let marked = s.marks.contains(&d.id);
        Some(Row::new(vec![
            Span::styled(if marked { "●" } else { " " }, theme::title()),
            Span::raw(d.name.clone()),
            Span::raw(d.serial.clone()),
            Span::raw(change),
            Span::raw(a.last_logon.map(short_time).unwrap_or_default()),
            Span::styled(r.verdict_word(), verdict_style(r)),
            Span::styled(reason(r), verdict_style(r)),
        ]))
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Length(12),
        Constraint::Length(11),
        Constraint::Fill(3),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Fill(2),
    ];
    let mut block = pane_block("Review", &s.load, app);
    let hidden = s.hidden_count();
    let mut counts = format!(" {} candidates ", s.rows.len());
    if !s.marks.is_empty() {
        counts.push_str(&format!("· {} selected ", s.marks.len()));
    }
    if hidden > 0 {
        counts.push_str(&format!("· {hidden} rejected "));
    }
    block = block.title(Line::from(Span::styled(counts, theme::dim())).right_aligned());
    if s.filter.editing || !s.filter.text.is_empty() {
        let cursor = if s.filter.editing { "█" } else { "" };
        block = block.title_bottom(Span::styled(
            format!(" / {}{cursor} ", s.filter.text),
            Style::new().fg(theme::ACCENT),
        ));
    }
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme::selected());
    let mut state = TableState::default();
    if !s.list.is_empty() {
        state.select(Some(s.list.cursor() - s.list.offset));
    }
    frame.render_stateful_widget(table, table_area, &mut state);
    draw_detail(frame, app, detail_area);
    overlays::draw(frame, app, area);
}

fn draw_detail(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.review;
    let block = Block::bordered().border_style(theme::dim());
    let mut lines = Vec::new();
    if let Some(r) = s.selected() {
        let a = &r.candidate.assessment;
        let target = r
            .target()
            .0
            .map_or_else(|| "nobody yet".into(), person_label);
        lines.push(Line::from(vec![
            Span::styled(r.candidate.device.name.clone(), theme::title()),
            Span::raw(format!("  {} → ", person_label(&a.current))),
            Span::styled(target, Style::new().add_modifier(Modifier::BOLD)),
        ]));
        let last = a
            .last_logon
            .map(|t| format!(" · last sign-in {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(r.verdict_word(), verdict_style(r)),
            Span::raw(last),
            Span::raw(" · "),
            Span::styled(reason(r), verdict_style(r)),
        ]));
    } else if matches!(app.review.load, crate::app::LoadState::Ready { .. }) {
        lines.push(Line::from(Span::styled(
            "No device lists a staging account as its primary user.",
            theme::dim(),
        )));
    }
    let hint = "Space select · a approve · r reject · e pick user · Enter history · / filter";
    lines.push(match &s.notice {
        Some(n) => Line::from(Span::styled(n.clone(), Style::new().fg(theme::WARN))),
        None => Line::from(Span::styled(hint, theme::dim())),
    });
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests;

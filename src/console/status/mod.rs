//! The status pane: stage counts on top, the device table (only the rows in the viewport are
//! built), and the detail view of the selected device over it.

mod detail;
mod evidence;
pub(crate) mod notices;

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};

use super::{pane_block_since, theme};
use crate::app::App;
use crate::app::status::{Column, StatusState};
use crate::status::{DeviceStatus, Flags, Stage};

/// Terminals at least this wide show every column and flags as words.
const WIDE: u16 = 150;
/// At least this wide: primary user and compliance join the narrow set.
const MEDIUM: u16 = 100;

pub fn stage_style(stage: Stage) -> Style {
    match stage {
        Stage::Queued => theme::dim(),
        Stage::Registered => Style::new().fg(ratatui::style::Color::Blue),
        Stage::Enrolled => Style::new().fg(theme::ACCENT),
        Stage::Provisioning => Style::new().fg(theme::WARN),
        Stage::Provisioned => Style::new().fg(ratatui::style::Color::LightGreen),
        Stage::Failed => Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
        Stage::InUse => Style::new().fg(ratatui::style::Color::Magenta),
        Stage::Assigned => Style::new().fg(theme::OK),
    }
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.status;
    let wide = area.width >= WIDE;
    let mut block = pane_block_since("Status", &s.load, s.last_ready, app);
    let scope = if s.all_staged {
        "all staged"
    } else {
        "this queue"
    };
    let arrow = if s.sort.descending { "↓" } else { "↑" };
    block = block.title_bottom(
        Line::from(Span::styled(
            format!(
                " scope: {scope} (a) · sort: {} {arrow} (s) ",
                s.sort.column.title()
            ),
            theme::dim(),
        ))
        .right_aligned(),
    );
    if s.filter.editing || !s.filter.text.is_empty() {
        let cursor = if s.filter.editing { "█" } else { "" };
        block = block.title_bottom(Line::from(vec![
            Span::styled(" / ", theme::title()),
            Span::raw(format!("{}{cursor} ", s.filter.text)),
            Span::styled(
                format!("{} of {} ", s.list.len(), s.list.total()),
                theme::dim(),
            ),
        ]));
    }
    block = super::devices::decorate(block, app);
    block = evidence::decorate(block, app);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if s.notices.open {
        notices::draw_list(frame, app, inner);
        return;
    }
    if s.detail
        && let Some(row) = s.selected()
    {
        detail::draw(frame, app, row, inner, wide);
        return;
    }
    let [summary, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(summary_line(s, inner.width)), summary);
    draw_table(frame, app, table, &columns(area.width), wide);
    if s.rows.is_empty() {
        let hint = "No devices tracked. Scan serials on the intake pane (F2), or press a to watch \
                    every device a staging account enrolled.";
        let below_header = Rect {
            y: table.y + 2,
            height: table.height.saturating_sub(2),
            ..table
        };
        frame.render_widget(
            Paragraph::new(Span::styled(hint, theme::dim()))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            below_header,
        );
    }
}

/// Devices per stage in the stage colours, then the stuck count: "3 provisioning · 1 failed".
/// Short labels when the long line does not fit.
fn summary_line(s: &StatusState, width: u16) -> Line<'static> {
    let mut counts: Vec<(String, Style)> = Stage::ALL
        .iter()
        .filter(|st| s.count(**st) > 0)
        .map(|&st| (st.words().to_string(), stage_style(st)))
        .collect();
    let mut numbers: Vec<usize> = Stage::ALL
        .iter()
        .map(|st| s.count(*st))
        .filter(|n| *n > 0)
        .collect();
    if s.stuck > 0 {
        counts.push((
            "stuck".into(),
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
        ));
        numbers.push(s.stuck);
    }
    let long: usize = counts
        .iter()
        .zip(&numbers)
        .map(|((l, _), n)| l.chars().count() + n.to_string().len() + 4)
        .sum();
    let short = long > usize::from(width);
    let mut spans = Vec::new();
    for ((label, style), n) in counts.into_iter().zip(numbers) {
        if !spans.is_empty() {
            spans.push(Span::styled(if short { " " } else { " · " }, theme::dim()));
        }
        let label = if short { short_label(&label) } else { label };
        spans.push(Span::styled(format!("{n} {label}"), style));
    }
    Line::from(spans)
}

fn short_label(label: &str) -> String {
    match label {
        "registered" => "reg",
        "enrolled" => "enr",
        "provisioning" => "prov",
        "provisioned" => "ready",
        "in_use" => "in use",
        "assigned" => "asgn",
        other => other,
    }
    .to_string()
}

fn columns(width: u16) -> Vec<(Column, Constraint)> {
    use Column as C;
    use Constraint::{Fill, Length};
    if (MEDIUM..WIDE).contains(&width) {
        return vec![
            (C::Serial, Length(12)),
            (C::Stage, Length(15)),
            (C::InStage, Length(8)),
            (C::PrimaryUser, Length(22)),
            (C::Compliance, Length(12)),
            (C::Message, Fill(1)),
        ];
    }
    if width >= WIDE {
        vec![
            (C::Serial, Length(14)),
            (C::Device, Length(15)),
            (C::Stage, Length(26)),
            (C::InStage, Length(8)),
            (C::EnrolledBy, Length(24)),
            (C::PrimaryUser, Length(24)),
            (C::LastSync, Length(9)),
            (C::Compliance, Length(12)),
            (C::Message, Fill(1)),
        ]
    } else {
        vec![
            (C::Serial, Length(12)),
            (C::Device, Length(12)),
            (C::Stage, Length(15)),
            (C::InStage, Length(8)),
            (C::Message, Fill(1)),
        ]
    }
}

fn draw_table(
    frame: &mut Frame,
    app: &App,
    area: Rect,
    columns: &[(Column, Constraint)],
    wide: bool,
) {
    let s = &app.status;
    let header = Row::new(columns.iter().map(|(c, _)| {
        let mut title = c.title().to_string();
        if *c == s.sort.column {
            title.push_str(if s.sort.descending { " ↓" } else { " ↑" });
        }
        title
    }))
    .style(theme::header());
    let rows = visible_rows(app, columns, wide);
    let selected = s.list.cursor().checked_sub(s.list.offset);
    let mut state = TableState::default().with_selected(selected.filter(|_| !s.list.is_empty()));
    let table = Table::new(rows, columns.iter().map(|(_, w)| *w))
        .header(header)
        .row_highlight_style(theme::selected());
    frame.render_stateful_widget(table, area, &mut state);
}

/// Rows for the viewport only: never more than the list's window, whatever the fleet size.
pub fn visible_rows<'a>(
    app: &'a App,
    columns: &[(Column, Constraint)],
    wide: bool,
) -> Vec<Row<'a>> {
    let s = &app.status;
    s.list
        .window()
        .iter()
        .filter_map(|&i| s.rows.get(i))
        .map(|r| Row::new(columns.iter().map(|(c, _)| cell(r, *c, app.now, wide))))
        .collect()
}

fn cell(r: &DeviceStatus, c: Column, now: DateTime<Utc>, wide: bool) -> Line<'_> {
    fn text(v: &Option<std::sync::Arc<str>>) -> Line<'_> {
        Line::raw(v.as_deref().unwrap_or("—"))
    }
    match c {
        Column::Serial => Line::raw(&*r.serial),
        Column::Device => text(&r.device_name),
        Column::Stage => stage_cell(r.stage, r.flags, wide),
        Column::InStage => Line::raw(short_duration(now - r.since)),
        Column::EnrolledBy => text(&r.enrolled_by),
        Column::PrimaryUser => text(&r.primary_user),
        Column::LastSync => Line::raw(r.last_sync.map_or_else(
            || "—".to_string(),
            |t| format!("{} ago", short_duration(now - t)),
        )),
        Column::Compliance => {
            let style = if r.flags.noncompliant {
                Style::new().fg(theme::WARN)
            } else {
                Style::new()
            };
            Line::styled(
                r.compliance
                    .map_or("—", crate::graph::models::ComplianceState::as_graph),
                style,
            )
        }
        Column::Message => Line::raw(&*r.message),
    }
}

/// The stage in its colour, then its flags: words when wide, one mark each when narrow
/// (! stuck, ~ stale, × noncompliant).
pub fn stage_cell(stage: Stage, flags: Flags, wide: bool) -> Line<'static> {
    let mut spans = vec![Span::styled(stage.words(), stage_style(stage))];
    let marks = [
        (
            flags.stuck,
            "stuck",
            "!",
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
        ),
        (flags.stale, "stale", "~", theme::dim()),
        (
            flags.noncompliant,
            "noncompliant",
            "×",
            Style::new().fg(theme::WARN),
        ),
    ];
    for (on, word, mark, style) in marks {
        if on {
            let text = if wide {
                format!(" {word}")
            } else {
                mark.to_string()
            };
            spans.push(Span::styled(text, style));
        }
    }
    Line::from(spans)
}

/// "45s", "12m", "3h05m", "2d04h".
pub fn short_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests;

//! Review overlays: the whole sign-in history, the user picker, "Apply N changes?" (every frozen
//! approval in full, wrapped and scrollable, drifted ones flagged), "Reject N marked rows?" and
//! "Lift the rejection …?".

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::{person_label, short_time};
use crate::app::App;
use crate::app::review::{Approval, DRIFTED, ReviewModal, ReviewState};
use crate::console::theme;
use crate::review::Verdict;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    match &app.review.modal {
        None => {}
        Some(ReviewModal::History { device_id }) => history(frame, app, device_id, area),
        Some(ReviewModal::Pick { device_id, cursor }) => {
            picker(frame, app, device_id, *cursor, area);
        }
        Some(ReviewModal::Confirm {
            approvals,
            hidden,
            skipped,
            scroll,
        }) => confirm(frame, app, approvals, (*hidden, *skipped), *scroll, area),
        Some(ReviewModal::Reject {
            device_ids,
            hidden,
            scroll,
        }) => reject(frame, app, device_ids, *hidden, *scroll, area),
        Some(ReviewModal::Lift { device_ids }) => lift(frame, app, device_ids, area),
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

/// Has the device's data changed since this approval was frozen? (A missing row counts.)
pub fn drifted(s: &ReviewState, a: &Approval) -> bool {
    s.row(&a.job.device_id).is_none_or(|r| {
        r.fingerprint != a.fingerprint || r.target().0.is_none_or(|p| *p != a.job.to)
    })
}

/// A question box with a scrolling body: `items` are groups of lines (one per row), `scroll` the
/// first group shown; the head and foot stay.
fn question(
    frame: &mut Frame,
    area: Rect,
    head: Vec<Line<'static>>,
    items: Vec<Vec<Line<'static>>>,
    foot: Vec<Line<'static>>,
    scroll: usize,
    keys: &'static str,
) {
    let width = area.width.saturating_sub(2).min(104);
    let inner_w = usize::from(width.saturating_sub(2)).max(1);
    let rows = |l: &Line| l.width().max(1).div_ceil(inner_w);
    let body_rows: usize = items.iter().flatten().map(rows).sum();
    let fixed: usize = head.iter().chain(foot.iter()).map(rows).sum::<usize>() + 2;
    let height = (fixed + body_rows).min(usize::from(area.height));
    let rect = centred(area, width, height as u16);
    let room = usize::from(rect.height).saturating_sub(fixed);
    // Scroll by whole rows, never past the point where the last one is at the bottom.
    let mut first = scroll.min(items.len().saturating_sub(1));
    while first > 0 && items[first..].iter().flatten().map(rows).sum::<usize>() < room {
        first -= 1;
    }
    let skip_rows: usize = items[..first].iter().flatten().map(rows).sum();
    let more_below = body_rows - skip_rows > room;
    let mut lines = head;
    let shown_from = first + 1;
    let mut used = 0;
    let mut shown_to = first;
    for item in &items[first..] {
        let h: usize = item.iter().map(rows).sum();
        if used + h > room && shown_to > first {
            break;
        }
        used += h;
        shown_to += 1;
        lines.extend(item.iter().cloned());
    }
    lines.extend(foot);
    let position = if first > 0 || more_below {
        format!(
            " {shown_from}–{shown_to} of {} · ↑↓ PgUp PgDn scroll ·",
            items.len()
        )
    } else {
        String::new()
    };
    let block = Block::bordered()
        .border_style(Style::new().fg(theme::ACCENT))
        .title(Span::styled(" Confirm ", theme::title()))
        .title_bottom(Line::from(Span::styled(
            format!("{position}{keys}"),
            theme::dim(),
        )));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn confirm(
    frame: &mut Frame,
    app: &App,
    approvals: &[Approval],
    (hidden, skipped): (usize, usize),
    scroll: usize,
    area: Rect,
) {
    let s = &app.review;
    let n = approvals.len();
    let head = vec![
        Line::from(Span::styled(
            format!("Apply {}?", plural(n, "change", "changes")),
            theme::title(),
        )),
        Line::from(""),
    ];
    let items = approvals
        .iter()
        .map(|a| {
            let mut item = vec![
                Line::from(vec![
                    Span::styled(
                        format!("{}  {}", a.device_name, a.job.serial),
                        Style::new().add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(format!("  {} →", a.job.from_upn), theme::dim()),
                ]),
                Line::from(vec![Span::raw("    "), Span::raw(person_label(&a.job.to))]),
            ];
            if drifted(s, a) {
                item.push(Line::from(Span::styled(
                    format!("    {DRIFTED} (will not be written)"),
                    Style::new().fg(theme::WARN).add_modifier(Modifier::BOLD),
                )));
            }
            item
        })
        .collect();
    let mut foot = vec![Line::from("")];
    if hidden > 0 {
        foot.push(Line::from(Span::styled(
            format!(
                "{} hidden by the filter: not included.",
                plural(hidden, "marked row is", "marked rows are")
            ),
            Style::new().fg(theme::WARN),
        )));
    }
    if skipped > 0 {
        foot.push(Line::from(Span::styled(
            format!(
                "{} skipped: waiting, blocked or already applying.",
                plural(skipped, "row", "rows")
            ),
            theme::dim(),
        )));
    }
    foot.push(Line::from(Span::styled(
        "Each change is audited before and after it is written.",
        theme::dim(),
    )));
    question(
        frame,
        area,
        head,
        items,
        foot,
        scroll,
        " y / Enter apply · n / Esc cancel ",
    );
}

fn reject(
    frame: &mut Frame,
    app: &App,
    device_ids: &[String],
    hidden: usize,
    scroll: usize,
    area: Rect,
) {
    let s = &app.review;
    let head = vec![
        Line::from(Span::styled(
            format!(
                "Reject {}?",
                plural(device_ids.len(), "marked row", "marked rows")
            ),
            theme::title(),
        )),
        Line::from(""),
    ];
    let items = device_ids
        .iter()
        .filter_map(|id| s.row(id))
        .map(|r| {
            let to = r.target().0.map_or_else(|| "—".into(), person_label);
            vec![Line::from(vec![
                Span::styled(
                    format!("{}  {}", r.candidate.device.name, r.candidate.device.serial),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!("  {to}")),
            ])]
        })
        .collect();
    let mut foot = vec![Line::from("")];
    if hidden > 0 {
        foot.push(Line::from(Span::styled(
            format!(
                "{} hidden by the filter: not included.",
                plural(hidden, "marked row is", "marked rows are")
            ),
            Style::new().fg(theme::WARN),
        )));
    }
    foot.push(Line::from(Span::styled(
        "Nothing is written to Intune; u undoes it for this session. Audited.",
        theme::dim(),
    )));
    question(
        frame,
        area,
        head,
        items,
        foot,
        scroll,
        " y / Enter reject · n / Esc cancel ",
    );
}

fn lift(frame: &mut Frame, app: &App, device_ids: &[String], area: Rect) {
    let s = &app.review;
    let items = device_ids
        .iter()
        .filter_map(|id| Some((id, s.rejected.get(id)?)))
        .map(|(id, r)| {
            let name = s
                .row(id)
                .map_or_else(String::new, |x| format!("{}  ", x.candidate.device.name));
            vec![
                Line::from(Span::styled(
                    format!("{name}{}", r.serial),
                    Style::new().add_modifier(Modifier::BOLD),
                )),
                Line::from(format!(
                    "    proposal {} rejected by {} at {}",
                    r.proposed_upn.as_deref().unwrap_or("—"),
                    r.by.as_deref().unwrap_or("(saving)"),
                    r.at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default()
                )),
            ]
        })
        .collect();
    question(
        frame,
        area,
        vec![
            Line::from(Span::styled("Lift this rejection?", theme::title())),
            Line::from(""),
        ],
        items,
        vec![
            Line::from(""),
            Line::from(Span::styled(
                "The row goes back into review. Recorded in the audit log.",
                theme::dim(),
            )),
        ],
        0,
        " y / Enter lift · n / Esc cancel ",
    );
}

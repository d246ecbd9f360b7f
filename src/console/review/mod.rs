//! The review pane: one row per reassignment candidate (or, in the rejected view, one per
//! remembered rejection), a detail box for the selected row, and the review overlays (history,
//! picker, confirmations) drawn over it. The proposed user's column takes the room its longest
//! entry needs and the device name yields, so a UPN is never cut.

mod overlays;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};

use super::{pane_block, theme};
use crate::app::App;
pub use crate::app::review::text::{person_label, reason, short_time};
use crate::app::review::{DETAIL_HEIGHT, ReviewRow, ReviewState, ReviewView};
use crate::review::{ApplyState, Verdict};

/// Terminals at least this wide also show the current primary user in the row.
const WIDE: u16 = 160;

fn verdict_style(row: &ReviewRow) -> Style {
    match (&row.apply, row.target().1) {
        (Some(ApplyState::Failed { .. }), _) | (None, Verdict::Blocked(_)) => {
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD)
        }
        _ if row.drifted && row.apply.is_none() => Style::new().fg(theme::WARN),
        (Some(ApplyState::Confirmed { .. }), _) | (None, Verdict::Propose) => {
            Style::new().fg(theme::OK)
        }
        (Some(_), _) => Style::new().fg(theme::ACCENT),
        (None, Verdict::Ambiguous) => Style::new().fg(theme::WARN),
        (None, Verdict::Waiting) => theme::dim(),
    }
}

fn width(s: &str) -> u16 {
    u16::try_from(Span::raw(s).width()).unwrap_or(u16::MAX)
}

/// The width of [`person_label`] without building it (this runs over every visible row).
fn label_width(p: &crate::review::Person) -> u16 {
    if p.display_name.is_empty() {
        width(&p.upn)
    } else {
        width(&p.display_name)
            .saturating_add(width(&p.upn))
            .saturating_add(3)
    }
}

/// Column widths for the candidates table: (device, proposed, primary or 0), and whether the
/// proposed column holds "Name <upn>" (else the UPN alone; the detail box has the name).
fn layout(s: &ReviewState, inner: u16) -> (u16, u16, u16, bool) {
    let rows: Vec<&ReviewRow> = s
        .list
        .visible()
        .iter()
        .filter_map(|&i| s.rows.get(i))
        .collect();
    let max = |f: &dyn Fn(&ReviewRow) -> u16| rows.iter().map(|r| f(r)).max().unwrap_or(0);
    let full = max(&|r| r.target().0.map_or(1, label_width));
    let upn = max(&|r| r.target().0.map_or(1, |p| width(&p.upn)));
    let device = max(&|r| width(&r.candidate.device.name)).clamp(8, 15);
    let primary = max(&|r| width(&r.candidate.assessment.current.upn)).max(12);
    // mark, serial, signed in, verdict and the six gaps between seven columns.
    let fixed = 1 + SERIAL + 11 + 9 + 6;
    let avail = inner.saturating_sub(fixed);
    const DEVICE_MIN: u16 = 8;
    const REASON_MIN: u16 = 12;
    let room = avail.saturating_sub(DEVICE_MIN + REASON_MIN);
    let (target, named) = if full <= room {
        (full.max(14), true)
    } else {
        (upn.min(room.max(upn.min(avail))).max(14), false)
    };
    let device = device
        .min(avail.saturating_sub(target + REASON_MIN))
        .max(DEVICE_MIN);
    let rest = avail.saturating_sub(target + device);
    let primary = if inner >= WIDE && rest >= primary + 1 + REASON_MIN + 8 {
        primary
    } else {
        0
    };
    (device, target, primary, named)
}

const SERIAL: u16 = 12;

/// "propose 12 · waiting 30 · ambiguous 2 · blocked 5", then confirmed, marked and rejected.
fn counts_title(s: &ReviewState) -> Line<'static> {
    let c = s.counts;
    let mut spans = vec![
        Span::styled(
            format!(" propose {}", c.propose),
            Style::new().fg(theme::OK),
        ),
        Span::styled(format!(" · waiting {}", c.waiting), theme::dim()),
        Span::styled(
            format!(" · ambiguous {}", c.ambiguous),
            Style::new().fg(theme::WARN),
        ),
        Span::styled(
            format!(" · blocked {}", c.blocked),
            Style::new().fg(theme::BAD),
        ),
    ];
    if c.confirmed > 0 {
        spans.push(Span::styled(
            format!(" · confirmed {}", c.confirmed),
            Style::new().fg(theme::OK),
        ));
    }
    let hidden = s.hidden_count();
    if hidden > 0 || !s.rejected.is_empty() {
        spans.push(Span::styled(
            format!(" · rejected {}", s.rejected.len().max(hidden)),
            theme::dim(),
        ));
    }
    spans.push(Span::raw(" "));
    Line::from(spans).right_aligned()
}

/// "3 marked · 1 hidden by the filter", shown in the header while anything is marked.
pub fn marks_title(s: &ReviewState) -> Option<String> {
    if s.marks.is_empty() {
        return None;
    }
    let hidden = s.marks_hidden();
    Some(if hidden > 0 {
        format!(" {} marked · {hidden} hidden by the filter ", s.marks.len())
    } else {
        format!(" {} marked ", s.marks.len())
    })
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.review;
    let [table_area, detail_area] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(DETAIL_HEIGHT as u16),
    ])
    .areas(area);
    let title = match s.view {
        ReviewView::Candidates => "Review",
        ReviewView::Rejected => "Review · rejected",
    };
    let mut block = pane_block(title, &s.load, app);
    if !s.rows.is_empty() || !s.rejected.is_empty() {
        block = block.title(counts_title(s));
    }
    if let Some(m) = marks_title(s) {
        // In the header when it has room next to the counts, else on the bottom edge.
        let line = Line::from(Span::styled(
            m,
            Style::new().fg(theme::WARN).add_modifier(Modifier::BOLD),
        ));
        block = if area.width >= 110 {
            block.title(line)
        } else {
            block.title_bottom(line)
        };
    }
    if s.filter.editing || !s.filter.text.is_empty() {
        let cursor = if s.filter.editing { "█ " } else { " " };
        let accent = Style::new().fg(theme::ACCENT);
        let text = if s.filter.selected {
            accent.add_modifier(Modifier::REVERSED)
        } else {
            accent
        };
        block = block.title_bottom(
            Line::from(vec![
                Span::styled(" / ", accent),
                Span::styled(s.filter.text.clone(), text),
                Span::styled(cursor, accent),
            ])
            .right_aligned(),
        );
    }
    match s.view {
        ReviewView::Candidates => draw_candidates(frame, s, block, table_area),
        ReviewView::Rejected => draw_rejected(frame, s, block, table_area),
    }
    draw_detail(frame, app, detail_area);
    overlays::draw(frame, app, area);
}

fn draw_candidates(frame: &mut Frame, s: &ReviewState, block: Block, area: Rect) {
    let (device_w, target_w, primary_w, named) = layout(s, area.width.saturating_sub(2));
    let mut head = vec!["", "Device", "Serial"];
    if primary_w > 0 {
        head.push("Primary user");
    }
    head.extend(["Proposed user", "Signed in", "Verdict", "Reason"]);
    let header = Row::new(head).style(theme::header());
    let rows = s.list.window().iter().filter_map(|&i| {
        let r = s.rows.get(i)?;
        let d = &r.candidate.device;
        let a = &r.candidate.assessment;
        let target = r.target().0.map_or_else(
            || "—".to_string(),
            |p| {
                if named {
                    person_label(p)
                } else {
                    p.upn.clone()
                }
            },
        );
        let marked = s.marks.contains(&d.id);
        let mut cells = vec![
            Span::styled(if marked { "●" } else { " " }, theme::title()),
            Span::raw(d.name.clone()),
            Span::raw(d.serial.clone()),
        ];
        if primary_w > 0 {
            cells.push(Span::styled(a.current.upn.clone(), theme::dim()));
        }
        cells.extend([
            Span::raw(target),
            Span::raw(a.last_logon.map(short_time).unwrap_or_default()),
            Span::styled(r.verdict_word(), verdict_style(r)),
            Span::styled(reason(r), verdict_style(r)),
        ]);
        Some(Row::new(cells))
    });
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(device_w),
        Constraint::Length(SERIAL),
    ];
    if primary_w > 0 {
        widths.push(Constraint::Length(primary_w));
    }
    widths.extend([
        Constraint::Length(target_w),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Fill(1),
    ]);
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme::selected());
    let mut state = TableState::default();
    if !s.list.is_empty() {
        state.select(Some(s.list.cursor() - s.list.offset));
    }
    frame.render_stateful_widget(table, area, &mut state);
    if let Some(msg) = s
        .empty_message()
        .filter(|_| matches!(s.load, crate::app::LoadState::Ready { .. }))
    {
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: area.height.saturating_sub(3).min(2),
        };
        frame.render_widget(
            Paragraph::new(Span::styled(msg, theme::dim())).wrap(Wrap { trim: true }),
            inner,
        );
    }
}

fn draw_rejected(frame: &mut Frame, s: &ReviewState, block: Block, area: Rect) {
    let header = Row::new(["Device", "Serial", "Rejected proposal", "By", "When (UTC)"])
        .style(theme::header());
    let l = &s.rejected_list;
    let rows = l.window().iter().filter_map(|&i| {
        let id = l.key_at(i)?;
        let r = s.rejected.get(id)?;
        let name = s
            .row(id)
            .map_or_else(|| "—".to_string(), |x| x.candidate.device.name.clone());
        Some(Row::new(vec![
            name,
            r.serial.clone(),
            r.proposed_upn.clone().unwrap_or_else(|| "—".into()),
            r.by.clone().unwrap_or_else(|| "saving…".into()),
            r.at.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
        ]))
    });
    let upn = s
        .rejected
        .values()
        .map(|r| width(r.proposed_upn.as_deref().unwrap_or("—")))
        .max()
        .unwrap_or(0)
        .max(17);
    let widths = [
        Constraint::Length(15),
        Constraint::Length(SERIAL),
        Constraint::Length(upn),
        Constraint::Fill(1),
        Constraint::Length(16),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme::selected());
    let mut state = TableState::default();
    if !l.is_empty() {
        state.select(Some(l.cursor() - l.offset));
    }
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_detail(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.review;
    let block = Block::bordered().border_style(theme::dim());
    let mut lines = Vec::new();
    match s.view {
        ReviewView::Candidates => {
            if let Some(r) = s.selected() {
                // The change first, then the verdict with its whole reason (it wraps), then the
                // primary user now and the last sign-in.
                let a = &r.candidate.assessment;
                let target = r
                    .target()
                    .0
                    .map_or_else(|| "nobody yet".into(), person_label);
                lines.push(Line::from(vec![
                    Span::styled(r.candidate.device.name.clone(), theme::title()),
                    Span::raw(format!(" {} → ", r.candidate.device.serial)),
                    Span::styled(target, Style::new().add_modifier(Modifier::BOLD)),
                ]));
                let why = reason(r);
                let mut verdict = vec![Span::styled(r.verdict_word(), verdict_style(r))];
                if !why.is_empty() {
                    verdict.push(Span::raw(" · "));
                    verdict.push(Span::styled(why, verdict_style(r)));
                }
                lines.push(Line::from(verdict));
                let last = a
                    .last_logon
                    .map(|t| format!(" · last sign-in {}", t.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default();
                lines.push(Line::from(Span::styled(
                    format!("primary user now {}{last}", person_label(&a.current)),
                    theme::dim(),
                )));
            }
        }
        ReviewView::Rejected => {
            if let Some(id) = s.rejected_list.selected_key()
                && let Some(r) = s.rejected.get(id)
            {
                lines.push(Line::from(vec![
                    Span::styled(r.serial.clone(), theme::title()),
                    Span::raw(format!(
                        "  proposal {} rejected by {}",
                        r.proposed_upn.as_deref().unwrap_or("—"),
                        r.by.as_deref().unwrap_or("(saving)")
                    )),
                ]));
                lines.push(Line::from(Span::styled(
                    "hidden until the device's data changes, or until lifted (u; audited)",
                    theme::dim(),
                )));
            }
        }
    }
    let hint = match s.view {
        ReviewView::Candidates => {
            "Space mark · A mark proposals · a approve · r reject · u undo · e pick user · \
             Enter history · / filter · v rejected · E export"
        }
        ReviewView::Rejected => "u lift the rejection · v back to review · / filter · E export",
    };
    // The notice (or the key hint) keeps the last line; the detail wraps above it.
    let inner = area.height.saturating_sub(2);
    let [top, bottom] = Layout::vertical([
        Constraint::Length(inner.saturating_sub(1)),
        Constraint::Length(1),
    ])
    .areas(block.inner(area));
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    let last = match &s.notice {
        Some(n) => Line::from(Span::styled(n.clone(), Style::new().fg(theme::WARN))),
        None => Line::from(Span::styled(hint, theme::dim())),
    };
    frame.render_widget(Paragraph::new(last), bottom);
}

#[cfg(test)]
mod tests;

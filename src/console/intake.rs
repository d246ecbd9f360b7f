//! The intake pane: the scan input with its flash and feedback line on top, the queue below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

use super::theme;
use crate::app::App;
use crate::app::intake::{FeedbackKind, RowState};
use crate::status::Stage;

/// Seconds the feedback line keeps a message before it clears itself.
pub const FEEDBACK_SECS: i64 = 30;

pub fn state_style(s: RowState) -> Style {
    match s {
        RowState::Saving => theme::dim(),
        RowState::Queued => Style::new().fg(theme::WARN),
        RowState::Uploading => Style::new().fg(theme::ACCENT),
        RowState::Registered => Style::new().fg(theme::OK),
        RowState::Rejected | RowState::Failed => {
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD)
        }
    }
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let [input, queue] = Layout::vertical([Constraint::Length(4), Constraint::Fill(1)]).areas(area);
    draw_input(frame, app, input);
    draw_queue(frame, app, queue);
}

fn draw_input(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.intake;
    let profile_text = match app.config.profiles.get(&s.profile) {
        Some(p) => format!(
            " {} · {:?} {} {} · F7 next ",
            s.profile, p.platform, p.manufacturer, p.model
        ),
        None => format!(" {} ", s.profile),
    };
    let flash = s.flashing().map(|f| match f.kind {
        FeedbackKind::Saving | FeedbackKind::Queued => theme::OK,
        FeedbackKind::Notice => theme::WARN,
        FeedbackKind::Duplicate | FeedbackKind::Invalid | FeedbackKind::Error => theme::BAD,
    });
    let border = match (flash, s.input_focused) {
        (Some(c), _) => Style::new().fg(c).add_modifier(Modifier::BOLD),
        (None, true) => Style::new().fg(theme::ACCENT),
        (None, false) => theme::dim(),
    };
    let block = Block::bordered()
        .border_style(border)
        .title(Span::styled(
            if s.input_focused {
                " ▶ Scan "
            } else {
                " Scan "
            },
            theme::title(),
        ))
        .title(Line::from(Span::styled(profile_text, theme::dim())).right_aligned());
    let cursor = if s.input_focused { "█" } else { "" };
    let input = Line::from(vec![
        Span::styled("› ", theme::title()),
        Span::raw(s.input.as_str()),
        Span::raw(cursor),
    ]);
    let feedback = match (&s.feedback, &s.notice) {
        _ if s.removal.is_some() => {
            let r = s.removal.as_ref().expect("checked");
            Line::from(Span::styled(
                format!(
                    "Remove {}'s corporate identifier from Intune? y removes, any other key keeps it",
                    r.serial
                ),
                Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
            ))
        }
        // The last scan's result stays a while, then the line goes back to the hint.
        (Some(f), _) if (app.now - f.at).num_seconds() < FEEDBACK_SECS => {
            let (mark, color) = match f.kind {
                FeedbackKind::Saving => ("…", theme::DIM),
                FeedbackKind::Queued => ("✓", theme::OK),
                FeedbackKind::Notice => ("✓", theme::WARN),
                FeedbackKind::Duplicate | FeedbackKind::Invalid | FeedbackKind::Error => {
                    ("✕", theme::BAD)
                }
            };
            Line::from(vec![
                Span::styled(
                    format!("{mark} "),
                    Style::new().fg(color).add_modifier(Modifier::BOLD),
                ),
                Span::styled(f.serial.clone(), Style::new().add_modifier(Modifier::BOLD)),
                Span::raw("  "),
                Span::styled(f.text.clone(), Style::new().fg(color)),
            ])
        }
        (None, Some(notice)) => {
            Line::from(Span::styled(notice.clone(), Style::new().fg(theme::WARN)))
        }
        _ => Line::from(Span::styled(
            "Scan a serial (Enter or Tab ends it), or paste a column from a spreadsheet.",
            theme::dim(),
        )),
    };
    frame.render_widget(Paragraph::new(vec![input, feedback]).block(block), area);
}

fn draw_queue(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.intake;
    let focus = if s.input_focused {
        " Queue "
    } else {
        " ▶ Queue "
    };
    let mut title = vec![Span::styled(focus, theme::title())];
    for (state, n) in s.counts {
        if n > 0 {
            title.push(Span::styled(
                format!("· {n} {} ", state.label()),
                state_style(state),
            ));
        }
    }
    let mut block = Block::bordered().title(Line::from(title));
    if let Some(err) = &s.store_error {
        block = block.title_bottom(Span::styled(
            format!(" not saved: {err} (retrying) "),
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
        ));
    } else if !s.can_upload && s.counts[1].1 > 0 {
        block = block.title_bottom(Span::styled(
            " uploads wait until signed in and online ",
            theme::dim(),
        ));
    }
    let header = Row::new([
        "",
        "State",
        "Serial",
        "Manufacturer",
        "Model",
        "Profile",
        "Scanned",
        "Message",
    ])
    .style(theme::header());
    // The selected row carries a marker too, so it shows without colour (NO_COLOR).
    let selected = if s.input_focused {
        None
    } else {
        s.list.selected_key().map(|k| k.as_str())
    };
    let rows = s.list.window().iter().filter_map(|&i| {
        let key = s.list_key(i)?;
        let r = s.row(key)?;
        let e = r.entry;
        let mut message = e.message.clone().unwrap_or_default();
        if let Some(note) = &e.note {
            message = format!("{note} {message}");
        }
        // A device from a hash file: its Autopilot import, then its profile assignment (from the
        // status feed) once the upload has started.
        if matches!(r.state, RowState::Uploading | RowState::Registered)
            && let Some(line) = app.status.autopilot_line(&e.serial)
        {
            message = line.to_string();
        }
        if let Some(left) = s.hold_left(e, app.now) {
            message = format!("sends in {left} s · d takes back (F6)");
        }
        // Once Intune has it, the row shows where the device is now (from the status feed).
        let (label, style) = match (r.state, app.status.stage_of(&e.serial)) {
            (RowState::Registered, Some(stage)) if stage != Stage::Queued => {
                (stage.words(), super::status::stage_style(stage))
            }
            _ => (r.state.label(), state_style(r.state)),
        };
        Some(Row::new(vec![
            Span::raw(match (r.marked, selected == Some(key)) {
                (true, _) => "●",
                (false, true) => "▶",
                _ => " ",
            }),
            Span::styled(label, style),
            Span::raw(e.serial.clone()),
            Span::raw(e.manufacturer.clone()),
            Span::raw(e.model.clone()),
            Span::raw(e.profile.clone()),
            Span::raw(e.scanned_at.format("%H:%M:%S").to_string()),
            Span::raw(message),
        ]))
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Length(10),
        Constraint::Length(16),
        Constraint::Length(12),
        Constraint::Length(14),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme::selected());
    let mut state = TableState::default();
    if !s.input_focused && !s.list.is_empty() {
        state.select(Some(s.list.cursor() - s.list.offset));
    }
    frame.render_stateful_widget(table, area, &mut state);
}

#[cfg(test)]
mod tests {
    use crate::app::Msg;
    use crate::console::test_support::{app, render};
    use crate::store::StoreAck;

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

    fn scanned_app() -> crate::app::App {
        let mut a = app();
        // Three scans saved, one still saving, one refused.
        a.update(Msg::Paste(
            "PF1AAA01\nPF1AAA02\nPF1AAA03\nPF1AAA04\n".into(),
        ));
        for ticket in 1..=3 {
            a.update(Msg::Stored(StoreAck {
                ticket,
                result: Ok(()),
            }));
        }
        a.update(Msg::Paste("PF1#BAD\n".into()));
        a
    }

    #[test]
    fn queue_with_saved_saving_and_refused_80x24() {
        let mut a = scanned_app();
        insta::assert_snapshot!(render(&mut a, 80, 24).backend());
    }

    #[test]
    fn queue_with_saved_saving_and_refused_160x48() {
        let mut a = scanned_app();
        insta::assert_snapshot!(render(&mut a, 160, 48).backend());
    }

    #[test]
    fn refused_scan_flashes_red() {
        let mut a = scanned_app();
        let t = render(&mut a, 80, 24);
        let cell = t.backend().buffer()[(0, 1)].clone();
        assert_eq!(
            cell.fg,
            crate::console::theme::BAD,
            "input border flashes red"
        );
    }
}

#[cfg(test)]
#[path = "intake_autopilot_tests.rs"]
mod autopilot_tests;

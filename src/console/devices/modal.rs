//! The retire/wipe modal: exactly what will happen, the wipe toggles, the serial typed to
//! confirm, then the outcome (sent with its request-id, refused, or failed).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::app::App;
use crate::app::devices::modal::Field;
use crate::app::devices::{ActionKind, ActionModal, ModalStage};
use crate::console::theme;

/// Draws the modal over `area` (the pane body) when one is open.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some(m) = &app.devices.modal else {
        return;
    };
    let lines = lines(m);
    let width = area.width.saturating_sub(4).min(76);
    // Rows once wrapped to the inner width, plus the border.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2)).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let verb = match m.kind {
        ActionKind::Retire => "Retire",
        ActionKind::Wipe => "Wipe",
    };
    let name = m.device_name.as_deref().unwrap_or("device");
    let hint = match m.stage {
        ModalStage::Editing if m.kind == ActionKind::Wipe => {
            " Enter send · Tab next · Space toggle · Esc cancel "
        }
        ModalStage::Editing => " Enter send · Esc cancel ",
        ModalStage::Sending => " Esc closes (the outcome still arrives) ",
        ModalStage::Done { .. } => " any key closes ",
    };
    let block = Block::bordered()
        .border_style(Style::new().fg(theme::BAD))
        .title(Span::styled(
            format!(" {verb} {name} · serial {} ", m.serial),
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
        ))
        .title_bottom(Line::from(Span::styled(hint, theme::dim())));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn lines(m: &ActionModal) -> Vec<Line<'static>> {
    let mut out = vec![Line::raw(m.action().describe()), Line::raw("")];
    if m.kind == ActionKind::Wipe {
        let toggle = |on: bool, field: Field, text: &str| {
            let mark = if m.focus == field { "› " } else { "  " };
            let check = if on { "[x] " } else { "[ ] " };
            let style = if m.focus == field {
                theme::selected()
            } else {
                Style::new()
            };
            Line::styled(format!("{mark}{check}{text}"), style)
        };
        out.push(toggle(
            m.keep_enrollment_data,
            Field::KeepEnrollmentData,
            "keep enrollment data (keepEnrollmentData)",
        ));
        out.push(toggle(
            m.keep_user_data,
            Field::KeepUserData,
            "keep user accounts and data (keepUserData)",
        ));
        out.push(Line::raw(""));
    }
    let cursor = if m.stage == ModalStage::Editing && m.focus == Field::Serial {
        "█"
    } else {
        ""
    };
    let (check, style) = if m.typed.is_empty() {
        ("", theme::dim())
    } else if m.confirmed() {
        ("  ✓ matches", Style::new().fg(theme::OK))
    } else {
        ("  ✗ not the serial", Style::new().fg(theme::WARN))
    };
    out.push(Line::from(vec![
        Span::raw(format!("Type the serial {} to confirm: ", m.serial)),
        Span::styled(format!("{}{cursor}", m.typed), theme::title()),
        Span::styled(check, style),
    ]));
    match &m.stage {
        ModalStage::Editing => {}
        ModalStage::Sending => out.push(Line::styled(
            "sending… (role checked through Graph now; audited before and after)",
            Style::new().fg(theme::WARN),
        )),
        ModalStage::Done { ok, message } => out.push(Line::styled(
            message.clone(),
            Style::new().fg(if *ok { theme::OK } else { theme::BAD }),
        )),
    }
    out
}

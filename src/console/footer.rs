//! The footer: the focused pane's main keys (as k9s and lazygit show them), or, for a few
//! seconds, what a scan that arrived while another pane had focus did.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme;
use crate::app::intake::FeedbackKind;
use crate::app::{App, Overlay, Pane};

/// How long a scan's result shows in the footer when the intake pane is not in view.
pub const TOAST_MS: i64 = 5000;

/// One hint: the key as shown, the key itself (tests check it is bound), what it does.
pub type Hint = (&'static str, KeyCode, &'static str);

const SCAN: &[Hint] = &[
    ("Enter", KeyCode::Enter, "end scan"),
    ("F6", KeyCode::F(6), "queue list"),
    ("F7", KeyCode::F(7), "profile"),
    ("F8", KeyCode::F(8), "paste result"),
    ("F1", KeyCode::F(1), "help"),
];
const QUEUE: &[Hint] = &[
    ("j/k", KeyCode::Char('j'), "move"),
    ("d", KeyCode::Char('d'), "take back"),
    ("X", KeyCode::Char('X'), "remove from Intune"),
    ("Space", KeyCode::Char(' '), "mark"),
    ("f", KeyCode::Char('f'), "failed"),
    ("R", KeyCode::Char('R'), "retry"),
    ("F6", KeyCode::F(6), "scan input"),
    ("?", KeyCode::Char('?'), "help"),
];
const STATUS: &[Hint] = &[
    ("j/k", KeyCode::Char('j'), "move"),
    ("Enter", KeyCode::Enter, "detail"),
    ("/", KeyCode::Char('/'), "filter"),
    ("t", KeyCode::Char('t'), "stuck"),
    ("s", KeyCode::Char('s'), "sort"),
    ("a", KeyCode::Char('a'), "scope"),
    ("r", KeyCode::Char('r'), "refresh"),
    ("?", KeyCode::Char('?'), "help"),
    ("q", KeyCode::Char('q'), "quit"),
];
const REVIEW: &[Hint] = &[
    ("j/k", KeyCode::Char('j'), "move"),
    ("Space", KeyCode::Char(' '), "select"),
    ("a", KeyCode::Char('a'), "approve"),
    ("r", KeyCode::Char('r'), "reject"),
    ("e", KeyCode::Char('e'), "other user"),
    ("Enter", KeyCode::Enter, "history"),
    ("?", KeyCode::Char('?'), "help"),
    ("q", KeyCode::Char('q'), "quit"),
];

/// The hints for a pane; `typing` is the intake's scan input having focus.
pub fn hints(pane: Pane, typing: bool) -> &'static [Hint] {
    match pane {
        Pane::Intake if typing => SCAN,
        Pane::Intake => QUEUE,
        Pane::Status => STATUS,
        Pane::Review => REVIEW,
    }
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let intake_in_view = app.focus == Pane::Intake && app.overlay.is_none() && !app.signin.open;
    let toast = app
        .intake
        .feedback
        .as_ref()
        .filter(|f| !intake_in_view && (app.now - f.at).num_milliseconds() < TOAST_MS);
    let line = if let Some(f) = toast {
        let (mark, color) = match f.kind {
            FeedbackKind::Saving => ("…", theme::DIM),
            FeedbackKind::Queued => ("✓", theme::OK),
            FeedbackKind::Notice => ("✓", theme::WARN),
            _ => ("✕", theme::BAD),
        };
        Line::from(vec![
            Span::styled(
                format!(" scan {mark} "),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ),
            Span::styled(f.serial.clone(), Style::new().add_modifier(Modifier::BOLD)),
            Span::raw("  "),
            Span::styled(f.text.clone(), Style::new().fg(color)),
        ])
    } else if app.overlay.is_some() {
        let what = match app.overlay {
            Some(Overlay::Doctor) => "F9 closes",
            _ => "Esc closes",
        };
        Line::from(Span::styled(
            format!(" ↑↓ scroll · {what} · scans still go to the queue"),
            theme::dim(),
        ))
    } else {
        let typing = app.focus == Pane::Intake && app.intake.input_focused;
        let mut spans = vec![Span::raw(" ")];
        for (key, _, what) in hints(app.focus, typing) {
            spans.push(Span::styled(*key, theme::title()));
            spans.push(Span::styled(format!(" {what}  "), theme::dim()));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::lookup;
    use crossterm::event::{KeyEvent, KeyModifiers};

    /// Every key the footer names does what the footer says in that pane (the key table binds it).
    #[test]
    fn every_footer_key_is_bound_in_its_pane() {
        for (pane, typing) in [
            (Pane::Intake, true),
            (Pane::Intake, false),
            (Pane::Status, false),
            (Pane::Review, false),
        ] {
            for (label, code, _) in hints(pane, typing) {
                let key = KeyEvent::new(*code, KeyModifiers::NONE);
                // Enter ends a scan in the input by design; it has no table entry there.
                if pane == Pane::Intake && typing && *code == KeyCode::Enter {
                    continue;
                }
                assert!(
                    lookup(pane, typing, &key).is_some(),
                    "{pane:?}: footer names {label} but nothing is bound"
                );
            }
        }
    }
}

//! The sign-in modal: the verification URL and the user code on lines of their own (so a
//! triple-click copies them whole), the countdown to expiry, "waiting…" while the task polls, and
//! the outcome. Drawn over the panes and the status bar stays visible below it.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::theme;
use crate::app::App;
use crate::app::signin::{Failure, Phase};

/// The status bar's session part while signed out.
pub const SIGNED_OUT_HINT: &str = "signed out — Ctrl-L to sign in";

fn bold(color: ratatui::style::Color) -> Style {
    Style::new().fg(color).add_modifier(Modifier::BOLD)
}

fn hint(text: &str) -> Line<'static> {
    Line::from(Span::styled(text.to_string(), theme::dim()))
}

/// `14:59`, or `expired`.
pub fn countdown(secs: i64) -> String {
    if secs <= 0 {
        "expired".into()
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// The modal's lines for the app's sign-in state.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let s = &app.signin;
    let mut out = Vec::new();
    if let Some(why) = &s.why {
        out.push(Line::from(Span::styled(
            format!("Signed out: {why}"),
            Style::new().fg(theme::BAD),
        )));
        out.push(Line::from(
            "Feeds are paused; scans keep queueing on this bench.",
        ));
        out.push(Line::default());
    }
    const AGAIN: &str = "Enter: new code · b: sign in with a browser · Esc: keep working offline";
    match &s.phase {
        Phase::Idle => out.push(Line::from("Press Ctrl-L to sign in.")),
        Phase::Requesting { browser: false } => {
            out.push(Line::from("Asking for a sign-in code…"));
        }
        Phase::Requesting { browser: true } => {
            out.push(Line::from("Starting the browser sign-in…"));
        }
        Phase::Code {
            user_code,
            verification_uri,
            expires_at,
        } => {
            out.push(Line::from("On any device, open"));
            out.push(Line::from(Span::styled(
                verification_uri.clone(),
                bold(theme::ACCENT).add_modifier(Modifier::UNDERLINED),
            )));
            out.push(Line::from("and enter the code"));
            out.push(Line::from(Span::styled(
                user_code.clone(),
                bold(theme::WARN),
            )));
            out.push(Line::default());
            let left = (*expires_at - app.now).num_seconds();
            out.push(Line::from(vec![
                Span::styled(
                    "◌ waiting for you to sign in… ",
                    Style::new().fg(theme::WARN),
                ),
                Span::raw(format!("code expires in {}", countdown(left))),
            ]));
            out.push(Line::default());
            out.push(hint(
                "b: sign in with a browser instead · Esc: keep working offline",
            ));
        }
        Phase::Browser { url, opened } => {
            out.push(Line::from(if *opened {
                "Opened the browser to sign in. If it did not open, visit:"
            } else {
                "Open this URL in a browser on this machine to sign in:"
            }));
            out.push(Line::from(Span::styled(url.clone(), bold(theme::ACCENT))));
            out.push(Line::default());
            out.push(Line::from(Span::styled(
                "◌ waiting for the browser…",
                Style::new().fg(theme::WARN),
            )));
            out.push(Line::default());
            out.push(hint(
                "b: open the browser again · Esc: keep working offline",
            ));
        }
        Phase::SignedIn { account, note } => {
            out.push(Line::from(vec![
                Span::styled("✓ Signed in as ", bold(theme::OK)),
                Span::styled(account.clone(), bold(theme::OK)),
            ]));
            if let Some(n) = note {
                out.push(Line::from(Span::styled(
                    n.clone(),
                    Style::new().fg(theme::WARN),
                )));
            }
            out.push(Line::from("Feeds resume now."));
            out.push(Line::default());
            out.push(hint("any key: close"));
        }
        Phase::Failed(f) => {
            let text = match f {
                Failure::Declined => "✕ The sign-in was declined.".to_string(),
                Failure::CodeExpired => "✕ The code expired before anyone signed in.".to_string(),
                Failure::Error(e) => format!("✕ {e}"),
            };
            out.push(Line::from(Span::styled(text, bold(theme::BAD))));
            out.push(Line::default());
            if s.unavailable.is_some() {
                out.push(hint("Esc: close"));
            } else {
                out.push(hint(AGAIN));
            }
        }
    }
    out
}

/// Draws the modal centred in `area` when it is open.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    if !app.signin.open {
        return;
    }
    let body = lines(app);
    // 76 columns, wider when a URL needs it (a wrapped URL is hard to copy), within the screen.
    let longest = body.iter().map(Line::width).max().unwrap_or(0);
    let wanted = u16::try_from(longest + 4).unwrap_or(u16::MAX).max(76);
    let width = area.width.saturating_sub(4).min(wanted);
    // Borders and padding take 4 columns; a long line wraps onto more rows.
    let inner = usize::from(width.saturating_sub(4)).max(1);
    let rows: usize = body.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let title = format!(" Sign in to {} ", app.tenant);
    let block = Block::bordered()
        .title(Line::from(Span::styled(title, theme::title())))
        .border_style(Style::new().fg(theme::ACCENT));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(body)
            .block(block.padding(ratatui::widgets::Padding::horizontal(1)))
            .alignment(Alignment::Left)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Msg;
    use crate::app::signin::SignInMsg;
    use crate::console::test_support::{app, render};

    fn with_code(a: &mut App) {
        a.signin.unavailable = None;
        a.update(Msg::SignIn(SignInMsg::Offer { why: None }));
        let expires_at = a.now + chrono::Duration::seconds(14 * 60 + 59);
        a.update(Msg::SignIn(SignInMsg::Code {
            generation: 1,
            user_code: "SIMCODE42".into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            expires_at,
        }));
    }

    #[test]
    fn device_code_modal_at_80x24() {
        let mut a = app();
        with_code(&mut a);
        let t = render(&mut a, 80, 24);
        insta::assert_snapshot!(t.backend());
    }

    #[test]
    fn browser_modal_at_160x48() {
        let mut a = app();
        a.signin.unavailable = None;
        a.update(Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('l'),
            crossterm::event::KeyModifiers::CONTROL,
        )));
        a.update(Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char('b'),
        )));
        a.update(Msg::SignIn(SignInMsg::Browser {
            generation: 2,
            url: "http://127.0.0.1:50123/contoso.example/oauth2/v2.0/authorize?client_id=c&response_type=code".into(),
            opened: true,
        }));
        let t = render(&mut a, 160, 48);
        insta::assert_snapshot!(t.backend());
    }

    #[test]
    fn countdown_follows_the_clock_and_ends_expired() {
        let mut a = app();
        with_code(&mut a);
        a.update(Msg::Tick(a.now + chrono::Duration::seconds(60)));
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(text.contains("code expires in 13:59"), "{text}");
        a.update(Msg::Tick(a.now + chrono::Duration::seconds(900)));
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(text.contains("code expires in expired"), "{text}");
        assert_eq!(countdown(61), "1:01");
    }

    #[test]
    fn session_loss_says_why_and_outcomes_are_shown() {
        let mut a = app();
        a.signin.unavailable = None;
        a.update(Msg::Session(crate::app::SessionState::Expired {
            reason: "sign-in expired or was revoked (invalid_grant): sign in again".into(),
        }));
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(
            text.contains("Signed out: sign-in expired or was"),
            "{text}"
        );
        assert!(text.contains("Asking for a sign-in code"), "{text}");
        let bar = text.lines().nth(23).unwrap_or_default();
        assert!(bar.contains("signed out — Ctrl-L to sign in"), "{bar}");
        a.update(Msg::SignIn(SignInMsg::Failed {
            generation: 1,
            failure: Failure::Declined,
        }));
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(text.contains("The sign-in was declined."), "{text}");
        assert!(text.contains("Enter: new code"), "{text}");
        a.update(Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Enter,
        )));
        a.update(Msg::SignIn(SignInMsg::Done {
            generation: 2,
            account: "lead@contoso.example".into(),
            note: Some("no OS credential store is available".into()),
        }));
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(
            text.contains("✓ Signed in as lead@contoso.example"),
            "{text}"
        );
        assert!(text.contains("no OS credential store"), "{text}");
    }

    #[test]
    fn closed_modal_draws_nothing() {
        let mut a = app();
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(!text.contains("Sign in to"), "{text}");
    }
}

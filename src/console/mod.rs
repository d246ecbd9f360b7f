//! The view: functions of `&App`, no mutation. Tabs on top, the focused pane, the status bar,
//! overlays in z-order, and a notice when the terminal is too small.

pub(crate) mod devices;
pub(crate) mod doctor;
pub(crate) mod footer;
pub(crate) mod help;
pub(crate) mod intake;
pub(crate) mod paste;
pub(crate) mod review;
pub(crate) mod signin;
pub(crate) mod status;
pub(crate) mod theme;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::app::tabs::{DIVIDER, TABS};
use crate::app::{App, ConnState, LoadState, MIN_HEIGHT, MIN_WIDTH, Overlay, Pane, SessionState};

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area);
        return;
    }
    let [tabs, body, hints, bar] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(frame, app, tabs);
    match app.focus {
        Pane::Intake => intake::draw(frame, app, body),
        Pane::Status => {
            status::draw(frame, app, body);
            devices::modal::draw(frame, app, body);
        }
        Pane::Review => review::draw(frame, app, body),
    }
    footer::draw(frame, app, hints);
    draw_status_bar(frame, app, bar);
    match app.overlay {
        Some(Overlay::Help) => help::draw(frame, app, body),
        Some(Overlay::Doctor) => doctor::draw(frame, app, body),
        Some(Overlay::PasteReport) => paste::draw(frame, app, body),
        None => {}
    }
    signin::draw(frame, app, body);
}

fn draw_too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from(Span::styled("terminal too small", theme::title())),
        Line::from(format!(
            "{}x{} — stagehand needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::from(Span::styled(
            "enlarge the window; Ctrl-C quits",
            theme::dim(),
        )),
    ];
    let y = area.y + area.height.saturating_sub(3) / 2;
    let rect = Rect {
        y,
        height: 3.min(area.height),
        ..area
    };
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}

fn draw_tabs(frame: &mut Frame, app: &App, area: Rect) {
    let mut spans = Vec::new();
    for (i, (pane, label)) in TABS.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(DIVIDER, theme::dim()));
        }
        if *pane == app.focus {
            // A marker as well as colour and reverse video, so NO_COLOR still shows the tab.
            let marked = format!("▶{}", &label[1..]);
            spans.push(Span::styled(marked, theme::tab_active()));
        } else {
            spans.push(Span::styled(*label, theme::tab_idle()));
        }
    }
    frame.render_widget(Line::from(spans), area);
    let brand = if app.demo {
        "stagehand · DEMO TENANT "
    } else {
        "stagehand "
    };
    frame.render_widget(
        Line::from(Span::styled(brand, theme::title())).alignment(Alignment::Right),
        area,
    );
}

fn draw_status_bar(frame: &mut Frame, app: &App, area: Rect) {
    let sep = || Span::raw(" │ ");
    let session = match &app.session {
        // Signed out or lost: the key to sign in again (the reason is in the sign-in modal).
        SessionState::SignedOut | SessionState::Expired { .. } => {
            let color = if matches!(app.session, SessionState::SignedOut) {
                theme::WARN
            } else {
                theme::BAD
            };
            let text = if app.signin.unavailable.is_some() {
                "signed out"
            } else {
                signin::SIGNED_OUT_HINT
            };
            Span::styled(text, ratatui::style::Style::new().fg(color))
        }
        SessionState::SignedIn { account } => Span::raw(account.clone()),
    };
    let conn = match &app.conn {
        ConnState::Idle => Span::styled("○ idle", theme::dim()),
        ConnState::Online => Span::styled("● online", ratatui::style::Style::new().fg(theme::OK)),
        ConnState::Throttled { until } => {
            let secs = (*until - app.now).num_seconds().max(0);
            Span::styled(
                format!("◐ throttled, retrying in {secs} s"),
                ratatui::style::Style::new().fg(theme::WARN),
            )
        }
        ConnState::Offline(reason) => Span::styled(
            format!("✕ offline: {reason}"),
            ratatui::style::Style::new().fg(theme::BAD),
        ),
        // The gate holds every request; the session part says how to sign in.
        ConnState::SignedOut => Span::styled(
            "✕ offline: paused",
            ratatui::style::Style::new().fg(theme::BAD),
        ),
    };
    let queue = format!(
        "queue {} · saving {}",
        app.intake.queue.len(),
        app.intake.pending.len()
    );
    let mut spans = vec![
        Span::raw(" "),
        Span::raw(short_tenant(&app.tenant, area.width)),
        sep(),
        conn,
        sep(),
        Span::raw(queue),
        sep(),
        session,
    ];
    if let Some(notices) = status::notices::status_bar_span(app) {
        spans.push(sep());
        spans.push(notices);
    }
    if let Some(last) = app.failed_tasks.last() {
        spans.push(sep());
        spans.push(Span::styled(
            format!("✕ {last}"),
            ratatui::style::Style::new().fg(theme::BAD),
        ));
    }
    let line = Line::from(spans);
    frame.render_widget(Paragraph::new(line).style(theme::status_bar()), area);
}

/// The tenant as the status bar shows it: whole when the bar is wide, else its name (the part
/// before the first dot of a domain) or the first 8 characters of its id, so the connection and
/// queue state always fit at 80 columns.
pub fn short_tenant(tenant: &str, width: u16) -> String {
    if width >= 120 || tenant.chars().count() <= 12 {
        return tenant.to_string();
    }
    let (name, rest) = tenant.split_once(' ').unwrap_or((tenant, ""));
    let short = match name.split_once('.') {
        Some((head, _)) if !head.is_empty() => head.to_string(),
        _ => name.chars().take(8).collect::<String>() + "…",
    };
    if rest.is_empty() {
        short
    } else {
        format!("{short} {rest}")
    }
}

/// A pane's block with its load state in the title.
pub fn pane_block<'a>(title: &'a str, load: &LoadState, app: &App) -> Block<'a> {
    pane_block_since(title, load, None, app)
}

/// [`pane_block`] for a pane that remembers when its data last arrived: offline (or signed
/// out) it says what it shows — "offline: showing the last data from 09:14" — rather than
/// "loading…" that never ends.
pub fn pane_block_since<'a>(
    title: &'a str,
    load: &LoadState,
    last: Option<chrono::DateTime<chrono::Utc>>,
    app: &App,
) -> Block<'a> {
    let cut_off = matches!(app.conn, ConnState::Offline(_) | ConnState::SignedOut)
        || matches!(app.session, SessionState::Expired { .. });
    if cut_off && matches!(load, LoadState::Loading | LoadState::Failed(_)) {
        let text = match last {
            Some(at) => format!(
                " · offline: showing the last data from {} ",
                at.with_timezone(&chrono::Local).format("%H:%M")
            ),
            None => " · offline: no data yet ".to_string(),
        };
        return Block::bordered().title(Line::from(vec![
            Span::styled(format!(" {title} "), theme::title()),
            Span::styled(text, ratatui::style::Style::new().fg(theme::WARN)),
        ]));
    }
    let state = match load {
        LoadState::Idle => Span::styled(" · not watching (sign in to a tenant) ", theme::dim()),
        LoadState::Loading => {
            Span::styled(" · loading… ", ratatui::style::Style::new().fg(theme::WARN))
        }
        LoadState::Ready { at } => {
            let ago = (app.now - *at).num_seconds().max(0);
            Span::styled(format!(" · updated {ago} s ago "), theme::dim())
        }
        LoadState::Failed(reason) => Span::styled(
            format!(" · failed: {reason} "),
            ratatui::style::Style::new().fg(theme::BAD),
        ),
    };
    Block::bordered().title(Line::from(vec![
        Span::styled(format!(" {title} "), theme::title()),
        state,
    ]))
}

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::DateTime;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::app::App;
    use crate::config::Config;

    pub fn app() -> App {
        let now = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc();
        let mut cfg = Config::default();
        cfg.tenant.id = Some("contoso.example".into());
        App::new(cfg, now)
    }

    pub fn render(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
        app.update(crate::app::Msg::Resize { width, height });
        app.settle();
        let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
        t.draw(|f| super::draw(f, app)).unwrap();
        t
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{app, render};
    use crate::app::{ConnState, Msg};

    #[test]
    fn too_small_shows_a_notice() {
        let mut a = app();
        let t = render(&mut a, 60, 20);
        insta::assert_snapshot!(t.backend());
    }

    #[test]
    fn tenant_is_shortened_to_its_name_or_eight_characters() {
        use super::short_tenant;
        assert_eq!(short_tenant("contoso.onmicrosoft.com", 80), "contoso");
        assert_eq!(
            short_tenant("0f8fad5b-d9cb-469f-a165-70867728950e", 80),
            "0f8fad5b…"
        );
        assert_eq!(
            short_tenant("0f8fad5b-d9cb-469f-a165-70867728950e (simulated)", 80),
            "0f8fad5b… (simulated)"
        );
        assert_eq!(
            short_tenant("contoso.onmicrosoft.com", 160),
            "contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn status_bar_keeps_connection_and_queue_at_80_columns() {
        let mut a = app();
        a.tenant = "0f8fad5b-d9cb-469f-a165-70867728950e".into();
        a.session = crate::app::SessionState::SignedIn {
            account: "technician.one@contoso.onmicrosoft.com".into(),
        };
        a.update(Msg::Conn(ConnState::Online));
        let t = render(&mut a, 80, 24);
        let text = format!("{}", t.backend());
        let bar = text.lines().nth(23).unwrap();
        assert!(bar.contains("online") && bar.contains("queue 0"), "{bar}");
    }

    #[test]
    fn status_bar_shows_throttling_countdown() {
        let mut a = app();
        a.update(Msg::Conn(ConnState::Throttled {
            until: a.now + chrono::Duration::seconds(3),
        }));
        let t = render(&mut a, 80, 24);
        let text = format!("{}", t.backend());
        assert!(text.contains("throttled, retrying in 3 s"), "{text}");
    }
}

//! The doctor overlay (F9): one line per check with its verdict, and the fix under each one that
//! is not a pass. The full evidence is in `stagehand doctor`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::theme;
use crate::app::App;
use crate::doctor::{CheckResult, Status};

fn badge(s: Status) -> Span<'static> {
    let color = match s {
        Status::Pass => theme::OK,
        Status::Warn => theme::WARN,
        Status::Fail => theme::BAD,
        Status::NotApplicable => theme::DIM,
    };
    Span::styled(format!(" {} ", s.label()), Style::new().fg(color))
}

/// The overlay's lines, before scrolling.
pub fn lines(results: Option<&[CheckResult]>) -> Vec<Line<'static>> {
    let Some(results) = results else {
        return vec![
            Line::from("Checks have not run: they start when the console connects to a tenant."),
            Line::from(Span::styled(
                "From a shell: stagehand doctor (--json for scripts).",
                theme::dim(),
            )),
        ];
    };
    let mut out = Vec::new();
    let count = |st| results.iter().filter(|r| r.status == st).count();
    out.push(Line::from(format!(
        "{} passed · {} warnings · {} failed",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail)
    )));
    for r in results {
        let subject = r
            .subject
            .as_deref()
            .map(|s| format!(" · {s}"))
            .unwrap_or_default();
        out.push(Line::from(vec![
            badge(r.status),
            Span::raw(format!(" {}{subject}", r.title)),
        ]));
        if let Some(fix) = &r.fix {
            out.push(Line::from(Span::styled(
                format!("       fix: {fix}"),
                theme::dim(),
            )));
        }
    }
    out
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let all = lines(app.doctor.as_deref());
    let width = area.width.saturating_sub(4).min(120);
    let height = (all.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let visible = usize::from(height.saturating_sub(2));
    let top = app.doctor_scroll.min(all.len().saturating_sub(visible));
    let more = all.len().saturating_sub(top + visible);
    let hint = if more > 0 {
        format!(" ↓ {more} more · ↑↓ scroll · any key closes ")
    } else {
        " ↑↓ scroll · any key closes ".to_string()
    };
    let body: Vec<Line> = all.into_iter().skip(top).take(visible).collect();
    let p = Paragraph::new(body).block(
        Block::bordered()
            .title(Span::styled(" Tenant readiness ", theme::title()))
            .title_bottom(Line::from(Span::styled(hint, theme::dim()))),
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(p, rect);
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use crate::app::{Msg, Overlay};
    use crate::console::test_support::{app, render};
    use crate::doctor::{CheckResult, ids};

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn results() -> Vec<CheckResult> {
        vec![
            CheckResult::new(
                ids::PROVISIONING_CLIENT,
                "Intune Provisioning Client service principal",
            )
            .saw("GET servicePrincipals: none")
            .fail("New-MgServicePrincipal -AppId f1346770-5b25-470b-88bd-d5744ab7952c"),
            CheckResult::new(
                ids::DEVICE_PREPARATION,
                "Device Preparation policy and its device group",
            )
            .saw("policy")
            .pass(),
            CheckResult::new(
                ids::STAGING_CA,
                "Conditional Access confines the staging account",
            )
            .subject("staging@contoso.example")
            .saw("report-only")
            .warn("turn it On"),
            CheckResult::new(
                ids::DEM_AUTOPILOT,
                "Device enrollment manager accounts and Autopilot",
            )
            .saw("x")
            .warn("stage one pilot device end to end before a full pallet"),
        ]
    }

    #[test]
    fn f9_opens_the_overlay_with_each_verdict_at_80x24() {
        let mut a = app();
        a.update(Msg::Doctor(results()));
        a.update(key(KeyCode::F(9)));
        assert_eq!(a.overlay, Some(Overlay::Doctor));
        let t = render(&mut a, 80, 24);
        insta::assert_snapshot!(t.backend());
        a.update(key(KeyCode::F(9)));
        assert_eq!(a.overlay, None, "F9 again closes");
    }

    #[test]
    fn before_the_checks_ran_it_says_so_and_arrows_scroll() {
        let mut a = app();
        a.update(key(KeyCode::F(9)));
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(text.contains("Checks have not run"), "{text}");
        let many: Vec<CheckResult> = (0..30)
            .map(|i| {
                CheckResult::new(ids::PERMISSIONS, format!("check number {i}"))
                    .saw("x")
                    .pass()
            })
            .collect();
        a.update(Msg::Doctor(many));
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(
            text.contains("check number 0 ") && text.contains("more"),
            "{text}"
        );
        for _ in 0..5 {
            a.update(key(KeyCode::Down));
        }
        assert_eq!(a.overlay, Some(Overlay::Doctor), "arrows do not close");
        let text = format!("{}", render(&mut a, 80, 24).backend());
        assert!(
            !text.contains("check number 0 ") && text.contains("check number 5 "),
            "{text}"
        );
        a.update(key(KeyCode::Esc));
        assert_eq!(a.overlay, None);
    }
}

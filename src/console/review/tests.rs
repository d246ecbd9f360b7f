//! Snapshots of the review pane at 80x24 and 160x48, with its overlays.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::review::tests::loaded;
use crate::app::{App, Msg, Pane};
use crate::console::test_support::{app, render};

fn review() -> App {
    let mut a = app();
    a.focus = Pane::Review;
    a.update(Msg::Review(loaded(1)));
    a
}

fn press(a: &mut App, code: KeyCode) {
    a.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn snap(name: &str, a: &mut App) {
    for (w, h) in [(80, 24), (160, 48)] {
        let t = render(a, w, h);
        insta::with_settings!({ snapshot_suffix => format!("{w}x{h}") }, {
            insta::assert_snapshot!(name, t.backend());
        });
    }
}

#[test]
fn idle_review() {
    let mut a = app();
    a.focus = Pane::Review;
    snap("idle_review", &mut a);
}

#[test]
fn candidates_with_every_verdict() {
    let mut a = review();
    press(&mut a, KeyCode::Char(' '));
    snap("candidates", &mut a);
}

#[test]
fn confirm_summary() {
    let mut a = review();
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Char('a'));
    snap("confirm", &mut a);
}

#[test]
fn history_overlay() {
    let mut a = review();
    press(&mut a, KeyCode::Enter);
    snap("history", &mut a);
}

#[test]
fn picker_overlay() {
    let mut a = review();
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Char('e'));
    press(&mut a, KeyCode::Down);
    snap("picker", &mut a);
}

#[test]
fn applying_rows_show_their_state() {
    let mut a = review();
    press(&mut a, KeyCode::Char('a'));
    press(&mut a, KeyCode::Char('y'));
    a.update(Msg::Review(crate::app::review::ReviewMsg::Progress {
        device_id: "dev-1".into(),
        state: crate::review::ApplyState::Confirming {
            since: crate::app::review::tests::t(48),
        },
    }));
    let t = render(&mut a, 160, 48);
    let text = format!("{}", t.backend());
    assert!(text.contains("applied, confirming"), "{text}");
}

#[test]
fn blocked_rows_are_red_and_the_selection_is_highlighted() {
    let mut a = review();
    let t = render(&mut a, 160, 48);
    let buf = t.backend().buffer();
    // Rows start at y=3 (tabs, border, header); dev-1 is selected, dev-4 (blocked) is the 4th.
    let row_text =
        |y: u16| -> String { (0..160).map(|x| buf[(x, y)].symbol().to_string()).collect() };
    assert!(row_text(3).contains("BENCH-PC-01"));
    assert!(
        buf[(5, 3)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
    assert!(row_text(6).contains("BENCH-PC-04"));
    let verdict_x = row_text(6).find("blocked").unwrap() as u16;
    assert_eq!(buf[(verdict_x, 6)].fg, crate::console::theme::BAD);
    assert!(
        !buf[(5, 6)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
}

#[test]
fn the_confirmation_lists_every_change_whole_and_scrolls() {
    use crate::app::review::tests::candidate;
    let mut a = app();
    a.focus = Pane::Review;
    let candidates = (1..=30).map(|n| candidate(n, &[("ana", 30)])).collect();
    a.update(Msg::Review(crate::app::review::ReviewMsg::Loaded {
        generation: 1,
        at: crate::app::review::tests::t(48),
        candidates,
    }));
    press(&mut a, KeyCode::Char('A'));
    press(&mut a, KeyCode::Char('a'));
    let text = format!("{}", render(&mut a, 80, 24).backend());
    assert!(text.contains("Apply 30 changes?"), "{text}");
    assert!(text.contains("of 30 · ↑↓ PgUp PgDn scroll"), "{text}");
    assert!(!text.contains("more"), "nothing folded away: {text}");
    assert!(text.contains("Ana Diaz <ana.diaz@contoso.com>"), "{text}");
    press(&mut a, KeyCode::End);
    let text = format!("{}", render(&mut a, 80, 24).backend());
    assert!(text.contains("BENCH-PC-30  5CG0030XYZ"), "{text}");
    assert!(text.contains("30 of 30"), "{text}");
    // Still the question: scrolling wrote nothing.
    assert!(a.review.modal.is_some());
}

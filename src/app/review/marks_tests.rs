//! Marks, the cursor, undo, the rejected view, filters, counts, freshness and frozen approvals.

use chrono::Duration;
use crossterm::event::KeyCode;

use super::tests::{candidate, ch, key, loaded, review_app, t, visible_ids};
use super::*;
use crate::app::{App, Msg};

fn type_filter(a: &mut App, text: &str) {
    ch(a, '/');
    for c in text.chars() {
        ch(a, c);
    }
    key(a, KeyCode::Enter);
}

fn select(a: &mut App, id: &str) {
    a.review.list.home();
    while a.review.list.selected_key().map(String::as_str) != Some(id) {
        key(a, KeyCode::Down);
    }
}

fn rejected_ids(cmds: &[Cmd]) -> Vec<String> {
    match cmds {
        [Cmd::Review(ReviewCmd::Reject(r))] => r.iter().map(|r| r.device_id.clone()).collect(),
        other => panic!("{other:?}"),
    }
}

fn saved(a: &mut App, ids: &[&str]) {
    a.update(Msg::Review(ReviewMsg::RejectSaved {
        device_ids: ids.iter().map(|s| s.to_string()).collect(),
        result: Ok(()),
        audit_error: None,
        by: "lead@contoso.com".into(),
        at: t(48),
    }));
}

#[test]
fn reject_with_no_marks_acts_on_the_cursor_row_only() {
    let mut a = review_app();
    select(&mut a, "dev-2");
    let cmds = ch(&mut a, 'r');
    assert_eq!(rejected_ids(&cmds), ["dev-2"], "no question without marks");
    assert_eq!(a.review.modal, None);
    assert_eq!(visible_ids(&a), ["dev-1", "dev-3", "dev-4"]);
}

#[test]
fn with_marks_reject_asks_and_acts_on_the_marked_rows_not_the_cursor() {
    let mut a = review_app();
    ch(&mut a, ' '); // dev-1
    ch(&mut a, ' '); // dev-2; the cursor is now on dev-3
    assert!(ch(&mut a, 'r').is_empty(), "asks first");
    let Some(ReviewModal::Reject {
        device_ids,
        hidden: 0,
        ..
    }) = &a.review.modal
    else {
        panic!("{:?}", a.review.modal)
    };
    assert_eq!(device_ids, &["dev-1", "dev-2"]);
    let cmds = ch(&mut a, 'y');
    assert_eq!(rejected_ids(&cmds), ["dev-1", "dev-2"]);
    assert_eq!(visible_ids(&a), ["dev-3", "dev-4"]);
    // n cancels: nothing rejected.
    ch(&mut a, ' ');
    ch(&mut a, 'r');
    assert!(ch(&mut a, 'n').is_empty());
    assert_eq!(a.review.notice.as_deref(), Some("nothing rejected"));
}

#[test]
fn marked_rows_hidden_by_a_filter_are_not_applied_and_the_confirmation_says_so() {
    let mut a = review_app();
    ch(&mut a, ' '); // dev-1 (propose)
    ch(&mut a, ' '); // dev-2 (ambiguous)
    type_filter(&mut a, "ambiguous");
    assert_eq!(visible_ids(&a), ["dev-2"]);
    assert_eq!(a.review.marks_hidden(), 1);
    ch(&mut a, 'a');
    let Some(ReviewModal::Confirm {
        approvals, hidden, ..
    }) = &a.review.modal
    else {
        panic!("{:?}", a.review.modal)
    };
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].job.device_id, "dev-2");
    assert_eq!(*hidden, 1);
    let text = crate::console::test_support::render(&mut a, 120, 36);
    let text = format!("{}", text.backend());
    assert!(
        text.contains("1 marked row is hidden by the filter: not included."),
        "{text}"
    );
    let cmds = ch(&mut a, 'y');
    let [Cmd::Review(ReviewCmd::Apply(jobs))] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].device_id, "dev-2");
    assert_eq!(
        a.review.row("dev-1").unwrap().apply,
        None,
        "hidden: not applied"
    );
}

#[test]
fn when_every_marked_row_is_hidden_nothing_happens_and_the_pane_says_why() {
    let mut a = review_app();
    ch(&mut a, ' '); // dev-1
    type_filter(&mut a, "blocked");
    assert!(ch(&mut a, 'a').is_empty());
    assert_eq!(a.review.modal, None);
    let n = a.review.notice.clone().unwrap();
    assert!(n.contains("hidden by the filter"), "{n}");
    assert!(ch(&mut a, 'r').is_empty());
    assert_eq!(a.review.modal, None);
    // Nothing visible at all: `a` says so instead of doing nothing silently.
    let mut b = review_app();
    type_filter(&mut b, "zzz");
    assert!(ch(&mut b, 'a').is_empty());
    assert_eq!(
        b.review.notice.as_deref(),
        Some("nothing to approve: no rows match 'zzz' (4 candidates)")
    );
}

#[test]
fn undo_restores_the_last_rejections_and_asks_the_feed_to_lift_them() {
    let mut a = review_app();
    let fp = a.review.row("dev-1").unwrap().fingerprint.clone();
    ch(&mut a, 'r');
    saved(&mut a, &["dev-1"]);
    select(&mut a, "dev-3");
    ch(&mut a, 'r');
    saved(&mut a, &["dev-3"]);
    assert_eq!(visible_ids(&a), ["dev-2", "dev-4"]);
    // Newest first: dev-3, then dev-1.
    let cmds = ch(&mut a, 'u');
    assert_eq!(visible_ids(&a), ["dev-2", "dev-3", "dev-4"]);
    let cmds2 = ch(&mut a, 'u');
    assert_eq!(visible_ids(&a), ["dev-1", "dev-2", "dev-3", "dev-4"]);
    let [Cmd::Review(ReviewCmd::Lift(l))] = cmds2.as_slice() else {
        panic!("{cmds2:?}")
    };
    assert_eq!(
        l[0],
        Lift {
            device_id: "dev-1".into(),
            serial: "5CG0001XYZ".into(),
            fingerprint: fp,
            from_upn: Some("stage@contoso.com".into()),
            proposed_upn: Some("ana.diaz@contoso.com".into()),
            rejected_by: Some("lead@contoso.com".into()),
        }
    );
    assert!(matches!(cmds.as_slice(), [Cmd::Review(ReviewCmd::Lift(_))]));
    assert!(ch(&mut a, 'u').is_empty());
    assert!(
        a.review
            .notice
            .as_deref()
            .unwrap()
            .contains("nothing to undo")
    );
    // A lifting that was not saved hides the row again.
    a.update(Msg::Review(ReviewMsg::LiftSaved {
        device_ids: vec!["dev-1".into()],
        result: Err("disk full".into()),
        audit_error: None,
    }));
    assert_eq!(visible_ids(&a), ["dev-2", "dev-3", "dev-4"]);
    assert!(a.review.notice.as_deref().unwrap().contains("disk full"));
}

#[test]
fn the_rejected_view_lists_who_and_when_and_lifts_after_asking() {
    let mut a = review_app();
    ch(&mut a, 'r');
    saved(&mut a, &["dev-1"]);
    ch(&mut a, 'v');
    assert_eq!(a.review.view, ReviewView::Rejected);
    assert_eq!(
        a.review.rejected_list.selected_key().map(String::as_str),
        Some("dev-1")
    );
    let text = format!(
        "{}",
        crate::console::test_support::render(&mut a, 120, 36).backend()
    );
    assert!(text.contains("lead@contoso.com"), "{text}");
    assert!(text.contains("ana.diaz@contoso.com"), "{text}");
    // `a` and `r` do nothing here.
    assert!(ch(&mut a, 'a').is_empty());
    assert!(ch(&mut a, 'u').is_empty(), "asks first");
    assert!(matches!(a.review.modal, Some(ReviewModal::Lift { .. })));
    let cmds = ch(&mut a, 'y');
    assert!(
        matches!(cmds.as_slice(), [Cmd::Review(ReviewCmd::Lift(l))] if l[0].device_id == "dev-1")
    );
    assert_eq!(
        a.review.view,
        ReviewView::Candidates,
        "nothing left to list"
    );
    assert_eq!(visible_ids(&a), ["dev-1", "dev-2", "dev-3", "dev-4"]);
}

#[test]
fn esc_clears_a_kept_filter_then_the_marks() {
    let mut a = review_app();
    ch(&mut a, ' ');
    type_filter(&mut a, "blocked");
    assert_eq!(visible_ids(&a), ["dev-4"]);
    key(&mut a, KeyCode::Esc);
    assert_eq!(visible_ids(&a).len(), 4);
    assert_eq!(a.review.filter.text, "");
    assert_eq!(a.review.marks.len(), 1, "the first Esc keeps the marks");
    key(&mut a, KeyCode::Esc);
    assert!(a.review.marks.is_empty());
}

#[test]
fn an_empty_result_names_the_filter_and_the_candidates() {
    let mut a = review_app();
    type_filter(&mut a, "qq");
    assert_eq!(
        a.review.empty_message().as_deref(),
        Some("no rows match 'qq' (4 candidates)")
    );
    let text = format!(
        "{}",
        crate::console::test_support::render(&mut a, 120, 36).backend()
    );
    assert!(text.contains("no rows match 'qq' (4 candidates)"), "{text}");
    assert!(!text.contains("No device lists"), "{text}");
}

#[test]
fn verdict_counts_proposals_first_and_a_key_marks_every_proposal() {
    let mut a = review_app();
    let mut msg = loaded(2);
    if let ReviewMsg::Loaded { candidates, .. } = &mut msg {
        candidates.reverse();
        candidates.push(candidate(5, &[("bo", 30)]));
    }
    a.update(Msg::Review(msg));
    assert_eq!(
        a.review.counts,
        VerdictCounts {
            propose: 2,
            waiting: 1,
            ambiguous: 1,
            blocked: 1,
            confirmed: 0
        }
    );
    let words: Vec<_> = a.review.rows.iter().map(ReviewRow::verdict_word).collect();
    assert_eq!(
        words,
        ["propose", "propose", "ambiguous", "waiting", "blocked"]
    );
    let text = format!(
        "{}",
        crate::console::test_support::render(&mut a, 120, 36).backend()
    );
    assert!(
        text.contains("propose 2 · waiting 1 · ambiguous 1 · blocked 1"),
        "{text}"
    );
    ch(&mut a, 'A');
    let marks: Vec<&str> = a.review.marks.iter().map(String::as_str).collect();
    assert_eq!(marks, ["dev-1", "dev-5"]);
    ch(&mut a, 'a');
    let Some(ReviewModal::Confirm { approvals, .. }) = &a.review.modal else {
        panic!()
    };
    assert_eq!(approvals.len(), 2);
}

#[test]
fn the_console_writes_what_was_approved_not_what_the_row_says_now() {
    let mut a = review_app();
    ch(&mut a, ' '); // dev-1: Ana
    ch(&mut a, ' '); // dev-2: Ana (ambiguous)
    ch(&mut a, 'a');
    // While the question is open, a refresh: Bo signed in on dev-1 after Ana.
    let mut msg = loaded(2);
    if let ReviewMsg::Loaded { candidates, .. } = &mut msg {
        candidates[0] = candidate(1, &[("ana", 30), ("s1", 40), ("bo", 46)]);
    }
    a.update(Msg::Review(msg));
    assert!(a.review.modal.is_some(), "the question stays open");
    let text = format!(
        "{}",
        crate::console::test_support::render(&mut a, 120, 36).backend()
    );
    assert!(text.contains(DRIFTED), "the drift shows before y: {text}");
    let cmds = ch(&mut a, 'y');
    let [Cmd::Review(ReviewCmd::Apply(jobs))] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let written: Vec<(&str, &str)> = jobs
        .iter()
        .map(|j| (j.device_id.as_str(), j.to.upn.as_str()))
        .collect();
    assert_eq!(written, [("dev-2", "ana.diaz@contoso.com")]);
    let row = a.review.row("dev-1").unwrap();
    assert_eq!(row.apply, None, "nothing written for dev-1");
    assert!(row.drifted);
    assert_eq!(text::reason(row), DRIFTED);
    let notice = a.review.notice.clone().unwrap();
    assert!(
        notice.contains("1 not written") && notice.contains("BENCH-PC-01"),
        "{notice}"
    );
    // Re-reviewing: approving again freezes the new proposal and clears the mark.
    select(&mut a, "dev-1");
    ch(&mut a, 'a');
    let cmds = ch(&mut a, 'y');
    let [Cmd::Review(ReviewCmd::Apply(jobs))] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(jobs[0].to.upn, "bo.li@contoso.com");
    assert!(!a.review.row("dev-1").unwrap().drifted);
}

#[test]
fn a_refresh_with_the_same_data_writes_the_frozen_approval() {
    let mut a = review_app();
    ch(&mut a, 'a');
    a.update(Msg::Review(loaded(2)));
    let cmds = ch(&mut a, 'y');
    assert!(matches!(cmds.as_slice(), [Cmd::Review(ReviewCmd::Apply(j))] if j.len() == 1));
}

#[test]
fn opening_the_pane_refreshes_data_older_than_the_interval() {
    let mut a = review_app();
    a.focus = crate::app::Pane::Status;
    a.now = t(48) + Duration::seconds(30);
    assert!(key(&mut a, KeyCode::F(4)).is_empty(), "fresh enough");
    key(&mut a, KeyCode::F(3));
    a.now = t(48) + Duration::minutes(3);
    assert_eq!(
        key(&mut a, KeyCode::F(4)),
        vec![Cmd::Review(ReviewCmd::Refresh)]
    );
    // Already open: no refresh on every F4.
    assert!(key(&mut a, KeyCode::F(4)).is_empty());
}

#[test]
fn confirmed_rows_stay_as_confirmed_after_the_device_leaves_the_candidates() {
    let mut a = review_app();
    ch(&mut a, 'a');
    ch(&mut a, 'y');
    a.update(Msg::Review(ReviewMsg::Progress {
        device_id: "dev-1".into(),
        state: ApplyState::Confirmed { at: t(49) },
    }));
    let mut msg = loaded(2);
    if let ReviewMsg::Loaded { candidates, .. } = &mut msg {
        candidates.remove(0);
    }
    a.update(Msg::Review(msg));
    assert!(matches!(
        a.review.row("dev-1").unwrap().apply,
        Some(ApplyState::Confirmed { .. })
    ));
    assert_eq!(a.review.counts.confirmed, 1);
    assert_eq!(a.review.counts.propose, 0);
    assert_eq!(visible_ids(&a).last().map(String::as_str), Some("dev-1"));
}

#[test]
fn the_export_has_exactly_the_visible_rows() {
    let mut a = review_app();
    type_filter(&mut a, "ana");
    let cmds = ch(&mut a, 'E');
    let [Cmd::Export(table)] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let serials: Vec<&str> = table.rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(serials, ["5CG0001XYZ", "5CG0002XYZ"]);
    assert_eq!(table.columns[4], "Proposed UPN");
    assert_eq!(table.rows[0][4], "ana.diaz@contoso.com");
}

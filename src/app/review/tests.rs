//! State tests: build candidates with the real rules, feed messages and keys, assert rows and Cmds.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::{App, Msg, Pane};
use crate::config::{Config, StagingConfig};
use crate::review::{DeviceFacts, Join, PlanFact, Rules, SignIn, UserFacts, UserLookup};

pub(crate) fn t(h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap() + Duration::hours(h)
}

fn user(id: &str, upn: &str, name: &str, enabled: bool) -> (String, UserLookup) {
    (
        id.into(),
        UserLookup::Found(UserFacts {
            person: Person {
                id: id.into(),
                upn: upn.into(),
                display_name: name.into(),
            },
            enabled,
            plans: vec![PlanFact {
                name: Some("INTUNE_A".into()),
                id: None,
                active: true,
            }],
        }),
    )
}

fn directory() -> BTreeMap<String, UserLookup> {
    [
        user("s1", "stage@contoso.com", "Staging Bench 1", true),
        user("ana", "ana.diaz@contoso.com", "Ana Diaz", true),
        user("bo", "bo.li@contoso.com", "Bo Li", true),
        user("cy", "cy.ng@contoso.com", "Cy Ng", false),
    ]
    .into_iter()
    .collect()
}

/// A candidate on device `n` whose history is `signins` (user id, hour); primary is the staging
/// account.
pub(crate) fn candidate(n: u32, signins: &[(&str, i64)]) -> Proposal {
    let dir = directory();
    let staging = StagingConfig {
        accounts: vec!["stage@contoso.com".into()],
    };
    let plans = vec!["INTUNE_A".to_string()];
    let rules = Rules {
        staging: &staging,
        window: Duration::hours(24),
        intune_plans: &plans,
    };
    let device = DeviceFacts {
        id: format!("dev-{n}"),
        name: format!("BENCH-PC-{n:02}"),
        serial: format!("5CG{n:04}XYZ"),
        operating_system: "Windows".into(),
        join: Join::EntraJoined,
    };
    let signins: Vec<SignIn> = signins
        .iter()
        .map(|(u, h)| SignIn {
            user_id: (*u).into(),
            at: t(*h),
        })
        .collect();
    let primary = match &dir["s1"] {
        UserLookup::Found(u) => u.person.clone(),
        UserLookup::NotFound => unreachable!(),
    };
    crate::review::propose(device, &primary, &signins, &dir, &rules).unwrap()
}

/// Four rows: 1 propose (Ana), 2 ambiguous (Ana, Bo 5 h before), 3 waiting, 4 blocked (Cy disabled).
pub(crate) fn loaded(generation: u64) -> ReviewMsg {
    ReviewMsg::Loaded {
        generation,
        at: t(48),
        candidates: vec![
            candidate(1, &[("ana", 30), ("s1", 40)]),
            candidate(2, &[("ana", 30), ("bo", 25)]),
            candidate(3, &[("s1", 2)]),
            candidate(4, &[("cy", 33)]),
        ],
    }
}

pub(crate) fn review_app() -> App {
    let mut a = App::new(Config::default(), t(48));
    a.focus = Pane::Review;
    a.update(Msg::Resize {
        width: 120,
        height: 30,
    });
    a.update(Msg::Review(loaded(1)));
    a
}

pub(super) fn key(a: &mut App, code: KeyCode) -> Vec<Cmd> {
    a.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub(super) fn ch(a: &mut App, c: char) -> Vec<Cmd> {
    key(a, KeyCode::Char(c))
}

pub(super) fn visible_ids(a: &App) -> Vec<String> {
    a.review
        .list
        .visible()
        .iter()
        .map(|&i| a.review.rows[i].candidate.device.id.clone())
        .collect()
}

#[test]
fn rows_arrive_with_verdicts() {
    let a = review_app();
    let words: Vec<_> = a.review.rows.iter().map(ReviewRow::verdict_word).collect();
    assert_eq!(words, ["propose", "ambiguous", "waiting", "blocked"]);
    assert_eq!(
        a.review.list.selected_key().map(String::as_str),
        Some("dev-1")
    );
    assert!(matches!(a.review.load, LoadState::Ready { .. }));
}

#[test]
fn approving_opens_the_summary_and_writes_nothing_until_confirmed() {
    let mut a = review_app();
    assert!(ch(&mut a, ' ').is_empty()); // mark dev-1, cursor moves to dev-2
    assert!(ch(&mut a, ' ').is_empty()); // mark dev-2
    ch(&mut a, ' '); // mark dev-3 (waiting)
    let cmds = ch(&mut a, 'a');
    assert!(cmds.is_empty(), "approve alone writes nothing: {cmds:?}");
    let Some(ReviewModal::Confirm {
        approvals,
        hidden: 0,
        skipped: 1,
        scroll: 0,
    }) = &a.review.modal
    else {
        panic!("{:?}", a.review.modal)
    };
    let ids: Vec<&str> = approvals.iter().map(|x| x.job.device_id.as_str()).collect();
    assert_eq!(ids, ["dev-1", "dev-2"]);
    // Other keys do not confirm.
    assert!(ch(&mut a, 'a').is_empty());
    assert!(a.review.modal.is_some());
    let cmds = ch(&mut a, 'y');
    let [Cmd::Review(ReviewCmd::Apply(jobs))] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let got: Vec<_> = jobs
        .iter()
        .map(|j| {
            (
                j.device_id.as_str(),
                j.from_upn.as_str(),
                j.to.upn.as_str(),
                j.verdict.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "dev-1",
                "stage@contoso.com",
                "ana.diaz@contoso.com",
                "propose"
            ),
            (
                "dev-2",
                "stage@contoso.com",
                "ana.diaz@contoso.com",
                "ambiguous"
            ),
        ]
    );
    assert_eq!(
        a.review.row("dev-1").unwrap().apply,
        Some(ApplyState::Approved)
    );
    assert!(a.review.marks.is_empty());
    // Approving again while in flight is refused, and says why.
    a.review.list.home();
    assert!(ch(&mut a, 'a').is_empty());
    assert_eq!(a.review.modal, None);
    assert!(
        a.review
            .notice
            .as_deref()
            .unwrap()
            .contains("already applying")
    );
}

#[test]
fn cancelling_the_summary_writes_nothing() {
    let mut a = review_app();
    ch(&mut a, 'a');
    assert!(matches!(a.review.modal, Some(ReviewModal::Confirm { .. })));
    assert!(key(&mut a, KeyCode::Esc).is_empty());
    assert_eq!(a.review.modal, None);
    assert_eq!(a.review.row("dev-1").unwrap().apply, None);
    assert_eq!(a.review.notice.as_deref(), Some("nothing applied"));
}

#[test]
fn blocked_and_waiting_rows_cannot_be_approved() {
    let mut a = review_app();
    for id in ["dev-3", "dev-4"] {
        while a.review.list.selected_key().map(String::as_str) != Some(id) {
            key(&mut a, KeyCode::Down);
        }
        assert!(ch(&mut a, 'a').is_empty());
        assert_eq!(a.review.modal, None, "{id}");
    }
}

#[test]
fn edit_picks_another_user_from_the_history() {
    let mut a = review_app();
    key(&mut a, KeyCode::Down); // dev-2, ambiguous: Ana then Bo
    ch(&mut a, 'e');
    assert_eq!(
        a.review.modal,
        Some(ReviewModal::Pick {
            device_id: "dev-2".into(),
            cursor: 0
        })
    );
    // j and q go to the picker, not to the list or quit.
    ch(&mut a, 'j');
    ch(&mut a, 'q');
    assert!(!a.quit);
    key(&mut a, KeyCode::Enter);
    let row = a.review.row("dev-2").unwrap();
    assert_eq!(row.target().0.unwrap().upn, "bo.li@contoso.com");
    assert_eq!(row.verdict_word(), "edited");
    let cmds = {
        ch(&mut a, 'a');
        ch(&mut a, 'y')
    };
    let [Cmd::Review(ReviewCmd::Apply(jobs))] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(jobs[0].to.upn, "bo.li@contoso.com");
    assert_eq!(jobs[0].verdict, "edited");
}

#[test]
fn picking_a_disabled_user_blocks_the_row_and_the_pick_survives_a_refresh() {
    let mut a = review_app();
    let mut msg = loaded(2);
    if let ReviewMsg::Loaded { candidates, .. } = &mut msg {
        candidates[0] = candidate(1, &[("ana", 30), ("cy", 10)]);
    }
    a.update(Msg::Review(msg.clone()));
    ch(&mut a, 'e');
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.review.row("dev-1").unwrap().verdict_word(), "blocked");
    assert!(!a.review.row("dev-1").unwrap().writable());
    if let ReviewMsg::Loaded { generation, .. } = &mut msg {
        *generation = 3;
    }
    a.update(Msg::Review(msg));
    assert_eq!(
        a.review.row("dev-1").unwrap().target().0.unwrap().upn,
        "cy.ng@contoso.com"
    );
}

#[test]
fn enter_shows_history_and_any_key_closes_it() {
    let mut a = review_app();
    key(&mut a, KeyCode::Enter);
    assert_eq!(
        a.review.modal,
        Some(ReviewModal::History {
            device_id: "dev-1".into()
        })
    );
    ch(&mut a, 'x');
    assert_eq!(a.review.modal, None);
}

#[test]
fn progress_moves_rows_and_failures_keep_the_row_with_the_reason() {
    let mut a = review_app();
    ch(&mut a, 'a');
    ch(&mut a, 'y');
    a.update(Msg::Review(ReviewMsg::Progress {
        device_id: "dev-1".into(),
        state: ApplyState::Confirming { since: t(48) },
    }));
    assert_eq!(
        a.review
            .row("dev-1")
            .unwrap()
            .apply
            .as_ref()
            .unwrap()
            .label(),
        "applied, confirming"
    );
    // The device left the candidates (primary already changed) while confirming: the row stays.
    let mut msg = loaded(2);
    if let ReviewMsg::Loaded { candidates, .. } = &mut msg {
        candidates.remove(0);
    }
    a.update(Msg::Review(msg));
    assert!(a.review.row("dev-1").is_some());
    a.update(Msg::Review(ReviewMsg::Progress {
        device_id: "dev-1".into(),
        state: ApplyState::Confirmed { at: t(49) },
    }));
    a.update(Msg::Review(loaded(3)));
    // A stale list still naming dev-1 keeps its confirmed state, so it cannot be approved twice.
    assert!(matches!(
        a.review.row("dev-1").unwrap().apply,
        Some(ApplyState::Confirmed { .. })
    ));

    let mut b = review_app();
    ch(&mut b, 'a');
    ch(&mut b, 'y');
    b.update(Msg::Review(ReviewMsg::Progress {
        device_id: "dev-1".into(),
        state: ApplyState::Failed {
            reason: "400 BadRequest: user does not have intune license".into(),
        },
    }));
    b.update(Msg::Review(loaded(2)));
    let row = b.review.row("dev-1").unwrap();
    assert!(
        row.apply
            .as_ref()
            .unwrap()
            .label()
            .contains("intune license")
    );
    assert!(row.writable(), "a failed row can be approved again");
}

#[test]
fn stale_generations_are_dropped() {
    let mut a = review_app();
    a.update(Msg::Review(loaded(5)));
    let mut old = loaded(4);
    if let ReviewMsg::Loaded { candidates, .. } = &mut old {
        candidates.clear();
    }
    a.update(Msg::Review(old));
    assert_eq!(a.review.rows.len(), 4);
    a.update(Msg::Review(ReviewMsg::Failed {
        generation: 3,
        reason: "old".into(),
    }));
    assert!(matches!(a.review.load, LoadState::Ready { .. }));
}

#[test]
fn filter_narrows_rows_and_f5_asks_the_feed() {
    let mut a = review_app();
    ch(&mut a, '/');
    for c in "blocked".chars() {
        ch(&mut a, c);
    }
    assert_eq!(visible_ids(&a), ["dev-4"]);
    key(&mut a, KeyCode::Esc);
    assert_eq!(visible_ids(&a).len(), 4);
    assert_eq!(
        key(&mut a, KeyCode::F(5)),
        vec![Cmd::Review(ReviewCmd::Refresh)]
    );
}

/// A tick `secs` seconds after `t(48)`.
fn tick(a: &mut App, secs: i64) {
    a.update(Msg::Tick(t(48) + Duration::seconds(secs)));
}

#[test]
fn applying_stays_until_the_last_outcome_and_the_outcome_clears_itself() {
    let mut a = review_app();
    ch(&mut a, ' ');
    ch(&mut a, ' ');
    ch(&mut a, 'a');
    ch(&mut a, 'y');
    assert_eq!(a.review.notice.as_deref(), Some("applying 2 change(s)…"));
    // Work in flight: however long it takes, the notice stays.
    tick(&mut a, 1);
    tick(&mut a, 600);
    assert_eq!(a.review.notice.as_deref(), Some("applying 2 change(s)…"));
    a.update(Msg::Review(ReviewMsg::Progress {
        device_id: "dev-1".into(),
        state: ApplyState::Confirmed { at: t(49) },
    }));
    assert_eq!(a.review.notice.as_deref(), Some("applying 2 change(s)…"));
    a.update(Msg::Review(ReviewMsg::Progress {
        device_id: "dev-2".into(),
        state: ApplyState::Failed {
            reason: "400".into(),
        },
    }));
    let outcome = "1 change(s) confirmed, 1 failed (see the rows)";
    assert_eq!(a.review.notice.as_deref(), Some(outcome));
    tick(&mut a, 601);
    tick(&mut a, 601 + crate::app::NOTICE_SECS - 1);
    assert_eq!(a.review.notice.as_deref(), Some(outcome));
    tick(&mut a, 601 + crate::app::NOTICE_SECS);
    assert_eq!(a.review.notice, None);
}

#[test]
fn every_other_review_notice_clears_after_its_time() {
    let mut a = review_app();
    ch(&mut a, 'v');
    assert_eq!(a.review.notice.as_deref(), Some("no rejection is in force"));
    tick(&mut a, 0);
    tick(&mut a, crate::app::NOTICE_SECS - 1);
    assert!(a.review.notice.is_some());
    tick(&mut a, crate::app::NOTICE_SECS);
    assert_eq!(a.review.notice, None);
    // Confirming with nothing left to write says so, and that clears too.
    let mut b = review_app();
    ch(&mut b, 'a');
    let Some(ReviewModal::Confirm { approvals, .. }) = &b.review.modal else {
        panic!("{:?}", b.review.modal)
    };
    assert_eq!(approvals.len(), 1);
    // The device left the candidates before the lead confirmed.
    let mut msg = loaded(2);
    if let ReviewMsg::Loaded { candidates, .. } = &mut msg {
        candidates.remove(0);
    }
    b.update(Msg::Review(msg));
    assert!(ch(&mut b, 'y').is_empty());
    let text = b.review.notice.clone().unwrap();
    assert!(text.starts_with("nothing applied; 1 not written"), "{text}");
    tick(&mut b, 0);
    tick(&mut b, crate::app::NOTICE_SECS);
    assert_eq!(b.review.notice, None);
}

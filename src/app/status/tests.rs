//! State tests: rows in, fields and commands out. No terminal, no runtime.

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::{App, Msg, Pane};
use crate::config::Config;
use crate::status::{Change, DeviceStatus, Flags, Stage};

pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// A row with fixed, readable values.
pub(crate) fn row(serial: &str, stage: Stage, minutes_in_stage: i64) -> DeviceStatus {
    let since = t0() - Duration::minutes(minutes_in_stage);
    let enrolled = !matches!(stage, Stage::Queued | Stage::Registered);
    DeviceStatus {
        serial: serial.into(),
        stage,
        flags: Flags::default(),
        device_name: enrolled.then(|| format!("DESKTOP-{serial}").into()),
        managed_device_id: enrolled.then(|| format!("md-{serial}").into()),
        primary_user: enrolled.then(|| "stage01@contoso.example".into()),
        enrolled_by: enrolled.then(|| "stage01@contoso.example".into()),
        enrollment_state: Some(crate::graph::models::EnrollmentState::NotContacted),
        deployment_status: None,
        last_sync: enrolled.then(|| t0() - Duration::minutes(2)),
        compliance: enrolled.then_some(crate::graph::models::ComplianceState::Compliant),
        message: format!("{} message", stage.label()).into(),
        code: None,
        phase: None,
        since,
        timeline: vec![Change { at: since, stage }].into(),
        raw: Default::default(),
    }
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn shared(rows: Vec<DeviceStatus>) -> Vec<crate::status::SharedRow> {
    rows.into_iter().map(std::sync::Arc::new).collect()
}

fn app_with(rows: Vec<DeviceStatus>) -> App {
    let mut a = App::new(Config::default(), t0());
    a.update(key(KeyCode::F(3)));
    a.update(Msg::Resize {
        width: 80,
        height: 24,
    });
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0(),
        rows: shared(rows),
    }));
    a.settle();
    a
}

fn serials(a: &App) -> Vec<&str> {
    a.status
        .list
        .visible()
        .iter()
        .map(|&i| &*a.status.rows[i].serial)
        .collect()
}

fn fleet() -> Vec<DeviceStatus> {
    vec![
        row("C3", Stage::Provisioning, 40),
        row("A1", Stage::Assigned, 5),
        row("B2", Stage::Queued, 1),
        row("D4", Stage::Failed, 10),
        row("E5", Stage::Provisioning, 3),
    ]
}

#[test]
fn snapshot_counts_stages_and_sorts_in_pipeline_order() {
    let mut rows = fleet();
    rows[0].flags.stuck = true;
    let a = app_with(rows);
    assert_eq!(serials(&a), ["B2", "C3", "E5", "D4", "A1"]);
    assert_eq!(a.status.count(Stage::Provisioning), 2);
    assert_eq!(a.status.count(Stage::Queued), 1);
    assert_eq!(a.status.count(Stage::Enrolled), 0);
    assert_eq!(a.status.stuck, 1);
    assert_eq!(a.status.load, LoadState::Ready { at: t0() });
}

#[test]
fn sort_key_walks_columns_and_reverses() {
    let mut a = app_with(fleet());
    a.update(key(KeyCode::Char('s')));
    a.settle();
    assert_eq!(
        a.status.sort,
        Sort {
            column: Column::Stage,
            descending: true
        }
    );
    assert_eq!(serials(&a), ["A1", "D4", "C3", "E5", "B2"]);
    a.update(key(KeyCode::Char('s')));
    a.settle();
    assert_eq!(a.status.sort.column, Column::InStage);
    assert_eq!(
        serials(&a),
        ["B2", "E5", "A1", "D4", "C3"],
        "shortest first"
    );
    // Walk round to Serial.
    for _ in 0..12 {
        a.update(key(KeyCode::Char('s')));
    }
    a.settle();
    assert_eq!(
        a.status.sort,
        Sort {
            column: Column::Serial,
            descending: false
        }
    );
    assert_eq!(serials(&a), ["A1", "B2", "C3", "D4", "E5"]);
}

#[test]
fn every_column_sorts_with_absent_values_last() {
    let a = row("Q", Stage::Queued, 1);
    let b = row("P", Stage::Provisioning, 7);
    for column in Column::ALL {
        let asc = Sort {
            column,
            descending: false,
        };
        let desc = Sort {
            column,
            descending: true,
        };
        assert_eq!(
            asc.compare(&a, &b),
            desc.compare(&a, &b).reverse(),
            "{column:?} reverses"
        );
    }
    let by_device = Sort {
        column: Column::Device,
        descending: false,
    };
    assert_eq!(
        by_device.compare(&b, &a),
        std::cmp::Ordering::Less,
        "queued has no device name"
    );
}

#[test]
fn selection_follows_the_serial_across_snapshots() {
    let mut a = app_with(fleet());
    a.update(key(KeyCode::Char('j')));
    a.update(key(KeyCode::Char('j')));
    assert_eq!(a.status.list.selected_key().map(String::as_str), Some("E5"));
    // E5 moves to assigned: it moves to the bottom, the selection goes with it.
    let mut rows = fleet();
    rows[4] = row("E5", Stage::Assigned, 0);
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0(),
        rows: shared(rows),
    }));
    a.settle();
    assert_eq!(a.status.selected().map(|r| &*r.serial), Some("E5"));
    assert_eq!(a.status.list.cursor(), 4);
}

#[test]
fn filter_as_you_type_matches_any_column_and_flags() {
    let mut rows = fleet();
    rows[3].flags.stale = true;
    let mut a = app_with(rows);
    a.update(key(KeyCode::Char('/')));
    for c in "prov".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    a.settle();
    assert_eq!(serials(&a), ["C3", "E5"]);
    a.update(key(KeyCode::Char(' ')));
    a.update(key(KeyCode::Char('c')));
    a.update(key(KeyCode::Char('3')));
    a.settle();
    assert_eq!(serials(&a), ["C3"]);
    a.update(key(KeyCode::Enter));
    assert!(!a.status.filter.editing);
    a.update(key(KeyCode::Esc));
    a.settle();
    assert_eq!(serials(&a).len(), 5, "Esc clears a kept filter");
    a.update(key(KeyCode::Char('/')));
    a.update(Msg::Paste("stale".into()));
    a.settle();
    assert_eq!(serials(&a), ["D4"]);
}

#[test]
fn scope_toggle_and_refresh_send_commands_and_drop_stale_results() {
    let mut a = app_with(fleet());
    let cmds = a.update(key(KeyCode::Char('a')));
    assert_eq!(
        cmds,
        vec![Cmd::Status(StatusCmd::Scope {
            all_staged: true,
            generation: 1
        })]
    );
    assert_eq!(a.status.load, LoadState::Loading);
    // A late answer for the old scope is dropped.
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0(),
        rows: shared(vec![row("OLD", Stage::Queued, 0)]),
    }));
    a.update(Msg::Status(StatusMsg::Failed {
        generation: 0,
        reason: "old".into(),
    }));
    a.settle();
    assert_eq!(a.status.rows.len(), 5);
    assert_eq!(a.status.load, LoadState::Loading);
    let cmds = a.update(key(KeyCode::Char('r')));
    assert_eq!(
        cmds,
        vec![Cmd::Status(StatusCmd::Refresh { generation: 1 })]
    );
    let cmds = a.update(key(KeyCode::F(5)));
    assert_eq!(
        cmds,
        vec![Cmd::Status(StatusCmd::Refresh { generation: 1 })]
    );
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 1,
        at: t0() + Duration::seconds(5),
        rows: shared(vec![row("NEW", Stage::Enrolled, 0)]),
    }));
    a.settle();
    assert_eq!(serials(&a), ["NEW"]);
    let cmds = a.update(key(KeyCode::Char('a')));
    assert_eq!(
        cmds,
        vec![Cmd::Status(StatusCmd::Scope {
            all_staged: false,
            generation: 2
        })]
    );
}

#[test]
fn a_failed_poll_marks_rows_stale_and_keeps_them() {
    let mut a = app_with(fleet());
    a.update(Msg::Status(StatusMsg::Loading { generation: 0 }));
    assert_eq!(
        a.status.load,
        LoadState::Ready { at: t0() },
        "keeps 'updated N s ago'"
    );
    a.update(Msg::Status(StatusMsg::Failed {
        generation: 0,
        reason: "HTTP 503".into(),
    }));
    a.settle();
    assert!(a.status.rows.iter().all(|r| r.flags.stale));
    assert_eq!(a.status.load, LoadState::Failed("HTTP 503".into()));
}

#[test]
fn enter_opens_the_detail_of_the_selection_and_esc_closes_it() {
    let mut a = app_with(fleet());
    a.update(key(KeyCode::Char('j')));
    a.update(key(KeyCode::Enter));
    assert!(a.status.detail);
    assert_eq!(a.status.selected().map(|r| &*r.serial), Some("C3"));
    a.update(key(KeyCode::Esc));
    assert!(!a.status.detail);
    // Nothing to open on an empty pane.
    let mut empty = app_with(vec![]);
    empty.update(key(KeyCode::Enter));
    assert!(!empty.status.detail);
    assert_eq!(empty.focus, Pane::Status);
}

mod evidence_key {
    use std::path::PathBuf;

    use super::*;
    use crate::app::Cmd;
    use crate::app::status::evidence::{EvidenceMsg, Job};

    #[test]
    fn e_on_a_row_asks_for_its_bundle_once_and_the_outcome_shows_the_folder() {
        let mut a = app_with(vec![
            row("PF1", Stage::Failed, 5),
            row("PF2", Stage::Provisioning, 3),
        ]);
        let selected = a.status.selected().unwrap().serial.to_string();
        let cmds = a.update(key(KeyCode::Char('e')));
        let [Cmd::Evidence(c)] = &cmds[..] else {
            panic!("{cmds:?}")
        };
        assert_eq!(c.serial, selected);
        assert_eq!(c.status.as_ref().unwrap().serial.as_ref(), selected);
        assert!(c.queue.is_none(), "not in this bench's queue");
        // A second press while it runs starts nothing.
        assert!(a.update(key(KeyCode::Char('e'))).is_empty());
        let (text, bad) = a.status.evidence.line().unwrap();
        assert!(text.contains("starting") && !bad, "{text}");

        a.update(Msg::Evidence(EvidenceMsg::Progress {
            serial: selected.clone(),
            step: "Autopilot record".into(),
        }));
        assert_eq!(
            a.status.evidence.line().unwrap().0,
            format!("evidence {selected}: Autopilot record…")
        );
        let folder = PathBuf::from("/data/evidence/PF1-20261122T090000Z");
        a.update(Msg::Evidence(EvidenceMsg::Done {
            serial: selected.clone(),
            result: Ok(folder.clone()),
        }));
        assert_eq!(a.status.evidence.jobs[0].1, Job::Written(folder));
        let (text, bad) = a.status.evidence.line().unwrap();
        assert!(text.ends_with("PF1-20261122T090000Z") && !bad, "{text}");
        // A late progress line does not bring it back; a new press starts again.
        a.update(Msg::Evidence(EvidenceMsg::Progress {
            serial: selected.clone(),
            step: "late".into(),
        }));
        assert!(matches!(a.status.evidence.jobs[0].1, Job::Written(_)));
        assert_eq!(a.update(key(KeyCode::Char('e'))).len(), 1);
    }

    #[test]
    fn a_failure_is_shown_as_such_and_no_row_means_no_command() {
        let mut a = app_with(vec![]);
        assert!(a.update(key(KeyCode::Char('e'))).is_empty());
        let mut a = app_with(vec![row("PF1", Stage::Failed, 5)]);
        let cmds = a.update(key(KeyCode::Char('e')));
        // Nobody takes the command (not connected): its unanswered reply is a failure.
        let reply = cmds.into_iter().next().unwrap().unanswered().unwrap();
        a.update(reply);
        let (text, bad) = a.status.evidence.line().unwrap();
        assert!(bad && text.contains("not connected"), "{text}");
        // While the filter is typed, e is a letter of the filter.
        a.update(key(KeyCode::Char('/')));
        assert!(a.update(key(KeyCode::Char('e'))).is_empty());
        assert_eq!(a.status.filter.text, "e");
    }
}

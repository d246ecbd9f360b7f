//! Snapshots of the status pane at 80x24 and 160x48, and the rows-built-per-frame rule.

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::status::StatusMsg;
use crate::app::{App, Msg, Pane};
use crate::console::test_support::{app, render};
use crate::status::{Change, DeviceRow, DeviceStatus, Flags, RawFields, ReportRow, Sources, Stage};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn row(serial: &str, stage: Stage, minutes: i64, flags: Flags, message: &str) -> DeviceStatus {
    let since = t0() - Duration::minutes(minutes);
    let enrolled = !matches!(stage, Stage::Queued | Stage::Registered);
    let device = std::sync::Arc::new(DeviceRow {
        id: format!("md-{serial}").into(),
        device_name: format!("CT-{serial}").into(),
        ..DeviceRow::default()
    });
    let report = std::sync::Arc::new(ReportRow {
        deployment_status: "3".into(),
        ..ReportRow::default()
    });
    let raw = if enrolled {
        RawFields::from_sources(Sources {
            device: Some(&device),
            report: Some(&report),
            ..Sources::default()
        })
    } else {
        RawFields::default()
    };
    DeviceStatus {
        serial: serial.into(),
        stage,
        flags,
        device_name: enrolled.then(|| format!("CT-{serial}").into()),
        managed_device_id: enrolled.then(|| format!("md-{serial}").into()),
        primary_user: enrolled.then(|| {
            if stage == Stage::Assigned {
                "ada@contoso.example"
            } else {
                "stage01@contoso.example"
            }
            .into()
        }),
        enrolled_by: enrolled.then(|| "stage01@contoso.example".into()),
        enrollment_state: Some(crate::graph::models::EnrollmentState::Enrolled),
        deployment_status: None,
        last_sync: enrolled.then(|| t0() - Duration::minutes(3)),
        compliance: enrolled.then_some({
            if flags.noncompliant {
                crate::graph::models::ComplianceState::Noncompliant
            } else {
                crate::graph::models::ComplianceState::Compliant
            }
        }),
        message: message.into(),
        code: (stage == Stage::Failed).then(|| "-2147023436 (0x800705B4)".into()),
        phase: (stage == Stage::Provisioning).then(|| "phase 2".into()),
        since,
        timeline: vec![
            Change {
                at: since - Duration::minutes(20),
                stage: Stage::Queued,
            },
            Change { at: since, stage },
        ]
        .into(),
        raw,
    }
}

fn fleet() -> Vec<DeviceStatus> {
    let f = Flags::default();
    vec![
        row("PF1QUEUED", Stage::Queued, 1, f, "waiting to be uploaded"),
        row(
            "PF2REG",
            Stage::Registered,
            12,
            f,
            "corporate identifier in Intune (notContacted)",
        ),
        row(
            "PF3ENR",
            Stage::Enrolled,
            2,
            f,
            "enrolled; no deployment report yet",
        ),
        row(
            "PF4PROV",
            Stage::Provisioning,
            41,
            Flags { stuck: true, ..f },
            "deploying, phase 2",
        ),
        row(
            "PF5DONE",
            Stage::Provisioned,
            65,
            Flags {
                noncompliant: true,
                ..f
            },
            "deployment succeeded; waiting for the user",
        ),
        row(
            "PF6FAIL",
            Stage::Failed,
            8,
            Flags { stale: true, ..f },
            "0x800705B4: securing the hardware failed: self-deploying mode needs a physical TPM 2.0 (deployment, phase 2)",
        ),
        row(
            "PF7USE",
            Stage::InUse,
            30,
            f,
            "ada@contoso.example signed in; primary user still stage01@contoso.example",
        ),
        row(
            "PF8OK",
            Stage::Assigned,
            600,
            f,
            "primary user ada@contoso.example",
        ),
    ]
}

fn status_app(rows: Vec<DeviceStatus>) -> App {
    let mut a = app();
    a.focus = Pane::Status;
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0() - Duration::seconds(12),
        rows: rows.into_iter().map(std::sync::Arc::new).collect(),
    }));
    a
}

#[test]
fn empty_status_80x24() {
    let mut a = status_app(vec![]);
    insta::assert_snapshot!(render(&mut a, 80, 24).backend());
}

#[test]
fn idle_status_160x48() {
    let mut a = app();
    a.focus = Pane::Status;
    insta::assert_snapshot!(render(&mut a, 160, 48).backend());
}

#[test]
fn fleet_80x24() {
    let mut a = status_app(fleet());
    insta::assert_snapshot!(render(&mut a, 80, 24).backend());
}

#[test]
fn fleet_160x48() {
    let mut a = status_app(fleet());
    insta::assert_snapshot!(render(&mut a, 160, 48).backend());
}

fn open_detail_on(a: &mut App, serial: &str) {
    a.update(Msg::Resize {
        width: a.width,
        height: a.height,
    });
    a.settle();
    while a.status.list.selected_key().map(String::as_str) != Some(serial) {
        a.update(Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
    }
    a.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
}

#[test]
fn detail_80x24() {
    let mut a = status_app(fleet());
    open_detail_on(&mut a, "PF6FAIL");
    insta::assert_snapshot!(render(&mut a, 80, 24).backend());
}

#[test]
fn detail_160x48_with_filter() {
    let mut a = status_app(fleet());
    a.update(Msg::Resize {
        width: 160,
        height: 48,
    });
    for c in "/prov".chars() {
        a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    a.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    a.settle();
    open_detail_on(&mut a, "PF5DONE");
    insta::assert_snapshot!(render(&mut a, 160, 48).backend());
}

/// The buffer position where `needle` starts on the row that contains `row_key`.
fn find(buf: &ratatui::buffer::Buffer, row_key: &str, needle: &str) -> (u16, u16) {
    for y in 0..buf.area.height {
        let cells: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        let line = cells.concat();
        if line.contains(row_key) {
            let byte = line.find(needle).unwrap();
            let x = line[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{row_key} not on screen");
}

#[test]
fn stage_colours_and_flag_marks() {
    let mut a = status_app(fleet());
    let t = render(&mut a, 80, 24);
    let buf = t.backend().buffer();
    let (x, y) = find(buf, "PF6FAIL", "failed~");
    assert_eq!(buf[(x, y)].fg, theme::BAD);
    assert_eq!(buf[(x + 6, y)].fg, theme::DIM, "stale mark");
    let (x, y) = find(buf, "PF4PROV", "provisioning!");
    assert_eq!(buf[(x, y)].fg, theme::WARN);
    assert_eq!(buf[(x + 12, y)].fg, theme::BAD, "stuck mark");
    let (x, y) = find(buf, "PF8OK", "assigned");
    assert_eq!(buf[(x, y)].fg, theme::OK);
}

#[test]
fn only_the_viewport_rows_are_built() {
    let rows: Vec<_> = (0..10_000)
        .map(|i| {
            row(
                &format!("SN{i:05}"),
                Stage::ALL[i % 8],
                i as i64 % 90,
                Flags::default(),
                "m",
            )
        })
        .collect();
    let mut a = status_app(rows);
    a.update(Msg::Resize {
        width: 160,
        height: 48,
    });
    a.settle();
    let built = visible_rows(&a, &columns(160), true);
    assert_eq!(built.len(), a.status.list.height);
    assert_eq!(built.len(), 48 - 7);
    a.update(Msg::Key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE)));
    assert_eq!(visible_rows(&a, &columns(160), true).len(), 41);
}

#[test]
fn durations_are_short() {
    let cases = [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3660, "1h01m"),
        (90_000, "1d01h"),
        (-5, "0s"),
    ];
    for (secs, want) in cases {
        assert_eq!(short_duration(Duration::seconds(secs)), want);
    }
}

#[test]
fn medium_width_keeps_primary_user_and_compliance() {
    let mut a = status_app(vec![]);
    let text = format!("{}", render(&mut a, 100, 30).backend());
    for col in [
        "Serial",
        "Stage",
        "Primary user",
        "Compliance",
        "No devices tracked",
    ] {
        assert!(text.contains(col), "{col} missing:\n{text}");
    }
}

#[test]
fn the_evidence_outcome_is_in_the_border_escaped() {
    use crate::app::status::evidence::EvidenceMsg;
    let mut a = app();
    a.update(Msg::Key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE)));
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0(),
        rows: vec![std::sync::Arc::new(row(
            "PF1",
            Stage::Failed,
            5,
            Flags::default(),
            "failed",
        ))],
    }));
    a.settle();
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('e'),
        KeyModifiers::NONE,
    )));
    a.update(Msg::Evidence(EvidenceMsg::Progress {
        serial: "PF1".into(),
        step: "Enrollment Status Page".into(),
    }));
    let text = |a: &mut App| {
        let t = render(a, 160, 48);
        let b = t.backend().buffer().clone();
        (0..b.area.height)
            .map(|y| {
                (0..b.area.width)
                    .map(|x| b[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        text(&mut a).contains("evidence PF1: Enrollment Status Page…"),
        "{}",
        text(&mut a)
    );
    a.update(Msg::Evidence(EvidenceMsg::Done {
        serial: "PF1".into(),
        result: Err("disk full\u{1b}[2J".into()),
    }));
    let shown = text(&mut a);
    assert!(shown.contains("evidence PF1 failed: disk full"), "{shown}");
    assert!(!shown.contains('\u{1b}'), "escaped");
}

#[test]
fn undelivered_notices_are_counted_in_the_status_bar_and_listed_by_n() {
    use crate::app::status::notices::{NotifyMsg, Said, Undelivered};
    let screen = |a: &mut App| {
        let t = render(a, 120, 30);
        let b = t.backend().buffer().clone();
        (0..b.area.height)
            .map(|y| {
                (0..b.area.width)
                    .map(|x| b[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut a = app();
    a.update(Msg::Key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE)));
    assert!(
        !screen(&mut a).contains('✉'),
        "nothing before the notifier reports"
    );
    a.update(Msg::Notify(NotifyMsg {
        said: vec![Said {
            text: "PF1: not delivered: ServiceNow answered 429 \u{1b}[31m; next try 09:00:30"
                .into(),
            bad: true,
        }],
        undelivered: vec![Undelivered {
            serial: "PF1".into(),
            what: "failed: incident, evidence, Teams card".into(),
            attempts: 1,
            next_at: t0() + Duration::seconds(30),
            last_error: Some("ServiceNow answered 429".into()),
        }],
    }));
    let s = screen(&mut a);
    let bar = s.lines().last().unwrap();
    assert!(bar.contains("✉ 1 undelivered (n)"), "{bar}");
    // n opens the list over the table; Esc closes it.
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('n'),
        KeyModifiers::NONE,
    )));
    let s = screen(&mut a);
    assert!(s.contains("Kept for retry: 1"), "{s}");
    assert!(
        s.contains("PF1 failed: incident, evidence, Teams card · tries 1 · next 09:00:30 UTC"),
        "{s}"
    );
    assert!(s.contains("not delivered: ServiceNow answered 429"), "{s}");
    assert!(!s.contains('\u{1b}'), "escaped");
    a.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert!(!screen(&mut a).contains("Kept for retry"));
    // Delivered: the count goes, the ticket is named.
    a.update(Msg::Notify(NotifyMsg {
        said: vec![Said {
            text: "PF1: incident INC0010001 opened".into(),
            bad: false,
        }],
        undelivered: vec![],
    }));
    let bar = screen(&mut a).lines().last().unwrap().to_string();
    assert!(
        bar.contains("✉ PF1: incident INC0010001 opened (n)"),
        "{bar}"
    );
}

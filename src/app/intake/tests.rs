use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::intake::upload::MAX_ATTEMPTS;
use crate::store::EntryState;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// Uploads start as soon as a scan is durable (no hold) unless a test sets one.
fn state() -> (IntakeState, Config) {
    let mut cfg = Config::default();
    cfg.intake.hold_secs = 0;
    let mut s = IntakeState::new(&cfg);
    s.now = t0();
    (s, cfg)
}

fn scan(s: &mut IntakeState, cfg: &Config, text: &str) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for c in text.chars() {
        cmds.extend(s.on_key(
            KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
            None,
            cfg,
        ));
    }
    cmds.extend(s.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), None, cfg));
    cmds
}

/// Acknowledges every store command as durable, as the store task would.
fn ack_all(s: &mut IntakeState, cfg: &Config, cmds: Vec<Cmd>) -> Vec<Cmd> {
    let mut out = Vec::new();
    let mut queue = cmds;
    while let Some(cmd) = queue.pop() {
        match cmd {
            Cmd::Store { ticket, .. } => queue.extend(s.on_ack(
                StoreAck {
                    ticket,
                    result: Ok(()),
                },
                cfg,
            )),
            other => out.push(other),
        }
    }
    out
}

fn serials(s: &IntakeState) -> Vec<String> {
    s.queue.entries().iter().map(|e| e.serial.clone()).collect()
}

#[test]
fn a_valid_scan_is_saving_until_the_store_acknowledges_it() {
    let (mut s, cfg) = state();
    let cmds = scan(&mut s, &cfg, "PF1ABC");
    let [Cmd::Store { ticket, events }] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let QueueEvent::Added(e) = &events[0] else {
        panic!()
    };
    assert_eq!(
        (e.serial.as_str(), e.profile.as_str(), e.model.as_str()),
        ("PF1ABC", "Standard", "Laptop 7")
    );
    assert_eq!(e.scanned_at, t0());
    assert!(s.queue.is_empty(), "not queued before it is durable");
    assert_eq!(s.pending.len(), 1);
    assert_eq!(s.feedback.as_ref().unwrap().kind, FeedbackKind::Saving);
    s.on_ack(
        StoreAck {
            ticket: *ticket,
            result: Ok(()),
        },
        &cfg,
    );
    assert_eq!(serials(&s), ["PF1ABC"]);
    assert!(s.pending.is_empty());
    assert_eq!(s.feedback.as_ref().unwrap().kind, FeedbackKind::Queued);
}

#[test]
fn validation_refuses_with_the_reason_and_rings() {
    let (mut s, cfg) = state();
    for (input, needle) in [
        ("PF1#AB", "'#' at position 4"),
        ("ÄBC", "'Ä' at position 1"),
        (&"X".repeat(65), "65 characters"),
        ("...", "empty"),
    ] {
        let cmds = scan(&mut s, &cfg, input);
        assert_eq!(cmds, vec![Cmd::Bell], "{input}");
        let f = s.feedback.clone().unwrap();
        assert_eq!(f.kind, FeedbackKind::Invalid);
        assert!(f.text.contains(needle), "{input}: {}", f.text);
    }
    assert!(s.pending.is_empty() && s.queue.is_empty());
}

#[test]
fn periods_are_removed_with_a_notice() {
    let (mut s, cfg) = state();
    let cmds = scan(&mut s, &cfg, " PF1.AB.C ");
    ack_all(&mut s, &cfg, cmds);
    assert_eq!(serials(&s), ["PF1ABC"]);
}

#[test]
fn bell_is_optional() {
    let (mut s, mut cfg) = state();
    cfg.intake.bell_on_error = false;
    assert!(scan(&mut s, &cfg, "A#").is_empty());
}

#[test]
fn duplicates_in_the_queue_and_still_saving_are_refused_case_insensitively() {
    let (mut s, cfg) = state();
    let first = scan(&mut s, &cfg, "PF1ABC");
    assert_eq!(
        scan(&mut s, &cfg, "pf1abc"),
        vec![Cmd::Bell],
        "duplicate of a saving scan"
    );
    ack_all(&mut s, &cfg, first);
    assert_eq!(scan(&mut s, &cfg, "PF1ABC"), vec![Cmd::Bell]);
    let f = s.feedback.clone().unwrap();
    assert_eq!(f.kind, FeedbackKind::Duplicate);
    assert!(f.text.contains("queued"), "{}", f.text);
    assert_eq!(serials(&s), ["PF1ABC"]);
}

#[test]
fn scanner_prefix_and_suffix_are_stripped() {
    let (mut s, mut cfg) = state();
    cfg.intake.strip_prefix = "]C0".into();
    cfg.intake.strip_suffix = "$".into();
    let cmds = scan(&mut s, &cfg, "]C0PF9XYZ$");
    ack_all(&mut s, &cfg, cmds);
    assert_eq!(serials(&s), ["PF9XYZ"]);
}

#[test]
fn a_failed_save_keeps_the_scan_and_resends_it_on_the_next_tick() {
    let (mut s, cfg) = state();
    let cmds = scan(&mut s, &cfg, "PF1ABC");
    let Cmd::Store { ticket, .. } = cmds[0].clone() else {
        panic!()
    };
    s.on_ack(
        StoreAck {
            ticket,
            result: Err("disk full".into()),
        },
        &cfg,
    );
    assert_eq!(s.pending.len(), 1, "still shown as saving");
    assert_eq!(s.store_error.as_deref(), Some("disk full"));
    let again = s.on_tick(t0(), &cfg);
    assert!(
        matches!(&again[..], [Cmd::Store { events, .. }] if matches!(&events[0], QueueEvent::Added(e) if e.serial == "PF1ABC"))
    );
    ack_all(&mut s, &cfg, again);
    assert_eq!(serials(&s), ["PF1ABC"]);
    assert!(s.pending.is_empty() && s.store_error.is_none());
}

fn queued(n: usize) -> (IntakeState, Config) {
    let (mut s, mut cfg) = state();
    cfg.intake.batch_size = 3;
    for i in 0..n {
        let cmds = scan(&mut s, &cfg, &format!("SN{i:04}"));
        ack_all(&mut s, &cfg, cmds);
    }
    (s, cfg)
}

fn upload_batch(cmds: &[Cmd]) -> Vec<String> {
    cmds.iter()
        .find_map(|c| match c {
            Cmd::Upload(b) => Some(b.iter().map(|e| e.serial.clone()).collect()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn uploads_wait_until_allowed_then_go_in_batches_one_at_a_time() {
    let (mut s, cfg) = queued(5);
    assert!(
        upload_batch(&s.on_tick(t0(), &cfg)).is_empty(),
        "signed out: nothing uploads"
    );
    s.can_upload = true;
    let cmds = s.on_tick(t0(), &cfg);
    assert_eq!(upload_batch(&cmds), ["SN0000", "SN0001", "SN0002"]);
    let stores: Vec<Cmd> = cmds
        .into_iter()
        .filter(|c| matches!(c, Cmd::Store { .. }))
        .collect();
    let rest = ack_all(&mut s, &cfg, stores);
    assert!(upload_batch(&rest).is_empty(), "never two uploads at once");
    assert!(upload_batch(&s.on_tick(t0(), &cfg)).is_empty());
    let outcome = |serial: &str| UploadOutcome {
        serial: serial.into(),
        result: UploadResult::Registered {
            imported_id: Some(format!("id-{serial}")),
            message: "registered".into(),
        },
    };
    let cmds = s.on_uploaded(vec![
        outcome("SN0000"),
        outcome("SN0001"),
        outcome("SN0002"),
    ]);
    let next = ack_all(&mut s, &cfg, cmds);
    assert_eq!(
        upload_batch(&next),
        ["SN0003", "SN0004"],
        "next batch starts once results are durable"
    );
    let e = s.queue.get("SN0001").unwrap();
    assert_eq!(
        (e.state, e.imported_id.as_deref()),
        (EntryState::Registered, Some("id-SN0001"))
    );
}

#[test]
fn transient_failures_back_off_then_give_up() {
    let (mut s, cfg) = queued(1);
    s.can_upload = true;
    let mut now = t0();
    for attempt in 1..=MAX_ATTEMPTS {
        s.now = now;
        let cmds = s.on_tick(now, &cfg);
        assert_eq!(upload_batch(&cmds), ["SN0000"], "attempt {attempt}");
        ack_all(&mut s, &cfg, cmds);
        let cmds = s.on_uploaded(vec![UploadOutcome {
            serial: "SN0000".into(),
            result: UploadResult::Failed {
                message: "503 from Graph".into(),
            },
        }]);
        ack_all(&mut s, &cfg, cmds);
        if attempt < MAX_ATTEMPTS {
            assert_eq!(s.queue.get("SN0000").unwrap().state, EntryState::Queued);
            assert!(
                upload_batch(&s.on_tick(now, &cfg)).is_empty(),
                "waits for its backoff"
            );
            now += Duration::seconds(301);
        }
    }
    let e = s.queue.get("SN0000").unwrap();
    assert_eq!(e.state, EntryState::Failed);
    assert!(e.message.as_deref().unwrap().contains("503 from Graph"));
    // R puts it back and it uploads again.
    s.input_focused = false;
    let cmds = s.on_key(
        KeyEvent::new(KeyCode::Char('R'), KeyModifiers::NONE),
        Some(Action::Retry),
        &cfg,
    );
    let cmds = ack_all(&mut s, &cfg, cmds);
    assert_eq!(upload_batch(&cmds), ["SN0000"]);
}

#[test]
fn rejected_entries_stay_rejected_with_intunes_message() {
    let (mut s, cfg) = queued(1);
    s.can_upload = true;
    let cmds = s.on_tick(t0(), &cfg);
    ack_all(&mut s, &cfg, cmds);
    let cmds = s.on_uploaded(vec![UploadOutcome {
        serial: "SN0000".into(),
        result: UploadResult::Rejected {
            message: "importedDeviceIdentifier is invalid".into(),
        },
    }]);
    let next = ack_all(&mut s, &cfg, cmds);
    assert!(upload_batch(&next).is_empty());
    let e = s.queue.get("SN0000").unwrap();
    assert_eq!(e.state, EntryState::Rejected);
    assert_eq!(
        e.message.as_deref(),
        Some("importedDeviceIdentifier is invalid")
    );
}

#[test]
fn delete_and_profile_edits_touch_only_entries_not_uploaded() {
    let (mut s, cfg) = queued(3);
    s.settle();
    s.input_focused = false;
    // Mark the two newest (display order is newest first).
    s.on_key(
        KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE),
        Some(Action::Mark),
        &cfg,
    );
    s.list.move_by(1);
    s.on_key(
        KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE),
        Some(Action::Mark),
        &cfg,
    );
    s.profile = "Executive".into();
    let cmds = s.on_key(
        KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE),
        Some(Action::ApplyProfile),
        &cfg,
    );
    ack_all(&mut s, &cfg, cmds);
    let models: Vec<_> = s
        .queue
        .entries()
        .iter()
        .map(|e| (e.serial.as_str(), e.model.as_str()))
        .collect();
    assert_eq!(
        models,
        [
            ("SN0000", "Laptop 7"),
            ("SN0001", "Laptop 7 Pro"),
            ("SN0002", "Laptop 7 Pro")
        ]
    );
    s.settle();
    s.list.home();
    let cmds = s.on_key(
        KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE),
        Some(Action::Delete),
        &cfg,
    );
    ack_all(&mut s, &cfg, cmds);
    assert_eq!(serials(&s), ["SN0000", "SN0001"]);
}

#[test]
fn a_paste_of_ten_thousand_lines_is_ten_thousand_scans_in_order() {
    let (mut s, cfg) = state();
    let text: String = (0..10_000).map(|i| format!("P{i:06}\r\n")).collect();
    let cmds = s.on_paste(&text, &cfg);
    assert_eq!(cmds.len(), 10_000);
    ack_all(&mut s, &cfg, cmds.into_iter().rev().collect());
    let got = serials(&s);
    assert_eq!(got.len(), 10_000);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, s)| *s == format!("P{i:06}"))
    );
}

#[test]
fn removing_a_registered_identity_asks_audits_first_then_calls_intune() {
    let (mut s, cfg) = queued(1);
    s.can_upload = true;
    s.actor = "tech@contoso.example".into();
    let cmds = s.on_tick(t0(), &cfg);
    ack_all(
        &mut s,
        &cfg,
        cmds.into_iter()
            .filter(|c| matches!(c, Cmd::Store { .. }))
            .collect(),
    );
    let cmds = s.on_uploaded(vec![UploadOutcome {
        serial: "SN0000".into(),
        result: UploadResult::Registered {
            imported_id: Some("imp-1".into()),
            message: "registered".into(),
        },
    }]);
    ack_all(&mut s, &cfg, cmds);
    s.settle();
    s.input_focused = false;
    let x = KeyEvent::new(KeyCode::Char('X'), KeyModifiers::NONE);
    assert!(s.on_key(x, Some(Action::RemoveFromIntune), &cfg).is_empty());
    assert!(s.removal.is_some(), "asks first");
    // Any key but y keeps it.
    assert!(
        s.on_key(
            KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE),
            None,
            &cfg
        )
        .is_empty()
    );
    assert!(s.removal.is_none());
    s.on_key(x, Some(Action::RemoveFromIntune), &cfg);
    let cmds = s.on_key(
        KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE),
        None,
        &cfg,
    );
    let [Cmd::Audit { ticket, record }] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(
        (record.action.as_str(), record.actor.as_str()),
        ("delete_identifier", "tech@contoso.example")
    );
    assert_eq!(record.phase, crate::store::AuditPhase::Before);
    // Intune is asked only once the before-record is durable.
    let cmds = s.on_ack(
        StoreAck {
            ticket: *ticket,
            result: Ok(()),
        },
        &cfg,
    );
    assert_eq!(
        cmds,
        vec![Cmd::RemoveIdentity {
            serial: "SN0000".into(),
            imported_id: "imp-1".into()
        }]
    );
    let cmds = s.on_identity_removed("SN0000", Ok(()));
    assert!(
        matches!(&cmds[0], Cmd::Audit { record, .. } if record.phase == crate::store::AuditPhase::After && record.result.as_deref() == Some("ok"))
    );
    ack_all(
        &mut s,
        &cfg,
        cmds.into_iter()
            .filter(|c| matches!(c, Cmd::Store { .. }))
            .collect(),
    );
    assert!(s.queue.is_empty());
}

/// Intune removed the identity but its audit "after" record could not be written: the pane says
/// both, never only "removed".
#[test]
fn a_removal_whose_after_record_fails_says_so() {
    let (mut s, cfg) = queued(1);
    s.can_upload = true;
    let cmds = s.on_tick(t0(), &cfg);
    ack_all(
        &mut s,
        &cfg,
        cmds.into_iter()
            .filter(|c| matches!(c, Cmd::Store { .. }))
            .collect(),
    );
    let cmds = s.on_uploaded(vec![UploadOutcome {
        serial: "SN0000".into(),
        result: UploadResult::Registered {
            imported_id: Some("imp-1".into()),
            message: "registered".into(),
        },
    }]);
    ack_all(&mut s, &cfg, cmds);
    s.settle();
    s.input_focused = false;
    let x = KeyEvent::new(KeyCode::Char('X'), KeyModifiers::NONE);
    s.on_key(x, Some(Action::RemoveFromIntune), &cfg);
    let yes = KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE);
    let cmds = s.on_key(yes, None, &cfg);
    let [Cmd::Audit { ticket, .. }] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let ok = StoreAck {
        ticket: *ticket,
        result: Ok(()),
    };
    assert_eq!(s.on_ack(ok, &cfg).len(), 1, "Intune is asked");
    let cmds = s.on_identity_removed("SN0000", Ok(()));
    let Some(Cmd::Audit { ticket, .. }) = cmds.first() else {
        panic!("{cmds:?}")
    };
    let failed = StoreAck {
        ticket: *ticket,
        result: Err("audit.jsonl: fsync: No space left on device".into()),
    };
    assert!(s.on_ack(failed, &cfg).is_empty());
    let fb = s.feedback.as_ref().unwrap();
    assert_eq!(fb.kind, FeedbackKind::Error);
    assert!(
        fb.text.contains("removed from Intune")
            && fb.text.contains("'after' record could not be written")
            && fb.text.contains("No space left"),
        "{}",
        fb.text
    );
    assert!(s.removal_after.is_empty());
}

#[test]
fn a_queued_entry_cannot_be_removed_from_intune() {
    let (mut s, cfg) = queued(1);
    s.settle();
    s.input_focused = false;
    s.on_key(
        KeyEvent::new(KeyCode::Char('X'), KeyModifiers::NONE),
        Some(Action::RemoveFromIntune),
        &cfg,
    );
    assert!(s.removal.is_none());
    assert_eq!(s.feedback.as_ref().unwrap().kind, FeedbackKind::Invalid);
}

#[test]
fn a_scan_waits_out_the_hold_and_can_be_taken_back_meanwhile() {
    // The default hold, 10 s (the end-to-end test configures a short one).
    let cfg = Config::default();
    assert_eq!(cfg.intake.hold_secs, 10);
    let mut s = IntakeState::new(&cfg);
    s.now = t0();
    s.can_upload = true;
    let cmds = scan(&mut s, &cfg, "PF1HOLD1");
    let cmds = ack_all(&mut s, &cfg, cmds);
    assert!(
        cmds.iter().all(|c| !matches!(c, Cmd::Upload(_))),
        "{cmds:?}"
    );
    let e = s.queue.entries()[0].clone();
    assert_eq!(s.hold_left(&e, t0() + Duration::seconds(3)), Some(7));
    // Nine seconds on: still held.
    let cmds = s.on_tick(t0() + Duration::seconds(9), &cfg);
    assert!(
        cmds.iter().all(|c| !matches!(c, Cmd::Upload(_))),
        "{cmds:?}"
    );
    // Taken back with d (queue list): removed, never uploaded.
    s.settle();
    s.input_focused = false;
    let cmds = s.on_key(
        KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE),
        Some(Action::Delete),
        &cfg,
    );
    let cmds = ack_all(&mut s, &cfg, cmds);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(s.queue.is_empty());
    assert!(s.on_tick(t0() + Duration::seconds(60), &cfg).is_empty());
    // A scan left alone is uploaded once its hold is over.
    s.input_focused = true;
    let cmds = scan(&mut s, &cfg, "PF1HOLD2");
    ack_all(&mut s, &cfg, cmds);
    // Scanned at t0 + 60 s: held until t0 + 70 s.
    let cmds = s.on_tick(t0() + Duration::seconds(69), &cfg);
    assert!(
        cmds.iter().all(|c| !matches!(c, Cmd::Upload(_))),
        "{cmds:?}"
    );
    let cmds = s.on_tick(t0() + Duration::seconds(70), &cfg);
    assert!(cmds.iter().any(|c| matches!(c, Cmd::Upload(_))), "{cmds:?}");
}

#[test]
fn a_paste_is_summarised_and_keeps_every_refused_line() {
    let (mut s, cfg) = state();
    let cmds = s.on_paste(
        "Serial Number\r\nPF3AAA01\r\nPF3!BAD\r\nPF3AAA02\r\nPF3AAA01\r\nPF3AAA03\r\n",
        &cfg,
    );
    assert_eq!(
        cmds.iter().filter(|c| matches!(c, Cmd::Bell)).count(),
        1,
        "one bell"
    );
    let f = s.feedback.clone().unwrap();
    assert_eq!(
        f.text,
        "5 lines: 3 queued, 1 duplicate, 1 refused (line 3: '!' not allowed); header row skipped"
    );
    let r = s.paste_report.clone().unwrap();
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].line, 3);
    assert_eq!(r.refused[0].text, "PF3!BAD");
    assert_eq!(s.pending.len(), 3);
}

#[test]
fn a_tab_in_a_scan_is_named_not_escaped() {
    let (mut s, cfg) = state();
    s.on_paste("PF3\tCONTOSO\n", &cfg);
    let f = s.feedback.clone().unwrap();
    assert!(f.text.contains("a tab at position 4"), "{}", f.text);
    assert!(!f.text.contains("\\u{9}"), "{}", f.text);
}

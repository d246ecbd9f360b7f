use super::*;
use crate::review::verdict::{HistoryEntry, Join};
use chrono::TimeZone;

fn t(h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + chrono::Duration::hours(h)
}

fn p(id: &str, upn: &str) -> Person {
    Person {
        id: id.into(),
        upn: upn.into(),
        display_name: id.into(),
    }
}

fn device() -> DeviceFacts {
    DeviceFacts {
        id: "dev-1".into(),
        name: "PC-1".into(),
        serial: "SN1".into(),
        operating_system: "Windows".into(),
        join: Join::EntraJoined,
    }
}

fn assessment(verdict: Verdict) -> Assessment {
    Assessment {
        current: p("s1", "stage@contoso.com"),
        proposed: Some(p("a", "ana@contoso.com")),
        last_logon: Some(t(40)),
        verdict,
        alternatives: vec![(p("b", "bo@contoso.com"), t(30))],
        history: vec![HistoryEntry {
            user_id: "a".into(),
            person: Some(p("a", "ana@contoso.com")),
            at: t(40),
            staging: false,
        }],
    }
}

#[test]
fn json_shape_is_the_headless_contract() {
    let row = PlanRow::new(&device(), &assessment(Verdict::Propose));
    let v = serde_json::to_value(&row).unwrap();
    let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "current_primary_upn",
            "device_name",
            "last_logon",
            "managed_device_id",
            "proposed_upn",
            "reason",
            "serial",
            "verdict"
        ]
    );
    assert_eq!(v["verdict"], "propose");
    assert_eq!(v["last_logon"], "2026-11-21T16:00:00Z");
    assert_eq!(v["proposed_upn"], "ana@contoso.com");
}

#[test]
fn fingerprint_changes_with_the_devices_data() {
    let a = assessment(Verdict::Propose);
    let f = fingerprint("dev-1", &a);
    assert_eq!(f, fingerprint("dev-1", &a.clone()));
    assert_ne!(f, fingerprint("dev-2", &a));
    let mut newer = a.clone();
    newer.history[0].at = t(41);
    assert_ne!(f, fingerprint("dev-1", &newer));
    let mut other = a.clone();
    other.verdict = Verdict::Ambiguous;
    assert_ne!(f, fingerprint("dev-1", &other));
}

#[test]
fn recheck_table() {
    let reviewed = PlanRow::new(&device(), &assessment(Verdict::Propose));
    let ok_pick = |_: &Person| Verdict::Propose;
    let now = assessment(Verdict::Propose);
    assert_eq!(
        recheck(&reviewed, Some(&now), ok_pick),
        Drift::Unchanged(p("a", "ana@contoso.com"))
    );
    // Case differences in UPNs are not drift.
    let mut upper = reviewed.clone();
    upper.current_primary_upn = "STAGE@Contoso.com".into();
    upper.proposed_upn = Some("Ana@Contoso.COM".into());
    assert!(matches!(
        recheck(&upper, Some(&now), ok_pick),
        Drift::Unchanged(_)
    ));

    assert_eq!(recheck(&reviewed, None, ok_pick), Drift::NoLongerCandidate);
    let mut other_primary = now.clone();
    other_primary.current = p("s2", "stage2@contoso.com");
    assert!(matches!(
        recheck(&reviewed, Some(&other_primary), ok_pick),
        Drift::PrimaryChanged { .. }
    ));
    let mut newer = now.clone();
    newer.proposed = Some(p("c", "cy@contoso.com"));
    newer.last_logon = Some(t(50));
    assert_eq!(
        recheck(&reviewed, Some(&newer), ok_pick).to_string(),
        "proposal changed since review: reviewed ana@contoso.com, now cy@contoso.com"
    );
    let blocked = assessment(Verdict::Blocked(BlockReason::Disabled {
        upn: "ana@contoso.com".into(),
    }));
    assert!(matches!(
        recheck(&reviewed, Some(&blocked), ok_pick),
        Drift::Blocked(_)
    ));
    let mut waiting = reviewed.clone();
    waiting.verdict = "waiting".into();
    assert!(matches!(
        recheck(&waiting, Some(&now), ok_pick),
        Drift::NotWritable { .. }
    ));
    // A row rejected at review time is never written, even when its data still reads `propose`.
    let rejection = crate::review::Rejection {
        device_id: "dev-1".into(),
        serial: "SN1".into(),
        fingerprint: fingerprint("dev-1", &now),
        proposed_upn: Some("ana@contoso.com".into()),
        by: "lead@contoso.com".into(),
        at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap(),
    };
    let rejected = PlanRow::rejected(&device(), &now, &rejection);
    assert_eq!(rejected.verdict, "rejected");
    assert_eq!(
        rejected.reason,
        "rejected by lead@contoso.com at 2026-11-22 09:30 UTC"
    );
    assert_eq!(
        recheck(&rejected, Some(&now), ok_pick).to_string(),
        "row was rejected when reviewed"
    );
}

#[test]
fn an_ambiguous_row_may_carry_the_leads_pick_among_the_alternatives() {
    let now = assessment(Verdict::Ambiguous);
    let mut row = PlanRow::new(&device(), &now);
    row.proposed_upn = Some("bo@contoso.com".into());
    assert_eq!(
        recheck(&row, Some(&now), |_| Verdict::Propose),
        Drift::Unchanged(p("b", "bo@contoso.com"))
    );
    let disabled = |q: &Person| Verdict::Blocked(BlockReason::Disabled { upn: q.upn.clone() });
    assert!(matches!(
        recheck(&row, Some(&now), disabled),
        Drift::Blocked(_)
    ));
    // A propose row cannot be redirected to someone else by editing the file.
    row.verdict = "propose".into();
    assert!(matches!(
        recheck(&row, Some(&now), |_| Verdict::Propose),
        Drift::ProposalChanged { .. }
    ));
}

#[test]
fn plan_files_round_trip_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let rows = vec![
        PlanRow::new(&device(), &assessment(Verdict::Propose)),
        PlanRow::new(
            &DeviceFacts {
                id: "dev-2".into(),
                serial: "SN2".into(),
                ..device()
            },
            &assessment(Verdict::Waiting),
        ),
    ];
    write_plan(&path, &rows).unwrap();
    assert_eq!(read_plan(&path).unwrap(), rows);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["plan.json"], "no temp file left behind");
}

#[test]
fn bad_plan_files_name_the_file_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let good =
        serde_json::to_value(PlanRow::new(&device(), &assessment(Verdict::Propose))).unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("[\n{\"serial\": 1}\n]".into(), "plan.json:2:"),
        ("[\n".into(), "plan.json:2:0"),
        (
            {
                let mut v = good.clone();
                v["colour"] = "red".into();
                format!("[{v}]")
            },
            "unknown field `colour`",
        ),
        (
            {
                let mut v = good.clone();
                v["verdict"] = "maybe".into();
                format!("[{v}]")
            },
            "row 1 (SN1): field `verdict`",
        ),
        (
            {
                let mut v = good.clone();
                v["proposed_upn"] = serde_json::Value::Null;
                format!("[{v}]")
            },
            "row 1 (SN1): field `proposed_upn`",
        ),
        (
            format!("[{good},{good}]"),
            "row 2 (SN1): field `managed_device_id`: device listed twice",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&path, &text).unwrap();
        let e = read_plan(&path).unwrap_err().to_string();
        assert!(e.contains(want), "{text}\n→ {e}\nwanted {want}");
        assert!(e.contains("plan.json"), "{e}");
    }
    let missing = read_plan(&dir.path().join("nope.json"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.json: read"), "{missing}");
}

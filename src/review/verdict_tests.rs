//! One table test per rule and per edge case of issue 7.

use super::*;
use chrono::TimeZone;

pub(crate) fn t(h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + Duration::hours(h)
}

pub(crate) fn person(id: &str, upn: &str) -> Person {
    Person {
        id: id.into(),
        upn: upn.into(),
        display_name: format!("Name {id}"),
    }
}

pub(crate) fn licensed(id: &str, upn: &str) -> UserLookup {
    UserLookup::Found(UserFacts {
        person: person(id, upn),
        enabled: true,
        plans: vec![PlanFact {
            name: Some("INTUNE_A".into()),
            id: Some(INTUNE_A_PLAN_ID.into()),
            active: true,
        }],
    })
}

pub(crate) fn windows(id: &str) -> DeviceFacts {
    DeviceFacts {
        id: id.into(),
        name: format!("PC-{id}"),
        serial: format!("SN{id}"),
        operating_system: "Windows".into(),
        join: Join::EntraJoined,
    }
}

fn staging() -> StagingConfig {
    StagingConfig {
        accounts: vec!["stage@contoso.com".into(), "O'Neil@Contoso.com".into()],
    }
}

/// The directory used by most cases: two staging accounts, real users a..e with their troubles.
fn directory() -> BTreeMap<String, UserLookup> {
    let mut m = BTreeMap::new();
    m.insert("s1".into(), licensed("s1", "STAGE@contoso.com"));
    m.insert("s2".into(), licensed("s2", "o'neil@contoso.com"));
    m.insert("a".into(), licensed("a", "ana@contoso.com"));
    m.insert("b".into(), licensed("b", "bo@contoso.com"));
    m.insert("gone".into(), UserLookup::NotFound);
    let mut dis = licensed("dis", "dis@contoso.com");
    if let UserLookup::Found(u) = &mut dis {
        u.enabled = false;
    }
    m.insert("dis".into(), dis);
    let mut nolic = licensed("nolic", "nolic@contoso.com");
    if let UserLookup::Found(u) = &mut nolic {
        u.plans = vec![PlanFact {
            name: Some("EXCHANGE_S_STANDARD".into()),
            id: None,
            active: true,
        }];
    }
    m.insert("nolic".into(), nolic);
    let mut pending = licensed("pending", "pending@contoso.com");
    if let UserLookup::Found(u) = &mut pending {
        u.plans[0].active = false;
    }
    m.insert("pending".into(), pending);
    // App-only facts: assignedPlans carry the id but no name.
    m.insert(
        "byid".into(),
        UserLookup::Found(UserFacts {
            person: person("byid", "byid@contoso.com"),
            enabled: true,
            plans: vec![PlanFact {
                name: None,
                id: Some(INTUNE_A_PLAN_ID.to_uppercase()),
                active: true,
            }],
        }),
    );
    m.insert(
        "custom".into(),
        UserLookup::Found(UserFacts {
            person: person("custom", "custom@contoso.com"),
            enabled: true,
            plans: vec![PlanFact {
                name: Some("INTUNE_EDU".into()),
                id: None,
                active: true,
            }],
        }),
    );
    m
}

fn run(device: &DeviceFacts, primary: Option<&str>, signins: &[(&str, i64)]) -> Option<Assessment> {
    let dir = directory();
    let primary = primary.map(|id| match &dir[id] {
        UserLookup::Found(u) => u.person.clone(),
        UserLookup::NotFound => unreachable!(),
    });
    let signins: Vec<SignIn> = signins
        .iter()
        .map(|(u, h)| SignIn {
            user_id: (*u).into(),
            at: t(*h),
        })
        .collect();
    let st = staging();
    let plans = vec!["INTUNE_A".to_string(), "INTUNE_EDU".to_string()];
    let rules = Rules {
        staging: &st,
        window: Duration::hours(24),
        intune_plans: &plans,
    };
    assess(device, primary.as_ref(), &signins, &dir, &rules)
}

#[test]
fn verdict_table() {
    let dev = windows("1");
    // (case, primary, sign-ins (user, hour), verdict, proposed upn)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, i64)>,
        Verdict,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "one real user",
            "s1",
            vec![("a", 10)],
            Verdict::Propose,
            Some("ana@contoso.com"),
        ),
        ("no sign-in at all", "s1", vec![], Verdict::Waiting, None),
        (
            "only staging signed in",
            "s1",
            vec![("s1", 5), ("s2", 9)],
            Verdict::Waiting,
            None,
        ),
        (
            "staging signed in after the real user",
            "s1",
            vec![("a", 10), ("s1", 30), ("s2", 31)],
            Verdict::Propose,
            Some("ana@contoso.com"),
        ),
        (
            "other user within the window",
            "s1",
            vec![("a", 40), ("b", 20)],
            Verdict::Ambiguous,
            Some("ana@contoso.com"),
        ),
        (
            "other user exactly at the window edge",
            "s1",
            vec![("a", 40), ("b", 16)],
            Verdict::Ambiguous,
            Some("ana@contoso.com"),
        ),
        (
            "other user before the window",
            "s1",
            vec![("a", 40), ("b", 15)],
            Verdict::Propose,
            Some("ana@contoso.com"),
        ),
        (
            "same user twice is not ambiguous",
            "s1",
            vec![("a", 40), ("a", 30)],
            Verdict::Propose,
            Some("ana@contoso.com"),
        ),
        (
            "most recent is a deleted user",
            "s1",
            vec![("gone", 40), ("a", 1)],
            Verdict::Blocked(BlockReason::UserNotFound {
                user_id: "gone".into(),
            }),
            None,
        ),
        (
            "most recent is disabled",
            "s1",
            vec![("dis", 40)],
            Verdict::Blocked(BlockReason::Disabled {
                upn: "dis@contoso.com".into(),
            }),
            Some("dis@contoso.com"),
        ),
        (
            "no Intune plan",
            "s1",
            vec![("nolic", 40)],
            Verdict::Blocked(BlockReason::NoIntuneLicence {
                upn: "nolic@contoso.com".into(),
            }),
            Some("nolic@contoso.com"),
        ),
        (
            "Intune plan not provisioned",
            "s1",
            vec![("pending", 40)],
            Verdict::Blocked(BlockReason::NoIntuneLicence {
                upn: "pending@contoso.com".into(),
            }),
            Some("pending@contoso.com"),
        ),
        (
            "INTUNE_A by id only (assignedPlans)",
            "s1",
            vec![("byid", 40)],
            Verdict::Propose,
            Some("byid@contoso.com"),
        ),
        (
            "another configured Intune plan",
            "s1",
            vec![("custom", 40)],
            Verdict::Propose,
            Some("custom@contoso.com"),
        ),
        (
            "staging UPN with an apostrophe, case differs, is dropped",
            "s2",
            vec![("s2", 50), ("b", 3)],
            Verdict::Propose,
            Some("bo@contoso.com"),
        ),
        (
            "a deleted alternative does not make it ambiguous",
            "s1",
            vec![("a", 40), ("gone", 39)],
            Verdict::Propose,
            Some("ana@contoso.com"),
        ),
    ];
    for (name, primary, signins, verdict, proposed) in cases {
        let got =
            run(&dev, Some(primary), &signins).unwrap_or_else(|| panic!("{name}: not a candidate"));
        assert_eq!(got.verdict, verdict, "{name}");
        assert_eq!(
            got.proposed.as_ref().map(|p| p.upn.as_str()),
            proposed,
            "{name}"
        );
    }
}

#[test]
fn not_a_candidate_when_primary_is_real_or_absent() {
    let dev = windows("1");
    assert_eq!(run(&dev, Some("a"), &[("b", 3)]), None);
    assert_eq!(run(&dev, None, &[("b", 3)]), None);
}

#[test]
fn staging_primary_matches_case_insensitively() {
    // The directory spells the staging accounts STAGE@… and o'neil@…, the config stage@… and O'Neil@….
    let dev = windows("1");
    assert!(run(&dev, Some("s1"), &[]).is_some());
    assert!(run(&dev, Some("s2"), &[]).is_some());
}

#[test]
fn device_rules_block_before_anything_else() {
    let mut mac = windows("1");
    mac.operating_system = "macOS".into();
    let a = run(&mac, Some("s1"), &[("a", 1)]).unwrap();
    assert_eq!(
        a.verdict,
        Verdict::Blocked(BlockReason::NotWindows { os: "macOS".into() })
    );
    assert_eq!(
        a.verdict.reason(),
        "not Windows (macOS): primary user can't be changed"
    );

    for join in [Join::EntraRegistered, Join::Unknown] {
        let mut reg = windows("1");
        reg.join = join;
        let a = run(&reg, Some("s1"), &[("a", 1)]).unwrap();
        assert_eq!(a.verdict, Verdict::Blocked(BlockReason::NotJoined { join }));
    }
    let mut hybrid = windows("1");
    hybrid.join = Join::HybridJoined;
    assert_eq!(
        run(&hybrid, Some("s1"), &[("a", 1)]).unwrap().verdict,
        Verdict::Propose
    );
}

#[test]
fn ambiguous_rows_list_the_alternatives_and_history_is_newest_first() {
    let a = run(
        &windows("1"),
        Some("s1"),
        &[("b", 20), ("s1", 45), ("a", 40), ("b", 2)],
    )
    .unwrap();
    assert_eq!(a.verdict, Verdict::Ambiguous);
    assert_eq!(a.last_logon, Some(t(40)));
    let alts: Vec<_> = a
        .alternatives
        .iter()
        .map(|(p, at)| (p.upn.as_str(), *at))
        .collect();
    assert_eq!(alts, [("bo@contoso.com", t(20))]);
    let hist: Vec<_> = a
        .history
        .iter()
        .map(|h| (h.user_id.as_str(), h.staging))
        .collect();
    assert_eq!(
        hist,
        [("s1", true), ("a", false), ("b", false), ("b", false)]
    );
}

#[test]
fn a_hand_pick_is_checked_by_the_same_user_rules() {
    let dir = directory();
    let st = staging();
    let plans = vec!["INTUNE_A".to_string()];
    let rules = Rules {
        staging: &st,
        window: Duration::hours(24),
        intune_plans: &plans,
    };
    let dev = windows("1");
    assert_eq!(assess_pick(&dev, "b", &dir, &rules), Verdict::Propose);
    assert_eq!(
        assess_pick(&dev, "dis", &dir, &rules),
        Verdict::Blocked(BlockReason::Disabled {
            upn: "dis@contoso.com".into()
        })
    );
    assert_eq!(
        assess_pick(&dev, "nobody", &dir, &rules),
        Verdict::Blocked(BlockReason::UserNotFound {
            user_id: "nobody".into()
        })
    );
}

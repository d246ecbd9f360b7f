//! Every verdict the rules give, reached on the simulated tenant by shaping real devices
//! (`SimHandle::shape_device`): another user within the ambiguity window (and one just outside it),
//! a non-Windows device, an Entra-registered one, a hybrid-joined one, a staging sign-in after the
//! real user, a deleted user signing in last. Read through `Fetcher` over loopback, as the pane and
//! `stagehand review` read them. (Disabled, unlicensed and waiting come from the seeded fleet in
//! `review_sim.rs`.)

use std::collections::BTreeMap;

use crate::review_common::*;
use chrono::Duration;
use stagehand::review::fetch::Fetcher;
use stagehand::review::{BlockReason, Join, Person, Proposal, Verdict};

async fn candidates(t: &Tenant) -> BTreeMap<String, Proposal> {
    Fetcher::new(&t.client, &t.config())
        .candidates()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.device.serial.clone(), c))
        .collect()
}

fn staging_id(t: &Tenant) -> String {
    let (users, _) = t.sim.users();
    users
        .into_iter()
        .find(|(_, upn)| upn.starts_with("staging@"))
        .unwrap()
        .0
}

#[tokio::test]
async fn shaped_devices_reach_every_verdict() {
    let t = Tenant::start(96).await;
    let before = candidates(&t).await;
    // Another enabled, licensed employee, signing in on devices proposed to someone else.
    let other: Person = t.some_employee().await;
    let propose: Vec<&Proposal> = before
        .values()
        .filter(|c| c.assessment.verdict == Verdict::Propose)
        .filter(|c| {
            c.assessment
                .proposed
                .as_ref()
                .is_some_and(|p| p.id != other.id)
        })
        .collect();
    assert!(propose.len() >= 7, "{} propose rows", propose.len());
    let [amb, outside, mac, registered, hybrid, staging_late, ghost] =
        [0, 1, 2, 3, 4, 5, 6].map(|i| {
            let c = propose[i];
            let at = c.assessment.last_logon.unwrap();
            (
                c.device.serial.clone(),
                c.assessment.proposed.clone().unwrap(),
                at,
            )
        });
    let shape = |serial: &str, f: &dyn Fn(&mut stagehand::sim::Shape)| {
        assert_eq!(t.sim.shape_device(serial, f), 1, "{serial}");
    };
    let window = Duration::hours(24);
    shape(&amb.0, &|s| {
        s.extra_logons
            .push((other.id.clone(), amb.2 - Duration::hours(6)))
    });
    shape(&outside.0, &|s| {
        s.extra_logons
            .push((other.id.clone(), outside.2 - window - Duration::hours(1)))
    });
    shape(&mac.0, &|s| s.operating_system = "macOS".into());
    shape(&registered.0, &|s| s.join_type = "azureADRegistered".into());
    shape(&hybrid.0, &|s| s.join_type = "hybridAzureADJoined".into());
    let staging = staging_id(&t);
    let now = t.sim.now();
    shape(&staging_late.0, &|s| {
        s.extra_logons.push((staging.clone(), now))
    });
    let (_, deleted) = t.sim.users();
    let gone = deleted.first().expect("the sim has deleted users").clone();
    shape(&ghost.0, &|s| s.extra_logons.push((gone.clone(), now)));

    let after = candidates(&t).await;
    let row = |serial: &str| after.get(serial).expect(serial);

    let a = &row(&amb.0).assessment;
    assert_eq!(a.verdict, Verdict::Ambiguous);
    assert_eq!(a.verdict.reason(), "another user signed in shortly before");
    assert_eq!(
        a.proposed.as_ref(),
        Some(&amb.1),
        "the latest sign-in is still proposed"
    );
    let alts: Vec<&str> = a.alternatives.iter().map(|(p, _)| p.upn.as_str()).collect();
    assert_eq!(alts, [other.upn.as_str()]);
    assert_eq!(row(&amb.0).choices.len(), 2, "the picker offers both");

    let o = &row(&outside.0).assessment;
    assert_eq!(o.verdict, Verdict::Propose, "a sign-in outside the window");
    assert!(o.alternatives.is_empty());
    assert_eq!(o.history.iter().filter(|h| !h.staging).count(), 2);

    let m = &row(&mac.0);
    assert_eq!(
        m.assessment.verdict,
        Verdict::Blocked(BlockReason::NotWindows { os: "macOS".into() })
    );
    assert_eq!(
        m.assessment.verdict.reason(),
        "not Windows (macOS): primary user can't be changed"
    );
    assert!(
        m.choices
            .iter()
            .all(|c| matches!(c.verdict, Verdict::Blocked(_))),
        "no hand pick gets around it"
    );

    let r = &row(&registered.0);
    assert_eq!(r.device.join, Join::EntraRegistered);
    assert_eq!(
        r.assessment.verdict,
        Verdict::Blocked(BlockReason::NotJoined {
            join: Join::EntraRegistered
        })
    );
    assert_eq!(
        r.assessment.verdict.reason(),
        "not Entra or hybrid joined (Entra registered)"
    );

    let h = &row(&hybrid.0);
    assert_eq!(h.device.join, Join::HybridJoined);
    assert_eq!(
        h.assessment.verdict,
        Verdict::Propose,
        "hybrid joined is accepted"
    );
    assert_eq!(h.assessment.proposed.as_ref(), Some(&hybrid.1));

    let s = &row(&staging_late.0).assessment;
    assert_eq!(s.verdict, Verdict::Propose);
    assert_eq!(
        s.proposed.as_ref(),
        Some(&staging_late.1),
        "staging never proposed"
    );
    assert!(
        s.history[0].staging,
        "the newest sign-in is the staging account"
    );
    assert_eq!(s.last_logon, Some(staging_late.2));

    let g = &row(&ghost.0).assessment;
    assert_eq!(
        g.verdict,
        Verdict::Blocked(BlockReason::UserNotFound {
            user_id: gone.clone()
        })
    );
    assert!(g.proposed.is_none(), "a deleted user cannot be resolved");
}

//! The review's reads against the simulated tenant over real loopback HTTP: candidates and
//! verdicts checked against Graph's own answers, the list-vs-`/users` disagreement, UPN case and
//! the apostrophe staging account, `$batch` cost and the per-run user cache, the plan JSON.

use std::collections::BTreeMap;

use crate::review_common::*;
use stagehand::commands::review::{ReviewArgs, plan_rows, review};
use stagehand::review::fetch::Fetcher;

#[tokio::test]
async fn every_simulated_verdict_matches_what_graph_says_about_the_user() {
    // Seed 5 puts a disabled and an unlicensed employee on in-use devices.
    let t = Tenant::start_seeded(5, 96).await;
    let cfg = t.config();
    let mut f = Fetcher::new(&t.client, &cfg);
    let candidates = f.candidates().await.unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for c in &candidates {
        let a = &c.assessment;
        // Candidates are exactly the devices whose /users is a staging account.
        let primary = t.primary_upn(&c.device.id).await.unwrap();
        assert!(cfg.staging.is_staging(&primary), "{primary}");
        assert!(primary.eq_ignore_ascii_case(&a.current.upn));
        let reason = a.verdict.reason();
        let key = match &a.verdict {
            stagehand::review::Verdict::Blocked(b) => {
                format!(
                    "blocked:{}",
                    serde_json::to_value(b).unwrap()["kind"].as_str().unwrap()
                )
            }
            v => v.word().to_string(),
        };
        *seen.entry(key.clone()).or_default() += 1;
        match key.as_str() {
            "propose" => {
                let u = t.user(&a.proposed.as_ref().unwrap().id).await.unwrap();
                assert_eq!(u["accountEnabled"], true);
                assert!(
                    !cfg.staging
                        .is_staging(u["userPrincipalName"].as_str().unwrap())
                );
            }
            "blocked:disabled" => {
                let u = t.user(&a.proposed.as_ref().unwrap().id).await.unwrap();
                assert_eq!(u["accountEnabled"], false, "{reason}");
            }
            "blocked:no_intune_licence" => {
                let u = t.user(&a.proposed.as_ref().unwrap().id).await.unwrap();
                let plans = u["assignedPlans"].as_array().unwrap();
                assert!(
                    !plans.iter().any(|p| p["servicePlanId"] == INTUNE_A),
                    "{reason}"
                );
            }
            "blocked:user_not_found" => {
                let id = a
                    .history
                    .iter()
                    .find(|h| !h.staging)
                    .unwrap()
                    .user_id
                    .clone();
                assert!(t.user(&id).await.is_none(), "{id} should be 404");
            }
            "waiting" => assert!(a.history.iter().all(|h| h.staging || h.person.is_none())),
            other => panic!("unexpected verdict {other}"),
        }
    }
    for want in [
        "propose",
        "waiting",
        "blocked:disabled",
        "blocked:no_intune_licence",
    ] {
        assert!(
            seen.contains_key(want),
            "the fleet should show {want}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_list_row_that_disagrees_with_users_follows_users() {
    let t = Tenant::start(96).await;
    let cfg = t.config();
    let candidates = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let listed: Vec<&str> = candidates.iter().map(|c| c.device.id.as_str()).collect();
    // Devices the list still shows with a staging UPN while /users already names the employee.
    let stale = t.stale_list_rows(&cfg).await;
    assert!(!stale.is_empty(), "the seeded fleet has lagging list rows");
    for id in &stale {
        assert!(
            !listed.contains(&id.as_str()),
            "{id} follows the list, not /users"
        );
    }
}

#[tokio::test]
async fn staging_accounts_match_in_any_case_including_the_apostrophe() {
    let t = Tenant::start(64).await;
    let mut cfg = t.config();
    let exact = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    cfg.staging.accounts = cfg
        .staging
        .accounts
        .iter()
        .map(|a| a.to_uppercase())
        .collect();
    let upper = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let ids = |c: &[stagehand::review::Proposal]| {
        c.iter().map(|c| c.device.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&exact), ids(&upper));
    assert!(
        exact
            .iter()
            .any(|c| c.assessment.current.upn.contains('\'')),
        "some candidate is held by o'neil"
    );
    // The staging sign-in (also on the apostrophe account) is never proposed.
    for c in &exact {
        if let Some(p) = &c.assessment.proposed {
            assert!(!cfg.staging.is_staging(&p.upn), "{}", p.upn);
        }
    }
}

#[tokio::test]
async fn single_device_reads_and_look_ups_go_in_batches_of_twenty_and_users_are_cached() {
    let t = Tenant::start(96).await;
    let cfg = t.config();
    let before = t.sim.stats();
    let seen_before = t.sim.requests().len();
    let mut f = Fetcher::new(&t.client, &cfg);
    let candidates = f.candidates().await.unwrap();
    let batches = (t.sim.stats().batch_requests - before.batch_requests) as usize;
    let requests = t.sim.requests()[seen_before..].to_vec();
    let items = |want: &dyn Fn(&str) -> bool| {
        requests
            .iter()
            .filter(|r| r.in_batch && r.method == "GET" && want(&r.path))
            .count()
    };
    let primaries = items(&|p| p.contains("/managedDevices/") && p.ends_with("/users"));
    let devices = items(&|p| p.contains("/managedDevices/") && !p.ends_with("/users"));
    let users = items(&|p| p.contains("/users/") && !p.contains("managedDevices"));
    assert!(
        primaries > 0 && primaries < f.stats.devices,
        "only list rows showing staging or nobody are asked"
    );
    assert_eq!(devices, candidates.len());
    assert_eq!(users, f.stats.user_lookups);
    assert_eq!(
        batches,
        primaries.div_ceil(20) + devices.div_ceil(20) + users.div_ceil(20),
        "{:?}",
        f.stats
    );
    assert_eq!(f.stats.batches, batches);
    // Nothing outside a batch but the list itself.
    let single: Vec<_> = requests
        .iter()
        .filter(|r| !r.in_batch && !r.path.ends_with("$batch"))
        .map(|r| r.path.clone())
        .collect();
    assert!(
        single.iter().all(|p| p.ends_with("/managedDevices")),
        "{single:?}"
    );
    // A second pass with the same fetcher looks up no user again.
    let looked = f.stats.user_lookups;
    let ids: Vec<String> = f.users().keys().cloned().collect();
    f.resolve(ids).await.unwrap();
    assert_eq!(f.stats.user_lookups, looked);
}

#[tokio::test]
async fn plan_rows_are_what_review_json_prints() {
    let t = Tenant::start(40).await;
    let cfg = t.config();
    let candidates = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    review(
        &t.client,
        &cfg,
        dir.path(),
        &ReviewArgs {
            csv: false,
            json: true,
            out: None,
        },
        &mut out,
    )
    .await
    .unwrap();
    let printed: Vec<stagehand::review::PlanRow> = serde_json::from_slice(&out).unwrap();
    assert_eq!(printed, plan_rows(&candidates, &Default::default()));
}

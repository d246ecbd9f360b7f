//! Applying changes against the simulated tenant over real loopback HTTP: partial failures with
//! Graph's reasons and both audit records, `reassign` writing exactly the `propose` rows (dry run,
//! declined confirmation, failing service and its exit code), plan files with a drift re-check.

use std::io::Cursor;
use std::time::Duration;

use crate::review_common::*;
use serde_json::Value;
use stagehand::commands::review::{EXIT_UNCONFIRMED, ReassignArgs, ReviewArgs, reassign, review};
use stagehand::review::fetch::Fetcher;
use stagehand::review::write::Writer;
use stagehand::review::{ApplyJob, ApplyState, CONFIRM_TIMEOUT, write_plan};
use stagehand::store::{Actor, AuditLog, AuditPhase};

#[tokio::test]
async fn writer_partial_failures_keep_graphs_reason_and_audit_both_sides() {
    let t = Tenant::start(96).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let candidates = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let good = candidates
        .iter()
        .find(|c| c.assessment.verdict == stagehand::review::Verdict::Propose)
        .unwrap();
    let disabled = t.disabled_user().await;
    let mut jobs = vec![
        ApplyJob::new(
            &good.device.id,
            &good.device.serial,
            &good.assessment.current.upn,
            good.assessment.proposed.clone().unwrap(),
            "propose",
        ),
        // Graph refuses this one: the user is disabled.
        ApplyJob::new(
            &candidates[1].device.id,
            &candidates[1].device.serial,
            &candidates[1].assessment.current.upn,
            disabled.clone(),
            "edited",
        ),
    ];
    let mut w = Writer::new(
        t.client.clone(),
        std::sync::Arc::new(
            stagehand::store::open_headless(dir.path())
                .unwrap()
                .client()
                .unwrap(),
        ),
        Actor::fixed("lead@contoso.example"),
    );
    for j in &mut jobs {
        w.write(j).await;
    }
    assert!(
        matches!(jobs[0].state, ApplyState::Confirming { .. }),
        "{:?}",
        jobs[0].state
    );
    let ApplyState::Failed { reason } = &jobs[1].state else {
        panic!("{:?}", jobs[1].state)
    };
    assert!(reason.contains("disabled"), "{reason}");
    // Propagation takes sim minutes: not confirmed yet, then confirmed after the sim moves on.
    assert!(
        w.confirm(&mut jobs, chrono::Utc::now(), Some(CONFIRM_TIMEOUT))
            .await
            .unwrap()
            .is_empty()
    );
    t.sim.advance(Duration::from_secs(200));
    assert_eq!(
        w.confirm(&mut jobs, chrono::Utc::now(), Some(CONFIRM_TIMEOUT))
            .await
            .unwrap(),
        vec![0]
    );
    assert!(matches!(jobs[0].state, ApplyState::Confirmed { .. }));

    let read = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    let summary: Vec<_> = read
        .records
        .iter()
        .map(|r| (r.phase, r.serial.clone().unwrap(), r.result.clone()))
        .collect();
    assert_eq!(summary.len(), 4, "{summary:?}");
    assert_eq!(
        summary[0],
        (AuditPhase::Before, good.device.serial.clone(), None)
    );
    assert_eq!(summary[1].0, AuditPhase::After);
    assert_eq!(summary[1].2.as_deref(), Some("ok"));
    assert!(
        read.records[1].request_id.is_some(),
        "the After carries Graph's request-id"
    );
    assert_eq!(summary[2].0, AuditPhase::Before);
    assert!(summary[3].2.as_deref().unwrap().contains("disabled"));
    assert_eq!(read.records[0].actor, "lead@contoso.example");
    assert_eq!(
        read.records[0].to.as_deref(),
        Some(good.assessment.proposed.as_ref().unwrap().upn.as_str())
    );
}

#[tokio::test]
async fn reassign_apply_writes_exactly_the_propose_rows() {
    let t = Tenant::start(96).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let candidates = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let propose: Vec<&str> = candidates
        .iter()
        .filter(|c| c.assessment.verdict == stagehand::review::Verdict::Propose)
        .map(|c| c.device.id.as_str())
        .collect();
    assert!(propose.len() >= 2 && propose.len() < candidates.len());
    let posts_before = t.ref_posts();

    // Dry run: the plan, nothing written.
    let mut out = Vec::new();
    let args = ReassignArgs {
        apply: true,
        yes: true,
        plan: None,
        dry_run: true,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let r = reassign(
        &t.client,
        &cfg,
        dir.path(),
        "lead",
        &args,
        &mut Cursor::new(""),
        &mut out,
    )
    .await
    .unwrap();
    assert!(r.wrote_nothing);
    assert_eq!(r.planned.len(), propose.len());
    assert_eq!(t.ref_posts(), posts_before);
    assert!(!dir.path().join("audit.jsonl").exists());

    // Declining the question writes nothing either.
    let args = ReassignArgs {
        apply: true,
        yes: false,
        plan: None,
        dry_run: false,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let mut out = Vec::new();
    let r = reassign(
        &t.client,
        &cfg,
        dir.path(),
        "lead",
        &args,
        &mut Cursor::new("n\n"),
        &mut out,
    )
    .await
    .unwrap();
    assert!(r.wrote_nothing);
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains(&format!("Apply {} change(s)? [y/N]", propose.len()))
    );
    assert_eq!(t.ref_posts(), posts_before);

    let args = ReassignArgs {
        apply: true,
        yes: true,
        plan: None,
        dry_run: false,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let mut out = Vec::new();
    let r = reassign(
        &t.client,
        &cfg,
        dir.path(),
        "lead",
        &args,
        &mut Cursor::new(""),
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(r.failed.is_empty(), "{text}");
    assert_eq!(r.written, propose.len(), "{text}");
    // --no-wait: one read-back right away, and the sim takes three sim minutes to propagate.
    assert_eq!(r.unconfirmed.len(), propose.len(), "{text}");
    assert_eq!(r.exit_status(), EXIT_UNCONFIRMED);
    assert!(
        text.contains("applied, not yet confirmed (--no-wait)"),
        "{text}"
    );
    let mut posted = t.ref_post_devices();
    posted.sort();
    let mut want: Vec<String> = propose.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(posted, want, "POST users/$ref for exactly the propose rows");
    let audit = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    assert_eq!(audit.records.len(), 2 * propose.len());
    // After propagation the written devices leave the review.
    t.sim.advance(Duration::from_secs(200));
    let again = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    assert!(
        again
            .iter()
            .all(|c| !propose.contains(&c.device.id.as_str()))
    );
}

#[tokio::test]
async fn reassign_exits_non_zero_when_a_write_fails() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    // The confirmation answer is the hook: once the plan is read, Graph starts failing every write.
    let mut input = FaultOnRead {
        sim: &t.sim,
        answered: false,
    };
    let args = ReassignArgs {
        apply: true,
        yes: false,
        plan: None,
        dry_run: false,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let mut out = Vec::new();
    let r = reassign(
        &t.client,
        &cfg,
        dir.path(),
        "lead",
        &args,
        &mut input,
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!r.failed.is_empty(), "{text}");
    assert_eq!(r.exit_code(), std::process::ExitCode::FAILURE);
    assert!(r.failed[0].1.contains("503"), "{:?}", r.failed);
    // Every failure is audited before and after.
    let audit = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    let afters: Vec<_> = audit
        .records
        .iter()
        .filter(|r| r.phase == AuditPhase::After)
        .collect();
    assert_eq!(afters.len(), r.failed.len() + r.written);
    assert!(
        afters
            .iter()
            .any(|a| a.result.as_deref().unwrap().starts_with("failed"))
    );
}

#[tokio::test]
async fn plan_files_are_applied_row_by_row_after_a_drift_check() {
    let t = Tenant::start(96).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let mut json_out = Vec::new();
    let args = ReviewArgs {
        csv: false,
        json: true,
        out: Some(plan_path.clone()),
    };
    review(&t.client, &cfg, dir.path(), &args, &mut json_out)
        .await
        .unwrap();
    let printed: Vec<Value> = serde_json::from_slice(&json_out).unwrap();
    let keys: Vec<&str> = printed[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "serial",
        "managed_device_id",
        "device_name",
        "current_primary_upn",
        "proposed_upn",
        "last_logon",
        "verdict",
        "reason",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    // The lead keeps two propose rows and one waiting row.
    let mut rows = stagehand::review::read_plan(&plan_path).unwrap();
    let mut keep: Vec<_> = rows
        .iter()
        .filter(|r| r.verdict == "propose")
        .take(2)
        .cloned()
        .collect();
    keep.extend(
        rows.iter()
            .filter(|r| r.verdict == "waiting")
            .take(1)
            .cloned(),
    );
    assert_eq!(keep.len(), 3);
    // One propose row drifts: someone fixed that device by hand after the review.
    let drifted = keep[1].clone();
    let someone = t.some_employee().await;
    t.set_primary_now(&drifted.managed_device_id, &someone.id)
        .await;
    write_plan(&plan_path, &keep).unwrap();
    rows.clear();

    let args = ReassignArgs {
        apply: true,
        yes: true,
        plan: Some(plan_path.clone()),
        dry_run: false,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let mut out = Vec::new();
    let r = reassign(
        &t.client,
        &cfg,
        dir.path(),
        "lead",
        &args,
        &mut Cursor::new(""),
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        r.planned,
        vec![(
            keep[0].serial.clone(),
            keep[0].proposed_upn.clone().unwrap()
        )],
        "{text}"
    );
    assert_eq!(r.skipped.len(), 2, "{text}");
    assert!(text.contains("was waiting when reviewed"), "{text}");
    let posted = t.ref_post_devices();
    assert!(posted.contains(&keep[0].managed_device_id));
    assert_eq!(
        posted
            .iter()
            .filter(|d| **d == drifted.managed_device_id)
            .count(),
        1,
        "only the hand fix"
    );
}

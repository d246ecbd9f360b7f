//! `reassign --apply` waits out propagation: after the writes it reads `GET managedDevices/{id}/users`
//! back with backoff until every change agrees or `--confirm-timeout` passes. The simulator applies
//! a primary-user change `primary_user_propagation` of sim time after the POST; the tests move the
//! sim clock (never a long real sleep) and keep real bounds short.

use std::io::Cursor;
use std::time::Duration;

use crate::review_common::*;
use stagehand::commands::review::{
    EXIT_OK, EXIT_UNCONFIRMED, ReassignArgs, ReassignReport, reassign,
};
use stagehand::review::fetch::Fetcher;
use stagehand::sim::SimOptions;

/// A tenant whose primary-user changes take an hour of sim time to show.
async fn slow_tenant() -> Tenant {
    Tenant::start_with(SimOptions {
        devices: 64,
        primary_user_propagation: Duration::from_secs(3600),
        ..SimOptions::default()
    })
    .await
}

fn args(confirm_timeout: Duration, no_wait: bool) -> ReassignArgs {
    ReassignArgs {
        apply: true,
        yes: true,
        plan: None,
        dry_run: false,
        confirm_timeout,
        no_wait,
    }
}

async fn run(t: &Tenant, dir: &std::path::Path, a: &ReassignArgs) -> (ReassignReport, String) {
    let mut out = Vec::new();
    let r = reassign(
        &t.client,
        &t.config(),
        dir,
        "lead",
        a,
        &mut Cursor::new(""),
        &mut out,
    )
    .await
    .unwrap();
    (r, String::from_utf8(out).unwrap())
}

/// Read-backs of a device's `/users` the simulator received (in `$batch`).
fn read_backs(t: &Tenant) -> usize {
    t.sim
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path.contains("/managedDevices/") && r.path.ends_with("/users")
        })
        .count()
}

#[tokio::test]
async fn reassign_keeps_reading_back_until_the_change_shows_and_exits_zero() {
    let t = slow_tenant().await;
    let dir = tempfile::tempdir().unwrap();
    let propose = Fetcher::new(&t.client, &t.config())
        .candidates()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.assessment.verdict.word() == "propose")
        .count();
    assert!(propose > 0);
    let a = args(Duration::from_secs(60), false);
    // Move the sim clock past propagation only once reassign has written everything and has read
    // back at least once without agreement: the confirmation must come from a later read-back.
    let after_first_read_back = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let posts = t.ref_posts();
            let reqs = t.sim.requests();
            let last_post = reqs
                .iter()
                .rposition(|r| r.method == "POST" && r.path.ends_with("/users/$ref"));
            if posts == propose
                && let Some(p) = last_post
                && reqs[p..]
                    .iter()
                    .any(|r| r.method == "GET" && r.path.ends_with("/users"))
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no read-back seen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        t.sim.advance(Duration::from_secs(3700));
    };
    let ((r, text), ()) = tokio::join!(run(&t, dir.path(), &a), after_first_read_back);
    assert!(r.failed.is_empty(), "{text}");
    assert_eq!(r.written, propose, "{text}");
    assert_eq!(r.confirmed, propose, "{text}");
    assert!(r.unconfirmed.is_empty(), "{text}");
    assert_eq!(r.exit_status(), EXIT_OK);
    assert!(text.contains("waiting up to 1m for"), "{text}");
    assert_eq!(text.matches(" confirmed\n").count(), propose, "{text}");
}

#[tokio::test]
async fn a_change_that_never_shows_in_time_is_applied_not_yet_confirmed_and_exits_three() {
    let t = slow_tenant().await;
    let dir = tempfile::tempdir().unwrap();
    let (r, text) = run(&t, dir.path(), &args(Duration::from_secs(1), false)).await;
    assert!(r.written > 0 && r.failed.is_empty(), "{text}");
    assert_eq!(r.confirmed, 0);
    assert_eq!(r.unconfirmed.len(), r.written);
    assert_eq!(r.exit_status(), EXIT_UNCONFIRMED);
    assert_eq!(
        text.matches("applied, not yet confirmed after 1s").count(),
        r.written,
        "{text}"
    );
    assert!(
        !text.contains("failed:"),
        "written changes are never called failed: {text}"
    );
}

#[tokio::test]
async fn no_wait_reads_back_once() {
    let t = slow_tenant().await;
    let dir = tempfile::tempdir().unwrap();
    let (r, text) = run(&t, dir.path(), &args(Duration::from_secs(600), true)).await;
    let reads_before = {
        // The review itself read every candidate's /users once before writing.
        let reqs = t.sim.requests();
        let first_post = reqs
            .iter()
            .position(|q| q.method == "POST" && q.path.ends_with("/users/$ref"))
            .unwrap();
        reqs[..first_post]
            .iter()
            .filter(|q| {
                q.method == "GET"
                    && q.path.ends_with("/users")
                    && q.path.contains("/managedDevices/")
            })
            .count()
    };
    assert_eq!(
        read_backs(&t) - reads_before,
        r.written,
        "one read-back per written device"
    );
    assert_eq!(r.exit_status(), EXIT_UNCONFIRMED);
    assert!(!text.contains("waiting up to"), "{text}");
    assert_eq!(
        text.matches("applied, not yet confirmed (--no-wait)")
            .count(),
        r.written,
        "{text}"
    );
}

#[test]
fn the_command_line_takes_a_bound_and_names_a_bad_one() {
    use clap::Parser;
    use stagehand::cli::{Cli, Command};
    let parse = |extra: &[&str]| {
        let mut argv = vec!["stagehand", "reassign", "--apply"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv)
    };
    let Some(Command::Reassign(a)) = parse(&[]).unwrap().command else {
        panic!("reassign")
    };
    assert_eq!(
        a.confirm_timeout,
        Duration::from_secs(600),
        "10 minutes by default"
    );
    assert!(!a.no_wait);
    let Some(Command::Reassign(a)) = parse(&["--confirm-timeout", "90s", "--no-wait"])
        .unwrap()
        .command
    else {
        panic!("reassign")
    };
    assert_eq!(a.confirm_timeout, Duration::from_secs(90));
    assert!(a.no_wait);
    let e = parse(&["--confirm-timeout", "5d"]).unwrap_err().to_string();
    assert!(
        e.contains("--confirm-timeout") && e.contains("unknown unit \"d\""),
        "{e}"
    );
}

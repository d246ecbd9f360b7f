//! A crash between the write and the audit `After` record leaves the `Before` record.
//!
//! The child (this test binary again, running the ignored `crash_child`) writes one change to the
//! simulator the parent runs, through the real `Writer` and a real `AuditLog`. Its audit sink
//! announces the `After` record on stdout and then blocks; the parent SIGKILLs the child at that
//! moment (`Child::kill`), then reads the audit file and the tenant.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::review_common::Tenant;
use stagehand::review::fetch::Fetcher;
use stagehand::review::write::{AuditSink, Writer};
use stagehand::review::{ApplyJob, Person, Verdict};
use stagehand::store::{Actor, AuditLog, AuditPhase, AuditRecord, StoreClient};

const CHILD_ENV: &str = "STAGEHAND_REVIEW_CRASH_CHILD";

/// Hands `Before` records to the store thread; on the `After` record, says so and waits to be
/// killed.
struct StopBeforeAfter(StoreClient);

impl AuditSink for StopBeforeAfter {
    fn record(&self, record: AuditRecord) -> futures::future::BoxFuture<'_, Result<(), String>> {
        if record.phase == AuditPhase::After {
            println!("WRITTEN");
            std::io::stdout().flush().unwrap();
            loop {
                std::thread::park();
            }
        }
        Box::pin(self.0.audit(record))
    }
}

#[test]
#[ignore = "child process of audit_before_record_survives_a_kill_between_write_and_after"]
fn crash_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    // stdin: base URL, token, data dir, device id, serial, from, user id, user upn.
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map(Result::unwrap)
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = stagehand::graph::GraphClient::new(
            url::Url::parse(&lines[0]).unwrap(),
            stagehand::graph::Timeouts::default(),
            std::sync::Arc::new(stagehand::auth::StaticToken(
                stagehand::secret::Secret::new(lines[1].clone()),
            )),
            std::sync::Arc::new(stagehand::graph::Governor::new(&[])),
        )
        .unwrap();
        let store = stagehand::store::open_headless(std::path::Path::new(&lines[2])).unwrap();
        let mut w = Writer::new(
            client,
            std::sync::Arc::new(StopBeforeAfter(store.client().unwrap())),
            Actor::fixed("lead@contoso.example"),
        );
        let to = Person {
            id: lines[6].clone(),
            upn: lines[7].clone(),
            display_name: String::new(),
        };
        let mut job = ApplyJob::new(&lines[3], &lines[4], &lines[5], to, "propose");
        w.write(&mut job).await;
    });
    unreachable!("the parent kills this process before the After record");
}

#[tokio::test]
async fn audit_before_record_survives_a_kill_between_write_and_after() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let c = Fetcher::new(&t.client, &cfg)
        .candidates()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.assessment.verdict == Verdict::Propose)
        .unwrap();
    let to = c.assessment.proposed.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = t
        .sim
        .issue_token(stagehand::sim::ALL_DELEGATED, Duration::from_secs(600));

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "review_crash::crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for line in [
            t.sim.base_url.as_str(),
            token.expose(),
            dir.path().to_str().unwrap(),
            &c.device.id,
            &c.device.serial,
            &c.assessment.current.upn,
            &to.id,
            &to.upn,
        ] {
            writeln!(stdin, "{line}").unwrap();
        }
    }
    // Wait (bounded) for the child to reach the After record, then kill it there.
    let stdout = child.stdout.take().unwrap();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if line.as_deref().is_ok_and(|l| l.contains("WRITTEN")) {
                let _ = seen_tx.send(());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if seen_rx.try_recv().is_ok() {
            break;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the child never reached the After record");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let read = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    assert!(read.damaged.is_empty(), "{:?}", read.damaged);
    assert_eq!(read.records.len(), 1, "{:?}", read.records);
    let before = &read.records[0];
    assert_eq!(before.phase, AuditPhase::Before);
    assert_eq!(before.device_id.as_deref(), Some(c.device.id.as_str()));
    assert_eq!(before.serial.as_deref(), Some(c.device.serial.as_str()));
    assert_eq!(before.to.as_deref(), Some(to.upn.as_str()));
    assert_eq!(before.verdict.as_deref(), Some("propose"));
    // And the write itself reached Graph.
    assert!(t.ref_post_devices().contains(&c.device.id));
}

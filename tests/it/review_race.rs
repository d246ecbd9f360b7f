//! A rejection always wins against a `reassign --apply` already waiting at "Apply N changes?": a
//! lead rejects rows in the console while the question is on screen (here: the answer's reader
//! records the rejections in the data dir's database the moment it is asked, as the console would,
//! then answers "y"). Those rows are not written; they are reported as rejected. The counts are
//! exact: one `POST …/users/$ref` and two audit lines (before, after) per written row, nothing for
//! a rejected one.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::review_common::Tenant;
use stagehand::commands::review::{ReassignArgs, reassign};
use stagehand::review::fetch::Fetcher;
use stagehand::review::{Rejection, RejectionLine, Verdict, fingerprint, rejections};
use stagehand::store::{AuditLog, AuditPhase, Store};

const LEAD: &str = "lead@contoso.example";
const OTHER_LEAD: &str = "second-lead@contoso.example";

/// Answers the confirmation with "y", after recording `lines` in the data dir as a console would.
struct RejectWhileAsked {
    dir: PathBuf,
    lines: Vec<RejectionLine>,
    answer: &'static [u8],
    asked: bool,
}

impl std::io::Read for RejectWhileAsked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.answer[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for RejectWhileAsked {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if !self.asked {
            self.asked = true;
            // The console holds the lock while it runs; it is closed again before the answer.
            let (mut db, _, _) = Store::open(&self.dir).expect("the console opens the data dir");
            let mut lines = std::mem::take(&mut self.lines);
            for l in &mut lines {
                if let RejectionLine::Rejected(r) = l {
                    r.at = chrono::Utc::now();
                }
            }
            db.write("reject", |tx| rejections::apply_lines(tx, &lines))
                .unwrap();
        }
        Ok(self.answer)
    }

    fn consume(&mut self, n: usize) {
        self.answer = &self.answer[n..];
    }
}

fn rejection(device: &str, serial: &str, fingerprint: &str) -> RejectionLine {
    RejectionLine::Rejected(Rejection {
        device_id: device.into(),
        serial: serial.into(),
        fingerprint: fingerprint.into(),
        proposed_upn: None,
        by: OTHER_LEAD.into(),
        at: chrono::Utc::now(),
    })
}

fn audit_lines(dir: &Path) -> Vec<stagehand::store::AuditRecord> {
    let read = AuditLog::open(dir).unwrap().read_all().unwrap();
    assert!(read.damaged.is_empty(), "{:?}", read.damaged);
    read.records
}

#[tokio::test]
async fn rows_rejected_while_reassign_waits_at_the_question_are_not_written() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let candidates = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let propose: Vec<_> = candidates
        .iter()
        .filter(|c| c.assessment.verdict == Verdict::Propose)
        .collect();
    assert!(propose.len() >= 3, "{}", propose.len());
    // One rejected on exactly the data reassign read; one on data the lead saw a moment later
    // (another fingerprint): both are newer than the plan, and both win.
    let (a, b) = (&propose[0].device, &propose[1].device);
    let lines = vec![
        rejection(
            &a.id,
            &a.serial,
            &fingerprint(&a.id, &propose[0].assessment),
        ),
        rejection(&b.id, &b.serial, "the-console-saw-newer-data"),
    ];
    let mut input = RejectWhileAsked {
        dir: dir.path().to_path_buf(),
        lines,
        answer: b"y\n",
        asked: false,
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
    let report = reassign(
        &t.client,
        &cfg,
        dir.path(),
        LEAD,
        &args,
        &mut input,
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(input.asked, "the question was asked: {text}");
    assert!(
        text.contains(&format!("Apply {} change(s)?", propose.len())),
        "{text}"
    );

    let posted = t.ref_post_devices();
    assert!(!posted.contains(&a.id) && !posted.contains(&b.id), "{text}");
    assert_eq!(
        posted.len(),
        propose.len() - 2,
        "each other row once: {text}"
    );
    let mut once = posted.clone();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), posted.len(), "no row written twice");
    for serial in [&a.serial, &b.serial] {
        assert!(
            report.skipped.iter().any(
                |(s, why)| s == serial && why.starts_with(&format!("rejected by {OTHER_LEAD}"))
            ),
            "{report:?}"
        );
        assert!(
            text.contains(&format!("skip   {serial:<14} rejected by {OTHER_LEAD}")),
            "{text}"
        );
        assert!(!report.planned.iter().any(|(s, _)| s == serial));
    }
    assert_eq!(report.written, propose.len() - 2);

    let audit = audit_lines(dir.path());
    assert_eq!(audit.len(), 2 * posted.len(), "{audit:?}");
    for device in &posted {
        let mine: Vec<_> = audit
            .iter()
            .filter(|r| r.device_id.as_deref() == Some(device.as_str()))
            .collect();
        assert_eq!(mine.len(), 2, "{device}");
        assert_eq!(
            (mine[0].phase, mine[1].phase),
            (AuditPhase::Before, AuditPhase::After)
        );
        assert!(mine.iter().all(|r| r.actor == LEAD));
    }
    assert!(
        !audit
            .iter()
            .any(|r| r.device_id.as_deref() == Some(a.id.as_str())
                || r.device_id.as_deref() == Some(b.id.as_str())),
        "a rejected row leaves no audit line"
    );
}

/// The same race with a reviewed plan file (`--plan`): a row rejected while the question waits is
/// skipped, the rest of the plan is written once each.
#[tokio::test]
async fn a_plan_row_rejected_while_reassign_waits_is_not_written() {
    let t = Tenant::start(64).await;
    let cfg = t.config();
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let args = stagehand::commands::review::ReviewArgs {
        json: false,
        out: Some(plan_path.clone()),
        csv: false,
    };
    stagehand::commands::review::review(&t.client, &cfg, dir.path(), &args, &mut Vec::new())
        .await
        .unwrap();
    let candidates = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let propose: Vec<_> = candidates
        .iter()
        .filter(|c| c.assessment.verdict == Verdict::Propose)
        .collect();
    let a = &propose[0].device;
    let mut input = RejectWhileAsked {
        dir: dir.path().to_path_buf(),
        lines: vec![rejection(
            &a.id,
            &a.serial,
            &fingerprint(&a.id, &propose[0].assessment),
        )],
        answer: b"y\n",
        asked: false,
    };
    let args = ReassignArgs {
        apply: true,
        yes: false,
        plan: Some(plan_path),
        dry_run: false,
        confirm_timeout: Duration::from_secs(600),
        no_wait: true,
    };
    let mut out = Vec::new();
    let report = reassign(
        &t.client,
        &cfg,
        dir.path(),
        LEAD,
        &args,
        &mut input,
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let posted = t.ref_post_devices();
    assert!(!posted.contains(&a.id), "{text}");
    assert_eq!(posted.len(), propose.len() - 1, "{text}");
    assert!(
        report
            .skipped
            .iter()
            .any(|(s, why)| *s == a.serial && why.contains("rejected by")),
        "{report:?}"
    );
    assert_eq!(audit_lines(dir.path()).len(), 2 * posted.len());
}

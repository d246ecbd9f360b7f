//! The headless twins of the review pane, for the runbook's scheduled automation:
//! `stagehand review [--json]` prints the plan (rows a lead rejected in the console show as
//! `rejected`); `stagehand reassign --apply [--yes] [--plan FILE] [--dry-run]` writes only `propose`
//! rows that nobody rejected (or exactly the rows of a reviewed plan file, re-checked against current
//! data first), audited before and after each write.
//!
//! A rejection always wins: after the confirmation, `reassign` takes the data-dir lock (so no
//! console can record a rejection meanwhile) and reads the rejections again immediately before
//! each write; a row rejected since the plan was shown is skipped with who rejected it.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use crate::config::Config;
use crate::graph::GraphClient;
use crate::review::confirm::{human, parse_duration, wait_confirmed};
use crate::review::fetch::Fetcher;
use crate::review::plan::rejected_reason;
use crate::review::rejections::{self, Rejections};
use crate::review::write::Writer;
use crate::review::{
    ApplyJob, ApplyState, Drift, PlanRow, Proposal, Rejection, Verdict, assess_pick, fingerprint,
    read_plan, recheck, write_plan,
};
use crate::store::Actor;
use crate::text::{Escaped, escape as esc};

#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    /// Print the plan as a JSON array (serial, managed_device_id, device_name,
    /// current_primary_upn, proposed_upn, last_logon, verdict, reason). Rows a lead rejected (and
    /// whose data has not changed since) have verdict `rejected`.
    #[arg(long)]
    pub json: bool,
    /// Write the candidates to `<data dir>/exports/` as CSV and JSON, with the Review pane's
    /// columns (rejected rows included, verdict `rejected`), and print the two paths.
    #[arg(long)]
    pub csv: bool,
    /// Also write the plan to FILE (atomically), for review and `reassign --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReassignArgs {
    /// Write the changes (without it, nothing is written: same as --dry-run).
    #[arg(long)]
    pub apply: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Apply exactly the rows of this reviewed plan file, re-checked against current data.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Show what would be written and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After writing, read each device's primary user back (with backoff) until it agrees or this
    /// much time has passed: `90s`, `10m`, `1h`.
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = parse_duration)]
    pub confirm_timeout: Duration,
    /// Read back once right after writing, without waiting for propagation.
    #[arg(long)]
    pub no_wait: bool,
}

/// `reassign` exit codes (2 is any error before or around the writes, as for every command).
pub const EXIT_OK: u8 = 0;
/// A write failed: Graph refused it, or its audit record could not be made durable first.
pub const EXIT_FAILED: u8 = 1;
/// Every write was accepted, but at least one was not confirmed by the read-back in time.
pub const EXIT_UNCONFIRMED: u8 = 3;

/// The rejection that still holds for this candidate's current data, if any.
pub fn rejection_of<'r>(rejected: &'r Rejections, c: &Proposal) -> Option<&'r Rejection> {
    rejected.matching(&c.device.id, &fingerprint(&c.device.id, &c.assessment))
}

/// The plan rows of every candidate; rejected ones (same data as when rejected) read `rejected`.
pub fn plan_rows(candidates: &[Proposal], rejected: &Rejections) -> Vec<PlanRow> {
    candidates
        .iter()
        .map(|c| match rejection_of(rejected, c) {
            Some(r) => PlanRow::rejected(&c.device, &c.assessment, r),
            None => PlanRow::new(&c.device, &c.assessment),
        })
        .collect()
}

/// `stagehand review`: prints the plan (JSON or a table) and optionally writes it to a file. The
/// rejections are read from `data_dir` (never written: a headless run forgets nothing).
pub async fn review(
    client: &GraphClient,
    config: &Config,
    data_dir: &Path,
    args: &ReviewArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let rejected = rejections::load(data_dir)?;
    let candidates = Fetcher::new(client, config).candidates().await?;
    let rows = plan_rows(&candidates, &rejected);
    if let Some(path) = &args.out {
        write_plan(path, &rows)?;
    }
    if args.csv {
        let table = review_table(candidates, &rejected);
        let w = crate::export::write(data_dir, &table, chrono::Utc::now())?;
        writeln!(out, "{}\n{}", w.csv.display(), w.json.display())?;
        if !args.json {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
    } else {
        for r in &rows {
            writeln!(
                out,
                "{:<14} {:<16} {} → {}  {} {}",
                esc(&r.serial),
                esc(&r.device_name),
                esc(&r.current_primary_upn),
                esc(r.proposed_upn.as_deref().unwrap_or("—")),
                r.verdict,
                Escaped(&r.reason)
            )?;
        }
        writeln!(out, "{} candidate(s)", rows.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The Review pane's export of every candidate, proposals first; a row a lead rejected (for the
/// same data) reads `rejected` with who and when.
pub fn review_table(candidates: Vec<Proposal>, rejected: &Rejections) -> crate::export::Table {
    use crate::app::review::{ReviewRow, text};
    let mut rows: Vec<ReviewRow> = candidates
        .into_iter()
        .map(|c| ReviewRow {
            fingerprint: fingerprint(&c.device.id, &c.assessment),
            candidate: c,
            pick: None,
            apply: None,
            drifted: false,
        })
        .collect();
    rows.sort_by(|a, b| {
        text::rank(a)
            .cmp(&text::rank(b))
            .then_with(|| a.candidate.device.name.cmp(&b.candidate.device.name))
    });
    let verdict = text::COLUMNS.iter().position(|c| *c == "Verdict");
    let reason = text::COLUMNS.iter().position(|c| *c == "Reason");
    let rows = rows
        .iter()
        .map(|r| {
            let mut cells = text::export_row(r, false);
            if let (Some(rj), Some(v), Some(why)) = (
                rejected.matching(&r.candidate.device.id, &r.fingerprint),
                verdict,
                reason,
            ) {
                cells[v] = "rejected".into();
                cells[why] = rejected_reason(rj);
            }
            cells
        })
        .collect();
    crate::export::Table {
        name: "review",
        columns: text::COLUMNS.to_vec(),
        rows,
    }
}

/// What `reassign` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReassignReport {
    /// Rows that would be (or were) written: (serial, to UPN).
    pub planned: Vec<(String, String)>,
    /// Plan rows not written, with why (drift, not writable).
    pub skipped: Vec<(String, String)>,
    pub written: usize,
    pub confirmed: usize,
    /// Written, but the read-back did not agree within the bound (serials).
    pub unconfirmed: Vec<String>,
    /// (serial, reason)
    pub failed: Vec<(String, String)>,
    /// Nothing was sent (dry run, declined, or nothing to do).
    pub wrote_nothing: bool,
}

impl ReassignReport {
    /// [`EXIT_FAILED`] when a write failed, else [`EXIT_UNCONFIRMED`] when a written change was
    /// not confirmed in time, else [`EXIT_OK`] (also when nothing was written).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit_status())
    }

    pub fn exit_status(&self) -> u8 {
        if !self.failed.is_empty() {
            EXIT_FAILED
        } else if !self.unconfirmed.is_empty() {
            EXIT_UNCONFIRMED
        } else {
            EXIT_OK
        }
    }
}

/// A job and the fingerprint of the data it was chosen from (what a rejection is matched against).
type Chosen = (ApplyJob, String);

/// Chooses the jobs: every `propose` row nobody rejected, or the plan file's rows that survive the
/// re-check and were not rejected since.
fn select(
    fetcher: &Fetcher<'_>,
    candidates: &[Proposal],
    rejected: &Rejections,
    plan: Option<&[PlanRow]>,
    report: &mut ReassignReport,
) -> Vec<Chosen> {
    let job = |c: &Proposal, to: &crate::review::Person, verdict: &str| {
        let d = &c.device;
        let job = ApplyJob::new(
            &d.id,
            &d.serial,
            &c.assessment.current.upn,
            to.clone(),
            verdict,
        );
        (job, fingerprint(&d.id, &c.assessment))
    };
    let Some(plan) = plan else {
        return candidates
            .iter()
            .filter(|c| c.assessment.verdict == Verdict::Propose)
            .filter(|c| match rejection_of(rejected, c) {
                Some(r) => {
                    let why = rejected_reason(r);
                    report.skipped.push((c.device.serial.clone(), why));
                    false
                }
                None => true,
            })
            .filter_map(|c| Some(job(c, c.assessment.proposed.as_ref()?, "propose")))
            .collect();
    };
    let rules = fetcher.rules();
    let mut jobs = Vec::new();
    for row in plan {
        let c = candidates
            .iter()
            .find(|c| c.device.id.eq_ignore_ascii_case(&row.managed_device_id));
        let drift = recheck(row, c.map(|c| &c.assessment), |p| match c {
            Some(c) => assess_pick(&c.device, &p.id, fetcher.users(), &rules),
            None => Verdict::Waiting,
        });
        match (drift, c) {
            (Drift::Unchanged(_), Some(c)) if rejection_of(rejected, c).is_some() => {
                let why = rejection_of(rejected, c).map(rejected_reason);
                report
                    .skipped
                    .push((row.serial.clone(), why.unwrap_or_default()));
            }
            (Drift::Unchanged(to), Some(c)) => {
                let same = c
                    .assessment
                    .proposed
                    .as_ref()
                    .is_some_and(|p| p.id == to.id);
                let verdict = if same { row.verdict.as_str() } else { "edited" };
                jobs.push(job(c, &to, verdict));
            }
            (drift, _) => report.skipped.push((row.serial.clone(), drift.to_string())),
        }
    }
    jobs
}

/// The rejection that stops `job` now: one matching the data it was chosen from, or any made
/// after this run read the tenant (the lead saw something this run did not; theirs wins).
fn stopped_by<'r>(
    now: &'r Rejections,
    job: &ApplyJob,
    fingerprint: &str,
    fetched_at: DateTime<Utc>,
) -> Option<&'r Rejection> {
    now.matching(&job.device_id, fingerprint).or_else(|| {
        now.iter()
            .find(|r| r.device_id.eq_ignore_ascii_case(&job.device_id) && r.at >= fetched_at)
    })
}

/// `stagehand reassign`. `input` answers the confirmation question; `out` gets the plan and the
/// summary. The audit log is `audit.jsonl` in `data_dir`; the data-dir lock is held from the
/// confirmation until every write is audited, and the rejections are read again before each write.
#[allow(clippy::too_many_arguments)]
pub async fn reassign(
    client: &GraphClient,
    config: &Config,
    data_dir: &Path,
    actor: &str,
    args: &ReassignArgs,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<ReassignReport> {
    let plan = match &args.plan {
        Some(path) => Some(read_plan(path)?),
        None => None,
    };
    let rejected = rejections::load(data_dir)?;
    let fetched_at = Utc::now();
    let mut fetcher = Fetcher::new(client, config);
    let candidates = fetcher.candidates().await?;
    let mut report = ReassignReport::default();
    let chosen = select(
        &fetcher,
        &candidates,
        &rejected,
        plan.as_deref(),
        &mut report,
    );
    report.planned = chosen
        .iter()
        .map(|(j, _)| j)
        .map(|j| (j.serial.clone(), j.to.upn.clone()))
        .collect();
    for (j, _) in &chosen {
        writeln!(
            out,
            "change {:<14} {} → {}",
            esc(&j.serial),
            esc(&j.from_upn),
            esc(&j.to.upn)
        )?;
    }
    for (serial, why) in &report.skipped {
        writeln!(out, "skip   {:<14} {}", esc(serial), Escaped(why))?;
    }
    report.wrote_nothing = true;
    if chosen.is_empty() {
        writeln!(out, "nothing to apply")?;
        return Ok(report);
    }
    if args.dry_run || !args.apply {
        writeln!(out, "dry run: {} change(s), nothing written", chosen.len())?;
        return Ok(report);
    }
    if !args.yes {
        write!(out, "Apply {} change(s)? [y/N] ", chosen.len())?;
        out.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            writeln!(out, "nothing applied")?;
            return Ok(report);
        }
    }
    // From here to the last audit record this process is the data dir's one writer: no console
    // can record a rejection meanwhile, and the rejections are read again before each write.
    let store = crate::store::open_headless(data_dir)
        .with_context(|| format!("cannot take the data dir {}", data_dir.display()))?;
    let store_client = store.client()?;
    let mut writer = Writer::new(
        client.clone(),
        Arc::new(store_client.clone()),
        Actor::fixed(actor),
    );
    let mut jobs = Vec::with_capacity(chosen.len());
    for (mut job, print) in chosen {
        let now = match store_client.rejections().await {
            Ok(r) => r,
            Err(e) => {
                // Without the rejections no write may go out: one of them could be rejected.
                job.state = ApplyState::Failed {
                    reason: format!("nothing written: cannot read the rejections: {e}"),
                };
                jobs.push(job);
                continue;
            }
        };
        if let Some(r) = stopped_by(&now, &job, &print, fetched_at) {
            let why = rejected_reason(r);
            writeln!(
                out,
                "skip   {:<14} {why} (since the plan was shown)",
                job.serial
            )?;
            report.skipped.push((job.serial.clone(), why));
            report.planned.retain(|(s, _)| *s != job.serial);
            continue;
        }
        writer.write(&mut job).await;
        jobs.push(job);
    }
    // Every audit record is durable: the console may open the data dir while we wait.
    drop(store_client);
    let _ = tokio::task::spawn_blocking(move || store.shutdown()).await;
    report.wrote_nothing = jobs.is_empty();
    let bound = if args.no_wait {
        Duration::ZERO
    } else {
        args.confirm_timeout
    };
    let written = jobs
        .iter()
        .filter(|j| matches!(j.state, ApplyState::Confirming { .. }))
        .count();
    if written > 0 && !bound.is_zero() {
        writeln!(
            out,
            "waiting up to {} for {written} change(s) to show in Intune…",
            human(bound)
        )?;
        out.flush()?;
    }
    for e in wait_confirmed(&writer, &mut jobs, bound).await {
        writeln!(out, "read-back failed: {e}")?;
    }
    for j in &jobs {
        let label = match &j.state {
            ApplyState::Failed { reason } => {
                report.failed.push((j.serial.clone(), reason.clone()));
                j.state.label()
            }
            ApplyState::Confirmed { .. } => {
                report.written += 1;
                report.confirmed += 1;
                "confirmed".to_string()
            }
            _ => {
                report.written += 1;
                report.unconfirmed.push(j.serial.clone());
                if args.no_wait {
                    "applied, not yet confirmed (--no-wait)".to_string()
                } else {
                    format!("applied, not yet confirmed after {}", human(bound))
                }
            }
        };
        writeln!(out, "{:<14} {label}", j.serial)?;
    }
    for e in &writer.audit_errors {
        writeln!(out, "audit: {e}")?;
    }
    writeln!(
        out,
        "{} written ({} confirmed, {} not yet), {} failed, {} skipped",
        report.written,
        report.confirmed,
        report.unconfirmed.len(),
        report.failed.len(),
        report.skipped.len()
    )?;
    Ok(report)
}

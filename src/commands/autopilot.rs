//! `stagehand autopilot show|import|tag`: Windows Autopilot hardware hashes from the command
//! line. `show` works offline; `import` and `tag` write to the tenant, audited before and after.
//! Exit codes as for `reassign`: 0 all done, 1 some failed, 2 error, 3 accepted but not yet
//! assigned.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};

use crate::autopilot::check::{self, Level};
use crate::autopilot::import::{Outcome, Pacing, Planned, Report, Run};
use crate::autopilot::{api, file, safe, show};
use crate::graph::GraphClient;
use crate::review::confirm::parse_duration;
use crate::store::{AuditLog, AuditRecord, DataDirLock};

#[derive(Debug, Clone, Args)]
pub struct AutopilotArgs {
    #[command(subcommand)]
    pub command: AutopilotCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AutopilotCommand {
    /// Decode hardware hashes (hash CSV files or hash text) and check them; offline.
    Show(ShowArgs),
    /// Import hash files into Windows Autopilot and (with --wait) wait for the profile.
    Import(ImportArgs),
    /// Set the group tag of Autopilot devices (updateDeviceProperties).
    Tag(TagArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// Hash files (Get-WindowsAutopilotInfo output) or base64 hash text.
    #[arg(required = true, value_name = "FILE|HASH")]
    pub inputs: Vec<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Hash files (Get-WindowsAutopilotInfo output, one device or many).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Group tag for every device (else each row's own `Group Tag`).
    #[arg(long, value_name = "T")]
    pub group_tag: Option<String>,
    /// User to pre-assign to every device (else each row's own `Assigned User`).
    #[arg(long, value_name = "UPN")]
    pub assigned_user: Option<String>,
    /// After importing, wait until each device's deployment profile is assigned.
    #[arg(long)]
    pub wait: bool,
    /// Longest wait for the imports to finish.
    #[arg(long, value_name = "DUR", default_value = "30m", value_parser = parse_duration)]
    pub import_timeout: Duration,
    /// Longest wait for profile assignment (with --wait).
    #[arg(long, value_name = "DUR", default_value = "60m", value_parser = parse_duration)]
    pub profile_timeout: Duration,
    /// Longest pause between two reads (backoff doubles up to it).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub poll_max: Duration,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TagArgs {
    #[arg(required = true, value_name = "SERIAL")]
    pub serials: Vec<String>,
    #[arg(long, value_name = "T")]
    pub group_tag: String,
}

/// `autopilot show`: 0 every hash read and importable, 1 otherwise, 2 unreadable input.
pub fn run_show(args: &ShowArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let shown = match show::load(&args.inputs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stagehand autopilot show: {}", crate::text::Escaped(&e));
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &shown.json())?;
        writeln!(out)?;
    } else {
        write!(out, "{}", shown.text())?;
    }
    Ok(ExitCode::from(shown.exit_code()))
}

/// Files read and checked: what to import, and the rows the checks refused (printed to `err`).
pub fn plan(
    files: &[PathBuf],
    group_tag: Option<&str>,
    assigned_user: Option<&str>,
    err: &mut dyn Write,
) -> anyhow::Result<(Vec<Planned>, usize)> {
    let mut records = Vec::new();
    let mut refused = 0;
    for f in files {
        let (r, errors) = file::read(f).map_err(|e| anyhow::anyhow!("{e}"))?;
        refused += errors.len();
        for e in errors {
            writeln!(err, "rejected: {}", crate::text::Escaped(&e))?;
        }
        records.extend(r);
    }
    let mut checked: Vec<_> = records.iter().map(check::check).collect();
    check::cross_check(&records, &mut checked);
    let mut planned = Vec::new();
    for (r, c) in records.iter().zip(&checked) {
        let at = format!("{}:{}", r.file.display(), r.line);
        for f in &c.findings {
            let tag = match f.level {
                Level::Error => "rejected",
                Level::Warning => "warning",
                Level::Note => "note",
            };
            writeln!(err, "{}: {tag}: {}", safe(&at), safe(&f.message))?;
        }
        if c.duplicate_of.is_some() {
            continue;
        }
        let Some(serial) = c.serial.clone().filter(|_| c.is_importable()) else {
            refused += 1;
            continue;
        };
        planned.push(Planned {
            file: r.file.clone(),
            line: r.line,
            serial,
            hash_text: r.hash_text.clone(),
            product_id: r.product_id.clone(),
            group_tag: group_tag
                .map(str::to_string)
                .or_else(|| r.group_tag.clone()),
            assigned_user: assigned_user
                .map(str::to_string)
                .or_else(|| r.assigned_user.clone()),
        });
    }
    Ok((planned, refused))
}

pub(crate) fn check_options(group_tag: Option<&str>, user: Option<&str>) -> anyhow::Result<()> {
    if let Some(t) = group_tag
        && (t.chars().any(char::is_control) || t.len() > 128)
    {
        anyhow::bail!("--group-tag: at most 128 characters, no control characters");
    }
    if let Some(u) = user {
        let ok = u.split_once('@').is_some_and(|(a, d)| {
            !a.is_empty() && d.contains('.') && !u.contains(char::is_whitespace)
        });
        if !ok {
            anyhow::bail!(
                "--assigned-user {u:?}: not a user principal name like someone@contoso.com"
            );
        }
    }
    Ok(())
}

/// `autopilot import` against `client`: the data-dir lock is held throughout, so no other
/// stagehand writes the audit log meanwhile.
pub async fn run_import(
    client: &GraphClient,
    data_dir: &Path,
    actor: &str,
    args: &ImportArgs,
    pacing: Option<Pacing>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Report> {
    check_options(args.group_tag.as_deref(), args.assigned_user.as_deref())?;
    let (planned, refused) = plan(
        &args.files,
        args.group_tag.as_deref(),
        args.assigned_user.as_deref(),
        err,
    )?;
    crate::private::data_dir(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let _lock = DataDirLock::acquire(data_dir)?;
    let mut audit = AuditLog::open(data_dir)?;
    let pacing = pacing.unwrap_or(Pacing {
        import_timeout: args.import_timeout,
        profile_timeout: args.profile_timeout,
        poll_max: args.poll_max,
        poll_first: args.poll_max.min(Pacing::default().poll_first),
        ..Pacing::default()
    });
    let report = if planned.is_empty() {
        Report {
            refused,
            ..Report::default()
        }
    } else {
        Run {
            client,
            audit: &mut audit,
            actor,
            pacing,
            wait: args.wait,
            out: err,
            progress: None,
        }
        .import(planned, refused)
        .await
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        for d in &report.devices {
            let text = match &d.outcome {
                Outcome::Failed(m) => format!("failed: {m}"),
                Outcome::ImportError(m) => format!("failed: {m}"),
                Outcome::StillImporting => "still importing".into(),
                Outcome::AlreadyRegistered(m) => m.clone(),
                Outcome::Imported { profile, .. } => match profile {
                    Some(p) => format!("imported; profile: {p}"),
                    None => "imported; profile not assigned yet".into(),
                },
                Outcome::Assigned { profile, .. } => format!("profile assigned ({profile})"),
                Outcome::ProfileFailed(m) => m.clone(),
            };
            writeln!(out, "{:<20} {}", safe(&d.serial), safe(&text))?;
        }
        writeln!(
            out,
            "{} device(s) sent, {} refused by the checks",
            report.devices.len(),
            report.refused
        )?;
    }
    Ok(report)
}

/// `autopilot tag`: 0 all tagged, 1 some failed.
pub async fn run_tag(
    client: &GraphClient,
    data_dir: &Path,
    actor: &str,
    args: &TagArgs,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    check_options(Some(&args.group_tag), None)?;
    crate::private::data_dir(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let _lock = DataDirLock::acquire(data_dir)?;
    let mut audit = AuditLog::open(data_dir)?;
    let mut failed = 0;
    for serial in &args.serials {
        let found = match api::devices_by_serial(client, serial).await {
            Ok(v) => v,
            Err(e) => {
                writeln!(out, "{:<20} failed: {e}", safe(serial))?;
                failed += 1;
                continue;
            }
        };
        let dev = match found.as_slice() {
            [d] => d.clone(),
            [] => {
                writeln!(
                    out,
                    "{:<20} failed: not an Autopilot device in this tenant",
                    safe(serial)
                )?;
                failed += 1;
                continue;
            }
            many => {
                writeln!(
                    out,
                    "{:<20} failed: {} Autopilot devices have this serial; tag them in Intune",
                    safe(serial),
                    many.len()
                )?;
                failed += 1;
                continue;
            }
        };
        let mut rec = AuditRecord::before(Utc::now(), actor, "set_autopilot_group_tag");
        rec.device_id = Some(dev.id.clone());
        rec.serial = Some(serial.clone());
        rec.from = dev.group_tag.clone();
        rec.to = Some(args.group_tag.clone());
        if let Err(e) = audit.append(&rec) {
            writeln!(
                out,
                "{:<20} failed: its audit record could not be made durable, so nothing was sent ({e})",
                safe(serial)
            )?;
            failed += 1;
            continue;
        }
        let result = api::set_group_tag(client, &dev.id, &args.group_tag).await;
        let text = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        audit.append(&rec.after(Utc::now(), &text))?;
        match result {
            Ok(()) => writeln!(
                out,
                "{:<20} group tag {} → {}",
                safe(serial),
                safe(
                    dev.group_tag
                        .as_deref()
                        .filter(|t| !t.is_empty())
                        .unwrap_or("(none)")
                ),
                safe(&args.group_tag)
            )?,
            Err(e) => {
                failed += 1;
                writeln!(out, "{:<20} failed: {e}", safe(serial))?;
            }
        }
    }
    Ok(u8::from(failed > 0))
}

/// `stagehand autopilot import|tag`, signed in (`show` is offline: [`run_show`]).
pub async fn run(
    args: AutopilotArgs,
    data_dir: &std::path::Path,
    c: &super::connect::Connected,
) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout();
    let code = match &args.command {
        AutopilotCommand::Import(a) => run_import(
            &c.client,
            data_dir,
            &c.actor,
            a,
            None,
            &mut stdout,
            &mut std::io::stderr(),
        )
        .await?
        .exit_status(),
        AutopilotCommand::Tag(a) => run_tag(&c.client, data_dir, &c.actor, a, &mut stdout).await?,
        AutopilotCommand::Show(a) => return run_show(a, &mut stdout),
    };
    Ok(ExitCode::from(code))
}

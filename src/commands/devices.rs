//! `stagehand devices list|show|sync|retire|wipe`: device operations from the shell. Until
//! sign-in lands they run with `--demo` against a freshly started simulated tenant, signed in as
//! its ops lead (Intune Administrator) or, with `--demo-role technician`, as a user without one.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use crate::config::Config;
use crate::devices::{
    self, ActionContext, DestructiveRequest, DeviceKey, DevicesError, Lifecycle, ListFilter, Plan,
};
use crate::graph::models::WipeOptions;
use crate::graph::{Governor, GraphClient, Timeouts};
use crate::sim::SimHandle;
use crate::store::StoreHandle;
use crate::text::{Escaped, escape};

/// Exit code when a guard rail refused the action.
pub const EXIT_REFUSED: u8 = 3;
/// Exit code when the action was sent and Intune accepted it, but its audit `After` record could
/// not be written (the change happened; the local record of its outcome is missing).
pub const EXIT_UNRECORDED: u8 = 4;

#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    #[command(subcommand)]
    pub command: DevicesCommand,
}

#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Run against a freshly started simulated tenant on loopback (nothing persists between runs).
    #[arg(long, global = true)]
    pub demo: bool,
    /// With --demo, who is signed in: the ops lead (Intune Administrator) or a technician (no role).
    #[arg(long, global = true, value_enum, default_value_t = DemoRole::Admin)]
    pub demo_role: DemoRole,
    /// With --demo, the simulated fleet's seed (same seed, same serials).
    #[arg(long, global = true, default_value_t = 7)]
    pub demo_seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoRole {
    Admin,
    Technician,
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List managed devices; filters combine.
    List(ListArgs),
    /// One device in full: OS, sync, compliance, users, enrollment, pending actions, identifier, deployment.
    Show(ShowArgs),
    /// Ask a device to check in now (compliance is re-evaluated).
    Sync(SyncArgs),
    /// Remove company data only (Intune Administrator or a configured RBAC role; serial typed to confirm).
    Retire(RetireArgs),
    /// Factory-reset a device (Intune Administrator or a configured RBAC role; serial typed to confirm).
    Wipe(WipeArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Primary user's UPN.
    #[arg(long, value_name = "EMAIL")]
    pub user: Option<String>,
    #[arg(long, value_enum)]
    pub stage: Option<Lifecycle>,
    /// complianceState as Graph spells it: compliant, noncompliant, inGracePeriod, …
    #[arg(long, value_name = "STATE")]
    pub compliance: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Serial number or Intune device id.
    #[arg(value_name = "SERIAL|ID")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
    /// Skip the deployment report (its export takes a few seconds).
    #[arg(long)]
    pub no_deployment: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[arg(value_name = "SERIAL|ID")]
    pub device: String,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    pub serial: String,
    /// The serial again, to confirm.
    #[arg(long, value_name = "SERIAL")]
    pub confirm: Option<String>,
    /// Do not ask once more.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct WipeArgs {
    pub serial: String,
    /// The serial again, to confirm.
    #[arg(long, value_name = "SERIAL")]
    pub confirm: Option<String>,
    /// Keep enrollment data: the device re-enrolls after the reset.
    #[arg(long)]
    pub keep_enrollment_data: bool,
    /// Keep user accounts and data.
    #[arg(long)]
    pub keep_user_data: bool,
    /// Do not ask once more.
    #[arg(long)]
    pub yes: bool,
}

/// A signed-in Graph session for the devices commands.
pub struct DevicesSession {
    pub client: GraphClient,
    /// UPN of the signed-in identity (the audit actor).
    pub actor: String,
    /// The simulator behind a `--demo` session; stops when dropped.
    pub sim: Option<SimHandle>,
}

/// The technician `--demo-role technician` signs in as: a directory user with no admin role.
pub const DEMO_TECHNICIAN: &str = "adele.vance@contoso.example";

/// Starts a simulated tenant (40 devices, real time) and signs in as `role`.
pub async fn demo_session(seed: u64, role: DemoRole) -> anyhow::Result<DevicesSession> {
    let (sim, lead_token) = crate::sim::start_demo(seed, 40, 1.0).await?;
    let (token, actor) = match role {
        DemoRole::Admin => (lead_token, sim.signed_in_user().1),
        DemoRole::Technician => (
            sim.issue_token_for(
                DEMO_TECHNICIAN,
                crate::sim::ALL_DELEGATED,
                Duration::from_secs(3600),
            )
            .context("the simulated directory has no technician user")?,
            DEMO_TECHNICIAN.to_string(),
        ),
    };
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(crate::auth::StaticToken(token)),
        Governor::global(),
    )?;
    Ok(DevicesSession {
        client,
        actor,
        sim: Some(sim),
    })
}

pub async fn run(args: &DevicesArgs, config: &Config, data_dir: &Path) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.session.demo,
        "`stagehand devices` needs a signed-in session, which is not available yet: pass --demo to run against the simulated tenant"
    );
    let session = demo_session(args.session.demo_seed, args.session.demo_role).await?;
    let mut config = config.clone();
    config.staging.accounts = crate::sim::SimOptions::default().staging_accounts;
    let code = run_with(&args.command, &session, &config, &data_dir.join("demo")).await;
    if let Some(sim) = session.sim {
        sim.shutdown().await;
    }
    code
}

/// Runs one command with a session; retire and wipe write `audit.jsonl` in `data_dir`.
pub async fn run_with(
    cmd: &DevicesCommand,
    session: &DevicesSession,
    config: &Config,
    data_dir: &Path,
) -> anyhow::Result<ExitCode> {
    let client = &session.client;
    let mut out = std::io::stdout().lock();
    match cmd {
        DevicesCommand::List(a) => {
            let compliance = a
                .compliance
                .as_deref()
                .map(devices::list::parse_compliance)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--compliance: {e}"))?;
            let filter = ListFilter {
                user: a.user.clone(),
                stage: a.stage,
                compliance,
            };
            let rows = devices::list(client, &config.staging, &filter).await?;
            if a.json {
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)?;
            } else {
                for r in &rows {
                    writeln!(
                        out,
                        "{:<14} {:<16} {:<11} {:<14} {:<36} {}",
                        escape(&r.serial),
                        escape(&r.name),
                        enum_text(&r.stage),
                        escape(&r.compliance.as_ref().map(enum_text).unwrap_or_default()),
                        escape(&r.user),
                        escape(&r.id)
                    )?;
                }
                writeln!(out, "{} devices", rows.len())?;
            }
        }
        DevicesCommand::Show(a) => {
            let d = devices::show(client, &DeviceKey::parse(&a.device), !a.no_deployment).await?;
            if a.json {
                serde_json::to_writer_pretty(&mut out, &d)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", crate::devices::show::render_text(&d))?;
            }
        }
        DevicesCommand::Sync(a) => {
            let store = open_store(data_dir)?;
            let audit = store.client()?;
            let key = DeviceKey::parse(&a.device);
            let synced = devices::sync_audited(
                client,
                &audit,
                &session.actor,
                &chrono::Utc::now,
                a.device.trim(),
                &key,
            )
            .await;
            drop(audit);
            close(store).await;
            let d = match synced {
                Ok(d) => d,
                Err(e @ DevicesError::Unrecorded { .. }) => {
                    eprintln!("stagehand: {}", Escaped(&e));
                    return Ok(ExitCode::from(EXIT_UNRECORDED));
                }
                Err(e) => return Err(e.into()),
            };
            writeln!(
                out,
                "asked {} (serial {}, id {}) to check in; compliance is re-evaluated when it does",
                escape(d.device_name.as_deref().unwrap_or("the device")),
                escape(d.serial_number.as_deref().unwrap_or("?")),
                escape(&d.id)
            )?;
        }
        DevicesCommand::Retire(a) => {
            let req = DestructiveRequest {
                serial: a.serial.clone(),
                confirm: a.confirm.clone(),
                action: devices::Destructive::Retire,
            };
            drop(out);
            return destructive(session, config, data_dir, &req, a.yes).await;
        }
        DevicesCommand::Wipe(a) => {
            let req = DestructiveRequest {
                serial: a.serial.clone(),
                confirm: a.confirm.clone(),
                action: devices::Destructive::Wipe(WipeOptions {
                    keep_enrollment_data: a.keep_enrollment_data,
                    keep_user_data: a.keep_user_data,
                    ..WipeOptions::default()
                }),
            };
            drop(out);
            return destructive(session, config, data_dir, &req, a.yes).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Graph's spelling of an enum value (`inGracePeriod`), for the text table.
fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

async fn destructive(
    session: &DevicesSession,
    config: &Config,
    data_dir: &Path,
    req: &DestructiveRequest,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let store = open_store(data_dir)?;
    let audit = store.client()?;
    let ask = |plan: &Plan| {
        // Built from Graph text: one line, escaped, so a device name cannot forge the prompt.
        println!("{}", escape(&plan.description));
        if yes {
            return true;
        }
        print!(
            "Type yes to {} {}: ",
            plan.action.name(),
            escape(plan.device.serial_number.as_deref().unwrap_or("the device"))
        );
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        matches!(read, Ok(n) if n > 0) && line.trim().eq_ignore_ascii_case("yes")
    };
    let ctx = ActionContext {
        client: &session.client,
        config,
        audit: &audit,
        actor: &session.actor,
        now: &chrono::Utc::now,
    };
    let outcome = devices::run_destructive(ctx, req, ask).await;
    drop(audit);
    close(store).await;
    report_destructive(req, outcome, &mut std::io::stdout(), &mut std::io::stderr())
}

/// Says what really happened to a retire or wipe, and its exit code: 0 sent and recorded,
/// [`EXIT_REFUSED`] a guard rail said no (nothing sent), [`EXIT_UNRECORDED`] sent and accepted but
/// the audit "after" record could not be written; other failures are errors (exit 2).
pub fn report_destructive(
    req: &DestructiveRequest,
    outcome: Result<devices::ActionOutcome, DevicesError>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match outcome {
        Ok(done) => {
            writeln!(
                out,
                "{} sent for serial {} (device {}); request-id {}",
                done.action,
                escape(&done.serial),
                escape(&done.device_id),
                escape(done.request_id.as_deref().unwrap_or("none"))
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(DevicesError::Refused(r)) => {
            writeln!(
                err,
                "stagehand: {} refused: {}",
                req.action.name(),
                Escaped(&r)
            )?;
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Err(e @ DevicesError::Unrecorded { .. }) => {
            writeln!(err, "stagehand: {}", Escaped(&e))?;
            Ok(ExitCode::from(EXIT_UNRECORDED))
        }
        Err(e) => Err(e.into()),
    }
}

/// The store thread for an audited command: the data-dir lock (the console and the intake
/// commands hold it while they write), the database and the audit log.
fn open_store(data_dir: &Path) -> anyhow::Result<StoreHandle> {
    crate::private::data_dir(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    Ok(crate::store::open_headless(data_dir)?)
}

/// Everything handed to the store thread is durable once this returns.
async fn close(store: StoreHandle) {
    let _ = tokio::task::spawn_blocking(move || store.shutdown()).await;
}

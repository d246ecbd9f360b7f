//! The command line: `stagehand` opens the console; subcommands are the headless twins.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "stagehand",
    version,
    about = "Stage corporate Windows devices into Microsoft Intune: scan, watch, hand over.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Config file (default: the platform config dir's stagehand.toml).
    #[arg(long, global = true, env = "STAGEHAND_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Data dir for the store database (queue, rejections), audit log and logs.
    #[arg(long, global = true, env = "STAGEHAND_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Tenant id or domain (overrides [tenant] id).
    #[arg(long, global = true, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Application (client) id (overrides [tenant] client_id).
    #[arg(long, global = true, value_name = "ID")]
    pub client_id: Option<String>,
    /// Microsoft Graph base URL (overrides [tenant] graph_url).
    #[arg(long, global = true, value_name = "URL")]
    pub graph_url: Option<String>,
    /// Entra sign-in base URL (overrides [tenant] login_url).
    #[arg(long, global = true, value_name = "URL")]
    pub login_url: Option<String>,
    /// More detail in the log file (-v debug, -vv trace). RUST_LOG wins when set.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Windows Autopilot hardware hashes: decode and check, import and wait for the profile, tag.
    Autopilot(crate::commands::autopilot::AutopilotArgs),
    /// Open the console against the embedded simulated tenant: no configuration, no network.
    Demo(DemoArgs),
    /// Device operations: list, show, sync, and guarded retire and wipe.
    Devices(crate::commands::devices::DevicesArgs),
    /// Check the tenant is ready for staging: PASS, WARN or FAIL per check, with evidence and fix.
    Doctor(crate::commands::doctor::DoctorArgs),
    /// The intake queue without the console: add serials, list the queue.
    Intake(crate::commands::intake::IntakeArgs),
    /// The reassignment plan: devices whose primary user is a staging account, with verdicts.
    Review(crate::commands::review::ReviewArgs),
    /// Move primary users from staging accounts to the proposed users (`propose` rows only, or a
    /// reviewed plan file), audited before and after each write.
    Reassign(crate::commands::review::ReassignArgs),
    /// Prepare procurement CSVs offline into files Intune accepts (no network, no sign-in).
    Prep(crate::prep::PrepArgs),
    /// Run the simulated tenant on loopback until Ctrl-C (prints the env line to point stagehand at it).
    Sim(crate::sim::SimArgs),
    /// Sign in (device code by default) and keep the credential in the OS credential store.
    Login(LoginArgs),
    /// Remove every stored secret of the signed-in account.
    Logout,
    /// Show tenant, account or app, role, scopes and token expiry (never a token).
    Whoami(WhoamiArgs),
    /// Where every tracked device is in the pipeline, without the console.
    Status(crate::commands::status::StatusArgs),
    /// Collect an evidence bundle per device (Graph exports, timeline, audit, optionally logs),
    /// or `evidence verify DIR|ZIP` to check one against its manifest.
    Evidence(crate::evidence::command::EvidenceArgs),
    /// One self-contained HTML page for a batch: counts per stage, a timeline per device,
    /// explained failures, links to evidence bundles.
    Report(crate::report::ReportArgs),
    /// ServiceNow incidents and Teams cards when a device fails: login, test, status, run.
    Notify(crate::notify::command::NotifyArgs),
}

#[derive(Debug, Clone, Args)]
#[group(multiple = false)]
pub struct LoginFlow {
    /// Device code flow: shows a code and a URL (the default).
    #[arg(long)]
    pub device_code: bool,
    /// Authorization code with PKCE in the browser (when Conditional Access blocks device code).
    #[arg(long)]
    pub browser: bool,
    /// As the app: certificate from the config, else a client secret read from stdin.
    #[arg(long)]
    pub app: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub flow: LoginFlow,
    /// Which permissions to ask for (see the README's "Permissions by role").
    #[arg(long, value_enum, default_value_t = crate::auth::Role::Technician)]
    pub role: crate::auth::Role,
}

#[derive(Debug, Clone, Args)]
pub struct WhoamiArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Seed for the simulated fleet (same seed, same fleet).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Simulated devices already in the tenant when the demo opens.
    #[arg(long, default_value_t = 24)]
    pub devices: usize,
    /// How much faster than real time the simulated tenant runs.
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
}

//! `stagehand doctor [--json]`: the tenant readiness checks. Until sign-in lands (issue 4) it runs
//! against a freshly started simulated tenant: `--demo` (healthy) or `--demo-broken <what>`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};

use crate::auth::StaticToken;
use crate::config::Config;
use crate::doctor::{self, CheckResult, DoctorOptions};
use crate::graph::{Governor, GraphClient, Timeouts};
use crate::sim::{self, SimOptions, TenantSetup};

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Print a JSON array of {check, status, evidence, fix} instead of text.
    #[arg(long)]
    pub json: bool,
    /// Check a freshly started, healthy simulated tenant.
    #[arg(long, conflicts_with = "demo_broken")]
    pub demo: bool,
    /// Check a freshly started simulated tenant broken in this way.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub demo_broken: Option<Broken>,
    /// Corporate identifiers never contacted this many days after registration count as stale.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub stale_days: u32,
}

/// Ways to break the simulated tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Broken {
    /// The Intune Provisioning Client service principal is missing.
    ProvisioningSp,
    /// The device group is not owned by the Intune Provisioning Client.
    GroupOwner,
    /// No Device Preparation policy.
    DevicePrepPolicy,
    /// The staging accounts' Conditional Access policy does not exclude Intune Enrollment.
    CaExclusion,
    /// The staging accounts' Conditional Access policy is report-only.
    CaReportOnly,
    /// The first staging account has no Intune licence.
    Unlicensed,
}

impl Broken {
    /// The healthy setup with this one thing broken.
    pub fn apply(self, mut t: TenantSetup) -> TenantSetup {
        match self {
            Broken::ProvisioningSp => t.provisioning_sp_present = false,
            Broken::GroupOwner => t.group_owned_by_provisioning_client = false,
            Broken::DevicePrepPolicy => t.device_prep_policy_present = false,
            Broken::CaExclusion => t.ca_excludes_enrollment = false,
            Broken::CaReportOnly => t.ca_report_only = true,
            Broken::Unlicensed => t.staging_licensed = false,
        }
        t
    }
}

/// Runs the checks against a simulated tenant set up as `tenant`, signed in as its ops lead with
/// every delegated scope the app has. Returns the results; the simulator is stopped.
pub async fn run_demo(
    tenant: TenantSetup,
    config: &Config,
    stale_days: u32,
) -> anyhow::Result<Vec<CheckResult>> {
    let sim = sim::start(SimOptions {
        tenant,
        ..SimOptions::default()
    })
    .await?;
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )?;
    let mut config = config.clone();
    config.staging.accounts = SimOptions::default().staging_accounts;
    let opts = DoctorOptions {
        stale_days,
        granted_scopes: Some(sim::ALL_DELEGATED.iter().map(|s| s.to_string()).collect()),
    };
    let results = doctor::run_checks_with(&client, &config, sim.now(), &opts).await;
    sim.shutdown().await;
    Ok(results)
}

/// `stagehand doctor`.
pub async fn run(args: &DoctorArgs, config: &Config) -> anyhow::Result<std::process::ExitCode> {
    let tenant = match (args.demo, args.demo_broken) {
        (_, Some(b)) => b.apply(TenantSetup::default()),
        (true, None) => TenantSetup::default(),
        (false, None) => bail!(
            "doctor needs a signed-in tenant, and sign-in is not available in this build yet: run `stagehand doctor --demo` (or --demo-broken <what>) to see the checks against the simulated tenant"
        ),
    };
    let results = run_demo(tenant, config, args.stale_days).await?;
    Ok(doctor::print(&results, args.json))
}

//! Tenant readiness: what must be true before the first device is staged, read through Graph.
//!
//! [`run_checks`] gathers every verdict; [`print`] writes them (text or `--json`) and returns the
//! exit code. Each check lives in its own file and splits into an async read and a pure verdict,
//! so the verdicts are unit-tested on hand-made data and end to end against the simulator.

pub(crate) mod identities;
pub(crate) mod permissions;
pub(crate) mod report;
pub(crate) mod staging;
pub(crate) mod tenant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::access::Caller;
use crate::config::Config;
use crate::graph::{GraphClient, GraphError};

pub use report::{exit_code, print, render_json, render_text};

/// App id of the "Intune Provisioning Client" service principal (docs/graph.md §4.3, §9).
pub const PROVISIONING_CLIENT_APP_ID: &str = "f1346770-5b25-470b-88bd-d5744ab7952c";
/// Microsoft Intune Enrollment (docs/graph.md §9).
pub const INTUNE_ENROLLMENT_APP_ID: &str = "d4ebce55-015a-49b5-a083-c84d1797ae8c";
/// Device Registration Service (docs/graph.md §9).
pub const DEVICE_REGISTRATION_APP_ID: &str = "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9";

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// The check does not apply to this identity (an Intune role check for an app).
    #[serde(rename = "not_applicable")]
    NotApplicable,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::NotApplicable => "N/A ",
        }
    }
}

/// Stable check ids (the `check` field of `--json`).
pub mod ids {
    pub const PROVISIONING_CLIENT: &str = "provisioning-client";
    pub const DEVICE_PREPARATION: &str = "device-preparation-policy";
    pub const STAGING_ACCOUNT: &str = "staging-account";
    pub const STAGING_CA: &str = "staging-conditional-access";
    pub const DEM_AUTOPILOT: &str = "dem-autopilot";
    pub const PERMISSIONS: &str = "permissions";
    pub const INTUNE_ROLE: &str = "intune-role";
    pub const CORPORATE_IDENTIFIERS: &str = "corporate-identifiers";
}

/// One verdict with what was read and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Stable id, one of [`ids`].
    pub check: &'static str,
    /// What the check was about when it runs more than once (a staging account, a role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub title: String,
    pub status: Status,
    /// What was read, one fact per line.
    pub evidence: Vec<String>,
    /// How to fix it; `None` when nothing needs fixing.
    pub fix: Option<String>,
}

impl CheckResult {
    pub fn new(check: &'static str, title: impl Into<String>) -> Self {
        Self {
            check,
            subject: None,
            title: title.into(),
            status: Status::Pass,
            evidence: Vec::new(),
            fix: None,
        }
    }
    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = Some(s.into());
        self
    }
    pub fn saw(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }
    pub fn pass(mut self) -> Self {
        self.status = Status::Pass;
        self.fix = None;
        self
    }
    pub fn warn(mut self, fix: impl Into<String>) -> Self {
        self.status = Status::Warn;
        self.fix = Some(fix.into());
        self
    }
    pub fn fail(mut self, fix: impl Into<String>) -> Self {
        self.status = Status::Fail;
        self.fix = Some(fix.into());
        self
    }
    /// Does not apply to this identity; `why` goes to the evidence.
    pub fn not_applicable(mut self, why: impl Into<String>) -> Self {
        self.status = Status::NotApplicable;
        self.fix = None;
        self.evidence.push(why.into());
        self
    }
    /// A read that Graph refused or could not answer: FAIL with the error as evidence.
    pub fn failed_read(self, what: &str, e: &GraphError) -> Self {
        let fix = match e {
            GraphError::Forbidden { .. } => format!(
                "grant the signed-in identity a permission that allows {what} (see the `permissions` check)"
            ),
            _ => format!("retry `stagehand doctor`; if it persists, check {what} in the portal"),
        };
        self.saw(format!("{what}: {e}")).fail(fix)
    }
}

/// Knobs the config file does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorOptions {
    /// Corporate identifiers never contacted this many days after registration count as stale.
    pub stale_days: u32,
    /// Scopes the token endpoint reported as granted (the token response's `scope`), when known.
    pub granted_scopes: Option<Vec<String>>,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        Self {
            stale_days: 30,
            granted_scopes: None,
        }
    }
}

/// Every check with default options.
pub async fn run_checks(
    client: &GraphClient,
    config: &Config,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    run_checks_with(client, config, now, &DoctorOptions::default()).await
}

/// Every check, in the order of the runbook. Reads only; never writes to the tenant. As a user or
/// as the app: the app's granted permissions come from its token's `roles`, its licence reads
/// from `assignedPlans`, and nothing is asked of `/me`.
pub async fn run_checks_with(
    client: &GraphClient,
    config: &Config,
    now: DateTime<Utc>,
    opts: &DoctorOptions,
) -> Vec<CheckResult> {
    // A token that cannot be had fails every read below with the reason; judge it as a user's.
    let caller = client.caller().await.unwrap_or(Caller::Unknown);
    let mut out = vec![tenant::provisioning_client(client).await];
    out.push(tenant::device_preparation(client).await);
    out.extend(staging::check(client, config, &caller).await);
    out.push(staging::dem_warning(config));
    out.extend(permissions::check(client, config, opts.granted_scopes.as_deref(), &caller).await);
    out.push(identities::check(client, now, opts.stale_days).await);
    out
}

/// True when any check failed.
pub fn any_failed(results: &[CheckResult]) -> bool {
    results.iter().any(|r| r.status == Status::Fail)
}

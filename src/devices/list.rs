//! `devices list`: managed devices filtered by primary user, stage and compliance; filters combine.
//! The user filter goes to Graph (`userPrincipalName eq`) and is re-checked here, since Intune
//! ignores filters it does not support; stage and compliance are decided locally.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::StagingConfig;
use crate::graph::models::{ComplianceState, ManagedDevice, ManagementState};
use crate::graph::{DeviceFilter, GraphClient, GraphError};

/// Where a device is in the staging life cycle, as seen from its managed-device record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    /// The primary user is a staging account: still at the bench or awaiting hand-over.
    Staging,
    /// The primary user is a real person: handed over.
    Assigned,
    /// No primary user (shared device).
    Unassigned,
    /// A retire was issued or is pending.
    Retiring,
    /// A wipe was issued or is pending.
    Wiping,
}

/// The stage of `d`; a pending action wins over the primary user.
pub fn stage_of(d: &ManagedDevice, staging: &StagingConfig) -> Lifecycle {
    match d.management_state {
        Some(ManagementState::RetirePending | ManagementState::RetireIssued) => Lifecycle::Retiring,
        Some(ManagementState::WipePending | ManagementState::WipeIssued) => Lifecycle::Wiping,
        _ => match d.user_principal_name.as_deref().map(str::trim) {
            None | Some("") => Lifecycle::Unassigned,
            Some(upn) if staging.is_staging(upn) => Lifecycle::Staging,
            Some(_) => Lifecycle::Assigned,
        },
    }
}

/// Parses a `complianceState` as Graph spells it (`noncompliant`, `inGracePeriod`, ...),
/// case-insensitively; the error lists the accepted values.
pub fn parse_compliance(text: &str) -> Result<ComplianceState, String> {
    ComplianceState::from_graph(text).ok_or_else(|| {
        let names: Vec<&str> = ComplianceState::ALL.map(ComplianceState::as_graph).to_vec();
        format!(
            "compliance state {text:?} is not one of {}",
            names.join(", ")
        )
    })
}

/// List filters; `None` = any. All given filters must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Primary user's UPN (exact, case-insensitive).
    pub user: Option<String>,
    pub stage: Option<Lifecycle>,
    pub compliance: Option<ComplianceState>,
}

impl ListFilter {
    pub fn matches(&self, d: &ManagedDevice, staging: &StagingConfig) -> bool {
        let user_ok = self
            .user
            .as_deref()
            .is_none_or(|u| user_matches(u, d.user_principal_name.as_deref(), UserMatch::Exact));
        let stage_ok = self.stage.is_none_or(|s| stage_of(d, staging) == s);
        user_ok && stage_ok && compliance_matches(self.compliance, d.compliance_state)
    }
}

/// How the user filter compares UPNs: the CLI names one user, the console narrows as you type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMatch {
    /// The whole UPN, trimmed, ASCII-case-insensitive.
    Exact,
    /// Any part of the UPN, case-insensitive.
    Substring,
}

/// Whether the primary user `upn` passes the user filter `wanted`. No primary user never passes.
pub fn user_matches(wanted: &str, upn: Option<&str>, how: UserMatch) -> bool {
    let wanted = wanted.trim();
    upn.map(str::trim).is_some_and(|x| match how {
        UserMatch::Exact => x.eq_ignore_ascii_case(wanted),
        UserMatch::Substring => x.to_lowercase().contains(&wanted.to_lowercase()),
    })
}

/// Whether `actual` passes the compliance filter `wanted` (`None` = any).
pub fn compliance_matches(
    wanted: Option<ComplianceState>,
    actual: Option<ComplianceState>,
) -> bool {
    wanted.is_none_or(|c| actual == Some(c))
}

/// One line of `devices list` (and its `--json` element).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceListRow {
    pub id: String,
    pub serial: String,
    pub name: String,
    pub user: String,
    pub stage: Lifecycle,
    pub compliance: Option<ComplianceState>,
    pub management_state: Option<ManagementState>,
    pub last_sync: Option<DateTime<Utc>>,
    pub os_version: String,
}

/// The properties a list row needs (kept small: lists can be the whole fleet).
pub const LIST_SELECT: &[&str] = &[
    "id",
    "deviceName",
    "serialNumber",
    "userPrincipalName",
    "complianceState",
    "managementState",
    "lastSyncDateTime",
    "osVersion",
];

impl DeviceListRow {
    pub fn of(d: &ManagedDevice, staging: &StagingConfig) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            id: d.id.clone(),
            serial: s(&d.serial_number),
            name: s(&d.device_name),
            user: s(&d.user_principal_name),
            stage: stage_of(d, staging),
            compliance: d.compliance_state,
            management_state: d.management_state,
            last_sync: d.last_sync_date_time,
            os_version: s(&d.os_version),
        }
    }
}

/// The devices matching `filter`, sorted by serial then id. An empty user is refused, as
/// Intune answers `userPrincipalName eq ''` with the whole fleet.
pub async fn list(
    client: &GraphClient,
    staging: &StagingConfig,
    filter: &ListFilter,
) -> Result<Vec<DeviceListRow>, GraphError> {
    let server = match filter.user.as_deref().map(str::trim) {
        Some("") => return Err(GraphError::Invalid("--user must not be empty".into())),
        Some(u) => Some(DeviceFilter::UserPrincipalName(u.to_string())),
        None => None,
    };
    let devices = client.list_managed_devices(server, LIST_SELECT).await?;
    let mut rows: Vec<DeviceListRow> = devices
        .iter()
        .filter(|d| filter.matches(d, staging))
        .map(|d| DeviceListRow::of(d, staging))
        .collect();
    rows.sort_by(|a, b| a.serial.cmp(&b.serial).then_with(|| a.id.cmp(&b.id)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staging() -> StagingConfig {
        StagingConfig {
            accounts: vec!["staging@contoso.example".into()],
        }
    }

    fn device(upn: &str, state: ManagementState, c: ComplianceState) -> ManagedDevice {
        ManagedDevice {
            id: "d".into(),
            user_principal_name: Some(upn.into()),
            management_state: Some(state),
            compliance_state: Some(c),
            ..ManagedDevice::default()
        }
    }

    #[test]
    fn stages_follow_pending_actions_then_the_primary_user() {
        let st = staging();
        let m = ManagementState::Managed;
        let c = ComplianceState::Compliant;
        assert_eq!(
            stage_of(&device("STAGING@contoso.example", m, c), &st),
            Lifecycle::Staging
        );
        assert_eq!(
            stage_of(&device("adele@contoso.example", m, c), &st),
            Lifecycle::Assigned
        );
        assert_eq!(stage_of(&device("", m, c), &st), Lifecycle::Unassigned);
        let wiping = device("adele@contoso.example", ManagementState::WipePending, c);
        assert_eq!(stage_of(&wiping, &st), Lifecycle::Wiping);
        let retiring = device("staging@contoso.example", ManagementState::RetireIssued, c);
        assert_eq!(stage_of(&retiring, &st), Lifecycle::Retiring);
    }

    #[test]
    fn filters_combine() {
        let st = staging();
        let d = device(
            "adele@contoso.example",
            ManagementState::Managed,
            ComplianceState::Noncompliant,
        );
        let all = ListFilter {
            user: Some("ADELE@contoso.example".into()),
            stage: Some(Lifecycle::Assigned),
            compliance: Some(ComplianceState::Noncompliant),
        };
        assert!(all.matches(&d, &st));
        for broken in [
            ListFilter {
                user: Some("lee@contoso.example".into()),
                ..all.clone()
            },
            ListFilter {
                stage: Some(Lifecycle::Staging),
                ..all.clone()
            },
            ListFilter {
                compliance: Some(ComplianceState::Compliant),
                ..all.clone()
            },
        ] {
            assert!(!broken.matches(&d, &st), "{broken:?}");
        }
        assert!(ListFilter::default().matches(&d, &st));
    }

    #[test]
    fn user_match_is_exact_for_the_cli_and_a_substring_for_the_console() {
        let upn = Some(" Adele.Vance@contoso.example ");
        assert!(user_matches(
            "adele.vance@CONTOSO.example",
            upn,
            UserMatch::Exact
        ));
        assert!(!user_matches("adele", upn, UserMatch::Exact));
        assert!(user_matches("ADELE", upn, UserMatch::Substring));
        assert!(!user_matches("lee", upn, UserMatch::Substring));
        assert!(!user_matches("adele", None, UserMatch::Substring));
        assert!(compliance_matches(None, None));
        assert!(!compliance_matches(Some(ComplianceState::Compliant), None));
    }

    #[test]
    fn compliance_parses_graph_spellings_and_names_the_choices() {
        assert_eq!(
            parse_compliance("INGRACEPERIOD"),
            Ok(ComplianceState::InGracePeriod)
        );
        assert_eq!(
            parse_compliance("noncompliant"),
            Ok(ComplianceState::Noncompliant)
        );
        let err = parse_compliance("green").unwrap_err();
        assert!(
            err.contains("\"green\"") && err.contains("inGracePeriod"),
            "{err}"
        );
    }
}

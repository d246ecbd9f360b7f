//! The reassignment rules as one pure function of plain inputs (issue 7).
//!
//! A device is a candidate when its primary user (read from `GET managedDevices/{id}/users`, never the
//! list's `userPrincipalName`) is a staging account. Its `usersLoggedOn`, without staging accounts,
//! names the proposed user: the most recent sign-in. The verdict says whether that proposal can be
//! written (`propose`), must wait for a real sign-in (`waiting`), needs the lead to choose
//! (`ambiguous`) or cannot be written (`blocked`, with the reason).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::StagingConfig;

/// The `INTUNE_A` service plan id, for licence facts that carry only the id (`assignedPlans`).
pub const INTUNE_A_PLAN_ID: &str = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5";

/// How the device is joined to Entra (`managedDevice.joinType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Join {
    EntraJoined,
    HybridJoined,
    EntraRegistered,
    Unknown,
}

/// The device facts the rules need (from the list plus the single-device read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    pub id: String,
    pub name: String,
    pub serial: String,
    /// `operatingSystem`, e.g. `Windows`.
    pub operating_system: String,
    pub join: Join,
}

/// A user as the review shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub upn: String,
    pub display_name: String,
}

/// One entry of `usersLoggedOn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub user_id: String,
    pub at: DateTime<Utc>,
}

/// One service plan of a user's licences, reduced to what the licence rule needs. From
/// `licenseDetails` (delegated: name, id, `provisioningStatus == "Success"`) or from the user's
/// `assignedPlans` (app-only: id, `capabilityStatus == "Enabled"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFact {
    pub name: Option<String>,
    pub id: Option<String>,
    pub active: bool,
}

/// A resolved user with the facts the blocking rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub person: Person,
    pub enabled: bool,
    pub plans: Vec<PlanFact>,
}

/// The answer of a user look-up by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    Found(UserFacts),
    /// `GET users/{id}` answered 404.
    NotFound,
}

/// Why a row cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BlockReason {
    UserNotFound { user_id: String },
    Disabled { upn: String },
    NoIntuneLicence { upn: String },
    NotWindows { os: String },
    NotJoined { join: Join },
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserNotFound { user_id } => write!(f, "user {user_id} no longer exists"),
            Self::Disabled { upn } => write!(f, "{upn} is disabled"),
            Self::NoIntuneLicence { upn } => write!(f, "{upn} holds no Intune licence"),
            Self::NotWindows { os } => {
                let os = if os.is_empty() { "unknown" } else { os };
                write!(f, "not Windows ({os}): primary user can't be changed")
            }
            Self::NotJoined { join } => {
                let join = match join {
                    Join::EntraRegistered => "Entra registered",
                    _ => "join type unknown",
                };
                write!(f, "not Entra or hybrid joined ({join})")
            }
        }
    }
}

/// The verdict of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Propose,
    Waiting,
    Ambiguous,
    Blocked(BlockReason),
}

impl Verdict {
    /// The word used in the plan JSON and the pane.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Propose => "propose",
            Self::Waiting => "waiting",
            Self::Ambiguous => "ambiguous",
            Self::Blocked(_) => "blocked",
        }
    }

    /// The reason shown next to the verdict.
    pub fn reason(&self) -> String {
        match self {
            Self::Propose => String::new(),
            Self::Waiting => "no real user has signed in yet".into(),
            Self::Ambiguous => "another user signed in shortly before".into(),
            Self::Blocked(r) => r.to_string(),
        }
    }
}

/// One line of the sign-in history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub user_id: String,
    /// `None` when the user could not be resolved (deleted).
    pub person: Option<Person>,
    pub at: DateTime<Utc>,
    pub staging: bool,
}

/// A candidate and what the rules say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub current: Person,
    /// The most recent non-staging sign-in (resolved when possible).
    pub proposed: Option<Person>,
    pub last_logon: Option<DateTime<Utc>>,
    pub verdict: Verdict,
    /// Other non-staging users who signed in within the window before the proposed one.
    pub alternatives: Vec<(Person, DateTime<Utc>)>,
    /// The whole `usersLoggedOn`, newest first.
    pub history: Vec<HistoryEntry>,
}

/// The rule settings.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub staging: &'a StagingConfig,
    pub window: Duration,
    /// Service plan names that count as an Intune licence (`INTUNE_A` is matched by id too).
    pub intune_plans: &'a [String],
}

/// Is this device a candidate, and what is its verdict? `None` when the primary user is absent or
/// not a staging account. `users` holds the look-ups of every user id in `signins`.
pub fn assess(
    device: &DeviceFacts,
    primary: Option<&Person>,
    signins: &[SignIn],
    users: &BTreeMap<String, UserLookup>,
    rules: &Rules<'_>,
) -> Option<Assessment> {
    let current = primary
        .filter(|p| rules.staging.is_staging(&p.upn))?
        .clone();
    let history = history(signins, users, rules.staging);
    // One entry per real user, at their latest sign-in, newest first.
    let mut real: Vec<&HistoryEntry> = Vec::new();
    for h in history.iter().filter(|h| !h.staging) {
        if !real
            .iter()
            .any(|r| r.user_id.eq_ignore_ascii_case(&h.user_id))
        {
            real.push(h);
        }
    }
    let top = real.first();
    let proposed = top.and_then(|t| t.person.clone());
    let last_logon = top.map(|t| t.at);
    let alternatives: Vec<(Person, DateTime<Utc>)> = match top {
        Some(t) => real[1..]
            .iter()
            .filter(|h| h.at >= t.at - rules.window)
            .filter_map(|h| h.person.clone().map(|p| (p, h.at)))
            .collect(),
        None => Vec::new(),
    };
    let verdict = if let Some(block) = device_block(device) {
        Verdict::Blocked(block)
    } else {
        match top {
            None => Verdict::Waiting,
            Some(t) => match user_block(&t.user_id, users.get(&t.user_id), rules) {
                Some(block) => Verdict::Blocked(block),
                None if !alternatives.is_empty() => Verdict::Ambiguous,
                None => Verdict::Propose,
            },
        }
    };
    Some(Assessment {
        current,
        proposed,
        last_logon,
        verdict,
        alternatives,
        history,
    })
}

/// The verdict for a user the lead picked by hand (the `e` picker): `Propose` or `Blocked`.
pub fn assess_pick(
    device: &DeviceFacts,
    user_id: &str,
    users: &BTreeMap<String, UserLookup>,
    rules: &Rules<'_>,
) -> Verdict {
    device_block(device)
        .or_else(|| user_block(user_id, users.get(user_id), rules))
        .map_or(Verdict::Propose, Verdict::Blocked)
}

fn history(
    signins: &[SignIn],
    users: &BTreeMap<String, UserLookup>,
    staging: &StagingConfig,
) -> Vec<HistoryEntry> {
    let mut out: Vec<HistoryEntry> = signins
        .iter()
        .map(|s| {
            let person = match users.get(&s.user_id) {
                Some(UserLookup::Found(u)) => Some(u.person.clone()),
                _ => None,
            };
            let staging = person.as_ref().is_some_and(|p| staging.is_staging(&p.upn));
            HistoryEntry {
                user_id: s.user_id.clone(),
                person,
                at: s.at,
                staging,
            }
        })
        .collect();
    // Newest first; ties by user id so the order never depends on the input order.
    out.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.user_id.cmp(&b.user_id)));
    out
}

fn device_block(device: &DeviceFacts) -> Option<BlockReason> {
    if !device
        .operating_system
        .trim()
        .to_ascii_lowercase()
        .starts_with("windows")
    {
        return Some(BlockReason::NotWindows {
            os: device.operating_system.clone(),
        });
    }
    match device.join {
        Join::EntraJoined | Join::HybridJoined => None,
        join => Some(BlockReason::NotJoined { join }),
    }
}

fn user_block(
    user_id: &str,
    lookup: Option<&UserLookup>,
    rules: &Rules<'_>,
) -> Option<BlockReason> {
    match lookup {
        None | Some(UserLookup::NotFound) => Some(BlockReason::UserNotFound {
            user_id: user_id.into(),
        }),
        Some(UserLookup::Found(u)) if !u.enabled => Some(BlockReason::Disabled {
            upn: u.person.upn.clone(),
        }),
        Some(UserLookup::Found(u)) if !has_intune(&u.plans, rules.intune_plans) => {
            Some(BlockReason::NoIntuneLicence {
                upn: u.person.upn.clone(),
            })
        }
        Some(UserLookup::Found(_)) => None,
    }
}

/// Does any active plan count as Intune: a configured plan name, or the `INTUNE_A` id?
pub fn has_intune(plans: &[PlanFact], names: &[String]) -> bool {
    plans.iter().filter(|p| p.active).any(|p| {
        p.name
            .as_deref()
            .is_some_and(|n| names.iter().any(|c| c.eq_ignore_ascii_case(n)))
            || p.id
                .as_deref()
                .is_some_and(|id| id.eq_ignore_ascii_case(INTUNE_A_PLAN_ID))
    })
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;

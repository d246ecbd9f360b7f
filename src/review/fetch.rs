//! Reading the review's inputs from Graph: the fleet, each device's primary user from
//! `managedDevices/{id}/users` (authoritative), the candidates' single-device reads for
//! `usersLoggedOn`, and user/licence look-ups, all in `$batch` calls of 20. One [`Fetcher`] is one
//! run: its user cache lives as long as it does.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use serde::Deserialize;

use super::docs::{UserDoc, body_of, facts, get_each, item_error};
use super::proposal::{Proposal, propose};
use super::verdict::{
    DeviceFacts, Person, PlanFact, Rules, SignIn, UserFacts, UserLookup, has_intune,
};
use crate::config::Config;
use crate::graph::models::{LicenseDetails, ManagedDevice};
use crate::graph::{BatchRequest, BatchResponse, GraphClient, GraphError};

pub use super::docs::{read_primaries, signins};

const LIST_SELECT: &[&str] = &[
    "id",
    "deviceName",
    "serialNumber",
    "operatingSystem",
    "joinType",
    "userPrincipalName",
];
const DEVICE_SELECT: &[&str] = &[
    "id",
    "deviceName",
    "serialNumber",
    "operatingSystem",
    "joinType",
    "usersLoggedOn",
];
const USER_SELECT: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "accountEnabled",
    "assignedPlans",
];

/// Counters of one run, for the bench and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    pub devices: usize,
    pub candidates: usize,
    pub batches: usize,
    pub user_lookups: usize,
}

pub struct Fetcher<'a> {
    client: &'a GraphClient,
    config: &'a Config,
    users: BTreeMap<String, UserLookup>,
    pub stats: FetchStats,
}

impl<'a> Fetcher<'a> {
    pub fn new(client: &'a GraphClient, config: &'a Config) -> Self {
        Self {
            client,
            config,
            users: BTreeMap::new(),
            stats: FetchStats::default(),
        }
    }

    pub fn rules(&self) -> Rules<'a> {
        Rules {
            staging: &self.config.staging,
            window: Duration::hours(i64::from(self.config.review.ambiguity_window_hours)),
            intune_plans: &self.config.review.intune_service_plans,
        }
    }

    /// One GET per id in `$batch` calls (counted in the stats), answers paired with their ids.
    async fn get_each<'i>(
        &mut self,
        ids: &'i [String],
        request: impl Fn(&str) -> BatchRequest,
    ) -> Result<Vec<(&'i String, BatchResponse)>, GraphError> {
        self.stats.batches += ids.len().div_ceil(crate::graph::batch::MAX_BATCH);
        get_each(self.client, ids, request).await
    }

    /// The primary user of each device (see [`read_primaries`]).
    pub async fn primaries(
        &mut self,
        ids: &[String],
    ) -> Result<BTreeMap<String, Option<Person>>, GraphError> {
        self.stats.batches += ids.len().div_ceil(crate::graph::batch::MAX_BATCH);
        read_primaries(self.client, ids).await
    }

    /// The single-device reads (`usersLoggedOn`, OS, join type) in batches of 20.
    pub async fn devices(
        &mut self,
        ids: &[String],
    ) -> Result<BTreeMap<String, ManagedDevice>, GraphError> {
        let mut out = BTreeMap::new();
        let read = |id: &str| BatchRequest::managed_device(id, DEVICE_SELECT);
        for (id, r) in self.get_each(ids, read).await? {
            match r.status {
                200..=299 => {
                    let d: ManagedDevice = body_of(&format!("device {id}"), &r)?;
                    out.insert(id.clone(), d);
                }
                404 => {}
                _ => return Err(item_error(&format!("device {id}"), &r)),
            }
        }
        Ok(out)
    }

    /// Resolves user ids not yet in this run's cache (batches of 20; 404 = no longer exists).
    pub async fn resolve(&mut self, ids: Vec<String>) -> Result<(), GraphError> {
        let todo: Vec<String> = ids
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|id| !self.users.contains_key(id))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        self.stats.user_lookups += todo.len();
        let mut need_licences = Vec::new();
        let read = |id: &str| BatchRequest::user_with(id, USER_SELECT);
        for (id, r) in self.get_each(&todo, read).await? {
            let lookup = match r.status {
                200..=299 => {
                    let u: UserDoc = body_of(&format!("user {id}"), &r)?;
                    let plans: Vec<PlanFact> = u
                        .assigned_plans
                        .iter()
                        .map(|p| PlanFact {
                            name: None,
                            id: p.service_plan_id.clone(),
                            active: p.capability_status.as_deref() == Some("Enabled"),
                        })
                        .collect();
                    let person = u.person().unwrap_or(Person {
                        id: id.clone(),
                        upn: String::new(),
                        display_name: String::new(),
                    });
                    UserLookup::Found(UserFacts {
                        person,
                        enabled: u.account_enabled.unwrap_or(false),
                        plans,
                    })
                }
                404 => UserLookup::NotFound,
                _ => return Err(item_error(&format!("user {id}"), &r)),
            };
            if let UserLookup::Found(f) = &lookup
                && !has_intune(&f.plans, &self.config.review.intune_service_plans)
                && self.extra_plans()
            {
                need_licences.push(id.clone());
            }
            self.users.insert(id.clone(), lookup);
        }
        if !need_licences.is_empty() {
            self.licences(&need_licences).await?;
        }
        Ok(())
    }

    /// Plans other than `INTUNE_A` are configured: they are known by name only, which
    /// `licenseDetails` carries (delegated tokens; app-only tokens get 403 and keep `assignedPlans`).
    fn extra_plans(&self) -> bool {
        self.config
            .review
            .intune_service_plans
            .iter()
            .any(|p| !p.eq_ignore_ascii_case("INTUNE_A"))
    }

    async fn licences(&mut self, ids: &[String]) -> Result<(), GraphError> {
        for (id, r) in self
            .get_each(ids, BatchRequest::user_license_details)
            .await?
        {
            if !(200..300).contains(&r.status) {
                tracing::info!(user = %id, status = r.status, "licenseDetails unreadable; using assignedPlans");
                continue;
            }
            #[derive(Deserialize)]
            struct Details {
                #[serde(default)]
                value: Vec<LicenseDetails>,
            }
            let d: Details = body_of(&format!("licences of user {id}"), &r)?;
            if let Some(UserLookup::Found(f)) = self.users.get_mut(id) {
                for sp in d.value.iter().flat_map(|l| &l.service_plans) {
                    f.plans.push(PlanFact {
                        name: sp.service_plan_name.clone(),
                        id: sp.service_plan_id.clone(),
                        active: sp.provisioning_status.as_deref() == Some("Success"),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn users(&self) -> &BTreeMap<String, UserLookup> {
        &self.users
    }

    /// The whole review: every device whose primary user is a staging account, assessed.
    pub async fn candidates(&mut self) -> Result<Vec<Proposal>, GraphError> {
        let fleet = self.client.list_managed_devices(None, LIST_SELECT).await?;
        self.stats.devices = fleet.len();
        let staging = &self.config.staging;
        // The list row decides only who is worth asking: a staging account or nobody. `/users`
        // decides who is a candidate (the list lags a change by minutes).
        let ids: Vec<String> = fleet
            .iter()
            .filter(|d| {
                d.user_principal_name
                    .as_deref()
                    .is_none_or(|u| u.is_empty() || staging.is_staging(u))
            })
            .map(|d| d.id.clone())
            .collect();
        let primaries = self.primaries(&ids).await?;
        let listed: Vec<(&ManagedDevice, Person)> = fleet
            .iter()
            .filter_map(|d| {
                let p = primaries.get(&d.id)?.as_ref()?;
                staging.is_staging(&p.upn).then(|| (d, p.clone()))
            })
            .collect();
        let cand_ids: Vec<String> = listed.iter().map(|(d, _)| d.id.clone()).collect();
        let details = self.devices(&cand_ids).await?;
        let signed_in: Vec<String> = details
            .values()
            .flat_map(|d| d.users_logged_on.iter().filter_map(|u| u.user_id.clone()))
            .collect();
        self.resolve(signed_in).await?;
        let mut out = Vec::new();
        for (listed, primary) in listed {
            let Some(d) = details.get(&listed.id) else {
                continue;
            };
            let mut f = facts(d);
            if f.serial.is_empty() {
                f.serial = listed.serial_number.clone().unwrap_or_default();
            }
            let signins = signins(d);
            if let Some(c) = self.candidate(f, &primary, &signins) {
                out.push(c);
            }
        }
        out.sort_by(|a, b| {
            a.device
                .name
                .cmp(&b.device.name)
                .then_with(|| a.device.id.cmp(&b.device.id))
        });
        self.stats.candidates = out.len();
        Ok(out)
    }

    /// Assesses one device from facts already read (the user cache must hold its sign-ins).
    pub fn candidate(
        &self,
        device: DeviceFacts,
        primary: &Person,
        signins: &[SignIn],
    ) -> Option<Proposal> {
        propose(device, primary, signins, &self.users, &self.rules())
    }
}

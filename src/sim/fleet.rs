//! The living fleet: corporate identifiers that become devices, enroll through a staging account,
//! go through Device Preparation phases, succeed or fail, and later get a real user signing in.
//! A device's state is a pure function of its timeline and the sim clock; only primary-user
//! changes and remote actions are recorded as events.

use std::collections::HashMap;

use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::directory::Directory;
use super::rng::Rng;

/// `AutopilotV2DeploymentStatus.DeploymentStatus` codes (docs/graph.md §4.1: "2" success and "3"
/// failed are observed; "1" in progress is this simulator's assumption). The one place they live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimDeployment {
    InProgress { phase: u8 },
    Succeeded,
    Failed { phase: u8 },
}

impl SimDeployment {
    pub fn status_code(self) -> u8 {
        match self {
            SimDeployment::InProgress { .. } => 1,
            SimDeployment::Succeeded => 2,
            SimDeployment::Failed { .. } => 3,
        }
    }
    /// `CurrentProvisioningPhase`: 1 policy installation, 2 script installation, 3 app
    /// installation, 4 complete (sim convention; the real mapping is undocumented).
    pub fn current_phase(self) -> u8 {
        match self {
            SimDeployment::InProgress { phase } | SimDeployment::Failed { phase } => phase,
            SimDeployment::Succeeded => 4,
        }
    }
    /// (`Phase`, `ResultCode`) columns, mirroring the observed rows in docs/graph.md §4.1.
    pub fn phase_and_result(self) -> (&'static str, &'static str) {
        match self {
            SimDeployment::InProgress { .. } => ("0", "0"),
            SimDeployment::Succeeded => ("6", "0"),
            SimDeployment::Failed { .. } => ("1796", "-2147023436"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub identifier: String,
    pub kind: String,
    pub description: String,
    pub created: DateTime<Utc>,
    /// `enrollmentState` as Intune set it for a failed or blocked enrollment; `None` = derived
    /// from the device's enrollment time (`notContacted`, then `enrolled`).
    pub state_override: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub aad_id: String,
    pub identity_id: Option<String>,
    pub serial: String,
    pub name: String,
    pub manufacturer: String,
    pub model: String,
    pub staging_upn: String,
    pub enroll_at: DateTime<Utc>,
    /// Ends of phases 1, 2, 3.
    pub phase_ends: [DateTime<Utc>; 3],
    /// Phase (1..=3) in which the deployment fails, if it does.
    pub fails_in: Option<u8>,
    /// The real user who signs in after provisioning, and when.
    pub logon: Option<(String, DateTime<Utc>)>,
    /// A deleted user's id that also shows in `usersLoggedOn`.
    pub ghost_logon: Option<String>,
    /// Primary-user changes: (applies at, user id). Before the first, the staging account.
    pub primary_changes: Vec<(DateTime<Utc>, String)>,
    /// The list call's `userPrincipalName` trails the truth by this much (docs/graph.md §3.4).
    pub upn_lag: Span,
    pub management_state: String,
    pub action_results: Vec<Value>,
    /// Test shaping (see `SimHandle::shape_device`); the defaults describe the usual staged laptop.
    pub shape: Shape,
    /// Check-ins besides the schedule and the sign-ins: a `syncDevice` action, or a test's
    /// `SimHandle::check_in`.
    pub syncs: Vec<DateTime<Utc>>,
}

/// The parts of a device a test may bend to reach rare verdicts and flags: another OS, another
/// join type, a forced compliance state, extra sign-ins in `usersLoggedOn`.
#[derive(Debug, Clone)]
pub struct Shape {
    /// `operatingSystem` ("Windows" unless shaped).
    pub operating_system: String,
    /// `joinType` ("azureADJoined" unless shaped; e.g. "hybridAzureADJoined", "azureADRegistered").
    pub join_type: String,
    /// `complianceState` override; `None` = derived from the deployment.
    pub compliance: Option<String>,
    /// Extra `usersLoggedOn` entries: (user id, sign-in time).
    pub extra_logons: Vec<(String, DateTime<Utc>)>,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            operating_system: "Windows".into(),
            join_type: "azureADJoined".into(),
            compliance: None,
            extra_logons: vec![],
        }
    }
}

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn mins(rng: &mut Rng, lo: u64, hi: u64) -> Span {
    Span::seconds(rng.range(lo * 60, hi * 60) as i64)
}

const MODELS: &[(&str, &str)] = &[
    ("Dell Inc.", "Latitude 7440"),
    ("LENOVO", "21HD"),
    ("HP", "EliteBook 840 G10"),
    ("Microsoft Corporation", "Surface Laptop 6"),
];

#[derive(Debug)]
pub struct Fleet {
    pub identities: Vec<Identity>,
    pub devices: Vec<Device>,
    pub rng: Rng,
    pub failure_rate: f64,
    staging: Vec<String>,
    /// Lower-case device id -> position in `devices`, for the devices this type added. A hint:
    /// lookups verify it and fall back to a scan, so devices pushed from outside still resolve.
    by_id: HashMap<String, usize>,
}

impl Fleet {
    pub fn new(rng: Rng, failure_rate: f64, staging: Vec<String>) -> Self {
        Self {
            identities: vec![],
            devices: vec![],
            rng,
            failure_rate,
            staging,
            by_id: HashMap::new(),
        }
    }

    /// Registers an identifier at `now`; the device enrolls a few sim-minutes later.
    pub fn add_identity(
        &mut self,
        identifier: &str,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
        dir: &Directory,
    ) -> Identity {
        let ident = Identity {
            id: self.rng.guid(),
            identifier: identifier.to_string(),
            kind: kind.to_string(),
            description: description.to_string(),
            created: now,
            state_override: None,
        };
        let parts: Vec<&str> = identifier.split(',').map(str::trim).collect();
        let (manufacturer, model, serial) = match parts.as_slice() {
            [m, mo, s] => (m.to_string(), mo.to_string(), s.to_string()),
            _ => (
                "Dell Inc.".to_string(),
                "Latitude 7440".to_string(),
                identifier.trim().to_string(),
            ),
        };
        let enroll_at = now + mins(&mut self.rng, 2, 6);
        let dev = self.timeline(
            Some(ident.id.clone()),
            serial,
            manufacturer,
            model,
            enroll_at,
            dir,
        );
        self.push_device(dev);
        self.identities.push(ident.clone());
        ident
    }

    /// A device that enrolls at `enroll_at` without a corporate identifier (Windows Autopilot:
    /// its hardware hash was imported), then moves through the usual stages.
    pub fn add_enrolling(
        &mut self,
        serial: &str,
        manufacturer: &str,
        model: &str,
        enroll_at: DateTime<Utc>,
        dir: &Directory,
    ) {
        let dev = self.timeline(
            None,
            serial.to_string(),
            manufacturer.to_string(),
            model.to_string(),
            enroll_at,
            dir,
        );
        self.push_device(dev);
    }

    fn timeline(
        &mut self,
        identity_id: Option<String>,
        serial: String,
        manufacturer: String,
        model: String,
        enroll_at: DateTime<Utc>,
        dir: &Directory,
    ) -> Device {
        let r = &mut self.rng;
        let p1 = enroll_at + mins(r, 3, 8);
        let p2 = p1 + mins(r, 2, 6);
        let p3 = p2 + mins(r, 4, 10);
        let fails_in = r.chance(self.failure_rate).then(|| r.range(1, 4) as u8);
        let employees = dir.employees();
        let user = employees[r.range(0, employees.len() as u64) as usize]
            .id
            .clone();
        let logon = fails_in.is_none().then(|| (user, p3 + mins(r, 5, 20)));
        let ghost_logon = r
            .chance(0.15)
            .then(|| dir.deleted_ids[r.range(0, dir.deleted_ids.len() as u64) as usize].clone());
        let staging_upn = self.staging[r.range(0, self.staging.len() as u64) as usize].clone();
        let upn_lag = if r.chance(0.3) {
            mins(r, 5, 15)
        } else {
            Span::zero()
        };
        Device {
            id: r.guid(),
            aad_id: r.guid(),
            identity_id,
            name: format!("DESKTOP-{}", r.code(7)),
            serial,
            manufacturer,
            model,
            staging_upn,
            enroll_at,
            phase_ends: [p1, p2, p3],
            fails_in,
            logon,
            ghost_logon,
            primary_changes: vec![],
            upn_lag,
            management_state: "managed".into(),
            action_results: vec![],
            shape: Shape::default(),
            syncs: vec![],
        }
    }

    /// Pre-seeds `n` devices spread over every stage at `now`: registered only, provisioning in
    /// each phase, provisioned, failed, in use by a real user, and already handed over.
    pub fn seed(&mut self, n: usize, now: DateTime<Utc>, dir: &Directory) {
        for i in 0..n {
            let (m, mo) = MODELS[i % MODELS.len()];
            let serial = format!("{}{}", ["5CG", "PF", "CND", "0F"][i % 4], self.rng.code(7));
            let ident = Identity {
                id: self.rng.guid(),
                identifier: format!("{m},{mo},{serial}"),
                kind: "manufacturerModelSerial".into(),
                description: String::new(),
                created: now - Span::days(2),
                state_override: None,
            };
            let mut d = self.timeline(
                Some(ident.id.clone()),
                serial,
                m.into(),
                mo.into(),
                now,
                dir,
            );
            let stage = i % 8;
            // Shift the timeline so `now` falls in the wanted stage.
            let shift = match stage {
                0 => Span::minutes(-(2 + i as i64 % 5)),
                1 => d.phase_ends[0] - d.enroll_at - Span::minutes(1),
                2 => d.phase_ends[1] - d.enroll_at - Span::minutes(1),
                3 => d.phase_ends[2] - d.enroll_at - Span::minutes(1),
                _ => d.phase_ends[2] - d.enroll_at + Span::minutes(1),
            };
            d.enroll_at -= shift;
            d.phase_ends.iter_mut().for_each(|t| *t -= shift);
            d.fails_in = (stage == 5).then_some(2);
            let p3 = d.phase_ends[2];
            let fallback = dir.employees()[i % dir.employees().len()].id.clone();
            let user = d.logon.take().map(|(u, _)| u).unwrap_or(fallback);
            d.logon = match stage {
                0..=3 => Some((user, p3 + Span::minutes(10))),
                4 | 5 => None,
                _ => Some((user, p3 + Span::seconds(30))),
            };
            if stage == 7 {
                let who = d.logon.clone().map(|(u, _)| u).unwrap_or_default();
                d.primary_changes.push((p3 + Span::seconds(45), who));
            }
            self.identities.push(ident);
            self.push_device(d);
        }
    }

    pub fn enrolled(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Device> {
        self.devices.iter().filter(move |d| d.enroll_at <= now)
    }

    fn push_device(&mut self, d: Device) {
        self.by_id
            .insert(d.id.to_ascii_lowercase(), self.devices.len());
        self.devices.push(d);
    }

    /// Position of the device with this id (case-insensitive), enrolled by `now`: through the
    /// index when it is right, else by a scan (ids are unique GUIDs, so both find the same one).
    fn position(&self, id: &str, now: DateTime<Utc>) -> Option<usize> {
        let hit = |i: &usize| {
            self.devices
                .get(*i)
                .is_some_and(|d| d.id.eq_ignore_ascii_case(id))
        };
        match self.by_id.get(&id.to_ascii_lowercase()).filter(|i| hit(i)) {
            Some(&i) => Some(i).filter(|&i| self.devices[i].enroll_at <= now),
            None => self
                .devices
                .iter()
                .position(|d| d.enroll_at <= now && d.id.eq_ignore_ascii_case(id)),
        }
    }

    pub fn device_mut(&mut self, id: &str, now: DateTime<Utc>) -> Option<&mut Device> {
        let i = self.position(id, now)?;
        self.devices.get_mut(i)
    }

    pub fn device(&self, id: &str, now: DateTime<Utc>) -> Option<&Device> {
        self.position(id, now).map(|i| &self.devices[i])
    }

    pub fn identity_state(
        &self,
        ident: &Identity,
        now: DateTime<Utc>,
    ) -> (&'static str, Option<DateTime<Utc>>) {
        let enroll_at = self
            .devices
            .iter()
            .find(|d| d.identity_id.as_deref() == Some(&ident.id))
            .map(|d| d.enroll_at);
        match ident.state_override {
            Some(state) => (state, None),
            None => state_at(enroll_at, now),
        }
    }

    /// When the first device of each identity enrolls (or will): one pass over the fleet, so a
    /// listing of every identity does not scan the devices once per identity.
    pub fn enroll_times(&self) -> HashMap<&str, DateTime<Utc>> {
        let mut out = HashMap::with_capacity(self.devices.len());
        for d in &self.devices {
            if let Some(id) = d.identity_id.as_deref() {
                out.entry(id).or_insert(d.enroll_at);
            }
        }
        out
    }

    pub fn identity_json(&self, ident: &Identity, now: DateTime<Utc>) -> Value {
        identity_value(ident, self.identity_state(ident, now))
    }

    /// `identity_json` with the device lookup done through `enroll_times`.
    pub fn identity_json_in(
        ident: &Identity,
        enroll_times: &HashMap<&str, DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Value {
        let enroll_at = enroll_times.get(ident.id.as_str()).copied();
        let state = match ident.state_override {
            Some(state) => (state, None),
            None => state_at(enroll_at, now),
        };
        identity_value(ident, state)
    }

    /// Removes an identity and, if its device has not enrolled yet, the device with it.
    pub fn delete_identity(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        let before = self.identities.len();
        self.identities.retain(|i| !i.id.eq_ignore_ascii_case(id));
        self.devices.retain(|d| {
            !(d.identity_id
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(id))
                && d.enroll_at > now)
        });
        self.by_id = self
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.to_ascii_lowercase(), i))
            .collect();
        self.identities.len() != before
    }
}

/// The last scheduled check-in at or before `now` of a device enrolled at `enroll_at`: every 3
/// minutes for the first 15, every 15 for the next 2 hours, then every 8 hours.
pub fn scheduled_check_in(enroll_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let since = now - enroll_at;
    if since <= Span::zero() {
        return enroll_at;
    }
    let steps = |from: Span, every: Span| {
        let n = (since - from).num_seconds() / every.num_seconds();
        enroll_at + from + every * n as i32
    };
    let fast_end = Span::minutes(15);
    let medium_end = fast_end + Span::hours(2);
    if since < fast_end {
        steps(Span::zero(), Span::minutes(3))
    } else if since < medium_end {
        steps(fast_end, Span::minutes(15))
    } else {
        steps(medium_end, Span::hours(8))
    }
}

fn state_at(
    enroll_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (&'static str, Option<DateTime<Utc>>) {
    match enroll_at {
        Some(at) if at <= now => ("enrolled", Some(at)),
        _ => ("notContacted", None),
    }
}

fn identity_value(ident: &Identity, (state, contacted): (&str, Option<DateTime<Utc>>)) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.importedDeviceIdentity",
        "id": ident.id,
        "importedDeviceIdentifier": ident.identifier,
        "importedDeviceIdentityType": ident.kind,
        "lastModifiedDateTime": iso(ident.created),
        "createdDateTime": iso(ident.created),
        "lastContactedDateTime": iso(contacted.unwrap_or(DateTime::UNIX_EPOCH)),
        "description": ident.description,
        "enrollmentState": state,
        "platform": "windows",
    })
}

impl Device {
    pub fn deployment(&self, now: DateTime<Utc>) -> Option<SimDeployment> {
        if now < self.enroll_at {
            return None;
        }
        let phase = self
            .phase_ends
            .iter()
            .position(|end| now < *end)
            .map(|p| p as u8 + 1);
        Some(match (phase, self.fails_in) {
            (Some(p), Some(f)) if p > f => SimDeployment::Failed { phase: f },
            (None, Some(f)) => SimDeployment::Failed { phase: f },
            (Some(p), _) => SimDeployment::InProgress { phase: p },
            (None, None) => SimDeployment::Succeeded,
        })
    }

    pub fn finished_at(&self) -> DateTime<Utc> {
        match self.fails_in {
            Some(f) => self.phase_ends[f as usize - 1],
            None => self.phase_ends[2],
        }
    }

    /// The primary user's id at `t`: the staging account until a change applies.
    pub fn primary_at(&self, t: DateTime<Utc>, dir: &Directory) -> Option<String> {
        self.primary_changes
            .iter()
            .filter(|(at, _)| *at <= t)
            .max_by_key(|(at, _)| *at)
            .map(|(_, u)| u.clone())
            .or_else(|| dir.find(&self.staging_upn).map(|u| u.id.clone()))
    }

    /// The device's last check-in at `now` (`lastSyncDateTime`). A newly enrolled Windows device
    /// checks in every 3 minutes for 15 minutes, then every 15 minutes for 2 hours, then about
    /// every 8 hours (Intune's documented refresh cycle); a user sign-in runs a check-in too (the
    /// enrollment client's logon schedule), and so does a `syncDevice` action. Between check-ins
    /// nothing the device reports (`usersLoggedOn`, `lastSyncDateTime`) changes.
    pub fn last_sync(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let scheduled = scheduled_check_in(self.enroll_at, now);
        self.sign_ins()
            .chain(self.syncs.iter().copied())
            .filter(|t| *t <= now && *t >= self.enroll_at)
            .fold(scheduled, DateTime::max)
    }

    /// When each sign-in this device reports happened (staging account, ghost, real user, extra).
    fn sign_ins(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        [
            Some(self.enroll_at + Span::seconds(40)),
            self.ghost_logon
                .as_ref()
                .map(|_| self.enroll_at + Span::seconds(90)),
            self.logon.as_ref().map(|(_, at)| *at),
        ]
        .into_iter()
        .flatten()
        .chain(self.shape.extra_logons.iter().map(|(_, at)| *at))
    }

    pub fn users_logged_on(&self, now: DateTime<Utc>, dir: &Directory) -> Vec<Value> {
        let mut out = vec![];
        if let Some(s) = dir.find(&self.staging_upn) {
            out.push(json!({"userId": s.id, "lastLogOnDateTime": iso(self.enroll_at + Span::seconds(40))}));
        }
        if let Some(g) = &self.ghost_logon {
            out.push(
                json!({"userId": g, "lastLogOnDateTime": iso(self.enroll_at + Span::seconds(90))}),
            );
        }
        if let Some((u, at)) = &self.logon
            && *at <= now
        {
            out.push(json!({"userId": u, "lastLogOnDateTime": iso(*at)}));
        }
        for (u, at) in self.shape.extra_logons.iter().filter(|(_, at)| *at <= now) {
            out.push(json!({"userId": u, "lastLogOnDateTime": iso(*at)}));
        }
        out
    }

    /// The full entity as a single GET returns it. `list` = the list row: `usersLoggedOn` empty,
    /// `enrolledByUserPrincipalName` absent, `userPrincipalName` possibly lagging (docs/graph.md §2.3, 3.4).
    pub fn to_json(&self, now: DateTime<Utc>, dir: &Directory, list: bool) -> Value {
        let seen_at = if list { now - self.upn_lag } else { now };
        let primary = self
            .primary_at(seen_at, dir)
            .and_then(|id| dir.find(&id).cloned());
        let mut v = json!({
            "id": self.id,
            "deviceName": self.name,
            "serialNumber": self.serial,
            "userPrincipalName": primary.as_ref().map(|u| u.upn.clone()).unwrap_or_default(),
            "userId": primary.as_ref().map(|u| u.id.clone()).unwrap_or_default(),
            "userDisplayName": primary.as_ref().map(|u| u.display_name.clone()).unwrap_or_default(),
            "emailAddress": primary.as_ref().map(|u| u.upn.clone()).unwrap_or_default(),
            "enrolledDateTime": iso(self.enroll_at),
            "lastSyncDateTime": iso(self.last_sync(now)),
            "complianceState": match &self.shape.compliance {
                Some(c) => c.as_str(),
                None if matches!(self.deployment(now), Some(SimDeployment::Succeeded)) => "compliant",
                None => "inGracePeriod",
            },
            "managementState": self.management_state,
            "deviceEnrollmentType": "windowsAzureADJoin",
            "enrolledByUserPrincipalName": self.staging_upn,
            "usersLoggedOn": if list { vec![] } else { self.users_logged_on(now, dir) },
            "azureADDeviceId": self.aad_id,
            "joinType": self.shape.join_type,
            "autopilotEnrolled": true,
            "operatingSystem": self.shape.operating_system,
            "osVersion": "10.0.22631.4317",
            "model": self.model,
            "manufacturer": self.manufacturer,
            "managedDeviceOwnerType": "company",
            "enrollmentProfileName": "Device Preparation - Staging",
            "deviceRegistrationState": "registered",
            "managementAgent": "mdm",
            "deviceActionResults": self.action_results,
        });
        if list && let Some(o) = v.as_object_mut() {
            o.remove("enrolledByUserPrincipalName");
        }
        v
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;

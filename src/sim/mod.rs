//! The simulated tenant: Entra token endpoints and the Graph routes stagehand uses, served on
//! loopback for `stagehand sim`, `stagehand demo` and the tests. See `start`.

mod assertion;
mod auth;
pub mod autopilot;
mod certs;
mod cli;
mod device_code;
pub mod directory;
pub(crate) mod faults;
pub(crate) mod fleet;
mod grants;
pub(crate) mod limits;
pub(crate) mod odata;
mod pkce;
mod reports;
pub mod rng;
mod routes;
mod server;
pub(crate) mod stats;
mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use url::Url;

pub use cli::{SimArgs, app_secret_line, banner, env_line, run_cli};
pub use faults::{Faults, Scripted};
pub use fleet::{Shape, SimDeployment};
pub use reports::COLUMNS as DEPLOYMENT_REPORT_COLUMNS;
pub use routes::{ALL_DELEGATED, DEVICE_PREP_AUTOMATIC_TEMPLATE_ID, DEVICE_PREP_TEMPLATE_ID};
pub use stats::{RequestRecord, SimStats};

use crate::secret::Secret;
use auth::{Subject, Tokens};
use server::{Clock, Shared, State};

/// How the tenant is set up; `Default` is healthy. The doctor flips these to break it.
#[derive(Debug, Clone)]
pub struct TenantSetup {
    /// The "Intune Provisioning Client" service principal exists.
    pub provisioning_sp_present: bool,
    /// The Device Preparation device group is owned by that service principal.
    pub group_owned_by_provisioning_client: bool,
    /// The Device Preparation policy exists.
    pub device_prep_policy_present: bool,
    /// The CA policy excludes the Microsoft Intune Enrollment app.
    pub ca_excludes_enrollment: bool,
    /// The CA policy is report-only instead of enforced.
    pub ca_report_only: bool,
    /// The first staging account has an Intune licence.
    pub staging_licensed: bool,
    /// The Device Preparation policy's device group.
    pub device_group_id: String,
    /// Its Settings Catalog template: user-driven (default) or automatic (docs/graph.md §4.2).
    pub device_prep_template_id: String,
    /// Application permissions granted to client-credentials tokens.
    pub app_roles: Vec<String>,
}

impl Default for TenantSetup {
    fn default() -> Self {
        Self {
            provisioning_sp_present: true,
            group_owned_by_provisioning_client: true,
            device_prep_policy_present: true,
            ca_excludes_enrollment: true,
            ca_report_only: false,
            staging_licensed: true,
            device_group_id: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d".into(),
            device_prep_template_id: routes::DEVICE_PREP_TEMPLATE_ID.into(),
            app_roles: [
                "DeviceManagementServiceConfig.ReadWrite.All",
                "DeviceManagementManagedDevices.ReadWrite.All",
                "DeviceManagementManagedDevices.PrivilegedOperations.All",
                "DeviceManagementConfiguration.ReadWrite.All",
                "User.Read.All",
                "Application.Read.All",
                "GroupMember.Read.All",
                "Policy.Read.All",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Everything `start` needs. `Default` = seed 7, 40 devices, real time, healthy, no faults.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    /// Devices pre-seeded across every stage.
    pub devices: usize,
    /// Sim seconds per real second (60: minutes become seconds).
    pub speed: f64,
    pub faults: Faults,
    pub tenant: TenantSetup,
    pub staging_accounts: Vec<String>,
    /// 0 = any free port. Always 127.0.0.1.
    pub port: u16,
    /// Share of deployments that fail.
    pub failure_rate: f64,
    /// Device codes are approved by the ops lead on first poll.
    pub auto_approve_device_code: bool,
    pub device_code_interval: Duration,
    pub device_code_ttl: Duration,
    pub client_secret: Secret,
    /// PEM certificates registered on the simulated app registration (`SimHandle::client_id`):
    /// a client assertion must name one by `x5t#S256` and carry a valid RS256 signature by its
    /// key. Empty: certificate sign-in is refused (`AADSTS700027`), as for an app with no keys.
    pub certificates: Vec<String>,
    /// Sim time a primary-user change takes to apply.
    pub primary_user_propagation: Duration,
    /// Sim clock start (default: now).
    pub start_time: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            seed: 7,
            devices: 40,
            speed: 1.0,
            faults: Faults::default(),
            tenant: TenantSetup::default(),
            staging_accounts: vec![
                format!("staging@{}", directory::DOMAIN),
                format!("o'neil.staging@{}", directory::DOMAIN),
            ],
            port: 0,
            failure_rate: 0.15,
            auto_approve_device_code: false,
            device_code_interval: Duration::from_secs(5),
            device_code_ttl: Duration::from_secs(900),
            client_secret: Secret::new("sim-client-secret"),
            certificates: vec![],
            primary_user_propagation: Duration::from_secs(180),
            start_time: None,
        }
    }
}

/// What `stagehand demo` needs: the simulator on a free loopback port (device codes approve
/// themselves) and a one-day delegated token for the ops lead with every scope the app has.
pub async fn start_demo(
    seed: u64,
    devices: usize,
    speed: f64,
) -> anyhow::Result<(SimHandle, Secret)> {
    let sim = start(SimOptions {
        seed,
        devices,
        speed,
        auto_approve_device_code: true,
        ..SimOptions::default()
    })
    .await?;
    let token = sim.issue_token(ALL_DELEGATED, Duration::from_secs(24 * 3600));
    Ok((sim, token))
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    /// Graph at `{base}beta` and `{base}v1.0`, sign-in at `{base}{tenant}/oauth2/v2.0/…`.
    pub base_url: Url,
    state: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Binds 127.0.0.1 (port 0 = any free one), builds the fleet and serves until dropped.
pub async fn start(opts: SimOptions) -> anyhow::Result<SimHandle> {
    anyhow::ensure!(
        opts.speed.is_finite() && opts.speed > 0.0,
        "sim speed must be a positive number, got {}",
        opts.speed
    );
    anyhow::ensure!(
        !opts.staging_accounts.is_empty(),
        "at least one staging account is needed"
    );
    let certificates = certs::parse_all(&opts.certificates)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", opts.port))?;
    let addr = listener.local_addr()?;
    let base_url = Url::parse(&format!("http://{addr}/"))?;
    let mut rng = rng::Rng::new(opts.seed);
    let tenant_id = rng.guid();
    let client_id = rng.guid();
    let dir = directory::Directory::generate(
        &mut rng,
        &opts.staging_accounts,
        !opts.tenant.staging_licensed,
    );
    let sim_start = opts.start_time.unwrap_or_else(chrono::Utc::now);
    let mut fleet = fleet::Fleet::new(
        rng::Rng::new(opts.seed.wrapping_add(1)),
        opts.failure_rate,
        opts.staging_accounts.clone(),
    );
    fleet.seed(opts.devices, sim_start, &dir);
    let state = State {
        base: base_url.clone(),
        tenant_id,
        client_id,
        clock: Clock {
            real_start: Instant::now(),
            sim_start,
            speed: opts.speed,
            advanced: chrono::Duration::zero(),
        },
        dir,
        fleet,
        tokens: Tokens::default(),
        limits: limits::Throttles::new(opts.seed),
        faults: opts.faults.clone(),
        fault_rng: rng::Rng::new(opts.seed ^ 0xfa17),
        stats: SimStats::default(),
        records: vec![],
        exports: HashMap::new(),
        evidence: Default::default(),
        autopilot: autopilot::Autopilot::default(),
        certificates,
        opts,
    };
    let shared: Shared = Arc::new(Mutex::new(state));
    let app = axum::Router::new()
        .fallback(server::handle)
        .with_state(shared.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stop_rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!("simulator server stopped: {e}");
        }
    });
    Ok(SimHandle {
        base_url,
        state: shared,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

impl SimHandle {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub fn tenant_id(&self) -> String {
        self.with(|s| s.tenant_id.clone())
    }
    pub fn client_id(&self) -> String {
        self.with(|s| s.client_id.clone())
    }
    /// `{base}{tenant}/oauth2/v2.0/` — the sign-in base for this tenant.
    pub fn login_url(&self) -> Url {
        self.base_url
            .join(&format!("{}/oauth2/v2.0/", self.tenant_id()))
            .expect("a tenant id is a valid path segment")
    }
    /// `{base}beta/`.
    pub fn graph_url(&self) -> Url {
        self.base_url.join("beta/").expect("static path")
    }
    pub fn stats(&self) -> SimStats {
        self.with(|s| s.stats.clone())
    }
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.with(|s| s.records.clone())
    }
    /// A delegated token for the ops lead (`lead@contoso.example`), as after a sign-in.
    pub fn issue_token(&self, scopes: &[&str], ttl: Duration) -> Secret {
        self.with(|s| {
            let user = s.dir.lead().id.clone();
            Secret::new(s.tokens.issue_access(
                Subject::User(user),
                scopes.iter().map(|x| x.to_string()).collect(),
                ttl,
            ))
        })
    }
    /// A delegated token for any directory user (by id or UPN); `None` if unknown.
    pub fn issue_token_for(&self, user: &str, scopes: &[&str], ttl: Duration) -> Option<Secret> {
        self.with(|s| {
            let id = s.dir.find(user)?.id.clone();
            Some(Secret::new(s.tokens.issue_access(
                Subject::User(id),
                scopes.iter().map(|x| x.to_string()).collect(),
                ttl,
            )))
        })
    }
    /// An app-only token with these application permissions.
    pub fn issue_app_token(&self, roles: &[&str], ttl: Duration) -> Secret {
        self.with(|s| {
            let app = s.client_id.clone();
            Secret::new(s.tokens.issue_access(
                Subject::App(app),
                roles.iter().map(|x| x.to_string()).collect(),
                ttl,
            ))
        })
    }
    /// (user id, UPN) of the identity `issue_token` signs in as.
    pub fn signed_in_user(&self) -> (String, String) {
        self.with(|s| (s.dir.lead().id.clone(), s.dir.lead().upn.clone()))
    }
    /// Approves a pending device code as the ops lead; false if the code is unknown.
    pub fn approve_device_code(&self, user_code: &str) -> bool {
        self.with(|s| {
            let lead = s.dir.lead().id.clone();
            s.tokens.approve(user_code, &lead)
        })
    }
    /// Approves a pending device code as another directory user (id or UPN), as when a second
    /// person signs in on the same bench; false if the code or the user is unknown.
    pub fn approve_device_code_as(&self, user_code: &str, user: &str) -> bool {
        self.with(|s| {
            let Some(id) = s.dir.find(user).map(|u| u.id.clone()) else {
                return false;
            };
            s.tokens.approve(user_code, &id)
        })
    }
    pub fn decline_device_code(&self, user_code: &str) -> bool {
        self.with(|s| s.tokens.decline(user_code))
    }
    pub fn pending_user_codes(&self) -> Vec<String> {
        self.with(|s| s.tokens.pending_user_codes())
    }
    pub fn revoke_refresh_tokens(&self) {
        self.with(|s| s.tokens.revoke_refresh_tokens())
    }
    pub fn expire_access_tokens(&self) {
        self.with(|s| s.tokens.expire_access_tokens())
    }
    /// Registers a device in Autopilot directly (as an OEM would): importing it again is 806.
    pub fn register_autopilot(&self, serial: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.with(|s| {
            let now = s.clock.now();
            s.autopilot.register(id.clone(), serial, now)
        });
        id
    }
    /// Marks a serial as registered to another tenant: importing it ends in 808.
    pub fn autopilot_other_tenant(&self, serial: &str) {
        self.with(|s| s.autopilot.other_tenant.push(serial.to_string()))
    }
    /// Sets the Autopilot delays (sim time).
    pub fn set_autopilot_timing(&self, timing: autopilot::Timing) {
        self.with(|s| s.autopilot.timing = timing)
    }
    /// Sync requests answered (204, 409, 429).
    pub fn autopilot_syncs(&self) -> (u32, u32, u32) {
        self.with(|s| s.autopilot.syncs)
    }
    /// Import records still in the tenant.
    pub fn autopilot_import_records(&self) -> usize {
        self.with(|s| s.autopilot.imports.len())
    }
    /// (serial, group tag, profile assigned) of every Autopilot device visible now.
    pub fn autopilot_devices(&self) -> Vec<(String, String, bool)> {
        self.with(|s| {
            let now = s.clock.now();
            s.autopilot
                .visible(now)
                .map(|d| (d.serial.clone(), d.group_tag.clone(), now >= d.profile_at))
                .collect()
        })
    }
    /// Moves the sim clock forward.
    pub fn advance(&self, by: Duration) {
        self.with(|s| s.clock.advanced += chrono::Duration::from_std(by).unwrap_or_default())
    }
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.with(|s| s.clock.now())
    }
    pub fn set_faults(&self, faults: Faults) {
        self.with(|s| s.faults = faults)
    }
    pub fn set_tenant(&self, tenant: TenantSetup) {
        self.with(|s| s.opts.tenant = tenant)
    }
    /// (user id, UPN) of every directory user, and the ids of deleted users seen in `usersLoggedOn`.
    pub fn users(&self) -> (Vec<(String, String)>, Vec<String>) {
        self.with(|s| {
            (
                s.dir
                    .users
                    .iter()
                    .map(|u| (u.id.clone(), u.upn.clone()))
                    .collect(),
                s.dir.deleted_ids.clone(),
            )
        })
    }
    /// Renames a directory user (a new UPN and display name, as after a name change in Entra).
    /// Returns false when no user has that id.
    pub fn rename_user(&self, id: &str, upn: &str, display_name: &str) -> bool {
        self.with(|s| match s.dir.users.iter_mut().find(|u| u.id == id) {
            Some(u) => {
                u.upn = upn.into();
                u.display_name = display_name.into();
                true
            }
            None => false,
        })
    }
    /// Enrolls a second device carrying the serial of an existing one (a re-imaged board, a
    /// vendor's duplicated serial), so "more than one device" refusals can be exercised.
    /// Returns the new device id; `None` if no enrolled device has that serial.
    pub fn duplicate_serial(&self, serial: &str) -> Option<String> {
        self.with(|s| {
            let now = s.clock.now();
            let mut copy = s
                .fleet
                .enrolled(now)
                .find(|d| d.serial.eq_ignore_ascii_case(serial))?
                .clone();
            copy.id = s.fleet.rng.guid();
            copy.aad_id = s.fleet.rng.guid();
            copy.identity_id = None;
            copy.action_results.clear();
            copy.management_state = "managed".into();
            let id = copy.id.clone();
            s.fleet.devices.push(copy);
            Some(id)
        })
    }
    /// Renames every enrolled device with this serial (case-insensitive) to `name`, which may be
    /// anything a hostile or broken tenant could hold (control characters included). Returns how
    /// many matched.
    pub fn rename_device(&self, serial: &str, name: &str) -> usize {
        self.with(|s| {
            let mut n = 0;
            for d in s.fleet.devices.iter_mut() {
                if d.serial.eq_ignore_ascii_case(serial) {
                    d.name = name.to_string();
                    n += 1;
                }
            }
            n
        })
    }
    /// Bends every enrolled device with this serial (case-insensitive) through `f`: another OS,
    /// join type, compliance state or extra sign-ins (`fleet::Shape`). Returns how many matched.
    pub fn shape_device(&self, serial: &str, f: impl Fn(&mut fleet::Shape)) -> usize {
        self.with(|s| {
            let mut n = 0;
            for d in s.fleet.devices.iter_mut() {
                if d.serial.eq_ignore_ascii_case(serial) {
                    f(&mut d.shape);
                    n += 1;
                }
            }
            n
        })
    }
    /// Makes every enrolled device with this serial (case-insensitive) check in now, as after a
    /// `syncDevice` or a scheduled check-in: its `lastSyncDateTime` moves to the sim clock.
    /// Returns how many matched.
    pub fn check_in(&self, serial: &str) -> usize {
        self.with(|s| {
            let now = s.clock.now();
            let mut n = 0;
            for d in s.fleet.devices.iter_mut() {
                if d.serial.eq_ignore_ascii_case(serial) && d.enroll_at <= now {
                    d.syncs.push(now);
                    n += 1;
                }
            }
            n
        })
    }
    /// Sets `enrollmentState` of every corporate identifier whose serial (the last field of
    /// `manufacturer,model,serial`, case-insensitive) is `serial`, as Intune does when an
    /// enrollment fails or is blocked: `"failed"`, `"blocked"` (or any member name). Returns how
    /// many matched.
    pub fn set_identity_state(&self, serial: &str, state: &'static str) -> usize {
        self.with(|s| {
            let mut n = 0;
            for i in s.fleet.identities.iter_mut() {
                let last = i.identifier.rsplit(',').next().unwrap_or(&i.identifier);
                if last.trim().eq_ignore_ascii_case(serial) {
                    i.state_override = Some(state);
                    n += 1;
                }
            }
            n
        })
    }
    /// The client secret of the simulated app registration (for `STAGEHAND_CLIENT_SECRET`).
    pub fn client_secret(&self) -> Secret {
        self.with(|s| s.opts.client_secret.clone())
    }
    /// `{base}devicelogin`: the page where a pending device code is approved.
    pub fn verification_url(&self) -> Url {
        self.base_url
            .join(verify::PATH.trim_start_matches('/'))
            .expect("static path")
    }
    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

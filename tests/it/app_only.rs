//! App-only mode (client credentials) has the powers of a signed-in lead, without ever asking
//! Graph about a signed-in user: the simulator answers `/me` from an app token with Graph's 400,
//! serves `getAssignedRoleDetails` to users only and answers operations Graph no longer has with
//! 400 "Resource not found for the segment"; retire/wipe authority comes from the token's
//! `roles`; doctor reads licences from `assignedPlans` and says the Intune role check does not
//! apply. docs/graph.md §4.3, §6, §7.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use stagehand::auth::access::{Caller, PRIVILEGED_OPERATIONS};
use stagehand::commands::devices::DevicesSession;
use stagehand::config::Config;
use stagehand::devices::{
    ActionContext, Destructive, DestructiveRequest, DevicesError, GuardRefusal, Lifecycle,
    ListFilter, list, run_destructive,
};
use stagehand::doctor::{self, DoctorOptions, Status, ids};
use stagehand::graph::GraphClient;
use stagehand::graph::models::{ManagementState, WipeOptions};
use stagehand::secret::Secret;
use stagehand::sim::{self, SimHandle, SimOptions, TenantSetup};
use stagehand::store::{AuditLog, AuditPhase, StoreClient};

const HOUR: Duration = Duration::from_secs(3600);

fn config() -> Config {
    let mut c = Config::default();
    c.staging.accounts = SimOptions::default().staging_accounts;
    c
}

fn client(sim: &SimHandle, token: Secret) -> GraphClient {
    crate::common_graph::sim_client_with_token(sim, token)
}

/// The app's roles in the healthy simulated tenant, minus `drop`.
fn app_roles_without(drop: &str) -> Vec<String> {
    TenantSetup::default()
        .app_roles
        .into_iter()
        .filter(|r| r != drop)
        .collect()
}

fn app_token(sim: &SimHandle, roles: &[String]) -> Secret {
    let r: Vec<&str> = roles.iter().map(String::as_str).collect();
    sim.issue_app_token(&r, HOUR)
}

/// Paths (method and path) the simulator received, in order.
fn paths(sim: &SimHandle) -> Vec<String> {
    sim.requests()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn none_ask_about_a_user(sim: &SimHandle) {
    let asked: Vec<String> = paths(sim)
        .into_iter()
        .filter(|p| {
            p.contains("/me")
                || p.contains("getAssignedRoleDetails")
                || p.ends_with("/licenseDetails")
        })
        .collect();
    assert!(
        asked.is_empty(),
        "the app asked about a signed-in user: {asked:?}"
    );
}

async fn get(sim: &SimHandle, token: &Secret, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(sim.base_url.join(path).unwrap())
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_simulator_answers_app_tokens_and_gone_operations_as_graph_does() {
    let sim = sim::start(SimOptions {
        devices: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let app = app_token(&sim, &TenantSetup::default().app_roles);
    let user = sim.issue_token(sim::ALL_DELEGATED, HOUR);
    assert!(stagehand::auth::access::caller_of(&app).is_app());
    assert_eq!(stagehand::auth::access::caller_of(&user), Caller::User);

    let (status, body) = get(&sim, &app, "v1.0/me").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(
        body["error"]["message"],
        "/me request is only valid with delegated authentication flow."
    );
    let (status, body) = get(&sim, &user, "v1.0/me").await;
    assert_eq!(
        (status, body["userPrincipalName"].as_str()),
        (200, Some("lead@contoso.example"))
    );

    // getAssignedRoleDetails: a signed-in user's roles, for users only.
    for path in [
        "beta/deviceManagement/getAssignedRoleDetails",
        "beta/deviceManagement/getAssignedRoleDetails()",
    ] {
        let (status, body) = get(&sim, &user, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            body["roleDefinitionIds"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        );
        assert!(
            body["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("deviceAndAppManagementAssignedRoleDetails")
        );
        let (status, _) = get(&sim, &app, path).await;
        assert_eq!(status, 403, "{path} refuses an app token");
    }

    // Operations gone from Graph's metadata: 400, whatever the token.
    let (status, body) = get(
        &sim,
        &user,
        "beta/deviceManagement/getAssignedRoleIdsForLoggedInUser",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Resource not found for the segment 'getAssignedRoleIdsForLoggedInUser'."
    );
    let jit = reqwest::Client::new()
        .post(
            sim.base_url
                .join("beta/deviceManagement/configurationPolicies/4b0f6a3e-7c1d-4e2a-9f3b-1d2c3e4f5a6b/retrieveJustInTimeConfiguration")
                .unwrap(),
        )
        .bearer_auth(user.expose())
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(jit.status(), 400);
    let body: Value = jit.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Resource not found for the segment 'retrieveJustInTimeConfiguration'")
    );
    // The client reads that answer as "not available", not as an ordinary failure.
    let c = client(&sim, user);
    let e = c
        .get_entity::<Value>(c.beta(
            "/deviceManagement/getAssignedRoleIdsForLoggedInUser",
            &stagehand::graph::odata::Query::new(),
        ))
        .await
        .unwrap_err();
    assert!(e.is_unknown_operation(), "{e:?}");
}

async fn serial_of_a_managed_device(c: &GraphClient, config: &Config) -> String {
    list(c, &config.staging, &ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| {
            r.management_state == Some(ManagementState::Managed) && r.stage != Lifecycle::Unassigned
        })
        .expect("the fleet has managed devices")
        .serial
}

fn wipe(serial: &str) -> DestructiveRequest {
    DestructiveRequest {
        serial: serial.into(),
        confirm: Some(serial.into()),
        action: Destructive::Wipe(WipeOptions {
            keep_enrollment_data: true,
            ..WipeOptions::default()
        }),
    }
}

async fn attempt(
    s: &DevicesSession,
    config: &Config,
    audit: &mut StoreClient,
    serial: &str,
) -> Result<stagehand::devices::ActionOutcome, DevicesError> {
    let ctx = ActionContext {
        client: &s.client,
        config,
        audit: &*audit,
        actor: &s.actor,
        now: &Utc::now,
    };
    run_destructive(ctx, &wipe(serial), |_| true).await
}

fn wipes(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/wipe"))
        .count()
}

#[tokio::test]
async fn app_only_wipe_reaches_intune_once_with_the_permission_and_never_without() {
    let c = config();
    let dir = tempfile::tempdir().unwrap();
    // The store thread is the one audit writer; the log is read back from the file.
    let store = stagehand::store::open_headless(dir.path()).unwrap();
    let mut audit = store.client().unwrap();

    // Without DeviceManagementManagedDevices.PrivilegedOperations.All: refused before any write.
    let sim = sim::start(SimOptions::default()).await.unwrap();
    let actor = format!("app:{}", sim.client_id());
    let without = DevicesSession {
        client: client(
            &sim,
            app_token(&sim, &app_roles_without(PRIVILEGED_OPERATIONS)),
        ),
        actor: actor.clone(),
        sim: None,
    };
    let serial = serial_of_a_managed_device(&without.client, &c).await;
    let err = attempt(&without, &c, &mut audit, &serial)
        .await
        .unwrap_err();
    match &err {
        DevicesError::Refused(r @ GuardRefusal::NoAppPermission { actor: a }) => {
            assert_eq!(a, &actor);
            assert!(r.to_string().contains(PRIVILEGED_OPERATIONS), "{r}");
        }
        other => panic!("expected the app-permission refusal, got {other}"),
    }
    assert_eq!(wipes(&sim), 0);
    none_ask_about_a_user(&sim);

    // With it: one wipe, audited before and after as the app.
    let with = DevicesSession {
        client: client(&sim, app_token(&sim, &TenantSetup::default().app_roles)),
        actor: actor.clone(),
        sim: None,
    };
    let done = attempt(&with, &c, &mut audit, &serial).await.unwrap();
    assert_eq!(wipes(&sim), 1);
    none_ask_about_a_user(&sim);
    let pending = with
        .client
        .get_managed_device(&done.device_id, &["id", "managementState"])
        .await
        .unwrap();
    assert_eq!(pending.management_state, Some(ManagementState::WipePending));

    let records = AuditLog::open(dir.path())
        .unwrap()
        .read_all()
        .unwrap()
        .records;
    let last_two: Vec<_> = records[records.len() - 2..].to_vec();
    assert_eq!(
        last_two.iter().map(|r| r.phase).collect::<Vec<_>>(),
        [AuditPhase::Before, AuditPhase::After]
    );
    assert!(
        last_two
            .iter()
            .all(|r| r.actor == actor && r.action == "wipe")
    );
    assert_eq!(last_two[1].result.as_deref(), Some("ok"));
    // The refused attempt is on the record too, with its reason.
    assert!(
        records[1]
            .result
            .as_deref()
            .is_some_and(|r| r.contains(PRIVILEGED_OPERATIONS)),
        "{records:?}"
    );
}

#[tokio::test]
async fn app_only_doctor_passes_a_healthy_tenant_without_asking_about_a_user() {
    for template in [
        sim::DEVICE_PREP_TEMPLATE_ID,
        sim::DEVICE_PREP_AUTOMATIC_TEMPLATE_ID,
    ] {
        let sim = sim::start(SimOptions {
            devices: 5,
            tenant: TenantSetup {
                device_prep_template_id: template.into(),
                ..TenantSetup::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
        let app = client(&sim, app_token(&sim, &TenantSetup::default().app_roles));
        let results =
            doctor::run_checks_with(&app, &config(), sim.now(), &DoctorOptions::default()).await;
        let failed: Vec<_> = results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
        assert!(!doctor::any_failed(&results), "exit code 0");
        let role = results
            .iter()
            .find(|r| r.check == ids::INTUNE_ROLE)
            .unwrap();
        assert_eq!(role.status, Status::NotApplicable);
        assert!(role.evidence[0].contains("not applicable to an app"));
        let prep = results
            .iter()
            .find(|r| r.check == ids::DEVICE_PREPARATION)
            .unwrap();
        assert_eq!(prep.status, Status::Pass, "{prep:?}");
        let mode = if template == sim::DEVICE_PREP_TEMPLATE_ID {
            "user-driven"
        } else {
            "automatic"
        };
        assert!(
            prep.evidence
                .iter()
                .any(|e| e.contains(&format!("{mode} template"))),
            "{prep:?}"
        );
        let staging: Vec<_> = results
            .iter()
            .filter(|r| r.check == ids::STAGING_ACCOUNT)
            .collect();
        assert_eq!(staging.len(), 2);
        assert!(
            staging.iter().all(|r| r.status == Status::Pass
                && r.evidence.iter().any(|e| e.contains("read as the app"))),
            "{staging:#?}"
        );
        let perms: Vec<_> = results
            .iter()
            .filter(|r| r.check == ids::PERMISSIONS)
            .collect();
        assert!(perms.iter().all(|r| r.status == Status::Pass), "{perms:#?}");
        none_ask_about_a_user(&sim);
        assert_eq!(sim.stats().length_required_411, 0);
    }

    // An unlicensed staging account fails as the app too: the assignedPlans are really read.
    let sim = sim::start(SimOptions {
        devices: 0,
        tenant: TenantSetup {
            staging_licensed: false,
            ..TenantSetup::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let app = client(&sim, app_token(&sim, &TenantSetup::default().app_roles));
    let results =
        doctor::run_checks_with(&app, &config(), sim.now(), &DoctorOptions::default()).await;
    assert!(
        results
            .iter()
            .any(|r| r.check == ids::STAGING_ACCOUNT && r.status == Status::Fail),
        "{results:#?}"
    );
}

#[tokio::test]
async fn the_account_name_comes_from_the_id_token_else_from_me() {
    use stagehand::auth::TokenSet;
    let sim = sim::start(SimOptions {
        devices: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let set = |token: Secret, account: Option<&str>| TokenSet {
        access_token: token,
        refresh_token: None,
        expires_at: tokio::time::Instant::now() + HOUR,
        expires_in: HOUR,
        scopes: vec![],
        account: account.map(String::from),
    };
    let user = sim.issue_token(sim::ALL_DELEGATED, HOUR);
    let name =
        stagehand::auth::account::name(&set(user.clone(), Some("from@idtoken")), &sim.base_url)
            .await
            .unwrap();
    assert_eq!(name, "from@idtoken");
    assert!(paths(&sim).is_empty(), "an id token needs no Graph call");
    let name = stagehand::auth::account::name(&set(user, None), &sim.base_url)
        .await
        .unwrap();
    assert_eq!(name, "lead@contoso.example");
    assert_eq!(
        paths(&sim),
        ["GET /v1.0/me"],
        "one GET /me when there is no id token"
    );
    // A token Graph will not name (here: an app's) is an error, never a placeholder name.
    let app = app_token(&sim, &TenantSetup::default().app_roles);
    let e = stagehand::auth::account::name(&set(app, None), &sim.base_url)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot tell who signed in"), "{e}");
    assert!(!e.contains("unknown-user"));
}

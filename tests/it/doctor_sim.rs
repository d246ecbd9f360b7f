//! `doctor::run_checks_with` against the simulated tenant over loopback HTTP: healthy, and each
//! broken setup, with every verdict asserted.

use std::collections::BTreeMap;
use std::time::Duration;

use stagehand::commands::doctor::Broken;
use stagehand::config::Config;
use stagehand::doctor::{self, CheckResult, DoctorOptions, Status, ids};
use stagehand::graph::GraphClient;
use stagehand::sim::{self, SimHandle, SimOptions, TenantSetup};

const STAGING: &str = "staging@contoso.example";
const ONEIL: &str = "o'neil.staging@contoso.example";

async fn start(tenant: TenantSetup) -> SimHandle {
    sim::start(SimOptions {
        tenant,
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

fn client(sim: &SimHandle, scopes: &[&str]) -> GraphClient {
    crate::common_graph::sim_client(sim, scopes)
}

fn config() -> Config {
    let mut c = Config::default();
    c.staging.accounts = SimOptions::default().staging_accounts;
    c
}

async fn run(sim: &SimHandle, scopes: &[&str], stale_days: u32) -> Vec<CheckResult> {
    let opts = DoctorOptions {
        stale_days,
        granted_scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
    };
    doctor::run_checks_with(&client(sim, scopes), &config(), sim.now(), &opts).await
}

type Verdicts = BTreeMap<(String, String), Status>;
/// (check, subject, expected status)
type Change<'a> = (&'a str, &'a str, Status);

fn verdicts(results: &[CheckResult]) -> Verdicts {
    let mut m = BTreeMap::new();
    for r in results {
        let key = (r.check.to_string(), r.subject.clone().unwrap_or_default());
        assert!(m.insert(key, r.status).is_none(), "duplicate {r:?}");
    }
    m
}

fn healthy() -> Verdicts {
    use Status::*;
    let v = [
        (ids::PROVISIONING_CLIENT, "", Pass),
        (ids::DEVICE_PREPARATION, "", Pass),
        (ids::STAGING_ACCOUNT, STAGING, Pass),
        (ids::STAGING_CA, STAGING, Pass),
        (ids::STAGING_ACCOUNT, ONEIL, Pass),
        (ids::STAGING_CA, ONEIL, Pass),
        (ids::DEM_AUTOPILOT, "", Warn),
        (ids::PERMISSIONS, "technician", Pass),
        (ids::PERMISSIONS, "ops-lead", Pass),
        (ids::PERMISSIONS, "doctor", Pass),
        (ids::INTUNE_ROLE, "", Pass),
        (ids::CORPORATE_IDENTIFIERS, "", Pass),
    ];
    v.into_iter()
        .map(|(c, s, st)| ((c.to_string(), s.to_string()), st))
        .collect()
}

fn with(mut v: Verdicts, changes: &[Change]) -> Verdicts {
    for (c, s, st) in changes {
        let key = (c.to_string(), s.to_string());
        assert!(v.contains_key(&key), "no such check {key:?}");
        v.insert(key, *st);
    }
    v
}

fn find<'a>(results: &'a [CheckResult], check: &str, subject: &str) -> &'a CheckResult {
    results
        .iter()
        .find(|r| r.check == check && r.subject.as_deref().unwrap_or("") == subject)
        .unwrap()
}

#[tokio::test]
async fn healthy_tenant_passes_everything_but_the_dem_caveat() {
    let sim = start(TenantSetup::default()).await;
    let results = run(&sim, sim::ALL_DELEGATED, 30).await;
    assert_eq!(verdicts(&results), healthy());
    assert!(!doctor::any_failed(&results));
    for r in &results {
        assert!(!r.evidence.is_empty(), "{} has no evidence", r.check);
        assert_eq!(r.fix.is_some(), r.status != Status::Pass, "{r:?}");
    }
    let dp = find(&results, ids::DEVICE_PREPARATION, "");
    assert!(
        dp.evidence
            .iter()
            .any(|e| e.contains("Intune Provisioning Client"))
    );
}

#[tokio::test]
async fn each_broken_tenant_fails_exactly_what_is_broken() {
    use Status::*;
    let cases: &[(Broken, &[Change])] = &[
        (
            Broken::ProvisioningSp,
            // No SP also means it owns nothing, and Intune's validation fails.
            &[
                (ids::PROVISIONING_CLIENT, "", Fail),
                (ids::DEVICE_PREPARATION, "", Fail),
            ],
        ),
        (Broken::GroupOwner, &[(ids::DEVICE_PREPARATION, "", Fail)]),
        (
            Broken::DevicePrepPolicy,
            &[(ids::DEVICE_PREPARATION, "", Fail)],
        ),
        (
            Broken::CaExclusion,
            &[
                (ids::STAGING_CA, STAGING, Fail),
                (ids::STAGING_CA, ONEIL, Fail),
            ],
        ),
        (
            Broken::CaReportOnly,
            &[
                (ids::STAGING_CA, STAGING, Warn),
                (ids::STAGING_CA, ONEIL, Warn),
            ],
        ),
        // The simulator unlicenses the first staging account only.
        (Broken::Unlicensed, &[(ids::STAGING_ACCOUNT, STAGING, Fail)]),
    ];
    for (broken, changes) in cases {
        let sim = start(broken.apply(TenantSetup::default())).await;
        let results = run(&sim, sim::ALL_DELEGATED, 30).await;
        assert_eq!(verdicts(&results), with(healthy(), changes), "{broken:?}");
        for r in results.iter().filter(|r| r.status == Fail) {
            assert!(r.fix.as_deref().is_some_and(|f| !f.is_empty()), "{r:?}");
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn evidence_names_what_was_read() {
    let sim = start(Broken::GroupOwner.apply(TenantSetup::default())).await;
    let results = run(&sim, sim::ALL_DELEGATED, 30).await;
    let dp = find(&results, ids::DEVICE_PREPARATION, "");
    let group = TenantSetup::default().device_group_id;
    assert!(
        dp.evidence
            .iter()
            .any(|e| e.contains("firstPartyAppNotAnOwner")),
        "{dp:?}"
    );
    assert!(dp.fix.as_deref().unwrap().contains(&group), "{dp:?}");

    sim.set_tenant(Broken::CaExclusion.apply(TenantSetup::default()));
    let results = run(&sim, sim::ALL_DELEGATED, 30).await;
    let ca = find(&results, ids::STAGING_CA, STAGING);
    assert!(
        ca.fix
            .as_deref()
            .unwrap()
            .contains("Microsoft Intune Enrollment"),
        "{ca:?}"
    );

    // Licences are fixed when the simulated directory is generated: start a new tenant.
    sim.shutdown().await;
    let sim = start(Broken::Unlicensed.apply(TenantSetup::default())).await;
    let results = run(&sim, sim::ALL_DELEGATED, 30).await;
    let acct = find(&results, ids::STAGING_ACCOUNT, STAGING);
    assert!(
        acct.evidence.iter().any(|e| e == "licences: none"),
        "{acct:?}"
    );
}

#[tokio::test]
async fn missing_scopes_are_listed_per_role_and_refused_reads_fail() {
    let sim = start(TenantSetup::default()).await;
    let scopes: Vec<&str> = sim::ALL_DELEGATED
        .iter()
        .copied()
        .filter(|s| {
            *s != "Policy.Read.All"
                && *s != "DeviceManagementManagedDevices.PrivilegedOperations.All"
        })
        .collect();
    let results = run(&sim, &scopes, 30).await;
    use Status::*;
    let expected = with(
        healthy(),
        &[
            (ids::PERMISSIONS, "ops-lead", Fail),
            (ids::PERMISSIONS, "doctor", Fail),
            // The sim answers 403 to the Conditional Access read.
            (ids::STAGING_CA, STAGING, Fail),
            (ids::STAGING_CA, ONEIL, Fail),
        ],
    );
    assert_eq!(verdicts(&results), expected);
    let lead = find(&results, ids::PERMISSIONS, "ops-lead");
    assert!(
        lead.fix
            .as_deref()
            .unwrap()
            .contains("PrivilegedOperations.All")
    );
    assert!(!lead.fix.as_deref().unwrap().contains("Policy.Read.All"));
    let doc = find(&results, ids::PERMISSIONS, "doctor");
    assert!(doc.fix.as_deref().unwrap().contains("Policy.Read.All"));
    let ca = find(&results, ids::STAGING_CA, STAGING);
    assert!(ca.evidence.iter().any(|e| e.contains("403")), "{ca:?}");
}

#[tokio::test]
async fn stale_identifiers_are_counted_from_the_registration_date() {
    let sim = start(TenantSetup::default()).await;
    // The simulator registers its devices two days before now; those not yet enrolled are
    // `notContacted`. Count them from the raw Graph answer, not through our own parsing.
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(60));
    let raw: serde_json::Value = reqwest::Client::new()
        .get(
            sim.base_url
                .join("beta/deviceManagement/importedDeviceIdentities")
                .unwrap(),
        )
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = raw["value"].as_array().unwrap();
    let not_contacted = rows
        .iter()
        .filter(|r| r["enrollmentState"] == "notContacted")
        .count();
    assert!(not_contacted > 0 && raw.get("@odata.nextLink").is_none());

    let results = run(&sim, sim::ALL_DELEGATED, 30).await;
    let ci = find(&results, ids::CORPORATE_IDENTIFIERS, "");
    assert_eq!(ci.status, Status::Pass);
    assert!(
        ci.evidence.contains(&format!("registered: {}", rows.len())),
        "{ci:?}"
    );

    let results = run(&sim, sim::ALL_DELEGATED, 1).await;
    let ci = find(&results, ids::CORPORATE_IDENTIFIERS, "");
    assert_eq!(ci.status, Status::Warn);
    assert!(
        ci.evidence.contains(&format!(
            "never contacted for more than 1 days: {not_contacted}"
        )),
        "{ci:?}"
    );
}

#[tokio::test]
async fn conditional_access_is_read_once_per_run_whatever_the_number_of_accounts() {
    let sim = start(TenantSetup::default()).await;
    let client = client(&sim, sim::ALL_DELEGATED);
    let ca_reads = || {
        sim.requests()
            .iter()
            .filter(|r| r.path.contains("conditionalAccess"))
            .count()
    };
    for run in 1..=2 {
        let results = doctor::run_checks(&client, &config(), sim.now()).await;
        assert_eq!(ca_reads(), run, "one Conditional Access read per run");
        // Without granted scopes the permission verdicts say so instead of guessing.
        assert_eq!(
            find(&results, ids::PERMISSIONS, "doctor").status,
            Status::Warn
        );
    }
    assert_eq!(
        client
            .governor()
            .granted(stagehand::graph::Family::ConditionalAccess),
        2
    );
}

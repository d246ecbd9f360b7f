//! Evidence bundles against the simulated tenant over loopback: a failed device's bundle holds
//! every item the simulator provides (and says why for the rest), the manifest verifies, one
//! changed byte fails verification (folder and zip, library and the real binary), and
//! `--redact` leaves no UPN of the simulator in any file, archives included.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use stagehand::auth::StaticToken;
use stagehand::evidence::command::{EvidenceArgs, run_with};
use stagehand::evidence::{Bundle, Collector, verify};
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, ALL_DELEGATED, SimHandle, SimOptions};
use stagehand::store::{AuditLog, AuditRecord};

async fn tenant() -> (SimHandle, GraphClient, Collector) {
    let sim = sim::start(SimOptions {
        devices: 16,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let token = sim.issue_token(ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let who = Collector {
        tenant: sim.tenant_id(),
        collector: sim.signed_in_user().1,
    };
    (sim, client, who)
}

/// A device whose Device Preparation deployment failed, by its report row.
async fn failed_serial(client: &GraphClient) -> String {
    client
        .autopilot_v2_deployments(None)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.deployment_status == "3")
        .expect("the seeded fleet has failed deployments")
        .serial_number
}

fn args(serial: &str, out: &Path, redact: bool) -> EvidenceArgs {
    EvidenceArgs {
        command: None,
        serials: vec![serial.to_string()],
        out: Some(out.to_path_buf()),
        redact,
        logs: true,
        log_wait: Duration::from_secs(60),
        log_poll: Duration::from_millis(20),
    }
}

fn file<'a>(b: &'a Bundle, path: &str) -> &'a [u8] {
    &b.files
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} missing; files: {:?}", b.manifest.files))
        .1
}

fn json(b: &Bundle, path: &str) -> Value {
    serde_json::from_slice(file(b, path)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_devices_bundle_holds_every_item_the_simulator_provides_and_verifies() {
    let (sim, client, who) = tenant().await;
    let serial = failed_serial(&client).await;
    let data = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open(data.path()).unwrap();
    let mut rec = AuditRecord::before(chrono::Utc::now(), "lead@contoso.example", "sync_device");
    rec.serial = Some(serial.clone());
    audit.append(&rec).unwrap();
    let mut other = rec.clone();
    other.serial = Some("SOMEONE-ELSE".into());
    audit.append(&other).unwrap();

    let out_dir = data.path().join("bundles");
    let mut out = Vec::new();
    let mut config = stagehand::config::Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    let (_, bundles) = run_with(
        &client,
        &config,
        data.path(),
        &who,
        &args(&serial, &out_dir, false),
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let b = &bundles[0];
    let m = &b.manifest;
    assert_eq!(m.serial, serial);
    assert_eq!(m.tenant, sim.tenant_id());
    assert_eq!(m.collector, sim.signed_in_user().1);

    // Every item the simulator serves is a file, with the request it came from.
    let expect = [
        (
            "graph/managed-device.json",
            "GET /beta/deviceManagement/managedDevices/",
        ),
        (
            "graph/enrollment-status-page.json",
            "GET /beta/deviceManagement/deviceEnrollmentConfigurations",
        ),
        (
            "graph/configuration-policy-states.json",
            "GET /beta/deviceManagement/managedDevices/",
        ),
        (
            "graph/compliance-policy-states.json",
            "GET /beta/deviceManagement/managedDevices/",
        ),
        (
            "graph/compliance-report.json",
            "POST /beta/deviceManagement/reports/getDevicePoliciesComplianceReport",
        ),
        (
            "graph/app-install-report.json",
            "POST /beta/deviceManagement/reports/retrieveDeviceAppInstallationStatusReport",
        ),
        (
            "graph/device-preparation-report.json",
            "POST /beta/deviceManagement/reports/exportJobs",
        ),
        (
            "graph/log-collection-request.json",
            "GET /beta/deviceManagement/managedDevices/",
        ),
        (
            "logs/diagnostics.zip",
            "GET /beta/deviceManagement/managedDevices/",
        ),
        ("stagehand/timeline.json", "stagehand"),
        ("stagehand/audit.jsonl", "stagehand"),
    ];
    for (path, source) in expect {
        let e = m
            .files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path} not collected: {:?}\n{text}", m.not_collected));
        assert!(e.source.starts_with(source), "{path}: {}", e.source);
    }
    // What the tenant cannot give is listed with the reason, never silently absent.
    let why = |item: &str| {
        m.not_collected
            .iter()
            .find(|n| n.item == item)
            .map(|n| n.why.clone())
    };
    let signins = why("sign-in logs").expect("sign-ins are listed");
    assert!(signins.contains("permission missing"), "{signins}");
    // The Autopilot record: a file if the tenant has one, else a reason.
    assert!(
        m.files.iter().any(|f| f.item == "Autopilot record") || why("Autopilot record").is_some(),
        "{m:?}"
    );
    assert!(
        m.files
            .iter()
            .all(|f| f.item != "Autopilot deployment profile")
            || why("Autopilot deployment profile").is_none()
    );

    // The content is the failed device's.
    let dev = json(b, "graph/managed-device.json");
    assert_eq!(dev["serialNumber"], serial.as_str());
    let esp = json(b, "graph/enrollment-status-page.json");
    // The app registration has Device.Read.All: the device's group decides.
    assert_eq!(esp["applies"]["displayName"], "Staging ESP", "{esp:#}");
    assert_eq!(esp["applies"]["targeted"], "device");
    assert_eq!(
        esp["candidates"].as_array().unwrap().len(),
        3,
        "the limit config is not an ESP"
    );
    let states = json(b, "graph/configuration-policy-states.json");
    assert!(
        states["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "error"),
        "{states}"
    );
    let report = json(b, "graph/compliance-report.json");
    let cols: Vec<&str> = report["Schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Column"].as_str().unwrap())
        .collect();
    assert!(cols.contains(&"PolicyStatus_loc"), "{cols:?}");
    let row = json(b, "graph/device-preparation-report.json");
    assert_eq!(row["value"][0]["DeploymentStatus"], "3");
    let timeline = json(b, "stagehand/timeline.json");
    assert_eq!(timeline["status"]["stage"], "failed", "{timeline}");
    let audit_lines = String::from_utf8(file(b, "stagehand/audit.jsonl").to_vec()).unwrap();
    assert_eq!(
        audit_lines.lines().count(),
        1,
        "only this device's records: {audit_lines}"
    );
    let mut logs = zip::ZipArchive::new(std::io::Cursor::new(
        file(b, "logs/diagnostics.zip").to_vec(),
    ))
    .unwrap();
    let mut ime = String::new();
    logs.by_name("IntuneManagementExtension.log")
        .unwrap()
        .read_to_string(&mut ime)
        .unwrap();
    assert!(ime.contains("failed"), "{ime}");
    // The archive came from the pre-signed URL without the bearer token.
    let st = sim.stats();
    assert!(st.blob_requests >= 1);
    assert_eq!(st.blob_requests_with_authorization, 0);
    assert!(
        text.contains("waiting for the device to upload its logs"),
        "progress shown: {text}"
    );

    // The simulator answers in Microsoft's published shapes: every property of the doc samples.
    let sample = |name: &str| -> Value {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/graph")
            .join(name);
        let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        v["value"].clone()
    };
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .unwrap()
            .keys()
            .filter(|k| !k.starts_with("@odata.context"))
            .cloned()
            .collect()
    };
    let logreq = json(b, "graph/log-collection-request.json");
    for k in keys(&sample("createDeviceLogCollectionRequest-response.json")) {
        assert!(
            logreq.get(&k).is_some(),
            "deviceLogCollectionResponse lacks {k}: {logreq}"
        );
    }
    assert_eq!(logreq["status"], "completed");
    for c in esp["candidates"].as_array().unwrap() {
        for k in keys(&sample(
            "windows10EnrollmentCompletionPageConfiguration-get.json",
        )) {
            assert!(c.get(&k).is_some(), "ESP lacks {k}: {c}");
        }
    }
    let stream = {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/graph/reports-stream-response-shape.json");
        serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()).unwrap()
    };
    assert_eq!(keys(&report), keys(&stream), "a stream report's top level");

    // The folder verifies; one changed byte does not.
    let folder = std::fs::read_dir(&out_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let v = verify(&folder).unwrap();
    assert!(v.ok(), "{v:?}");
    assert!(
        verify(&out_dir).unwrap().ok(),
        "a folder of bundles verifies too"
    );
    let victim = folder.join("graph/compliance-report.json");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let v = verify(&folder).unwrap();
    assert!(!v.ok());
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("graph/compliance-report.json") && p.contains("SHA-256")),
        "{v:?}"
    );

    // The real binary says the same, with its exit code.
    let run = |p: &Path| {
        std::process::Command::new(crate::common::bin())
            .args(["evidence", "verify"])
            .arg(p)
            .output()
            .unwrap()
    };
    let bad = run(&folder);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stdout).contains("FAIL"));
    bytes[10] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let good = run(&folder);
    assert_eq!(good.status.code(), Some(0), "{good:?}");
    assert!(String::from_utf8_lossy(&good.stdout).contains("OK"));
}

/// Every file of a zip, with the entries of zips inside it, as text.
fn zip_texts(bytes: &[u8], out: &mut BTreeMap<String, String>, prefix: &str) {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = format!("{prefix}{}", f.name());
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        if buf.starts_with(b"PK\x03\x04") {
            zip_texts(&buf, out, &format!("{name}!"));
        }
        out.insert(name, String::from_utf8_lossy(&buf).to_lowercase());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redact_leaves_no_upn_of_the_simulator_in_any_file_and_the_zip_verifies() {
    let (sim, client, who) = tenant().await;
    let serial = failed_serial(&client).await;
    let data = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open(data.path()).unwrap();
    let mut rec = AuditRecord::before(chrono::Utc::now(), &sim.signed_in_user().1, "sync_device");
    rec.serial = Some(serial.clone());
    audit.append(&rec).unwrap();
    let zip_path = data.path().join("evidence.zip");
    let mut out = Vec::new();
    let mut config = stagehand::config::Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    run_with(
        &client,
        &config,
        data.path(),
        &who,
        &args(&serial, &zip_path, true),
        &mut out,
    )
    .await
    .unwrap();
    assert!(verify(&zip_path).unwrap().ok());

    let mut texts = BTreeMap::new();
    zip_texts(&std::fs::read(&zip_path).unwrap(), &mut texts, "");
    assert!(
        texts.contains_key("logs/diagnostics.zip!IntuneManagementExtension.log"),
        "{:?}",
        texts.keys()
    );
    let (users, _) = sim.users();
    let mut upns: Vec<String> = users.into_iter().map(|(_, u)| u.to_lowercase()).collect();
    upns.extend(
        SimOptions::default()
            .staging_accounts
            .iter()
            .map(|u| u.to_lowercase()),
    );
    for (name, text) in &texts {
        for upn in &upns {
            assert!(!text.contains(upn.as_str()), "{upn} in {name}");
        }
        assert!(
            !text.contains("@contoso.example"),
            "an address of the tenant in {name}"
        );
    }
    // Pseudonyms are there instead, the same one for the same person everywhere.
    let manifest = &texts["manifest.json"];
    assert!(manifest.contains("\"redacted\": true"));
    assert!(manifest.contains("@redacted.invalid"), "{manifest}");
    let lead = stagehand::evidence::Redactor::load_or_create(data.path())
        .unwrap()
        .pseudonym(&sim.signed_in_user().1);
    assert!(manifest.contains(&lead) && texts["stagehand/audit.jsonl"].contains(&lead));

    // One changed byte inside the zip fails verification.
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        if f.name() == "graph/managed-device.json" {
            buf[5] ^= 0x20;
        }
        w.start_file(f.name(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&buf).unwrap();
    }
    let changed = data.path().join("changed.zip");
    std::fs::write(&changed, w.finish().unwrap().into_inner()).unwrap();
    let v = verify(&changed).unwrap();
    assert!(
        !v.ok() && v.problems[0].contains("graph/managed-device.json"),
        "{v:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_without_entra_p1_are_listed_with_that_reason() {
    let (sim, _, _) = tenant().await;
    let mut scopes = ALL_DELEGATED.to_vec();
    scopes.push("AuditLog.Read.All");
    let token = sim.issue_token(&scopes, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let e = client
        .evidence_sign_ins("o'neil.staging@contoso.example", chrono::Utc::now())
        .await
        .unwrap_err();
    let why = stagehand::evidence::collect::why(&e);
    assert!(why.contains("Entra ID P1"), "{why}");
    // The filter went out as one escaped literal.
    let r = sim
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/signIns"))
        .unwrap();
    assert!(r.path.starts_with("/v1.0/"), "{r:?}");
    let q = percent_encoding::percent_decode_str(r.query.as_deref().unwrap())
        .decode_utf8_lossy()
        .to_string();
    assert!(q.contains("'o''neil.staging@contoso.example'"), "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_that_do_not_arrive_in_time_are_listed_with_the_open_request() {
    let (_sim, client, who) = tenant().await;
    let serial = failed_serial(&client).await;
    let data = tempfile::tempdir().unwrap();
    let mut a = args(&serial, &data.path().join("out"), false);
    a.log_wait = Duration::ZERO;
    let mut config = stagehand::config::Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    let (_, bundles) = run_with(&client, &config, data.path(), &who, &a, &mut Vec::new())
        .await
        .unwrap();
    let m = &bundles[0].manifest;
    let why = &m
        .not_collected
        .iter()
        .find(|n| n.item == "diagnostics (IME and enrollment logs)")
        .expect("listed, not silently absent")
        .why;
    assert!(
        why.contains("had not uploaded its logs") && why.contains("stays open"),
        "{why}"
    );
    // The request itself is kept, so the logs can be fetched later.
    assert!(
        m.files
            .iter()
            .any(|f| f.path == "graph/log-collection-request.json")
    );
    assert!(!m.files.iter().any(|f| f.path == "logs/diagnostics.zip"));
}

/// A token with `scopes`, on the same tenant.
fn client_with(sim: &SimHandle, scopes: &[&str]) -> GraphClient {
    crate::common_graph::sim_client(sim, scopes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_says_which_esp_applies_by_the_devices_and_users_groups() {
    let (sim, client, who) = tenant().await;
    let serial = failed_serial(&client).await;
    let mut scopes = ALL_DELEGATED.to_vec();
    scopes.push("Device.Read.All");
    let client = client_with(&sim, &scopes);
    let b = bundle_without_local_state(&client, &who, &serial).await;
    let esp = json(&b, "graph/enrollment-status-page.json");
    let dev = json(&b, "graph/managed-device.json");
    let group = SimOptions::default().tenant.device_group_id;

    // Both the device-targeted (priority 1) and the user-targeted (priority 2) ESP match; the
    // device's wins, and the bundle says through which group.
    assert_eq!(esp["applies"]["displayName"], "Staging ESP", "{esp:#}");
    assert_eq!(esp["applies"]["priority"], 1);
    assert_eq!(esp["applies"]["targeted"], "device");
    let why = esp["applies"]["why"].as_str().unwrap();
    assert!(why.contains(&group), "{why}");
    assert_eq!(esp["caveats"], serde_json::json!([]));

    // The memberships it decided on, as Graph answered them, and the reads in the manifest.
    let m = &esp["membership"];
    assert_eq!(m["device"]["azureADDeviceId"], dev["azureADDeviceId"]);
    assert_eq!(m["device"]["groups"][0]["id"], group.as_str());
    assert_eq!(
        m["enrollingUser"]["userPrincipalName"],
        dev["enrolledByUserPrincipalName"]
    );
    assert!(
        m["enrollingUser"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["displayName"] == "Staging accounts"),
        "{m}"
    );
    let sample = {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/graph/user-transitiveMemberOf.json");
        serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()).unwrap()
    };
    for k in sample["value"][0].as_object().unwrap().keys() {
        assert!(
            m["device"]["groups"][0].get(k).is_some(),
            "a group lacks {k}: {m}"
        );
    }
    let entry = b
        .manifest
        .files
        .iter()
        .find(|f| f.path == "graph/enrollment-status-page.json")
        .unwrap();
    let aad = dev["azureADDeviceId"].as_str().unwrap();
    assert!(
        entry.source.contains("GET /v1.0/devices(deviceId=")
            && entry
                .source
                .contains(&format!("{aad}%27)/transitiveMemberOf")),
        "{}",
        entry.source
    );
    assert!(
        entry.source.contains("GET /v1.0/users/"),
        "{}",
        entry.source
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_device_read_all_the_user_targeted_esp_applies_with_a_caveat() {
    let (sim, client, who) = tenant().await;
    let serial = failed_serial(&client).await;
    let scopes: Vec<&str> = ALL_DELEGATED
        .iter()
        .copied()
        .filter(|s| *s != "Device.Read.All")
        .collect();
    let client = client_with(&sim, &scopes);
    let b = bundle_without_local_state(&client, &who, &serial).await;
    let esp = json(&b, "graph/enrollment-status-page.json");
    // The device's groups are unknown: the user-targeted ESP applies, and the bundle says the
    // answer may have missed a device assignment.
    assert_eq!(esp["applies"]["displayName"], "Staging accounts ESP");
    assert_eq!(esp["applies"]["targeted"], "user");
    assert!(
        esp["caveats"][0]
            .as_str()
            .unwrap()
            .contains("permission missing"),
        "{esp}"
    );
}

/// A bundle of Graph's items only (no status row, queue or audit of this bench).
async fn bundle_without_local_state(
    client: &GraphClient,
    who: &Collector,
    serial: &str,
) -> stagehand::evidence::Bundle {
    let local = stagehand::evidence::Local {
        status: None,
        queue: None,
        audit: Vec::new(),
    };
    stagehand::evidence::collect(
        client,
        who,
        serial,
        &local,
        &stagehand::evidence::Options::default(),
        &mut |_| {},
    )
    .await
}

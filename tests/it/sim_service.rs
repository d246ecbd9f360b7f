//! Throttling, faults, stats, `$batch`, report exports and tenant setup switches, over loopback.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};
use stagehand::sim::{self, Faults, SimHandle, SimOptions, TenantSetup};

const HOUR: Duration = Duration::from_secs(3600);

async fn start(opts: SimOptions) -> (SimHandle, Client, String) {
    let s = sim::start(opts).await.unwrap();
    let scopes = stagehand::sim::ALL_DELEGATED.to_vec();
    let tok = s.issue_token(&scopes, HOUR).expose().to_string();
    (s, Client::new(), tok)
}

#[tokio::test]
async fn throttling_bursts_retry_after_flavours_and_violations() {
    let faults = Faults {
        throttle_burst: Some(2),
        ..Faults::default()
    };
    let (s, c, tok) = start(SimOptions {
        devices: 4,
        faults,
        ..SimOptions::default()
    })
    .await;
    let url = s
        .base_url
        .join("beta/deviceManagement/managedDevices")
        .unwrap();
    let mut flavours = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while flavours.len() < 3 && Instant::now() < deadline {
        let r = c.get(url.clone()).bearer_auth(&tok).send().await.unwrap();
        if r.status() == 429 {
            let ra = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "TooManyRequests");
            // Honour it (or back off 1 s when absent), as a good client does.
            let wait = ra
                .as_deref()
                .map(|v| v.parse::<f64>().unwrap())
                .unwrap_or(1.0);
            flavours.insert(ra.map(|v| v.contains('.')));
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
    assert_eq!(
        flavours.len(),
        3,
        "integer, fractional and missing Retry-After all seen: {flavours:?}"
    );
    assert_eq!(
        s.stats().retry_after_violations,
        0,
        "every Retry-After was honoured"
    );
    assert!(s.stats().throttled_429 >= 3);
    // Hammering through a Retry-After is recorded.
    let mut violated = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !violated && Instant::now() < deadline {
        c.get(url.clone()).bearer_auth(&tok).send().await.unwrap();
        violated = s.requests().iter().any(|r| r.retry_after_violation);
    }
    assert!(violated && s.stats().retry_after_violations >= 1);
    let served: Value = c
        .get(s.base_url.join("_sim/stats").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(served["retry_after_violations"].as_u64().unwrap() >= 1);
    assert!(
        served["requests_per_route"]["GET /beta/deviceManagement/managedDevices"]
            .as_u64()
            .unwrap()
            > 3
    );
}

#[tokio::test]
async fn conditional_access_allows_one_per_second_without_retry_after() {
    let (s, c, tok) = start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    let url = s
        .base_url
        .join("v1.0/identity/conditionalAccess/policies")
        .unwrap();
    let first = c.get(url.clone()).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["value"][0]["state"], "enabled");
    let second = c.get(url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().get("retry-after").is_none());
}

#[tokio::test]
async fn injected_5xx_drops_and_latency() {
    let (s, c, tok) = start(SimOptions {
        devices: 2,
        faults: Faults {
            error_5xx_rate: 1.0,
            ..Faults::default()
        },
        ..SimOptions::default()
    })
    .await;
    let url = s
        .base_url
        .join("beta/deviceManagement/managedDevices")
        .unwrap();
    let r = c.get(url.clone()).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 503);
    s.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let dropped = match c.get(url.clone()).bearer_auth(&tok).send().await {
        Ok(r) => r.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(dropped, "the connection is cut mid-response");
    s.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(
        c.get(url).bearer_auth(&tok).send().await.unwrap().status(),
        200
    );
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "latency is a lower bound, never an upper one"
    );
    let st = s.stats();
    assert_eq!((st.injected_5xx, st.dropped_connections), (1, 1));
}

#[tokio::test]
async fn batch_items_dependencies_and_limits() {
    let (s, c, tok) = start(SimOptions {
        devices: 8,
        ..SimOptions::default()
    })
    .await;
    let url = s.base_url.join("beta/$batch").unwrap();
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/deviceManagement/managedDevices?$top=2"},
        {"id": "2", "method": "GET", "url": "/users/nobody@contoso.example"},
        {"id": "3", "method": "GET", "url": "/me", "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": "/me", "dependsOn": ["1"]},
        {"id": "5", "method": "POST", "url": "/deviceManagement/importedDeviceIdentities/searchExistingIdentities", "body": {"importedDeviceIdentities": []}}
    ]});
    let r: Value = c
        .post(url.clone())
        .bearer_auth(&tok)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_id = |id: &str| {
        r["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id("1")["status"], 200);
    assert_eq!(by_id("1")["body"]["value"].as_array().unwrap().len(), 2);
    assert_eq!(by_id("2")["status"], 404);
    assert_eq!(by_id("3")["status"], 424);
    assert_eq!(by_id("4")["status"], 200);
    assert_eq!(by_id("5")["status"], 400, "a body without Content-Type");
    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    assert_eq!(
        c.post(url.clone())
            .bearer_auth(&tok)
            .json(&json!({"requests": too_many}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let dup = json!({"requests": [{"id": "a", "method": "GET", "url": "/me"}, {"id": "A", "method": "GET", "url": "/me"}]});
    assert_eq!(
        c.post(url.clone())
            .bearer_auth(&tok)
            .json(&dup)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // Per-item 429s: CA allows one request per second.
    let ca = json!({"requests": [{"id": "x", "method": "GET", "url": "/identity/conditionalAccess/policies"}, {"id": "y", "method": "GET", "url": "/identity/conditionalAccess/policies"}]});
    let r: Value = c
        .post(s.base_url.join("v1.0/$batch").unwrap())
        .bearer_auth(&tok)
        .json(&ca)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut statuses: Vec<u64> = r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 429]);
    assert!(s.requests().iter().any(|r| r.in_batch));
}

#[tokio::test]
async fn deployment_report_export_and_anonymous_blob() {
    let (s, c, tok) = start(SimOptions {
        devices: 16,
        ..SimOptions::default()
    })
    .await;
    let jobs = s
        .base_url
        .join("beta/deviceManagement/reports/exportJobs")
        .unwrap();
    let r = c
        .post(jobs.clone())
        .bearer_auth(&tok)
        .json(&json!({"reportName": "AutopilotV2DeploymentStatus", "format": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let job: Value = r.json().await.unwrap();
    assert_eq!(job["status"], "notStarted");
    let poll = s
        .base_url
        .join(&format!(
            "beta/deviceManagement/reports/exportJobs/{}",
            job["id"].as_str().unwrap()
        ))
        .unwrap();
    let mut seen = vec![];
    let mut done = Value::Null;
    for _ in 0..10 {
        let j: Value = c
            .get(poll.clone())
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.push(j["status"].as_str().unwrap().to_string());
        if j["status"] == "completed" {
            done = j;
            break;
        }
    }
    assert_eq!(seen, vec!["inProgress", "inProgress", "completed"]);
    let blob = done["url"].as_str().unwrap();
    assert!(blob.starts_with(&format!("{}_blob/exports/", s.base_url)));
    let zip_bytes = Client::new()
        .get(blob)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    assert_eq!(z.len(), 1);
    let mut csv = String::new();
    z.by_index(0).unwrap().read_to_string(&mut csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "DeviceId,DeviceName,SerialNumber,UPN,EnrollmentTimeInUtc,CurrentProvisioningPhase,DeploymentStatus,DeploymentDurationTimeInSeconds,Phase,ResultCode"
    );
    let statuses: Vec<String> = lines
        .map(|l| l.split(',').nth(6).unwrap().to_string())
        .collect();
    assert_eq!(statuses.len(), 14);
    for code in ["1", "2", "3"] {
        assert!(
            statuses.iter().any(|s| s == code),
            "status {code} present in {statuses:?}"
        );
    }
    // With a bearer token the blob still answers, and the sim records that it was sent.
    c.get(blob).bearer_auth(&tok).send().await.unwrap();
    let st = s.stats();
    assert_eq!(
        (st.blob_requests, st.blob_requests_with_authorization),
        (2, 1)
    );
    let wrong = blob.split("?sig=").next().unwrap().to_string() + "?sig=forged";
    assert_eq!(Client::new().get(wrong).send().await.unwrap().status(), 403);
    let bad = c
        .post(jobs)
        .bearer_auth(&tok)
        .json(&json!({"reportName": "Nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn tenant_setup_switches_show_up_in_the_api() {
    let (s, c, tok) = start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    let get = |path: String| {
        let c = c.clone();
        let tok = tok.clone();
        let url = s.base_url.join(&path).unwrap();
        async move {
            c.get(url)
                .bearer_auth(tok)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let sp_path = "v1.0/servicePrincipals?$filter=appId eq 'f1346770-5b25-470b-88bd-d5744ab7952c'"
        .to_string();
    let group = TenantSetup::default().device_group_id;
    assert_eq!(
        get(sp_path.clone()).await["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let owners = get(format!("beta/groups/{group}/owners")).await;
    assert!(
        owners["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["appId"] == "f1346770-5b25-470b-88bd-d5744ab7952c")
    );
    let pols = get("beta/deviceManagement/configurationPolicies?$filter=(technologies has 'enrollment') and (TemplateReference/templateId eq '80d33118-b7b4-40d8-b15f-81be745e053f_1')".into()).await;
    assert_eq!(
        pols["value"][0]["templateReference"]["templateId"],
        "80d33118-b7b4-40d8-b15f-81be745e053f_1"
    );
    s.set_tenant(TenantSetup {
        provisioning_sp_present: false,
        ca_report_only: true,
        ..TenantSetup::default()
    });
    assert_eq!(get(sp_path).await["value"], json!([]));
    let owners = get(format!("beta/groups/{group}/owners")).await;
    assert!(
        !owners["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["appId"].is_string())
    );
    let retrieve = s.base_url.join(&format!("beta/deviceManagement/configurationPolicies/{}/retrieveEnrollmentTimeDeviceMembershipTarget", pols["value"][0]["id"].as_str().unwrap())).unwrap();
    // A bodiless POST without Content-Length is refused as Graph's front end does (411).
    let bare = c
        .post(retrieve.clone())
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 411);
    assert!(bare.text().await.unwrap().contains("HTTP Error 411"));
    let target: Value = c
        .post(retrieve)
        .bearer_auth(&tok)
        .header("content-length", "0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(target["validationSucceeded"], false);
    assert_eq!(
        get("v1.0/identity/conditionalAccess/policies".into()).await["value"][0]["state"],
        "enabledForReportingButNotEnforced"
    );
    let roles = get("beta/deviceManagement/getAssignedRoleDetails".into()).await;
    assert_eq!(roles["roleDefinitionIds"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn same_seed_same_tenant() {
    let (a, c, ta) = start(SimOptions {
        seed: 42,
        devices: 12,
        ..SimOptions::default()
    })
    .await;
    let (b, _, tb) = start(SimOptions {
        seed: 42,
        devices: 12,
        ..SimOptions::default()
    })
    .await;
    let serials = |s: &SimHandle, t: &str| {
        let url = s
            .base_url
            .join("beta/deviceManagement/managedDevices?$select=id,serialNumber")
            .unwrap();
        let c = c.clone();
        let t = t.to_string();
        async move {
            c.get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["value"]
                .clone()
        }
    };
    assert_eq!(a.tenant_id(), b.tenant_id());
    assert_eq!(serials(&a, &ta).await, serials(&b, &tb).await);
}

/// `platform` is an enum with case-sensitive members (`visionOS`, `tvOS`): the client writes the
/// metadata spelling, and the simulator refuses a literal that is no member, as Graph's OData does.
#[tokio::test]
async fn platform_literals_are_the_metadata_members() {
    use stagehand::graph::models::{ImportedDeviceIdentity, ImportedDeviceIdentityType, Platform};
    let (s, c, tok) = start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    let client = stagehand::graph::GraphClient::new(
        s.base_url.clone(),
        stagehand::graph::Timeouts::default(),
        std::sync::Arc::new(stagehand::auth::StaticToken(
            stagehand::secret::Secret::new(tok.clone()),
        )),
        std::sync::Arc::new(stagehand::graph::Governor::new(&[])),
    )
    .unwrap();
    let vision = ImportedDeviceIdentity {
        imported_device_identifier: Some("VP0001".into()),
        imported_device_identity_type: Some(ImportedDeviceIdentityType::SerialNumber),
        platform: Some(Platform::VisionOs),
        ..ImportedDeviceIdentity::default()
    };
    let done = client
        .import_device_identities(&[vision], false)
        .await
        .unwrap();
    assert_eq!(done[0].status, Some(true));
    let url = s
        .base_url
        .join("beta/deviceManagement/importedDeviceIdentities/importDeviceIdentityList")
        .unwrap();
    let r = c
        .post(url)
        .bearer_auth(&tok)
        .json(&json!({"importedDeviceIdentities": [{"importedDeviceIdentifier": "VP0002", "importedDeviceIdentityType": "serialNumber", "platform": "visionOs"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Cannot convert the literal 'visionOs' to the expected type 'microsoft.graph.platform'."
    );
}

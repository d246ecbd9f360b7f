//! Typed Graph operations over real loopback HTTP: `$batch`, report export, OData literals,
//! client-side re-checks, primary user, identity import.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common_graph::{CannedServer, bytes, empty, json};
use serde_json::{Value, json as j};
use stagehand::auth::StaticToken;
use stagehand::graph::export::ExportPolling;
use stagehand::graph::models::ImportedDeviceIdentity;
use stagehand::graph::{BatchRequest, Governor, GraphClient, GraphError, RetryPolicy, Timeouts};
use stagehand::secret::Secret;
use url::Url;

fn client(url: &str) -> GraphClient {
    GraphClient::new(
        Url::parse(url).unwrap(),
        Timeouts::default(),
        Arc::new(StaticToken(Secret::new("tok-ops"))),
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(10),
    })
}

#[tokio::test]
async fn batch_splits_into_twenties_and_retries_only_safe_failed_items() {
    // Item 7 is throttled once (Retry-After 1); item 8 is a POST that gets 500 (must not be
    // repeated); item 9 fails its dependency (424); item 10 is a GET that gets 503 once.
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let seen2 = seen.clone();
    let server = CannedServer::start(move |req, _| {
        assert_eq!(req.path, "/beta/$batch");
        let body = req.json();
        let mut out = Vec::new();
        for r in body["requests"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap().to_string();
            let n = {
                let mut s = seen2.lock().unwrap();
                let n = s.entry(id.clone()).or_default();
                *n += 1;
                *n
            };
            let resp = match (id.as_str(), n) {
                ("7", 1) => j!({"id": id, "status": 429, "headers": {"Retry-After": "1"}, "body": {"error": {"code": "TooManyRequests"}}}),
                ("8", _) => j!({"id": id, "status": 500, "body": {"error": {"code": "InternalError", "message": "boom"}}}),
                ("9", _) => j!({"id": id, "status": 424}),
                ("10", 1) => j!({"id": id, "status": 503}),
                _ => j!({"id": id, "status": 200, "body": {"id": format!("dev-{id}")}}),
            };
            out.push(resp);
        }
        out.reverse(); // Graph may answer out of order.
        json(200, &[], j!({"responses": out}))
    })
    .await;
    let c = client(&server.url);
    let mut reqs: Vec<BatchRequest> = (0..45)
        .map(|i| {
            BatchRequest::get(
                i.to_string(),
                format!("/deviceManagement/managedDevices/d{i}"),
            )
        })
        .collect();
    reqs[8] = BatchRequest::with_body(
        "8",
        "POST",
        "/deviceManagement/managedDevices/d8/syncDevice",
        j!({}),
    );
    reqs[9].depends_on = vec!["8".into()];
    let out = c.batch(reqs).await.unwrap();

    let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
    let expected: Vec<String> = (0..45).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "answers come back in input order");
    let status = |id: &str| out.iter().find(|r| r.id == id).unwrap().status;
    assert_eq!(status("7"), 200);
    assert_eq!(status("8"), 500);
    assert_eq!(status("9"), 424);
    assert_eq!(status("10"), 200);
    assert_eq!(out[44].body.as_ref().unwrap()["id"], "dev-44");

    let calls = server.recorded();
    let sizes: Vec<usize> = calls
        .iter()
        .map(|r| r.json()["requests"].as_array().unwrap().len())
        .collect();
    assert_eq!(
        sizes,
        vec![20, 20, 5, 2],
        "three chunks, then one retry batch with items 7 and 10"
    );
    let retried: Vec<Value> = calls[3].json()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(retried, vec![j!("7"), j!("10")]);
    assert_eq!(
        seen.lock().unwrap()["8"],
        1,
        "the POST that got 500 was sent once"
    );
    // No request went out before the largest item Retry-After (1 s) had passed.
    assert!(calls[3].at - calls[0].at >= Duration::from_secs(1));
    for r in &calls {
        assert!(
            r.json()["requests"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["url"].as_str().unwrap().starts_with("/deviceManagement/"))
        );
    }
}

fn zip_csv(csv: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        "AutopilotV2DeploymentStatus.csv",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    w.write_all(csv.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn export_job_round_trip_downloads_without_the_token() {
    let server = CannedServer::start(|req, _| {
        let host = req.header("host").unwrap().to_string();
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/beta/deviceManagement/reports/exportJobs") => {
                let b = req.json();
                assert_eq!(b["format"], "csv");
                assert_eq!(b["reportName"], "AutopilotV2DeploymentStatus");
                json(201, &[], j!({"id": "job-1", "status": "notStarted", "format": "csv"}))
            }
            ("GET", "/beta/deviceManagement/reports/exportJobs/job-1") => {
                // In progress on the first poll, done on the second.
                static POLLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                if POLLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    json(200, &[], j!({"id": "job-1", "status": "inProgress"}))
                } else {
                    json(200, &[], j!({"value": {"id": "job-1", "status": "completed",
                        "url": format!("http://{host}/blob/report.zip?sv=2020&sig=SECRET")}}))
                }
            }
            ("GET", "/blob/report.zip") => bytes(
                200,
                "application/zip",
                zip_csv("DeviceId,DeviceName,SerialNumber,UPN,DeploymentStatus,ResultCode\nd1,PC-1,SN-1,a@x.com,2,0\nd2,PC-2,SN-2,b@x.com,3,-2147023436\n"),
            ),
            _ => empty(404),
        }
    })
    .await;
    let c = client(&server.url);
    let polling = ExportPolling {
        first_wait: Duration::from_millis(10),
        max_wait: Duration::from_millis(50),
        deadline: Duration::from_secs(10),
    };
    let rows = c
        .export_report_with(
            "AutopilotV2DeploymentStatus",
            &["DeviceId", "SerialNumber"],
            None,
            polling,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["SerialNumber"], "SN-2");
    assert_eq!(rows[1]["ResultCode"], "-2147023436");
    let reqs = server.recorded();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/beta/deviceManagement/reports/exportJobs",
            "/beta/deviceManagement/reports/exportJobs/job-1",
            "/beta/deviceManagement/reports/exportJobs/job-1",
            "/blob/report.zip"
        ]
    );
    for r in &reqs[..3] {
        assert_eq!(r.header("authorization"), Some("Bearer tok-ops"));
    }
    assert_eq!(
        reqs[3].header("authorization"),
        None,
        "the pre-signed download carries no token"
    );
    assert_eq!(reqs[3].header("client-request-id"), None);
}

#[tokio::test]
async fn a_serial_with_a_quote_is_one_literal_and_rows_are_rechecked() {
    let server = CannedServer::start(|req, _| {
        // Intune ignoring the filter: the whole fleet comes back.
        let filter = req.param("$filter").unwrap_or_default();
        if filter.contains("TWIN") {
            return json(200, &[], j!({"value": [{"id": "1", "serialNumber": "TWIN"}, {"id": "2", "serialNumber": "twin"}]}));
        }
        json(200, &[], j!({"value": [
            {"id": "1", "serialNumber": "OTHER"},
            {"id": "2", "serialNumber": "O'BRIEN 1", "deviceName": "PC"},
            {"id": "3", "serialNumber": null}
        ]}))
    })
    .await;
    let c = client(&server.url);
    let d = c.find_device_by_serial("O'BRIEN 1").await.unwrap().unwrap();
    assert_eq!(d.id, "2");
    let r = &server.recorded()[0];
    assert_eq!(
        r.param("$filter").as_deref(),
        Some("serialNumber eq 'O''BRIEN 1'")
    );
    assert_eq!(r.param("$top").as_deref(), Some("1000"));
    assert!(
        r.query
            .as_deref()
            .unwrap()
            .contains("%27O%27%27BRIEN%201%27"),
        "{:?}",
        r.query
    );

    assert_eq!(c.find_device_by_serial("NOPE").await.unwrap(), None);
    let err = c.find_device_by_serial("TWIN").await.unwrap_err();
    assert_eq!(
        err,
        GraphError::Ambiguous {
            what: "device with serial \"TWIN\"".into(),
            count: 2
        }
    );
    let err = c.find_device_by_serial("  ").await.unwrap_err();
    assert!(matches!(err, GraphError::Invalid(_)));
}

#[tokio::test]
async fn set_primary_user_posts_a_ref_built_from_the_base() {
    let server = CannedServer::start(|_, _| empty(204)).await;
    let c = client(&server.url);
    let uid = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
    c.set_primary_user("dev/1", uid).await.unwrap();
    let r = &server.recorded()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path,
        "/beta/deviceManagement/managedDevices/dev%2F1/users/$ref"
    );
    assert_eq!(
        r.json(),
        j!({"@odata.id": format!("{}beta/users/{uid}", server.url)})
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(matches!(
        c.set_primary_user("d", "not-a-guid").await,
        Err(GraphError::Invalid(_))
    ));
    assert_eq!(server.count(), 1, "an invalid user id never reaches Graph");
}

#[tokio::test]
async fn import_sends_the_documented_body_and_reads_statuses() {
    let server = CannedServer::start(|req, _| {
        let ids = req.json()["importedDeviceIdentities"].clone();
        let out: Vec<Value> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let mut o = i.clone();
                o["status"] = j!(true);
                o["id"] = j!("new-id");
                o
            })
            .collect();
        json(200, &[], j!({"value": out}))
    })
    .await;
    let c = client(&server.url);
    let res = c
        .import_device_identities(
            &[ImportedDeviceIdentity::windows(
                "Microsoft",
                "Surface 5",
                "SN1",
            )],
            false,
        )
        .await
        .unwrap();
    assert_eq!(res[0].status, Some(true));
    assert_eq!(res[0].identity.id.as_deref(), Some("new-id"));
    let r = &server.recorded()[0];
    assert_eq!(
        r.path,
        "/beta/deviceManagement/importedDeviceIdentities/importDeviceIdentityList"
    );
    assert_eq!(r.json()["overwriteImportedDeviceIdentities"], false);
    assert_eq!(
        r.json()["importedDeviceIdentities"][0]["importedDeviceIdentifier"],
        "Microsoft,Surface 5,SN1"
    );
}

#[tokio::test]
async fn list_imported_identities_rechecks_contains_and_delete_tolerates_gone() {
    let server = CannedServer::start(|req, _| match req.method.as_str() {
        "DELETE" => json(
            404,
            &[],
            j!({"error": {"code": "ResourceNotFound", "message": "gone"}}),
        ),
        _ => json(
            200,
            &[],
            j!({"value": [
                {"id": "1", "importedDeviceIdentifier": "Microsoft,Surface,ABC123"},
                {"id": "2", "importedDeviceIdentifier": "Lenovo,T14,ZZZ"}
            ]}),
        ),
    })
    .await;
    let c = client(&server.url);
    let found = c.list_imported_identities(Some("abc1")).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        server.recorded()[0].param("$filter").as_deref(),
        Some("contains(importedDeviceIdentifier,'abc1')")
    );
    c.delete_imported_identity("1").await.unwrap();
}

#[tokio::test]
async fn directory_and_user_reads_hit_the_documented_paths_and_recheck_rows() {
    let server = CannedServer::start(|req, _| {
        let tpl = "80d33118-b7b4-40d8-b15f-81be745e053f_1";
        match req.path.as_str() {
            "/v1.0/servicePrincipals" => json(200, &[], j!({"value": [
                {"id": "sp1", "appId": "f1346770-5b25-470b-88bd-d5744ab7952c"},
                {"id": "sp2", "appId": "someone-else"}
            ]})),
            "/beta/groups/g1/owners" => json(200, &[], j!({"value": [
                {"@odata.type": "#microsoft.graph.servicePrincipal", "id": "sp1", "appId": "f1346770-5b25-470b-88bd-d5744ab7952c"}
            ]})),
            "/beta/deviceManagement/configurationPolicies" => json(200, &[], j!({"value": [
                {"id": "p1", "name": "APv2", "templateReference": {"templateId": tpl}},
                {"id": "p2", "name": "Other", "templateReference": null},
                {"id": "p3", "name": "Cloud PC", "templateReference": {"templateId": "a6157a7f-aa00-42d9-ac82-7d2479f545db_1"}},
                {"id": "p4", "name": "Settings", "templateReference": {"templateId": "e0aa8e4b-2d4e-4b2c-9a52-f3e2f0a0c6a1_1"}}
            ]})),
            "/v1.0/users/a%23b%40contoso.com" => json(200, &[], j!({"id": "u1", "userPrincipalName": "a#b@contoso.com"})),
            "/v1.0/users/u1/licenseDetails" => json(200, &[], j!({"value": [{"skuId": "s", "servicePlans": [
                {"servicePlanId": "c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "servicePlanName": "INTUNE_A", "provisioningStatus": "Success"}
            ]}]})),
            "/v1.0/me/transitiveMemberOf" => json(200, &[], j!({"value": [{"@odata.type": "#microsoft.graph.directoryRole", "roleTemplateId": "3a2c62db-5318-420d-8d74-23affee5d9d5"}]})),
            "/beta/deviceManagement/getAssignedRoleDetails" => json(200, &[], j!({"value": {"roleDefinitionIds": ["r1"], "roleAssignmentIds": []}})),
            "/v1.0/identity/conditionalAccess/policies" => json(200, &[], j!({"value": [{"id": "ca1", "state": "enabled"}]})),
            _ => empty(404),
        }
    })
    .await;
    let c = client(&server.url);
    let sp = c
        .service_principal_by_app_id("f1346770-5b25-470b-88bd-d5744ab7952c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sp.id.as_deref(), Some("sp1"));
    assert_eq!(
        c.group_owners("g1").await.unwrap()[0].app_id.as_deref(),
        Some("f1346770-5b25-470b-88bd-d5744ab7952c")
    );
    let policies = c.device_preparation_policies().await.unwrap();
    let ids: Vec<_> = policies.iter().filter_map(|p| p.id.as_deref()).collect();
    assert_eq!(
        ids,
        ["p1", "p3"],
        "both device preparation templates kept, every other policy dropped"
    );
    let u = c
        .get_user("a#b@contoso.com", &["id", "userPrincipalName"])
        .await
        .unwrap();
    assert_eq!(u.id.as_deref(), Some("u1"));
    assert!(c.user_license_details("u1").await.unwrap()[0].has_intune());
    assert_eq!(c.transitive_member_of_me().await.unwrap().len(), 1);
    assert_eq!(
        c.assigned_role_details().await.unwrap().role_definition_ids,
        ["r1"]
    );
    let before_ca = std::time::Instant::now();
    c.conditional_access_policies().await.unwrap();
    c.conditional_access_policies().await.unwrap();

    let reqs = server.recorded();
    let sp_req = &reqs[0];
    assert_eq!(
        sp_req.param("$filter").as_deref(),
        Some("appId eq 'f1346770-5b25-470b-88bd-d5744ab7952c'")
    );
    assert_eq!(
        reqs[2].param("$filter").as_deref(),
        Some(
            "(technologies has 'enrollment') and (platforms eq 'windows10') and (templateReference/templateFamily eq 'enrollmentConfiguration')"
        )
    );
    assert_eq!(
        reqs[3].param("$select").as_deref(),
        Some("id,userPrincipalName")
    );
    let ca: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.contains("conditionalAccess"))
        .collect();
    assert_eq!(ca.len(), 2);
    assert!(
        ca[1].at - before_ca >= Duration::from_secs(1),
        "Conditional Access reads are paced at 1/s"
    );
}

#[tokio::test]
async fn a_batch_counts_its_items_in_their_families_and_the_post_itself_nowhere() {
    // 120 batches of reads in one 20 s window: the documented Identity budget allows 100 writes,
    // which the outer POSTs used to count as, holding the 101st batch for ~20 s.
    let server = CannedServer::start(move |req, _| {
        let body = req.json();
        let out: Vec<Value> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| j!({"id": r["id"], "status": 200, "body": {"id": "x"}}))
            .collect();
        json(200, &[], j!({"responses": out}))
    })
    .await;
    let governor = Arc::new(Governor::new(&[]));
    let c = GraphClient::new(
        Url::parse(&server.url).unwrap(),
        Timeouts::default(),
        Arc::new(StaticToken(Secret::new("tok-ops"))),
        governor.clone(),
    )
    .unwrap();
    for b in 0..120 {
        let reqs = vec![BatchRequest::user(&format!("u{b}"))];
        let answers = c.batch(reqs).await.unwrap();
        assert_eq!(answers.len(), 1);
    }
    use stagehand::graph::governor::Family;
    assert_eq!(
        governor.granted(Family::Identity),
        120,
        "one per /users item"
    );
    assert_eq!(governor.granted(Family::Devices), 0);
    assert_eq!(governor.granted(Family::Enrollment), 0);
}

//! The simulator's Graph surface over real loopback HTTP: tokens, scopes, envelopes, filters,
//! paging, identities, primary users, remote actions.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use stagehand::sim::{self, SimHandle, SimOptions};

const HOUR: Duration = Duration::from_secs(3600);
const ALL: &[&str] = &[
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
    "DeviceManagementManagedDevices.PrivilegedOperations.All",
    "User.Read.All",
];

async fn sim(opts: SimOptions) -> (SimHandle, Client, String) {
    let s = sim::start(opts).await.expect("sim starts");
    let tok = s.issue_token(ALL, HOUR).expose().to_string();
    (s, Client::new(), tok)
}

async fn get(c: &Client, s: &SimHandle, tok: &str, path: &str) -> (StatusCode, Value) {
    let r = c
        .get(s.base_url.join(path).unwrap())
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn post(
    c: &Client,
    s: &SimHandle,
    tok: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = c
        .post(s.base_url.join(path).unwrap())
        .bearer_auth(tok)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn tokens_scopes_and_the_error_envelope() {
    let (s, c, tok) = sim(SimOptions::default()).await;
    let url = s
        .base_url
        .join("beta/deviceManagement/managedDevices")
        .unwrap();
    assert!(s.base_url.host_str() == Some("127.0.0.1"));

    let r = c
        .get(url.clone())
        .header("client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("request-id").is_some());
    assert_eq!(r.headers()["client-request-id"], "abc-123");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(body["error"]["innerError"]["client-request-id"], "abc-123");
    assert!(
        body["error"]["innerError"]["request-id"].is_string()
            && body["error"]["innerError"]["date"].is_string()
    );

    assert_eq!(
        c.get(url.clone())
            .bearer_auth("made-up")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    s.expire_access_tokens();
    let (st, b) = get(&c, &s, &tok, "beta/deviceManagement/managedDevices").await;
    assert_eq!(st, 401);
    assert!(b["error"]["message"].as_str().unwrap().contains("expired"));

    // A token without the device scopes gets 403; wipe needs PrivilegedOperations, not ReadWrite.
    let weak = s.issue_token(&["User.Read"], HOUR).expose().to_string();
    let (st, b) = get(&c, &s, &weak, "beta/deviceManagement/managedDevices").await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("Forbidden"))
    );
    let rw = s
        .issue_token(&["DeviceManagementManagedDevices.ReadWrite.All"], HOUR)
        .expose()
        .to_string();
    let (_, list) = get(&c, &s, &rw, "beta/deviceManagement/managedDevices").await;
    let id = list["value"][0]["id"].as_str().unwrap().to_string();
    let (st, _) = post(
        &c,
        &s,
        &rw,
        &format!("beta/deviceManagement/managedDevices/{id}/wipe"),
        json!({}),
    )
    .await;
    assert_eq!(st, 403);
    let stats = s.stats();
    assert_eq!((stats.unauthorized_401, stats.forbidden_403), (3, 2));
    // Unknown segments get Graph's 400.
    let (st, b) = get(&c, &s, &rw, "beta/deviceManagement/nothingHere").await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BadRequest"))
    );
}

#[tokio::test]
async fn managed_device_filters_select_and_paging() {
    let (s, c, tok) = sim(SimOptions {
        devices: 40,
        ..SimOptions::default()
    })
    .await;
    let (st, all) = get(&c, &s, &tok, "beta/deviceManagement/managedDevices").await;
    assert_eq!(st, 200);
    let rows = all["value"].as_array().unwrap();
    assert_eq!(rows.len(), 35, "40 seeded, 1 in 8 not enrolled yet");
    assert!(
        all["@odata.context"]
            .as_str()
            .unwrap()
            .starts_with(s.base_url.as_str())
    );
    assert!(
        rows.iter()
            .all(|r| r["usersLoggedOn"] == json!([])
                && r.get("enrolledByUserPrincipalName").is_none())
    );

    let serial = rows[3]["serialNumber"].as_str().unwrap();
    let (_, one) = get(
        &c,
        &s,
        &tok,
        &format!("beta/deviceManagement/managedDevices?$filter=serialNumber eq '{serial}'"),
    )
    .await;
    assert_eq!(one["value"].as_array().unwrap().len(), 1);
    // What Intune ignores returns everything; a malformed literal is a 400.
    let (_, ignored) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/managedDevices?$filter=userId eq 'nobody'",
    )
    .await;
    assert_eq!(ignored["value"].as_array().unwrap().len(), 35);
    let (st, bad) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/managedDevices?$filter=serialNumber eq 'abc",
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unterminated")
    );
    let (_, none) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/managedDevices?$filter=enrolledDateTime gt 2099-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(none["value"], json!([]));

    let (_, sel) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/managedDevices?$select=id,serialNumber&$top=10",
    )
    .await;
    let first = sel["value"][0].as_object().unwrap();
    assert_eq!(first.len(), 2);
    let (st, _) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/managedDevices?$select=nope",
    )
    .await;
    assert_eq!(st, 400);

    // Follow nextLink verbatim until the end: every device exactly once.
    let mut next = Some(
        s.base_url
            .join("beta/deviceManagement/managedDevices?$top=10&$select=id")
            .unwrap()
            .to_string(),
    );
    let mut ids = vec![];
    while let Some(u) = next {
        assert!(u.starts_with(s.base_url.as_str()), "{u}");
        let page: Value = c
            .get(&u)
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 35);

    // Single GET carries what the list hides.
    let id = rows[6]["id"].as_str().unwrap();
    let (_, dev) = get(&c, &s, &tok, &format!("beta/deviceManagement/managedDevices/{id}?$select=usersLoggedOn,enrolledByUserPrincipalName")).await;
    assert!(
        dev["enrolledByUserPrincipalName"]
            .as_str()
            .unwrap()
            .contains("staging@contoso.example")
    );
    assert!(!dev["usersLoggedOn"].as_array().unwrap().is_empty());
    let (st, _) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/managedDevices/00000000-0000-4000-8000-000000000000",
    )
    .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn identities_import_search_filter_delete() {
    let (s, c, tok) = sim(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await;
    let item =
        |v: &str, t: &str| json!({"importedDeviceIdentifier": v, "importedDeviceIdentityType": t});
    let body = json!({"importedDeviceIdentities": [item("Dell Inc.,Latitude 7440,SN-1", "manufacturerModelSerial"), item("Dell,no-serial", "manufacturerModelSerial")], "overwriteImportedDeviceIdentities": false});
    let (st, res) = post(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/importedDeviceIdentities/importDeviceIdentityList",
        body,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(res["value"][0]["status"], true);
    assert_eq!(
        res["value"][1]["status"], false,
        "a two-part Windows tuple is refused"
    );
    assert_eq!(res["value"][0]["enrollmentState"], "notContacted");
    let dup = json!({"importedDeviceIdentities": [item("dell inc.,latitude 7440,sn-1", "manufacturerModelSerial")], "overwriteImportedDeviceIdentities": false});
    let (_, res2) = post(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/importedDeviceIdentities/importDeviceIdentityList",
        dup.clone(),
    )
    .await;
    assert_eq!(res2["value"][0]["status"], false);
    let (_, found) = post(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/importedDeviceIdentities/searchExistingIdentities",
        dup,
    )
    .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
    let (_, listed) = get(&c, &s, &tok, "beta/deviceManagement/importedDeviceIdentities?$filter=contains(importedDeviceIdentifier,'SN-1')").await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    let id = listed["value"][0]["id"].as_str().unwrap();
    let del = c
        .delete(
            s.base_url
                .join(&format!(
                    "beta/deviceManagement/importedDeviceIdentities/{id}"
                ))
                .unwrap(),
        )
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let (_, after) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/importedDeviceIdentities",
    )
    .await;
    assert_eq!(after["value"], json!([]));
    let (st, _) = post(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/importedDeviceIdentities/importDeviceIdentityList",
        json!({"nope": 1}),
    )
    .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn an_imported_serial_comes_alive_and_gets_a_real_user() {
    let (s, c, tok) = sim(SimOptions {
        devices: 0,
        failure_rate: 0.0,
        ..SimOptions::default()
    })
    .await;
    let body = json!({"importedDeviceIdentities": [{"importedDeviceIdentifier": "LENOVO,21HD,PF4LIVE1", "importedDeviceIdentityType": "manufacturerModelSerial"}], "overwriteImportedDeviceIdentities": false});
    post(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/importedDeviceIdentities/importDeviceIdentityList",
        body,
    )
    .await;
    let q = "beta/deviceManagement/managedDevices?$filter=serialNumber eq 'PF4LIVE1'";
    assert_eq!(get(&c, &s, &tok, q).await.1["value"], json!([]));
    s.advance(Duration::from_secs(10 * 60));
    let (_, found) = get(&c, &s, &tok, q).await;
    let dev = &found["value"][0];
    assert!(
        dev["userPrincipalName"]
            .as_str()
            .unwrap()
            .contains("staging@"),
        "enrolled through a staging account: {dev}"
    );
    let id = dev["id"].as_str().unwrap().to_string();
    let (_, ident) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/importedDeviceIdentities",
    )
    .await;
    assert_eq!(ident["value"][0]["enrollmentState"], "enrolled");
    s.advance(Duration::from_secs(3 * 3600));
    let (_, full) = get(
        &c,
        &s,
        &tok,
        &format!("beta/deviceManagement/managedDevices/{id}"),
    )
    .await;
    let (users, _) = s.users();
    let staging: Vec<&String> = users
        .iter()
        .filter(|(_, upn)| upn.contains("staging@"))
        .map(|(id, _)| id)
        .collect();
    let logged = full["usersLoggedOn"].as_array().unwrap();
    assert!(
        logged
            .iter()
            .any(|u| !staging.iter().any(|s| u["userId"] == s.as_str())),
        "a real user signed in: {logged:?}"
    );
}

#[tokio::test]
async fn primary_user_change_validates_and_applies_after_propagation() {
    let (s, c, tok) = sim(SimOptions {
        devices: 8,
        ..SimOptions::default()
    })
    .await;
    let (_, list) = get(&c, &s, &tok, "beta/deviceManagement/managedDevices").await;
    let id = list["value"][0]["id"].as_str().unwrap().to_string();
    let path = format!("beta/deviceManagement/managedDevices/{id}/users/$ref");
    let (st, b) = post(
        &c,
        &s,
        &tok,
        &path,
        json!({"@odata.id": "https://graph.microsoft.com/beta/users/not-a-guid"}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(b["error"]["message"], "User id must be in the form of Guid");
    let (_, deleted) = s.users();
    let (st, b) = post(
        &c,
        &s,
        &tok,
        &path,
        json!({"@odata.id": format!("https://graph.microsoft.com/beta/users/{}", deleted[0])}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not have intune license or is deleted")
    );
    let (_, disabled) = get(
        &c,
        &s,
        &tok,
        "v1.0/users/grady.archie@contoso.example?$select=id,accountEnabled",
    )
    .await;
    assert_eq!(disabled["accountEnabled"], false);
    let (st, _) = post(&c, &s, &tok, &path, json!({"@odata.id": format!("https://graph.microsoft.com/beta/users/{}", disabled["id"].as_str().unwrap())})).await;
    assert_eq!(st, 400);

    let (_, adele) = get(&c, &s, &tok, "v1.0/users/adele.vance%40contoso.example").await;
    let adele_id = adele["id"].as_str().unwrap().to_string();
    let r = c
        .post(s.base_url.join(&path).unwrap())
        .bearer_auth(&tok)
        .json(&json!({"@odata.id": format!("https://graph.microsoft.com/beta/users/{adele_id}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let users_path = format!("beta/deviceManagement/managedDevices/{id}/users");
    assert_ne!(
        get(&c, &s, &tok, &users_path).await.1["value"][0]["id"],
        adele_id.as_str(),
        "not applied before propagation"
    );
    s.advance(Duration::from_secs(4 * 60));
    assert_eq!(
        get(&c, &s, &tok, &users_path).await.1["value"][0]["id"],
        adele_id.as_str()
    );
}

#[tokio::test]
async fn remote_actions_set_pending_states() {
    let (s, c, tok) = sim(SimOptions {
        devices: 8,
        ..SimOptions::default()
    })
    .await;
    let (_, list) = get(&c, &s, &tok, "beta/deviceManagement/managedDevices").await;
    let id = list["value"][1]["id"].as_str().unwrap().to_string();
    for (action, state) in [
        ("syncDevice", "managed"),
        ("retire", "retirePending"),
        ("wipe", "wipePending"),
    ] {
        let r = c
            .post(
                s.base_url
                    .join(&format!(
                        "beta/deviceManagement/managedDevices/{id}/{action}"
                    ))
                    .unwrap(),
            )
            .bearer_auth(&tok)
            .json(&json!({"keepEnrollmentData": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{action}");
        let (_, d) = get(
            &c,
            &s,
            &tok,
            &format!("beta/deviceManagement/managedDevices/{id}"),
        )
        .await;
        assert_eq!(d["managementState"], state);
        assert!(
            d["deviceActionResults"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["actionName"] == action)
        );
    }
    let recorded = s.requests();
    assert!(recorded.iter().any(|r| r.method == "POST"
        && r.path.ends_with("/wipe")
        && r.had_authorization
        && r.status == 204));
}

#[tokio::test]
async fn deleted_users_in_users_logged_on_are_404_and_apostrophe_upns_resolve() {
    let (s, c, tok) = sim(SimOptions {
        devices: 64,
        ..SimOptions::default()
    })
    .await;
    let (_, deleted) = s.users();
    let (_, list) = get(
        &c,
        &s,
        &tok,
        "beta/deviceManagement/managedDevices?$select=id",
    )
    .await;
    let mut ghosts = 0;
    for row in list["value"].as_array().unwrap() {
        let (_, d) = get(
            &c,
            &s,
            &tok,
            &format!(
                "beta/deviceManagement/managedDevices/{}?$select=usersLoggedOn",
                row["id"].as_str().unwrap()
            ),
        )
        .await;
        for u in d["usersLoggedOn"].as_array().unwrap() {
            let id = u["userId"].as_str().unwrap();
            if deleted.iter().any(|x| x == id) {
                ghosts += 1;
                let (st, b) = get(&c, &s, &tok, &format!("v1.0/users/{id}")).await;
                assert_eq!(
                    (st.as_u16(), b["error"]["code"].as_str()),
                    (404, Some("Request_ResourceNotFound"))
                );
            }
        }
    }
    assert!(ghosts > 0, "some devices show a deleted user");
    let (st, u) = get(
        &c,
        &s,
        &tok,
        "v1.0/users/o'neil.staging%40contoso.example?$select=id,userPrincipalName,accountEnabled",
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(u["userPrincipalName"], "o'neil.staging@contoso.example");
    let (_, f) = get(&c, &s, &tok, "beta/deviceManagement/managedDevices?$filter=userPrincipalName eq 'o''neil.staging@contoso.example'&$select=userPrincipalName").await;
    let rows = f["value"].as_array().unwrap();
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r["userPrincipalName"] == "o'neil.staging@contoso.example")
    );
}

//! What the simulator cannot produce, end to end through `Fetcher` over loopback HTTP against a
//! small hand-written tenant (the `CannedServer` of the Graph client tests): a list row whose
//! `userPrincipalName` is empty, so `/users` alone decides, naming the apostrophe staging account in
//! another case than the config's. Every verdict is reached on the simulator in `review_verdicts.rs`
//! and `review_sim.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common_graph::{CannedServer, json};
use serde_json::{Value, json as j};
use stagehand::auth::StaticToken;
use stagehand::config::Config;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::review::fetch::Fetcher;
use stagehand::secret::Secret;
use url::Url;

const INTUNE_A: &str = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5";

struct Dev {
    id: &'static str,
    os: &'static str,
    join: &'static str,
    list_upn: &'static str,
    primary: &'static str,
    logons: &'static [(&'static str, &'static str)],
}

const DEVICES: &[Dev] = &[
    // The list shows a staging account: /users is asked and agrees.
    Dev {
        id: "d1",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[("ana", "2026-11-20T09:00:00Z")],
    },
    // The list shows nobody, so /users is asked: the apostrophe staging account, in another case
    // than the config's, and it signed in after Carl.
    Dev {
        id: "d6",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "",
        primary: "oneil",
        logons: &[
            ("oneil", "2026-11-20T08:00:00Z"),
            ("carl", "2026-11-20T07:00:00Z"),
        ],
    },
    // The list shows an employee: /users is not asked, even though it would say staging.
    Dev {
        id: "d7",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "carl@contoso.com",
        primary: "stage",
        logons: &[("carl", "2026-11-20T12:00:00Z")],
    },
];

/// (id, upn, enabled, licensed).
const USERS: &[(&str, &str, bool, bool)] = &[
    ("stage", "Stage@Contoso.com", true, true),
    ("oneil", "O'Neil@contoso.com", true, true),
    ("ana", "ana@contoso.com", true, true),
    ("carl", "carl@contoso.com", true, true),
];

fn user_json(id: &str) -> Option<Value> {
    let (id, upn, enabled, licensed) = USERS.iter().find(|u| u.0 == id)?;
    let plans = if *licensed {
        j!([{"servicePlanId": INTUNE_A, "capabilityStatus": "Enabled", "service": "SCO"}])
    } else {
        j!([])
    };
    Some(
        j!({"id": id, "userPrincipalName": upn, "displayName": upn.to_uppercase(), "accountEnabled": enabled, "assignedPlans": plans}),
    )
}

fn item(url: &str) -> (u16, Value) {
    let path = url.split('?').next().unwrap();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["deviceManagement", "managedDevices", id, "users"] => {
            let d = DEVICES.iter().find(|d| d.id == *id).unwrap();
            (200, j!({"value": [user_json(d.primary).unwrap()]}))
        }
        ["deviceManagement", "managedDevices", id] => {
            let d = DEVICES.iter().find(|d| d.id == *id).unwrap();
            let logons: Vec<Value> = d
                .logons
                .iter()
                .map(|(u, at)| j!({"userId": u, "lastLogOnDateTime": at}))
                .collect();
            (
                200,
                j!({"id": d.id, "deviceName": format!("PC-{}", d.id), "serialNumber": format!("SN-{}", d.id), "operatingSystem": d.os, "joinType": d.join, "usersLoggedOn": logons}),
            )
        }
        ["users", id] => match user_json(id) {
            Some(u) => (200, u),
            None => (
                404,
                j!({"error": {"code": "Request_ResourceNotFound", "message": "gone"}}),
            ),
        },
        _ => (400, j!({"error": {"code": "BadRequest", "message": url}})),
    }
}

async fn tenant() -> (CannedServer, GraphClient) {
    let server = CannedServer::start(|req, _| {
        if req.path.ends_with("/$batch") {
            let body = req.json();
            let responses: Vec<Value> = body["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let (status, body) = item(r["url"].as_str().unwrap());
                    j!({"id": r["id"], "status": status, "headers": {}, "body": body})
                })
                .collect();
            return json(200, &[], j!({ "responses": responses }));
        }
        assert!(req.path.ends_with("/deviceManagement/managedDevices"), "{}", req.path);
        let rows: Vec<Value> = DEVICES
            .iter()
            .map(|d| j!({"id": d.id, "deviceName": format!("PC-{}", d.id), "serialNumber": format!("SN-{}", d.id), "operatingSystem": d.os, "joinType": d.join, "userPrincipalName": d.list_upn}))
            .collect();
        json(200, &[], j!({ "value": rows }))
    })
    .await;
    let client = GraphClient::new(
        Url::parse(&server.url).unwrap(),
        Timeouts::default(),
        Arc::new(StaticToken(Secret::new("canned"))),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    (server, client)
}

#[tokio::test]
async fn an_empty_list_upn_is_decided_by_users() {
    let (server, client) = tenant().await;
    let mut cfg = Config::default();
    cfg.staging.accounts = vec!["stage@contoso.com".into(), "o'neil@CONTOSO.com".into()];
    let candidates = Fetcher::new(&client, &cfg).candidates().await.unwrap();
    let got: BTreeMap<&str, (String, Option<String>, String)> = candidates
        .iter()
        .map(|c| {
            let a = &c.assessment;
            (
                c.device.id.as_str(),
                (
                    a.verdict.word().to_string(),
                    a.proposed.as_ref().map(|p| p.upn.clone()),
                    a.current.upn.clone(),
                ),
            )
        })
        .collect();
    let want = |p: &str, current: &str| {
        (
            "propose".to_string(),
            Some(p.to_string()),
            current.to_string(),
        )
    };
    let expected: BTreeMap<&str, (String, Option<String>, String)> = [
        ("d1", want("ana@contoso.com", "Stage@Contoso.com")),
        ("d6", want("carl@contoso.com", "O'Neil@contoso.com")),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);
    let asked: Vec<String> = server
        .recorded()
        .iter()
        .filter(|r| r.path.ends_with("/$batch"))
        .flat_map(|r| {
            r.json()["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["url"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|u| u.ends_with("/users"))
        .collect();
    assert_eq!(
        asked,
        [
            "/deviceManagement/managedDevices/d1/users",
            "/deviceManagement/managedDevices/d6/users"
        ],
        "only rows listing staging or nobody are asked"
    );
}

//! The verdicts the simulator's fleet never produces (ambiguous, not Windows, not joined, a
//! staging sign-in after the real user), end to end through `Fetcher` over loopback HTTP against a
//! small hand-written tenant (the `CannedServer` of the Graph client tests). Every verdict in one
//! tenant, plus the list-vs-`/users` disagreement and the apostrophe staging UPN in another case.

#[path = "common_graph/mod.rs"]
mod common_graph;

use std::collections::BTreeMap;
use std::sync::Arc;

use common_graph::{CannedServer, json};
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
    // Staging signed in after the real user: Ana is proposed.
    Dev {
        id: "d1",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[
            ("stage", "2026-11-20T10:00:00Z"),
            ("ana", "2026-11-20T09:00:00Z"),
        ],
    },
    // Bo signed in 6 h before Ana: ambiguous.
    Dev {
        id: "d2",
        os: "Windows",
        join: "hybridAzureADJoined",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[
            ("ana", "2026-11-20T12:00:00Z"),
            ("bo", "2026-11-20T06:00:00Z"),
        ],
    },
    Dev {
        id: "d3",
        os: "macOS",
        join: "unknown",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[("ana", "2026-11-20T12:00:00Z")],
    },
    Dev {
        id: "d4",
        os: "Windows",
        join: "azureADRegistered",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[("ana", "2026-11-20T12:00:00Z")],
    },
    // The list still says staging; /users already says Ana: not a candidate.
    Dev {
        id: "d5",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "STAGE@contoso.com",
        primary: "ana",
        logons: &[("ana", "2026-11-20T12:00:00Z")],
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
    Dev {
        id: "d7",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[("cy", "2026-11-20T12:00:00Z")],
    },
    Dev {
        id: "d8",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[("dee", "2026-11-20T12:00:00Z")],
    },
    Dev {
        id: "d9",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[("stage", "2026-11-20T12:00:00Z")],
    },
    Dev {
        id: "d10",
        os: "Windows",
        join: "azureADJoined",
        list_upn: "stage@contoso.com",
        primary: "stage",
        logons: &[("ghost", "2026-11-20T12:00:00Z")],
    },
];

/// (id, upn, enabled, licensed); `ghost` is absent (404).
const USERS: &[(&str, &str, bool, bool)] = &[
    ("stage", "Stage@Contoso.com", true, true),
    ("oneil", "O'Neil@contoso.com", true, true),
    ("ana", "ana@contoso.com", true, true),
    ("bo", "bo@contoso.com", true, true),
    ("carl", "carl@contoso.com", true, true),
    ("cy", "cy@contoso.com", false, true),
    ("dee", "dee@contoso.com", true, false),
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
async fn every_verdict_end_to_end_over_loopback() {
    let (_server, client) = tenant().await;
    let mut cfg = Config::default();
    cfg.staging.accounts = vec!["stage@contoso.com".into(), "o'neil@CONTOSO.com".into()];
    let candidates = Fetcher::new(&client, &cfg).candidates().await.unwrap();
    let got: BTreeMap<&str, (String, Option<String>)> = candidates
        .iter()
        .map(|c| {
            let a = &c.assessment;
            let v = if a.verdict.reason().is_empty() {
                a.verdict.word().to_string()
            } else {
                format!("{}: {}", a.verdict.word(), a.verdict.reason())
            };
            (
                c.device.id.as_str(),
                (v, a.proposed.as_ref().map(|p| p.upn.clone())),
            )
        })
        .collect();
    let want = |v: &str, p: Option<&str>| (v.to_string(), p.map(String::from));
    let expected: BTreeMap<&str, (String, Option<String>)> = [
        ("d1", want("propose", Some("ana@contoso.com"))),
        (
            "d2",
            want(
                "ambiguous: another user signed in shortly before",
                Some("ana@contoso.com"),
            ),
        ),
        (
            "d3",
            want(
                "blocked: not Windows (macOS): primary user can't be changed",
                Some("ana@contoso.com"),
            ),
        ),
        (
            "d4",
            want(
                "blocked: not Entra or hybrid joined (Entra registered)",
                Some("ana@contoso.com"),
            ),
        ),
        ("d6", want("propose", Some("carl@contoso.com"))),
        (
            "d7",
            want(
                "blocked: cy@contoso.com is disabled",
                Some("cy@contoso.com"),
            ),
        ),
        (
            "d8",
            want(
                "blocked: dee@contoso.com holds no Intune licence",
                Some("dee@contoso.com"),
            ),
        ),
        ("d9", want("waiting: no real user has signed in yet", None)),
        ("d10", want("blocked: user ghost no longer exists", None)),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);
    let d2 = candidates.iter().find(|c| c.device.id == "d2").unwrap();
    let alts: Vec<&str> = d2
        .assessment
        .alternatives
        .iter()
        .map(|(p, _)| p.upn.as_str())
        .collect();
    assert_eq!(alts, ["bo@contoso.com"]);
    assert_eq!(d2.choices.len(), 2, "the picker offers Ana and Bo");
}

//! The simulator's Entra endpoints over loopback: device code, refresh rotation and revocation,
//! client credentials with a secret, authorization code with PKCE, token-based access.
//! Certificate assertions are in `sim_certificates.rs`.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Client;
use serde_json::Value;
use sha2::{Digest, Sha256};
use stagehand::sim::{self, SimHandle, SimOptions};

async fn token(c: &Client, s: &SimHandle, form: &[(&str, &str)]) -> (u16, Value) {
    let r = c
        .post(s.login_url().join("token").unwrap())
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn me(c: &Client, s: &SimHandle, tok: &str) -> Value {
    c.get(s.base_url.join("v1.0/me").unwrap())
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn device_code_flow_pending_slow_down_approve_and_refresh_rotation() {
    let s = sim::start(SimOptions {
        devices: 0,
        device_code_interval: Duration::from_secs(3600),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = Client::new();
    let cid = s.client_id();
    let r = c
        .post(s.login_url().join("devicecode").unwrap())
        .form(&[
            ("client_id", cid.as_str()),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access openid",
            ),
        ])
        .send()
        .await
        .unwrap();
    let dc: Value = r.json().await.unwrap();
    for k in [
        "device_code",
        "user_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    ] {
        assert!(dc.get(k).is_some(), "{k} in {dc}");
    }
    let code = dc["device_code"].as_str().unwrap();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", cid.as_str()),
        ("device_code", code),
    ];
    let (st, e) = token(&c, &s, &poll).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    for k in [
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
    ] {
        assert!(e.get(k).is_some(), "{k}");
    }
    let (_, e) = token(&c, &s, &poll).await;
    assert_eq!(e["error"], "slow_down", "polled inside the interval");
    assert!(s.approve_device_code(dc["user_code"].as_str().unwrap()));
    assert!(!s.approve_device_code("NOPE"));
    // The interval is an hour; a fresh sim-side poll timestamp is needed, so use a second code.
    let r = c
        .post(s.login_url().join("devicecode").unwrap())
        .form(&[
            ("client_id", cid.as_str()),
            (
                "scope",
                "DeviceManagementManagedDevices.Read.All offline_access openid",
            ),
        ])
        .send()
        .await
        .unwrap();
    let dc2: Value = r.json().await.unwrap();
    assert!(s.approve_device_code(dc2["user_code"].as_str().unwrap()));
    let (st, ok) = token(
        &c,
        &s,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &cid),
            ("device_code", dc2["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(st, 200, "{ok}");
    assert!(
        ok["scope"]
            .as_str()
            .unwrap()
            .contains("DeviceManagementManagedDevices.Read.All")
    );
    assert!(ok["id_token"].is_string() && ok["refresh_token"].is_string());
    let at = ok["access_token"].as_str().unwrap();
    assert_eq!(
        me(&c, &s, at).await["userPrincipalName"],
        s.signed_in_user().1
    );

    // Refresh rotates; the old refresh token keeps working until revoked.
    let rt1 = ok["refresh_token"].as_str().unwrap().to_string();
    let (st, r2) = token(
        &c,
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &cid),
            ("refresh_token", &rt1),
        ],
    )
    .await;
    assert_eq!(st, 200);
    let rt2 = r2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(
        token(
            &c,
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &cid),
                ("refresh_token", &rt1)
            ]
        )
        .await
        .0,
        200
    );
    s.revoke_refresh_tokens();
    let (st, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &cid),
            ("refresh_token", &rt2),
        ],
    )
    .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));

    let (_, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &cid),
            ("device_code", "bogus"),
        ],
    )
    .await;
    assert_eq!(e["error"], "bad_verification_code");
    let (_, e) = token(&c, &s, &[("grant_type", "password"), ("client_id", &cid)]).await;
    assert_eq!(e["error"], "unsupported_grant_type");
    let (_, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "someone-else"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(e["error"], "unauthorized_client");
}

#[tokio::test]
async fn device_code_decline_and_expiry() {
    let s = sim::start(SimOptions {
        devices: 0,
        device_code_interval: Duration::ZERO,
        device_code_ttl: Duration::ZERO,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = Client::new();
    let cid = s.client_id();
    let dc: Value = c
        .post(s.login_url().join("devicecode").unwrap())
        .form(&[("client_id", cid.as_str()), ("scope", "User.Read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &cid),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(e["error"], "expired_token");

    let s = sim::start(SimOptions {
        devices: 0,
        device_code_interval: Duration::ZERO,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let cid = s.client_id();
    let dc: Value = c
        .post(s.login_url().join("devicecode").unwrap())
        .form(&[("client_id", cid.as_str()), ("scope", "User.Read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(s.decline_device_code(dc["user_code"].as_str().unwrap()));
    let (_, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &cid),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(e["error"], "authorization_declined");
    let (st, e) = token(
        &c,
        &s,
        &[("grant_type", "device_code"), ("client_id", &cid)],
    )
    .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let r = c
        .post(s.base_url.join("not-my-tenant/oauth2/v2.0/token").unwrap())
        .form(&[("client_id", cid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn client_credentials_secret_and_app_only_limits() {
    let s = sim::start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = Client::new();
    let cid = s.client_id();
    let dflt = "https://graph.microsoft.com/.default";
    let (st, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", dflt),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!((st, e["error"].as_str()), (401, Some("invalid_client")));
    let (st, ok) = token(
        &c,
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", dflt),
            ("client_secret", "sim-client-secret"),
        ],
    )
    .await;
    assert_eq!(st, 200);
    assert!(ok.get("refresh_token").is_none());
    let app = ok["access_token"].as_str().unwrap();
    // App-only: licenseDetails is 403, but assignedPlans on the user is readable; /me is a 400.
    let (users, _) = s.users();
    let uid = &users[3].0;
    let r = c
        .get(
            s.base_url
                .join(&format!("v1.0/users/{uid}/licenseDetails"))
                .unwrap(),
        )
        .bearer_auth(app)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(
            s.base_url
                .join(&format!("v1.0/users/{uid}?$select=assignedPlans"))
                .unwrap(),
        )
        .bearer_auth(app)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["assignedPlans"].is_array());
    assert_eq!(
        c.get(s.base_url.join("v1.0/me").unwrap())
            .bearer_auth(app)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let (st, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_scope")));
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let s = sim::start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cid = s.client_id();
    let verifier = "a-very-long-code-verifier-with-enough-entropy-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:9/callback";
    let mut url = s.login_url().join("authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &cid)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "User.Read offline_access")
        .append_pair("state", "xyz")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let r = c.get(url.clone()).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    let code = q["code"].clone();
    let form = |v: &'static str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", cid.clone()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_string()),
            ("code_verifier", v.to_string()),
        ]
    };
    let bad = c
        .post(s.login_url().join("token").unwrap())
        .form(&form("wrong-verifier"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // A failed redemption burns the code, as single-use codes do; get a new one.
    let r = c.get(url).send().await.unwrap();
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code2: String = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let ok = c
        .post(s.login_url().join("token").unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &cid),
            ("code", &code2),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        me(&Client::new(), &s, body["access_token"].as_str().unwrap()).await["userPrincipalName"],
        "lead@contoso.example"
    );
    // Non-loopback redirect URIs are refused.
    let mut evil = s.login_url().join("authorize").unwrap();
    evil.query_pairs_mut()
        .append_pair("client_id", &cid)
        .append_pair("redirect_uri", "https://evil.example/cb");
    assert_eq!(c.get(evil).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn demo_start_is_signed_in_and_auto_approves_device_codes() {
    let (s, tok) = sim::start_demo(7, 24, 60.0).await.unwrap();
    let c = Client::new();
    assert_eq!(
        me(&c, &s, tok.expose()).await["userPrincipalName"],
        "lead@contoso.example"
    );
    let r = c
        .get(
            s.base_url
                .join("beta/deviceManagement/managedDevices")
                .unwrap(),
        )
        .bearer_auth(tok.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cid = s.client_id();
    let dc: Value = c
        .post(s.login_url().join("devicecode").unwrap())
        .form(&[("client_id", cid.as_str()), ("scope", "User.Read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (st, _) = token(
        &c,
        &s,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &cid),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        !format!("{tok:?}").contains(tok.expose()),
        "the demo token prints redacted"
    );
    // Dropping the handle stops the server.
    let base = s.base_url.clone();
    drop(s);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut stopped = false;
    while !stopped && std::time::Instant::now() < deadline {
        stopped = Client::new()
            .get(base.join("_sim/stats").unwrap())
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_err();
        if !stopped {
            tokio::task::yield_now().await;
        }
    }
    assert!(stopped, "the server stops when its handle is dropped");
}

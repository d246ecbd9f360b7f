//! The simulator's client-credentials grant with a certificate: the client assertion's RS256
//! signature is verified with the key of the registered certificate its `x5t#S256` names, and
//! every forgery is refused the way Entra refuses it (`invalid_client`, AADSTS code).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Client;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stagehand::auth::client_credentials::{self, AppCredential, CertificateCredential};
use stagehand::auth::{AuthError, TokenEndpoint};
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

const TEST_CERT: &str = include_str!("auth_support/test_cert.pem");
const TEST_KEY: &str = include_str!("auth_support/test_key.pem");
/// A test-only key that no certificate of the simulator belongs to.
const OTHER_KEY: &str = include_str!("../../src/sim/testdata/other_key.pem");

/// The registered certificate with `key` (the wrong one, unless it is `TEST_KEY`).
fn certificate(key: &str) -> CertificateCredential {
    let p = std::path::Path::new("test.pem");
    CertificateCredential::from_pem(TEST_CERT, p, key, p).unwrap()
}

/// An RS256 JWT over exactly these header and claims, signed with `key_pem`.
fn sign(header: &Value, claims: &Value, key_pem: &str) -> String {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let key = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(
        rsa::RsaPrivateKey::from_pkcs8_pem(key_pem).unwrap(),
    );
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// `(status, error, first AADSTS code)` of a client-credentials call with this assertion.
async fn assert_with(c: &Client, s: &SimHandle, assertion: &str) -> (u16, Value, Option<u64>) {
    let cid = s.client_id();
    let (st, e) = token(
        c,
        s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", "https://graph.microsoft.com/.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ],
    )
    .await;
    (st, e["error"].clone(), e["error_codes"][0].as_u64())
}

#[tokio::test]
async fn certificate_assertions_are_verified_with_the_registered_key() {
    let s = sim::start(SimOptions {
        devices: 3,
        certificates: vec![TEST_CERT.to_string()],
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let ep = TokenEndpoint::new(&s.base_url, &s.tenant_id(), &s.client_id()).unwrap();
    let acquire = |key: &'static str| {
        let ep = ep.clone();
        async move {
            let cred = AppCredential::Certificate(Box::new(certificate(key)));
            client_credentials::acquire(&ep, &cred).await
        }
    };

    // The real client's assertion is accepted and its token reads Graph.
    let t = acquire(TEST_KEY).await.unwrap();
    let c = Client::new();
    let r = c
        .get(
            s.graph_url()
                .join("deviceManagement/managedDevices")
                .unwrap(),
        )
        .bearer_auth(t.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Signed by a key that is not the certificate's: the real client gets invalid_client.
    let e = acquire(OTHER_KEY).await.unwrap_err();
    assert!(
        matches!(e, AuthError::Refused { ref code, ref description } if code == "invalid_client" && description.contains("700027")),
        "{e:?}"
    );

    let cid = s.client_id();
    let aud = s.login_url().join("token").unwrap().to_string();
    let x5t = certificate(TEST_KEY).x5t_s256;
    let now = chrono::Utc::now().timestamp();
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t#S256": x5t});
    let claims = json!({"aud": aud, "iss": cid, "sub": cid, "exp": now + 600, "nbf": now});
    assert_eq!(
        assert_with(&c, &s, &sign(&header, &claims, TEST_KEY))
            .await
            .0,
        200
    );

    // Tampered payload under the original signature.
    let good = sign(&header, &claims, TEST_KEY);
    let parts: Vec<&str> = good.split('.').collect();
    let mut longer = claims.clone();
    longer["exp"] = json!(now + 86_400);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(longer.to_string()),
        parts[2]
    );
    let invalid_client = json!("invalid_client");
    assert_eq!(
        assert_with(&c, &s, &tampered).await,
        (401, invalid_client.clone(), Some(700027))
    );

    // A thumbprint the app registration does not have.
    let mut unknown = header.clone();
    unknown["x5t#S256"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(b"another certificate")));
    assert_eq!(
        assert_with(&c, &s, &sign(&unknown, &claims, TEST_KEY)).await,
        (401, invalid_client.clone(), Some(700027))
    );

    // Any algorithm but RS256.
    for alg in ["PS256", "HS256", "none"] {
        let mut h = header.clone();
        h["alg"] = json!(alg);
        assert_eq!(
            assert_with(&c, &s, &sign(&h, &claims, TEST_KEY)).await,
            (401, invalid_client.clone(), Some(5002738)),
            "{alg}"
        );
    }
    let refused = s.stats().requests_per_route.values().sum::<u64>();
    assert!(
        refused >= 8,
        "every attempt reached the simulator: {refused}"
    );

    // With no certificate registered, even the right key finds nothing.
    let bare = sim::start(SimOptions {
        devices: 0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let bare_ep = TokenEndpoint::new(&bare.base_url, &bare.tenant_id(), &bare.client_id()).unwrap();
    let cred = AppCredential::Certificate(Box::new(certificate(TEST_KEY)));
    let e = client_credentials::acquire(&bare_ep, &cred)
        .await
        .unwrap_err();
    assert!(
        matches!(e, AuthError::Refused { ref description, .. } if description.contains("700027")),
        "{e:?}"
    );

    // A certificate that does not parse stops the simulator from starting, naming the entry.
    let e = sim::start(SimOptions {
        certificates: vec![
            TEST_CERT.into(),
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----".into(),
        ],
        ..SimOptions::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("certificates[1]"), "{e}");
}

#[tokio::test]
async fn the_real_credential_is_accepted_and_an_expired_assertion_refused() {
    let s = sim::start(SimOptions {
        devices: 0,
        certificates: vec![TEST_CERT.to_string()],
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = Client::new();
    let cid = s.client_id();
    let dflt = "https://graph.microsoft.com/.default";
    let aud = s.login_url().join("token").unwrap().to_string();
    let now = chrono::Utc::now().timestamp();
    let cert = certificate(TEST_KEY);
    let good = cert.assertion(&cid, &aud);
    let jb = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let (st, _) = token(
        &c,
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", dflt),
            ("client_assertion_type", jb),
            ("client_assertion", good.expose()),
        ],
    )
    .await;
    assert_eq!(st, 200);
    let expired = sign(
        &json!({"alg": "RS256", "typ": "JWT", "x5t#S256": cert.x5t_s256}),
        &json!({"aud": aud, "iss": cid, "sub": cid, "exp": now - 10}),
        TEST_KEY,
    );
    let (st, e) = token(
        &c,
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", dflt),
            ("client_assertion_type", jb),
            ("client_assertion", &expired),
        ],
    )
    .await;
    assert_eq!((st, e["error_codes"][0].as_u64()), (401, Some(700024)));
    assert!(
        !e.to_string().contains(&expired),
        "the assertion never comes back in an error"
    );
}

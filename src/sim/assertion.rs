//! Client-assertion checks for the certificate flavour of client credentials, in Entra's order:
//! JWT structure, `alg` (RS256 only), the `x5t#S256` header naming a registered certificate, the
//! RS256 signature against that certificate's public key, then `aud`, `iss`/`sub` = client id and
//! `exp`/`nbf`. An assertion naming its key only by the SHA-1 `x5t` is refused as "key not found":
//! the simulator keeps SHA-256 thumbprints only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::Value;

use super::certs::Registered;

/// Why an assertion was refused: (AADSTS code, description). Never contains the assertion.
pub type AssertionRefusal = (u32, String);

pub fn check(
    assertion: &str,
    client_id: &str,
    audiences: &[String],
    certificates: &[Registered],
    now_unix: i64,
) -> Result<(), AssertionRefusal> {
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err((
            50027,
            "JWT token is invalid or malformed: expected three dot-separated parts.".into(),
        ));
    }
    let b64 = |p: &str, what: &str| -> Result<Vec<u8>, AssertionRefusal> {
        URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .map_err(|_| (50027, format!("JWT {what} is not base64url.")))
    };
    let json = |p: &str, what: &str| -> Result<Value, AssertionRefusal> {
        serde_json::from_slice(&b64(p, what)?)
            .map_err(|_| (50027, format!("JWT {what} is not JSON.")))
    };
    let header = json(parts[0], "header")?;
    let claims = json(parts[1], "payload")?;
    if header["alg"] != "RS256" {
        return Err((
            5002738,
            format!(
                "Invalid JWT token. {} is not a supported signature algorithm. Supported signing algorithms are: 'RS256'.",
                header["alg"]
            ),
        ));
    }
    let thumbprint = header["x5t#S256"].as_str().unwrap_or("");
    let Some(cert) = certificates
        .iter()
        .find(|c| !thumbprint.is_empty() && c.x5t_s256 == thumbprint)
    else {
        return Err((
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}']"
            ),
        ));
    };
    let signature = b64(parts[2], "signature")?;
    let verified = Signature::try_from(signature.as_slice()).is_ok_and(|sig| {
        VerifyingKey::<Sha256>::new(cert.key.clone())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .is_ok()
    });
    if !verified {
        return Err((
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to verify the signature failed., Thumbprint of key used by client: '{thumbprint}']"
            ),
        ));
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => audiences.contains(a),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|x| audiences.iter().any(|y| y == x)),
        _ => false,
    };
    if !aud_ok {
        return Err((
            700021,
            "Client assertion audience claim does not match Realm issuer.".into(),
        ));
    }
    if claims["iss"] != client_id || claims["sub"] != client_id {
        return Err((
            700023,
            "Client assertion 'iss' and 'sub' must both be the client id.".into(),
        ));
    }
    let exp = claims["exp"]
        .as_i64()
        .ok_or((700024, "Client assertion has no 'exp' claim.".to_string()))?;
    if exp <= now_unix {
        return Err((
            700024,
            "Client assertion is not within its valid time range (expired).".into(),
        ));
    }
    if claims["nbf"]
        .as_i64()
        .is_some_and(|nbf| nbf > now_unix + 300)
    {
        return Err((
            700024,
            "Client assertion is not within its valid time range (not yet valid).".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use serde_json::json;

    const CERT: &str = include_str!("../../tests/it/auth_support/test_cert.pem");
    const KEY: &str = include_str!("../../tests/it/auth_support/test_key.pem");
    /// A second test-only key, registered nowhere.
    const OTHER_KEY: &str = include_str!("testdata/other_key.pem");
    const AUD: &str = "http://127.0.0.1:1/t/oauth2/v2.0/token";

    fn key(pem: &str) -> SigningKey<Sha256> {
        let k = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            })
            .unwrap();
        SigningKey::new(k)
    }

    fn signed(header: &Value, claims: &Value, pem: &str) -> String {
        let e = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", e(header), e(claims));
        let sig = key(pem).sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    fn setup() -> (Vec<Registered>, Value, Value) {
        let certs = super::super::certs::parse_all(&[CERT.to_string()]).unwrap();
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t#S256": certs[0].x5t_s256});
        let claims =
            json!({"aud": AUD, "iss": "app", "sub": "app", "exp": 2000, "nbf": 900, "jti": "1"});
        (certs, header, claims)
    }

    fn code(jwt: &str, certs: &[Registered]) -> Result<(), u32> {
        check(jwt, "app", &[AUD.to_string()], certs, 1000).map_err(|e| e.0)
    }

    #[test]
    fn a_signed_assertion_is_accepted_and_every_forgery_is_refused() {
        let (certs, h, c) = setup();
        let good = signed(&h, &c, KEY);
        assert_eq!(code(&good, &certs), Ok(()));

        // Tampered payload, original signature.
        let parts: Vec<&str> = good.split('.').collect();
        let mut c2 = c.clone();
        c2["sub"] = json!("app ");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(c2.to_string()),
            parts[2]
        );
        let e = check(&forged, "app", &[AUD.into()], &certs, 1000).unwrap_err();
        assert_eq!(e.0, 700027);
        assert!(e.1.contains("verify the signature failed"), "{}", e.1);
        // A signature that is not base64url at all.
        assert_eq!(
            code(&format!("{}.{}.***", parts[0], parts[1]), &certs),
            Err(50027)
        );

        // Signed by another key, naming the registered certificate.
        assert_eq!(code(&signed(&h, &c, OTHER_KEY), &certs), Err(700027));

        // A thumbprint nobody registered, or none at all, or only the SHA-1 x5t.
        let mut unknown = h.clone();
        unknown["x5t#S256"] = json!("bm90LWEtcmVnaXN0ZXJlZC1jZXJ0aWZpY2F0ZQ");
        let e = check(
            &signed(&unknown, &c, KEY),
            "app",
            &[AUD.into()],
            &certs,
            1000,
        )
        .unwrap_err();
        assert_eq!(e.0, 700027);
        assert!(e.1.contains("key was not found"), "{}", e.1);
        let sha1_only = json!({"alg": "RS256", "typ": "JWT", "x5t": "abc"});
        assert_eq!(code(&signed(&sha1_only, &c, KEY), &certs), Err(700027));
        // Nothing registered: no key can be found.
        assert_eq!(code(&good, &[]), Err(700027));

        // Any alg but RS256, even a correctly signed one.
        for alg in ["PS256", "HS256", "none", "RS512"] {
            let mut other = h.clone();
            other["alg"] = json!(alg);
            assert_eq!(
                code(&signed(&other, &c, KEY), &certs),
                Err(5002738),
                "{alg}"
            );
        }
    }

    #[test]
    fn audience_issuer_and_expiry_are_checked_after_the_signature() {
        let (certs, h, c) = setup();
        let with = |k: &str, v: Value| {
            let mut c = c.clone();
            c[k] = v;
            signed(&h, &c, KEY)
        };
        assert_eq!(code(&with("exp", json!(1000)), &certs), Err(700024));
        assert_eq!(code(&with("nbf", json!(1400)), &certs), Err(700024));
        assert_eq!(code(&with("iss", json!("other")), &certs), Err(700023));
        assert_eq!(
            code(&with("aud", json!("https://elsewhere/token")), &certs),
            Err(700021)
        );
        assert_eq!(code(&with("aud", json!(["x", AUD])), &certs), Ok(()));
        assert_eq!(code("not-a-jwt", &certs), Err(50027));
        assert_eq!(code("a.b.c", &certs), Err(50027));
    }
}

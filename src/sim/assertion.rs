//! Client-assertion checks for the certificate flavour of client credentials: JWT structure,
//! `alg`, `aud`, `iss`/`sub` = client id, `exp`/`nbf`, and (when thumbprints are registered) the
//! `x5t`/`x5t#S256` header. The RS256 signature itself is NOT verified: no stable pure-Rust RSA
//! crate was available here (only `rsa 0.10.0-rc`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Why an assertion was refused: (AADSTS code, description). Never contains the assertion.
pub type Refusal = (u32, String);

pub fn check(
    assertion: &str,
    client_id: &str,
    audiences: &[String],
    thumbprints: &[String],
    now_unix: i64,
) -> Result<(), Refusal> {
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err((
            50027,
            "JWT token is invalid or malformed: expected three dot-separated parts.".into(),
        ));
    }
    let decode = |p: &str, what: &str| -> Result<Value, Refusal> {
        let bytes = URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .map_err(|_| (50027, format!("JWT {what} is not base64url.")))?;
        serde_json::from_slice(&bytes).map_err(|_| (50027, format!("JWT {what} is not JSON.")))
    };
    let header = decode(parts[0], "header")?;
    let claims = decode(parts[1], "payload")?;
    if header["alg"] != "RS256" && header["alg"] != "PS256" {
        return Err((
            5002738,
            format!("Unsupported client assertion algorithm {}.", header["alg"]),
        ));
    }
    if !thumbprints.is_empty() {
        let x5t = header["x5t"]
            .as_str()
            .or(header["x5t#S256"].as_str())
            .unwrap_or("");
        if !thumbprints.iter().any(|t| t == x5t) {
            return Err((
                700027,
                "Client assertion contains an invalid signature: the key was not found.".into(),
            ));
        }
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
    use serde_json::json;

    fn jwt(header: Value, claims: Value) -> String {
        let e = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2lnbmF0dXJl", e(&header), e(&claims))
    }

    #[test]
    fn structure_audience_issuer_and_expiry_are_checked() {
        let aud = vec!["http://127.0.0.1:1/t/oauth2/v2.0/token".to_string()];
        let good =
            json!({"aud": aud[0], "iss": "app", "sub": "app", "exp": 2000, "nbf": 900, "jti": "1"});
        let h = json!({"alg": "RS256", "typ": "JWT", "x5t": "THUMB"});
        assert_eq!(
            check(&jwt(h.clone(), good.clone()), "app", &aud, &[], 1000),
            Ok(())
        );
        assert_eq!(
            check(
                &jwt(h.clone(), good.clone()),
                "app",
                &aud,
                &["THUMB".into()],
                1000
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &jwt(h.clone(), good.clone()),
                "app",
                &aud,
                &["OTHER".into()],
                1000
            )
            .unwrap_err()
            .0,
            700027
        );
        assert_eq!(
            check(&jwt(h.clone(), good.clone()), "app", &aud, &[], 2000)
                .unwrap_err()
                .0,
            700024
        );
        assert_eq!(
            check(&jwt(h.clone(), good.clone()), "other", &aud, &[], 1000)
                .unwrap_err()
                .0,
            700023
        );
        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = json!("https://elsewhere/token");
        assert_eq!(
            check(&jwt(h.clone(), wrong_aud), "app", &aud, &[], 1000)
                .unwrap_err()
                .0,
            700021
        );
        assert_eq!(
            check(&jwt(json!({"alg": "none"}), good), "app", &aud, &[], 1000)
                .unwrap_err()
                .0,
            5002738
        );
        assert_eq!(
            check("not-a-jwt", "app", &aud, &[], 1000).unwrap_err().0,
            50027
        );
        assert_eq!(check("a.b.c", "app", &aud, &[], 1000).unwrap_err().0, 50027);
    }
}

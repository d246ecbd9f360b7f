//! Claims challenges (Continuous Access Evaluation, Conditional Access): Graph answers 401 with
//! `WWW-Authenticate: Bearer … error="insufficient_claims", claims="<base64 JSON>"`, or the token
//! endpoint answers `interaction_required` with a `claims` value. Either way the next token request
//! carries that JSON as the `claims` parameter. A client that declares the `cp1` capability
//! (`{"access_token":{"xms_cc":{"values":["cp1"]}}}`) merges it into every `claims` it sends.
//! (entra-docs `claims-challenge.md`, `app-resilience-continuous-access-evaluation.md`.)

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The environment variable naming client capabilities to declare (`cp1`), comma separated.
pub const CAPABILITIES_ENV: &str = "STAGEHAND_CLIENT_CAPABILITIES";

/// The decoded `claims` JSON of an `insufficient_claims` challenge in a `WWW-Authenticate` value,
/// or `None` when the value is no claims challenge (an ordinary 401) or its claims do not decode.
pub fn from_www_authenticate(header: &str) -> Option<String> {
    let params = auth_params(header);
    let error = params.iter().find(|(k, _)| k == "error")?;
    if error.1 != "insufficient_claims" {
        return None;
    }
    let raw = &params.iter().find(|(k, _)| k == "claims")?.1;
    decode_claims(raw)
}

/// Base64 (standard or URL-safe, padded or not) to a JSON object string. Entra sometimes sends the
/// JSON itself; that is accepted too.
pub fn decode_claims(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        return as_object(raw.as_bytes());
    }
    let unpadded = raw.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(unpadded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(unpadded))
        .ok()?;
    as_object(&bytes)
}

fn as_object(bytes: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    v.is_object().then(|| v.to_string())
}

/// The `claims` parameter to send: the challenge (if any) with the client capabilities merged into
/// `access_token.xms_cc`. `None` when there is nothing to send.
pub fn request_param(challenge: Option<&str>, capabilities: &[String]) -> Option<String> {
    let mut root: Map<String, Value> = challenge
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    if !capabilities.is_empty() {
        let at = root
            .entry("access_token")
            .or_insert_with(|| json!({}))
            .as_object_mut()?;
        at.insert("xms_cc".into(), json!({ "values": capabilities }));
    }
    (!root.is_empty()).then(|| Value::Object(root).to_string())
}

/// Capabilities from a comma-separated list (`cp1`), blanks dropped.
pub fn parse_capabilities(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// `key="value"` / `key=value` pairs of one or more challenges (scheme names are skipped; commas
/// inside quotes are kept).
fn auth_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = header.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        if chars.peek() != Some(&'=') {
            // A scheme name ("Bearer") or a token68: skip it.
            if key.is_empty() {
                chars.next();
            }
            continue;
        }
        chars.next();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.to_ascii_lowercase(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from entra-docs claims-challenge.md.
    const HEADER: &str = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTYwNDEwNjY1MSJ9fX0=""#;

    #[test]
    fn the_documented_challenge_decodes() {
        let c = from_www_authenticate(HEADER).unwrap();
        let v: Value = serde_json::from_str(&c).unwrap();
        assert_eq!(v["access_token"]["nbf"]["value"], "1604106651");
        assert_eq!(v["access_token"]["nbf"]["essential"], true);
    }

    #[test]
    fn ordinary_401s_and_broken_claims_are_not_challenges() {
        assert_eq!(
            from_www_authenticate(r#"Bearer realm="", error="invalid_token""#),
            None
        );
        assert_eq!(from_www_authenticate("Bearer"), None);
        assert_eq!(
            from_www_authenticate(r#"Bearer error="insufficient_claims", claims="!!notbase64""#),
            None
        );
        // Parameters are unordered and may follow another challenge.
        let reordered = r#"Basic realm="x", Bearer claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ", error="insufficient_claims""#;
        assert_eq!(
            from_www_authenticate(reordered).as_deref(),
            Some(r#"{"access_token":{}}"#)
        );
    }

    #[test]
    fn capabilities_merge_into_the_challenge() {
        let caps = parse_capabilities(" cp1, ,");
        assert_eq!(caps, vec!["cp1".to_string()]);
        assert_eq!(
            request_param(None, &caps).as_deref(),
            Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#)
        );
        let merged: Value = serde_json::from_str(
            &request_param(
                Some(r#"{"access_token":{"nbf":{"essential":true}}}"#),
                &caps,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(merged["access_token"]["nbf"]["essential"], true);
        assert_eq!(merged["access_token"]["xms_cc"]["values"][0], "cp1");
        assert_eq!(request_param(None, &[]), None);
        assert_eq!(
            request_param(Some(r#"{"id_token":{}}"#), &[]).as_deref(),
            Some(r#"{"id_token":{}}"#)
        );
    }
}

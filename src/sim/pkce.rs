//! Authorization code with PKCE S256: `authorize` auto-approves as the ops lead and 302s to the
//! loopback `redirect_uri`; the token call checks the redirect URI and the code verifier.

use std::collections::HashMap;

use super::auth::{AuthCode, error, parse_scopes, random, user_tokens};
use super::server::{Incoming, Reply, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub fn authorize(st: &mut State, inc: &Incoming, q: &HashMap<String, String>) -> Reply {
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let loopback = url::Url::parse(&redirect).ok().is_some_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    });
    if !loopback {
        return error(
            400,
            "invalid_request",
            50011,
            &format!(
                "The redirect URI '{redirect}' does not match the redirect URIs configured for the application (loopback only)."
            ),
            inc,
        );
    }
    if q.get("response_type").map(String::as_str) != Some("code")
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
        || q.get("code_challenge").is_none_or(|c| c.len() < 43)
    {
        return error(
            400,
            "invalid_request",
            900144,
            "response_type=code, code_challenge and code_challenge_method=S256 are required.",
            inc,
        );
    }
    let (scopes, offline, _) = match parse_scopes(q.get("scope").map(String::as_str).unwrap_or(""))
    {
        Ok(s) => s,
        Err(m) => return error(400, "invalid_scope", 70011, &m, inc),
    };
    let code = random("sim-ac");
    let user = st.dir.lead().id.clone();
    st.tokens.auth_codes.insert(
        code.clone(),
        AuthCode {
            challenge: q["code_challenge"].clone(),
            redirect_uri: redirect.clone(),
            scopes,
            offline,
            user,
        },
    );
    let mut to = url::Url::parse(&redirect).expect("checked above");
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", q.get("state").map(String::as_str).unwrap_or(""));
    Reply::empty(302).header("Location", to.to_string())
}

pub fn redeem(st: &mut State, inc: &Incoming, form: &HashMap<String, String>) -> Reply {
    let code = form.get("code").map(String::as_str).unwrap_or("");
    let Some(ac) = st.tokens.auth_codes.remove(code) else {
        return error(
            400,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed or is invalid.",
            inc,
        );
    };
    if form.get("redirect_uri") != Some(&ac.redirect_uri) {
        return error(
            400,
            "invalid_grant",
            50148,
            "The redirect_uri does not match the one used in the authorization request.",
            inc,
        );
    }
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != ac.challenge {
        return error(
            400,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            inc,
        );
    }
    user_tokens(st, &ac.user, ac.scopes, ac.offline, true)
}

//! The device-code grant: `devicecode` issues a code; polls answer authorization_pending,
//! slow_down (polled inside `interval`), authorization_declined, expired_token,
//! bad_verification_code, or tokens once approved (by the handle, or automatically).

use std::collections::HashMap;
use std::time::Instant;

use serde_json::json;

use super::auth::{DeviceCode, error, parse_scopes, random, user_tokens};
use super::server::{Incoming, Reply, State};

pub fn start(st: &mut State, inc: &Incoming, form: &HashMap<String, String>) -> Reply {
    let (scopes, offline, _) =
        match parse_scopes(form.get("scope").map(String::as_str).unwrap_or("")) {
            Ok(s) => s,
            Err(m) => return error(400, "invalid_scope", 70011, &m, inc),
        };
    let user_code = st.fleet.rng.code(9);
    let code = random("sim-dc");
    let ttl = st.opts.device_code_ttl;
    st.tokens.device_codes.insert(
        code.clone(),
        DeviceCode {
            user_code: user_code.clone(),
            scopes,
            offline,
            expires: Instant::now() + ttl,
            approved_by: None,
            declined: false,
            last_poll: None,
        },
    );
    // Served by `verify`: approve the code there with one click or one `curl -d code=…`.
    let uri = format!("{}{}", st.base, super::verify::PATH.trim_start_matches('/'));
    Reply::json(
        200,
        json!({
            "user_code": user_code,
            "device_code": code,
            "verification_uri": uri,
            "expires_in": ttl.as_secs(),
            "interval": st.opts.device_code_interval.as_secs().max(1),
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }),
    )
}

pub fn poll(st: &mut State, inc: &Incoming, code: &str) -> Reply {
    let now = Instant::now();
    let interval = st.opts.device_code_interval;
    let lead = st.dir.lead().id.clone();
    let auto = st.opts.auto_approve_device_code;
    let Some(dc) = st.tokens.device_codes.get_mut(code) else {
        return error(
            400,
            "bad_verification_code",
            70000,
            "The provided device code is not valid.",
            inc,
        );
    };
    if now >= dc.expires {
        st.tokens.device_codes.remove(code);
        return error(
            400,
            "expired_token",
            70020,
            "The provided device code has expired.",
            inc,
        );
    }
    if dc.declined {
        return error(
            400,
            "authorization_declined",
            70000,
            "The user declined the sign-in request.",
            inc,
        );
    }
    let too_fast = dc
        .last_poll
        .is_some_and(|t| now.duration_since(t) < interval);
    dc.last_poll = Some(now);
    if too_fast {
        return error(400, "slow_down", 70016, "Polling too fast: slow down.", inc);
    }
    if auto && dc.approved_by.is_none() {
        dc.approved_by = Some(lead);
    }
    let Some(user) = dc.approved_by.clone() else {
        return error(
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            inc,
        );
    };
    let (scopes, offline) = (dc.scopes.clone(), dc.offline);
    st.tokens.device_codes.remove(code);
    user_tokens(st, &user, scopes, offline, true)
}

//! `POST /{tenant}/oauth2/v2.0/token`: one arm per grant type.

use std::collections::HashMap;

use serde_json::json;

use super::auth::{self, Subject, basic_auth};
use super::server::{Incoming, Reply, State};

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub fn token(st: &mut State, inc: &Incoming, form: &HashMap<String, String>) -> Reply {
    let get = |k: &str| form.get(k).map(String::as_str);
    match get("grant_type").unwrap_or("") {
        DEVICE_CODE => super::device_code::poll(st, inc, get("device_code").unwrap_or("")),
        "refresh_token" => {
            auth::redeem_refresh(st, inc, get("refresh_token").unwrap_or(""), get("scope"))
        }
        "authorization_code" => super::pkce::redeem(st, inc, form),
        "client_credentials" => client_credentials(st, inc, form),
        "" => auth::error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
            inc,
        ),
        other => auth::error(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
            inc,
        ),
    }
}

fn client_credentials(st: &mut State, inc: &Incoming, form: &HashMap<String, String>) -> Reply {
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    if scope != "https://graph.microsoft.com/.default" {
        return auth::error(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier."
            ),
            inc,
        );
    }
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic_auth(inc).map(|(_, s)| s));
    match (secret, form.get("client_assertion")) {
        (Some(s), _) => {
            if s != st.opts.client_secret.expose() {
                return auth::error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                    inc,
                );
            }
        }
        (None, Some(a)) => {
            if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
                return auth::error(
                    400,
                    "invalid_request",
                    900144,
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
                    inc,
                );
            }
            let audiences = vec![
                format!("{}{}/oauth2/v2.0/token", st.base, st.tenant_id),
                format!(
                    "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                    st.tenant_id
                ),
            ];
            let now = chrono::Utc::now().timestamp();
            if let Err((code, msg)) =
                super::assertion::check(a, &st.client_id, &audiences, &st.certificates, now)
            {
                return auth::error(401, "invalid_client", code, &msg, inc);
            }
        }
        (None, None) => {
            return auth::error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                inc,
            );
        }
    }
    let ttl = st.faults.token_ttl;
    let roles = st.opts.tenant.app_roles.clone();
    let access = st
        .tokens
        .issue_access(Subject::App(st.client_id.clone()), roles, ttl);
    Reply::json(
        200,
        json!({"token_type": "Bearer", "expires_in": ttl.as_secs(), "ext_expires_in": ttl.as_secs(), "access_token": access}),
    )
}

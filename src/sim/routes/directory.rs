//! Directory reads: `users/{id|upn}`, `users/{id}/licenseDetails`, `me`, `me/transitiveMemberOf`,
//! and Intune's `getAssignedRoleDetails` (the signed-in user's RBAC roles; users only).

use serde_json::{Value, json};

use super::{context, error, select};
use crate::sim::auth::{Subject, Token};
use crate::sim::directory::{DEFAULT_USER_PROPS, DirectoryUser, INTUNE_ADMIN_ROLE_TEMPLATE};
use crate::sim::odata::apply_select;
use crate::sim::server::{Incoming, Reply, State};

const USER_PROPS: &[&str] = &[
    "id",
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "accountEnabled",
    "usageLocation",
    "assignedPlans",
    "assignedLicenses",
];

/// `o'neil%40x`, `('o''neil@x')` → `o'neil@x`.
fn decode_key(raw: &str) -> String {
    let s = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .to_string();
    match s.strip_prefix("('").and_then(|x| x.strip_suffix("')")) {
        Some(inner) => inner.replace("''", "'"),
        None => s,
    }
}

fn render(inc: &Incoming, u: &DirectoryUser) -> Result<Value, Reply> {
    let full = u.to_json();
    if inc.query.contains_key("$select") {
        return select(inc, vec![full], USER_PROPS, "user").map(|mut v| v.remove(0));
    }
    let defaults: Vec<String> = DEFAULT_USER_PROPS.iter().map(|s| s.to_string()).collect();
    Ok(Value::Object(apply_select(
        full.as_object().cloned().unwrap_or_default(),
        &defaults,
    )))
}

fn missing(inc: &Incoming, key: &str) -> Reply {
    error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
        inc,
    )
}

pub fn user(st: &mut State, inc: &Incoming, raw: &str) -> Reply {
    let key = decode_key(raw);
    let Some(u) = st.dir.find(&key) else {
        return missing(inc, &key);
    };
    match render(inc, u) {
        Ok(mut v) => {
            v["@odata.context"] = json!(context(st, inc, "users/$entity"));
            Reply::json(200, v)
        }
        Err(r) => r,
    }
}

pub fn licenses(st: &mut State, inc: &Incoming, raw: &str) -> Reply {
    let key = decode_key(raw);
    let Some(u) = st.dir.find(&key) else {
        return missing(inc, &key);
    };
    let ctx = context(st, inc, &format!("users('{}')/licenseDetails", u.id));
    Reply::json(
        200,
        json!({"@odata.context": ctx, "value": u.license_details()}),
    )
}

fn signed_in<'a>(st: &'a State, token: &Token) -> Option<&'a DirectoryUser> {
    match &token.subject {
        Subject::User(id) => st.dir.find(id),
        Subject::App(_) => None,
    }
}

pub fn me(st: &mut State, inc: &Incoming, token: &Token) -> Reply {
    let Some(u) = signed_in(st, token) else {
        return missing(inc, "me");
    };
    match render(inc, u) {
        Ok(mut v) => {
            v["@odata.context"] = json!(context(st, inc, "users/$entity"));
            Reply::json(200, v)
        }
        Err(r) => r,
    }
}

pub fn member_of(st: &mut State, inc: &Incoming, token: &Token) -> Reply {
    let Some(u) = signed_in(st, token) else {
        return missing(inc, "me");
    };
    let mut value = vec![
        json!({"@odata.type": "#microsoft.graph.group", "id": "5f3b2c1a-0000-4000-8000-00000000a11a", "displayName": "All Staff", "securityEnabled": true, "mailEnabled": false}),
    ];
    if u.id == st.dir.lead().id {
        value.push(json!({"@odata.type": "#microsoft.graph.directoryRole", "id": "8d1e4b59-0000-4000-8000-0000000000ad", "displayName": "Intune Administrator", "roleTemplateId": INTUNE_ADMIN_ROLE_TEMPLATE}));
    }
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "directoryObjects"), "value": value}),
    )
}

/// Whether Intune lets `token` retire or wipe: an app holding the application permission (the
/// scope check before the handler), or a user with Intune Administrator or an Intune RBAC role
/// (only the lead has either here). The delegated scope alone is not enough, as in Intune.
pub fn may_retire_or_wipe(st: &State, token: &Token) -> bool {
    match &token.subject {
        Subject::App(_) => true,
        Subject::User(_) => signed_in(st, token).is_some_and(|u| u.id == st.dir.lead().id),
    }
}

pub fn role_details(st: &mut State, inc: &Incoming, token: &Token) -> Reply {
    let is_lead = signed_in(st, token).is_some_and(|u| u.id == st.dir.lead().id);
    let (defs, assigns): (Vec<&str>, Vec<&str>) = if is_lead {
        (
            vec!["0bd113fe-6be5-400c-a28f-ae5553f9c0be"],
            vec!["a3f1c2d4-0000-4000-8000-0000000000aa"],
        )
    } else {
        (vec![], vec![])
    };
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "microsoft.graph.deviceAndAppManagementAssignedRoleDetails"), "roleDefinitionIds": defs, "roleAssignmentIds": assigns}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_from_paths() {
        assert_eq!(
            decode_key("o'neil.staging%40contoso.example"),
            "o'neil.staging@contoso.example"
        );
        assert_eq!(decode_key("('o''neil@x')"), "o'neil@x");
        assert_eq!(decode_key("abc"), "abc");
    }
}

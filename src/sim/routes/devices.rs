//! `deviceManagement/managedDevices`: list (Intune's `$filter` dialect, `$select`, paging), single
//! GET, primary user read and change (`users/$ref`), and the remote actions.

use chrono::Duration as Span;
use serde_json::{Value, json};

use super::{body_json, context, error, filter, page, select};
use crate::sim::directory::DEFAULT_USER_PROPS;
use crate::sim::fleet::iso;
use crate::sim::odata::{Dialect, apply_select};
use crate::sim::server::{Incoming, Reply, State};

/// What Intune honours in `$filter`; everything else is silently ignored (docs/graph.md §2.4).
const DIALECT: Dialect = Dialect {
    supported: &[
        "enrolledDateTime",
        "lastSyncDateTime",
        "serialNumber",
        "userPrincipalName",
        "deviceName",
        "operatingSystem",
        "managementAgent",
        "complianceState",
        "azureADDeviceId",
        "managementState",
    ],
    intune_quirks: true,
};

/// The property names of a managed device, as `Device::to_json` writes them.
pub const DEVICE_PROPS: &[&str] = &[
    "id",
    "deviceName",
    "serialNumber",
    "userPrincipalName",
    "userId",
    "userDisplayName",
    "emailAddress",
    "enrolledDateTime",
    "lastSyncDateTime",
    "complianceState",
    "managementState",
    "deviceEnrollmentType",
    "enrolledByUserPrincipalName",
    "usersLoggedOn",
    "azureADDeviceId",
    "joinType",
    "autopilotEnrolled",
    "operatingSystem",
    "osVersion",
    "model",
    "manufacturer",
    "managedDeviceOwnerType",
    "enrollmentProfileName",
    "deviceRegistrationState",
    "managementAgent",
    "deviceActionResults",
];

pub fn list(st: &mut State, inc: &Incoming) -> Reply {
    let now = st.clock.now();
    let items: Vec<Value> = st
        .fleet
        .enrolled(now)
        .map(|d| d.to_json(now, &st.dir, true))
        .collect();
    let items = match filter(inc, items, &DIALECT)
        .and_then(|i| select(inc, i, DEVICE_PROPS, "managedDevice"))
    {
        Ok(i) => i,
        Err(r) => return r,
    };
    page(
        st,
        inc,
        items,
        &context(st, inc, "deviceManagement/managedDevices"),
    )
}

fn not_found(inc: &Incoming, id: &str) -> Reply {
    error(
        404,
        "ResourceNotFound",
        &format!("managedDevice '{id}' was not found."),
        inc,
    )
}

pub fn get(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let now = st.clock.now();
    let Some(d) = st.fleet.device(id, now) else {
        return not_found(inc, id);
    };
    let mut v = match select(
        inc,
        vec![d.to_json(now, &st.dir, false)],
        DEVICE_PROPS,
        "managedDevice",
    ) {
        Ok(mut v) => v.remove(0),
        Err(r) => return r,
    };
    v["@odata.context"] = json!(context(st, inc, "deviceManagement/managedDevices/$entity"));
    Reply::json(200, v)
}

pub fn users(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let now = st.clock.now();
    let Some(d) = st.fleet.device(id, now) else {
        return not_found(inc, id);
    };
    let value: Vec<Value> = d
        .primary_at(now, &st.dir)
        .and_then(|u| st.dir.find(&u))
        .map(|u| {
            let full = u.to_json().as_object().cloned().unwrap_or_default();
            Value::Object(apply_select(
                full,
                &DEFAULT_USER_PROPS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            ))
        })
        .into_iter()
        .collect();
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "users"), "value": value}),
    )
}

pub fn set_primary(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let body = match body_json(inc) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(target) = body["@odata.id"].as_str() else {
        return error(400, "BadRequest", "Body must contain '@odata.id'.", inc);
    };
    let Some((_, user_id)) = target.trim_end_matches('/').rsplit_once("/users/") else {
        return error(
            400,
            "BadRequest",
            "'@odata.id' must reference /users/{id}.",
            inc,
        );
    };
    if uuid::Uuid::parse_str(user_id).is_err() || user_id.len() != 36 {
        return error(
            400,
            "BadRequest",
            "User id must be in the form of Guid",
            inc,
        );
    }
    let now = st.clock.now();
    if st.fleet.device(id, now).is_none() {
        return not_found(inc, id);
    }
    let refusal = match st.dir.find(user_id) {
        None => Some(format!(
            "User {user_id} does not have intune license or is deleted"
        )),
        Some(u) if !u.enabled => Some(format!(
            "User {user_id} is disabled and cannot be the primary user"
        )),
        Some(u) if !u.licensed => Some(format!(
            "User {user_id} does not have intune license or is deleted"
        )),
        Some(_) => None,
    };
    if let Some(m) = refusal {
        return error(400, "BadRequest", &m, inc);
    }
    let delay =
        Span::from_std(st.opts.primary_user_propagation).unwrap_or_else(|_| Span::minutes(3));
    let uid = st
        .dir
        .find(user_id)
        .map(|u| u.id.clone())
        .unwrap_or_default();
    if let Some(d) = st.fleet.device_mut(id, now) {
        d.primary_changes.push((now + delay, uid));
    }
    Reply::empty(204)
}

pub fn action(st: &mut State, inc: &Incoming, id: &str, action: &str) -> Reply {
    let now = st.clock.now();
    let Some(d) = st.fleet.device_mut(id, now) else {
        return not_found(inc, id);
    };
    match action {
        // The device checks in at once.
        "syncDevice" => d.syncs.push(now),
        "retire" => d.management_state = "retirePending".into(),
        "wipe" => d.management_state = "wipePending".into(),
        _ => {}
    }
    d.action_results.push(json!({"actionName": action, "actionState": "pending", "startDateTime": iso(now), "lastUpdatedDateTime": iso(now)}));
    Reply::empty(204)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_props_match_what_the_fleet_writes() {
        let dir = crate::sim::directory::Directory::generate(
            &mut crate::sim::rng::Rng::new(1),
            &["s@x".into()],
            false,
        );
        let mut f =
            crate::sim::fleet::Fleet::new(crate::sim::rng::Rng::new(1), 0.0, vec!["s@x".into()]);
        let now = chrono::Utc::now();
        f.seed(8, now, &dir);
        let v = f.devices[4].to_json(now, &dir, false);
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut props = DEVICE_PROPS.to_vec();
        keys.sort_unstable();
        props.sort_unstable();
        assert_eq!(keys, props);
    }
}

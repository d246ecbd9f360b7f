//! `importedWindowsAutopilotDeviceIdentities` (import, list, get, delete),
//! `windowsAutopilotDeviceIdentities` (list with `contains(serialNumber,…)`, get, delete,
//! `updateDeviceProperties`) and `windowsAutopilotSettings` (get, `sync`).

use serde_json::{Value, json};

use super::{body_json, context, error, filter, page};
use crate::sim::odata::Dialect;
use crate::sim::server::{Incoming, Reply, State};

const DEVICE_DIALECT: Dialect = Dialect {
    supported: &["serialNumber", "groupTag", "enrollmentState"],
    intune_quirks: true,
};

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn import(st: &mut State, inc: &Incoming) -> Reply {
    let body = match body_json(inc) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(items) = body["importedWindowsAutopilotDeviceIdentities"].as_array() else {
        return error(
            400,
            "BadRequest",
            "Body must contain 'importedWindowsAutopilotDeviceIdentities' (an array).",
            inc,
        );
    };
    let now = st.clock.now();
    let before = st.autopilot.devices.len();
    match st.autopilot.import(items, now, new_id) {
        Ok(out) => {
            if let Some(after) = st.autopilot.timing.enroll_after_profile {
                let new: Vec<_> = st.autopilot.devices[before..].to_vec();
                for d in new {
                    st.fleet.add_enrolling(
                        &d.serial,
                        &d.manufacturer,
                        &d.model,
                        d.profile_at + after,
                        &st.dir,
                    );
                }
            }
            Reply::json(
                200,
                json!({"@odata.context": context(st, inc, "Collection(microsoft.graph.importedWindowsAutopilotDeviceIdentity)"), "value": out}),
            )
        }
        Err(bad) => error(400, "BadRequest", &bad.0, inc),
    }
}

pub fn list_imports(st: &mut State, inc: &Incoming) -> Reply {
    let now = st.clock.now();
    let items: Vec<Value> = st
        .autopilot
        .imports
        .iter()
        .map(|r| st.autopilot.import_json(r, now))
        .collect();
    page(
        st,
        inc,
        items,
        &context(
            st,
            inc,
            "deviceManagement/importedWindowsAutopilotDeviceIdentities",
        ),
    )
}

fn not_found(inc: &Incoming, what: &str, id: &str) -> Reply {
    error(
        404,
        "ResourceNotFound",
        &format!("{what} '{id}' was not found."),
        inc,
    )
}

pub fn get_import(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let now = st.clock.now();
    match st.autopilot.imports.iter().find(|r| r.id == id) {
        Some(r) => Reply::json(200, st.autopilot.import_json(r, now)),
        None => not_found(inc, "importedWindowsAutopilotDeviceIdentity", id),
    }
}

pub fn delete_import(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let before = st.autopilot.imports.len();
    st.autopilot.imports.retain(|r| r.id != id);
    if st.autopilot.imports.len() < before {
        Reply::empty(204)
    } else {
        not_found(inc, "importedWindowsAutopilotDeviceIdentity", id)
    }
}

pub fn list_devices(st: &mut State, inc: &Incoming) -> Reply {
    // `serialNumber eq` is answered 400 by the service (microsoft-graph-docs #12174); `contains`
    // is the supported form.
    if let Some(f) = inc.query.get("$filter")
        && f.to_ascii_lowercase().contains("serialnumber eq")
    {
        return error(
            400,
            "BadRequest",
            "The filter is not supported on serialNumber with 'eq'; use contains(serialNumber,'…').",
            inc,
        );
    }
    let now = st.clock.now();
    let items: Vec<Value> = st
        .autopilot
        .visible(now)
        .map(|d| st.autopilot.device_json(d, now))
        .collect();
    match filter(inc, items, &DEVICE_DIALECT) {
        Ok(items) => page(
            st,
            inc,
            items,
            &context(st, inc, "deviceManagement/windowsAutopilotDeviceIdentities"),
        ),
        Err(r) => r,
    }
}

pub fn get_device(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let now = st.clock.now();
    match st.autopilot.visible(now).find(|d| d.id == id) {
        Some(d) => Reply::json(200, st.autopilot.device_json(d, now)),
        None => not_found(inc, "windowsAutopilotDeviceIdentity", id),
    }
}

pub fn delete_device(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let now = st.clock.now();
    let before = st.autopilot.devices.len();
    st.autopilot
        .devices
        .retain(|d| !(d.id == id && now >= d.visible_at));
    if st.autopilot.devices.len() < before {
        Reply::empty(204)
    } else {
        not_found(inc, "windowsAutopilotDeviceIdentity", id)
    }
}

pub fn update_device(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let body = match body_json(inc) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = st.clock.now();
    let Some(d) = st
        .autopilot
        .devices
        .iter_mut()
        .find(|d| d.id == id && now >= d.visible_at)
    else {
        return not_found(inc, "windowsAutopilotDeviceIdentity", id);
    };
    if let Some(t) = body["groupTag"].as_str() {
        d.group_tag = t.to_string();
    }
    if let Some(u) = body["userPrincipalName"].as_str() {
        d.user = u.to_string();
    }
    Reply::empty(204)
}

pub fn settings(st: &mut State, _inc: &Incoming) -> Reply {
    let now = st.clock.now();
    Reply::json(200, st.autopilot.settings_json(now))
}

pub fn sync(st: &mut State, inc: &Incoming) -> Reply {
    let now = st.clock.now();
    match st.autopilot.sync(now) {
        204 => Reply::empty(204),
        409 => error(
            409,
            "Conflict",
            "A sync with the Windows Autopilot service is already in progress.",
            inc,
        ),
        _ => error(
            429,
            "TooManyRequests",
            "The last sync was less than 10 minutes ago; try again later.",
            inc,
        ),
    }
}

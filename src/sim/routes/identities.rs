//! `deviceManagement/importedDeviceIdentities`: list (with `contains(importedDeviceIdentifier,…)`),
//! `importDeviceIdentityList`, `searchExistingIdentities`, delete.

use serde_json::{Value, json};

use super::{body_json, context, error, filter, page};
use crate::sim::fleet::Fleet;
use crate::sim::odata::Dialect;
use crate::sim::server::{Incoming, Reply, State};

const DIALECT: Dialect = Dialect {
    supported: &[
        "importedDeviceIdentifier",
        "enrollmentState",
        "importedDeviceIdentityType",
    ],
    intune_quirks: true,
};

pub fn list(st: &mut State, inc: &Incoming) -> Reply {
    let now = st.clock.now();
    let times = st.fleet.enroll_times();
    let items: Vec<Value> = st
        .fleet
        .identities
        .iter()
        .map(|i| Fleet::identity_json_in(i, &times, now))
        .collect();
    match filter(inc, items, &DIALECT) {
        Ok(items) => page(
            st,
            inc,
            items,
            &context(st, inc, "deviceManagement/importedDeviceIdentities"),
        ),
        Err(r) => r,
    }
}

fn entries(inc: &Incoming) -> Result<(Vec<Value>, bool), Reply> {
    let body = body_json(inc)?;
    let list = body["importedDeviceIdentities"]
        .as_array()
        .cloned()
        .ok_or_else(|| {
            error(
                400,
                "BadRequest",
                "Body must contain 'importedDeviceIdentities' (an array).",
                inc,
            )
        })?;
    Ok((
        list,
        body["overwriteImportedDeviceIdentities"]
            .as_bool()
            .unwrap_or(false),
    ))
}

/// Windows `manufacturerModelSerial` must be `Manufacturer,Model,Serial` (docs/graph.md §1.3).
fn well_formed(identifier: &str, kind: &str) -> bool {
    match kind {
        "manufacturerModelSerial" => {
            let parts: Vec<&str> = identifier.split(',').collect();
            parts.len() == 3 && parts.iter().all(|p| !p.trim().is_empty())
        }
        "serialNumber" | "imei" => !identifier.trim().is_empty() && !identifier.contains(','),
        _ => false,
    }
}

/// `microsoft.graph.platform` members, spelled as the metadata does (case-sensitive: `visionOS`,
/// `tvOS`), plus the docs' `tvos` (docs/graph.md §1.1).
const PLATFORMS: &[&str] = &[
    "unknown",
    "ios",
    "android",
    "windows",
    "windowsMobile",
    "macOS",
    "visionOS",
    "tvOS",
    "tvos",
    "unknownFutureValue",
];

/// Graph's OData answer to an enum literal that is not a member.
fn bad_platform(list: &[Value], inc: &Incoming) -> Option<Reply> {
    list.iter().find_map(|item| {
        let p = item.get("platform")?.as_str()?;
        (!PLATFORMS.contains(&p)).then(|| {
            error(
                400,
                "BadRequest",
                &format!(
                    "Cannot convert the literal '{p}' to the expected type 'microsoft.graph.platform'."
                ),
                inc,
            )
        })
    })
}

pub fn import(st: &mut State, inc: &Incoming) -> Reply {
    let (list, overwrite) = match entries(inc) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(r) = bad_platform(&list, inc) {
        return r;
    }
    let now = st.clock.now();
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let Some(identifier) = item["importedDeviceIdentifier"].as_str() else {
            return error(
                400,
                "BadRequest",
                &format!("importedDeviceIdentities[{i}]: 'importedDeviceIdentifier' is required."),
                inc,
            );
        };
        let kind = item["importedDeviceIdentityType"]
            .as_str()
            .unwrap_or("unknown");
        let description = item["description"].as_str().unwrap_or("");
        let existing = st
            .fleet
            .identities
            .iter()
            .position(|x| x.identifier.eq_ignore_ascii_case(identifier));
        let (mut v, status) = match existing {
            _ if !well_formed(identifier, kind) => (item.clone(), false),
            Some(pos) if overwrite => {
                st.fleet.identities[pos].description = description.to_string();
                (
                    st.fleet
                        .identity_json(&st.fleet.identities[pos].clone(), now),
                    true,
                )
            }
            Some(pos) => (
                st.fleet
                    .identity_json(&st.fleet.identities[pos].clone(), now),
                false,
            ),
            None => {
                let ident = st
                    .fleet
                    .add_identity(identifier, kind, description, now, &st.dir);
                (st.fleet.identity_json(&ident, now), true)
            }
        };
        v["@odata.type"] = json!("#microsoft.graph.importedDeviceIdentityResult");
        v["status"] = json!(status);
        out.push(v);
    }
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "Collection(microsoft.graph.importedDeviceIdentityResult)"), "value": out}),
    )
}

pub fn search(st: &mut State, inc: &Incoming) -> Reply {
    let (list, _) = match entries(inc) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = st.clock.now();
    let wanted: Vec<String> = list
        .iter()
        .filter_map(|i| {
            i["importedDeviceIdentifier"]
                .as_str()
                .map(str::to_lowercase)
        })
        .collect();
    let out: Vec<Value> = st
        .fleet
        .identities
        .iter()
        .filter(|i| wanted.contains(&i.identifier.to_lowercase()))
        .map(|i| st.fleet.identity_json(i, now))
        .collect();
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "Collection(microsoft.graph.importedDeviceIdentity)"), "value": out}),
    )
}

pub fn delete(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let now = st.clock.now();
    if st.fleet.delete_identity(id, now) {
        Reply::empty(204)
    } else {
        error(
            404,
            "ResourceNotFound",
            &format!("importedDeviceIdentity '{id}' was not found."),
            inc,
        )
    }
}

//! The Graph answers the review reads, and turning `$batch` items into them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::verdict::{DeviceFacts, Join, Person, SignIn};
use crate::graph::models::{JoinType, ManagedDevice, parse_entity};
use crate::graph::{BatchRequest, BatchResponse, GraphClient, GraphError};

/// `user` with the facts the rules need; `assignedPlans` is readable with an app-only token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserDoc {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) user_principal_name: Option<String>,
    #[serde(default)]
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) account_enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::graph::models::null_default")]
    pub(super) assigned_plans: Vec<AssignedPlan>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AssignedPlan {
    #[serde(default)]
    pub(super) service_plan_id: Option<String>,
    #[serde(default)]
    pub(super) capability_status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Users {
    #[serde(default, deserialize_with = "crate::graph::models::null_default")]
    pub(super) value: Vec<UserDoc>,
}

impl UserDoc {
    pub(super) fn person(&self) -> Option<Person> {
        Some(Person {
            id: self.id.clone()?,
            upn: self.user_principal_name.clone()?,
            display_name: self.display_name.clone().unwrap_or_default(),
        })
    }
}

pub(super) fn join_of(j: Option<JoinType>) -> Join {
    match j {
        Some(JoinType::AzureAdJoined) => Join::EntraJoined,
        Some(JoinType::HybridAzureAdJoined) => Join::HybridJoined,
        Some(JoinType::AzureAdRegistered) => Join::EntraRegistered,
        _ => Join::Unknown,
    }
}

pub(super) fn facts(d: &ManagedDevice) -> DeviceFacts {
    DeviceFacts {
        id: d.id.clone(),
        name: d.device_name.clone().unwrap_or_default(),
        serial: d.serial_number.clone().unwrap_or_default(),
        operating_system: d.operating_system.clone().unwrap_or_default(),
        join: join_of(d.join_type),
    }
}

/// A batch item that failed, as an error naming what was read.
pub(super) fn item_error(what: &str, r: &BatchResponse) -> GraphError {
    let body = r
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let detail = crate::graph::error::parse_error_body(&body);
    GraphError::Server {
        status: r.status,
        code: detail.code.clone(),
        message: format!("{what}: {}", detail.message),
        request_id: r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("request-id"))
            .map(|(_, v)| v.clone()),
    }
}

pub(super) fn body_of<T: serde::de::DeserializeOwned>(
    what: &str,
    r: &BatchResponse,
) -> Result<T, GraphError> {
    let bytes =
        serde_json::to_vec(r.body.as_ref().unwrap_or(&serde_json::Value::Null)).unwrap_or_default();
    parse_entity(&bytes).map_err(|e| GraphError::Decode {
        what: what.into(),
        detail: e.to_string(),
        request_id: None,
    })
}

/// One GET per id, in `$batch` calls of 20; each answer comes back paired with its id. `request`
/// is a typed read of `graph::BatchRequest` (e.g. [`BatchRequest::device_users`]).
pub(super) async fn get_each<'i>(
    client: &GraphClient,
    ids: &'i [String],
    request: impl Fn(&str) -> BatchRequest,
) -> Result<Vec<(&'i String, BatchResponse)>, GraphError> {
    let reqs = ids
        .iter()
        .enumerate()
        .map(|(i, id)| request(id).with_id(i.to_string()))
        .collect();
    client
        .batch(reqs)
        .await?
        .into_iter()
        .map(|r| {
            let id = r.id.parse::<usize>().ok().and_then(|i| ids.get(i));
            match id {
                Some(id) => Ok((id, r)),
                None => Err(GraphError::Decode {
                    what: "a $batch answer".into(),
                    detail: format!("answer id {:?} matches no request", r.id),
                    request_id: None,
                }),
            }
        })
        .collect()
}

/// The primary user of each device, from `GET managedDevices/{id}/users` in batches of 20
/// (authoritative; the list's `userPrincipalName` can be stale). A vanished device (404) is left out.
pub async fn read_primaries(
    client: &GraphClient,
    ids: &[String],
) -> Result<BTreeMap<String, Option<Person>>, GraphError> {
    let mut out = BTreeMap::new();
    for (id, r) in get_each(client, ids, BatchRequest::device_users).await? {
        let what = || format!("primary user of device {id}");
        match r.status {
            200..=299 => {
                let users: Users = body_of(&what(), &r)?;
                out.insert(id.clone(), users.value.first().and_then(UserDoc::person));
            }
            404 => {}
            _ => return Err(item_error(&what(), &r)),
        }
    }
    Ok(out)
}

/// `usersLoggedOn` as sign-ins (entries without a user or a time are dropped).
pub fn signins(d: &ManagedDevice) -> Vec<SignIn> {
    d.users_logged_on
        .iter()
        .filter_map(|u| {
            Some(SignIn {
                user_id: u.user_id.clone()?,
                at: u.last_log_on_date_time?,
            })
        })
        .collect()
}

//! Graph dispatch: route → token → scopes → injected faults → rate limit → handler, plus the
//! helpers every resource shares (error envelope, paging, `$filter`, `$select`).

mod autopilot;
mod batch;
mod devices;
mod directory;
mod evidence;
mod identities;
mod table;
mod tenant;

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::auth;
use super::limits::{ThrottleFamily, ThrottleVerdict};
use super::odata::{self, Dialect};
use super::server::{Incoming, Reply, State, record};
pub use evidence::{EvidenceState, serve_log_blob};
pub use table::{ALL_DELEGATED, Route};
pub use tenant::{DEVICE_PREP_AUTOMATIC_TEMPLATE_ID, DEVICE_PREP_TEMPLATE_ID};

/// Dispatches one Graph request (top-level or a `$batch` item) and records it.
pub fn dispatch(st: &mut State, inc: &Incoming, in_batch: bool, now: Instant) -> Reply {
    let (reply, violation) = dispatch_inner(st, inc, in_batch, now);
    record(st, inc, now, violation, &reply, in_batch);
    reply
}

fn dispatch_inner(st: &mut State, inc: &Incoming, in_batch: bool, now: Instant) -> (Reply, bool) {
    let path = inc.path.trim_start_matches('/').trim_end_matches('/');
    let (version, rest) = path.split_once('/').unwrap_or((path, ""));
    let segs: Vec<&str> = rest.split('/').collect();
    if version != "beta" && version != "v1.0" {
        return (
            error(
                404,
                "NotFound",
                &format!("No such route: {}", inc.path),
                inc,
            ),
            false,
        );
    }
    let Some(route) = Route::parse(&inc.method, version, &segs) else {
        let last = segs.last().copied().unwrap_or_default();
        return (
            error(
                400,
                "BadRequest",
                &format!("Resource not found for the segment '{last}'."),
                inc,
            ),
            false,
        );
    };
    if route == Route::Batch {
        if in_batch {
            return (
                error(
                    400,
                    "BadRequest",
                    "A $batch request cannot contain another $batch.",
                    inc,
                ),
                false,
            );
        }
        st.stats.batch_requests += 1;
        return (batch::handle(st, inc, version, now), false);
    }
    let spec = route.spec();
    let token = match auth::check_bearer(st, inc.header("authorization"), now) {
        Ok(t) => t,
        Err(msg) => {
            let r = error(401, "InvalidAuthenticationToken", msg, inc).header("WWW-Authenticate", "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"");
            return (r, false);
        }
    };
    if spec.delegated_only && token.is_app() {
        let r = if route == Route::Me {
            error(
                400,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
                inc,
            )
        } else {
            error(
                403,
                "Authorization_RequestDenied",
                "This operation requires a delegated (user) token; application permissions are not supported.",
                inc,
            )
        };
        return (r, false);
    }
    if !spec.scopes.iter().any(|s| token.has(s)) {
        let code = if spec.family == ThrottleFamily::Identity {
            "Authorization_RequestDenied"
        } else {
            "Forbidden"
        };
        let msg = format!(
            "Insufficient privileges to complete the operation. Requires one of: {}.",
            spec.scopes.join(", ")
        );
        return (error(403, code, &msg, inc), false);
    }
    if let Some((status, retry_after)) = st.faults.take_scripted(&inc.method, &inc.path) {
        if status >= 500 {
            st.stats.injected_5xx += 1;
        }
        let code = match status {
            429 => "TooManyRequests",
            500 => "InternalServerError",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            504 => "GatewayTimeout",
            _ => "ScriptedFault",
        };
        let mut r = error(status, code, "Scripted answer (simulated).", inc);
        if let Some(ra) = retry_after {
            r = r.header("Retry-After", ra);
        }
        return (r, false);
    }
    let (p5xx, pdrop) = (st.faults.error_5xx_rate, st.faults.drop_rate);
    if p5xx > 0.0 && st.fault_rng.chance(p5xx) {
        st.stats.injected_5xx += 1;
        return (
            error(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable (simulated).",
                inc,
            ),
            false,
        );
    }
    if !in_batch && pdrop > 0.0 && st.fault_rng.chance(pdrop) {
        st.stats.dropped_connections += 1;
        let mut r = Reply::json(200, json!({}));
        r.drop = true;
        return (r, false);
    }
    let burst = st.faults.throttle_burst;
    let violation = match st.limits.check(spec.family, spec.write, now, burst) {
        ThrottleVerdict::Allow { violation } => violation,
        ThrottleVerdict::Throttle {
            retry_after,
            violation,
        } => {
            let mut r = error(
                429,
                "TooManyRequests",
                "Too many requests. Please retry again later.",
                inc,
            );
            if let Some(ra) = retry_after {
                r = r.header("Retry-After", ra);
            }
            return (r, violation);
        }
    };
    let reply = match route {
        Route::ListIdentities => identities::list(st, inc),
        Route::ImportIdentities => identities::import(st, inc),
        Route::SearchIdentities => identities::search(st, inc),
        Route::DeleteIdentity(id) => identities::delete(st, inc, &id),
        Route::ListDevices => devices::list(st, inc),
        Route::GetDevice(id) => devices::get(st, inc, &id),
        Route::DeviceUsers(id) => devices::users(st, inc, &id),
        Route::SetPrimaryUser(id) => devices::set_primary(st, inc, &id),
        Route::DeviceAction(id, action) => devices::action(st, inc, &token, &id, &action),
        Route::CreateExport => super::reports::create(st, inc),
        Route::GetExport(id) => super::reports::poll(st, inc, &id),
        Route::GetUser(id) => directory::user(st, inc, &id),
        Route::LicenseDetails(id) => directory::licenses(st, inc, &id),
        Route::Me => directory::me(st, inc, &token),
        Route::MeTransitiveMemberOf => directory::member_of(st, inc, &token),
        Route::AssignedRoleDetails => directory::role_details(st, inc, &token),
        Route::ServicePrincipals => tenant::service_principals(st, inc),
        Route::GroupOwners(id) => tenant::group_owners(st, inc, &id),
        Route::ConfigurationPolicies => tenant::configuration_policies(st, inc),
        Route::RetrieveMembershipTarget(id) => tenant::membership_target(st, inc, &id),
        Route::ConditionalAccessPolicies => tenant::ca_policies(st, inc),
        Route::ImportAutopilot => autopilot::import(st, inc),
        Route::ListAutopilotImports => autopilot::list_imports(st, inc),
        Route::GetAutopilotImport(id) => autopilot::get_import(st, inc, &id),
        Route::DeleteAutopilotImport(id) => autopilot::delete_import(st, inc, &id),
        Route::ListAutopilotDevices => autopilot::list_devices(st, inc),
        Route::GetAutopilotDevice(id) => autopilot::get_device(st, inc, &id),
        Route::DeleteAutopilotDevice(id) => autopilot::delete_device(st, inc, &id),
        Route::UpdateAutopilotDevice(id) => autopilot::update_device(st, inc, &id),
        Route::AutopilotSettings => autopilot::settings(st, inc),
        Route::AutopilotSync => autopilot::sync(st, inc),
        Route::Batch => error(400, "BadRequest", "nested $batch", inc),
        Route::Evidence(e) => evidence::handle(st, inc, &e, &token),
    };
    (reply, violation)
}

/// Graph's error envelope (docs/graph.md §12).
pub fn error(status: u16, code: &str, message: &str, inc: &Incoming) -> Reply {
    let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let client = inc
        .header("client-request-id")
        .unwrap_or(&inc.request_id)
        .to_string();
    Reply::json(
        status,
        json!({"error": {"code": code, "message": message, "innerError": {"request-id": inc.request_id, "date": date, "client-request-id": client}}}),
    )
}

/// `{base}/{version}/$metadata#{what}`.
pub fn context(st: &State, inc: &Incoming, what: &str) -> String {
    let version = if inc.path.starts_with("/v1.0") {
        "v1.0"
    } else {
        "beta"
    };
    format!("{}{version}/$metadata#{what}", st.base)
}

/// Applies `$filter` in `dialect`; a malformed filter is a 400 naming the problem.
pub fn filter(inc: &Incoming, items: Vec<Value>, dialect: &Dialect) -> Result<Vec<Value>, Reply> {
    let Some(src) = inc.query.get("$filter") else {
        return Ok(items);
    };
    let expr = odata::parse_filter(src)
        .and_then(|e| odata::validate(&e, dialect).map(|_| e))
        .map_err(|m| error(400, "BadRequest", &m, inc))?;
    Ok(items
        .into_iter()
        .filter(|v| odata::matches(&expr, v, dialect))
        .collect())
}

/// Applies `$select` (validated against `props`, the type's property names).
pub fn select(
    inc: &Incoming,
    items: Vec<Value>,
    props: &[&str],
    type_name: &str,
) -> Result<Vec<Value>, Reply> {
    let Some(src) = inc.query.get("$select") else {
        return Ok(items);
    };
    let tmpl: Map<String, Value> = props.iter().map(|p| (p.to_string(), Value::Null)).collect();
    let sel = odata::parse_select(src, &tmpl, type_name)
        .map_err(|m| error(400, "BadRequest", &m, inc))?;
    Ok(items
        .into_iter()
        .map(|v| match v {
            Value::Object(o) => Value::Object(odata::apply_select(o, &sel)),
            other => other,
        })
        .collect())
}

/// One page of `items` (`$top` ≤ 1000, default 1000) with an absolute `@odata.nextLink`.
pub fn page(st: &State, inc: &Incoming, items: Vec<Value>, ctx: &str) -> Reply {
    let top = match inc.query.get("$top").map(|t| t.parse::<usize>()) {
        None => 1000,
        Some(Ok(n)) if n >= 1 => n.min(1000),
        Some(_) => {
            return error(
                400,
                "BadRequest",
                "Invalid $top: expected a positive whole number.",
                inc,
            );
        }
    };
    let offset = match inc.query.get("$skiptoken") {
        None => 0,
        Some(tok) => match URL_SAFE_NO_PAD
            .decode(tok)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("sim-offset:").and_then(|n| n.parse().ok()))
        {
            Some(n) => n,
            None => {
                return error(
                    400,
                    "BadRequest",
                    "The skip token is invalid or expired.",
                    inc,
                );
            }
        },
    };
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(offset).take(top).collect();
    let mut body = json!({"@odata.context": ctx, "value": value});
    if offset + top < total {
        let origin = st.faults.next_link_origin.as_ref().unwrap_or(&st.base);
        let mut next = origin
            .join(inc.path.trim_start_matches('/'))
            .unwrap_or_else(|_| origin.clone());
        {
            let mut q = next.query_pairs_mut();
            for (k, v) in &inc.query {
                if k != "$skiptoken" {
                    q.append_pair(k, v);
                }
            }
            q.append_pair(
                "$skiptoken",
                &URL_SAFE_NO_PAD.encode(format!("sim-offset:{}", offset + top)),
            );
        }
        body["@odata.nextLink"] = Value::String(next.to_string());
    }
    Reply::json(200, body)
}

/// Parses a JSON request body or answers 400.
pub fn body_json(inc: &Incoming) -> Result<Value, Reply> {
    serde_json::from_slice(&inc.body)
        .map_err(|e| error(400, "BadRequest", &format!("Invalid JSON body: {e}"), inc))
}

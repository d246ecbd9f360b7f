//! Remote actions: `syncDevice`, and retire/wipe behind the guard rails. Every retire or wipe
//! attempt writes an audit `Before` record first and an `After` record with its outcome:
//! `ok`, `refused: …` (nothing reached Intune) or `failed: …`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::graph::models::{ManagedDevice, WipeOptions};
use crate::graph::{GraphClient, GraphError};
use crate::store::{AuditRecord, AuditSink};

use super::guard::{self, Authority, GuardRefusal};
use super::{DeviceKey, DevicesError, resolve};

/// `POST syncDevice` on the device `key` names: it checks in and compliance is re-evaluated.
/// Returns the device it asked.
pub async fn sync(client: &GraphClient, key: &DeviceKey) -> Result<ManagedDevice, DevicesError> {
    let d = resolve(client, key).await?;
    client.sync_device(&d.id).await?;
    Ok(d)
}

/// The audit `action` of a sync.
pub const SYNC_AUDIT_ACTION: &str = "sync";

/// [`sync`] with an audit record before (without it nothing is sent) and after, as `actor`. The
/// console and `stagehand devices sync` both use it. A sync that was sent but whose `After` record
/// failed is [`DevicesError::Unrecorded`].
pub async fn sync_audited(
    client: &GraphClient,
    audit: &dyn AuditSink,
    actor: &str,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
    serial: &str,
    key: &DeviceKey,
) -> Result<ManagedDevice, DevicesError> {
    let mut before = AuditRecord::before(now(), actor, SYNC_AUDIT_ACTION);
    before.serial = Some(serial.to_string());
    if let DeviceKey::Id(id) = key {
        before.device_id = Some(id.clone());
    }
    audit
        .record(before.clone())
        .await
        .map_err(DevicesError::Audit)?;
    let result = sync(client, key).await;
    let mut after = match &result {
        Ok(d) => {
            let mut a = before.after(now(), "ok");
            a.device_id = Some(d.id.clone());
            a
        }
        Err(e) => before.after(now(), &format!("failed: {e}")),
    };
    if let Err(DevicesError::Graph(g)) = &result {
        after.request_id = g.request_id().map(String::from);
    }
    let recorded = audit.record(after).await;
    match (result, recorded) {
        (Ok(d), Ok(())) => Ok(d),
        (Ok(d), Err(reason)) => Err(DevicesError::Unrecorded {
            done: Box::new(ActionOutcome {
                serial: d
                    .serial_number
                    .clone()
                    .unwrap_or_else(|| serial.to_string()),
                device_id: d.id,
                action: SYNC_AUDIT_ACTION.into(),
                request_id: None,
            }),
            reason,
        }),
        (Err(e), _) => Err(e),
    }
}

/// A destructive action and its options.
#[derive(Debug, Clone, PartialEq)]
pub enum Destructive {
    Retire,
    Wipe(WipeOptions),
}

impl Destructive {
    /// The audit `action` and the Graph action segment.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Retire => "retire",
            Self::Wipe(_) => "wipe",
        }
    }

    fn options(&self) -> serde_json::Value {
        match self {
            Self::Retire => serde_json::Value::Null,
            Self::Wipe(o) => serde_json::to_value(o).unwrap_or_default(),
        }
    }

    /// Exactly what will happen, in the words the confirmation screen shows.
    pub fn describe(&self) -> String {
        match self {
            Self::Retire => "RETIRE: removes company data, apps, profiles and Intune management \
                 only; the user's personal data stays on the device."
                .into(),
            Self::Wipe(o) => {
                let mut s = String::from(
                    "WIPE: factory-resets the device; data that is removed cannot be recovered.",
                );
                s.push_str(if o.keep_enrollment_data {
                    " Enrollment data is kept: the device re-enrolls into Intune after the reset."
                } else {
                    " Enrollment data is removed: the device leaves Intune."
                });
                s.push_str(if o.keep_user_data {
                    " User accounts and data are kept."
                } else {
                    " User accounts and data are removed."
                });
                s
            }
        }
    }
}

/// What the user asked for: one serial, the serial typed again, the action.
#[derive(Debug, Clone, PartialEq)]
pub struct DestructiveRequest {
    pub serial: String,
    /// What the user typed to confirm; must equal the serial.
    pub confirm: Option<String>,
    pub action: Destructive,
}

/// Shown at the final question, after every guard rail passed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub device: ManagedDevice,
    pub action: Destructive,
    pub authority: Authority,
    /// [`Destructive::describe`] with the device named.
    pub description: String,
}

/// A retire or wipe that Intune accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionOutcome {
    pub device_id: String,
    pub serial: String,
    pub action: String,
    /// Graph's `request-id` for the call.
    pub request_id: Option<String>,
}

/// Who acts, where it is recorded, and the clock the records carry.
pub struct ActionContext<'a> {
    pub client: &'a GraphClient,
    pub config: &'a Config,
    /// Where the records go (the store thread): `record` resolves once durable.
    pub audit: &'a dyn AuditSink,
    /// The identity signed in at the moment of the action (UPN).
    pub actor: &'a str,
    pub now: &'a (dyn Fn() -> DateTime<Utc> + Sync),
}

/// Runs a retire or wipe through every guard rail: confirmation, role (asked of Graph now),
/// exactly one device, nothing already pending, then `confirm_final(&plan)`; only then the call.
/// The audit log gets a `Before` record before anything else (without it nothing is sent) and an
/// `After` record on every path. When the action was sent and accepted but its `After` record
/// could not be written, the answer is [`DevicesError::Unrecorded`], which says exactly that.
pub async fn run_destructive(
    ctx: ActionContext<'_>,
    req: &DestructiveRequest,
    confirm_final: impl FnOnce(&Plan) -> bool,
) -> Result<ActionOutcome, DevicesError> {
    let mut before = AuditRecord::before((ctx.now)(), ctx.actor, req.action.name());
    before.serial = Some(req.serial.trim().to_string());
    before.options = req.action.options();
    ctx.audit
        .record(before.clone())
        .await
        .map_err(DevicesError::Audit)?;
    let result = attempt(ctx.client, ctx.config, ctx.actor, req, confirm_final).await;
    let after = match &result {
        Ok(done) => {
            let mut a = before.after((ctx.now)(), "ok");
            a.device_id = Some(done.device_id.clone());
            a.request_id.clone_from(&done.request_id);
            a
        }
        Err((device_id, e)) => {
            let text = match e {
                DevicesError::Refused(r) => format!("refused: {r}"),
                other => format!("failed: {other}"),
            };
            let mut a = before.after((ctx.now)(), &text);
            a.device_id.clone_from(device_id);
            if let DevicesError::Graph(g) = e {
                a.request_id = g.request_id().map(String::from);
            }
            a
        }
    };
    let recorded = ctx.audit.record(after).await;
    match (result, recorded) {
        (Ok(done), Ok(())) => Ok(done),
        (Ok(done), Err(reason)) => Err(DevicesError::Unrecorded {
            done: Box::new(done),
            reason,
        }),
        (Err((_, e)), Ok(())) => Err(e),
        (Err((_, e)), Err(reason)) => {
            // The outcome that matters is the action's; the missing record goes to the log.
            tracing::error!(action = req.action.name(), %reason, "audit after-record not written");
            Err(e)
        }
    }
}

type Attempt = Result<ActionOutcome, (Option<String>, DevicesError)>;

async fn attempt(
    client: &GraphClient,
    config: &Config,
    actor: &str,
    req: &DestructiveRequest,
    confirm_final: impl FnOnce(&Plan) -> bool,
) -> Attempt {
    let refused =
        |id: Option<&str>, r: GuardRefusal| (id.map(String::from), DevicesError::Refused(r));
    let serial = req.serial.trim();
    guard::check_confirmation(serial, req.confirm.as_deref()).map_err(|r| refused(None, r))?;
    let authority = guard::check_authority(client, config, actor)
        .await
        .map_err(|e| (None, e))?;
    let device = match resolve(client, &DeviceKey::Serial(serial.to_string())).await {
        Ok(d) => d,
        Err(DevicesError::Graph(GraphError::Ambiguous { count, .. })) => {
            let serial = serial.to_string();
            return Err(refused(None, GuardRefusal::Ambiguous { serial, count }));
        }
        Err(DevicesError::NotFound(_)) => {
            let serial = serial.to_string();
            return Err(refused(None, GuardRefusal::NoDevice { serial }));
        }
        Err(e) => return Err((None, e)),
    };
    // The list row may lag; the single GET carries the current state and action results.
    let current = client
        .get_managed_device(
            &device.id,
            &[
                "id",
                "serialNumber",
                "managementState",
                "deviceActionResults",
            ],
        )
        .await
        .map_err(|e| (Some(device.id.clone()), e.into()))?;
    let id = Some(current.id.as_str());
    guard::check_not_pending(&current).map_err(|r| refused(id, r))?;
    let plan = Plan {
        description: format!(
            "{} (serial {}, id {}): {}",
            device.device_name.as_deref().unwrap_or("unnamed device"),
            serial,
            device.id,
            req.action.describe()
        ),
        device,
        action: req.action.clone(),
        authority,
    };
    if !confirm_final(&plan) {
        return Err(refused(id, GuardRefusal::Declined));
    }
    let request_id = send(client, &current.id, &req.action)
        .await
        .map_err(|e| (Some(current.id.clone()), e.into()))?;
    Ok(ActionOutcome {
        device_id: current.id,
        serial: serial.to_string(),
        action: req.action.name().into(),
        request_id,
    })
}

/// The call itself; Graph's `request-id` reaches the audit log on success too. Never replayed
/// after an unclear outcome.
async fn send(
    client: &GraphClient,
    device_id: &str,
    action: &Destructive,
) -> Result<Option<String>, GraphError> {
    match action {
        Destructive::Retire => client.retire(device_id).await,
        Destructive::Wipe(o) => client.wipe(device_id, o).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_say_exactly_what_happens() {
        assert!(Destructive::Retire.describe().contains("company data"));
        let keep_all = Destructive::Wipe(WipeOptions {
            keep_enrollment_data: true,
            keep_user_data: true,
            ..WipeOptions::default()
        })
        .describe();
        assert!(keep_all.contains("Enrollment data is kept") && keep_all.contains("data are kept"));
        let full = Destructive::Wipe(WipeOptions::default()).describe();
        assert!(full.contains("device leaves Intune") && full.contains("data are removed"));
    }

    #[test]
    fn wipe_options_are_recorded_as_sent() {
        let o = Destructive::Wipe(WipeOptions {
            keep_enrollment_data: true,
            ..WipeOptions::default()
        })
        .options();
        assert_eq!(
            o,
            serde_json::json!({"keepEnrollmentData": true, "keepUserData": false})
        );
        assert_eq!(Destructive::Retire.options(), serde_json::Value::Null);
    }
}

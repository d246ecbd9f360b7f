//! Applying one approved change: approved → writing → applied, confirming → confirmed | failed.
//!
//! Each step is a pure transition that returns what must be recorded: the audit `Before` record is
//! produced when the write starts (and must be durable before the request is sent), the `After`
//! record when the write's outcome is known. Read-backs of `GET managedDevices/{id}/users` confirm the
//! change; propagation can take up to [`CONFIRM_TIMEOUT`].

use chrono::{DateTime, Duration, Utc};

use super::verdict::Person;
use crate::store::AuditRecord;

/// The audit `action` of a primary-user change.
pub const ACTION: &str = "change_primary_user";

/// How long a written change may take to show in the read-back (Intune/Entra propagation).
pub const CONFIRM_TIMEOUT: Duration = Duration::minutes(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyState {
    Approved,
    Writing,
    /// The write succeeded; waiting for the read-back to agree.
    Confirming {
        since: DateTime<Utc>,
    },
    Confirmed {
        at: DateTime<Utc>,
    },
    /// Graph refused the write, or the read-back never agreed. The reason is Graph's.
    Failed {
        reason: String,
    },
}

impl ApplyState {
    pub fn label(&self) -> String {
        match self {
            Self::Approved => "approved".into(),
            Self::Writing => "writing…".into(),
            Self::Confirming { .. } => "applied, confirming".into(),
            Self::Confirmed { .. } => "confirmed".into(),
            Self::Failed { reason } => format!("failed: {reason}"),
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, Self::Confirmed { .. } | Self::Failed { .. })
    }
}

/// A transition that does not exist from the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {step} a change that is {from}")]
pub struct ApplyError {
    pub step: &'static str,
    pub from: String,
}

/// One approved change on its way to Graph.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyJob {
    pub device_id: String,
    pub serial: String,
    pub from_upn: String,
    pub to: Person,
    /// The verdict the lead approved (`propose`, `ambiguous`, or `edited`).
    pub verdict: String,
    pub state: ApplyState,
    /// The `Before` record, kept to derive the `After` record from.
    before: Option<AuditRecord>,
}

impl ApplyJob {
    pub fn new(device_id: &str, serial: &str, from_upn: &str, to: Person, verdict: &str) -> Self {
        Self {
            device_id: device_id.into(),
            serial: serial.into(),
            from_upn: from_upn.into(),
            to,
            verdict: verdict.into(),
            state: ApplyState::Approved,
            before: None,
        }
    }

    fn refuse(&self, step: &'static str) -> ApplyError {
        ApplyError {
            step,
            from: self.state.label(),
        }
    }

    /// Approved (or failed, for a retry) → writing. Returns the `Before` record, which must be
    /// durable before the request is sent.
    pub fn begin(&mut self, now: DateTime<Utc>, actor: &str) -> Result<AuditRecord, ApplyError> {
        if !matches!(self.state, ApplyState::Approved | ApplyState::Failed { .. }) {
            return Err(self.refuse("start writing"));
        }
        let mut r = AuditRecord::before(now, actor, ACTION);
        r.device_id = Some(self.device_id.clone());
        r.serial = Some(self.serial.clone());
        r.from = Some(self.from_upn.clone());
        r.to = Some(self.to.upn.clone());
        r.verdict = Some(self.verdict.clone());
        self.before = Some(r.clone());
        self.state = ApplyState::Writing;
        Ok(r)
    }

    /// Writing → failed without sending anything (the `Before` record could not be made durable).
    pub fn abandon(&mut self, reason: &str) -> Result<(), ApplyError> {
        if self.state != ApplyState::Writing {
            return Err(self.refuse("abandon"));
        }
        self.state = ApplyState::Failed {
            reason: format!("nothing written: {reason}"),
        };
        Ok(())
    }

    /// Writing → confirming (`Ok`) or failed (`Err` with Graph's reason). Returns the `After`
    /// record, carrying the `request-id` Graph gave the write.
    pub fn written(
        &mut self,
        now: DateTime<Utc>,
        outcome: Result<(), String>,
        request_id: Option<&str>,
    ) -> Result<AuditRecord, ApplyError> {
        let (ApplyState::Writing, Some(before)) = (&self.state, &self.before) else {
            return Err(self.refuse("record the write of"));
        };
        let mut record = match &outcome {
            Ok(()) => before.after(now, "ok"),
            Err(reason) => before.after(now, &format!("failed: {reason}")),
        };
        record.request_id = request_id.map(str::to_string);
        self.state = match outcome {
            Ok(()) => ApplyState::Confirming { since: now },
            Err(reason) => ApplyState::Failed { reason },
        };
        Ok(record)
    }

    /// A read-back of the device's primary user while confirming: agreement confirms; after
    /// `give_up` (the console uses [`CONFIRM_TIMEOUT`]) without agreement the change fails; with
    /// `None` it stays confirming (the headless command keeps its own bound). Returns whether the
    /// state changed.
    pub fn read_back(
        &mut self,
        now: DateTime<Utc>,
        primary_user_id: Option<&str>,
        give_up: Option<Duration>,
    ) -> Result<bool, ApplyError> {
        let ApplyState::Confirming { since } = self.state else {
            return Err(self.refuse("confirm"));
        };
        if primary_user_id.is_some_and(|id| id.eq_ignore_ascii_case(&self.to.id)) {
            self.state = ApplyState::Confirmed { at: now };
            return Ok(true);
        }
        if let Some(limit) = give_up
            && now - since >= limit
        {
            let now_user = primary_user_id.unwrap_or("nobody");
            self.state = ApplyState::Failed {
                reason: format!(
                    "written, but the primary user still reads {now_user} after {} minutes",
                    limit.num_minutes()
                ),
            };
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditPhase;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap() + Duration::seconds(s)
    }

    fn job() -> ApplyJob {
        let to = Person {
            id: "u-ana".into(),
            upn: "ana@contoso.com".into(),
            display_name: "Ana".into(),
        };
        ApplyJob::new("dev-1", "SN1", "stage@contoso.com", to, "propose")
    }

    #[test]
    fn happy_path_records_before_and_after_then_confirms_on_agreement() {
        let mut j = job();
        let before = j.begin(t(0), "lead@contoso.com").unwrap();
        assert_eq!(before.phase, AuditPhase::Before);
        assert_eq!(before.device_id.as_deref(), Some("dev-1"));
        assert_eq!(before.serial.as_deref(), Some("SN1"));
        assert_eq!(before.from.as_deref(), Some("stage@contoso.com"));
        assert_eq!(before.to.as_deref(), Some("ana@contoso.com"));
        assert_eq!(before.verdict.as_deref(), Some("propose"));
        assert_eq!(before.request_id, None, "Graph has not answered yet");
        assert_eq!(before.result, None);
        let after = j.written(t(1), Ok(()), Some("req-1")).unwrap();
        assert_eq!(after.phase, AuditPhase::After);
        assert_eq!(after.result.as_deref(), Some("ok"));
        assert_eq!(after.request_id.as_deref(), Some("req-1"));
        assert_eq!(j.state.label(), "applied, confirming");
        assert!(
            !j.read_back(t(30), Some("u-staging"), Some(CONFIRM_TIMEOUT))
                .unwrap()
        );
        assert!(
            j.read_back(t(60), Some("U-ANA"), Some(CONFIRM_TIMEOUT))
                .unwrap()
        );
        assert_eq!(j.state, ApplyState::Confirmed { at: t(60) });
    }

    #[test]
    fn graph_refusal_fails_with_its_reason() {
        let mut j = job();
        j.begin(t(0), "lead").unwrap();
        let after = j
            .written(t(1), Err("400 user has no Intune licence".into()), None)
            .unwrap();
        assert_eq!(
            after.result.as_deref(),
            Some("failed: 400 user has no Intune licence")
        );
        assert_eq!(j.state.label(), "failed: 400 user has no Intune licence");
        assert!(j.state.is_final());
        // A failed change may be tried again.
        assert!(j.begin(t(5), "lead").is_ok());
    }

    #[test]
    fn an_unrecorded_before_abandons_without_writing() {
        let mut j = job();
        j.begin(t(0), "lead").unwrap();
        j.abandon("audit.jsonl: fsync: I/O error").unwrap();
        assert_eq!(
            j.state.label(),
            "failed: nothing written: audit.jsonl: fsync: I/O error"
        );
        assert!(j.written(t(1), Ok(()), None).is_err());
    }

    #[test]
    fn read_back_gives_up_after_ten_minutes() {
        let mut j = job();
        j.begin(t(0), "lead").unwrap();
        j.written(t(0), Ok(()), None).unwrap();
        assert!(!j.read_back(t(599), None, Some(CONFIRM_TIMEOUT)).unwrap());
        assert!(
            j.read_back(t(600), Some("u-staging"), Some(CONFIRM_TIMEOUT))
                .unwrap()
        );
        assert!(matches!(&j.state, ApplyState::Failed { reason } if reason.contains("u-staging")));
    }

    #[test]
    fn without_a_give_up_time_a_change_stays_confirming() {
        let mut j = job();
        j.begin(t(0), "lead").unwrap();
        j.written(t(0), Ok(()), None).unwrap();
        assert!(!j.read_back(t(86_400), Some("u-staging"), None).unwrap());
        assert_eq!(j.state, ApplyState::Confirming { since: t(0) });
        assert!(j.read_back(t(86_401), Some("u-ana"), None).unwrap());
    }

    #[test]
    fn transitions_out_of_order_are_refused() {
        let mut j = job();
        assert!(j.written(t(0), Ok(()), None).is_err());
        assert!(j.read_back(t(0), Some("u-ana"), None).is_err());
        j.begin(t(0), "lead").unwrap();
        let e = j.begin(t(0), "lead").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot start writing a change that is writing…"
        );
        assert!(j.read_back(t(0), Some("u-ana"), None).is_err());
    }
}

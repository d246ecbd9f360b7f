//! Writing approved changes: audit `Before` (durable) → `POST managedDevices/{id}/users/$ref` →
//! audit `After`, then read-backs of `GET …/users` until they agree or [`CONFIRM_TIMEOUT`] passes.
//! Writes go through the Graph client, so through the shared rate governor and its retry rules.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::apply::{ApplyJob, ApplyState};
use super::fetch::read_primaries;
use crate::graph::{GraphClient, GraphError};
use crate::store::{Actor, AuditRecord};

pub use super::apply::CONFIRM_TIMEOUT;
pub use crate::store::AuditSink;

pub struct Writer {
    client: GraphClient,
    audit: Arc<dyn AuditSink>,
    actor: Actor,
    /// `After` records that could not be written (the change itself went through).
    pub audit_errors: Vec<String>,
}

impl Writer {
    /// `audit`: where records go (the store thread); `actor`: asked at each write.
    pub fn new(client: GraphClient, audit: Arc<dyn AuditSink>, actor: Actor) -> Self {
        Self {
            client,
            audit,
            actor,
            audit_errors: Vec::new(),
        }
    }

    /// Who the audit records name (asked at each write).
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Hands one audit record to the sink and waits until it is durable.
    pub async fn record(&self, record: AuditRecord) -> Result<(), String> {
        self.audit.record(record).await
    }

    /// Writes one job: leaves it `Confirming` (written) or `Failed` (with the reason). The records
    /// name the account signed in now; with nobody signed in nothing is sent.
    pub async fn write(&mut self, job: &mut ApplyJob) {
        let actor = match self.actor.require() {
            Ok(a) => a,
            Err(e) => {
                job.state = ApplyState::Failed {
                    reason: format!("nothing written: {e}"),
                };
                return;
            }
        };
        let Ok(before) = job.begin(Utc::now(), &actor) else {
            return;
        };
        if let Err(e) = self.record(before).await {
            let _ = job.abandon(&format!("audit log: {e}"));
            return;
        }
        let (outcome, request_id) = match self.post(job).await {
            Ok(rid) => (Ok(()), rid),
            Err(e) => (Err(e.to_string()), e.request_id().map(str::to_string)),
        };
        let Ok(after) = job.written(Utc::now(), outcome, request_id.as_deref()) else {
            return;
        };
        if let Err(e) = self.record(after).await {
            tracing::error!(device = %job.device_id, error = %e, "audit after-record not written");
            self.audit_errors
                .push(format!("{}: after-record not written: {e}", job.serial));
        }
    }

    /// Replacing the primary user with the same user twice leaves it in place: repeatable.
    async fn post(&self, job: &ApplyJob) -> Result<Option<String>, GraphError> {
        self.client
            .set_primary_user(&job.device_id, &job.to.id)
            .await
    }

    /// One read-back pass over the confirming jobs (batches of 20). Returns the indices of jobs
    /// whose state changed. `give_up`: see [`ApplyJob::read_back`].
    pub async fn confirm(
        &self,
        jobs: &mut [ApplyJob],
        now: DateTime<Utc>,
        give_up: Option<chrono::Duration>,
    ) -> Result<Vec<usize>, GraphError> {
        let waiting: Vec<usize> = (0..jobs.len())
            .filter(|&i| matches!(jobs[i].state, ApplyState::Confirming { .. }))
            .collect();
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = waiting.iter().map(|&i| jobs[i].device_id.clone()).collect();
        let primaries = read_primaries(&self.client, &ids).await?;
        let mut changed = Vec::new();
        for i in waiting {
            let now_user = primaries
                .get(&jobs[i].device_id)
                .and_then(|p| p.as_ref().map(|p| p.id.clone()));
            if jobs[i].read_back(now, now_user.as_deref(), give_up) == Ok(true) {
                changed.push(i);
            }
        }
        Ok(changed)
    }
}

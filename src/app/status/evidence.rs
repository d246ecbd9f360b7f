//! The evidence key on a Status row: collects the device's bundle in the background (the same
//! code as `stagehand evidence`), shows each step while it runs and, when done, the folder (or
//! the error). Plain data: the runtime runs [`EvidenceCmd`] and answers with [`EvidenceMsg`].

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::serial::SerialKey;
use crate::status::SharedRow;
use crate::store::QueueEntry;

/// To the runtime: collect the bundle of one device into `<data dir>/evidence/`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceCmd {
    pub serial: String,
    /// The row as the Status pane shows it (its timeline goes into the bundle).
    pub status: Option<SharedRow>,
    /// The bench's queue entry, if the device is in this queue.
    pub queue: Option<Arc<QueueEntry>>,
}

/// From the collecting task.
#[derive(Debug, Clone, PartialEq)]
pub enum EvidenceMsg {
    /// A step started ("PF1: Autopilot record").
    Progress { serial: String, step: String },
    /// Written to this folder, or why not.
    Done {
        serial: String,
        result: Result<PathBuf, String>,
    },
}

/// One collection as the pane shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    Running { step: String },
    Written(PathBuf),
    Failed(String),
}

/// Collections started from the pane, newest last (finished ones stay until replaced).
#[derive(Debug, Clone, Default)]
pub struct EvidenceJobs {
    pub jobs: Vec<(String, Job, DateTime<Utc>)>,
}

impl EvidenceJobs {
    fn find(&mut self, serial: &str) -> Option<usize> {
        let k = SerialKey::new(serial);
        self.jobs
            .iter()
            .position(|(s, _, _)| SerialKey::new(s) == k)
    }

    /// The key on a row: a command, unless that device's bundle is already being collected.
    pub fn start(
        &mut self,
        row: Option<&SharedRow>,
        queue: Option<Arc<QueueEntry>>,
        now: DateTime<Utc>,
    ) -> Option<EvidenceCmd> {
        let row = row?;
        let serial = row.serial.to_string();
        let i = self.find(&serial);
        if let Some(i) = i
            && matches!(self.jobs[i].1, Job::Running { .. })
        {
            return None;
        }
        if let Some(i) = i {
            self.jobs.remove(i);
        }
        self.jobs.push((
            serial.clone(),
            Job::Running {
                step: "starting".into(),
            },
            now,
        ));
        Some(EvidenceCmd {
            serial,
            status: Some(row.clone()),
            queue,
        })
    }

    pub fn on_msg(&mut self, msg: EvidenceMsg, now: DateTime<Utc>) {
        let (serial, job) = match msg {
            EvidenceMsg::Progress { serial, step } => (serial, Job::Running { step }),
            EvidenceMsg::Done {
                serial,
                result: Ok(p),
            } => (serial, Job::Written(p)),
            EvidenceMsg::Done {
                serial,
                result: Err(e),
            } => (serial, Job::Failed(e)),
        };
        match self.find(&serial) {
            // A late progress line never turns a finished job back into a running one.
            Some(i) if matches!(self.jobs[i].1, Job::Running { .. }) => {
                self.jobs[i].1 = job;
                self.jobs[i].2 = now;
            }
            Some(_) => {}
            None => self.jobs.push((serial, job, now)),
        }
    }

    /// Collections still running.
    pub fn running(&self) -> usize {
        self.jobs
            .iter()
            .filter(|(_, j, _)| matches!(j, Job::Running { .. }))
            .count()
    }

    /// What the pane's border says: the newest job, and how many others still run. Raw text:
    /// the view escapes it.
    pub fn line(&self) -> Option<(String, bool)> {
        let (serial, job, _) = self.jobs.last()?;
        let others = self.running() - usize::from(matches!(job, Job::Running { .. }));
        let more = if others > 0 {
            format!(" (+{others} running)")
        } else {
            String::new()
        };
        Some(match job {
            Job::Running { step } => (format!("evidence {serial}: {step}…{more}"), false),
            Job::Written(p) => (
                format!("evidence {serial} written to {}{more}", p.display()),
                false,
            ),
            Job::Failed(e) => (format!("evidence {serial} failed: {e}{more}"), true),
        })
    }
}

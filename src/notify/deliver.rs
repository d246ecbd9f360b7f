//! The notifier: turns status rows into notices ([`SentState::observe`]) and delivers them step
//! by step, saving after every step, retrying with backoff (the server's `Retry-After` on 429).
//! A notice that cannot be delivered stays in the outbox with its last error; nothing is lost on
//! a restart. [`spawn`] runs it as a task fed by a channel, so the console never waits on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::NotifyConfig;
use super::episodes::Change;
use super::sent::{Episode, Notice, SentState, Step};
use super::servicenow::{SendError, SnClient};
use super::teams::{Fact, TeamsClient, card};
use crate::evidence::{Collector, Local, Options};
use crate::graph::GraphClient;
use crate::status::DeviceStatus;
use crate::store::StoreClient;

/// Where a bundle for an incident comes from.
#[derive(Clone)]
pub struct EvidenceSource {
    pub client: GraphClient,
    pub who: Collector,
}

/// What one delivery round did, for the screen and the log (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        episode: String,
        what: String,
    },
    /// Not delivered yet: kept, next try at `at`.
    Retry {
        episode: String,
        error: String,
        at: DateTime<Utc>,
    },
    /// `--dry-run`: what would have been sent.
    DryRun {
        episode: String,
        text: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Sent { episode, what } => write!(f, "sent {what} ({episode})"),
            Outcome::Retry { episode, error, at } => write!(
                f,
                "not delivered ({episode}): {error}; kept, next try {}",
                at.format("%H:%M:%S UTC")
            ),
            Outcome::DryRun { episode, text } => write!(f, "would send ({episode}):\n{text}"),
        }
    }
}

pub struct Notifier {
    cfg: NotifyConfig,
    /// The store thread: what was sent is saved there (`keyed_state`).
    store: StoreClient,
    data_dir: PathBuf,
    pub state: SentState,
    sn: Option<SnClient>,
    teams: Option<TeamsClient>,
    evidence: Option<EvidenceSource>,
    /// Print what would be sent; send nothing, remember nothing.
    pub dry_run: bool,
    /// First retry delay (doubles up to `max_backoff`).
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("open", &self.state.open.len())
            .field("outbox", &self.state.outbox.len())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Loads what was sent from the store (importing an older `notify-state.json` once).
    pub async fn open(
        cfg: NotifyConfig,
        store: StoreClient,
        data_dir: &Path,
        sn: Option<SnClient>,
        teams: Option<TeamsClient>,
        evidence: Option<EvidenceSource>,
    ) -> anyhow::Result<Self> {
        let state = store
            .call(SentState::open_in)
            .await
            .map_err(|e| anyhow::anyhow!("notifications: {e}"))?;
        Ok(Self {
            cfg,
            store,
            data_dir: data_dir.to_path_buf(),
            state,
            sn,
            teams,
            evidence,
            dry_run: false,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30 * 60),
        })
    }

    /// Saves the whole state in one transaction on the store thread.
    async fn save(&self) -> anyhow::Result<()> {
        if self.dry_run {
            return Ok(());
        }
        let state = self.state.clone();
        self.store
            .call(move |s| s.write("save the notifications", |tx| state.write(tx)))
            .await
            .map_err(|e| anyhow::anyhow!(e))
    }

    /// Records a poll's rows; new and closed episodes are queued (and saved) before anything
    /// is sent, so a crash in between loses nothing.
    pub async fn observe<'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a DeviceStatus>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Change>> {
        let changes = self.state.observe(rows, &self.cfg, now);
        if !changes.is_empty() {
            self.save().await?;
        }
        Ok(changes)
    }

    /// When the next notice is due, if any.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.state.outbox.iter().map(|n| n.next_at).min()
    }

    /// Notices not yet delivered.
    pub fn pending(&self) -> &[Notice] {
        &self.state.outbox
    }

    /// Delivers every notice due at `now`, in order.
    pub async fn deliver_due(&mut self, now: DateTime<Utc>) -> Vec<Outcome> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.state.outbox.len() {
            if self.state.outbox[i].next_at > now {
                i += 1;
                continue;
            }
            match self.deliver_one(i, &mut out).await {
                Ok(()) => {
                    self.state.outbox.remove(i);
                }
                Err(e) => {
                    let n = &mut self.state.outbox[i];
                    n.attempts += 1;
                    let wait = match &e {
                        SendError::Throttled {
                            retry_after: Some(d),
                        } => (*d).max(Duration::from_secs(1)),
                        _ => {
                            let shift = n.attempts.saturating_sub(1).min(16);
                            (self.backoff * 2u32.pow(shift)).min(self.max_backoff)
                        }
                    };
                    n.next_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    n.last_error = Some(e.to_string());
                    out.push(Outcome::Retry {
                        episode: n.episode.clone(),
                        error: e.to_string(),
                        at: n.next_at,
                    });
                    i += 1;
                }
            }
            if let Err(e) = self.save().await {
                tracing::error!(error = %e, "cannot save the notification state");
            }
        }
        out
    }

    /// Runs the notice's remaining steps; each success is removed (and saved) at once.
    async fn deliver_one(&mut self, i: usize, out: &mut Vec<Outcome>) -> Result<(), SendError> {
        while let Some(step) = self.state.outbox[i].steps.first().copied() {
            let notice = self.state.outbox[i].clone();
            let Some(ep) = self.state.episode(&notice.episode).cloned() else {
                // The episode is gone (state edited by hand): nothing to say.
                return Ok(());
            };
            let what = if self.dry_run {
                out.push(Outcome::DryRun {
                    episode: ep.id.clone(),
                    text: self.preview(step, &ep, notice.recovered),
                });
                None
            } else {
                self.step(step, i, &ep, notice.recovered).await?
            };
            self.state.outbox[i].steps.remove(0);
            self.state.outbox[i].last_error = None;
            if let Some(what) = what {
                out.push(Outcome::Sent {
                    episode: ep.id.clone(),
                    what,
                });
            }
            if let Err(e) = self.save().await {
                tracing::error!(error = %e, "cannot save the notification state");
            }
        }
        Ok(())
    }

    fn title(ep: &Episode, recovered: bool) -> String {
        let name = ep.device_name.as_deref().unwrap_or("device");
        if recovered {
            format!("{} ({name}) is no longer {}", ep.serial, ep.kind.label())
        } else {
            format!("Staging: {} ({name}) is {}", ep.serial, ep.kind.label())
        }
    }

    fn description(ep: &Episode) -> String {
        let code = ep
            .code
            .as_deref()
            .map(|c| {
                crate::status::deployment::result_code_label(c).unwrap_or_else(|| c.to_string())
            })
            .unwrap_or_else(|| "-".into());
        format!(
            "stagehand saw this device become {} at {}.\n\nSerial: {}\nDevice: {}\nIntune device id: {}\nStatus: {}\nCode: {}\n\nThe evidence bundle (Graph exports, timeline, audit records, manifest with SHA-256) is attached; check it with `stagehand evidence verify`.",
            ep.kind.label(),
            ep.opened_at.format("%Y-%m-%d %H:%M UTC"),
            ep.serial,
            ep.device_name.as_deref().unwrap_or("-"),
            ep.managed_device_id.as_deref().unwrap_or("-"),
            ep.message,
            code,
        )
    }

    fn teams_card(&self, ep: &Episode, recovered: bool) -> serde_json::Value {
        let incident = ep.incident.as_ref();
        let link = incident
            .zip(self.sn.as_ref())
            .map(|(i, sn)| (format!("Open {}", i.number), sn.incident_link(&i.sys_id)));
        let summary = if recovered {
            format!("Now: {}", ep.message)
        } else {
            ep.message.clone()
        };
        card(
            &Self::title(ep, recovered),
            &summary,
            &[
                Fact("Serial", &ep.serial),
                Fact("Device", ep.device_name.as_deref().unwrap_or("-")),
                Fact("Condition", ep.kind.label()),
                Fact("Incident", incident.map_or("-", |i| i.number.as_str())),
            ],
            link.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
        )
    }

    fn preview(&self, step: Step, ep: &Episode, recovered: bool) -> String {
        match step {
            Step::Incident => format!(
                "ServiceNow incident: {}\n{}",
                Self::title(ep, false),
                Self::description(ep)
            ),
            Step::Attach => format!(
                "ServiceNow attachment: the evidence bundle of {}",
                ep.serial
            ),
            Step::WorkNote => format!("ServiceNow work note: {}", Self::title(ep, true)),
            Step::Teams => format!(
                "Teams card: {}",
                serde_json::to_string_pretty(&self.teams_card(ep, recovered)).unwrap_or_default()
            ),
        }
    }

    async fn update_episode(&mut self, id: &str, f: impl FnOnce(&mut Episode)) {
        if let Some(e) = self.state.episode_mut(id) {
            f(e);
        }
        if let Err(e) = self.save().await {
            tracing::error!(error = %e, "cannot save the notification state");
        }
    }

    /// One step; `Ok(Some(what))` when something was sent, `Ok(None)` when it had nothing to do.
    async fn step(
        &mut self,
        step: Step,
        i: usize,
        ep: &Episode,
        recovered: bool,
    ) -> Result<Option<String>, SendError> {
        if self.sn.is_none() {
            if step == Step::Teams {
                return self.post_teams(ep, recovered).await;
            }
            return Ok(None);
        }
        let sn = || self.sn.as_ref().expect("checked above");
        match step {
            Step::Incident => {
                if ep.incident.is_some() {
                    return Ok(None);
                }
                if ep.create_unclear
                    && let Some(found) = sn().find_incident(&ep.id).await?
                {
                    let n = found.number.clone();
                    self.update_episode(&ep.id, |e| {
                        e.incident = Some(found);
                        e.create_unclear = false;
                    })
                    .await;
                    return Ok(Some(format!(
                        "incident {n} (found after an unclear answer)"
                    )));
                }
                let created = self
                    .sn
                    .as_ref()
                    .expect("checked above")
                    .create_incident(&Self::title(ep, false), &Self::description(ep), &ep.id)
                    .await;
                match created {
                    Ok(inc) => {
                        let n = inc.number.clone();
                        // Persisted before anything else happens: a retry never creates twice.
                        self.update_episode(&ep.id, |e| {
                            e.incident = Some(inc);
                            e.create_unclear = false;
                        })
                        .await;
                        Ok(Some(format!("incident {n}")))
                    }
                    Err(e) => {
                        if matches!(e, SendError::Failed { unclear: true, .. }) {
                            self.update_episode(&ep.id, |e| e.create_unclear = true)
                                .await;
                        }
                        Err(e)
                    }
                }
            }
            Step::Attach => {
                let Some(inc) = ep.incident.clone() else {
                    return Ok(None);
                };
                let path = match self.state.outbox[i].bundle.clone() {
                    Some(p) => p,
                    None => {
                        let Some(p) = self.collect_bundle(ep).await? else {
                            return Ok(None);
                        };
                        self.state.outbox[i].bundle = Some(p.clone());
                        let _ = self.save().await;
                        p
                    }
                };
                let bytes = std::fs::read(&path).map_err(|e| SendError::Failed {
                    message: format!("cannot read the bundle {}: {e}", path.display()),
                    unclear: false,
                })?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "evidence.zip".into());
                let sn = self.sn.as_ref().expect("checked above");
                sn.attach(&inc.sys_id, &name, "application/zip", bytes)
                    .await?;
                Ok(Some(format!("evidence {name} to {}", inc.number)))
            }
            Step::WorkNote => {
                let Some(inc) = ep.incident.clone() else {
                    // The incident may still be on its way (an earlier notice of this episode).
                    let earlier = self.state.outbox[..i]
                        .iter()
                        .any(|n| n.episode == ep.id && !n.recovered);
                    return if earlier {
                        Err(SendError::Failed {
                            message: "waiting for the incident to be created first".into(),
                            unclear: false,
                        })
                    } else {
                        Ok(None)
                    };
                };
                let text = format!(
                    "stagehand: {} at {}. Now: {}",
                    Self::title(ep, true),
                    ep.recovered_at
                        .unwrap_or_else(Utc::now)
                        .format("%Y-%m-%d %H:%M UTC"),
                    ep.message
                );
                self.sn
                    .as_ref()
                    .expect("checked above")
                    .work_note(&inc.sys_id, &text)
                    .await?;
                Ok(Some(format!("work note on {}", inc.number)))
            }
            Step::Teams => self.post_teams(ep, recovered).await,
        }
    }

    async fn post_teams(&self, ep: &Episode, recovered: bool) -> Result<Option<String>, SendError> {
        let Some(t) = self.teams.as_ref() else {
            return Ok(None);
        };
        t.post(&self.teams_card(ep, recovered)).await?;
        Ok(Some("Teams card".into()))
    }

    /// Collects the device's bundle, writes it as `<data dir>/evidence/<serial>-<time>.zip`.
    async fn collect_bundle(&self, ep: &Episode) -> Result<Option<PathBuf>, SendError> {
        let Some(src) = self.evidence.as_ref() else {
            return Ok(None);
        };
        let audit = crate::evidence::command::audit_records(&self.data_dir);
        let key = crate::serial::SerialKey::new(&ep.serial);
        let local = Local {
            status: None,
            queue: None,
            audit: audit
                .iter()
                .filter(|r| {
                    r.serial
                        .as_deref()
                        .is_some_and(|s| crate::serial::SerialKey::new(s) == key)
                })
                .collect(),
        };
        let mut sink = |_: String| {};
        let b = crate::evidence::collect(
            &src.client,
            &src.who,
            &ep.serial,
            &local,
            &Options::default(),
            &mut sink,
        )
        .await;
        let dir = self.data_dir.join("evidence");
        let path = dir.join(format!("{}.zip", crate::evidence::folder_name(&b)));
        std::fs::create_dir_all(&dir)
            .and_then(|_| crate::evidence::write_zip(&path, &[b]).map_err(std::io::Error::other))
            .map_err(|e| SendError::Failed {
                message: format!("cannot write the bundle: {e}"),
                unclear: false,
            })?;
        Ok(Some(path))
    }
}

/// A notice not delivered yet, as the console lists it (never a secret: the errors are the
/// clients' own, which name no credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub serial: String,
    /// `failed`, `stuck`, `noncompliant`.
    pub condition: &'static str,
    /// A recovery's notice (work note, card) rather than the opening one.
    pub recovered: bool,
    /// The steps left, in order.
    pub steps: Vec<Step>,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// What one round of the notifier task did, and what is still undelivered after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub outcomes: Vec<Outcome>,
    pub pending: Vec<Pending>,
}

impl Notifier {
    /// The outbox as the console lists it.
    pub fn pending_list(&self) -> Vec<Pending> {
        self.state
            .outbox
            .iter()
            .map(|n| {
                let ep = self.state.episode(&n.episode);
                Pending {
                    serial: ep.map_or_else(
                        || n.episode.split(':').next().unwrap_or_default().to_string(),
                        |e| e.serial.clone(),
                    ),
                    condition: ep.map_or("?", |e| e.kind.label()),
                    recovered: n.recovered,
                    steps: n.steps.clone(),
                    attempts: n.attempts,
                    next_at: n.next_at,
                    last_error: n.last_error.clone(),
                }
            })
            .collect()
    }
}

/// Runs the notifier: rows arrive on `rows` (one message per poll); delivery happens as notices
/// fall due. `report` gets a [`Round`] at start and after every round that sent, failed or
/// queued something (for the screen); the log gets every outcome too.
pub fn spawn(
    mut n: Notifier,
    mut rows: mpsc::UnboundedReceiver<Vec<Arc<DeviceStatus>>>,
    report: Option<mpsc::UnboundedSender<Round>>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Some(tx) = &report {
            let _ = tx.send(Round {
                outcomes: Vec::new(),
                pending: n.pending_list(),
            });
        }
        loop {
            let mut changed = false;
            let wait = n
                .next_due()
                .map(|t| (t - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = rows.recv() => match r {
                    Some(r) => {
                        match n.observe(r.iter().map(|x| &**x), Utc::now()).await {
                            Ok(c) => changed = !c.is_empty(),
                            Err(e) => {
                                tracing::error!(error = %e, "notifications: cannot record a poll")
                            }
                        }
                    }
                    None => return,
                },
                _ = tokio::time::sleep(wait) => {}
            }
            let outcomes = n.deliver_due(Utc::now()).await;
            for o in &outcomes {
                match o {
                    Outcome::Retry { .. } => tracing::warn!(outcome = %o, "notification"),
                    _ => tracing::info!(outcome = %o, "notification"),
                }
            }
            if let Some(tx) = &report
                && (changed || !outcomes.is_empty())
            {
                let _ = tx.send(Round {
                    outcomes,
                    pending: n.pending_list(),
                });
            }
        }
    })
}

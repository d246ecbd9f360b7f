//! What was sent, durably: the open episodes (with their incident once created), the recent
//! closed ones, and the outbox of notices not yet fully delivered. One JSON file in the data
//! dir, replaced atomically (temp file, fsync, rename, fsync the dir) after every change, so a
//! crash or restart never forgets an incident it created.
//!
//! This is the small type the store's SQLite table replaces once it lands; the rules (one
//! incident per device and episode, a recovery adds a note) live in [`SentState::observe`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::NotifyConfig;
use super::episodes::{Change, Kind};
use crate::status::DeviceStatus;
use crate::store::queue::serial_key;

/// How many closed episodes are kept for `notify status`.
const CLOSED_KEPT: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub sys_id: String,
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// `serial:kind:opened-at`, also the incident's `correlation_id`.
    pub id: String,
    pub serial: String,
    pub kind: Kind,
    pub opened_at: DateTime<Utc>,
    pub device_name: Option<String>,
    pub managed_device_id: Option<String>,
    pub message: String,
    pub code: Option<String>,
    pub incident: Option<Incident>,
    /// A create whose answer was lost: look it up by `correlation_id` before creating again.
    #[serde(default)]
    pub create_unclear: bool,
    pub recovered_at: Option<DateTime<Utc>>,
}

/// A delivery step, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Create the incident (Table API).
    Incident,
    /// Collect the bundle and attach it (Attachment API).
    Attach,
    /// A recovery's work note on the incident.
    WorkNote,
    /// The Teams card.
    Teams,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub episode: String,
    pub recovered: bool,
    /// Steps still to do, in order.
    pub steps: Vec<Step>,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The evidence zip attached (or to attach), once collected.
    pub bundle: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SentState {
    /// Open episodes by `serial-key|kind`.
    pub open: BTreeMap<String, Episode>,
    pub closed: Vec<Episode>,
    pub outbox: Vec<Notice>,
}

fn key(serial: &str, kind: Kind) -> String {
    format!("{}|{}", serial_key(serial), kind.label())
}

impl SentState {
    /// Reads the state; a missing file is an empty state, a damaged one an error naming it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                anyhow::anyhow!(
                    "{}: line {}, column {}: {e} (move it away to start over; open incidents would be opened again)",
                    path.display(),
                    e.line(),
                    e.column()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
    }

    /// Atomic replace.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self)?;
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
        f.write_all(&text)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        #[cfg(unix)]
        if let Some(dir) = path.parent() {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    pub fn episode(&self, id: &str) -> Option<&Episode> {
        self.open
            .values()
            .find(|e| e.id == id)
            .or_else(|| self.closed.iter().rev().find(|e| e.id == id))
    }

    pub fn episode_mut(&mut self, id: &str) -> Option<&mut Episode> {
        if let Some(e) = self.open.values_mut().find(|e| e.id == id) {
            return Some(e);
        }
        self.closed.iter_mut().rev().find(|e| e.id == id)
    }

    /// Opens an episode for each condition a row newly holds and closes those it no longer
    /// holds, queueing the notices. A stale row (its poll failed) changes nothing. Rows not
    /// present keep their episodes as they are.
    pub fn observe<'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a DeviceStatus>,
        cfg: &NotifyConfig,
        now: DateTime<Utc>,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        for row in rows {
            if row.flags.stale {
                continue;
            }
            for kind in Kind::ALL.into_iter().filter(|k| cfg.wants(*k)) {
                let k = key(&row.serial, kind);
                match (kind.holds(row), self.open.contains_key(&k)) {
                    (true, false) => {
                        let id = format!(
                            "{}:{}:{}",
                            serial_key(&row.serial),
                            kind.label(),
                            now.format("%Y%m%dT%H%M%SZ")
                        );
                        self.open.insert(
                            k,
                            Episode {
                                id: id.clone(),
                                serial: row.serial.to_string(),
                                kind,
                                opened_at: now,
                                device_name: row.device_name.as_deref().map(str::to_string),
                                managed_device_id: row
                                    .managed_device_id
                                    .as_deref()
                                    .map(str::to_string),
                                message: row.message.to_string(),
                                code: row.code.as_deref().map(str::to_string),
                                incident: None,
                                create_unclear: false,
                                recovered_at: None,
                            },
                        );
                        let mut steps = Vec::new();
                        if cfg.servicenow.is_some() {
                            steps.push(Step::Incident);
                            if cfg.attach_evidence {
                                steps.push(Step::Attach);
                            }
                        }
                        if cfg.teams.as_ref().is_some_and(|t| t.enabled) {
                            steps.push(Step::Teams);
                        }
                        self.queue(&id, false, steps, now);
                        out.push(Change::Opened { episode: id });
                    }
                    (false, true) => {
                        let Some(mut e) = self.open.remove(&k) else {
                            continue;
                        };
                        e.recovered_at = Some(now);
                        e.message = row.message.to_string();
                        let id = e.id.clone();
                        self.closed.push(e);
                        if self.closed.len() > CLOSED_KEPT {
                            let drop = self.closed.len() - CLOSED_KEPT;
                            // Never forget an episode a pending notice still needs.
                            let needed: Vec<String> =
                                self.outbox.iter().map(|n| n.episode.clone()).collect();
                            let mut dropped = 0;
                            self.closed.retain(|e| {
                                let keep = dropped >= drop || needed.contains(&e.id);
                                if !keep {
                                    dropped += 1;
                                }
                                keep
                            });
                        }
                        let mut steps = Vec::new();
                        if cfg.servicenow.is_some() {
                            steps.push(Step::WorkNote);
                        }
                        if cfg.teams.as_ref().is_some_and(|t| t.enabled) {
                            steps.push(Step::Teams);
                        }
                        self.queue(&id, true, steps, now);
                        out.push(Change::Recovered { episode: id });
                    }
                    _ => {}
                }
            }
        }
        out
    }

    fn queue(&mut self, episode: &str, recovered: bool, steps: Vec<Step>, now: DateTime<Utc>) {
        if steps.is_empty() {
            return;
        }
        self.outbox.push(Notice {
            episode: episode.into(),
            recovered,
            steps,
            attempts: 0,
            next_at: now,
            last_error: None,
            bundle: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{ServiceNowConfig, SnAuth, TeamsConfig};
    use crate::status::{Flags, Stage};

    fn row(serial: &str, stage: Stage, stale: bool) -> DeviceStatus {
        DeviceStatus {
            serial: serial.into(),
            stage,
            flags: Flags {
                stuck: false,
                stale,
                noncompliant: false,
            },
            device_name: None,
            managed_device_id: None,
            primary_user: None,
            enrolled_by: None,
            enrollment_state: None,
            deployment_status: None,
            last_sync: None,
            compliance: None,
            message: "m".into(),
            code: None,
            phase: None,
            since: Utc::now(),
            timeline: Vec::new().into(),
            raw: Default::default(),
        }
    }

    fn cfg() -> NotifyConfig {
        NotifyConfig {
            servicenow: Some(ServiceNowConfig {
                instance_url: "https://x.service-now.com".into(),
                auth: SnAuth::Basic,
                user: Some("u".into()),
                client_id: None,
                assignment_group: None,
                category: None,
                urgency: "2".into(),
                impact: "2".into(),
                caller: None,
                input_display_value: false,
            }),
            teams: Some(TeamsConfig { enabled: true }),
            ..NotifyConfig::default()
        }
    }

    #[test]
    fn one_episode_per_condition_until_it_clears_and_stale_rows_change_nothing() {
        let mut s = SentState::default();
        let now = Utc::now();
        let failed = row("pf1", Stage::Failed, false);
        assert_eq!(s.observe([&failed], &cfg(), now).len(), 1);
        for _ in 0..5 {
            assert!(s.observe([&failed], &cfg(), now).is_empty());
        }
        assert_eq!(s.outbox.len(), 1);
        assert_eq!(
            s.outbox[0].steps,
            vec![Step::Incident, Step::Attach, Step::Teams]
        );
        // A stale poll that says "provisioned" does not close it.
        assert!(
            s.observe([&row("PF1", Stage::Provisioned, true)], &cfg(), now)
                .is_empty()
        );
        let c = s.observe([&row("PF1", Stage::Provisioned, false)], &cfg(), now);
        assert!(matches!(&c[..], [Change::Recovered { .. }]));
        assert_eq!(s.outbox[1].steps, vec![Step::WorkNote, Step::Teams]);
        // Failing again is a new episode.
        assert!(matches!(
            &s.observe([&failed], &cfg(), now)[..],
            [Change::Opened { .. }]
        ));
        let mut off = cfg();
        off.on_failed = false;
        let mut t = SentState::default();
        assert!(t.observe([&failed], &off, now).is_empty());
    }

    #[test]
    fn state_survives_a_reload_and_a_damaged_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notify-state.json");
        let mut s = SentState::default();
        s.observe([&row("PF1", Stage::Failed, false)], &cfg(), Utc::now());
        s.save(&p).unwrap();
        let mut back = SentState::load(&p).unwrap();
        assert_eq!(back, s);
        assert!(
            back.observe([&row("PF1", Stage::Failed, false)], &cfg(), Utc::now())
                .is_empty()
        );
        std::fs::write(&p, "{\n  \"open\": 3").unwrap();
        let e = SentState::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("notify-state.json") && e.contains("line 2"),
            "{e}"
        );
    }
}

//! What was sent, durably: the open episodes (with their incident once created), the recent
//! closed ones, and the outbox of notices not yet fully delivered. They live in the store's
//! `keyed_state` table (kind `notification_sent`: one row per episode, key its id; kind
//! `notification_outbox`: one row per notice, key its place), rewritten in one transaction after
//! every change through the store thread, so a crash or restart never forgets an incident it
//! created. The `notify-state.json` of an older stagehand is imported once ([`SentState::open_in`]).
//! The rules (one incident per device and episode, a recovery adds a note) live in
//! [`SentState::observe`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::NotifyConfig;
use super::episodes::{Change, Kind};
use crate::serial::SerialKey;
use crate::status::DeviceStatus;
use crate::store::{Store, StoreError, state};
use rusqlite::{Connection, Transaction};

/// `keyed_state` kind of the episodes (key: the episode id).
pub const KIND_EPISODE: &str = "notification_sent";
/// `keyed_state` kind of the notices not yet delivered (key: the place in the outbox).
pub const KIND_OUTBOX: &str = "notification_outbox";
/// The file an older stagehand kept this in.
pub const LEGACY_FILE: &str = "notify-state.json";

/// One `notification_sent` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredEpisode {
    open: bool,
    /// Open ones first, then closed in the order they closed.
    position: usize,
    episode: Episode,
}

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
    format!("{}|{}", SerialKey::new(serial), kind.label())
}

impl SentState {
    /// Reads the JSON file an older stagehand kept (`notify-state.json`); a damaged one is an
    /// error naming it.
    pub fn from_file(path: &Path, bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Io {
            file: path.to_path_buf(),
            action: "import the notification state",
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {}, column {}: {e} (move it away to start over; open incidents would be opened again)",
                    e.line(),
                    e.column()
                ),
            ),
        })
    }

    /// Replaces what the store holds with `self` (inside the caller's transaction).
    pub fn write(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        state::delete_kind(tx, KIND_EPISODE)?;
        state::delete_kind(tx, KIND_OUTBOX)?;
        for (position, (open, e)) in self
            .open
            .values()
            .map(|e| (true, e))
            .chain(self.closed.iter().map(|e| (false, e)))
            .enumerate()
        {
            let row = StoredEpisode {
                open,
                position,
                episode: e.clone(),
            };
            state::put(tx, KIND_EPISODE, &e.id, &row)?;
        }
        for (i, n) in self.outbox.iter().enumerate() {
            state::put(tx, KIND_OUTBOX, &format!("{i:08}"), n)?;
        }
        Ok(())
    }

    /// What the store holds.
    pub fn read(conn: &Connection, path: &Path) -> Result<Self, StoreError> {
        let mut episodes: Vec<StoredEpisode> = state::all(conn, path, KIND_EPISODE)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        episodes.sort_by_key(|e| e.position);
        let mut s = Self::default();
        for e in episodes {
            if e.open {
                s.open
                    .insert(key(&e.episode.serial, e.episode.kind), e.episode);
            } else {
                s.closed.push(e.episode);
            }
        }
        s.outbox = state::all(conn, path, KIND_OUTBOX)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        Ok(s)
    }

    /// On the store thread: imports `notify-state.json` once (kept as
    /// `notify-state.json.migrated`), then reads what the store holds.
    pub fn open_in(store: &mut Store) -> Result<Self, StoreError> {
        state::import_file_once(store, LEGACY_FILE, Self::from_file, |tx, s| s.write(tx))?;
        Self::read(store.conn(), store.path())
    }

    /// Read without the data-dir lock (beside a running console): the store's rows, or a
    /// `notify-state.json` not imported yet.
    pub fn read_only(data_dir: &Path) -> anyhow::Result<Self> {
        let file = data_dir.join(LEGACY_FILE);
        if file.exists() {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            return Ok(Self::from_file(&file, &bytes)?);
        }
        match crate::store::db::open_read_only(data_dir)? {
            Some(conn) => Ok(Self::read(&conn, &data_dir.join(crate::store::DB_FILE))?),
            None => Ok(Self::default()),
        }
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
                            SerialKey::new(&row.serial),
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
    fn state_survives_a_reopen_of_the_store_and_a_damaged_old_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SentState::default();
        let now = Utc::now();
        s.observe([&row("PF1", Stage::Failed, false)], &cfg(), now);
        s.observe([&row("PF2", Stage::Failed, false)], &cfg(), now);
        s.observe([&row("PF2", Stage::Provisioned, false)], &cfg(), now);
        {
            let (mut store, _, _) = Store::open(dir.path()).unwrap();
            store.write("t", |tx| s.write(tx)).unwrap();
        }
        let (mut store, _, _) = Store::open(dir.path()).unwrap();
        let mut back = SentState::open_in(&mut store).unwrap();
        assert_eq!(back, s);
        assert!(
            back.observe([&row("PF1", Stage::Failed, false)], &cfg(), Utc::now())
                .is_empty()
        );
        drop(store);
        std::fs::write(dir.path().join(LEGACY_FILE), "{\n  \"open\": 3").unwrap();
        let (mut store, _, _) = Store::open(dir.path()).unwrap();
        let e = SentState::open_in(&mut store).unwrap_err().to_string();
        assert!(
            e.contains("notify-state.json") && e.contains("line 2"),
            "{e}"
        );
        assert!(dir.path().join(LEGACY_FILE).exists(), "left alone");
    }
}

//! `stagehand notify login|test|status|run`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::deliver::{EvidenceSource, Notifier};
use super::servicenow::SnClient;
use super::teams::{Fact, TeamsClient, card};
use super::{NotifyConfig, secrets};
use crate::auth::store::CredentialCache;
use crate::secret::Secret;

#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum NotifyCommand {
    /// Store the ServiceNow password / OAuth client secret or the Teams webhook URL (read from
    /// stdin) in the OS credential store.
    Login {
        #[arg(long, conflicts_with = "teams")]
        servicenow: bool,
        #[arg(long)]
        teams: bool,
    },
    /// Remove the stored notification secrets.
    Logout,
    /// Check ServiceNow sign-in (reads one incident, creates nothing) and post a test card.
    Test {
        /// Print what would be sent instead.
        #[arg(long)]
        dry_run: bool,
    },
    /// Open episodes, their incidents, and notices not yet delivered.
    Status,
    /// Poll the queue's devices and notify as they fail (Ctrl-C stops).
    Run {
        /// One poll and one delivery round, then exit.
        #[arg(long)]
        once: bool,
        /// Print what would be sent; send nothing, remember nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Stores the secrets `cfg` needs, read one per line from `input`.
pub fn login(
    cfg: &NotifyConfig,
    cache: &CredentialCache,
    servicenow: bool,
    teams: bool,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let mut read = |prompt: &str| -> anyhow::Result<Secret> {
        writeln!(out, "{prompt}")?;
        out.flush()?;
        let mut line = String::new();
        input.read_line(&mut line)?;
        let v = line.trim_end_matches(['\r', '\n']).to_string();
        anyhow::ensure!(!v.is_empty(), "nothing was entered");
        Ok(Secret::new(v))
    };
    let both = !servicenow && !teams;
    let mut stored = 0;
    if servicenow || both {
        match &cfg.servicenow {
            None if servicenow => anyhow::bail!("no [notify.servicenow] in the config"),
            None => {}
            Some(sn) => {
                if let Some(k) = secrets::password_key(sn) {
                    let user = sn.user.as_deref().unwrap_or_default();
                    let s = read(&format!("ServiceNow password for {user} (one line):"))?;
                    cache.save(&k, &s)?;
                    stored += 1;
                }
                if sn.auth == super::SnAuth::Oauth
                    && let Some(k) = secrets::client_secret_key(sn)
                {
                    let s = read("ServiceNow OAuth client secret (one line):")?;
                    cache.save(&k, &s)?;
                    stored += 1;
                }
            }
        }
    }
    if teams || both {
        match &cfg.teams {
            None if teams => anyhow::bail!("no [notify.teams] in the config"),
            None => {}
            Some(_) => {
                let s = read("Teams Workflows webhook URL (one line; it is a secret):")?;
                TeamsClient::new(s.clone())?;
                cache.save(secrets::TEAMS_KEY, &s)?;
                stored += 1;
            }
        }
    }
    anyhow::ensure!(
        stored > 0,
        "nothing to store: add [notify.servicenow] or [notify.teams] to the config"
    );
    writeln!(out, "stored {stored} secret(s) in the OS credential store")?;
    Ok(ExitCode::SUCCESS)
}

/// The clients the config asks for, with their secrets from `cache`.
pub fn clients(
    cfg: &NotifyConfig,
    cache: &CredentialCache,
) -> anyhow::Result<(Option<SnClient>, Option<TeamsClient>)> {
    let sn = match &cfg.servicenow {
        Some(c) => Some(SnClient::new(
            c.clone(),
            secrets::load_servicenow(cache, c)?,
        )?),
        None => None,
    };
    let teams = match &cfg.teams {
        Some(t) if t.enabled => match secrets::load_teams(cache)? {
            Some(url) => Some(TeamsClient::new(url)?),
            None => {
                anyhow::bail!("no Teams webhook URL stored: run `stagehand notify login --teams`")
            }
        },
        _ => None,
    };
    Ok((sn, teams))
}

/// `notify test`.
pub async fn test(
    cfg: &NotifyConfig,
    sn: Option<&SnClient>,
    teams: Option<&TeamsClient>,
    dry_run: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(cfg.enabled(), "nothing configured under [notify]");
    let envelope = card(
        "stagehand test message",
        "If you can read this, stagehand can post to this channel.",
        &[Fact(
            "Sent",
            &chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        )],
        None,
    );
    let mut failed = false;
    if let Some(sn) = sn {
        if dry_run {
            writeln!(
                out,
                "would read one incident from ServiceNow to check the sign-in"
            )?;
        } else {
            match sn.find_incident("stagehand-notify-test").await {
                Ok(_) => writeln!(out, "ServiceNow: signed in, the incident table is readable")?,
                Err(e) => {
                    failed = true;
                    writeln!(out, "ServiceNow: {e}")?
                }
            }
        }
    }
    if let Some(t) = teams {
        if dry_run {
            writeln!(
                out,
                "would post to Teams:\n{}",
                serde_json::to_string_pretty(&envelope)?
            )?;
        } else {
            match t.post(&envelope).await {
                Ok(()) => writeln!(out, "Teams: test card accepted")?,
                Err(e) => {
                    failed = true;
                    writeln!(out, "Teams: {e}")?
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `notify status`.
pub fn status(data_dir: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let s = super::sent::SentState::read_only(data_dir)?;
    writeln!(out, "{} open episode(s)", s.open.len())?;
    for e in s.open.values() {
        writeln!(
            out,
            "  {} {} since {} incident {}",
            crate::evidence::printable(&e.serial),
            e.kind.label(),
            e.opened_at.format("%Y-%m-%d %H:%M UTC"),
            e.incident.as_ref().map_or("-", |i| i.number.as_str())
        )?;
    }
    writeln!(out, "{} notice(s) not yet delivered", s.outbox.len())?;
    for n in &s.outbox {
        writeln!(
            out,
            "  {} {:?} attempts {} next {} {}",
            crate::evidence::printable(&n.episode),
            n.steps,
            n.attempts,
            n.next_at.format("%H:%M:%S UTC"),
            n.last_error
                .as_deref()
                .map(crate::evidence::printable)
                .unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `notify run`: a status poll over the queue, then delivery, every poll interval.
pub async fn run(
    mut n: Notifier,
    client: &crate::graph::GraphClient,
    config: &crate::config::Config,
    data_dir: &Path,
    once: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let mut poller = crate::status::poll::Poller::new(client.clone(), config.clone());
    loop {
        let (queue, _, _) = crate::evidence::command::local_records(data_dir);
        let rows = poller.cycle(&queue, chrono::Utc::now()).await?;
        let changes = n
            .observe(rows.iter().map(|r| &**r), chrono::Utc::now())
            .await?;
        for c in changes {
            writeln!(out, "{c:?}")?;
        }
        for o in n.deliver_due(chrono::Utc::now()).await {
            writeln!(out, "{}", crate::evidence::printable(&o.to_string()))?;
        }
        out.flush()?;
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        let wait = crate::status::plan::next_interval(&poller.cadence(), poller.moving, 0, None);
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Builds the notifier the console or `notify run` uses: the secrets from the credential store
/// (read off the async workers), what was sent from the store.
pub async fn notifier(
    config: &crate::config::Config,
    data_dir: &Path,
    store: crate::store::StoreClient,
    cache: CredentialCache,
    evidence: Option<EvidenceSource>,
) -> anyhow::Result<Notifier> {
    let cfg = config.notify.clone();
    let (sn, teams) = tokio::task::spawn_blocking(move || clients(&cfg, &cache)).await??;
    Notifier::open(config.notify.clone(), store, data_dir, sn, teams, evidence).await
}

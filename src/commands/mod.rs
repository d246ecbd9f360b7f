//! The subcommands: `dispatch` sorts each by what it needs (nothing, the log, or a signed-in
//! Graph client), sets that up once, and runs it. The console and the demo are wired in
//! `runtime::wire`; the headless subcommands are the console's twins for scripts and schedulers.

pub mod autopilot;
mod autopilot_push;
pub(crate) mod connect;
mod console;
mod demo;
pub mod devices;
pub mod doctor;
pub(crate) mod intake;
mod notify;
pub mod review;
pub(crate) mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::config::{Config, Overrides};
use crate::{auth, evidence, logging, prep, report, sim, text};

/// What a command is run with, read once from the command line and the environment.
pub struct Context {
    pub config: Config,
    /// The config file read, if any (named in errors about its settings).
    pub config_path: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub verbose: u8,
    /// A Graph host that is not Microsoft's, said once on stderr (the console shows it too).
    pub graph_warning: Option<String>,
}

/// What a subcommand needs before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing: offline work, or it opens its own log (the console, the demo, the simulator).
    Nothing,
    /// The log file, but no Graph sign-in.
    Log,
    /// The log and a signed-in Graph client (from the credential cache, no prompt).
    Graph,
}

fn need(command: &Command) -> Need {
    use evidence::command::EvidenceCommand;
    use intake::IntakeCommand;
    match command {
        Command::Demo(_) | Command::Sim(_) | Command::Prep(_) => Need::Nothing,
        Command::Intake(a) => match a.command {
            IntakeCommand::Push | IntakeCommand::Remove(_) => Need::Graph,
            _ => Need::Nothing,
        },
        Command::Evidence(a) => match a.command {
            Some(EvidenceCommand::Verify { .. }) => Need::Nothing,
            _ => Need::Graph,
        },
        Command::Autopilot(a) => match a.command {
            autopilot::AutopilotCommand::Show(_) => Need::Nothing,
            _ => Need::Graph,
        },
        Command::Devices(a) if a.session.demo => Need::Log,
        Command::Doctor(a) if a.demo || a.demo_broken.is_some() => Need::Log,
        Command::Notify(a) => match a.command {
            crate::notify::command::NotifyCommand::Run { .. } => Need::Graph,
            _ => Need::Log,
        },
        Command::Login(_) | Command::Logout | Command::Whoami(_) => Need::Log,
        Command::Devices(_)
        | Command::Doctor(_)
        | Command::Review(_)
        | Command::Reassign(_)
        | Command::Status(_)
        | Command::Report(_) => Need::Graph,
    }
}

/// Runs a parsed command line: the console when no subcommand is given.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    let overrides = Overrides {
        config_path: g.config.clone(),
        tenant: g.tenant.clone(),
        client_id: g.client_id.clone(),
        graph_url: g.graph_url.clone(),
        login_url: g.login_url.clone(),
    };
    let (config, config_path) = Config::load(&overrides, &|k| std::env::var(k).ok())?;
    let graph_warning = config.graph_url_warning();
    if let Some(w) = &graph_warning {
        eprintln!("stagehand: warning: {w}");
    }
    let ctx = Context {
        config,
        config_path,
        data_dir: data_dir(g.data_dir.clone())?,
        verbose: g.verbose,
        graph_warning,
    };
    let Some(command) = cli.command else {
        return console::run(ctx).await;
    };
    match need(&command) {
        Need::Nothing => offline(command, ctx).await,
        Need::Log => {
            let _log = logging::init(&ctx.data_dir, ctx.verbose)?;
            local(command, &ctx).await
        }
        Need::Graph => {
            let _log = logging::init(&ctx.data_dir, ctx.verbose)?;
            if matches!(
                command,
                Command::Review(_) | Command::Reassign(_) | Command::Status(_)
            ) {
                require_staging_accounts(&ctx.config, ctx.config_path.as_deref())?;
            }
            let c =
                connect::connect(&ctx.config, &ctx.data_dir)
                    .await
                    .map_err(|e| match &command {
                        Command::Devices(_) => anyhow::anyhow!(
                            "{e} (or pass --demo to try it against the simulated tenant)"
                        ),
                        Command::Doctor(_) => {
                            anyhow::anyhow!("{e} (or pass --demo to check the simulated tenant)")
                        }
                        _ => e,
                    })?;
            signed_in(command, &ctx, &c).await
        }
    }
}

/// Commands that need neither the log nor a sign-in.
async fn offline(command: Command, ctx: Context) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout();
    match command {
        Command::Demo(args) => demo::run(args, ctx).await,
        Command::Sim(args) => {
            sim::run_cli(&args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Prep(args) => {
            let code = prep::run_with_config(&args, &ctx.config);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(2)))
        }
        Command::Intake(args) => intake::run(&args, &ctx.config, &ctx.data_dir),
        Command::Evidence(evidence::command::EvidenceArgs {
            command: Some(evidence::command::EvidenceCommand::Verify { path }),
            ..
        }) => evidence::command::run_verify(&path, &mut stdout),
        Command::Autopilot(autopilot::AutopilotArgs {
            command: autopilot::AutopilotCommand::Show(a),
        }) => autopilot::run_show(&a, &mut stdout),
        other => unreachable!("{} needs more than nothing", name(&other)),
    }
}

/// Commands that write the log but use no Graph session.
async fn local(command: Command, ctx: &Context) -> anyhow::Result<ExitCode> {
    let (config, data_dir) = (&ctx.config, &ctx.data_dir);
    let mut out = text::TermWriter::new(std::io::stdout());
    match command {
        Command::Devices(args) => devices::run(&args, config, data_dir).await,
        Command::Doctor(args) => doctor::run(&args, config).await,
        Command::Notify(args) => notify::run(args, ctx).await,
        Command::Login(args) => auth::commands::login(config, data_dir, &args, &mut out).await,
        Command::Logout => auth::commands::logout(data_dir, &mut out).await,
        Command::Whoami(args) => {
            let env = |k: &str| std::env::var(k).ok();
            auth::commands::whoami(config, data_dir, &args, &env, &mut out).await
        }
        other => unreachable!("{} needs a Graph session", name(&other)),
    }
}

/// Commands that talk to the tenant as the signed-in account (or app).
async fn signed_in(
    command: Command,
    ctx: &Context,
    c: &connect::Connected,
) -> anyhow::Result<ExitCode> {
    let (config, data_dir) = (&ctx.config, &ctx.data_dir);
    let mut out = text::TermWriter::new(std::io::stdout());
    match command {
        Command::Devices(args) => {
            let session = devices::DevicesSession {
                client: c.client.clone(),
                actor: c.actor.clone(),
                sim: None,
            };
            devices::run_with(&args.command, &session, config, data_dir).await
        }
        Command::Doctor(args) => {
            let opts = crate::doctor::DoctorOptions {
                stale_days: args.stale_days,
                granted_scopes: c.scopes.clone(),
            };
            let results =
                crate::doctor::run_checks_with(&c.client, config, chrono::Utc::now(), &opts).await;
            Ok(crate::doctor::print(&results, args.json))
        }
        Command::Intake(args) => match &args.command {
            intake::IntakeCommand::Remove(remove) => {
                intake::run_remove(
                    remove,
                    data_dir,
                    &c.client,
                    &c.actor,
                    &mut intake::confirm_on_tty,
                )
                .await
            }
            _ => intake::run_push(config, data_dir, &c.client, &c.actor).await,
        },
        Command::Review(args) => review::review(&c.client, config, data_dir, &args, &mut out).await,
        Command::Reassign(args) => {
            let report = review::reassign(
                &c.client,
                config,
                data_dir,
                &c.actor,
                &args,
                &mut std::io::stdin().lock(),
                &mut out,
            )
            .await?;
            Ok(report.exit_code())
        }
        Command::Status(args) => status::run(&args, config, data_dir, c.client.clone()).await,
        Command::Evidence(args) => {
            let who = evidence::Collector {
                tenant: config.tenant.id.clone().unwrap_or_default(),
                collector: c.actor.clone(),
            };
            let (code, _) = evidence::command::run_with(
                &c.client,
                config,
                data_dir,
                &who,
                &args,
                &mut std::io::stdout(),
            )
            .await?;
            Ok(code)
        }
        Command::Report(args) => {
            report::run(&c.client, config, data_dir, &args, &mut std::io::stdout()).await
        }
        Command::Autopilot(args) => autopilot::run(args, data_dir, c).await,
        Command::Notify(args) => notify::run_signed_in(args, ctx, c).await,
        other => unreachable!("{} runs without a Graph session", name(&other)),
    }
}

/// The subcommand's name, for the messages of impossible branches.
fn name(command: &Command) -> String {
    let debug = format!("{command:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// The data dir: flag or `STAGEHAND_DATA_DIR` (clap reads both), else the platform default.
fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(d) => d,
        None => crate::config::default_data_dir().context("no home directory: pass --data-dir")?,
    };
    crate::private::data_dir(&dir).with_context(|| format!("data dir {}", dir.display()))?;
    Ok(dir)
}

/// `status`, `review` and `reassign` track devices by their staging accounts: with none
/// configured they would print an empty answer that looks like "nothing to do". Refuse instead,
/// naming the setting and the file to put it in (the caller exits 2).
pub fn require_staging_accounts(
    config: &crate::config::Config,
    config_path: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if config.staging.accounts.iter().any(|a| !a.trim().is_empty()) {
        return Ok(());
    }
    let file = config_path.map_or_else(
        || "stagehand.toml in the config directory (or --config PATH)".to_string(),
        |p| p.display().to_string(),
    );
    anyhow::bail!(
        "[staging] accounts is empty: list the staging account UPNs in {file}, e.g. \
         [staging] accounts = [\"staging01@contoso.com\"]; devices are tracked by the account \
         that enrolled them"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn need_of(args: &[&str]) -> Need {
        let cli = Cli::try_parse_from(std::iter::once("stagehand").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        need(&cli.command.expect("a subcommand"))
    }

    #[test]
    fn each_subcommand_gets_the_log_and_a_sign_in_only_when_it_uses_them() {
        for (args, want) in [
            (
                &["prep", "in.csv", "--output", "out.csv"][..],
                Need::Nothing,
            ),
            (&["intake", "add", "S1"], Need::Nothing),
            (&["intake", "push"], Need::Graph),
            (&["evidence", "verify", "bundle"], Need::Nothing),
            (&["evidence", "S1"], Need::Graph),
            (&["autopilot", "show", "h.csv"], Need::Nothing),
            (&["autopilot", "tag", "S1", "--group-tag", "T"], Need::Graph),
            (&["doctor", "--demo"], Need::Log),
            (&["doctor"], Need::Graph),
            (&["devices", "--demo", "list"], Need::Log),
            (&["notify", "status"], Need::Log),
            (&["notify", "run", "--once"], Need::Graph),
            (&["whoami"], Need::Log),
            (&["status"], Need::Graph),
            (&["demo"], Need::Nothing),
        ] {
            assert_eq!(need_of(args), want, "{args:?}");
        }
    }

    #[test]
    fn an_empty_staging_list_is_refused_naming_the_setting_and_file() {
        let mut c = crate::config::Config::default();
        let e = require_staging_accounts(&c, Some(std::path::Path::new("/etc/sh.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[staging] accounts") && e.contains("/etc/sh.toml"),
            "{e}"
        );
        c.staging.accounts = vec!["  ".into()];
        assert!(require_staging_accounts(&c, None).is_err());
        c.staging.accounts = vec!["s@contoso.com".into()];
        assert!(require_staging_accounts(&c, None).is_ok());
    }
}

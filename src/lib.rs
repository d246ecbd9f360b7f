//! stagehand: a terminal console for staging corporate Windows devices into Microsoft Intune.
//!
//! `main.rs` is thin; everything is reachable from here so tests drive the app in-process.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod error;
pub mod logging;
pub mod runtime;
pub mod secret;
pub mod term;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use app::{App, Cmd, Msg};
use cli::{Cli, Command};
use config::{Config, Overrides};

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    let overrides = Overrides {
        config_path: g.config.clone(),
        tenant: g.tenant.clone(),
        client_id: g.client_id.clone(),
        graph_url: g.graph_url.clone(),
        login_url: g.login_url.clone(),
    };
    let (config, _path) = Config::load(&overrides, &|k| std::env::var(k).ok())?;
    let data_dir = data_dir(g.data_dir.clone())?;
    match cli.command {
        None => {
            let app = App::new(config, chrono::Utc::now());
            console(app, data_dir, g.verbose).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo(_args)) => {
            let mut app = App::new(config, chrono::Utc::now());
            app.demo = true;
            app.tenant = "simulated tenant".into();
            console(app, data_dir.join("demo"), g.verbose).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Login(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            auth::commands::login(&config, &data_dir, &args, &mut std::io::stdout()).await
        }
        Some(Command::Logout) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            auth::commands::logout(&data_dir, &mut std::io::stdout()).await
        }
        Some(Command::Whoami(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            let env = |k: &str| std::env::var(k).ok();
            auth::commands::whoami(&config, &data_dir, &args, &env, &mut std::io::stdout()).await
        }
    }
}

/// The data dir: flag or `STAGEHAND_DATA_DIR` (clap reads both), else the platform default.
fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(d) => d,
        None => config::default_data_dir().context("no home directory: pass --data-dir")?,
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    Ok(dir)
}

/// Effects the real console runs.
struct ConsoleEffects {
    bell: bool,
}

impl runtime::Effects for ConsoleEffects {
    fn run(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Bell => {
                if self.bell {
                    term::bell();
                }
            }
            Cmd::RefreshAll => {}
        }
    }
}

/// Opens the full-screen console and runs it until quit. The terminal is restored on every path.
async fn console(mut app: App, data_dir: PathBuf, verbose: u8) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data_dir)?;
    let _log = logging::init(&data_dir, verbose)?;
    tracing::info!(data_dir = %data_dir.display(), demo = app.demo, "console starting");
    let mut guard = term::TerminalGuard::enter().context("cannot open the terminal")?;
    let size = guard.terminal.size()?;
    app.update(Msg::Resize {
        width: size.width,
        height: size.height,
    });

    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let (_feed_tx, feed_rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(runtime::input::run(input_tx.clone(), cancel.clone()));
    tasks.spawn(runtime::signals::run(input_tx.clone()));

    let mut inbox = runtime::Inbox {
        input: input_rx,
        feeds: feed_rx,
    };
    let mut effects = ConsoleEffects {
        bell: app.config.intake.bell_on_error,
    };
    let result = runtime::run_loop(&mut guard.terminal, &mut app, &mut inbox, &mut effects).await;

    cancel.cancel();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(guard);
    let stats = result?;
    tracing::info!(?stats, "console stopped");
    Ok(())
}

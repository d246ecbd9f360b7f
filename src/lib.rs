//! stagehand: a terminal console for staging corporate Windows devices into Microsoft Intune.
//!
//! `main.rs` is thin; everything is reachable from here so tests drive the app in-process.

pub mod alloc;
pub mod app;
pub mod auth;
pub mod autopilot;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod devices;
pub mod doctor;
pub mod error;
pub mod evidence;
pub mod export;
pub mod feeds;
pub mod graph;
pub mod logging;
pub mod notify;
pub mod prep;
pub mod private;
pub mod report;
pub mod review;
pub mod runtime;
pub mod secret;
pub mod serial;
pub mod sim;
pub mod status;
pub mod store;
pub mod term;
pub mod text;

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
    let (config, config_path) = Config::load(&overrides, &|k| std::env::var(k).ok())?;
    let graph_warning = config.graph_url_warning();
    if let Some(w) = &graph_warning {
        eprintln!("stagehand: warning: {w}");
    }
    let data_dir = data_dir(g.data_dir.clone())?;
    match cli.command {
        None => {
            let mut app = App::new(config, chrono::Utc::now());
            let live = match commands::connect::connect_console(&app.config, &data_dir).await {
                Ok(link) => {
                    app.signin.unavailable = None;
                    if let Some(s) = link.live.current() {
                        app.session = app::SessionState::SignedIn {
                            account: s.account().to_string(),
                        };
                    }
                    Some(Live::from(link))
                }
                Err(e) => {
                    // The console still opens: scanning works offline and uploads wait.
                    app.intake.notice = Some(format!("not connected: {}", text::escape(&e)));
                    app.signin.unavailable = Some(format!("cannot sign in: {e}"));
                    None
                }
            };
            if let Some(w) = graph_warning
                && app.intake.notice.is_none()
            {
                app.intake.notice = Some(format!("warning: {w}"));
            }
            console(app, data_dir, g.verbose, live).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo(args)) => demo(args, config, data_dir, g.verbose).await,
        Some(Command::Autopilot(args)) => autopilot(args, &config, &data_dir, g.verbose).await,
        Some(Command::Devices(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            if args.session.demo {
                return commands::devices::run(&args, &config, &data_dir).await;
            }
            let c = commands::connect::connect(&config, &data_dir)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("{e} (or pass --demo to try it against the simulated tenant)")
                })?;
            let session = commands::devices::Session {
                client: c.client,
                actor: c.actor,
                sim: None,
            };
            commands::devices::run_with(&args.command, &session, &config, &data_dir).await
        }
        Some(Command::Doctor(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            if args.demo || args.demo_broken.is_some() {
                return commands::doctor::run(&args, &config).await;
            }
            let c = commands::connect::connect(&config, &data_dir)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("{e} (or pass --demo to check the simulated tenant)")
                })?;
            let opts = doctor::DoctorOptions {
                stale_days: args.stale_days,
                granted_scopes: c.scopes.clone(),
            };
            let results =
                doctor::run_checks_with(&c.client, &config, chrono::Utc::now(), &opts).await;
            Ok(doctor::print(&results, args.json))
        }
        Some(Command::Intake(args)) => {
            if matches!(args.command, commands::intake::IntakeCommand::Push) {
                let _log = logging::init(&data_dir, g.verbose)?;
                let c = commands::connect::connect(&config, &data_dir).await?;
                return commands::intake::run_push(&config, &data_dir, &c.client, &c.actor).await;
            }
            if let commands::intake::IntakeCommand::Remove(remove) = &args.command {
                let _log = logging::init(&data_dir, g.verbose)?;
                let c = commands::connect::connect(&config, &data_dir).await?;
                return commands::intake::run_remove(
                    remove,
                    &data_dir,
                    &c.client,
                    &c.actor,
                    &mut commands::intake::confirm_on_tty,
                )
                .await;
            }
            commands::intake::run(&args, &config, &data_dir)
        }
        Some(Command::Review(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            commands::require_staging_accounts(&config, config_path.as_deref())?;
            let c = commands::connect::connect(&config, &data_dir).await?;
            commands::review::review(
                &c.client,
                &config,
                &data_dir,
                &args,
                &mut text::TermWriter::new(std::io::stdout()),
            )
            .await
        }
        Some(Command::Reassign(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            commands::require_staging_accounts(&config, config_path.as_deref())?;
            let c = commands::connect::connect(&config, &data_dir).await?;
            let actor = c.actor.clone();
            let report = commands::review::reassign(
                &c.client,
                &config,
                &data_dir,
                &actor,
                &args,
                &mut std::io::stdin().lock(),
                &mut text::TermWriter::new(std::io::stdout()),
            )
            .await?;
            Ok(report.exit_code())
        }
        Some(Command::Status(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            commands::require_staging_accounts(&config, config_path.as_deref())?;
            let c = commands::connect::connect(&config, &data_dir).await?;
            commands::status::run(&args, &config, &data_dir, c.client).await
        }
        Some(Command::Evidence(args)) => {
            if let Some(evidence::command::EvidenceCommand::Verify { path }) = &args.command {
                return evidence::command::run_verify(path, &mut std::io::stdout());
            }
            let _log = logging::init(&data_dir, g.verbose)?;
            let c = commands::connect::connect(&config, &data_dir).await?;
            let who = evidence::Collector {
                tenant: config.tenant.id.clone().unwrap_or_default(),
                collector: c.actor.clone(),
            };
            let mut out = std::io::stdout();
            let (code, _) =
                evidence::command::run_with(&c.client, &config, &data_dir, &who, &args, &mut out)
                    .await?;
            Ok(code)
        }
        Some(Command::Report(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            let c = commands::connect::connect(&config, &data_dir).await?;
            report::run(&c.client, &config, &data_dir, &args, &mut std::io::stdout()).await
        }
        Some(Command::Notify(args)) => notify_command(args, config, data_dir, g.verbose).await,
        Some(Command::Sim(args)) => {
            sim::run_cli(&args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Prep(args)) => {
            let code = prep::run_with_config(&args, &config);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(2)))
        }
        Some(Command::Login(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            auth::commands::login(
                &config,
                &data_dir,
                &args,
                &mut text::TermWriter::new(std::io::stdout()),
            )
            .await
        }
        Some(Command::Logout) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            auth::commands::logout(&data_dir, &mut text::TermWriter::new(std::io::stdout())).await
        }
        Some(Command::Whoami(args)) => {
            let _log = logging::init(&data_dir, g.verbose)?;
            let env = |k: &str| std::env::var(k).ok();
            auth::commands::whoami(
                &config,
                &data_dir,
                &args,
                &env,
                &mut text::TermWriter::new(std::io::stdout()),
            )
            .await
        }
    }
}

/// `stagehand notify …`.
async fn notify_command(
    args: notify::command::NotifyArgs,
    config: Config,
    data_dir: PathBuf,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    use notify::command::{self as nc, NotifyCommand};
    let _log = logging::init(&data_dir, verbose)?;
    if let NotifyCommand::Status = args.command {
        return nc::status(&data_dir, &mut std::io::stdout());
    }
    let cache = tokio::task::spawn_blocking(auth::CredentialCache::platform).await??;
    match args.command {
        NotifyCommand::Status => unreachable!("answered above"),
        NotifyCommand::Login { servicenow, teams } => nc::login(
            &config.notify,
            &cache,
            servicenow,
            teams,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout(),
        ),
        NotifyCommand::Logout => {
            let mut keys = vec![notify::secrets::TEAMS_KEY.to_string()];
            if let Some(sn) = &config.notify.servicenow {
                keys.extend(notify::secrets::password_key(sn));
                keys.extend(notify::secrets::client_secret_key(sn));
            }
            for k in keys {
                cache.remove(&k)?;
            }
            println!("removed the stored notification secrets");
            Ok(ExitCode::SUCCESS)
        }
        NotifyCommand::Test { dry_run } => {
            let (sn, teams) = nc::clients(&config.notify, &cache)?;
            nc::test(
                &config.notify,
                sn.as_ref(),
                teams.as_ref(),
                dry_run,
                &mut std::io::stdout(),
            )
            .await
        }
        NotifyCommand::Run { once, dry_run } => {
            let c = commands::connect::connect(&config, &data_dir).await?;
            let who = evidence::Collector {
                tenant: config.tenant.id.clone().unwrap_or_default(),
                collector: c.actor.clone(),
            };
            let src = notify::deliver::EvidenceSource {
                client: c.client.clone(),
                who,
            };
            // Notifying takes the data-dir lock: a console on this data dir notifies by itself.
            let store = store::open_headless(&data_dir)?;
            let mut n = nc::notifier(&config, &data_dir, store.client()?, cache, Some(src)).await?;
            n.dry_run = dry_run;
            nc::run(
                n,
                &c.client,
                &config,
                &data_dir,
                once,
                &mut std::io::stdout(),
            )
            .await
        }
    }
}

/// `stagehand autopilot …`: `show` offline; `import` and `tag` signed in.
async fn autopilot(
    args: commands::autopilot::AutopilotArgs,
    config: &Config,
    data_dir: &std::path::Path,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    use commands::autopilot::AutopilotCommand;
    let mut stdout = std::io::stdout();
    let command = match args.command {
        AutopilotCommand::Show(a) => return commands::autopilot::run_show(&a, &mut stdout),
        other => other,
    };
    let _log = logging::init(data_dir, verbose)?;
    let c = commands::connect::connect(config, data_dir).await?;
    let code = match &command {
        AutopilotCommand::Import(a) => commands::autopilot::run_import(
            &c.client,
            data_dir,
            &c.actor,
            a,
            None,
            &mut stdout,
            &mut std::io::stderr(),
        )
        .await?
        .exit_status(),
        AutopilotCommand::Tag(a) => {
            commands::autopilot::run_tag(&c.client, data_dir, &c.actor, a, &mut stdout).await?
        }
        AutopilotCommand::Show(_) => 2,
    };
    Ok(ExitCode::from(code))
}

/// `stagehand demo`: the simulated tenant in-process on a loopback port, the console against it,
/// already signed in. Its queue lives in `<data dir>/demo`, apart from the real one.
async fn demo(
    args: cli::DemoArgs,
    mut config: Config,
    data_dir: PathBuf,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    let (sim, token) = sim::start_demo(args.seed, args.devices, args.speed).await?;
    // Root URLs, as in a real config: the client adds /beta, sign-in adds /{tenant}/oauth2/v2.0.
    config.tenant.graph_url = sim.base_url.to_string();
    config.tenant.login_url = sim.base_url.to_string();
    config.tenant.id = Some(sim.tenant_id().to_string());
    config.tenant.client_id = Some(sim.client_id().to_string());
    config.staging.accounts = sim::SimOptions::default().staging_accounts;
    // Alive at first look: the Status pane watches every staged device of the simulated fleet
    // (already moving through the stages at the demo's speed) and polls every few seconds.
    config.status.poll_fast_secs = config.status.poll_fast_secs.min(3);
    let client = graph::GraphClient::new(
        sim.base_url.clone(),
        graph::Timeouts::default(),
        std::sync::Arc::new(auth::StaticToken(token)),
        graph::Governor::global(),
    )?;
    let (_, upn) = sim.signed_in_user();
    let mut app = App::new(config, chrono::Utc::now());
    app.demo = true;
    app.tenant = format!("{} (simulated)", sim.tenant_id());
    app.intake.actor = upn.clone();
    app.session = app::SessionState::SignedIn { account: upn };
    app.signin.unavailable = Some("the demo tenant signs in by itself".into());
    app.status.all_staged = true;
    let conn = Live {
        client,
        state: None,
        signin: None,
        sign_in_now: None,
        actor: store::Actor::fixed(app.intake.actor.clone()),
    };
    console(app, data_dir.join("demo"), verbose, Some(conn)).await?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The data dir: flag or `STAGEHAND_DATA_DIR` (clap reads both), else the platform default.
fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(d) => d,
        None => config::default_data_dir().context("no home directory: pass --data-dir")?,
    };
    private::data_dir(&dir).with_context(|| format!("data dir {}", dir.display()))?;
    Ok(dir)
}

/// Effects the real console runs: non-blocking sends to the store task and the feeds.
struct ConsoleEffects {
    bell: bool,
    /// Exports go to its `exports/` folder.
    data_dir: PathBuf,
    store: store::StoreHandle,
    /// Answers that must reach the app when a task is gone.
    back: mpsc::UnboundedSender<Msg>,
    uploads: Option<mpsc::UnboundedSender<feeds::intake::UploaderCmd>>,
    /// The review feed; `None` when not connected.
    reviews: Option<mpsc::UnboundedSender<app::review::ReviewCmd>>,
    /// The status feed; `None` when not connected.
    statuses: Option<mpsc::UnboundedSender<app::status::StatusCmd>>,
    /// The devices feed; `None` when not connected.
    devices: Option<mpsc::UnboundedSender<app::devices::DevicesCmd>>,
    /// The queue as the status feed tracks it, republished when it changes.
    queue: tokio::sync::watch::Sender<Vec<std::sync::Arc<store::QueueEntry>>>,
    queue_version: u64,
    /// The sign-in task; `None` when sign-in is not possible here.
    signin: Option<mpsc::UnboundedSender<app::signin::SignInCmd>>,
    /// The notifier (`[notify]`): the status rows, each time they change.
    notify: Option<mpsc::UnboundedSender<Vec<status::SharedRow>>>,
    /// The rows last handed to the notifier, by address (rows are shared and re-used while
    /// nothing changes, so equal addresses mean nothing new).
    notified: Vec<usize>,
}

impl ConsoleEffects {
    /// To the devices feed; without one, the answer says nothing was sent.
    fn devices(&mut self, cmd: app::devices::DevicesCmd) {
        use app::devices::{ActionFailure, DevicesCmd, DevicesMsg};
        let Err(mpsc::error::SendError(cmd)) = self
            .devices
            .as_ref()
            .map_or(Err(mpsc::error::SendError(cmd.clone())), |tx| tx.send(cmd))
        else {
            return;
        };
        let why = "not connected to a tenant: nothing sent".to_string();
        let msg = match cmd {
            DevicesCmd::Show { generation, .. } => DevicesMsg::Detail {
                generation,
                result: Err(why),
            },
            DevicesCmd::Sync { serial, .. } => DevicesMsg::Synced {
                serial,
                result: Err(why),
            },
            DevicesCmd::Destructive(req) => DevicesMsg::Acted {
                serial: req.serial.trim().to_string(),
                result: Err(ActionFailure {
                    refused: false,
                    message: why,
                }),
            },
        };
        let _ = self.back.send(Msg::Devices(msg));
    }
}

impl runtime::Effects for ConsoleEffects {
    fn after_batch(&mut self, app: &App) {
        if app.intake.queue_version != self.queue_version {
            self.queue_version = app.intake.queue_version;
            // Pointers to the entries, not copies: cheap on every scan even with 10,000 queued.
            let _ = self.queue.send(app.intake.queue.entries().to_vec());
        }
        if let Some(tx) = &self.notify {
            let rows = &app.status.rows;
            let same = rows.len() == self.notified.len()
                && rows
                    .iter()
                    .zip(&self.notified)
                    .all(|(r, p)| std::sync::Arc::as_ptr(r) as usize == *p);
            if !same {
                self.notified = rows
                    .iter()
                    .map(|r| std::sync::Arc::as_ptr(r) as usize)
                    .collect();
                let _ = tx.send(rows.clone());
            }
        }
    }

    fn run(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Bell => {
                if self.bell {
                    term::bell();
                }
            }
            Cmd::Export(table) => {
                // Off the loop: two small files, each fsync'd.
                let (dir, back) = (self.data_dir.clone(), self.back.clone());
                tokio::task::spawn_blocking(move || {
                    let result =
                        export::write(&dir, &table, chrono::Utc::now()).map_err(|e| e.to_string());
                    let _ = back.send(Msg::Exported {
                        table: table.name,
                        result,
                    });
                });
            }
            Cmd::Devices(c) => self.devices(c),
            Cmd::Status(c) => {
                if let Some(tx) = &self.statuses {
                    let _ = tx.send(c);
                }
            }
            Cmd::SignIn(c) => {
                if let Some(tx) = &self.signin {
                    let _ = tx.send(c);
                }
            }
            Cmd::Store { ticket, events } => {
                if let Err(e) = self.store.append(events, ticket) {
                    let _ = self.back.send(Msg::Stored(store::StoreAck {
                        ticket,
                        result: Err(e.to_string()),
                    }));
                }
            }
            Cmd::Audit { ticket, record } => {
                if let Err(e) = self.store.audit(*record, ticket) {
                    let _ = self.back.send(Msg::Stored(store::StoreAck {
                        ticket,
                        result: Err(e.to_string()),
                    }));
                }
            }
            Cmd::RemoveIdentity {
                serial,
                imported_id,
            } => {
                let cmd = feeds::intake::UploaderCmd::Remove {
                    serial: serial.clone(),
                    imported_id,
                };
                if self.uploads.as_ref().is_none_or(|tx| tx.send(cmd).is_err()) {
                    let result = Err("not connected to a tenant".to_string());
                    let _ = self.back.send(Msg::IdentityRemoved { serial, result });
                }
            }
            Cmd::Upload(batch) => {
                let cmd = feeds::intake::UploaderCmd::Upload(batch.clone());
                let sent = self.uploads.as_ref().is_some_and(|tx| tx.send(cmd).is_ok());
                if !sent {
                    let outcomes = batch
                        .into_iter()
                        .map(|e| app::intake::UploadOutcome {
                            serial: e.serial,
                            result: app::intake::UploadResult::Failed {
                                message: "not connected to a tenant".into(),
                            },
                        })
                        .collect();
                    let _ = self.back.send(Msg::Uploaded(outcomes));
                }
            }
            Cmd::Review(cmd) => {
                let sent = self
                    .reviews
                    .as_ref()
                    .is_some_and(|tx| tx.send(cmd.clone()).is_ok());
                if !sent && let app::review::ReviewCmd::Apply(jobs) = cmd {
                    // Nothing was written: say so on each row instead of leaving it "approved".
                    for job in jobs {
                        let _ = self
                            .back
                            .send(Msg::Review(app::review::ReviewMsg::Progress {
                                device_id: job.device_id,
                                state: review::ApplyState::Failed {
                                    reason: "not connected to a tenant: nothing written".into(),
                                },
                            }));
                    }
                }
            }
        }
    }
}

/// What the console talks to the tenant with.
struct Live {
    client: graph::GraphClient,
    /// The sign-in state the status bar shows (none for the demo's fixed token).
    state: Option<tokio::sync::watch::Receiver<app::SessionState>>,
    /// The sign-in modal's task settings (none: sign-in is not possible here).
    signin: Option<auth::interactive::Flow>,
    /// Open the sign-in modal at start (`Some(why)`).
    sign_in_now: Option<Option<String>>,
    /// Who the audit records name: asked at the moment of each write.
    actor: store::Actor,
}

impl From<commands::connect::ConsoleLink> for Live {
    fn from(c: commands::connect::ConsoleLink) -> Self {
        let state = c.live.watch();
        Live {
            client: c.client,
            actor: feeds::session_actor(state.clone()),
            state: Some(state),
            signin: Some(c.flow),
            sign_in_now: c.sign_in_now,
        }
    }
}

/// Starts a feed that acts as the signed-in account: at once when someone is signed in, else at
/// the first sign-in (commands sent before then wait in the returned channel). The feed asks
/// `actor` at each write, so a later switch of account is recorded as the new account.
fn spawn_when_signed_in<C: Send + 'static>(
    actor: store::Actor,
    state: Option<tokio::sync::watch::Receiver<app::SessionState>>,
    tasks: &mut JoinSet<()>,
    cancel: CancellationToken,
    spawn: impl FnOnce(store::Actor) -> mpsc::UnboundedSender<C> + Send + 'static,
) -> mpsc::UnboundedSender<C> {
    if actor.now().is_some() {
        return spawn(actor);
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    tasks.spawn(async move {
        let Some(mut state) = state else { return };
        tokio::select! {
            _ = cancel.cancelled() => return,
            s = state.wait_for(|s| matches!(s, app::SessionState::SignedIn { .. })) => {
                if s.is_err() { return }
            }
        }
        let feed = spawn(actor);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                cmd = rx.recv() => match cmd {
                    Some(c) => if feed.send(c).is_err() { return },
                    None => return,
                },
            }
        }
    });
    tx
}

/// Starts the notifier task for the console: the credential store is read off the loop, and
/// a notifier that cannot start (no secret stored, a damaged state file) is logged, never fatal.
fn spawn_notifier(
    config: &Config,
    data_dir: &std::path::Path,
    live: &Live,
    tenant: &str,
    store: store::StoreClient,
    tasks: &mut JoinSet<()>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<Vec<status::SharedRow>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (config, dir) = (config.clone(), data_dir.to_path_buf());
    let src = notify::deliver::EvidenceSource {
        client: live.client.clone(),
        who: evidence::Collector {
            tenant: config
                .tenant
                .id
                .clone()
                .unwrap_or_else(|| tenant.to_string()),
            collector: live.actor.now().unwrap_or_default(),
        },
    };
    tasks.spawn(async move {
        let built = match tokio::task::spawn_blocking(auth::CredentialCache::platform).await {
            Ok(Ok(cache)) => {
                notify::command::notifier(&config, &dir, store, cache, Some(src)).await
            }
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e.into()),
        };
        match built {
            Ok(n) => {
                let _ = notify::deliver::spawn(n, rx, None, cancel).await;
            }
            Err(e) => tracing::error!(error = %e, "notifications are off"),
        }
    });
    tx
}

/// Opens the full-screen console and runs it until quit. The terminal is restored on every path.
async fn console(
    mut app: App,
    data_dir: PathBuf,
    verbose: u8,
    mut live: Option<Live>,
) -> anyhow::Result<()> {
    private::data_dir(&data_dir).with_context(|| format!("data dir {}", data_dir.display()))?;
    // A scanner burst is a scan wherever focus is (app::scanner).
    app.detect_bursts = true;
    // Open the store (and take the data-dir lock) before the screen, so a second stagehand on
    // the same data dir gets a plain error on the shell.
    let (db, queue, report) = store::Store::open(&data_dir)?;
    let audit = store::AuditLog::open(&data_dir)?;
    let _log = logging::init(&data_dir, verbose)?;
    tracing::info!(data_dir = %data_dir.display(), demo = app.demo, %report, "console starting");
    app.intake
        .load(queue, report.notice.is_some().then(|| report.to_string()));
    app.intake.bench = gethostname::gethostname().to_string_lossy().into_owned();
    let (feed_tx, feed_rx) = mpsc::channel(1024);
    // Acknowledgements go straight to the loop's feed channel (`runtime::Inbox::feeds`). The
    // store thread is no tokio task, so it may block on a full channel: the loop drains it.
    let ack_tx = feed_tx.clone();
    let store = store::spawn_to(
        db,
        Some(audit),
        Box::new(move |ack| {
            let _ = ack_tx.blocking_send(Msg::Stored(ack));
        }),
    );
    let store_client = store.client()?;
    let signals = runtime::signals::listen().context("cannot listen for signals")?;
    let mut guard = term::TerminalGuard::enter().context("cannot open the terminal")?;
    let size = guard.terminal.size()?;
    app.update(Msg::Resize {
        width: size.width,
        height: size.height,
    });

    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(runtime::input::run(input_tx.clone(), cancel.clone()));
    tasks.spawn(runtime::signals::run(signals, input_tx.clone()));

    let mut uploads = None;
    let mut reviews = None;
    let mut statuses = None;
    let mut devices = None;
    let mut signin = None;
    let (queue_tx, queue_rx) = tokio::sync::watch::channel(app.intake.queue.entries().to_vec());
    if let Some(live) = &mut live {
        let client = &live.client;
        feeds::conn::spawn(client.conn_state(), feed_tx.clone(), cancel.clone());
        if let Some(state) = &live.state {
            tasks.spawn(auth::session::forward_state(
                state.clone(),
                feed_tx.clone(),
                cancel.clone(),
            ));
        }
        if let Some(flow) = live.signin.take() {
            let (tx, rx) = mpsc::unbounded_channel();
            let task = auth::interactive::spawn(flow, rx, feed_tx.clone(), cancel.clone());
            tasks.spawn(async move {
                let _ = task.await;
            });
            signin = Some(tx);
        }
        if let Some(why) = live.sign_in_now.take() {
            let _ = input_tx.send(Msg::SignIn(app::signin::SignInMsg::Offer { why }));
        }
        uploads = Some(feeds::intake::spawn(
            client.clone(),
            feed_tx.clone(),
            cancel.clone(),
        ));
        let status_tx = feeds::status::spawn(
            client.clone(),
            app.config.clone(),
            queue_rx,
            feed_tx.clone(),
            cancel.clone(),
        );
        if app.status.all_staged {
            let _ = status_tx.send(app::status::StatusCmd::Scope {
                all_staged: true,
                generation: app.status.generation,
            });
        }
        statuses = Some(status_tx);
        // The review and devices feeds act as the signed-in account (asked at each write) and
        // hand every audit record and rejection to the store thread, the one writer.
        let (config, store2) = (app.config.clone(), store_client.clone());
        let (client2, tx2, cancel2) = (client.clone(), feed_tx.clone(), cancel.clone());
        reviews = Some(spawn_when_signed_in(
            live.actor.clone(),
            live.state.clone(),
            &mut tasks,
            cancel.clone(),
            move |actor| feeds::review::spawn(client2, config, store2, actor, tx2, cancel2),
        ));
        let (config, store2) = (app.config.clone(), store_client.clone());
        let (client2, tx2, cancel2) = (client.clone(), feed_tx.clone(), cancel.clone());
        devices = Some(spawn_when_signed_in(
            live.actor.clone(),
            live.state.clone(),
            &mut tasks,
            cancel.clone(),
            move |actor| feeds::devices::spawn(client2, config, store2, actor, tx2, cancel2),
        ));
    }
    let notify = match &live {
        Some(l) if app.config.notify.enabled() => Some(spawn_notifier(
            &app.config,
            &data_dir,
            l,
            &app.tenant,
            store_client.clone(),
            &mut tasks,
            cancel.clone(),
        )),
        _ => None,
    };
    if let Some(client) = live.as_ref().map(|l| &l.client) {
        // The readiness checks once per session; the F9 overlay shows them when they arrive.
        let (client, config, tx) = (client.clone(), app.config.clone(), feed_tx.clone());
        tasks.spawn(async move {
            let results = doctor::run_checks(&client, &config, chrono::Utc::now()).await;
            let _ = tx.send(Msg::Doctor(results)).await;
        });
    }
    // Re-announce the session inside the loop, so uploads may start with real effects.
    let _ = input_tx.send(Msg::Session(app.session.clone()));

    let mut inbox = runtime::Inbox {
        input: input_rx,
        feeds: feed_rx,
    };
    let mut effects = ConsoleEffects {
        bell: app.config.intake.bell_on_error,
        data_dir: data_dir.clone(),
        store,
        back: input_tx.clone(),
        uploads,
        reviews,
        statuses,
        devices,
        queue: queue_tx,
        queue_version: app.intake.queue_version,
        signin,
        notify,
        notified: Vec::new(),
    };
    let result = runtime::run_loop(&mut guard.terminal, &mut app, &mut inbox, &mut effects).await;

    cancel.cancel();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(guard);
    // Nobody reads acknowledgements any more: the store thread must not wait on a full channel.
    drop(inbox);
    drop(store_client);
    // Drain the store: everything sent to it is written and fsync'd before we exit.
    let store = effects.store;
    let _ = tokio::task::spawn_blocking(move || store.shutdown()).await;
    let stats = result?;
    tracing::info!(?stats, "console stopped");
    Ok(())
}

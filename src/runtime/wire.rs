//! The console's wiring: opens the store, the terminal and the tasks (input, signals, sign-in,
//! the feeds, the notifier, the readiness checks), runs the loop with [`ConsoleEffects`], and
//! shuts everything down in order. The one place that knows every part of the console.

use std::path::PathBuf;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::effects::ConsoleEffects;
use crate::app::{self, App, Msg};
use crate::config::Config;
use crate::feeds::Feed;
use crate::{auth, commands, doctor, evidence, feeds, graph, logging, notify, private, status};
use crate::{store, term};

/// What the console talks to the tenant with.
pub struct Live {
    pub client: graph::GraphClient,
    /// The sign-in state the status bar shows (none for the demo's fixed token).
    pub state: Option<tokio::sync::watch::Receiver<app::SessionState>>,
    /// The sign-in modal's task settings (none: sign-in is not possible here).
    pub signin: Option<auth::interactive::Flow>,
    /// Open the sign-in modal at start (`Some(why)`).
    pub sign_in_now: Option<Option<String>>,
    /// Who the audit records name: asked at the moment of each write.
    pub actor: store::Actor,
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

/// Where the notifier's evidence bundles come from: the console's client, as the account signed
/// in at start.
fn evidence_source(config: &Config, live: &Live, tenant: &str) -> notify::deliver::EvidenceSource {
    notify::deliver::EvidenceSource {
        client: live.client.clone(),
        who: evidence::Collector {
            tenant: config
                .tenant
                .id
                .clone()
                .unwrap_or_else(|| tenant.to_string()),
            collector: live.actor.now().unwrap_or_default(),
        },
    }
}

/// Starts the notifier task for the console: the credential store is read off the loop, and
/// a notifier that cannot start (no secret stored, a damaged store) is logged, never fatal. What
/// each round sent and what is kept for retry go to the app as `Msg::Notify` on `back`.
fn spawn_notifier(
    config: &Config,
    data_dir: &std::path::Path,
    src: notify::deliver::EvidenceSource,
    store: store::StoreClient,
    back: mpsc::UnboundedSender<Msg>,
    tasks: &mut JoinSet<()>,
    cancel: CancellationToken,
) -> mpsc::UnboundedSender<Vec<status::SharedRow>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (config, dir) = (config.clone(), data_dir.to_path_buf());
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
                // Each round's outcomes and the notices kept for retry go to the Status pane.
                let (report, mut rounds) = mpsc::unbounded_channel();
                let forward = tokio::spawn(async move {
                    while let Some(r) = rounds.recv().await {
                        let r: notify::deliver::Round = r;
                        if back.send(Msg::Notify(r.into())).is_err() {
                            return;
                        }
                    }
                });
                let _ = notify::deliver::spawn(n, rx, Some(report), cancel).await;
                forward.abort();
            }
            Err(e) => tracing::error!(error = %e, "notifications are off"),
        }
    });
    tx
}

/// Opens the full-screen console and runs it until quit. The terminal is restored on every path.
pub async fn console(
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
    // Acknowledgements go straight to the loop's feed channel (`super::Inbox::feeds`). The
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
    let signals = super::signals::listen().context("cannot listen for signals")?;
    let mut guard = term::TerminalGuard::enter().context("cannot open the terminal")?;
    let size = guard.terminal.size()?;
    app.update(Msg::Resize {
        width: size.width,
        height: size.height,
    });

    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(super::input::run(input_tx.clone(), cancel.clone()));
    tasks.spawn(super::signals::run(signals, input_tx.clone()));

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
            tasks.spawn(feeds::session::forward_state(
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
        // Entries from hash files are Autopilot imports, recorded and audited by the store
        // thread as the account signed in at each write.
        let hashes = feeds::intake::HashImports::new(store_client.clone(), live.actor.clone());
        uploads = Some(feeds::intake::spawn_with(
            client.clone(),
            Some(hashes),
            feed_tx.clone(),
            cancel.clone(),
        ));
        // The status feed keeps the observed stage timeline through the store thread, and reads
        // the Autopilot registrations of hash devices beside it.
        let poller = crate::status::poll::Poller::new(client.clone(), app.config.clone())
            .with_autopilot_db(data_dir.join(store::DB_FILE));
        let status_tx = feeds::status::spawn_poller_with_store(
            poller,
            store_client.clone(),
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
            evidence_source(&app.config, l, &app.tenant),
            store_client.clone(),
            input_tx.clone(),
            &mut tasks,
            cancel.clone(),
        )),
        _ => None,
    };
    // The Status pane's evidence key: bundles collected off the loop into `<data dir>/evidence`.
    let evidence_feed = match &live {
        Some(l) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let runner = feeds::evidence::Runner {
                client: l.client.clone(),
                tenant: app
                    .config
                    .tenant
                    .id
                    .clone()
                    .unwrap_or_else(|| app.tenant.clone()),
                actor: l.actor.clone(),
                data_dir: data_dir.clone(),
                back: input_tx.clone(),
            };
            let task = feeds::evidence::spawn(runner, rx, cancel.clone());
            tasks.spawn(async move {
                let _ = task.await;
            });
            Feed::to(tx)
        }
        None => Feed::none(),
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

    let mut inbox = super::Inbox {
        input: input_rx,
        feeds: feed_rx,
    };
    let mut effects = ConsoleEffects {
        bell: app.config.intake.bell_on_error,
        data_dir: data_dir.clone(),
        store,
        back: input_tx.clone(),
        uploads: uploads.into(),
        reviews: reviews.into(),
        statuses: statuses.into(),
        devices: devices.into(),
        signin: signin.map_or_else(Feed::none, Feed::to),
        queue: queue_tx,
        queue_version: app.intake.queue_version,
        notify,
        notified: Vec::new(),
        evidence: evidence_feed,
    };
    let result = super::run_loop(&mut guard.terminal, &mut app, &mut inbox, &mut effects).await;

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

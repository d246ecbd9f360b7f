//! `stagehand demo`: the simulated tenant in-process on a loopback port and the console against
//! it, already signed in.

use std::process::ExitCode;

use super::Context;
use crate::app::{self, App};
use crate::cli::DemoArgs;
use crate::runtime::wire;
use crate::{auth, graph, sim, store};

/// `stagehand demo`: the simulated tenant in-process on a loopback port, the console against it,
/// already signed in. Its queue lives in `<data dir>/demo`, apart from the real one.
pub async fn run(args: DemoArgs, ctx: Context) -> anyhow::Result<ExitCode> {
    let Context {
        mut config,
        data_dir,
        verbose,
        ..
    } = ctx;
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
    let conn = wire::Live {
        client,
        state: None,
        signin: None,
        sign_in_now: None,
        actor: store::Actor::fixed(app.intake.actor.clone()),
    };
    wire::console(app, data_dir.join("demo"), verbose, Some(conn)).await?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

//! `stagehand notify …`: the secrets and the test message need only the credential store;
//! `notify run` polls the tenant as the signed-in account.

use std::process::ExitCode;

use super::Context;
use super::connect::Connected;
use crate::notify::command::{self as nc, NotifyArgs, NotifyCommand};
use crate::{auth, evidence, notify};

/// `stagehand notify …`.
pub async fn run(args: NotifyArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let (config, data_dir) = (&ctx.config, &ctx.data_dir);
    if let NotifyCommand::Status = args.command {
        return nc::status(data_dir, &mut std::io::stdout());
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
        NotifyCommand::Run { .. } => unreachable!("notify run signs in first"),
    }
}

/// `stagehand notify run`.
pub async fn run_signed_in(
    args: NotifyArgs,
    ctx: &Context,
    c: &Connected,
) -> anyhow::Result<ExitCode> {
    let (config, data_dir) = (&ctx.config, &ctx.data_dir);
    let NotifyCommand::Run { once, dry_run } = args.command else {
        unreachable!("only notify run signs in")
    };
    let cache = tokio::task::spawn_blocking(auth::CredentialCache::platform).await??;
    let who = evidence::Collector {
        tenant: config.tenant.id.clone().unwrap_or_default(),
        collector: c.actor.clone(),
    };
    let src = notify::deliver::EvidenceSource {
        client: c.client.clone(),
        who,
    };
    // Notifying takes the data-dir lock: a console on this data dir notifies by itself.
    let store = crate::store::open_headless(data_dir)?;
    let mut n = nc::notifier(config, data_dir, store.client()?, cache, Some(src)).await?;
    n.dry_run = dry_run;
    nc::run(n, &c.client, config, data_dir, once, &mut std::io::stdout()).await
}

//! `stagehand` with no subcommand: the console against the configured tenant. It opens even
//! when sign-in cannot work here: scanning works offline and uploads wait.

use std::process::ExitCode;

use super::Context;
use crate::app::{self, App};
use crate::runtime::wire::{self, Live};
use crate::text;

pub async fn run(ctx: Context) -> anyhow::Result<ExitCode> {
    let mut app = App::new(ctx.config, chrono::Utc::now());
    let live = match super::connect::connect_console(&app.config, &ctx.data_dir).await {
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
            app.intake.notice = Some(format!("not connected: {}", text::escape(&e)));
            app.signin.unavailable = Some(format!("cannot sign in: {e}"));
            None
        }
    };
    if let Some(w) = ctx.graph_warning
        && app.intake.notice.is_none()
    {
        app.intake.notice = Some(format!("warning: {w}"));
    }
    wire::console(app, ctx.data_dir, ctx.verbose, live).await?;
    Ok(ExitCode::SUCCESS)
}

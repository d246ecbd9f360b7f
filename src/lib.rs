//! stagehand: a terminal console for staging corporate Windows devices into Microsoft Intune.
//!
//! The composition root: the module list and [`run`]. Subcommands dispatch from `commands`, the
//! console is wired in `runtime::wire`; `main.rs` is thin and tests drive everything in-process.

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
pub(crate) mod error;
pub mod evidence;
pub mod export;
pub mod feeds;
pub mod graph;
pub(crate) mod logging;
pub mod notify;
pub mod prep;
pub(crate) mod private;
pub mod report;
pub mod review;
pub(crate) mod runtime;
pub mod secret;
pub mod serial;
pub mod sim;
pub mod status;
pub mod store;
pub(crate) mod term;
pub mod text;

use std::process::ExitCode;

use anyhow::Context;

/// Runs a parsed command line to completion.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(commands::dispatch(cli))
}

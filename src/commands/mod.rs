//! Headless subcommands: the console's twins for scripts and schedulers.

pub mod intake;
pub mod status;

//! Headless subcommands: the console's twins for scripts and schedulers.

pub mod doctor;
pub mod intake;

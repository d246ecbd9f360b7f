//! Headless subcommands: the console's twins for scripts and schedulers.

pub mod autopilot;
pub mod connect;
pub mod devices;
pub mod doctor;
pub mod intake;
pub mod review;
pub mod status;

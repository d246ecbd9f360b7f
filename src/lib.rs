//! stagehand: a terminal console for staging corporate Windows devices into Microsoft Intune.
//!
//! `main.rs` is thin; everything is reachable from here so tests drive the app in-process.

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod secret;
pub mod sim;

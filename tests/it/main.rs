//! The integration tests, one binary: each file is a module; the shared helpers are
//! `common` (sandbox, tmux, the binary), `common_graph` (a canned Graph server),
//! `review_common` and `auth_support`. One binary links once instead of forty times.

mod auth_support;
mod common;
mod common_graph;
mod review_common;

mod auth_claims;
mod auth_cli;
mod auth_console;
mod auth_flows;
mod auth_keyring;
mod auth_leak_sim;
mod auth_session;
mod devices_actions;
mod devices_cli;
mod devices_console;
mod devices_read;
mod doctor_cli;
mod doctor_console;
mod doctor_sim;
mod e2e_demo;
mod e2e_devices;
mod e2e_intake;
mod e2e_shell;
mod e2e_signin;
mod evidence_sim;
mod graph_http;
mod graph_ops;
mod graph_sim;
mod graph_sim_flows;
mod intake_cli;
mod intake_push;
mod intake_upload;
mod notify_standins;
mod prep_cli;
mod prep_corpus;
mod report_browser;
mod review_apply;
mod review_canned;
mod review_confirm;
mod review_crash;
mod review_feed;
mod review_reject;
mod review_sim;
mod review_verdicts;
mod sim_auth;
mod sim_certificates;
mod sim_graph;
mod sim_service;
mod status_cli;
mod status_feed;
mod status_sim;
mod store_journal;
mod store_process;

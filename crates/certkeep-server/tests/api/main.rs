//! Integration tests: the real server on port 0, driven through the typed client (and, for the
//! scriptable surface, through the `certkeepd` binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod audit_log;
mod certificates;
mod durability;
mod notifications;
mod openapi;
mod replicas;
mod robustness;
mod tokens;
mod ui;
mod ui_browser;

//! Integration tests: the real server on port 0, driven through the typed client (and, for the
//! scriptable surface, through the `certkeepd` binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acme_peers;
mod ari_stub;
mod helpers;

mod acme;
mod acme_more;

mod audit_log;
mod certificate_filters;
mod certificates;
mod config_file;
mod durability;
mod notifications;
mod openapi;
mod replicas;
mod robustness;
mod tls;
mod tokens;
mod ui;
mod ui_browser;

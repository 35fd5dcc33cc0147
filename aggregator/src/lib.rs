//! `koji-aggregator`: polls a Koji hub, receives agent pushes, and serves the combined
//! `/metrics` that Prometheus scrapes.

pub mod config;
pub mod hub;
pub mod identity;
pub mod persist;
pub mod push;
pub mod run;
pub mod server;
pub mod tls;

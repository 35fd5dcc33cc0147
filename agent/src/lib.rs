//! The Koji builder agent: reads kojid's local state and the builder's own record on the hub,
//! and pushes them to a koji-aggregator or a Prometheus Pushgateway.
//!
//! - [`config`]: `agent.toml`, parsed into [`config::RawConfig`] and validated into
//!   [`config::Config`].
//! - [`kojid_conf`]: kojid's own configuration file, read with Python configparser rules.
//! - [`collector`]: the collectors, one module each, and [`collector::NAMES`].
//! - [`agent`]: one collection cycle over the enabled collectors, as a [`agent::Snapshot`].
//! - [`push`]: HTTP PUT and DELETE of the host's group, retries and failure counters.
//! - [`daemon`]: the push loop, `--once` and `deregister`.
//!
//! Every path the agent reads on the build host resolves under a configurable root
//! ([`paths::under_root`]), so the collectors run on fixture trees in tests.

#![deny(missing_docs)]

pub mod agent;
pub mod collector;
pub mod config;
pub mod daemon;
pub mod hostname;
pub mod kojid_conf;
pub mod logging;
pub mod paths;
pub mod probes;
pub mod push;

pub use agent::{Agent, Snapshot};
pub use config::{Config, ConfigError, RawConfig};

/// The agent's version, as `koji_agent_build_info` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The default path of the agent's configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/koji-agent/agent.toml";

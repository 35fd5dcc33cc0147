//! Collectors: each reads one part of the builder's state and adds metric families.
//!
//! Every collector implements [`Collector`]. [`NAMES`] lists them in the order a cycle runs
//! them, and [`build`] is the one place that constructs them. The order matters: `readiness`
//! runs last because it recomputes kojid's rules from what the others observed (free space,
//! load, the hub view) and left in [`Observations`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use koji_metrics::proto::MetricFamily;
use koji_metrics::{BuildError, FamilyBuilder, MetricDef};

use crate::config::Config;
use crate::kojid_conf::{KojidConfError, KojidSettings};
use crate::paths::under_root;
use crate::probes::{LoadReading, Probes};

pub mod certificate;
pub mod config;
pub mod disk;
pub mod hub;
pub mod kojid;
pub mod load;
pub mod readiness;

pub use hub::HubView;

/// Names of the collectors in the order a cycle runs them.
pub const NAMES: &[&str] = &[
    config::NAME,
    kojid::NAME,
    disk::NAME,
    load::NAME,
    certificate::NAME,
    hub::NAME,
    readiness::NAME,
];

/// The future a collector returns.
pub type CollectFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CollectError>> + Send + 'a>>;

/// One part of the builder's state.
pub trait Collector: Send {
    /// Returns the collector's name, as configured and as the `collector` label reports it.
    fn name(&self) -> &'static str;

    /// Adds this cycle's families to `out`, or fails. Families added before a failure are
    /// kept, so a collector can report what it has (such as `koji_agent_hub_up 0`) and
    /// still fail.
    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a>;
}

/// Why a collector failed; the message names the path, URL or value involved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CollectError {
    message: String,
}

impl CollectError {
    /// Creates an error with a message that names what failed and what to do.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl From<BuildError> for CollectError {
    fn from(error: BuildError) -> Self {
        Self::new(error.to_string())
    }
}

impl From<KojidConfError> for CollectError {
    fn from(error: KojidConfError) -> Self {
        Self::new(error.to_string())
    }
}

/// The families a cycle collects, in the order they were added.
#[derive(Debug, Default)]
pub struct Families {
    families: Vec<MetricFamily>,
}

impl Families {
    /// Adds a built family; families without samples are dropped.
    pub fn push(&mut self, family: MetricFamily) {
        if !family.get_metric().is_empty() {
            self.families.push(family);
        }
    }

    /// Adds a family of `def` with the one sample `value` and the label values `labels`.
    pub fn gauge(
        &mut self,
        def: &'static MetricDef,
        labels: &[&str],
        value: f64,
    ) -> Result<(), BuildError> {
        let mut builder = FamilyBuilder::new(def);
        builder.sample(labels, value)?;
        self.push(builder.build());
        Ok(())
    }

    /// Returns the families.
    pub fn as_slice(&self) -> &[MetricFamily] {
        &self.families
    }
}

/// The `disk` collector's reading of mockdir.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MockdirReading {
    /// Free bytes on mockdir's file system.
    FreeBytes(u64),
    /// kojid's free space check raises on mockdir, so kojid takes no task: mockdir is
    /// missing, or its file system does not report free space ([`disk`] lists the errors).
    Unusable,
}

/// Readings that collectors made in this cycle, for the collectors that run after them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observations {
    /// mockdir's free space, or that kojid cannot check it (`disk`).
    pub mockdir: Option<MockdirReading>,
    /// Load average and CPUs (`load`).
    pub load: Option<LoadReading>,
    /// The builder's record on the hub (`hub`); `None` while the hub is unreachable or off.
    pub hub: Option<HubView>,
}

/// The state one cycle shares with its collectors.
#[derive(Debug)]
pub struct Cycle {
    /// The builder's Koji host name, the `host` label of every sample.
    pub host: String,
    /// Directory under which the build host's paths are read.
    pub root: PathBuf,
    /// kojid.conf under the root.
    pub kojid_config_path: PathBuf,
    /// kojid.conf as read this cycle. Collectors take its settings through
    /// [`Cycle::kojid_settings`], so that none falls back to kojid's defaults when the file
    /// could not be read.
    pub kojid_config: Result<KojidSettings, KojidConfError>,
    /// Readings of the system.
    pub probes: Probes,
    /// Readings of the collectors that ran so far in this cycle.
    pub observed: Observations,
}

impl Cycle {
    /// Starts a cycle: reads kojid.conf under `root`.
    pub fn start(host: &str, root: &Path, kojid_config: &Path, probes: Probes) -> Self {
        let kojid_config_path = under_root(root, kojid_config);
        let kojid_config = KojidSettings::read(&kojid_config_path);
        Self {
            host: host.to_string(),
            root: root.to_path_buf(),
            kojid_config_path,
            kojid_config,
            probes,
            observed: Observations::default(),
        }
    }

    /// Returns the settings of kojid.conf, or an error that names `setting` (what the caller
    /// needs from the file, such as `mockdir`) and the file's problem.
    ///
    /// kojid exits on a malformed kojid.conf, and the agent cannot tell what a kojid started
    /// from an older version of the file uses, so a collector that needs a setting fails
    /// rather than assume kojid's default.
    pub fn kojid_settings(&self, setting: &str) -> Result<&KojidSettings, CollectError> {
        self.kojid_config.as_ref().map_err(|error| {
            CollectError::new(format!(
                "{setting} is unknown because kojid.conf could not be read: {error}"
            ))
        })
    }

    /// Resolves a path of the build host under the root.
    pub fn path(&self, path: &Path) -> PathBuf {
        under_root(&self.root, path)
    }
}

/// Builds the collectors named in `config`, in [`NAMES`] order. The `hub` collector is left
/// out when `[hub] enabled = false`.
pub fn build(agent_config: &Config) -> Vec<Box<dyn Collector>> {
    let hub_enabled = agent_config.hub.enabled;
    agent_config
        .collectors
        .iter()
        .filter_map(|name| -> Option<Box<dyn Collector>> {
            match *name {
                config::NAME => Some(Box::new(config::ConfigCollector)),
                kojid::NAME => Some(Box::new(kojid::KojidCollector::default())),
                disk::NAME => Some(Box::new(disk::DiskCollector)),
                load::NAME => Some(Box::new(load::LoadCollector)),
                certificate::NAME => Some(Box::new(certificate::CertificateCollector)),
                hub::NAME if hub_enabled => {
                    Some(Box::new(hub::HubCollector::new(agent_config.hub.clone())))
                }
                readiness::NAME => Some(Box::new(readiness::ReadinessCollector)),
                _ => None,
            }
        })
        .collect()
}

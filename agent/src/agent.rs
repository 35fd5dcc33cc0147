//! One collection cycle: every enabled collector in order, plus the agent's own rows.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use koji_metrics::FamilyBuilder;
use koji_metrics::contract::{
    AGENT_BUILD_INFO, AGENT_COLLECTOR_DURATION_SECONDS, AGENT_COLLECTOR_SUCCESS,
};

use crate::collector::{self, CollectError, Collector, Cycle, Families};
use crate::config::Config;
use crate::logging::{RepeatLimiter, Verdict};
use crate::probes::Probes;

/// The outcome of one collector in one cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorOutcome {
    /// The collector's name.
    pub name: &'static str,
    /// The failure, if it failed.
    pub error: Option<CollectError>,
    /// How long it ran.
    pub duration: Duration,
}

/// The exposition of one cycle, ready to push.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Text format 0.0.4, every sample labelled with the host.
    pub text: String,
    /// Per collector outcome, in the order they ran.
    pub outcomes: Vec<CollectorOutcome>,
}

struct Entry {
    collector: Box<dyn Collector>,
    limiter: RepeatLimiter,
}

/// Runs the enabled collectors, cycle after cycle; collectors keep state between cycles
/// (the hub view, the boot time).
pub struct Agent {
    host: String,
    root: PathBuf,
    kojid_config: PathBuf,
    probes: Probes,
    collectors: Vec<Entry>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .collectors
            .iter()
            .map(|entry| entry.collector.name())
            .collect();
        formatter
            .debug_struct("Agent")
            .field("host", &self.host)
            .field("root", &self.root)
            .field("collectors", &names)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Builds the agent and its collectors from a validated configuration.
    pub fn new(config: &Config) -> Self {
        Self::with_probes(config, Probes::default())
    }

    /// Builds the agent with other readings of the system, for tests on fixture trees.
    pub fn with_probes(config: &Config, probes: Probes) -> Self {
        Self::with_collectors(config, probes, collector::build(config))
    }

    /// Builds the agent with the given collectors, which run in the order given.
    pub fn with_collectors(
        config: &Config,
        probes: Probes,
        collectors: Vec<Box<dyn Collector>>,
    ) -> Self {
        Self {
            host: config.host.clone(),
            root: config.root.clone(),
            kojid_config: config.kojid_config.clone(),
            probes,
            collectors: collectors
                .into_iter()
                .map(|collector| Entry {
                    collector,
                    limiter: RepeatLimiter::default(),
                })
                .collect(),
        }
    }

    /// Returns the host name that every sample carries.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Returns the names of the collectors that run, in order.
    pub fn collector_names(&self) -> Vec<&'static str> {
        self.collectors
            .iter()
            .map(|entry| entry.collector.name())
            .collect()
    }

    /// Runs one cycle. A failing collector is logged (repeats rate-limited) and reported as
    /// `koji_agent_collector_success 0`; the other collectors still run.
    pub async fn collect(&mut self) -> Snapshot {
        let mut cycle = Cycle::start(&self.host, &self.root, &self.kojid_config, self.probes);
        let mut out = Families::default();
        let host = self.host.as_str();

        let mut success = FamilyBuilder::new(&AGENT_COLLECTOR_SUCCESS);
        let mut durations = FamilyBuilder::new(&AGENT_COLLECTOR_DURATION_SECONDS);
        let mut outcomes = Vec::with_capacity(self.collectors.len());
        let mut built = out.gauge(&AGENT_BUILD_INFO, &[host, crate::VERSION], 1.0);

        for entry in &mut self.collectors {
            let name = entry.collector.name();
            let started = Instant::now();
            let result = entry.collector.collect(&mut cycle, &mut out).await;
            let duration = started.elapsed();
            log_outcome(name, &result, &mut entry.limiter);

            built = built
                .and_then(|()| {
                    success.sample(&[host, name], if result.is_ok() { 1.0 } else { 0.0 })
                })
                .and_then(|_| durations.sample(&[host, name], duration.as_secs_f64()))
                .map(|_| ());
            outcomes.push(CollectorOutcome {
                name,
                error: result.err(),
                duration,
            });
        }
        if let Err(error) = built {
            // Label counts are fixed by the contract, so this is a bug, not bad input.
            tracing::error!(%error, "Building the agent's own rows failed.");
        }
        out.push(success.build());
        out.push(durations.build());

        Snapshot {
            text: koji_metrics::encode_text(out.as_slice()),
            outcomes,
        }
    }
}

fn log_outcome(name: &str, result: &Result<(), CollectError>, limiter: &mut RepeatLimiter) {
    match result {
        Ok(()) => {
            if limiter.success() {
                tracing::info!(collector = name, "Collector recovered.");
            }
        }
        Err(error) => match limiter.failure(&error.to_string()) {
            Verdict::Log(suppressed) => {
                tracing::warn!(
                    collector = name,
                    %error,
                    repeats_not_logged = suppressed,
                    "Collector failed; its rows are missing from this cycle."
                );
            }
            Verdict::Suppress => {}
        },
    }
}

//! The agent's modes: the push loop, one cycle (`--once`), and removing the host's group.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::agent::Agent;
use crate::config::{Config, ConfigError};
use crate::push::worker::{SnapshotSender, run_target};
use crate::push::{FailureCounters, PushError, PushTarget, TargetError};

/// Errors that keep a mode from starting.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The configuration lacks something this mode needs.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A push target could not be set up.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The signal handlers could not be installed.
    #[error("cannot install the SIGTERM and SIGINT handlers: {0}")]
    Signal(#[source] std::io::Error),
}

/// The outcome of one push or delete to one target.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetReport {
    /// The target's configured URL.
    pub target: String,
    /// The outcome.
    pub result: Result<(), PushError>,
}

/// Sets up the push targets of `config`.
pub fn build_targets(config: &Config) -> Result<Vec<PushTarget>, TargetError> {
    config
        .push
        .iter()
        .map(|target| PushTarget::new(target, &config.host))
        .collect()
}

/// Returns a future that completes at the first SIGTERM or SIGINT.
pub fn shutdown_signal() -> Result<impl Future<Output = ()>, SetupError> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut terminate = signal(SignalKind::terminate()).map_err(SetupError::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(SetupError::Signal)?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "Stopping.");
    })
}

/// Collects and pushes every `interval_secs` until `shutdown` completes.
///
/// Each target has its own push task, so a slow target delays neither the cycles nor the
/// other targets. On shutdown, pushes in flight are abandoned.
pub async fn run(config: &Config, shutdown: impl Future<Output = ()>) -> Result<(), SetupError> {
    config.require_push_targets()?;
    let targets = build_targets(config)?;
    let urls: Vec<&str> = targets.iter().map(PushTarget::url).collect();
    let counters = FailureCounters::new(&config.host, &urls);
    let mut agent = Agent::new(config);

    tracing::info!(
        version = crate::VERSION,
        host = %config.host,
        collectors = ?agent.collector_names(),
        targets = ?urls,
        interval_secs = config.interval.as_secs(),
        "Starting the koji agent."
    );

    let sender: SnapshotSender = watch::channel(None).0;
    let workers: Vec<_> = targets
        .into_iter()
        .map(|target| tokio::spawn(run_target(target, sender.subscribe(), counters.clone())))
        .collect();

    let mut interval = tokio::time::interval(config.interval);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = interval.tick() => {}
        }
        let snapshot = tokio::select! {
            () = &mut shutdown => break,
            snapshot = agent.collect() => snapshot,
        };
        sender.send_replace(Some(Arc::from(snapshot.text)));
    }

    for worker in workers {
        worker.abort();
    }
    tracing::info!("Stopped.");
    Ok(())
}

/// Runs one cycle and pushes it once to every target, without retries.
pub async fn once(config: &Config) -> Result<Vec<TargetReport>, SetupError> {
    config.require_push_targets()?;
    let targets = build_targets(config)?;
    let urls: Vec<&str> = targets.iter().map(PushTarget::url).collect();
    let counters = FailureCounters::new(&config.host, &urls);
    let snapshot = Agent::new(config).collect().await;

    let mut reports = Vec::with_capacity(targets.len());
    for target in &targets {
        let body = format!("{}{}", snapshot.text, counters.render());
        let result = target.push(&body).await;
        if let Err(error) = &result {
            counters.record(target.url(), error.reason);
        }
        reports.push(TargetReport {
            target: target.url().to_string(),
            result,
        });
    }
    Ok(reports)
}

/// Runs one cycle and returns its exposition, without pushing.
pub async fn print(config: &Config) -> String {
    Agent::new(config).collect().await.text
}

/// Removes the host's group from every target (for a retired builder).
pub async fn deregister(config: &Config) -> Result<Vec<TargetReport>, SetupError> {
    config.require_push_targets()?;
    let targets = build_targets(config)?;
    let mut reports = Vec::with_capacity(targets.len());
    for target in &targets {
        reports.push(TargetReport {
            target: target.url().to_string(),
            result: target.delete().await,
        });
    }
    Ok(reports)
}

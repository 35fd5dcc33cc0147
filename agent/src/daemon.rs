//! The agent's modes: the push loop, one cycle (`--once`), and removing the host's group.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::agent::Agent;
use crate::config::{Config, ConfigError, Problem};
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
    #[error("cannot install the SIGTERM, SIGINT and SIGHUP handlers: {0}")]
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

/// URL of the hub client that [`check_setup`] builds to load `hub.ca_file` the way the hub
/// collector loads it. Building a client opens no connection, so any valid URL works.
const FILE_CHECK_HUB_URL: &str = "https://hub.invalid/kojihub";

/// Checks what the modes need before they start: a push target when `needs_targets` is
/// set, and every file the configuration names, loaded as the modes load them (each push
/// target's certificate, key and CA bundle, and `hub.ca_file`). Reports every problem at
/// once, naming the configuration file.
pub fn check_setup(config: &Config, needs_targets: bool) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    if needs_targets
        && let Err(ConfigError::Invalid {
            problems: found, ..
        }) = config.require_push_targets()
    {
        problems.extend(found);
    }
    for (index, target) in config.push.iter().enumerate() {
        if let Err(error) = PushTarget::new(target, &config.host) {
            problems.push(Problem::of_key(format!("push[{index}]"), error.message));
        }
    }
    if config.hub.enabled
        && let Some(ca_file) = &config.hub.ca_file
        && let Err(error) = koji::ClientBuilder::new(FILE_CHECK_HUB_URL)
            .ca_bundle(ca_file)
            .build()
    {
        let message = match error {
            koji::Error::Config(message) => message,
            other => other.to_string(),
        };
        problems.push(Problem::of_key("hub.ca_file", message));
    }

    if problems.is_empty() {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        path: config.path.clone(),
        problems,
    })
}

/// Returns a future that completes at the first SIGTERM or SIGINT.
///
/// Each SIGHUP, whose default action would end the process, is logged at warn and otherwise
/// ignored, because the agent reads its configuration only at start.
pub fn shutdown_signal() -> Result<impl Future<Output = ()>, SetupError> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut terminate = signal(SignalKind::terminate()).map_err(SetupError::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(SetupError::Signal)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(SetupError::Signal)?;
    Ok(async move {
        // recv returns None only after the runtime shut down, and the flag keeps the loop
        // from spinning on that.
        let mut hangup_open = true;
        let name = loop {
            tokio::select! {
                _ = terminate.recv() => break "SIGTERM",
                _ = interrupt.recv() => break "SIGINT",
                received = hangup.recv(), if hangup_open => {
                    if received.is_none() {
                        hangup_open = false;
                        continue;
                    }
                    tracing::warn!(
                        signal = "SIGHUP",
                        "Configuration not reloaded: the agent reads it only at start; \
                         restart the service to apply changes."
                    );
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_setup_reports_every_target() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "just text\n").unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            format!(
                "host = \"b1\"\n[hub]\nca_file = {file:?}\n\
                 [[push]]\nurl = \"https://127.0.0.1:9091\"\nca_file = {file:?}\n\
                 [[push]]\nurl = \"https://127.0.0.1:9092\"\ncert_file = {file:?}\n\
                 key_file = {file:?}\n",
                file = not_pem.display().to_string()
            ),
        )
        .unwrap();
        let config = Config::load(&path).unwrap();

        let message = check_setup(&config, true).unwrap_err().to_string();
        assert!(
            message.contains(&format!("invalid configuration in {}", path.display())),
            "{message}"
        );
        for key in ["hub.ca_file: ", "push[0]: ", "push[1]: "] {
            let line = message
                .lines()
                .find(|line| line.trim_start().starts_with(key))
                .unwrap_or_else(|| panic!("no {key} line in\n{message}"));
            assert!(line.contains("not.pem"), "{line}");
        }
    }

    #[test]
    fn check_setup_requires_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, "host = \"b1\"\n").unwrap();
        let config = Config::load(&path).unwrap();

        let message = check_setup(&config, true).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("no push target"), "{message}");
        assert!(check_setup(&config, false).is_ok());
    }
}

//! The poll loop: one poll per `hub.poll_interval_secs`, each committed only when it
//! succeeded entirely and its state is on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use koji::calls::{QueryOpts, TaskFilter, list_tasks};
use koji::{Client, ClientBuilder, RetryPolicy, TagResolver, TaskState};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::backfill;
use super::channels::ChannelCache;
use super::clock::Clock;
use super::error::PollError;
use super::families::{self, PollStatus};
use super::hosts::{CheckInCall, fetch_hosts};
use super::snapshot::Snapshot;
use super::source::HubSource;
use super::state::PollerState;
use super::state_file::{self, StateError};
use super::tasks::{Accounting, Context};
use super::tree::TreeTags;
use crate::config::{HubConfig, TagsConfig};
use crate::persist::{self, PersistError};

/// Time between two log lines of the same repeated poll failure.
const REPEAT_LOG_INTERVAL_SECS: f64 = 600.0;

/// A failure to start the poller.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory does not exist and cannot be created.
    #[error(
        "cannot create the state directory {path}: {source}; create it writable by the \
         service user, or set state_dir to another directory"
    )]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The state file cannot be used.
    #[error(transparent)]
    State(#[from] StateError),

    /// The hub client cannot be built from the `[hub]` settings.
    #[error("cannot set up the client for the hub {url}: {source}")]
    Client {
        /// The hub URL.
        url: String,
        /// The client's error.
        source: Box<koji::Error>,
    },
}

/// Polls the hub, counts tasks, keeps the state file and publishes `/metrics` families.
pub struct HubPoller {
    client: Client,
    resolver: TagResolver,
    hub: HubConfig,
    tags: TagsConfig,
    state_path: PathBuf,
    clock: Arc<dyn Clock>,
    channels: ChannelCache,
    trees: TreeTags,
    check_in_call: CheckInCall,
    committed: PollerState,
    status: PollStatus,
    ready: bool,
    source: HubSource,
    failures: FailureLog,
    slow_polls: SlowPollLog,
}

impl HubPoller {
    /// Builds the hub client and loads `<state_dir>/state.json` when it exists. The loaded
    /// snapshot and counters are served, with `koji_hub_up 0`, until the first poll.
    pub fn new(
        hub: &HubConfig,
        tags: &TagsConfig,
        state_dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StartError::StateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let state_path = state_file::state_path(state_dir);
        let committed = state_file::load(&state_path, &hub.url)?.unwrap_or_default();
        if committed.book.highest_seen.is_some() {
            tracing::info!(
                path = %state_path.display(),
                highest_task_id = committed.book.highest_seen,
                tracked_tasks = committed.book.tracked.len(),
                "Loaded the poller state."
            );
        }
        let admitted = committed.tags.admitted().count();
        if admitted > tags.max_values {
            // Relabelling admitted values would move their running counters to `other`.
            tracing::warn!(
                path = %state_path.display(),
                admitted,
                max_values = tags.max_values,
                "The state file has more admitted tag values than tags.max_values. They keep \
                 their labels, and no new tag value is admitted. To apply the lower cap, stop \
                 the aggregator and move the state file away, which restarts the task \
                 counters."
            );
        }

        let client = build_client(hub).map_err(|source| StartError::Client {
            url: hub.url.clone(),
            source: Box::new(source),
        })?;
        let poller = Self {
            resolver: TagResolver::new(client.clone()),
            client,
            hub: hub.clone(),
            tags: tags.clone(),
            state_path,
            clock,
            channels: ChannelCache::default(),
            trees: TreeTags::default(),
            check_in_call: CheckInCall::default(),
            committed,
            status: PollStatus::default(),
            ready: false,
            source: HubSource::default(),
            failures: FailureLog::default(),
            slow_polls: SlowPollLog::default(),
        };
        poller.publish();
        Ok(poller)
    }

    /// Returns the `/metrics` source that this poller feeds.
    pub fn source(&self) -> HubSource {
        self.source.clone()
    }

    /// Returns the committed state, which `/metrics` shows and the state file contains.
    pub fn state(&self) -> &PollerState {
        &self.committed
    }

    /// Polls every `hub.poll_interval_secs`, the first time at once, until `shutdown`
    /// becomes true. A failed poll is logged and retried at the next interval.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(self.hub.poll_interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.changed() => return,
            }
            tokio::select! {
                _ = self.poll() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Runs one poll. On success the new state is written to the state file and then
    /// served. On failure nothing of the poll is kept, `koji_hub_up` becomes 0, and the last
    /// good data stays on `/metrics`.
    pub async fn poll(&mut self) -> Result<(), PollError> {
        let started = self.clock.monotonic();
        let mut work = self.committed.clone();
        let result = match self.poll_into(&mut work).await {
            Ok(()) => {
                work.counters.polls_success += 1;
                work.last_success = Some(self.clock.now());
                self.save(&work).await.map_err(PollError::from)
            }
            Err(error) => Err(error),
        };
        let duration = self.clock.monotonic() - started;
        let now = self.clock.monotonic();
        let interval = self.hub.poll_interval.as_secs_f64();
        if duration > interval
            && let Some(slow_polls_not_logged) = self.slow_polls.record(now)
        {
            tracing::warn!(
                duration_secs = duration,
                interval_secs = interval,
                slow_polls_not_logged,
                "Hub poll took longer than hub.poll_interval_secs, so the next poll starts late; \
                 raise the interval, or look at the hub's load."
            );
        }

        match result {
            Ok(()) => {
                self.committed = work;
                self.status = PollStatus {
                    up: true,
                    duration: Some(duration),
                };
                self.ready = true;
                log_recovery(self.failures.succeeded(now));
                self.publish();
                Ok(())
            }
            Err(error) => {
                self.committed.counters.polls_failure += 1;
                if let Err(save_error) = self.save(&self.committed).await {
                    // NOTE: the failure count is served without being on disk, so a restart
                    // after a failed write can show it lower than a scrape saw it.
                    tracing::error!(error = %save_error, "Cannot save the poller state.");
                }
                self.status = PollStatus {
                    up: false,
                    duration: Some(duration),
                };
                log_failure(&error, self.failures.failed(error.kind(), now));
                self.publish();
                Err(error)
            }
        }
    }

    async fn poll_into(&mut self, work: &mut PollerState) -> Result<(), PollError> {
        let now = self.clock.now();
        let monotonic = self.clock.monotonic();

        if self
            .channels
            .is_due(monotonic, self.hub.channel_cache.as_secs_f64())
        {
            self.channels
                .refresh(&self.client, monotonic)
                .await
                .map_err(PollError::at("reading the channels"))?;
        }
        let hosts = fetch_hosts(&self.client, &mut self.check_in_call)
            .await
            .map_err(PollError::at("listing the hosts"))?;

        let highest = QueryOpts {
            order: Some("-id".to_string()),
            limit: Some(1),
            ..QueryOpts::default()
        };
        let max_id = self
            .client
            .call(list_tasks(&TaskFilter::default(), &highest))
            .await
            .map_err(PollError::at("reading the highest task id"))?
            .first()
            .map(|task| task.id);
        let active = TaskFilter {
            state: Some(vec![TaskState::Free, TaskState::Open, TaskState::Assigned]),
            ..TaskFilter::default()
        };
        let listing = self
            .client
            .call(list_tasks(&active, &QueryOpts::default()))
            .await
            .map_err(PollError::at("listing the active tasks"))?;

        if work.book.highest_seen.is_none() {
            let baseline = self.first_start_baseline(max_id, now).await?;
            tracing::info!(
                counting_after_task_id = baseline,
                active_tasks = listing.len(),
                backfill_hours = self.hub.backfill_hours,
                "First start: counting tasks above this id; active tasks at or below it are \
                 counted when they finish."
            );
            work.book.highest_seen = Some(baseline);
        }

        let context = Context {
            client: &self.client,
            resolver: &self.resolver,
            hub: &self.hub,
            tags: &self.tags,
        };
        Accounting::new(context, &mut self.channels, &mut self.trees, now, monotonic)
            .run(work, max_id, &listing)
            .await?;

        work.snapshot = Some(Snapshot::build(hosts, &self.channels, &listing, &work.book));
        Ok(())
    }

    /// Returns the id above which the first start counts tasks as created: the hub's
    /// highest id, or with `hub.backfill_hours` the id before the first task of the
    /// backfill window.
    async fn first_start_baseline(&self, max_id: Option<i64>, now: f64) -> Result<i64, PollError> {
        let Some(max_id) = max_id else {
            return Ok(0);
        };
        if self.hub.backfill_hours == 0 {
            return Ok(max_id);
        }
        let cutoff = now - self.hub.backfill_hours as f64 * 3600.0;
        let first = backfill::first_id_since(&self.client, cutoff, max_id)
            .await
            .map_err(PollError::at("finding the first task of the backfill"))?;
        Ok(first - 1)
    }

    async fn save(&self, state: &PollerState) -> Result<(), PersistError> {
        let bytes = state_file::encode(&self.state_path, &self.hub.url, state, self.clock.now())?;
        let path = self.state_path.clone();
        tokio::task::spawn_blocking(move || persist::write_atomic(&path, &bytes))
            .await
            .unwrap_or_else(|error| {
                Err(PersistError::Write {
                    path: self.state_path.clone(),
                    source: std::io::Error::other(error),
                })
            })
    }

    fn publish(&self) {
        self.source
            .publish(families::build(&self.committed, self.status), self.ready);
    }
}

/// Builds the hub client. Calls are not retried within a poll: the next poll is the retry,
/// and its failure is logged once, where the client would log every retry.
fn build_client(hub: &HubConfig) -> Result<Client, koji::Error> {
    let mut builder = ClientBuilder::new(hub.url.clone())
        .connect_timeout(hub.connect_timeout)
        .call_timeout(hub.call_timeout)
        .retry(RetryPolicy::none())
        .multicall_batch(hub.multicall_batch);
    if let Some(ca_file) = &hub.ca_file {
        builder = builder.ca_bundle(ca_file);
    }
    if let Some((cert, key)) = &hub.identity {
        builder = builder.identity(cert, key);
    }
    builder.build()
}

/// Decides which poll failures are logged: the first of a kind at once, repeats of the
/// same kind at most every ten minutes with their number, and the recovery with the time
/// the hub was failing.
#[derive(Debug, Default)]
struct FailureLog {
    failing_since: Option<f64>,
    failed_polls: u64,
    last_kind: Option<String>,
    last_logged: f64,
    unlogged_repeats: u64,
}

/// A log line that the failure log requests.
#[derive(Debug, PartialEq)]
enum LogLine {
    /// A failure, with the repeats of the previous failure kind that were not logged.
    Failure {
        failed_polls: u64,
        failing_secs: f64,
        repeats_not_logged: u64,
    },
    /// The first success after failures.
    Recovery {
        failed_polls: u64,
        failing_secs: f64,
    },
}

impl FailureLog {
    /// Records a failure of `kind` at monotonic time `now`; returns the line to log, if any.
    fn failed(&mut self, kind: String, now: f64) -> Option<LogLine> {
        let since = *self.failing_since.get_or_insert(now);
        self.failed_polls += 1;

        let same = self.last_kind.as_deref() == Some(kind.as_str());
        if same && now - self.last_logged < REPEAT_LOG_INTERVAL_SECS {
            self.unlogged_repeats += 1;
            return None;
        }
        let line = LogLine::Failure {
            failed_polls: self.failed_polls,
            failing_secs: (now - since).round(),
            repeats_not_logged: self.unlogged_repeats,
        };
        self.last_kind = Some(kind);
        self.last_logged = now;
        self.unlogged_repeats = 0;
        Some(line)
    }

    /// Records a success at monotonic time `now`; returns the recovery line after failures.
    fn succeeded(&mut self, now: f64) -> Option<LogLine> {
        let since = self.failing_since?;
        let line = LogLine::Recovery {
            failed_polls: self.failed_polls,
            failing_secs: (now - since).round(),
        };
        *self = Self::default();
        Some(line)
    }
}

/// Decides which polls slower than the interval are logged: the first at once, later ones at
/// most every ten minutes, with the number left out in between.
#[derive(Debug, Default)]
struct SlowPollLog {
    last_logged: Option<f64>,
    unlogged: u64,
}

impl SlowPollLog {
    /// Records a slow poll at monotonic time `now`. Returns `None` when the poll is not to be
    /// logged, else the number of slow polls left out since the last line.
    fn record(&mut self, now: f64) -> Option<u64> {
        if let Some(last) = self.last_logged
            && now - last < REPEAT_LOG_INTERVAL_SECS
        {
            self.unlogged += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

fn log_failure(error: &PollError, line: Option<LogLine>) {
    if let Some(LogLine::Failure {
        failed_polls,
        failing_secs,
        repeats_not_logged,
    }) = line
    {
        tracing::warn!(
            error = %error,
            failed_polls,
            failing_secs,
            repeats_not_logged,
            "Hub poll failed; /metrics keeps the last good data with koji_hub_up 0."
        );
    }
}

fn log_recovery(line: Option<LogLine>) {
    if let Some(LogLine::Recovery {
        failed_polls,
        failing_secs,
    }) = line
    {
        tracing::info!(failed_polls, failing_secs, "Hub poll succeeded again.");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slow_polls_logged_every_ten_minutes() {
        let mut log = super::SlowPollLog::default();

        assert_eq!(log.record(100.0), Some(0));
        assert_eq!(log.record(130.0), None);
        assert_eq!(log.record(160.0), None);
        assert_eq!(log.record(700.0), Some(2));
        assert_eq!(log.record(1299.0), None);
        assert_eq!(log.record(1300.0), Some(1));
    }

    use super::*;

    fn failure(failed_polls: u64, failing_secs: f64, repeats_not_logged: u64) -> Option<LogLine> {
        Some(LogLine::Failure {
            failed_polls,
            failing_secs,
            repeats_not_logged,
        })
    }

    #[test]
    fn repeated_failure_is_logged_every_ten_minutes() {
        let mut log = FailureLog::default();
        let timeout = || "listing the active tasks: timeout".to_string();

        assert_eq!(log.failed(timeout(), 0.0), failure(1, 0.0, 0));
        assert_eq!(log.failed(timeout(), 30.0), None);
        assert_eq!(log.failed(timeout(), 599.0), None);
        assert_eq!(log.failed(timeout(), 600.0), failure(4, 600.0, 2));
        assert_eq!(log.failed(timeout(), 630.0), None);
    }

    #[test]
    fn another_failure_is_logged_at_once() {
        let mut log = FailureLog::default();

        assert!(log.failed("a: timeout".into(), 0.0).is_some());
        assert_eq!(log.failed("a: timeout".into(), 30.0), None);
        assert_eq!(log.failed("a: HTTP 502".into(), 60.0), failure(3, 60.0, 1));
    }

    #[test]
    fn recovery_says_how_long_the_hub_failed() {
        let mut log = FailureLog::default();
        assert_eq!(log.succeeded(0.0), None);

        log.failed("a: timeout".into(), 100.0);
        log.failed("a: timeout".into(), 130.0);
        assert_eq!(
            log.succeeded(160.0),
            Some(LogLine::Recovery {
                failed_polls: 2,
                failing_secs: 60.0
            })
        );
        assert_eq!(log.succeeded(190.0), None);
        assert_eq!(log.failed("a: timeout".into(), 200.0), failure(1, 0.0, 0));
    }
}

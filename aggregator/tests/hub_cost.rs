//! What polling costs the hub: the aggregator's poll next to the poll of the Python
//! `koji-prometheus-exporter` (release-engineering), on the simulator's load mode at midday,
//! with the same counts of tasks completed since midnight.
//!
//! `hub_cost_smoke` runs at 1/100 of the full size in every `cargo test`. The full size
//! (a million-row task table, 50,000 tasks a day) runs from `tests/bench/hub-cost`, which
//! sets `HUB_COST_FULL=1` and runs `hub_cost_full`; docs/benchmarks.md has its results.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use common::{Harness, scenario};
use koji::calls::{
    IdOrName, ListChannelsOptions, ListHostsOptions, QueryOpts, TaskFilter, TimeBound,
    get_last_host_update, list_channels, list_hosts, list_tasks,
};
use koji::{Channel, Client, MultiCall, TaskState};
use koji_hub_sim::{ClockStart, LoadConfig, Micros, SimHandle, SimOptions, StatsSnapshot};

/// 2026-12-04 00:00 UTC.
const MIDNIGHT: f64 = 1_796_342_400.0;

/// 2026-12-04 12:00 UTC, where each run starts.
const MIDDAY: f64 = MIDNIGHT + 12.0 * 3600.0;

/// Seconds between two polls of the aggregator (its default).
const AGGREGATOR_INTERVAL: f64 = 30.0;

/// Seconds between two polls of the exporter (its default `KOJI_POLL_INTERVAL`).
const EXPORTER_INTERVAL: f64 = 3.0;

/// Seconds the exporter caches the hosts of each channel.
const EXPORTER_CHANNEL_CACHE: f64 = 1000.0;

/// The size of one run.
struct Size {
    prefill_rows: u64,
    tasks_per_day: f64,
    generated_hosts: u32,
    polls: usize,
}

/// Hub cost of one poll, as the simulator counted it.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    /// HTTP requests (a multicall is one).
    requests: f64,
    /// Rows returned: list items, or 1 for a struct; the calls inside a multicall count.
    rows: f64,
    /// Reply bytes; a multicall counts by its entries.
    bytes: f64,
    /// Wall time in seconds, simulator included.
    seconds: f64,
}

impl Cost {
    fn from_stats(stats: &StatsSnapshot, seconds: f64) -> Self {
        let multicall = stats.method("multiCall");
        Self {
            requests: (stats.total.calls - multicall.rows) as f64,
            rows: (stats.total.rows - multicall.rows) as f64,
            bytes: (stats.total.bytes - multicall.bytes) as f64,
            seconds,
        }
    }

    fn add(&mut self, other: &Cost) {
        self.requests += other.requests;
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.seconds += other.seconds;
    }

    fn scaled(&self, factor: f64) -> Cost {
        Cost {
            requests: self.requests * factor,
            rows: self.rows * factor,
            bytes: self.bytes * factor,
            seconds: self.seconds * factor,
        }
    }
}

/// Completed tasks by (state, channel, method).
type Completions = BTreeMap<(String, String, String), u64>;

/// The polls of `koji-prometheus-exporter.py`. Each poll lists all tasks created since
/// midnight UTC with their request and result, the open tasks, and the free and assigned
/// tasks. It lists the enabled hosts of each channel (cached 1000 s) and all enabled hosts,
/// and sends one multicall of `getLastHostUpdate(id, ts=True)` for them. Its channel list is
/// read once at start.
struct Exporter {
    client: Client,
    channels: Vec<Channel>,
    channels_fetched: Option<f64>,
}

impl Exporter {
    async fn start(client: Client) -> Self {
        let channels = client
            .call(list_channels(&ListChannelsOptions::default()))
            .await
            .unwrap();
        Self {
            client,
            channels,
            channels_fetched: None,
        }
    }

    /// One poll at virtual time `now`; returns the completions it counts.
    async fn poll(&mut self, now: f64) -> Completions {
        let since_midnight = TaskFilter {
            created_after: Some(TimeBound::Epoch(MIDNIGHT)),
            ..TaskFilter::default()
        };
        let today = self
            .client
            .call(list_tasks(&since_midnight, &QueryOpts::default()))
            .await
            .unwrap();
        for states in [
            vec![TaskState::Open],
            vec![TaskState::Free, TaskState::Assigned],
        ] {
            let filter = TaskFilter {
                state: Some(states),
                ..TaskFilter::default()
            };
            self.client
                .call(list_tasks(&filter, &QueryOpts::default()))
                .await
                .unwrap();
        }

        if self
            .channels_fetched
            .is_none_or(|fetched| now - fetched >= EXPORTER_CHANNEL_CACHE)
        {
            for channel in &self.channels {
                let options = ListHostsOptions {
                    channel: Some(IdOrName::Id(channel.id)),
                    enabled: Some(true),
                    ..ListHostsOptions::default()
                };
                self.client.call(list_hosts(&options)).await.unwrap();
            }
            self.channels_fetched = Some(now);
        }
        let enabled = ListHostsOptions {
            enabled: Some(true),
            ..ListHostsOptions::default()
        };
        let hosts = self.client.call(list_hosts(&enabled)).await.unwrap();
        let mut multicall = MultiCall::new();
        for host in &hosts {
            multicall.add(get_last_host_update(host.id, true));
        }
        self.client.multicall(multicall).await.unwrap();

        let mut completions = Completions::new();
        for task in today.iter().filter(|task| task.state.is_finished()) {
            let channel = self
                .channels
                .iter()
                .find(|channel| channel.id == task.channel_id)
                .map_or_else(
                    || task.channel_id.to_string(),
                    |channel| channel.name.clone(),
                );
            let key = (task.state.label().to_string(), channel, task.method.clone());
            *completions.entry(key).or_default() += 1;
        }
        completions
    }
}

/// Sums the aggregator's completed counters over tags, less the completions of `adopted`
/// tasks. Those were active at the first start but created before midnight, so the
/// exporter never counts them.
fn aggregator_completions(harness: &Harness, adopted: &[i64]) -> Completions {
    let mut completions = Completions::new();
    for ((state, labels), count) in &harness.poller.state().counters.completed {
        let key = (
            state.label().to_string(),
            labels.channel.clone(),
            labels.method.clone(),
        );
        *completions.entry(key).or_default() += count;
    }
    for id in adopted {
        let truth = harness
            .sim
            .task_truth(*id)
            .expect("adopted tasks are not deleted");
        if truth.state.is_terminal() {
            let key = (truth.state.name().to_string(), truth.channel, truth.method);
            let count = completions
                .get_mut(&key)
                .expect("an adopted completion is counted");
            *count -= 1;
        }
    }
    completions.retain(|_, count| *count > 0);
    completions
}

/// Runs one poll of the aggregator and returns its cost and the simulator's counters.
async fn aggregator_poll(harness: &mut Harness) -> (Cost, StatsSnapshot) {
    harness.sim.reset_stats();
    let started = Instant::now();
    harness.poll().await;
    let stats = harness.sim.stats();
    (
        Cost::from_stats(&stats, started.elapsed().as_secs_f64()),
        stats,
    )
}

/// Runs one poll of the exporter and returns its cost, the simulator's counters and the
/// completions it counts.
async fn exporter_poll(
    exporter: &mut Exporter,
    sim: &SimHandle,
) -> (Cost, StatsSnapshot, Completions) {
    sim.reset_stats();
    let started = Instant::now();
    let completions = exporter.poll(sim.now()).await;
    let stats = sim.stats();
    (
        Cost::from_stats(&stats, started.elapsed().as_secs_f64()),
        stats,
        completions,
    )
}

/// Writes the calls, rows and bytes of each method of one poll as table rows.
fn breakdown(text: &mut String, name: &str, stats: &StatsSnapshot) {
    for (method, counts) in &stats.methods {
        writeln!(
            text,
            "| {name} | {method} | {} | {} | {} |",
            counts.calls, counts.rows, counts.bytes
        )
        .unwrap();
    }
}

/// The results of a run.
struct Report {
    text: String,
    aggregator: Cost,
    exporter: Cost,
}

async fn run(size: &Size) -> Report {
    let mut demo = scenario("demo");
    demo.tasks.clear();
    demo.clock.now = Some(ClockStart::At(Micros::from_secs_f64(MIDDAY)));
    let load = LoadConfig {
        tasks_per_day: size.tasks_per_day,
        prefill_rows: size.prefill_rows,
        generated_hosts: size.generated_hosts,
        seed: 42,
        ..LoadConfig::default()
    };
    let options = SimOptions {
        load: Some(load),
        ..SimOptions::default()
    };
    let setup = Instant::now();
    let mut harness = Harness::start(demo, options, "backfill_hours = 12", "").await;
    let setup_seconds = setup.elapsed().as_secs_f64();
    let sim = Arc::clone(&harness.sim);
    let client = Client::new(sim.url()).unwrap();
    let mut exporter = Exporter::start(client).await;

    // First start with a backfill to midnight: same completions as the exporter's count.
    let (first, _) = aggregator_poll(&mut harness).await;
    let adopted: Vec<i64> = harness
        .poller
        .state()
        .book
        .tracked
        .iter()
        .filter(|(_, task)| task.create_ts.is_some_and(|created| created < MIDNIGHT))
        .map(|(id, _)| *id)
        .collect();
    let (_, _, expected) = exporter_poll(&mut exporter, &sim).await;
    assert_eq!(
        aggregator_completions(&harness, &adopted),
        expected,
        "after the backfill"
    );

    let mut ours = Cost::default();
    let mut theirs = Cost::default();
    let mut last_completions = Completions::new();
    let mut last_stats = (StatsSnapshot::default(), StatsSnapshot::default());
    for _ in 0..size.polls {
        sim.advance(AGGREGATOR_INTERVAL).unwrap();
        let (cost, our_stats) = aggregator_poll(&mut harness).await;
        ours.add(&cost);
        let (cost, their_stats, completions) = exporter_poll(&mut exporter, &sim).await;
        theirs.add(&cost);
        last_completions = completions;
        last_stats = (our_stats, their_stats);
    }
    assert_eq!(
        aggregator_completions(&harness, &adopted),
        last_completions,
        "after {} polls",
        size.polls
    );

    let polls = size.polls as f64;
    let ours = ours.scaled(1.0 / polls);
    let theirs = theirs.scaled(1.0 / polls);
    let ours_hour = ours.scaled(3600.0 / AGGREGATOR_INTERVAL);
    let theirs_hour = theirs.scaled(3600.0 / EXPORTER_INTERVAL);
    let completed: u64 = last_completions.values().sum();
    let active = sim.active_task_ids().len();

    let mut text = String::new();
    writeln!(
        text,
        "task table: {} rows, {} tasks a day, {} active at the end, {} completed since \
         midnight; simulator setup {:.1} s",
        sim.task_count(),
        size.tasks_per_day,
        active,
        completed,
        setup_seconds
    )
    .unwrap();
    writeln!(
        text,
        "first poll with a 12 h backfill: {} requests, {} rows, {:.0} bytes, {:.3} s",
        first.requests, first.rows, first.bytes, first.seconds
    )
    .unwrap();
    writeln!(
        text,
        "\n| per poll (mean of {} polls) | requests | rows | bytes | wall time |",
        size.polls
    )
    .unwrap();
    writeln!(text, "| --- | ---: | ---: | ---: | ---: |").unwrap();
    for (name, cost) in [
        ("koji-aggregator", ours),
        ("koji-prometheus-exporter", theirs),
    ] {
        writeln!(
            text,
            "| {name} | {:.1} | {:.0} | {:.0} | {:.3} s |",
            cost.requests, cost.rows, cost.bytes, cost.seconds
        )
        .unwrap();
    }
    writeln!(
        text,
        "| ratio | {:.1} | {:.1} | {:.1} | {:.1} |",
        theirs.requests / ours.requests,
        theirs.rows / ours.rows,
        theirs.bytes / ours.bytes,
        theirs.seconds / ours.seconds
    )
    .unwrap();
    writeln!(
        text,
        "\n| per hour (30 s and 3 s intervals) | requests | rows | bytes | wall time |"
    )
    .unwrap();
    writeln!(text, "| --- | ---: | ---: | ---: | ---: |").unwrap();
    for (name, cost) in [
        ("koji-aggregator", ours_hour),
        ("koji-prometheus-exporter", theirs_hour),
    ] {
        writeln!(
            text,
            "| {name} | {:.0} | {:.0} | {:.0} | {:.1} s |",
            cost.requests, cost.rows, cost.bytes, cost.seconds
        )
        .unwrap();
    }
    writeln!(text, "\n| last poll | method | calls | rows | bytes |").unwrap();
    writeln!(text, "| --- | --- | ---: | ---: | ---: |").unwrap();
    breakdown(&mut text, "koji-aggregator", &last_stats.0);
    breakdown(&mut text, "koji-prometheus-exporter", &last_stats.1);
    Report {
        text,
        aggregator: ours,
        exporter: theirs,
    }
}

/// 1/100 of the full size: 10,000 rows and 500 tasks a day, so the day has the same shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_cost_smoke() {
    let size = Size {
        prefill_rows: 10_000,
        tasks_per_day: 500.0,
        generated_hosts: 2,
        polls: 10,
    };
    let report = run(&size).await;
    println!("{}", report.text);

    assert!(
        report.exporter.rows > 5.0 * report.aggregator.rows,
        "{}",
        report.text
    );
    assert!(
        report.exporter.bytes > 10.0 * report.aggregator.bytes,
        "{}",
        report.text
    );
}

/// Runs the full size; start it with tests/bench/hub-cost (release build, several minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full-size benchmark; run tests/bench/hub-cost"]
async fn hub_cost_full() {
    let rows = std::env::var("HUB_COST_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(1_000_000);
    let size = Size {
        prefill_rows: rows,
        tasks_per_day: 50_000.0,
        generated_hosts: 80,
        polls: 20,
    };
    let report = run(&size).await;
    println!("{}", report.text);

    // NOTE: per poll the aggregator reads about 30 times fewer rows and 40 times fewer bytes
    // than the exporter here, not 100 times: every poll lists all ~700 active tasks with
    // their request XML, which the exporter lists too. Per hour (30 s against 3 s polls)
    // the factors are about 280 and 380.
    assert!(
        report.exporter.rows > 20.0 * report.aggregator.rows,
        "{}",
        report.text
    );
    assert!(
        report.exporter.bytes > 25.0 * report.aggregator.bytes,
        "{}",
        report.text
    );
}

//! SIGKILL at random moments, mid-poll and mid-write, while the simulator's load mode
//! creates and finishes tasks: no scraped counter ever goes down, and after the load stops
//! every counter equals the simulator's ground truth.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::binary::{Aggregator, poll_config, write_config};
use common::{Exposition, counter_tables, scenario, truth_tables};
use koji_hub_sim::{
    ClockStart, FaultAction, FaultRule, HubSim, LoadConfig, Micros, SimHandle, SimOptions,
};
use rand::RngExt;

const ROUNDS: usize = 20;
const WAIT: Duration = Duration::from_secs(60);

/// Virtual seconds the clock moves every 100 ms of real time while the load runs.
const VIRTUAL_SECS_PER_TICK: f64 = 6.0;

/// Every counter sample seen, and the decreases found.
#[derive(Default)]
struct CounterLog {
    last: BTreeMap<String, f64>,
    samples: usize,
    decreases: Vec<String>,
}

impl CounterLog {
    fn record(&mut self, metrics: &Exposition) {
        for sample in &metrics.samples {
            let counter = ["_total", "_bucket", "_count", "_sum"]
                .iter()
                .any(|suffix| sample.name.ends_with(suffix));
            if !counter {
                continue;
            }
            let key = format!("{}{:?}", sample.name, sample.labels);
            self.samples += 1;
            if let Some(previous) = self.last.insert(key.clone(), sample.value)
                && sample.value < previous
            {
                self.decreases
                    .push(format!("{key}: {previous} then {}", sample.value));
            }
        }
    }
}

/// Completed tasks that had started, by channel and method: the count that each of the
/// wait and run histograms must have, because both observe a task when it completes and only
/// when it started.
fn started_completions(sim: &SimHandle) -> BTreeMap<String, f64> {
    let mut counts = BTreeMap::new();
    for event in sim.events_since(0).iter().filter(|event| event.completed) {
        let task = sim
            .task_truth(event.task_id)
            .expect("the load deletes no task");
        if task.start_ts.is_some() {
            *counts
                .entry(format!("{}/{}", event.channel, event.method))
                .or_insert(0.0) += 1.0;
        }
    }
    counts
}

/// The `_count` series of the histogram `name`, by channel and method.
fn histogram_counts(metrics: &Exposition, name: &str) -> BTreeMap<String, f64> {
    metrics
        .series(&format!("{name}_count"))
        .iter()
        .map(|sample| {
            let label = |name: &str| sample.labels.get(name).cloned().unwrap_or_default();
            (
                format!("{}/{}", label("channel"), label("method")),
                sample.value,
            )
        })
        .collect()
}

fn load_scenario() -> koji_hub_sim::Scenario {
    let mut scenario = scenario("demo");
    scenario.tasks.clear();
    // 2026-12-04 12:00 UTC: midday, near the peak of the daily curve.
    scenario.clock.now = Some(ClockStart::At(Micros(1_796_385_600_000_000)));
    scenario
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_rounds_lose_and_repeat_nothing() {
    let load = LoadConfig {
        tasks_per_day: 50_000.0,
        prefill_rows: 2_000,
        seed: 17,
        generated_hosts: 30,
        ..LoadConfig::default()
    };
    let options = SimOptions {
        load: Some(load),
        ..SimOptions::default()
    };
    let sim = Arc::new(HubSim::start(load_scenario(), options).await.unwrap());
    // Slow replies stretch each poll over a few hundred milliseconds, so that kills land
    // inside polls and state writes.
    for (method, seconds) in [
        ("listTasks", 0.1),
        ("getTaskInfo", 0.15),
        ("listHosts", 0.05),
    ] {
        sim.inject(FaultRule::new(
            Some(method),
            FaultAction::Delay { seconds },
            None,
        ))
        .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let port = koji_test_support::free_port();
    let config = write_config(dir.path(), &poll_config(dir.path(), port, &sim.url(), ""));
    let log = dir.path().join("aggregator.log");
    let mut aggregator = Aggregator::spawn(&config, port, &log);

    // The first poll fixes the id above which tasks count as created. The load starts after
    // that poll is on disk, so the aggregator must count every task the simulator logs.
    aggregator
        .wait_for("the first poll", WAIT, |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;

    let running = Arc::new(AtomicBool::new(true));
    let clock = {
        let sim = Arc::clone(&sim);
        let running = Arc::clone(&running);
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let sim = Arc::clone(&sim);
                tokio::task::spawn_blocking(move || sim.advance(VIRTUAL_SECS_PER_TICK))
                    .await
                    .unwrap()
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let counters = Arc::new(Mutex::new(CounterLog::default()));
    let scraper = {
        let counters = Arc::clone(&counters);
        let running = Arc::clone(&running);
        let url = format!("{}/metrics", aggregator.base_url);
        tokio::spawn(async move {
            common::install_crypto_provider();
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            while running.load(Ordering::Relaxed) {
                if let Ok(response) = client.get(&url).send().await
                    && let Ok(text) = response.text().await
                {
                    counters.lock().unwrap().record(&Exposition::parse(&text));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    for _ in 0..ROUNDS {
        // Half of the kills land in the first poll after a start (a poll takes a few
        // hundred milliseconds here), the others anywhere in the 2 s poll cycle.
        let mut random = rand::rng();
        let pause = if random.random_bool(0.5) {
            random.random_range(0..600)
        } else {
            random.random_range(600..3_000)
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        aggregator.kill();
        aggregator = Aggregator::spawn(&config, port, &log);
    }

    running.store(false, Ordering::Relaxed);
    clock.await.unwrap();
    scraper.await.unwrap();

    // After the load stopped, a poll that starts later reads every change.
    let before = aggregator
        .wait_for("a poll after the restarts", WAIT, |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;
    let successes = before.value("koji_hub_polls_total", &[("result", "success")]);
    let last = aggregator
        .wait_for("a poll after the load stopped", WAIT, |metrics| {
            metrics
                .get("koji_hub_polls_total", &[("result", "success")])
                .is_some_and(|value| value >= successes + 2.0)
        })
        .await;
    counters.lock().unwrap().record(&last);

    let truth = sim.truth();
    let created: u64 = truth.created.iter().map(|count| count.count).sum();
    let completed: u64 = truth.completed.iter().map(|count| count.count).sum();
    assert!(created > 500, "the load created only {created} tasks");
    assert!(completed > 500, "the load finished only {completed} tasks");
    assert_eq!(counter_tables(&last), truth_tables(&truth));
    assert_eq!(truth.events_dropped, 0, "the event log kept every change");
    let started = started_completions(&sim);
    assert!(started.values().sum::<f64>() > 500.0, "{started:?}");
    assert_eq!(histogram_counts(&last, "koji_task_wait_seconds"), started);
    assert_eq!(histogram_counts(&last, "koji_task_run_seconds"), started);
    assert_eq!(
        last.value("koji_aggregator_task_ids_skipped_total", &[]),
        0.0
    );

    let counters = counters.lock().unwrap();
    assert!(
        counters.samples > 1_000,
        "only {} counter samples",
        counters.samples
    );
    assert!(
        counters.decreases.is_empty(),
        "{} counter samples went down, first: {:?}",
        counters.decreases.len(),
        counters.decreases.iter().take(5).collect::<Vec<_>>()
    );
    // A kill in the first milliseconds can come before the start line is written.
    let starts = aggregator
        .log_text()
        .matches("koji-aggregator started.")
        .count();
    assert!(
        (ROUNDS / 2..=ROUNDS + 1).contains(&starts),
        "{starts} starts logged for {} processes",
        ROUNDS + 1
    );
}

//! Helpers shared by the aggregator's integration tests: the simulator with an in-process
//! poller, the real binary, and a reader for the text exposition.

#![allow(dead_code)]

pub mod binary;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use koji_aggregator::config::Config;
use koji_aggregator::hub::{FnClock, HubPoller};
use koji_aggregator::server::{AppState, MetricsSource};
use koji_hub_sim::{HubSim, NewTask, Scenario, SimHandle, SimOptions, StateChange, TaskState, Val};
use tempfile::TempDir;

/// Parses an aggregator configuration from TOML text.
pub fn config(text: &str) -> Config {
    Config::parse(Path::new("aggregator.toml"), text)
        .unwrap_or_else(|error| panic!("invalid test configuration: {error}\n{text}"))
}

/// Loads a shipped simulator scenario.
pub fn scenario(name: &str) -> Scenario {
    Scenario::shipped(name).expect("shipped scenario")
}

/// Loads a shipped scenario without its tasks, so new task ids start at 1.
pub fn scenario_without_tasks(name: &str) -> Scenario {
    let mut scenario = scenario(name);
    scenario.tasks.clear();
    scenario
}

/// Converts request params from JSON, as a scenario file writes them.
pub fn params(json: serde_json::Value) -> Vec<Val> {
    serde_json::from_value(json).expect("request params are JSON values")
}

/// Describes a top-level task of `method` with `request` in `channel`.
pub fn new_task(method: &str, channel: &str, request: serde_json::Value) -> NewTask {
    NewTask {
        channel: Some(channel.into()),
        ..NewTask::new(method, params(request))
    }
}

/// Describes a subtask of `parent`.
pub fn subtask(method: &str, parent: i64, request: serde_json::Value) -> NewTask {
    NewTask {
        parent: Some(parent),
        ..NewTask::new(method, params(request))
    }
}

/// Moves task `id` to `state`, on `host` for assigned and open.
pub fn move_task(sim: &SimHandle, id: i64, state: TaskState, host: Option<&str>) {
    let change = match host {
        Some(host) => StateChange::to(state).on(host),
        None => StateChange::to(state),
    };
    sim.set_task_state(id, change)
        .unwrap_or_else(|error| panic!("move task {id} to {state:?}: {error}"));
}

/// The simulator and a poller in this process, on the simulator's clock.
pub struct Harness {
    /// The simulator.
    pub sim: Arc<SimHandle>,
    /// The poller under test.
    pub poller: HubPoller,
    /// The state directory.
    pub dir: TempDir,
    /// The configuration the poller was built from.
    pub config: Config,
}

impl Harness {
    /// Starts `scenario` in the simulator with `options` and a poller configured by the
    /// `[hub]` keys `hub_keys` (besides `url`) and the extra TOML `rest`.
    pub async fn start(
        scenario: Scenario,
        options: SimOptions,
        hub_keys: &str,
        rest: &str,
    ) -> Self {
        let sim = Arc::new(
            HubSim::start(scenario, options)
                .await
                .expect("start simulator"),
        );
        let dir = tempfile::tempdir().expect("state directory");
        let config = config(&format!(
            "state_dir = {:?}\n[hub]\nurl = {:?}\n{hub_keys}\n{rest}",
            dir.path().display().to_string(),
            sim.url()
        ));
        let poller = new_poller(&config, &sim);
        Self {
            sim,
            poller,
            dir,
            config,
        }
    }

    /// Starts a shipped scenario with default simulator options and poller settings.
    pub async fn shipped(name: &str) -> Self {
        Self::start(scenario(name), SimOptions::default(), "", "").await
    }

    /// Runs one poll and panics when it fails.
    pub async fn poll(&mut self) {
        if let Err(error) = self.poller.poll().await {
            panic!("poll failed: {error}");
        }
    }

    /// Renders the exposition that `/metrics` would serve now.
    pub fn metrics(&self) -> Exposition {
        let source: Arc<dyn MetricsSource> = Arc::new(self.poller.source());
        Exposition::parse(&AppState::new(vec![source]).render())
    }

    /// Drops the poller and builds a new one from the same state directory, as a restart
    /// of the aggregator does.
    pub fn restart(&mut self) {
        self.poller = new_poller(&self.config, &self.sim);
    }
}

fn new_poller(config: &Config, sim: &Arc<SimHandle>) -> HubPoller {
    let clock_sim = Arc::clone(sim);
    let clock = Arc::new(FnClock(move || clock_sim.now()));
    HubPoller::new(
        config.hub.as_ref().expect("[hub] table"),
        &config.tags,
        &config.state_dir,
        clock,
    )
    .expect("start the poller")
}

/// One sample of a text exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name, with `_bucket`, `_sum` or `_count` for histogram samples.
    pub name: String,
    /// Label names and values.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// A parsed text exposition.
#[derive(Clone, Debug)]
pub struct Exposition {
    /// The text as served.
    pub text: String,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Parses the sample lines of a text exposition (format 0.0.4).
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(parse_sample)
            .collect();
        Self {
            text: text.to_string(),
            samples,
        }
    }

    /// Returns the value of the series `name` with exactly the labels `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let expected_labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == expected_labels)
            .map(|sample| sample.value)
    }

    /// Like [`get`](Self::get), but panics with the series of `name` when it is absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| {
            panic!(
                "no series {name}{labels:?}; the exposition has:\n{}",
                self.lines_of(name).join("\n")
            )
        })
    }

    /// Returns the samples of `name`.
    pub fn series(&self, name: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .collect()
    }

    /// Returns the sample lines of `name`, for messages.
    pub fn lines_of(&self, name: &str) -> Vec<String> {
        self.text
            .lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['{', ' ']))
            })
            .map(str::to_string)
            .collect()
    }

    /// Returns the series of `name` as `label values joined by "/" -> value`, in the label order
    /// given by `label_names`.
    pub fn table(&self, name: &str, label_names: &[&str]) -> BTreeMap<String, f64> {
        self.series(name)
            .into_iter()
            .map(|sample| {
                let key = label_names
                    .iter()
                    .map(|label| sample.labels.get(*label).cloned().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("/");
                (key, sample.value)
            })
            .collect()
    }
}

fn parse_sample(line: &str) -> Sample {
    let (series, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("sample line without a value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("invalid sample value in {line}")),
    };
    let Some((name, labels)) = series.split_once('{') else {
        return Sample {
            name: series.to_string(),
            labels: BTreeMap::new(),
            value,
        };
    };

    let mut parsed = BTreeMap::new();
    let mut rest = labels.trim_end_matches('}');
    while !rest.is_empty() {
        let (label, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("invalid labels in {line}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((index, character)) = chars.next() {
            match character {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                '"' => {
                    end = index + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        parsed.insert(label.trim_start_matches(',').to_string(), value);
        rest = after[end..].trim_start_matches(',');
    }
    Sample {
        name: name.to_string(),
        labels: parsed,
        value,
    }
}

/// Installs the ring crypto provider for reqwest clients in tests, which is built without a
/// default provider.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another test thread may install it first; either way one is installed afterwards.
        let _installed = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Converts the simulator's ground truth to `channel/method/tag -> created` and
/// `state/channel/method/tag -> completed`, with `none` for a tree without a tag, in the
/// layout of [`Exposition::table`].
pub fn truth_tables(
    truth: &koji_hub_sim::GroundTruth,
) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let tag = |count: &koji_hub_sim::LabelCount| count.tag.clone().unwrap_or_else(|| "none".into());
    let mut created = BTreeMap::new();
    for count in &truth.created {
        let key = format!("{}/{}/{}", count.channel, count.method, tag(count));
        *created.entry(key).or_insert(0.0) += count.count as f64;
    }
    let mut completed = BTreeMap::new();
    for count in &truth.completed {
        let state = count.state.map_or("unknown", TaskState::name);
        let key = format!("{state}/{}/{}/{}", count.channel, count.method, tag(count));
        *completed.entry(key).or_insert(0.0) += count.count as f64;
    }
    (created, completed)
}

/// Returns the created and completed counters of `metrics` in the layout of [`truth_tables`].
pub fn counter_tables(metrics: &Exposition) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    (
        metrics.table("koji_tasks_created_total", &["channel", "method", "tag"]),
        metrics.table(
            "koji_tasks_completed_total",
            &["state", "channel", "method", "tag"],
        ),
    )
}

//! The state file `<state_dir>/state.json`: the poller's state as versioned JSON.
//!
//! The file is rewritten after every poll with [`persist::write_json`] (temporary file,
//! fsync, rename), before the new values are served, so no scraped counter ever goes down,
//! not even across SIGKILL. It belongs to one hub: a file written for another hub URL is an
//! error at start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use koji::TaskState;
use koji_metrics::HistogramAccumulator;
use koji_metrics::contract::{TASK_RUN_SECONDS, TASK_WAIT_SECONDS};
use serde::{Deserialize, Serialize};

use super::labels::TagCap;
use super::snapshot::Snapshot;
use super::state::{Counters, PollerState, TaskBook, TaskLabels, TrackedTask};
use crate::persist::{self, PersistError};

/// Name of the state file inside the state directory.
pub const STATE_FILE_NAME: &str = "state.json";

/// The format version this aggregator writes and reads.
pub const STATE_VERSION: u64 = 1;

/// A state file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file cannot be read or written, or its content is not a state file of this
    /// version.
    #[error(transparent)]
    Persist(#[from] PersistError),

    /// The file contains the counters of another hub.
    #[error(
        "{path} holds the state of the hub {file_url}, but hub.url is {config_url}; set \
         hub.url back to {file_url}, or move {path} away to start counting afresh for \
         {config_url}"
    )]
    OtherHub {
        /// The file.
        path: PathBuf,
        /// The hub URL stored in the file.
        file_url: String,
        /// The hub URL of the configuration.
        config_url: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u64,
    hub_url: String,
    saved_at: f64,
    highest_seen: Option<i64>,
    tracked: Vec<TrackedRecord>,
    pending: Vec<PendingRecord>,
    polls_success: u64,
    polls_failure: u64,
    created: Vec<CreatedRecord>,
    completed: Vec<CompletedRecord>,
    wait_seconds: Vec<HistogramRecord>,
    run_seconds: Vec<HistogramRecord>,
    tag_folded: u64,
    ids_skipped: u64,
    tags_admitted: Vec<String>,
    last_success: Option<f64>,
    snapshot: Option<Snapshot>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackedRecord {
    id: i64,
    state: String,
    parent: Option<i64>,
    channel: String,
    method: String,
    tag: String,
    tree_tag: Option<String>,
    create_ts: Option<f64>,
    start_ts: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingRecord {
    id: i64,
    first_nil: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatedRecord {
    channel: String,
    method: String,
    tag: String,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletedRecord {
    state: String,
    channel: String,
    method: String,
    tag: String,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistogramRecord {
    channel: String,
    method: String,
    cumulative_counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Returns the path of the state file in `state_dir`.
pub fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE_NAME)
}

/// Reads the state file at `path`; `Ok(None)` when it does not exist.
///
/// Fails when the file cannot be read, is not a version 1 state file, or belongs to a hub
/// other than `hub_url`.
pub fn load(path: &Path, hub_url: &str) -> Result<Option<PollerState>, StateError> {
    let Some(document) = persist::read_json::<serde_json::Value>(path)? else {
        return Ok(None);
    };
    let corrupt = |detail: String| {
        StateError::Persist(PersistError::Corrupt {
            path: path.to_path_buf(),
            detail,
        })
    };

    match document.get("version").and_then(serde_json::Value::as_u64) {
        Some(STATE_VERSION) => {}
        Some(other) => {
            return Err(corrupt(format!(
                "it has state format version {other}, and this aggregator reads version \
                 {STATE_VERSION}"
            )));
        }
        None => return Err(corrupt("it has no \"version\" number".to_string())),
    }
    // A trailing slash does not change which hub a URL names.
    if let Some(file_url) = document.get("hub_url").and_then(serde_json::Value::as_str)
        && file_url.trim_end_matches('/') != hub_url.trim_end_matches('/')
    {
        return Err(StateError::OtherHub {
            path: path.to_path_buf(),
            file_url: file_url.to_string(),
            config_url: hub_url.to_string(),
        });
    }

    let file: StateFile =
        serde_json::from_value(document).map_err(|error| corrupt(error.to_string()))?;
    file.into_state().map(Some).map_err(corrupt)
}

/// Writes `state` for the hub `hub_url` to `path`, atomically and durably.
pub fn save(
    path: &Path,
    hub_url: &str,
    state: &PollerState,
    saved_at: f64,
) -> Result<(), PersistError> {
    persist::write_json(path, &StateFile::from_state(hub_url, state, saved_at))
}

/// Encodes `state` for the hub `hub_url` as the JSON content of a state file at `path`, for
/// a caller that writes it with [`persist::write_atomic`] off the async threads.
pub fn encode(
    path: &Path,
    hub_url: &str,
    state: &PollerState,
    saved_at: f64,
) -> Result<Vec<u8>, PersistError> {
    serde_json::to_vec(&StateFile::from_state(hub_url, state, saved_at)).map_err(|error| {
        PersistError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(error),
        }
    })
}

impl StateFile {
    fn from_state(hub_url: &str, state: &PollerState, saved_at: f64) -> Self {
        let book = &state.book;
        let counters = &state.counters;
        Self {
            version: STATE_VERSION,
            hub_url: hub_url.to_string(),
            saved_at,
            highest_seen: book.highest_seen,
            tracked: book
                .tracked
                .iter()
                .map(|(id, task)| TrackedRecord {
                    id: *id,
                    state: task.state.label().to_string(),
                    parent: task.parent,
                    channel: task.labels.channel.clone(),
                    method: task.labels.method.clone(),
                    tag: task.labels.tag.clone(),
                    tree_tag: task.tree_tag.clone(),
                    create_ts: task.create_ts,
                    start_ts: task.start_ts,
                })
                .collect(),
            pending: book
                .pending
                .iter()
                .map(|(id, first_nil)| PendingRecord {
                    id: *id,
                    first_nil: *first_nil,
                })
                .collect(),
            polls_success: counters.polls_success,
            polls_failure: counters.polls_failure,
            created: counters
                .created
                .iter()
                .map(|(labels, count)| CreatedRecord {
                    channel: labels.channel.clone(),
                    method: labels.method.clone(),
                    tag: labels.tag.clone(),
                    count: *count,
                })
                .collect(),
            completed: counters
                .completed
                .iter()
                .map(|((state, labels), count)| CompletedRecord {
                    state: state.label().to_string(),
                    channel: labels.channel.clone(),
                    method: labels.method.clone(),
                    tag: labels.tag.clone(),
                    count: *count,
                })
                .collect(),
            wait_seconds: histogram_records(&counters.wait),
            run_seconds: histogram_records(&counters.run),
            tag_folded: counters.tag_folded,
            ids_skipped: counters.ids_skipped,
            tags_admitted: state.tags.admitted().cloned().collect(),
            last_success: state.last_success,
            snapshot: state.snapshot.clone(),
        }
    }

    fn into_state(self) -> Result<PollerState, String> {
        let mut tracked = BTreeMap::new();
        for record in self.tracked {
            let state = parse_state(&record.state, record.id)?;
            let labels = TaskLabels {
                channel: record.channel,
                method: record.method,
                tag: record.tag,
            };
            tracked.insert(
                record.id,
                TrackedTask {
                    state,
                    parent: record.parent,
                    labels,
                    tree_tag: record.tree_tag,
                    create_ts: record.create_ts,
                    start_ts: record.start_ts,
                },
            );
        }

        let mut completed = BTreeMap::new();
        for record in self.completed {
            let state = parse_state(&record.state, 0)?;
            let labels = TaskLabels {
                channel: record.channel,
                method: record.method,
                tag: record.tag,
            };
            completed.insert((state, labels), record.count);
        }

        let counters = Counters {
            polls_success: self.polls_success,
            polls_failure: self.polls_failure,
            created: self
                .created
                .into_iter()
                .map(|record| {
                    let labels = TaskLabels {
                        channel: record.channel,
                        method: record.method,
                        tag: record.tag,
                    };
                    (labels, record.count)
                })
                .collect(),
            completed,
            wait: histograms(self.wait_seconds, &TASK_WAIT_SECONDS)?,
            run: histograms(self.run_seconds, &TASK_RUN_SECONDS)?,
            tag_folded: self.tag_folded,
            ids_skipped: self.ids_skipped,
        };

        Ok(PollerState {
            book: TaskBook {
                highest_seen: self.highest_seen,
                tracked,
                pending: self
                    .pending
                    .into_iter()
                    .map(|record| (record.id, record.first_nil))
                    .collect(),
            },
            counters,
            tags: TagCap::with_admitted(self.tags_admitted),
            snapshot: self.snapshot,
            last_success: self.last_success,
        })
    }
}

fn parse_state(label: &str, task_id: i64) -> Result<TaskState, String> {
    TaskState::ALL
        .into_iter()
        .find(|state| state.label() == label)
        .ok_or_else(|| {
            format!("task {task_id} has the state {label:?}, which is not a Koji task state")
        })
}

fn histogram_records(
    histograms: &BTreeMap<(String, String), HistogramAccumulator>,
) -> Vec<HistogramRecord> {
    histograms
        .iter()
        .map(|((channel, method), histogram)| HistogramRecord {
            channel: channel.clone(),
            method: method.clone(),
            cumulative_counts: histogram.cumulative_counts(),
            sum: histogram.sum(),
            count: histogram.count(),
        })
        .collect()
}

fn histograms(
    records: Vec<HistogramRecord>,
    def: &'static koji_metrics::MetricDef,
) -> Result<BTreeMap<(String, String), HistogramAccumulator>, String> {
    records
        .into_iter()
        .map(|record| {
            let histogram = HistogramAccumulator::from_parts(
                def,
                &record.cumulative_counts,
                record.sum,
                record.count,
            )
            .map_err(|error| error.to_string())?;
            Ok(((record.channel, record.method), histogram))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::snapshot::HostRow;

    const URL: &str = "https://koji.example.org/kojihub";

    fn sample_state() -> PollerState {
        let labels = TaskLabels {
            channel: "default".into(),
            method: "build".into(),
            tag: "f41-candidate".into(),
        };
        let mut state = PollerState::default();

        state.book.highest_seen = Some(48);
        state.book.tracked.insert(
            33,
            TrackedTask {
                state: TaskState::Open,
                parent: None,
                labels: labels.clone(),
                tree_tag: Some("f41-candidate".into()),
                create_ts: Some(1.5),
                start_ts: None,
            },
        );
        state.book.pending.insert(49, 1_800_000_000.25);

        state.counters.polls_success = 7;
        state.counters.polls_failure = 2;
        state.counters.count_created(&labels);
        let task = koji::Task {
            id: 30,
            state: TaskState::Failed,
            method: "build".into(),
            channel_id: 1,
            host_id: Some(1),
            parent: None,
            label: None,
            arch: "noarch".into(),
            owner: 1,
            owner_name: None,
            priority: 20,
            weight: 0.2,
            waiting: None,
            awaited: None,
            create_ts: Some(100.0),
            start_ts: Some(145.0),
            completion_ts: Some(4000.0),
            request: None,
        };
        state.counters.count_completed(&task, &labels);
        // Without exact float parsing this sum reads back as 103.42821979522704.
        let mut exact = HistogramAccumulator::new(&TASK_WAIT_SECONDS);
        exact.observe(103.428_219_795_227_05);
        state
            .counters
            .wait
            .insert(("default".into(), "tagBuild".into()), exact);
        state.counters.tag_folded = 3;
        state.counters.ids_skipped = 4;

        state.tags = TagCap::with_admitted(["f41-candidate".to_string()]);
        state.last_success = Some(1_800_000_000.0);
        state.snapshot = Some(Snapshot {
            hosts: vec![HostRow {
                id: 1,
                name: "b1".into(),
                arches: "x86_64 i686".into(),
                enabled: true,
                ready: false,
                capacity: 8.0,
                task_load: 1.5,
                last_update: None,
            }],
            ..Snapshot::default()
        });
        state
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path());
        let state = sample_state();

        save(&path, URL, &state, 5.0).unwrap();
        let loaded = load(&path, URL).unwrap().expect("state file exists");

        assert_eq!(loaded, state);
    }

    #[test]
    fn missing_file_is_a_first_start() {
        let dir = tempfile::tempdir().unwrap();

        assert!(load(&state_path(dir.path()), URL).unwrap().is_none());
    }

    #[test]
    fn other_hub_names_both_urls() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path());
        save(&path, URL, &sample_state(), 5.0).unwrap();

        let error = load(&path, "https://other.example.org/kojihub").unwrap_err();
        let message = error.to_string();

        assert!(matches!(error, StateError::OtherHub { .. }), "{message}");
        assert!(message.contains(URL), "{message}");
        assert!(
            message.contains("https://other.example.org/kojihub"),
            "{message}"
        );
        assert!(message.contains("move"), "{message}");
    }

    #[test]
    fn trailing_slash_names_same_hub() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path());
        save(&path, URL, &sample_state(), 5.0).unwrap();

        assert!(load(&path, &format!("{URL}/")).unwrap().is_some());
    }

    #[test]
    fn other_version_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path());
        std::fs::write(&path, r#"{"version": 2, "hub_url": "x"}"#).unwrap();

        let message = load(&path, URL).unwrap_err().to_string();

        assert!(message.contains("state format version 2"), "{message}");
        assert!(message.contains("move it away"), "{message}");
    }

    #[test]
    fn unknown_state_label_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path());
        save(&path, URL, &sample_state(), 5.0).unwrap();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"state\":\"open\"", "\"state\":\"running\"");
        std::fs::write(&path, text).unwrap();

        let message = load(&path, URL).unwrap_err().to_string();

        assert!(message.contains("\"running\""), "{message}");
    }
}

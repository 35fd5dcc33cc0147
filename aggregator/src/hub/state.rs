//! The poller's state between polls: the task book, the counters, the admitted tags and
//! the last good snapshot.
//!
//! A poll works on a copy of [`PollerState`] and the copy replaces the committed state only
//! when the whole poll succeeded, so a poll that fails part way counts nothing.

use std::collections::BTreeMap;

use koji::{Task, TaskState};
use koji_metrics::HistogramAccumulator;
use koji_metrics::contract::{TASK_RUN_SECONDS, TASK_WAIT_SECONDS};

use super::labels::TagCap;
use super::snapshot::Snapshot;

/// The labels a task gets when it is first seen and keeps until it is counted as completed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskLabels {
    /// Channel name, or the channel id as text when the channel list does not have it.
    pub channel: String,
    /// Task method.
    pub method: String,
    /// Tag label value, after rewrites and the cap.
    pub tag: String,
}

/// An active task the poller follows until it finishes.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedTask {
    /// State at the last poll.
    pub state: TaskState,
    /// Parent task id.
    pub parent: Option<i64>,
    /// The labels it is counted with.
    pub labels: TaskLabels,
    /// The tag of its tree before rewrites and the cap, for its subtasks.
    pub tree_tag: Option<String>,
    /// Unix time of creation.
    pub create_ts: Option<f64>,
    /// Unix time at which a host opened it.
    pub start_ts: Option<f64>,
}

/// The task ids the poller has accounted for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskBook {
    /// Every id up to this one has been counted, is tracked, or is pending; `None` before
    /// the first successful poll.
    pub highest_seen: Option<i64>,
    /// Active tasks, by id.
    pub tracked: BTreeMap<i64, TrackedTask>,
    /// Ids that `getTaskInfo` returned as nil, with the Unix time of the first nil reply.
    pub pending: BTreeMap<i64, f64>,
}

/// The counters and histograms of `/metrics` that must never go down.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// Successful polls.
    pub polls_success: u64,
    /// Failed polls.
    pub polls_failure: u64,
    /// Tasks created, by labels.
    pub created: BTreeMap<TaskLabels, u64>,
    /// Tasks completed, by final state and labels.
    pub completed: BTreeMap<(TaskState, TaskLabels), u64>,
    /// Wait times (start - create) of completed tasks, by channel and method.
    pub wait: BTreeMap<(String, String), HistogramAccumulator>,
    /// Run times (completion - start) of completed tasks, by channel and method.
    pub run: BTreeMap<(String, String), HistogramAccumulator>,
    /// Tasks labelled `other` by the tag cap.
    pub tag_folded: u64,
    /// Task ids given up on after the retry window.
    pub ids_skipped: u64,
}

impl Counters {
    /// Counts a task as created.
    pub fn count_created(&mut self, labels: &TaskLabels) {
        *self.created.entry(labels.clone()).or_default() += 1;
    }

    /// Counts a task found in a final state as completed, and observes its wait and run
    /// times. A task that never started observes neither.
    pub fn count_completed(&mut self, task: &Task, labels: &TaskLabels) {
        *self
            .completed
            .entry((task.state, labels.clone()))
            .or_default() += 1;

        let Some(start) = task.start_ts else {
            return;
        };
        let key = (labels.channel.clone(), labels.method.clone());
        if let Some(create) = task.create_ts {
            self.wait
                .entry(key.clone())
                .or_insert_with(|| HistogramAccumulator::new(&TASK_WAIT_SECONDS))
                .observe((start - create).max(0.0));
        }
        if let Some(completion) = task.completion_ts {
            self.run
                .entry(key)
                .or_insert_with(|| HistogramAccumulator::new(&TASK_RUN_SECONDS))
                .observe((completion - start).max(0.0));
        }
    }
}

/// Everything the poller carries from one poll to the next, and saves in the state file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollerState {
    /// Task ids accounted for.
    pub book: TaskBook,
    /// Counters and histograms.
    pub counters: Counters,
    /// The admitted tag label values.
    pub tags: TagCap,
    /// The hub's view at the last successful poll.
    pub snapshot: Option<Snapshot>,
    /// Unix time of the last successful poll.
    pub last_success: Option<f64>,
}

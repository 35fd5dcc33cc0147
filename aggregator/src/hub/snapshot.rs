//! The last good view of the hub: builders, channels and the active-task aggregates.
//!
//! A snapshot is taken by every successful poll and saved in the state file, so a restart
//! while the hub is down still serves the last known builders (with `koji_hub_up 0`).

use std::collections::BTreeMap;

use koji::{Host, Task, TaskState};
use serde::{Deserialize, Serialize};

use super::channels::ChannelCache;
use super::state::TaskBook;

/// The hub's view of builders, channels and active tasks at one poll.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every host `listHosts` returned, by name.
    pub hosts: Vec<HostRow>,
    /// Every channel with at least one member, by name.
    pub channels: Vec<ChannelRow>,
    /// Active tasks by state and labels, only non-zero counts.
    pub tasks: Vec<TaskCount>,
    /// Creation time of the oldest active task per state and channel.
    pub oldest: Vec<OldestTask>,
    /// OPEN tasks per host and method.
    pub running: Vec<RunningCount>,
}

/// A builder as `listHosts` returned it, with its last check-in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    /// Host id.
    pub id: i64,
    /// Host name.
    pub name: String,
    /// Architectures, space-separated as the hub stores them.
    pub arches: String,
    /// The hub's enabled flag.
    pub enabled: bool,
    /// The hub's ready flag.
    pub ready: bool,
    /// Capacity in task weight units.
    pub capacity: f64,
    /// Task load as kojid last reported it.
    pub task_load: f64,
    /// Unix time of the last check-in; `None` for a host that never checked in.
    pub last_update: Option<f64>,
}

impl HostRow {
    /// Makes the row of `host` with the check-in time `last_update`.
    pub fn new(host: &Host, last_update: Option<f64>) -> Self {
        Self {
            id: host.id,
            name: host.name.clone(),
            arches: host.arches.join(" "),
            enabled: host.enabled,
            ready: host.ready,
            capacity: host.capacity,
            task_load: host.task_load,
            last_update,
        }
    }
}

/// A channel with its members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelRow {
    /// Channel name.
    pub name: String,
    /// The channel's own enabled flag.
    pub enabled: bool,
    /// Names of the member hosts that `listHosts` returned, sorted.
    pub hosts: Vec<String>,
}

/// A number of active tasks with the same state and labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskCount {
    /// `free`, `assigned` or `open`.
    pub state: String,
    /// Channel label.
    pub channel: String,
    /// Method label.
    pub method: String,
    /// Tag label.
    pub tag: String,
    /// Number of tasks.
    pub count: u64,
}

/// The oldest active task of a state in a channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OldestTask {
    /// `free`, `assigned` or `open`.
    pub state: String,
    /// Channel label.
    pub channel: String,
    /// Unix time at which the task was created.
    pub create_ts: f64,
}

/// The number of OPEN tasks of one method on one host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningCount {
    /// Host name.
    pub host: String,
    /// Method.
    pub method: String,
    /// Number of OPEN tasks, waiting parents included.
    pub count: u64,
}

impl Snapshot {
    /// Builds the snapshot of one poll from its hosts, the channel membership and the active
    /// listing, whose tasks all carry labels in `book` by now.
    pub fn build(
        mut hosts: Vec<HostRow>,
        channels: &ChannelCache,
        listing: &[Task],
        book: &TaskBook,
    ) -> Self {
        hosts.sort_by(|left, right| left.name.cmp(&right.name));
        let host_names: BTreeMap<i64, &str> = hosts
            .iter()
            .map(|host| (host.id, host.name.as_str()))
            .collect();

        let mut channel_rows: Vec<ChannelRow> = channels
            .channels()
            .iter()
            .filter_map(|channel| {
                let mut members: Vec<String> = channels
                    .members(channel.id)
                    .iter()
                    .filter_map(|id| host_names.get(id).map(|name| name.to_string()))
                    .collect();
                if members.is_empty() {
                    return None;
                }
                members.sort();
                members.dedup();
                Some(ChannelRow {
                    name: channel.name.clone(),
                    enabled: channel.enabled,
                    hosts: members,
                })
            })
            .collect();
        channel_rows.sort_by(|left, right| left.name.cmp(&right.name));

        let mut tasks: BTreeMap<(&str, &str, &str, &str), u64> = BTreeMap::new();
        let mut oldest: BTreeMap<(&str, &str), f64> = BTreeMap::new();
        let mut running: BTreeMap<(String, &str), u64> = BTreeMap::new();
        for task in listing {
            let Some(tracked) = book.tracked.get(&task.id) else {
                continue;
            };
            let labels = &tracked.labels;
            let state = task.state.label();
            *tasks
                .entry((state, &labels.channel, &labels.method, &labels.tag))
                .or_default() += 1;

            if let Some(created) = task.create_ts {
                let entry = oldest.entry((state, &labels.channel)).or_insert(created);
                *entry = entry.min(created);
            }

            if task.state == TaskState::Open
                && let Some(host_id) = task.host_id
            {
                let host = host_names
                    .get(&host_id)
                    .map_or_else(|| host_id.to_string(), |name| name.to_string());
                *running.entry((host, task.method.as_str())).or_default() += 1;
            }
        }

        Self {
            hosts,
            channels: channel_rows,
            tasks: tasks
                .into_iter()
                .map(|((state, channel, method, tag), count)| TaskCount {
                    state: state.to_string(),
                    channel: channel.to_string(),
                    method: method.to_string(),
                    tag: tag.to_string(),
                    count,
                })
                .collect(),
            oldest: oldest
                .into_iter()
                .map(|((state, channel), create_ts)| OldestTask {
                    state: state.to_string(),
                    channel: channel.to_string(),
                    create_ts,
                })
                .collect(),
            running: running
                .into_iter()
                .map(|((host, method), count)| RunningCount {
                    host,
                    method: method.to_string(),
                    count,
                })
                .collect(),
        }
    }
}

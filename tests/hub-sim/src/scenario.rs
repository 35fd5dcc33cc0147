//! Scenario files: the hub's state as JSON (JSON, because requests contain nil).
//!
//! A scenario lists users, channels, hosts (with their channels and check-in times), tags,
//! build targets, repos, buildroots and tasks (with requests and results), plus the clock.
//! Times are epoch seconds, ISO timestamps or times relative to the clock (`now-130m`).
//! Rows without `ORDER BY` come back in the order the file lists them, as a table's heap
//! order would. README.md documents every field.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::load::LoadConfig;
use crate::tasks::TaskState;
use crate::time::{Micros, TimeSpec};
use crate::value::Val;

/// A whole scenario file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text for people reading the file.
    #[serde(default)]
    pub description: Option<String>,
    /// The virtual clock.
    #[serde(default)]
    pub clock: ClockSpec,
    /// Users (task owners); host users are added for hosts that do not name one here.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Channels, in storage order.
    #[serde(default)]
    pub channels: Vec<ChannelSpec>,
    /// Hosts, in storage order.
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
    /// Tags: `id`, `name` and any `getTag` fields (`arches`, `locked`, `extra`, ...).
    #[serde(default)]
    pub tags: Vec<Val>,
    /// Build targets.
    #[serde(default)]
    pub targets: Vec<TargetSpec>,
    /// Repos: `id`, `tag` (name or id) or `tag_id`, and any `repoInfo` fields.
    #[serde(default)]
    pub repos: Vec<Val>,
    /// Buildroots: `id`, `host`, `repo`, `task_id`, `arch`, `state` and any `getBuildroot`
    /// fields.
    #[serde(default)]
    pub buildroots: Vec<Val>,
    /// Tasks, in storage order.
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    /// Defaults for load mode, used when load mode is switched on.
    #[serde(default)]
    pub load: Option<LoadConfig>,
}

impl Scenario {
    /// Reads a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadScenario {
            path: path.to_owned(),
            source,
        })?;
        Scenario::from_json(&text).map_err(|error| match error {
            SimError::ParseScenario { detail, .. } => SimError::ParseScenario {
                path: Some(path.to_owned()),
                detail,
            },
            other => other,
        })
    }

    /// Parses a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, SimError> {
        serde_json::from_str(text).map_err(|error| SimError::ParseScenario {
            path: None,
            detail: error.to_string(),
        })
    }

    /// Reads one of the scenarios in this crate's `scenarios/` directory: `captured`, `small`
    /// or `demo`. The directory is the one the crate was built from.
    pub fn shipped(name: &str) -> Result<Scenario, SimError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(format!("{name}.json"));
        Scenario::from_file(&path)
    }
}

/// The clock section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// The fixed `now`: epoch seconds, an ISO timestamp, or `"system"` for the wall clock
    /// when the simulator starts. Without it the wall clock is used.
    #[serde(default)]
    pub now: Option<ClockStart>,
}

/// Where the virtual clock starts.
#[derive(Clone, Debug, PartialEq)]
pub enum ClockStart {
    /// The wall clock at start.
    System,
    /// A fixed time.
    At(Micros),
}

impl<'de> Deserialize<'de> for ClockStart {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }

        match Raw::deserialize(deserializer)? {
            Raw::Number(seconds) => Ok(ClockStart::At(Micros::from_secs_f64(seconds))),
            Raw::Text(text) if text == "system" => Ok(ClockStart::System),
            Raw::Text(text) => match TimeSpec::parse(&text) {
                Ok(TimeSpec::At(at)) => Ok(ClockStart::At(at)),
                Ok(TimeSpec::Relative(_)) => Err(serde::de::Error::custom(format!(
                    "clock.now {text:?} is relative; \
                     give epoch seconds, an ISO timestamp or \"system\""
                ))),
                Err(message) => Err(serde::de::Error::custom(message)),
            },
        }
    }
}

/// A user or host account.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: String,
    /// 0 normal, 1 host, 2 group.
    #[serde(default)]
    pub usertype: i64,
}

/// A channel.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Channel id.
    pub id: i64,
    /// Channel name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the scheduler uses the channel (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Admin comment.
    #[serde(default)]
    pub comment: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_capacity() -> f64 {
    2.0
}

/// An id or a name, as Koji accepts for hosts, channels, tags, targets and users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NameOrId {
    /// By id.
    Id(i64),
    /// By name.
    Name(String),
}

impl std::fmt::Display for NameOrId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameOrId::Id(id) => write!(formatter, "{id}"),
            NameOrId::Name(name) => write!(formatter, "{name:?}"),
        }
    }
}

/// A build host.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Host id.
    pub id: i64,
    /// The host's user id; a host user named like the host is created when missing.
    #[serde(default)]
    pub user_id: Option<i64>,
    /// Host name.
    pub name: String,
    /// Space-separated arches.
    #[serde(default)]
    pub arches: Option<String>,
    /// Capacity (default 2.0, the hub's default).
    #[serde(default = "default_capacity")]
    pub capacity: f64,
    /// Task load last reported.
    #[serde(default)]
    pub task_load: f64,
    /// Enabled by the admin (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Ready flag last reported.
    #[serde(default)]
    pub ready: bool,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Admin comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Last `host.updateHost` check-in; null for never.
    #[serde(default)]
    pub update_ts: Option<TimeSpec>,
    /// Latest session activity (`getLastHostUpdate`); defaults to `update_ts`.
    #[serde(default)]
    pub last_session_ts: Option<TimeSpec>,
    /// Channel names or ids, in the order `listChannels(hostID=...)` returns them.
    #[serde(default)]
    pub channels: Vec<NameOrId>,
    /// Whether kojid keeps checking in while the clock moves (load mode); by default hosts
    /// that are enabled, ready and have checked in are live.
    #[serde(default)]
    pub live: Option<bool>,
}

/// A build target.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Target id.
    pub id: i64,
    /// Target name.
    pub name: String,
    /// Build tag, by id or name.
    pub build_tag: NameOrId,
    /// Destination tag, by id or name.
    pub dest_tag: NameOrId,
}

/// A fault stored as a task's result.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Fault code.
    #[serde(alias = "faultCode")]
    pub code: i32,
    /// Fault string.
    #[serde(alias = "faultString")]
    pub string: String,
}

/// A task row.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Task id.
    pub id: i64,
    /// State, by name or code.
    pub state: TaskState,
    /// Method.
    pub method: String,
    /// Channel, by id or name.
    pub channel: NameOrId,
    /// Host, by id or name.
    #[serde(default)]
    pub host: Option<NameOrId>,
    /// Parent task id.
    #[serde(default)]
    pub parent: Option<i64>,
    /// Subtask label.
    #[serde(default)]
    pub label: Option<String>,
    /// Arch (default `noarch`).
    #[serde(default)]
    pub arch: Option<String>,
    /// Owner, by user id or name (default: the parent's owner, else the first user).
    #[serde(default)]
    pub owner: Option<NameOrId>,
    /// Priority (default 20, or the parent's minus one).
    #[serde(default)]
    pub priority: Option<i32>,
    /// Weight (default 1.0).
    #[serde(default)]
    pub weight: Option<f64>,
    /// Parent waiting on subtasks.
    #[serde(default)]
    pub waiting: Option<bool>,
    /// Subtask awaited by its parent.
    #[serde(default)]
    pub awaited: Option<bool>,
    /// Creation time.
    pub create_ts: TimeSpec,
    /// Start time.
    #[serde(default)]
    pub start_ts: Option<TimeSpec>,
    /// Completion time.
    #[serde(default)]
    pub completion_ts: Option<TimeSpec>,
    /// Request params.
    #[serde(default)]
    pub request: Option<Vec<Val>>,
    /// Request as the stored XML text, instead of `request`.
    #[serde(default)]
    pub request_xml: Option<String>,
    /// Result value of a finished task.
    #[serde(default)]
    pub result: Option<Val>,
    /// Result as the stored XML text, instead of `result`.
    #[serde(default)]
    pub result_xml: Option<String>,
    /// The fault a failed task raised, instead of `result`.
    #[serde(default)]
    pub fault: Option<FaultSpec>,
    /// Tag of the task's tree for ground truth, when the request does not determine it.
    #[serde(default)]
    pub tag: Option<String>,
}

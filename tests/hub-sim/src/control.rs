//! The control API: changing the simulated hub from tests, in process or over HTTP JSON.
//!
//! Every operation is a method on [`Hub`]; `SimHandle` calls them under the lock, and
//! [`handle_http`] maps `/control/...` routes onto the same methods. README.md lists the
//! routes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::SimError;
use crate::events::{GroundTruth, TaskEvent};
use crate::hub::Hub;
use crate::inject::FaultRule;
use crate::scenario::{FaultSpec, NameOrId};
use crate::server::{Request, Response, Shared};
use crate::tasks::{Payload, TaskState};
use crate::time::{Micros, TimeSpec};
use crate::value::Val;
use crate::version::VersionMode;
use crate::world::TaskDraft;

/// A host check-in (`host.updateHost`): sets `update_ts` and the session time to now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    /// New task load; unchanged when absent.
    #[serde(default)]
    pub task_load: Option<f64>,
    /// New ready flag; unchanged when absent.
    #[serde(default)]
    pub ready: Option<bool>,
}

/// A task to create.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// Method, such as `build` or `buildArch`.
    pub method: String,
    /// Channel by id or name; default the parent's channel, else `default`.
    #[serde(default)]
    pub channel: Option<NameOrId>,
    /// Arch; default `noarch`.
    #[serde(default)]
    pub arch: Option<String>,
    /// Subtask label.
    #[serde(default)]
    pub label: Option<String>,
    /// Parent task id.
    #[serde(default)]
    pub parent: Option<i64>,
    /// Owner by user id or name; default the parent's owner, else the first normal user.
    #[serde(default)]
    pub owner: Option<NameOrId>,
    /// Priority; default 20, or the parent's minus one.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Weight; default 1.0.
    #[serde(default)]
    pub weight: Option<f64>,
    /// Request params.
    #[serde(default)]
    pub request: Vec<Val>,
    /// Initial state; default free.
    #[serde(default)]
    pub state: Option<TaskState>,
    /// Host, for an assigned or open task.
    #[serde(default)]
    pub host: Option<NameOrId>,
    /// Tag of the tree for ground truth; default the parent's, else derived from the request.
    #[serde(default)]
    pub tag: Option<String>,
    /// Parent waiting flag.
    #[serde(default)]
    pub waiting: Option<bool>,
    /// Awaited flag.
    #[serde(default)]
    pub awaited: Option<bool>,
}

impl NewTask {
    /// Makes a task of `method` with `request` params and every other field defaulted.
    pub fn new(method: &str, request: Vec<Val>) -> NewTask {
        NewTask {
            method: method.to_owned(),
            request,
            ..NewTask::default()
        }
    }
}

/// A state change of one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// The new state.
    pub state: TaskState,
    /// Host by id or name (needed for assigned and open unless the task has one).
    #[serde(default)]
    pub host: Option<NameOrId>,
    /// Result stored with closed.
    #[serde(default)]
    pub result: Option<Val>,
    /// Fault stored with failed.
    #[serde(default)]
    pub fault: Option<FaultSpec>,
}

impl StateChange {
    /// Makes a change to `state` with no host, result or fault.
    pub fn to(state: TaskState) -> StateChange {
        StateChange {
            state,
            host: None,
            result: None,
            fault: None,
        }
    }

    /// Sets the host of the change.
    pub fn on(mut self, host: impl Into<NameOrId>) -> StateChange {
        self.host = Some(host.into());
        self
    }
}

/// A clock change: exactly one of `set` and `advance`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockChange {
    /// The new time (epoch seconds, ISO timestamp or `now+90s`).
    #[serde(default)]
    pub set: Option<TimeSpec>,
    /// Seconds to move forward.
    #[serde(default)]
    pub advance: Option<f64>,
}

/// The simulator's record of one task, for tests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskTruth {
    /// Task id.
    pub id: i64,
    /// State.
    pub state: TaskState,
    /// Method.
    pub method: String,
    /// Channel name.
    pub channel: String,
    /// Tag of the tree.
    pub tag: Option<String>,
    /// Parent task id.
    pub parent: Option<i64>,
    /// Host id.
    pub host_id: Option<i64>,
    /// Creation time, epoch seconds.
    pub create_ts: f64,
    /// Start time.
    pub start_ts: Option<f64>,
    /// Completion time.
    pub completion_ts: Option<f64>,
}

impl From<i64> for NameOrId {
    fn from(id: i64) -> Self {
        NameOrId::Id(id)
    }
}

impl From<&str> for NameOrId {
    fn from(name: &str) -> Self {
        NameOrId::Name(name.to_owned())
    }
}

impl From<String> for NameOrId {
    fn from(name: String) -> Self {
        NameOrId::Name(name)
    }
}

fn host_not_found(key: &NameOrId) -> SimError {
    SimError::NotFound {
        what: "host",
        key: key.to_string(),
    }
}

impl Hub {
    /// Records a check-in of `host` at the current time.
    pub fn check_in(&mut self, host: &NameOrId, check_in: &CheckIn) -> Result<(), SimError> {
        let index = self
            .world
            .host_index(host)
            .ok_or_else(|| host_not_found(host))?;
        let now = self.world.now;
        let host = &mut self.world.hosts[index];
        host.update = Some(now);
        host.last_session = Some(now);
        if let Some(task_load) = check_in.task_load {
            host.task_load = task_load;
        }
        if let Some(ready) = check_in.ready {
            host.ready = ready;
        }
        Ok(())
    }

    /// Enables or disables `host`, as `enableHost`/`disableHost` do.
    pub fn set_host_enabled(&mut self, host: &NameOrId, enabled: bool) -> Result<(), SimError> {
        let index = self
            .world
            .host_index(host)
            .ok_or_else(|| host_not_found(host))?;
        self.world.hosts[index].enabled = enabled;
        Ok(())
    }

    /// Creates a task at the current time and returns its id.
    pub fn create_task(&mut self, task: &NewTask) -> Result<i64, SimError> {
        let world = &self.world;
        let parent = match task.parent {
            Some(id) => Some(world.tasks.get(id).ok_or_else(|| SimError::NotFound {
                what: "parent task",
                key: id.to_string(),
            })?),
            None => None,
        };
        let channel_id = match &task.channel {
            Some(key) => {
                world
                    .find_channel(key)
                    .ok_or_else(|| SimError::NotFound {
                        what: "channel",
                        key: key.to_string(),
                    })?
                    .id
            }
            None => match parent {
                Some(parent) => parent.channel_id,
                None => {
                    world
                        .find_channel(&NameOrId::from("default"))
                        .or(world.channels.first())
                        .ok_or_else(|| {
                            SimError::InvalidControl(
                                "the scenario has no channel for the task".into(),
                            )
                        })?
                        .id
                }
            },
        };
        let owner = match &task.owner {
            Some(key) => {
                world
                    .find_user(key)
                    .ok_or_else(|| SimError::NotFound {
                        what: "user",
                        key: key.to_string(),
                    })?
                    .id
            }
            None => parent.map(|parent| parent.owner).unwrap_or_else(|| {
                world
                    .users
                    .iter()
                    .find(|user| user.usertype == 0)
                    .map_or(1, |user| user.id)
            }),
        };
        let host_id = match &task.host {
            Some(key) => {
                Some(world.hosts[world.host_index(key).ok_or_else(|| host_not_found(key))?].id)
            }
            None => None,
        };
        let state = task.state.unwrap_or(TaskState::Free);
        if matches!(state, TaskState::Assigned | TaskState::Open) && host_id.is_none() {
            return Err(SimError::InvalidControl(format!(
                "a new {state} task needs \"host\" (a host id or name)"
            )));
        }
        let priority = task
            .priority
            .unwrap_or_else(|| parent.map_or(20, |parent| parent.priority - 1));

        let draft = TaskDraft {
            method: task.method.clone(),
            channel_id,
            arch: task.arch.clone().unwrap_or_else(|| "noarch".to_owned()),
            label: task.label.clone(),
            parent: task.parent,
            owner,
            priority,
            weight: task.weight.unwrap_or(1.0),
            state,
            host_id,
            request: Arc::new(Payload::request(&task.method, &task.request)),
            tag: task.tag.clone(),
            waiting: task.waiting,
            awaited: task.awaited,
        };
        Ok(self.world.create_task(draft))
    }

    /// Moves task `id` to a new state at the current time; returns the state it left.
    pub fn set_task_state(&mut self, id: i64, change: &StateChange) -> Result<TaskState, SimError> {
        let host = match &change.host {
            Some(key) => Some(
                self.world.hosts[self
                    .world
                    .host_index(key)
                    .ok_or_else(|| host_not_found(key))?]
                .id,
            ),
            None => None,
        };
        let outcome = match (&change.fault, &change.result) {
            (Some(fault), _) => Some(Arc::new(Payload::fault(fault.code, &fault.string))),
            (None, Some(result)) => Some(Arc::new(Payload::result(result))),
            (None, None) => None,
        };
        self.world.transition(id, change.state, host, outcome)
    }

    /// Deletes task `id`, as `koji-sweep-db` does.
    pub fn delete_task(&mut self, id: i64) -> Result<(), SimError> {
        self.world.delete_task(id)
    }

    /// Sets or advances the clock; returns the new time.
    pub fn change_clock(&mut self, change: &ClockChange) -> Result<Micros, SimError> {
        let target = match (&change.set, change.advance) {
            (Some(time), None) => time.resolve(self.world.now),
            (None, Some(seconds)) if seconds.is_finite() && seconds >= 0.0 => {
                self.world.now.add_secs(seconds)
            }
            (None, Some(seconds)) => {
                return Err(SimError::InvalidControl(format!(
                    "cannot advance the clock by {seconds} seconds; give 0 or more"
                )));
            }
            _ => {
                return Err(SimError::InvalidControl(
                    "give exactly one of \"set\" (a time) and \"advance\" (seconds)".into(),
                ));
            }
        };
        self.advance_to(target)?;
        Ok(self.world.now)
    }

    /// Returns the simulator's record of task `id`.
    pub fn task_truth(&self, id: i64) -> Option<TaskTruth> {
        let task = self.world.tasks.get(id)?;
        let symbols = &self.world.tasks.symbols;
        Some(TaskTruth {
            id,
            state: task.state,
            method: symbols.name(task.method).to_string(),
            channel: self.world.channel_name(task.channel_id).to_string(),
            tag: symbols.get(task.tag).map(|tag| tag.to_string()),
            parent: task.parent(),
            host_id: task.host_id(),
            create_ts: task.create().as_secs_f64(),
            start_ts: task.start().map(Micros::as_secs_f64),
            completion_ts: task.completion().map(Micros::as_secs_f64),
        })
    }

    /// Returns the ground-truth totals.
    pub fn truth(&self) -> GroundTruth {
        self.world
            .events
            .truth(self.world.active_counts(), self.world.tasks.max_id())
    }

    /// Events after sequence number `since`.
    pub fn events_since(&self, since: u64) -> Vec<TaskEvent> {
        self.world.events.since(since)
    }
}

fn json_response(status: u16, value: serde_json::Value) -> Response {
    Response::new(status, "application/json", value.to_string())
}

fn ok_json(value: impl Serialize) -> Response {
    match serde_json::to_value(value) {
        Ok(value) => json_response(200, value),
        Err(error) => json_response(500, json!({ "error": error.to_string() })),
    }
}

fn error_response(error: &SimError) -> Response {
    let status = match error {
        SimError::NotFound { .. } => 404,
        _ => 400,
    };
    json_response(status, json!({ "error": error.to_string() }))
}

fn parse_body<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, SimError> {
    let body = if request.body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        &request.body
    };
    serde_json::from_slice(body).map_err(|error| {
        SimError::InvalidControl(format!(
            "request body for {} is not valid JSON for it: {error}",
            request.path
        ))
    })
}

fn host_key(segment: &str) -> NameOrId {
    segment
        .parse::<i64>()
        .map_or_else(|_| NameOrId::Name(segment.to_owned()), NameOrId::Id)
}

fn task_id(segment: &str) -> Result<i64, SimError> {
    segment
        .parse()
        .map_err(|_| SimError::InvalidControl(format!("task id {segment:?} is not an integer")))
}

fn clock_json(now: Micros) -> serde_json::Value {
    json!({ "now": now.as_secs_f64(), "now_text": now.to_iso() })
}

/// Handles one `/control/...` request.
pub fn handle_http(shared: &Shared, request: &Request) -> Response {
    match route(shared, request) {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

fn route(shared: &Shared, request: &Request) -> Result<Response, SimError> {
    let segments: Vec<&str> = request
        .path
        .trim_start_matches("/control")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let method = request.method.as_str();
    let mut hub = shared.lock();

    let response = match (method, segments.as_slice()) {
        ("GET", ["ready"]) => {
            ok_json(json!({ "ok": true, "url": format!("{}/kojihub", shared.base_url) }))
        }
        ("GET", ["clock"]) => json_response(200, clock_json(hub.world.now)),
        ("POST", ["clock"]) => {
            let now = hub.change_clock(&parse_body(request)?)?;
            json_response(200, clock_json(now))
        }
        ("POST", ["hosts", host, "checkin"]) => {
            hub.check_in(&host_key(host), &parse_body(request)?)?;
            ok_json(json!({ "ok": true }))
        }
        ("POST", ["hosts", host, action @ ("enable" | "disable")]) => {
            hub.set_host_enabled(&host_key(host), *action == "enable")?;
            ok_json(json!({ "ok": true }))
        }
        ("POST", ["tasks"]) => {
            let id = hub.create_task(&parse_body(request)?)?;
            ok_json(json!({ "id": id }))
        }
        ("GET", ["tasks", id]) => {
            let id = task_id(id)?;
            let truth = hub.task_truth(id).ok_or(SimError::NotFound {
                what: "task",
                key: id.to_string(),
            })?;
            ok_json(truth)
        }
        ("POST", ["tasks", id, "state"]) => {
            let from = hub.set_task_state(task_id(id)?, &parse_body(request)?)?;
            ok_json(json!({ "from": from }))
        }
        ("DELETE", ["tasks", id]) => {
            hub.delete_task(task_id(id)?)?;
            ok_json(json!({ "ok": true }))
        }
        ("GET", ["faults"]) => ok_json(hub.faults.list()),
        ("POST", ["faults"]) => {
            let rule: FaultRule = parse_body(request)?;
            let id = hub.faults.add(rule)?;
            ok_json(json!({ "id": id }))
        }
        ("DELETE", ["faults"]) => {
            hub.faults.clear();
            ok_json(json!({ "ok": true }))
        }
        ("DELETE", ["faults", id]) => {
            let id: u64 = id.parse().map_err(|_| {
                SimError::InvalidControl(format!("fault id {id:?} is not an integer"))
            })?;
            if !hub.faults.remove(id) {
                return Err(SimError::NotFound {
                    what: "fault rule",
                    key: id.to_string(),
                });
            }
            ok_json(json!({ "ok": true }))
        }
        ("GET", ["stats"]) => ok_json(hub.stats.snapshot()),
        ("DELETE", ["stats"]) => {
            hub.stats.reset();
            ok_json(json!({ "ok": true }))
        }
        ("GET", ["events"]) => {
            let since = query_value(&request.query, "since")
                .map(|value| value.parse::<u64>())
                .transpose()
                .map_err(|_| {
                    SimError::InvalidControl("since must be an event sequence number".into())
                })?
                .unwrap_or(0);
            ok_json(hub.events_since(since))
        }
        ("GET", ["truth"]) => ok_json(hub.truth()),
        ("GET", ["version"]) => {
            ok_json(json!({ "mode": hub.version, "koji_version": hub.version.koji_version() }))
        }
        ("POST", ["version"]) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct VersionChange {
                mode: VersionMode,
            }
            let change: VersionChange = parse_body(request)?;
            hub.version = change.mode;
            ok_json(json!({ "mode": hub.version, "koji_version": hub.version.koji_version() }))
        }
        _ => {
            return Err(SimError::NotFound {
                what: "control route",
                key: format!("{method} {}", request.path),
            });
        }
    };
    Ok(response)
}

fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

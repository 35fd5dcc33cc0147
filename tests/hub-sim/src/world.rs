//! The hub's data: users, channels, hosts, tags, targets, repos, buildroots and tasks, with
//! the virtual clock and the ground-truth event log.
//!
//! Every task change made after start goes through [`World::create_task`],
//! [`World::transition`] or [`World::delete_task`], which keep the event log.

use std::sync::Arc;

use dxr::Value;

use crate::error::SimError;
use crate::events::{EventKind, EventLog, LabelCount, TaskEvent};
use crate::scenario::NameOrId;
use crate::tagging;
use crate::tasks::{NewRow, Payload, Task, TaskState, TaskTable};
use crate::time::Micros;
use crate::value::Val;

/// How often a live kojid checks in (its default `sleeptime`), in microseconds.
pub const CHECKIN_PERIOD_US: i64 = 15_000_000;

/// A user account.
#[derive(Clone, Debug)]
pub struct User {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: Arc<str>,
    /// 0 normal, 1 host, 2 group.
    pub usertype: i64,
}

/// A channel.
#[derive(Clone, Debug)]
pub struct Channel {
    /// Channel id.
    pub id: i64,
    /// Channel name.
    pub name: Arc<str>,
    /// Description.
    pub description: Option<String>,
    /// Enabled flag.
    pub enabled: bool,
    /// Admin comment.
    pub comment: Option<String>,
}

/// A build host.
#[derive(Clone, Debug)]
pub struct Host {
    /// Host id.
    pub id: i64,
    /// The host's user id.
    pub user_id: i64,
    /// Host name.
    pub name: Arc<str>,
    /// Space-separated arches.
    pub arches: Option<String>,
    /// Capacity.
    pub capacity: f64,
    /// Task load last reported.
    pub task_load: f64,
    /// Enabled flag.
    pub enabled: bool,
    /// Ready flag last reported.
    pub ready: bool,
    /// Description.
    pub description: Option<String>,
    /// Admin comment.
    pub comment: Option<String>,
    /// Last check-in (`update_ts`).
    pub update: Option<Micros>,
    /// Latest session activity (`getLastHostUpdate`).
    pub last_session: Option<Micros>,
    /// Channel ids, in membership order.
    pub channels: Vec<i64>,
    /// Whether kojid keeps checking in while the clock moves in load mode.
    pub live: bool,
}

/// True when `word` occurs in `text` with no word character on either side, as the
/// PostgreSQL pattern `\mword\M` matches.
pub fn word_match(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// A tag with its `getTag` fields.
#[derive(Clone, Debug)]
pub struct Tag {
    /// Tag id.
    pub id: i64,
    /// Tag name.
    pub name: Arc<str>,
    /// Arches, for the load generator.
    pub arches: Option<String>,
    /// The full `getTag` struct.
    pub info: Val,
}

/// A build target.
#[derive(Clone, Debug)]
pub struct Target {
    /// Target id.
    pub id: i64,
    /// Target name.
    pub name: Arc<str>,
    /// Build tag id.
    pub build_tag: i64,
    /// Destination tag id.
    pub dest_tag: i64,
}

/// A repo with its `repoInfo` fields.
#[derive(Clone, Debug)]
pub struct Repo {
    /// Repo id.
    pub id: i64,
    /// Tag id.
    pub tag_id: i64,
    /// The newRepo task that made it.
    pub task_id: Option<i64>,
    /// The `repoInfo` struct, without `task_state` (filled in from the task when read).
    pub info: Val,
}

/// A buildroot with its `getBuildroot` fields.
#[derive(Clone, Debug)]
pub struct Buildroot {
    /// Buildroot id.
    pub id: i64,
    /// The `getBuildroot` struct.
    pub info: Val,
}

/// The hub's data at one moment.
#[derive(Debug)]
pub struct World {
    /// The virtual clock.
    pub now: Micros,
    /// Users.
    pub users: Vec<User>,
    /// Channels, in storage order.
    pub channels: Vec<Channel>,
    /// Hosts, in storage order.
    pub hosts: Vec<Host>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Build targets.
    pub targets: Vec<Target>,
    /// Repos.
    pub repos: Vec<Repo>,
    /// Buildroots.
    pub buildroots: Vec<Buildroot>,
    /// Tasks.
    pub tasks: TaskTable,
    /// Ground truth.
    pub events: EventLog,
    /// Whether task changes are logged (off while load mode generates history).
    pub recording: bool,
    /// Whether live hosts check in as the clock moves (on in load mode).
    pub live_checkins: bool,
}

/// A task to create, with every reference resolved.
#[derive(Clone, Debug)]
pub struct TaskDraft {
    /// Method.
    pub method: String,
    /// Channel id.
    pub channel_id: i64,
    /// Arch.
    pub arch: String,
    /// Subtask label.
    pub label: Option<String>,
    /// Parent task id.
    pub parent: Option<i64>,
    /// Owner user id.
    pub owner: i64,
    /// Priority.
    pub priority: i32,
    /// Weight.
    pub weight: f64,
    /// Initial state.
    pub state: TaskState,
    /// Host, for ASSIGNED and OPEN.
    pub host_id: Option<i64>,
    /// The request.
    pub request: Arc<Payload>,
    /// The tree's tag, when known to the caller.
    pub tag: Option<String>,
    /// Parent waiting flag.
    pub waiting: Option<bool>,
    /// Awaited flag.
    pub awaited: Option<bool>,
}

impl World {
    /// Returns the channel with `id`.
    pub fn channel(&self, id: i64) -> Option<&Channel> {
        self.channels.iter().find(|channel| channel.id == id)
    }

    /// Returns the channel named or numbered `key`.
    pub fn find_channel(&self, key: &NameOrId) -> Option<&Channel> {
        match key {
            NameOrId::Id(id) => self.channel(*id),
            NameOrId::Name(name) => self.channels.iter().find(|channel| &*channel.name == name),
        }
    }

    /// Returns the index of the host named or numbered `key`.
    pub fn host_index(&self, key: &NameOrId) -> Option<usize> {
        match key {
            NameOrId::Id(id) => self.hosts.iter().position(|host| host.id == *id),
            NameOrId::Name(name) => self.hosts.iter().position(|host| &*host.name == name),
        }
    }

    /// Returns the host with `id`.
    pub fn host(&self, id: i64) -> Option<&Host> {
        self.hosts.iter().find(|host| host.id == id)
    }

    /// Returns the user named or numbered `key`.
    pub fn find_user(&self, key: &NameOrId) -> Option<&User> {
        match key {
            NameOrId::Id(id) => self.users.iter().find(|user| user.id == *id),
            NameOrId::Name(name) => self.users.iter().find(|user| &*user.name == name),
        }
    }

    /// Returns the tag named or numbered `key`.
    pub fn find_tag(&self, key: &NameOrId) -> Option<&Tag> {
        match key {
            NameOrId::Id(id) => self.tags.iter().find(|tag| tag.id == *id),
            NameOrId::Name(name) => self.tags.iter().find(|tag| &*tag.name == name),
        }
    }

    /// Returns the target named or numbered `key`.
    pub fn find_target(&self, key: &NameOrId) -> Option<&Target> {
        match key {
            NameOrId::Id(id) => self.targets.iter().find(|target| target.id == *id),
            NameOrId::Name(name) => self.targets.iter().find(|target| &*target.name == name),
        }
    }

    /// Returns the repo with `id`.
    pub fn repo(&self, id: i64) -> Option<&Repo> {
        self.repos.iter().find(|repo| repo.id == id)
    }

    /// Returns the name of tag `id`.
    pub fn tag_name(&self, id: i64) -> Option<Arc<str>> {
        self.find_tag(&NameOrId::Id(id)).map(|tag| tag.name.clone())
    }

    /// Returns the channel's name, or its id as text for a channel that does not exist.
    pub fn channel_name(&self, id: i64) -> Arc<str> {
        self.channel(id)
            .map_or_else(|| Arc::from(id.to_string()), |channel| channel.name.clone())
    }

    /// When host `host` last checked in: its stored time, or for a live host in load mode
    /// its latest check-in tick, every 15 seconds after the stored time.
    pub fn host_update(&self, host: &Host) -> Option<Micros> {
        self.live_tick(host, host.update)
    }

    /// Returns the host's latest session activity, advanced like [`World::host_update`].
    pub fn host_last_session(&self, host: &Host) -> Option<Micros> {
        self.live_tick(host, host.last_session)
    }

    fn live_tick(&self, host: &Host, stored: Option<Micros>) -> Option<Micros> {
        if !(self.live_checkins && host.live && host.enabled) {
            return stored;
        }
        let base = stored.map_or(0, |time| time.0);
        if self.now.0 <= base {
            return stored;
        }
        let ticks = (self.now.0 - base) / CHECKIN_PERIOD_US;
        Some(Micros(base + ticks * CHECKIN_PERIOD_US))
    }

    /// Creates a task with the next id at the current time and logs it.
    pub fn create_task(&mut self, draft: TaskDraft) -> i64 {
        let id = self.tasks.next_id();
        let tag = match (&draft.tag, draft.parent) {
            (Some(tag), _) => self.tasks.symbols.intern(tag),
            (None, Some(parent)) => self
                .tasks
                .get(parent)
                .map_or(Default::default(), |task| task.tag),
            (None, None) => {
                let name = tagging::tree_tag(self, &draft.method, draft.request.params());
                self.tasks.symbols.intern_opt(name.as_deref())
            }
        };
        let start = (draft.state == TaskState::Open).then_some(self.now);
        let completion = draft.state.is_terminal().then_some(self.now);
        let row = NewRow {
            id,
            state: draft.state,
            method: self.tasks.symbols.intern(&draft.method),
            channel_id: draft.channel_id,
            host_id: draft.host_id,
            parent: draft.parent,
            label: self.tasks.symbols.intern_opt(draft.label.as_deref()),
            arch: self.tasks.symbols.intern(&draft.arch),
            owner: draft.owner,
            priority: draft.priority,
            weight: draft.weight,
            waiting: draft.waiting,
            awaited: draft.awaited,
            create: self.now,
            start,
            completion,
            request: draft.request,
            result: None,
            tag,
        };
        if let Err(message) = self.tasks.append(row) {
            // next_id() is above every id, so appending cannot fail.
            tracing::error!(%message, "Task table rejected a new row.");
        }

        if self.recording
            && let Some(task) = self.tasks.get(id).cloned()
        {
            let mut event = self.event_for(&task, EventKind::Created);
            event.to = Some(task.state);
            event.completed = task.state.is_terminal();
            self.record(event);
        }
        id
    }

    /// Moves task `id` to state `to` at the current time, returning the state it left.
    ///
    /// ASSIGNED and OPEN need a host (`host`, or the one the task has); FREE clears the host;
    /// OPEN sets the start time; CLOSED, FAILED and CANCELED set the completion time and store
    /// `result`. A finished task cannot move again.
    pub fn transition(
        &mut self,
        id: i64,
        to: TaskState,
        host: Option<i64>,
        result: Option<Arc<Payload>>,
    ) -> Result<TaskState, SimError> {
        let task = self.tasks.get(id).ok_or_else(|| SimError::NotFound {
            what: "task",
            key: id.to_string(),
        })?;
        if task.state.is_terminal() {
            return Err(SimError::InvalidControl(format!(
                "task {id} is {} and cannot move to {to}; finished tasks keep their state",
                task.state
            )));
        }
        let host = host.or(task.host_id());
        if matches!(to, TaskState::Assigned | TaskState::Open) && host.is_none() {
            return Err(SimError::InvalidControl(format!(
                "task {id} needs a host to become {to}; give \"host\" by id or name"
            )));
        }
        if let Some(host_id) = host
            && self.host(host_id).is_none()
        {
            return Err(SimError::NotFound {
                what: "host",
                key: host_id.to_string(),
            });
        }

        let now = self.now;
        let before = self.tasks.update(id, |task| {
            task.state = to;
            match to {
                TaskState::Free => task.set_host_id(None),
                TaskState::Assigned => task.set_host_id(host),
                TaskState::Open => {
                    task.set_host_id(host);
                    task.set_start(Some(now));
                }
                TaskState::Closed | TaskState::Failed | TaskState::Canceled => {
                    task.set_completion(Some(now));
                    task.result = result;
                }
            }
        });
        let from = before.map_or(to, |task| task.state);

        if self.recording
            && let Some(task) = self.tasks.get(id).cloned()
        {
            let mut event = self.event_for(&task, EventKind::StateChanged);
            event.from = Some(from);
            event.to = Some(to);
            event.completed = to.is_terminal();
            self.record(event);
        }
        Ok(from)
    }

    /// Deletes task `id`, as `koji-sweep-db` deletes old rows.
    pub fn delete_task(&mut self, id: i64) -> Result<(), SimError> {
        let task = self.tasks.delete(id).ok_or_else(|| SimError::NotFound {
            what: "task",
            key: id.to_string(),
        })?;
        let mut event = self.event_for(&task, EventKind::Deleted);
        event.from = Some(task.state);
        self.record(event);
        Ok(())
    }

    fn event_for(&self, task: &Task, kind: EventKind) -> TaskEvent {
        let symbols = &self.tasks.symbols;
        TaskEvent {
            seq: 0,
            time: self.now.as_secs_f64(),
            kind,
            task_id: task.id,
            parent: task.parent(),
            from: None,
            to: None,
            completed: false,
            channel: self.channel_name(task.channel_id).to_string(),
            method: symbols.name(task.method).to_string(),
            tag: symbols.get(task.tag).map(|tag| tag.to_string()),
            host_id: task.host_id(),
        }
    }

    fn record(&mut self, event: TaskEvent) {
        if self.recording {
            self.events.record(event);
        }
    }

    /// Counts of the active tasks by state, channel, method and tag.
    pub fn active_counts(&self) -> Vec<LabelCount> {
        let mut counts = std::collections::BTreeMap::new();
        for id in self.tasks.active_ids() {
            let Some(task) = self.tasks.get(*id) else {
                continue;
            };
            let key = (task.state, task.channel_id, task.method, task.tag);
            *counts.entry(key).or_insert(0_u64) += 1;
        }
        let symbols = &self.tasks.symbols;
        let mut result: Vec<LabelCount> = counts
            .into_iter()
            .map(|((state, channel_id, method, tag), count)| LabelCount {
                state: Some(state),
                channel: self.channel_name(channel_id).to_string(),
                method: symbols.name(method).to_string(),
                tag: symbols.get(tag).map(|tag| tag.to_string()),
                count,
            })
            .collect();
        result.sort();
        result
    }

    /// Returns the owner's name and user type, for `listTasks`.
    pub fn owner_info(&self, owner: i64) -> (Value, Value) {
        match self.find_user(&NameOrId::Id(owner)) {
            Some(user) => (
                Value::String(user.name.to_string()),
                crate::value::int_value(user.usertype),
            ),
            None => (Value::Nil, Value::Nil),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_word_match() {
        assert!(word_match("x86_64 i686", "x86_64"));
        assert!(word_match("x86_64 i686", "i686"));
        assert!(!word_match("x86_64 i686", "x86"));
        assert!(!word_match("ppc64le", "ppc64"));
        assert!(word_match("ppc64 ppc64le", "ppc64"));
    }
}

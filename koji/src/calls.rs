//! Constructors of the typed hub calls.
//!
//! Parameters are encoded as Koji's Python client encodes them: keyword arguments travel in a
//! trailing struct with `__starstar` set to true, and unset optional arguments are left out.

use std::collections::BTreeMap;

use dxr::Value;

use crate::call::Call;
use crate::channel::{Channel, decode_channels, decode_optional_channel};
use crate::checkin::decode_last_host_update;
use crate::error::DecodeError;
use crate::host::{Host, decode_host, decode_hosts, decode_optional_host};
use crate::repo::{Buildroot, Repo, decode_optional_buildroot, decode_optional_repo};
use crate::tag::{
    BuildTarget, Tag, decode_build_targets, decode_optional_build_target, decode_optional_tag,
};
use crate::task::{Task, TaskState, decode_optional_task, decode_optional_tasks, decode_tasks};
use crate::value::{int, int_value, kwargs_value, string};

/// An object given by id or by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IdOrName {
    /// Numeric id.
    Id(i64),
    /// Name.
    Name(String),
}

impl IdOrName {
    /// Returns the value sent to the hub: an int or a string.
    pub fn to_value(&self) -> Value {
        match self {
            IdOrName::Id(id) => int_value(*id),
            IdOrName::Name(name) => Value::String(name.clone()),
        }
    }
}

impl From<i64> for IdOrName {
    fn from(id: i64) -> Self {
        IdOrName::Id(id)
    }
}

impl From<&str> for IdOrName {
    fn from(name: &str) -> Self {
        IdOrName::Name(name.to_string())
    }
}

impl From<String> for IdOrName {
    fn from(name: String) -> Self {
        IdOrName::Name(name)
    }
}

/// Query options (`queryOpts`) of list calls: ordering and paging.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryOpts {
    /// Column or alias to order by; a leading `-` orders descending (`-id`).
    pub order: Option<String>,
    /// Number of rows to skip.
    pub offset: Option<i64>,
    /// Maximum number of rows.
    pub limit: Option<i64>,
}

impl QueryOpts {
    fn to_members(&self) -> BTreeMap<String, Value> {
        let mut members = BTreeMap::new();
        if let Some(order) = &self.order {
            members.insert("order".to_string(), Value::String(order.clone()));
        }
        if let Some(offset) = self.offset {
            members.insert("offset".to_string(), int_value(offset));
        }
        if let Some(limit) = self.limit {
            members.insert("limit".to_string(), int_value(limit));
        }
        members
    }
}

/// Filters of `listHosts`; unset filters are not sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListHostsOptions {
    /// Hosts that build for any of these arches. The hub rejects an empty list.
    pub arches: Option<Vec<String>>,
    /// Hosts in this channel (id or name).
    pub channel: Option<IdOrName>,
    /// Hosts whose `ready` flag has this value.
    pub ready: Option<bool>,
    /// Hosts whose `enabled` flag has this value.
    pub enabled: Option<bool>,
    /// The host whose login account is this user (id or name).
    pub user: Option<IdOrName>,
    /// Query options. The hub accepts them but ignores them for hosts (Koji up to 1.35 at
    /// least), so order and page on the client.
    pub query_opts: Option<QueryOpts>,
}

/// Filters of `listChannels`; unset filters are not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListChannelsOptions {
    /// Channels of this host (id or name).
    pub host: Option<IdOrName>,
    /// Channels whose `enabled` flag has this value (hub 1.26+).
    pub enabled: Option<bool>,
}

/// A task-table column filter: one id, any of several ids, or NULL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdFilter {
    /// Equal to this id.
    Id(i64),
    /// Equal to any of these ids.
    Ids(Vec<i64>),
    /// NULL: for `parent`, top-level tasks only.
    Null,
}

impl IdFilter {
    fn to_value(&self) -> Value {
        match self {
            IdFilter::Id(id) => int_value(*id),
            IdFilter::Ids(ids) => Value::Array(ids.iter().copied().map(int_value).collect()),
            IdFilter::Null => Value::Nil,
        }
    }
}

/// A time bound of `listTasks`: epoch seconds or a date string the hub's database accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum TimeBound {
    /// Epoch seconds.
    Epoch(f64),
    /// A date string such as `2026-12-04 15:00:00+00:00`.
    Text(String),
}

impl TimeBound {
    fn to_value(&self) -> Value {
        match self {
            TimeBound::Epoch(seconds) => Value::Double(*seconds),
            TimeBound::Text(text) => Value::String(text.clone()),
        }
    }
}

impl From<f64> for TimeBound {
    fn from(seconds: f64) -> Self {
        TimeBound::Epoch(seconds)
    }
}

/// Filters of `listTasks` (its `opts` argument); unset filters are not sent.
///
/// Time bounds filter on columns without an index, so on a large hub each such call scans the
/// whole task table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskFilter {
    /// Tasks in any of these states.
    pub state: Option<Vec<TaskState>>,
    /// Tasks in none of these states.
    pub not_state: Option<Vec<TaskState>>,
    /// Tasks of any of these arches.
    pub arch: Option<Vec<String>>,
    /// Tasks of none of these arches.
    pub not_arch: Option<Vec<String>>,
    /// Owner user id(s).
    pub owner: Option<IdFilter>,
    /// Owner user id(s) to exclude.
    pub not_owner: Option<IdFilter>,
    /// Host id(s).
    pub host_id: Option<IdFilter>,
    /// Host id(s) to exclude.
    pub not_host_id: Option<IdFilter>,
    /// Channel id(s).
    pub channel_id: Option<IdFilter>,
    /// Channel id(s) to exclude.
    pub not_channel_id: Option<IdFilter>,
    /// Parent task id(s); [`IdFilter::Null`] selects top-level tasks only.
    pub parent: Option<IdFilter>,
    /// Parent task id(s) to exclude.
    pub not_parent: Option<IdFilter>,
    /// One task method (the hub takes no list here).
    pub method: Option<String>,
    /// Created before this time (`createdBefore`).
    pub created_before: Option<TimeBound>,
    /// Created after this time (`createdAfter`).
    pub created_after: Option<TimeBound>,
    /// Started before this time (`startedBefore`).
    pub started_before: Option<TimeBound>,
    /// Started after this time (`startedAfter`).
    pub started_after: Option<TimeBound>,
    /// Completed before this time (`completeBefore`).
    pub completed_before: Option<TimeBound>,
    /// Completed after this time (`completeAfter`).
    pub completed_after: Option<TimeBound>,
    /// Ask the hub to send `request` decoded instead of as XML text. [`Task::request`] is
    /// decoded either way.
    pub decode: bool,
}

impl TaskFilter {
    /// Builds the `opts` struct as sent to the hub.
    pub fn to_value(&self) -> Value {
        let mut members = BTreeMap::new();
        let states = |states: &Vec<TaskState>| {
            Value::Array(states.iter().map(|state| int_value(state.code())).collect())
        };
        let strings = |values: &Vec<String>| {
            Value::Array(
                values
                    .iter()
                    .map(|value| Value::String(value.clone()))
                    .collect(),
            )
        };

        let lists = [
            ("state", self.state.as_ref().map(states)),
            ("not_state", self.not_state.as_ref().map(states)),
            ("arch", self.arch.as_ref().map(strings)),
            ("not_arch", self.not_arch.as_ref().map(strings)),
        ];
        let ids = [
            ("owner", &self.owner),
            ("not_owner", &self.not_owner),
            ("host_id", &self.host_id),
            ("not_host_id", &self.not_host_id),
            ("channel_id", &self.channel_id),
            ("not_channel_id", &self.not_channel_id),
            ("parent", &self.parent),
            ("not_parent", &self.not_parent),
        ];
        let times = [
            ("createdBefore", &self.created_before),
            ("createdAfter", &self.created_after),
            ("startedBefore", &self.started_before),
            ("startedAfter", &self.started_after),
            ("completeBefore", &self.completed_before),
            ("completeAfter", &self.completed_after),
        ];

        for (name, value) in lists {
            if let Some(value) = value {
                members.insert(name.to_string(), value);
            }
        }
        for (name, filter) in ids {
            if let Some(filter) = filter {
                members.insert(name.to_string(), filter.to_value());
            }
        }
        for (name, bound) in times {
            if let Some(bound) = bound {
                members.insert(name.to_string(), bound.to_value());
            }
        }
        if let Some(method) = &self.method {
            members.insert("method".to_string(), Value::String(method.clone()));
        }
        if self.decode {
            members.insert("decode".to_string(), Value::Boolean(true));
        }
        Value::Struct(members)
    }
}

/// `getAPIVersion()`: the XML-RPC API version (1).
pub fn get_api_version() -> Call<i64> {
    Call::new("getAPIVersion", Vec::new(), |value| int(&value))
}

/// `getKojiVersion()`: the hub's Koji version, such as `1.35.3` (hub 1.23+).
pub fn get_koji_version() -> Call<String> {
    Call::new("getKojiVersion", Vec::new(), string)
}

/// `listHosts(...)` with the given filters, sent as keyword arguments.
pub fn list_hosts(options: &ListHostsOptions) -> Call<Vec<Host>> {
    let mut kwargs = BTreeMap::new();
    if let Some(arches) = &options.arches {
        let arches = arches
            .iter()
            .map(|arch| Value::String(arch.clone()))
            .collect();
        kwargs.insert("arches".to_string(), Value::Array(arches));
    }
    if let Some(channel) = &options.channel {
        kwargs.insert("channelID".to_string(), channel.to_value());
    }
    if let Some(ready) = options.ready {
        kwargs.insert("ready".to_string(), Value::Boolean(ready));
    }
    if let Some(enabled) = options.enabled {
        kwargs.insert("enabled".to_string(), Value::Boolean(enabled));
    }
    if let Some(user) = &options.user {
        kwargs.insert("userID".to_string(), user.to_value());
    }
    if let Some(query_opts) = &options.query_opts {
        kwargs.insert(
            "queryOpts".to_string(),
            Value::Struct(query_opts.to_members()),
        );
    }

    Call::new("listHosts", kwargs_params(kwargs), decode_hosts)
}

/// `getHost(host)`: the host, or `None` when the hub has no such host.
pub fn get_host(host: impl Into<IdOrName>) -> Call<Option<Host>> {
    Call::new(
        "getHost",
        vec![host.into().to_value()],
        decode_optional_host,
    )
}

/// `getHost(host, strict=True)`: the host; an unknown host is fault 1000 (GenericError).
pub fn get_host_strict(host: impl Into<IdOrName>) -> Call<Host> {
    Call::new(
        "getHost",
        vec![host.into().to_value(), Value::Boolean(true)],
        decode_host,
    )
}

/// `listChannels(...)` with the given filters, sent as keyword arguments.
pub fn list_channels(options: &ListChannelsOptions) -> Call<Vec<Channel>> {
    let mut kwargs = BTreeMap::new();
    if let Some(host) = &options.host {
        kwargs.insert("hostID".to_string(), host.to_value());
    }
    if let Some(enabled) = options.enabled {
        kwargs.insert("enabled".to_string(), Value::Boolean(enabled));
    }

    Call::new("listChannels", kwargs_params(kwargs), decode_channels)
}

/// `getChannel(channel)`: the channel, or `None` when the hub has no such channel.
pub fn get_channel(channel: impl Into<IdOrName>) -> Call<Option<Channel>> {
    Call::new(
        "getChannel",
        vec![channel.into().to_value()],
        decode_optional_channel,
    )
}

/// `listTasks(opts, queryOpts)`: the tasks matching `filter`.
pub fn list_tasks(filter: &TaskFilter, query_opts: &QueryOpts) -> Call<Vec<Task>> {
    let mut params = vec![filter.to_value()];
    let query_members = query_opts.to_members();
    if !query_members.is_empty() {
        params.push(Value::Struct(query_members));
    }
    Call::new("listTasks", params, decode_tasks)
}

/// `listTasks(opts, {'countOnly': True})`: the number of tasks matching `filter`.
///
/// Counting active states is an index scan; counting closed, failed or canceled tasks reads
/// most of the task table.
pub fn count_tasks(filter: &TaskFilter) -> Call<i64> {
    let query = Value::Struct(BTreeMap::from([(
        "countOnly".to_string(),
        Value::Boolean(true),
    )]));
    Call::new("listTasks", vec![filter.to_value(), query], |value| {
        int(&value)
    })
}

/// `getTaskInfo(id[, request=True])`: the task, or `None` for an unknown id. With `request`
/// the task carries its decoded parameters.
pub fn get_task_info(task_id: i64, request: bool) -> Call<Option<Task>> {
    let mut params = vec![int_value(task_id)];
    if request {
        params.push(Value::Boolean(true));
    }
    Call::new("getTaskInfo", params, decode_optional_task)
}

/// `getTaskInfo([ids][, request=True])`: one entry per id in the same order, `None` for ids
/// the hub does not have.
pub fn get_task_infos(task_ids: &[i64], request: bool) -> Call<Vec<Option<Task>>> {
    let expected = task_ids.len();
    let mut params = vec![Value::Array(
        task_ids.iter().copied().map(int_value).collect(),
    )];
    if request {
        params.push(Value::Boolean(true));
    }
    Call::new("getTaskInfo", params, move |value| {
        let tasks = decode_optional_tasks(value)?;
        if tasks.len() != expected {
            return Err(DecodeError::new(format!(
                "returned {} entries for {expected} task ids",
                tasks.len()
            )));
        }
        Ok(tasks)
    })
}

/// `getBuildTargets()`: all build targets.
pub fn get_build_targets() -> Call<Vec<BuildTarget>> {
    Call::new("getBuildTargets", Vec::new(), decode_build_targets)
}

/// `getBuildTarget(target)`: the target, or `None` when the hub has no such target.
pub fn get_build_target(target: impl Into<IdOrName>) -> Call<Option<BuildTarget>> {
    Call::new(
        "getBuildTarget",
        vec![target.into().to_value()],
        decode_optional_build_target,
    )
}

/// `getTag(tag)`: the tag, or `None` when the hub has no such tag.
pub fn get_tag(tag: impl Into<IdOrName>) -> Call<Option<Tag>> {
    Call::new("getTag", vec![tag.into().to_value()], decode_optional_tag)
}

/// `repoInfo(repo_id)`: the repo, or `None` when the hub has no such repo.
pub fn repo_info(repo_id: i64) -> Call<Option<Repo>> {
    Call::new("repoInfo", vec![int_value(repo_id)], decode_optional_repo)
}

/// `getBuildroot(buildroot_id)`: the buildroot, or `None` when the hub has no such buildroot.
pub fn get_buildroot(buildroot_id: i64) -> Call<Option<Buildroot>> {
    Call::new(
        "getBuildroot",
        vec![int_value(buildroot_id)],
        decode_optional_buildroot,
    )
}

/// `getLastHostUpdate(host_id[, ts=True])`: the latest activity of any session of the host's
/// user, in epoch seconds, or `None` when the host never had a session.
///
/// With `ts` the hub sends epoch seconds (hub 1.25+; older hubs return fault 1019). Without
/// it the hub sends a date string, which is parsed here. Prefer [`Host::update_ts`] where the
/// hub has it (1.33+): it moves only when kojid's main loop checks in.
pub fn get_last_host_update(host_id: i64, ts: bool) -> Call<Option<f64>> {
    let mut params = vec![int_value(host_id)];
    if ts {
        let kwargs = BTreeMap::from([("ts".to_string(), Value::Boolean(true))]);
        params.push(kwargs_value(kwargs));
    }
    Call::new("getLastHostUpdate", params, decode_last_host_update)
}

fn kwargs_params(kwargs: BTreeMap<String, Value>) -> Vec<Value> {
    if kwargs.is_empty() {
        Vec::new()
    } else {
        vec![kwargs_value(kwargs)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::split_kwargs;

    fn members(value: &Value) -> &BTreeMap<String, Value> {
        match value {
            Value::Struct(members) => members,
            other => panic!("expected a struct, got {other:?}"),
        }
    }

    #[test]
    fn task_filter_encodes_every_key() {
        let filter = TaskFilter {
            state: Some(vec![TaskState::Free, TaskState::Assigned]),
            not_state: Some(vec![TaskState::Canceled]),
            arch: Some(vec!["x86_64".into()]),
            not_arch: Some(vec!["noarch".into()]),
            owner: Some(IdFilter::Id(2)),
            not_owner: Some(IdFilter::Ids(vec![3, 4])),
            host_id: Some(IdFilter::Ids(vec![1, 9_000_000_000])),
            not_host_id: Some(IdFilter::Null),
            channel_id: Some(IdFilter::Id(9)),
            not_channel_id: Some(IdFilter::Id(5)),
            parent: Some(IdFilter::Null),
            not_parent: Some(IdFilter::Id(28)),
            method: Some("build".into()),
            created_before: Some(TimeBound::Epoch(1_796_398_967.5)),
            created_after: Some(TimeBound::Text("2026-12-04 00:00:00+00:00".into())),
            started_before: Some(2.0.into()),
            started_after: Some(1.0.into()),
            completed_before: Some(4.0.into()),
            completed_after: Some(3.0.into()),
            decode: true,
        };
        let value = filter.to_value();
        let opts = members(&value);

        let expected = BTreeMap::from([
            (
                "state",
                Value::Array(vec![Value::Integer(0), Value::Integer(4)]),
            ),
            ("not_state", Value::Array(vec![Value::Integer(3)])),
            ("arch", Value::Array(vec![Value::String("x86_64".into())])),
            (
                "not_arch",
                Value::Array(vec![Value::String("noarch".into())]),
            ),
            ("owner", Value::Integer(2)),
            (
                "not_owner",
                Value::Array(vec![Value::Integer(3), Value::Integer(4)]),
            ),
            (
                "host_id",
                Value::Array(vec![Value::Integer(1), Value::Long(9_000_000_000)]),
            ),
            ("not_host_id", Value::Nil),
            ("channel_id", Value::Integer(9)),
            ("not_channel_id", Value::Integer(5)),
            ("parent", Value::Nil),
            ("not_parent", Value::Integer(28)),
            ("method", Value::String("build".into())),
            ("createdBefore", Value::Double(1_796_398_967.5)),
            (
                "createdAfter",
                Value::String("2026-12-04 00:00:00+00:00".into()),
            ),
            ("startedBefore", Value::Double(2.0)),
            ("startedAfter", Value::Double(1.0)),
            ("completeBefore", Value::Double(4.0)),
            ("completeAfter", Value::Double(3.0)),
            ("decode", Value::Boolean(true)),
        ]);
        let expected: BTreeMap<String, Value> = expected
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        assert_eq!(opts, &expected);
    }

    #[test]
    fn empty_task_filter_is_an_empty_struct() {
        let call = list_tasks(&TaskFilter::default(), &QueryOpts::default());
        assert_eq!(call.params(), &[Value::Struct(BTreeMap::new())]);
    }

    #[test]
    fn query_opts_follow_the_filter() {
        let query = QueryOpts {
            order: Some("-id".into()),
            offset: Some(100),
            limit: Some(50),
        };
        let call = list_tasks(&TaskFilter::default(), &query);
        let query = members(&call.params()[1]);
        assert_eq!(query["order"], Value::String("-id".into()));
        assert_eq!(query["offset"], Value::Integer(100));
        assert_eq!(query["limit"], Value::Integer(50));

        let count = count_tasks(&TaskFilter::default());
        assert_eq!(
            members(&count.params()[1])["countOnly"],
            Value::Boolean(true)
        );
    }

    #[test]
    fn list_hosts_sends_every_filter_as_kwargs() {
        let options = ListHostsOptions {
            arches: Some(vec!["x86_64".into(), "i686".into()]),
            channel: Some(IdOrName::Id(2)),
            ready: Some(false),
            enabled: Some(true),
            user: Some(IdOrName::from("kojibuilder1")),
            query_opts: Some(QueryOpts {
                order: Some("name".into()),
                ..QueryOpts::default()
            }),
        };
        let call = list_hosts(&options);
        let (positional, kwargs) = split_kwargs(call.params());
        assert!(positional.is_empty());
        let kwargs = kwargs.expect("keyword arguments");

        assert_eq!(
            kwargs["arches"],
            Value::Array(vec![
                Value::String("x86_64".into()),
                Value::String("i686".into())
            ])
        );
        assert_eq!(kwargs["channelID"], Value::Integer(2));
        assert_eq!(kwargs["ready"], Value::Boolean(false));
        assert_eq!(kwargs["enabled"], Value::Boolean(true));
        assert_eq!(kwargs["userID"], Value::String("kojibuilder1".into()));
        assert_eq!(
            members(&kwargs["queryOpts"])["order"],
            Value::String("name".into())
        );
        assert_eq!(kwargs.len(), 7, "six filters and __starstar");
    }

    #[test]
    fn list_channels_kwargs_and_get_host_by_id() {
        let options = ListChannelsOptions {
            host: Some(IdOrName::from("builder-x86-01.example.com")),
            enabled: Some(true),
        };
        let call = list_channels(&options);
        let (_, kwargs) = split_kwargs(call.params());
        let kwargs = kwargs.expect("keyword arguments");
        assert_eq!(
            kwargs["hostID"],
            Value::String("builder-x86-01.example.com".into())
        );
        assert_eq!(kwargs["enabled"], Value::Boolean(true));

        assert_eq!(get_host(4).params(), &[Value::Integer(4)]);
        assert_eq!(
            get_host_strict(4).params(),
            &[Value::Integer(4), Value::Boolean(true)]
        );
    }

    #[test]
    fn task_info_list_length_is_checked() {
        let call = get_task_infos(&[1, 2], false);
        assert_eq!(call.params().len(), 1);
        let error = call.decode(Value::Array(vec![Value::Nil])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "getTaskInfo: returned 1 entries for 2 task ids"
        );
    }
}

//! The hub's read API: one function per XML-RPC method, with the hub's signatures, lookups
//! and error wording.
//!
//! Messages name the Python function the hub registers (`get_host` for `getHost`,
//! `RootExports.listHosts` for `listHosts`), because Python's `TypeError` text does.

use std::collections::BTreeMap;

use dxr::Value;

use crate::query::{TaskQuery, info_row};
use crate::value::int_value;
use crate::version::VersionMode;
use crate::world::{Host, World, word_match};
use crate::xmlrpc::args::{Bound, Signature, decode_args};
use crate::xmlrpc::fault::{Fault, GET_HOST_RAISE_FRAME};
use crate::xmlrpc::python;

const fn signature(
    name: &'static str,
    params: &'static [&'static str],
    required: usize,
    method: bool,
) -> Signature {
    Signature {
        name,
        params,
        required,
        method,
    }
}

const GET_API_VERSION: Signature = signature("RootExports.getAPIVersion", &[], 0, true);
const GET_KOJI_VERSION: Signature = signature("RootExports.getKojiVersion", &[], 0, true);
const LIST_HOSTS: Signature = signature(
    "RootExports.listHosts",
    &[
        "arches",
        "channelID",
        "ready",
        "enabled",
        "userID",
        "queryOpts",
    ],
    0,
    true,
);
const GET_HOST: Signature = signature("get_host", &["hostInfo", "strict", "event"], 1, false);
const GET_LAST_HOST_UPDATE: Signature =
    signature("RootExports.getLastHostUpdate", &["hostID", "ts"], 1, true);
const GET_LAST_HOST_UPDATE_OLD: Signature =
    signature("RootExports.getLastHostUpdate", &["hostID"], 1, true);
const LIST_CHANNELS: Signature =
    signature("list_channels", &["hostID", "event", "enabled"], 0, false);
const LIST_CHANNELS_OLD: Signature = signature("list_channels", &["hostID", "event"], 0, false);
const GET_CHANNEL: Signature = signature("get_channel", &["channelInfo", "strict"], 1, false);
const LIST_TASKS: Signature = signature("RootExports.listTasks", &["opts", "queryOpts"], 0, true);
const GET_TASK_INFO: Signature = signature(
    "RootExports.getTaskInfo",
    &["task_id", "request", "strict"],
    1,
    true,
);
const GET_TASK_REQUEST: Signature = signature("RootExports.getTaskRequest", &["taskId"], 1, true);
const GET_BUILD_TARGETS: Signature = signature(
    "get_build_targets",
    &["info", "event", "buildTagID", "destTagID", "queryOpts"],
    0,
    false,
);
const GET_BUILD_TARGET: Signature =
    signature("get_build_target", &["info", "event", "strict"], 1, false);
const GET_TAG: Signature = signature(
    "get_tag",
    &["tagInfo", "strict", "event", "blocked"],
    1,
    false,
);
const REPO_INFO: Signature = signature("repo_info", &["repo_id", "strict"], 1, false);
const GET_BUILDROOT: Signature = signature("get_buildroot", &["buildrootID", "strict"], 1, false);

/// The methods the simulator implements, for `Invalid method` checks and documentation.
pub const METHODS: &[&str] = &[
    "getAPIVersion",
    "getKojiVersion",
    "echo",
    "listHosts",
    "getHost",
    "getLastHostUpdate",
    "listChannels",
    "getChannel",
    "listTasks",
    "getTaskInfo",
    "getTaskRequest",
    "getBuildTargets",
    "getBuildTarget",
    "getTag",
    "repoInfo",
    "getBuildroot",
    "multiCall",
    "system.multicall",
];

/// Runs one method (not a multicall) against `world`.
pub fn dispatch(
    world: &World,
    version: VersionMode,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    if method.starts_with("host.") {
        return Err(Fault::auth("Not logged-in"));
    }
    let (positional, keywords) = decode_args(params);
    let bind = |signature: &Signature| signature.bind(positional.clone(), keywords.clone());

    match method {
        "getAPIVersion" => bind(&GET_API_VERSION).map(|_| Value::Integer(1)),
        "getKojiVersion" => {
            bind(&GET_KOJI_VERSION).map(|_| Value::String(version.koji_version().to_owned()))
        }
        "echo" => match keywords.keys().next() {
            Some(name) => Err(Fault::parameter(format!(
                "RootExports.echo() got an unexpected keyword argument '{name}'"
            ))),
            None => Ok(Value::Array(positional)),
        },
        "listHosts" => list_hosts(world, version, &bind(&LIST_HOSTS)?),
        "getHost" => get_host(world, version, &bind(&GET_HOST)?),
        "getLastHostUpdate" => {
            let signature = if version.has_last_update_ts() {
                &GET_LAST_HOST_UPDATE
            } else {
                &GET_LAST_HOST_UPDATE_OLD
            };
            get_last_host_update(world, version, &bind(signature)?)
        }
        "listChannels" => {
            let signature = if version.has_channel_details() {
                &LIST_CHANNELS
            } else {
                &LIST_CHANNELS_OLD
            };
            list_channels(world, version, &bind(signature)?)
        }
        "getChannel" => get_channel(world, version, &bind(&GET_CHANNEL)?),
        "listTasks" => {
            let args = bind(&LIST_TASKS)?;
            Ok(TaskQuery::parse(args.get(0), args.get(1))?.run(world))
        }
        "getTaskInfo" => get_task_info(world, &bind(&GET_TASK_INFO)?),
        "getTaskRequest" => get_task_request(world, &bind(&GET_TASK_REQUEST)?),
        "getBuildTargets" => get_build_targets(world, &bind(&GET_BUILD_TARGETS)?),
        "getBuildTarget" => get_build_target(world, &bind(&GET_BUILD_TARGET)?),
        "getTag" => get_tag(world, &bind(&GET_TAG)?),
        "repoInfo" => repo_info(world, &bind(&REPO_INFO)?),
        "getBuildroot" => get_buildroot(world, &bind(&GET_BUILDROOT)?),
        other => Err(Fault::invalid_method(other)),
    }
}

/// A lookup key given as id or name (`name_or_id_clause`).
enum Key {
    Id(i64),
    Name(String),
}

fn name_or_id(value: &Value) -> Result<Key, Fault> {
    let from_struct = |members: &BTreeMap<String, Value>| {
        if let Some(id) = members.get("id").and_then(python::as_int) {
            return Some(Key::Id(id));
        }
        match members.get("name") {
            Some(Value::String(name)) => Some(Key::Name(name.clone())),
            _ => None,
        }
    };
    let key = match value {
        Value::String(name) => Some(Key::Name(name.clone())),
        Value::Struct(members) => from_struct(members),
        other => python::as_int(other).map(Key::Id),
    };
    key.ok_or_else(|| {
        Fault::parameter(format!("Invalid name or id value: {}", python::repr(value)))
    })
}

/// `convert_value(value, cast=int)`.
fn convert_int(value: Option<&Value>) -> Result<i64, Fault> {
    match value {
        None | Some(Value::Nil) => Err(Fault::parameter(
            "Invalid type, expected type <class 'int'>",
        )),
        Some(value) => python::convert_int(value).ok_or_else(|| {
            Fault::parameter(format!(
                "Invalid type for value '{}': {}, expected type <class 'int'>",
                python::display(value),
                python::type_name(value)
            ))
        }),
    }
}

fn optional_string(text: &Option<String>) -> Value {
    text.as_ref()
        .map_or(Value::Nil, |text| Value::String(text.clone()))
}

fn find_host<'a>(world: &'a World, key: &Key) -> Option<&'a Host> {
    match key {
        Key::Id(id) => world.hosts.iter().find(|host| host.id == *id),
        Key::Name(name) => world.hosts.iter().find(|host| &*host.name == name),
    }
}

/// Returns the struct `getHost` and `listHosts` return.
fn host_struct(world: &World, version: VersionMode, host: &Host) -> Value {
    let mut members = BTreeMap::new();
    members.insert("arches".to_owned(), optional_string(&host.arches));
    members.insert("capacity".to_owned(), Value::Double(host.capacity));
    members.insert("comment".to_owned(), optional_string(&host.comment));
    members.insert("description".to_owned(), optional_string(&host.description));
    members.insert("enabled".to_owned(), Value::Boolean(host.enabled));
    members.insert("id".to_owned(), int_value(host.id));
    members.insert("name".to_owned(), Value::String(host.name.to_string()));
    members.insert("ready".to_owned(), Value::Boolean(host.ready));
    members.insert("task_load".to_owned(), Value::Double(host.task_load));
    if version.has_update_ts() {
        let update = world.host_update(host);
        members.insert(
            "update_ts".to_owned(),
            update.map_or(Value::Nil, |time| Value::Double(time.as_secs_f64())),
        );
    }
    members.insert("user_id".to_owned(), int_value(host.user_id));
    Value::Struct(members)
}

fn get_host(world: &World, version: VersionMode, args: &Bound) -> Result<Value, Fault> {
    let info = args.get(0).unwrap_or(&Value::Nil);
    match find_host(world, &name_or_id(info)?) {
        Some(host) => Ok(host_struct(world, version, host)),
        None if args.flag(1) => Err(Fault::generic(format!(
            "Invalid hostInfo: {}",
            python::display(info)
        ))
        .raised_at(&GET_HOST_RAISE_FRAME)),
        None => Ok(Value::Nil),
    }
}

/// `get_channel_id(info, strict=True)`.
fn channel_id(world: &World, value: &Value) -> Result<i64, Fault> {
    let found = match value {
        Value::String(name) => world.channels.iter().find(|channel| &*channel.name == name),
        other => match python::as_int(other) {
            Some(id) => world.channel(id),
            None => {
                return Err(Fault::generic(format!(
                    "Invalid type for id lookup: {}",
                    python::type_name(other)
                )));
            }
        },
    };
    found.map(|channel| channel.id).ok_or_else(|| {
        Fault::generic(format!(
            "No such entry in table channels: {}",
            python::display(value)
        ))
    })
}

/// `get_user(info, strict=True)`.
fn user_id(world: &World, value: &Value) -> Result<i64, Fault> {
    let found = match value {
        Value::String(name) => world.users.iter().find(|user| &*user.name == name),
        other => python::as_int(other).and_then(|id| world.users.iter().find(|user| user.id == id)),
    };
    found
        .map(|user| user.id)
        .ok_or_else(|| Fault::generic(format!("No such user: {}", python::repr(value))))
}

fn list_hosts(world: &World, version: VersionMode, args: &Bound) -> Result<Value, Fault> {
    let arches: Option<Vec<String>> = match args.non_nil(0) {
        None => None,
        Some(value) if !python::truthy(value) => {
            return Err(Fault::generic("arches option cannot be empty"));
        }
        Some(Value::Array(items)) => Some(items.iter().map(python::display).collect()),
        Some(other) => Some(vec![python::display(other)]),
    };
    let channel = args
        .non_nil(1)
        .map(|value| channel_id(world, value))
        .transpose()?;
    let ready = args.non_nil(2).map(python::truthy);
    let enabled = args.non_nil(3).map(python::truthy);
    let user = args
        .non_nil(4)
        .map(|value| user_id(world, value))
        .transpose()?;
    // queryOpts (index 5) is accepted and ignored, as on the hub.

    let hosts = world
        .hosts
        .iter()
        .filter(|host| {
            arches.as_ref().is_none_or(|arches| {
                host.arches
                    .as_deref()
                    .is_some_and(|have| arches.iter().any(|arch| word_match(have, arch)))
            })
        })
        .filter(|host| channel.is_none_or(|channel| host.channels.contains(&channel)))
        .filter(|host| ready.is_none_or(|ready| host.ready == ready))
        .filter(|host| enabled.is_none_or(|enabled| host.enabled == enabled))
        .filter(|host| user.is_none_or(|user| host.user_id == user))
        .map(|host| host_struct(world, version, host))
        .collect();
    Ok(Value::Array(hosts))
}

fn get_last_host_update(world: &World, version: VersionMode, args: &Bound) -> Result<Value, Fault> {
    let id = convert_int(args.get(0))?;
    let as_ts = version.has_last_update_ts() && args.flag(1);
    let last = world
        .host(id)
        .and_then(|host| world.host_last_session(host));
    Ok(match last {
        None => Value::Nil,
        Some(time) if as_ts => Value::Double(time.as_secs_f64()),
        Some(time) => Value::String(time.to_iso()),
    })
}

fn channel_struct(version: VersionMode, channel: &crate::world::Channel) -> Value {
    let mut members = BTreeMap::new();
    members.insert("id".to_owned(), int_value(channel.id));
    members.insert("name".to_owned(), Value::String(channel.name.to_string()));
    if version.has_channel_details() {
        members.insert("comment".to_owned(), optional_string(&channel.comment));
        members.insert(
            "description".to_owned(),
            optional_string(&channel.description),
        );
        members.insert("enabled".to_owned(), Value::Boolean(channel.enabled));
    }
    Value::Struct(members)
}

fn list_channels(world: &World, version: VersionMode, args: &Bound) -> Result<Value, Fault> {
    let enabled = args.non_nil(2).map(python::truthy);
    let keep =
        |channel: &&crate::world::Channel| enabled.is_none_or(|enabled| channel.enabled == enabled);

    let channels: Vec<Value> = match args.get(0).filter(|value| python::truthy(value)) {
        Some(host) => {
            let host_id = match host {
                Value::String(name) => find_host(world, &Key::Name(name.clone()))
                    .map(|host| host.id)
                    .ok_or_else(|| Fault::generic(format!("Invalid hostInfo: {name}")))?,
                other => convert_int(Some(other))?,
            };
            let members = world
                .host(host_id)
                .map(|host| host.channels.clone())
                .unwrap_or_default();
            members
                .iter()
                .filter_map(|id| world.channel(*id))
                .filter(keep)
                .map(|channel| channel_struct(version, channel))
                .collect()
        }
        None if args.flag(1) => {
            return Err(Fault::generic(
                "list_channels with event and not host is not allowed.",
            ));
        }
        None => world
            .channels
            .iter()
            .filter(keep)
            .map(|channel| channel_struct(version, channel))
            .collect(),
    };
    Ok(Value::Array(channels))
}

fn get_channel(world: &World, version: VersionMode, args: &Bound) -> Result<Value, Fault> {
    let key = name_or_id(args.get(0).unwrap_or(&Value::Nil))?;
    let found = match key {
        Key::Id(id) => world.channel(id),
        Key::Name(name) => world.channels.iter().find(|channel| *channel.name == *name),
    };
    match found {
        Some(channel) => Ok(channel_struct(version, channel)),
        None if args.flag(1) => Err(Fault::generic("query returned no rows")),
        None => Ok(Value::Nil),
    }
}

fn one_task_info(world: &World, id: &Value, request: bool, strict: bool) -> Result<Value, Fault> {
    let id = convert_int(Some(id))?;
    match world.tasks.get(id) {
        Some(task) => Ok(info_row(world, task, request)),
        None if strict => Err(Fault::generic("query returned no rows")),
        None => Ok(Value::Nil),
    }
}

fn get_task_info(world: &World, args: &Bound) -> Result<Value, Fault> {
    let request = args.flag(1);
    let strict = args.flag(2);
    match args.get(0).unwrap_or(&Value::Nil) {
        Value::Array(ids) => {
            let rows: Result<Vec<Value>, Fault> = ids
                .iter()
                .map(|id| one_task_info(world, id, request, strict))
                .collect();
            rows.map(Value::Array)
        }
        id => one_task_info(world, id, request, strict),
    }
}

fn get_task_request(world: &World, args: &Bound) -> Result<Value, Fault> {
    let id = convert_int(args.get(0))?;
    world
        .tasks
        .get(id)
        .map(|task| task.request.decoded.clone())
        .ok_or_else(|| Fault::generic("query returned no rows"))
}

fn target_struct(world: &World, target: &crate::world::Target) -> BTreeMap<String, Value> {
    let tag_name = |id| {
        world
            .tag_name(id)
            .map_or(Value::Nil, |name| Value::String(name.to_string()))
    };
    BTreeMap::from([
        ("build_tag".to_owned(), int_value(target.build_tag)),
        ("build_tag_name".to_owned(), tag_name(target.build_tag)),
        ("dest_tag".to_owned(), int_value(target.dest_tag)),
        ("dest_tag_name".to_owned(), tag_name(target.dest_tag)),
        ("id".to_owned(), int_value(target.id)),
        ("name".to_owned(), Value::String(target.name.to_string())),
    ])
}

/// `get_tag_id(info)` for the target filters: an id stays, a name or dict is looked up.
fn tag_filter(world: &World, value: Option<&Value>) -> Option<Option<i64>> {
    let value = value.filter(|value| !matches!(value, Value::Nil))?;
    Some(match value {
        Value::String(name) => world
            .tags
            .iter()
            .find(|tag| &*tag.name == name)
            .map(|tag| tag.id),
        Value::Struct(members) => members.get("id").and_then(python::as_int),
        other => python::as_int(other),
    })
}

fn matching_targets(world: &World, args: &Bound) -> Vec<BTreeMap<String, Value>> {
    let info = args.get(0).filter(|value| python::truthy(value));
    let build_tag = tag_filter(world, args.get(2));
    let dest_tag = tag_filter(world, args.get(3));
    world
        .targets
        .iter()
        .filter(|target| match info {
            Some(Value::String(name)) => *target.name == **name,
            Some(other) => python::as_int(other) == Some(target.id),
            None => true,
        })
        .filter(|target| build_tag.is_none_or(|tag| tag == Some(target.build_tag)))
        .filter(|target| dest_tag.is_none_or(|tag| tag == Some(target.dest_tag)))
        .map(|target| target_struct(world, target))
        .collect()
}

fn get_build_targets(world: &World, args: &Bound) -> Result<Value, Fault> {
    apply_query_opts(matching_targets(world, args), args.get(4))
}

fn get_build_target(world: &World, args: &Bound) -> Result<Value, Fault> {
    let mut targets = matching_targets(world, args);
    match targets.len() {
        1 => Ok(Value::Struct(targets.remove(0))),
        0 if args.flag(2) => Err(Fault::generic(format!(
            "No such build target: {}",
            python::display(args.get(0).unwrap_or(&Value::Nil))
        ))),
        _ => Ok(Value::Nil),
    }
}

fn get_tag(world: &World, args: &Bound) -> Result<Value, Fault> {
    let info = args.get(0).unwrap_or(&Value::Nil);
    let found = match name_or_id(info)? {
        Key::Id(id) => world.tags.iter().find(|tag| tag.id == id),
        Key::Name(name) => world.tags.iter().find(|tag| *tag.name == *name),
    };
    match found {
        Some(tag) => Ok(tag.info.to_value()),
        None if args.flag(1) => Err(Fault::generic(format!(
            "No such tagInfo: {}",
            python::repr(info)
        ))),
        None => Ok(Value::Nil),
    }
}

fn repo_info(world: &World, args: &Bound) -> Result<Value, Fault> {
    let id = convert_int(args.get(0))?;
    match world.repo(id) {
        Some(repo) => {
            let mut info = match repo.info.to_value() {
                Value::Struct(members) => members,
                _ => BTreeMap::new(),
            };
            let task_state = repo
                .task_id
                .and_then(|task| world.tasks.get(task))
                .map_or(Value::Nil, |task| int_value(task.state.code()));
            info.insert("task_state".to_owned(), task_state);
            Ok(Value::Struct(info))
        }
        None if args.flag(1) => Err(Fault::generic("query returned no rows")),
        None => Ok(Value::Nil),
    }
}

fn get_buildroot(world: &World, args: &Bound) -> Result<Value, Fault> {
    let id = convert_int(args.get(0))?;
    match world.buildroots.iter().find(|buildroot| buildroot.id == id) {
        Some(buildroot) => Ok(buildroot.info.to_value()),
        None if args.flag(1) => Err(Fault::generic(format!("No such buildroot: {id}"))),
        None => Ok(Value::Nil),
    }
}

/// Applies `queryOpts` (`countOnly`, `order`, `offset`, `limit`) to a list of structs, as
/// `QueryProcessor` does for methods such as `getBuildTargets`.
fn apply_query_opts(
    mut rows: Vec<BTreeMap<String, Value>>,
    query_opts: Option<&Value>,
) -> Result<Value, Fault> {
    let options = match query_opts {
        Some(Value::Struct(members)) => members.clone(),
        _ => BTreeMap::new(),
    };
    let number = |name: &str| {
        options
            .get(name)
            .and_then(python::as_int)
            .filter(|n| *n > 0)
            .map(|n| n as usize)
    };

    let count_only = options.get("countOnly").is_some_and(python::truthy);
    if !count_only
        && let Some(Value::String(order)) = options.get("order").filter(|v| python::truthy(v))
    {
        let mut keys = Vec::new();
        for part in order.split(',') {
            let (name, descending) = match part.strip_prefix('-') {
                Some(name) => (name, true),
                None => (part, false),
            };
            if !rows.first().is_none_or(|row| row.contains_key(name)) {
                return Err(Fault::exception(
                    "Exception",
                    format!("Invalid order: {name}"),
                ));
            }
            keys.push((name.to_owned(), descending));
        }
        rows.sort_by(|a, b| {
            for (name, descending) in &keys {
                let ordering = compare_values(a.get(name), b.get(name));
                let ordering = if *descending {
                    ordering.reverse()
                } else {
                    ordering
                };
                if ordering != std::cmp::Ordering::Equal {
                    return ordering;
                }
            }
            std::cmp::Ordering::Equal
        });
    }

    let offset = number("offset").unwrap_or(0);
    let page: Vec<BTreeMap<String, Value>> = rows
        .into_iter()
        .skip(offset)
        .take(number("limit").unwrap_or(usize::MAX))
        .collect();
    if count_only {
        return Ok(int_value(page.len() as i64));
    }
    Ok(Value::Array(page.into_iter().map(Value::Struct).collect()))
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(Value::String(a)), Some(Value::String(b))) => a.cmp(b),
        (Some(a), Some(b)) => match (python::as_int(a), python::as_int(b)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        },
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

//! Turns a [`Scenario`] into a [`World`], checking every reference.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::SimError;
use crate::events::EventLog;
use crate::scenario::{HostSpec, NameOrId, Scenario, TaskSpec};
use crate::tagging;
use crate::tasks::{NewRow, Payload, Sym, Symbols, TaskState, TaskTable};
use crate::time::{Micros, TimeSpec};
use crate::value::Val;
use crate::world::{Buildroot, Channel, Host, Repo, Tag, Target, User, World};

/// Builds the world of `scenario` with the clock at `now`.
pub fn build_world(
    scenario: Scenario,
    now: Micros,
    event_capacity: usize,
) -> Result<World, SimError> {
    let mut world = World {
        now,
        users: Vec::new(),
        channels: Vec::new(),
        hosts: Vec::new(),
        tags: Vec::new(),
        targets: Vec::new(),
        repos: Vec::new(),
        buildroots: Vec::new(),
        tasks: TaskTable::default(),
        events: EventLog::new(event_capacity),
        recording: true,
        live_checkins: false,
    };

    load_users_and_channels(&mut world, &scenario)?;
    for spec in &scenario.hosts {
        let host = load_host(&mut world, spec)?;
        world.hosts.push(host);
    }
    for spec in &scenario.tags {
        let tag = load_tag(&world, spec)?;
        world.tags.push(tag);
    }
    for spec in &scenario.targets {
        let target = Target {
            id: spec.id,
            name: Arc::from(spec.name.as_str()),
            build_tag: tag_id(&world, &spec.build_tag, &format!("target {}", spec.name))?,
            dest_tag: tag_id(&world, &spec.dest_tag, &format!("target {}", spec.name))?,
        };
        check_unique(
            world.targets.iter().map(|t| (t.id, &*t.name)),
            target.id,
            &target.name,
            "target",
        )?;
        world.targets.push(target);
    }
    for spec in &scenario.repos {
        let repo = load_repo(&world, spec)?;
        world.repos.push(repo);
    }
    for spec in &scenario.buildroots {
        let buildroot = load_buildroot(&world, spec)?;
        world.buildroots.push(buildroot);
    }

    world.tasks = load_tasks(&world, &scenario.tasks)?;
    Ok(world)
}

fn invalid(message: String) -> SimError {
    SimError::InvalidScenario(message)
}

fn check_unique<'a>(
    existing: impl Iterator<Item = (i64, &'a str)>,
    id: i64,
    name: &str,
    what: &str,
) -> Result<(), SimError> {
    for (other_id, other_name) in existing {
        if other_id == id {
            return Err(invalid(format!("{what} id {id} appears twice")));
        }
        if other_name == name {
            return Err(invalid(format!("{what} name {name:?} appears twice")));
        }
    }
    Ok(())
}

fn load_users_and_channels(world: &mut World, scenario: &Scenario) -> Result<(), SimError> {
    for spec in &scenario.users {
        check_unique(
            world.users.iter().map(|u| (u.id, &*u.name)),
            spec.id,
            &spec.name,
            "user",
        )?;
        world.users.push(User {
            id: spec.id,
            name: Arc::from(spec.name.as_str()),
            usertype: spec.usertype,
        });
    }
    for spec in &scenario.channels {
        check_unique(
            world.channels.iter().map(|c| (c.id, &*c.name)),
            spec.id,
            &spec.name,
            "channel",
        )?;
        world.channels.push(Channel {
            id: spec.id,
            name: Arc::from(spec.name.as_str()),
            description: spec.description.clone(),
            enabled: spec.enabled,
            comment: spec.comment.clone(),
        });
    }
    Ok(())
}

fn load_host(world: &mut World, spec: &HostSpec) -> Result<Host, SimError> {
    check_unique(
        world.hosts.iter().map(|h| (h.id, &*h.name)),
        spec.id,
        &spec.name,
        "host",
    )?;
    if spec.id <= 0 {
        return Err(invalid(format!(
            "host {} has id {}; host ids start at 1",
            spec.name, spec.id
        )));
    }

    let mut channels = Vec::new();
    for key in &spec.channels {
        let channel = world.find_channel(key).ok_or_else(|| {
            invalid(format!(
                "host {} is in channel {key}, which the scenario does not list",
                spec.name
            ))
        })?;
        channels.push(channel.id);
    }

    let user_id = match spec.user_id {
        Some(id) => id,
        None => {
            world
                .users
                .iter()
                .map(|user| user.id)
                .max()
                .unwrap_or(0)
                .max(spec.id)
                + 1
        }
    };
    if !world.users.iter().any(|user| user.id == user_id) {
        world.users.push(User {
            id: user_id,
            name: Arc::from(spec.name.as_str()),
            usertype: 1,
        });
    }

    let update = spec.update_ts.as_ref().map(|time| time.resolve(world.now));
    let last_session = spec
        .last_session_ts
        .as_ref()
        .map(|time| time.resolve(world.now))
        .or(update);
    let live = spec
        .live
        .unwrap_or(spec.enabled && spec.ready && update.is_some());
    Ok(Host {
        id: spec.id,
        user_id,
        name: Arc::from(spec.name.as_str()),
        arches: spec.arches.clone(),
        capacity: spec.capacity,
        task_load: spec.task_load,
        enabled: spec.enabled,
        ready: spec.ready,
        description: spec.description.clone(),
        comment: spec.comment.clone(),
        update,
        last_session,
        channels,
        live,
    })
}

fn struct_members(spec: &Val, what: &str) -> Result<Vec<(String, Val)>, SimError> {
    match spec {
        Val::Struct(members) => Ok(members.clone()),
        other => Err(invalid(format!(
            "each {what} must be a JSON object, found {other:?}"
        ))),
    }
}

fn required_id(members: &[(String, Val)], what: &str) -> Result<i64, SimError> {
    members
        .iter()
        .find(|(name, _)| name == "id")
        .and_then(|(_, value)| value.as_i64())
        .ok_or_else(|| invalid(format!("a {what} has no integer \"id\"")))
}

/// Sets `name` to `value` unless the members already have it.
fn default_member(members: &mut Vec<(String, Val)>, name: &str, value: Val) {
    if !members.iter().any(|(member, _)| member == name) {
        members.push((name.to_owned(), value));
    }
}

fn set_member(members: &mut Vec<(String, Val)>, name: &str, value: Val) {
    match members.iter_mut().find(|(member, _)| member == name) {
        Some((_, existing)) => *existing = value,
        None => members.push((name.to_owned(), value)),
    }
}

fn member<'a>(members: &'a [(String, Val)], name: &str) -> Option<&'a Val> {
    members
        .iter()
        .find(|(member, _)| member == name)
        .map(|(_, value)| value)
}

fn load_tag(world: &World, spec: &Val) -> Result<Tag, SimError> {
    let mut members = struct_members(spec, "tag")?;
    let id = required_id(&members, "tag")?;
    let name = member(&members, "name")
        .and_then(Val::as_str)
        .ok_or_else(|| invalid(format!("tag {id} has no string \"name\"")))?
        .to_owned();
    check_unique(
        world.tags.iter().map(|t| (t.id, &*t.name)),
        id,
        &name,
        "tag",
    )?;

    default_member(&mut members, "arches", Val::Nil);
    default_member(&mut members, "locked", Val::Bool(false));
    default_member(&mut members, "maven_include_all", Val::Bool(false));
    default_member(&mut members, "maven_support", Val::Bool(false));
    default_member(&mut members, "perm", Val::Nil);
    default_member(&mut members, "perm_id", Val::Nil);
    default_member(&mut members, "extra", Val::Struct(Vec::new()));
    let arches = member(&members, "arches")
        .and_then(Val::as_str)
        .map(str::to_owned);
    Ok(Tag {
        id,
        name: Arc::from(name.as_str()),
        arches,
        info: Val::Struct(members),
    })
}

fn tag_id(world: &World, key: &NameOrId, owner: &str) -> Result<i64, SimError> {
    world.find_tag(key).map(|tag| tag.id).ok_or_else(|| {
        invalid(format!(
            "{owner} names tag {key}, which the scenario does not list"
        ))
    })
}

/// Reads a time member given as epoch seconds or as a time string.
fn time_member(
    members: &[(String, Val)],
    name: &str,
    now: Micros,
) -> Result<Option<Micros>, SimError> {
    match member(members, name) {
        None | Some(Val::Nil) => Ok(None),
        Some(Val::Double(seconds)) => Ok(Some(Micros::from_secs_f64(*seconds))),
        Some(Val::Int(seconds)) => Ok(Some(Micros(seconds * 1_000_000))),
        Some(Val::Str(text)) => TimeSpec::parse(text)
            .map(|time| Some(time.resolve(now)))
            .map_err(invalid),
        Some(other) => Err(invalid(format!("{name} must be a time, found {other:?}"))),
    }
}

fn time_val(time: Micros) -> Val {
    Val::Double(time.as_secs_f64())
}

fn load_repo(world: &World, spec: &Val) -> Result<Repo, SimError> {
    let mut members = struct_members(spec, "repo")?;
    let id = required_id(&members, "repo")?;
    if world.repo(id).is_some() {
        return Err(invalid(format!("repo id {id} appears twice")));
    }
    let tag_key = match (member(&members, "tag"), member(&members, "tag_id")) {
        (Some(Val::Str(name)), _) => NameOrId::Name(name.clone()),
        (Some(Val::Int(tag)), _) | (None, Some(Val::Int(tag))) => NameOrId::Id(*tag),
        _ => {
            return Err(invalid(format!(
                "repo {id} needs \"tag\" (a tag name or id)"
            )));
        }
    };
    let tag = world.find_tag(&tag_key).ok_or_else(|| {
        invalid(format!(
            "repo {id} names tag {tag_key}, which the scenario does not list"
        ))
    })?;
    members.retain(|(name, _)| name != "tag");

    let create = time_member(&members, "create_ts", world.now)?.unwrap_or(world.now);
    let creation = time_member(&members, "creation_ts", world.now)?.unwrap_or(create);
    let state_time = time_member(&members, "state_ts", world.now)?.unwrap_or(creation);
    let begin = time_member(&members, "begin_ts", world.now)?;
    set_member(&mut members, "create_ts", time_val(create));
    set_member(&mut members, "creation_ts", time_val(creation));
    set_member(&mut members, "state_ts", time_val(state_time));
    set_member(&mut members, "begin_ts", begin.map_or(Val::Nil, time_val));
    default_member(&mut members, "creation_time", Val::Str(creation.to_iso()));
    default_member(&mut members, "state_time", Val::Str(state_time.to_iso()));
    default_member(&mut members, "begin_event", Val::Nil);
    default_member(&mut members, "create_event", Val::Int(id));
    default_member(&mut members, "custom_opts", Val::Struct(Vec::new()));
    default_member(&mut members, "dist", Val::Bool(false));
    default_member(&mut members, "end_event", Val::Nil);
    default_member(&mut members, "end_ts", Val::Nil);
    default_member(
        &mut members,
        "opts",
        Val::Struct(vec![
            ("src".into(), Val::Bool(false)),
            ("maven".into(), Val::Bool(false)),
            ("debuginfo".into(), Val::Bool(false)),
            ("separate_src".into(), Val::Bool(false)),
        ]),
    );
    default_member(&mut members, "state", Val::Int(1));
    default_member(&mut members, "task_id", Val::Nil);
    set_member(&mut members, "tag_id", Val::Int(tag.id));
    set_member(&mut members, "tag_name", Val::Str(tag.name.to_string()));
    members.retain(|(name, _)| name != "task_state");
    let task_id = member(&members, "task_id").and_then(Val::as_i64);
    Ok(Repo {
        id,
        tag_id: tag.id,
        task_id,
        info: Val::Struct(members),
    })
}

fn load_buildroot(world: &World, spec: &Val) -> Result<Buildroot, SimError> {
    let mut members = struct_members(spec, "buildroot")?;
    let id = required_id(&members, "buildroot")?;
    if world.buildroots.iter().any(|buildroot| buildroot.id == id) {
        return Err(invalid(format!("buildroot id {id} appears twice")));
    }

    let host = match member(&members, "host") {
        Some(Val::Int(host)) => world.host_index(&NameOrId::Id(*host)),
        Some(Val::Str(name)) => world.host_index(&NameOrId::Name(name.clone())),
        _ => {
            return Err(invalid(format!(
                "buildroot {id} needs \"host\" (a host name or id)"
            )));
        }
    }
    .map(|index| &world.hosts[index])
    .ok_or_else(|| {
        invalid(format!(
            "buildroot {id} names a host the scenario does not list"
        ))
    })?;
    let repo = match member(&members, "repo") {
        Some(Val::Int(repo)) => world.repo(*repo),
        _ => {
            return Err(invalid(format!(
                "buildroot {id} needs \"repo\" (a repo id)"
            )));
        }
    }
    .ok_or_else(|| {
        invalid(format!(
            "buildroot {id} names a repo the scenario does not list"
        ))
    })?;
    members.retain(|(name, _)| name != "host" && name != "repo");

    let create = time_member(&members, "create_ts", world.now)?.unwrap_or(world.now);
    let retire = time_member(&members, "retire_ts", world.now)?;
    let arch = member(&members, "arch").cloned().unwrap_or(Val::Nil);
    let create_event = member(&members, "create_event")
        .cloned()
        .unwrap_or(Val::Int(id));
    let retire_event = member(&members, "retire_event")
        .cloned()
        .unwrap_or(Val::Nil);
    members.retain(|(name, _)| name != "create_event" && name != "retire_event");

    set_member(&mut members, "create_ts", time_val(create));
    set_member(&mut members, "retire_ts", retire.map_or(Val::Nil, time_val));
    default_member(&mut members, "arch", arch.clone());
    default_member(&mut members, "container_arch", arch);
    default_member(&mut members, "br_type", Val::Int(0));
    default_member(&mut members, "cg_id", Val::Nil);
    default_member(&mut members, "cg_name", Val::Nil);
    default_member(&mut members, "cg_version", Val::Nil);
    default_member(&mut members, "container_type", Val::Str("chroot".into()));
    default_member(&mut members, "create_event_id", create_event);
    default_member(&mut members, "create_event_time", Val::Str(create.to_iso()));
    default_member(&mut members, "extra", Val::Nil);
    default_member(&mut members, "host_arch", Val::Nil);
    default_member(&mut members, "host_os", Val::Nil);
    default_member(&mut members, "retire_event_id", retire_event);
    default_member(
        &mut members,
        "retire_event_time",
        retire.map_or(Val::Nil, |time| Val::Str(time.to_iso())),
    );
    default_member(&mut members, "state", Val::Int(0));
    default_member(&mut members, "task_id", Val::Nil);
    set_member(&mut members, "host_id", Val::Int(host.id));
    set_member(&mut members, "host_name", Val::Str(host.name.to_string()));
    set_member(&mut members, "repo_id", Val::Int(repo.id));
    set_member(
        &mut members,
        "repo_state",
        repo.info.get("state").cloned().unwrap_or(Val::Nil),
    );
    set_member(
        &mut members,
        "repo_create_event_id",
        repo.info.get("create_event").cloned().unwrap_or(Val::Nil),
    );
    set_member(
        &mut members,
        "repo_create_event_time",
        repo.info.get("creation_time").cloned().unwrap_or(Val::Nil),
    );
    set_member(&mut members, "tag_id", Val::Int(repo.tag_id));
    set_member(
        &mut members,
        "tag_name",
        world
            .tag_name(repo.tag_id)
            .map_or(Val::Nil, |name| Val::Str(name.to_string())),
    );
    Ok(Buildroot {
        id,
        info: Val::Struct(members),
    })
}

fn load_tasks(world: &World, specs: &[TaskSpec]) -> Result<TaskTable, SimError> {
    let ids: HashSet<i64> = specs.iter().map(|spec| spec.id).collect();
    let by_id: HashMap<i64, &TaskSpec> = specs.iter().map(|spec| (spec.id, spec)).collect();
    let mut symbols = Symbols::default();
    let mut rows = Vec::with_capacity(specs.len());

    for spec in specs {
        let row = task_row(world, spec, &ids, &by_id, &mut symbols)?;
        rows.push(row);
    }

    // Top-level tasks decide the tag of their tree; subtasks inherit it.
    let mut tags: HashMap<i64, Sym> = HashMap::new();
    for (spec, row) in specs.iter().zip(&rows) {
        if spec.parent.is_none() {
            let tag = match &spec.tag {
                Some(tag) => Some(tag.clone()),
                None => tagging::tree_tag(world, &spec.method, row.request.params()),
            };
            tags.insert(spec.id, symbols.intern_opt(tag.as_deref()));
        }
    }
    for (spec, row) in specs.iter().zip(rows.iter_mut()) {
        row.tag = match &spec.tag {
            Some(tag) => symbols.intern(tag),
            None => inherited_tag(spec.id, &by_id, &tags),
        };
    }

    TaskTable::from_rows(rows, symbols).map_err(invalid)
}

fn inherited_tag(id: i64, by_id: &HashMap<i64, &TaskSpec>, tags: &HashMap<i64, Sym>) -> Sym {
    let mut current = id;
    for _ in 0..by_id.len() {
        if let Some(tag) = tags.get(&current) {
            return *tag;
        }
        match by_id.get(&current).and_then(|spec| spec.parent) {
            Some(parent) => current = parent,
            None => break,
        }
    }
    Sym::NONE
}

fn task_row(
    world: &World,
    spec: &TaskSpec,
    ids: &HashSet<i64>,
    by_id: &HashMap<i64, &TaskSpec>,
    symbols: &mut Symbols,
) -> Result<NewRow, SimError> {
    let id = spec.id;
    let channel = world.find_channel(&spec.channel).ok_or_else(|| {
        invalid(format!(
            "task {id} names channel {}, which the scenario does not list",
            spec.channel
        ))
    })?;
    let host_id = match &spec.host {
        Some(key) => Some(
            world
                .host_index(key)
                .map(|index| world.hosts[index].id)
                .ok_or_else(|| {
                    invalid(format!(
                        "task {id} names host {key}, which the scenario does not list"
                    ))
                })?,
        ),
        None => None,
    };
    if matches!(spec.state, TaskState::Open | TaskState::Assigned) && host_id.is_none() {
        return Err(invalid(format!(
            "task {id} is {} but has no \"host\"",
            spec.state
        )));
    }
    if let Some(parent) = spec.parent
        && !ids.contains(&parent)
    {
        return Err(invalid(format!(
            "task {id} has parent {parent}, which the scenario does not list"
        )));
    }

    let parent_spec = spec.parent.and_then(|parent| by_id.get(&parent));
    let owner = match spec
        .owner
        .as_ref()
        .or(parent_spec.and_then(|parent| parent.owner.as_ref()))
    {
        Some(key) => world.find_user(key).map(|user| user.id).ok_or_else(|| {
            invalid(format!(
                "task {id} names owner {key}, which the scenario does not list"
            ))
        })?,
        None => world
            .users
            .iter()
            .find(|user| user.usertype == 0)
            .map_or(1, |user| user.id),
    };
    let priority = spec
        .priority
        .or(parent_spec.map(|parent| parent.priority.unwrap_or(20) - 1))
        .unwrap_or(20);

    let request = match (&spec.request, &spec.request_xml) {
        (_, Some(xml)) => Payload::request_from_xml(xml.clone())
            .map_err(|message| invalid(format!("task {id} request_xml is {message}")))?,
        (Some(params), None) => Payload::request(&spec.method, params),
        (None, None) => Payload::request(&spec.method, &[]),
    };
    let result = match (&spec.result, &spec.result_xml, &spec.fault) {
        (_, Some(xml), _) => Some(
            Payload::result_from_xml(xml.clone())
                .map_err(|message| invalid(format!("task {id} result_xml is {message}")))?,
        ),
        (_, None, Some(fault)) => Some(Payload::fault(fault.code, &fault.string)),
        (Some(value), None, None) => Some(Payload::result(value)),
        (None, None, None) => None,
    };

    let now = world.now;
    Ok(NewRow {
        id,
        state: spec.state,
        method: symbols.intern(&spec.method),
        channel_id: channel.id,
        host_id,
        parent: spec.parent,
        label: symbols.intern_opt(spec.label.as_deref()),
        arch: symbols.intern(spec.arch.as_deref().unwrap_or("noarch")),
        owner,
        priority,
        weight: spec.weight.unwrap_or(1.0),
        waiting: spec.waiting,
        awaited: spec.awaited,
        create: spec.create_ts.resolve(now),
        start: spec.start_ts.as_ref().map(|time| time.resolve(now)),
        completion: spec.completion_ts.as_ref().map(|time| time.resolve(now)),
        request: Arc::new(request),
        result: result.map(Arc::new),
        tag: Sym::NONE,
    })
}

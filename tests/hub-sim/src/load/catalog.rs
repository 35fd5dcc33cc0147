//! What load mode builds on: the targets and channels it uses, generated builders, and
//! repos for build tags without one.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::hashing::FastMap;
use crate::time::Micros;
use crate::value::Val;
use crate::world::{Host, Repo, Tag, Target, User, World};

/// Indexes of the hosts in each channel.
pub(super) fn channel_hosts(world: &World) -> FastMap<i64, Vec<usize>> {
    let mut map: FastMap<i64, Vec<usize>> = FastMap::default();
    for (index, host) in world.hosts.iter().enumerate() {
        for channel in &host.channels {
            map.entry(*channel).or_default().push(index);
        }
    }
    map
}

/// A build target as the generator uses it.
#[derive(Clone, Debug)]
pub(super) struct TargetChoice {
    pub(super) name: String,
    pub(super) build_tag: i64,
    pub(super) build_tag_name: String,
    pub(super) dest_tag: i64,
    pub(super) dest_tag_name: String,
    pub(super) arches: Vec<String>,
    pub(super) repo_id: i64,
    pub(super) side: bool,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Channels {
    pub(super) default: i64,
    pub(super) createrepo: i64,
    pub(super) image: i64,
    pub(super) livemedia: i64,
    pub(super) maven: i64,
    pub(super) bigmem: Option<i64>,
}

/// Adds `count` live builders with names `load-builder-NNN.example.com`.
pub(super) fn add_generated_hosts(world: &mut World, count: u32) {
    let channel = |name: &str| {
        world
            .channels
            .iter()
            .find(|channel| &*channel.name == name)
            .map(|channel| channel.id)
    };
    let default = channel("default").or(world.channels.first().map(|channel| channel.id));
    let extra: Vec<(usize, Option<i64>)> = vec![
        (1, channel("createrepo")),
        (10, channel("image")),
        (10, channel("livemedia")),
        (8, channel("bigmem")),
        (12, channel("maven")),
    ];
    let arches = [
        "x86_64 i686",
        "x86_64 i686",
        "x86_64 i686",
        "aarch64",
        "x86_64 i686",
        "ppc64le",
        "aarch64",
        "s390x",
    ];

    for number in 1..=count as usize {
        let id = world.hosts.iter().map(|host| host.id).max().unwrap_or(0) + 1;
        let user_id = world.users.iter().map(|user| user.id).max().unwrap_or(0) + 1;
        let name = format!("load-builder-{number:03}.example.com");
        let mut channels: Vec<i64> = default.into_iter().collect();
        for (every, channel) in &extra {
            if let Some(channel) = channel
                && number % every == 0
            {
                channels.push(*channel);
            }
        }
        world.users.push(User {
            id: user_id,
            name: Arc::from(name.as_str()),
            usertype: 1,
        });
        world.hosts.push(Host {
            id,
            user_id,
            name: Arc::from(name.as_str()),
            arches: Some(arches[number % arches.len()].to_owned()),
            capacity: 16.0,
            task_load: 0.0,
            enabled: true,
            ready: true,
            description: Some("generated builder".into()),
            comment: None,
            update: Some(world.now),
            last_session: Some(world.now),
            channels,
            live: true,
        });
    }
}

/// Returns the targets the generator builds for, adding a target (with tags) when the scenario has
/// none and a repo for every build tag without one.
pub(super) fn prepare_targets(world: &mut World) -> Vec<TargetChoice> {
    if world.targets.is_empty() {
        let next_tag = world.tags.iter().map(|tag| tag.id).max().unwrap_or(0) + 1;
        for (offset, name, arches) in [
            (0, "sim-build", Some("x86_64 aarch64")),
            (1, "sim-candidate", None),
        ] {
            world.tags.push(Tag {
                id: next_tag + offset,
                name: Arc::from(name),
                arches: arches.map(str::to_owned),
                info: Val::Struct(vec![
                    ("id".into(), Val::Int(next_tag + offset)),
                    ("name".into(), Val::Str(name.into())),
                    (
                        "arches".into(),
                        arches.map_or(Val::Nil, |arches| Val::Str(arches.into())),
                    ),
                    ("locked".into(), Val::Bool(false)),
                    ("maven_include_all".into(), Val::Bool(false)),
                    ("maven_support".into(), Val::Bool(false)),
                    ("perm".into(), Val::Nil),
                    ("perm_id".into(), Val::Nil),
                    ("extra".into(), Val::Struct(Vec::new())),
                ]),
            });
        }
        let id = world
            .targets
            .iter()
            .map(|target| target.id)
            .max()
            .unwrap_or(0)
            + 1;
        world.targets.push(Target {
            id,
            name: Arc::from("sim"),
            build_tag: next_tag,
            dest_tag: next_tag + 1,
        });
    }

    let mut choices = Vec::new();
    let build_tags: BTreeSet<i64> = world
        .targets
        .iter()
        .map(|target| target.build_tag)
        .collect();
    for build_tag in build_tags {
        if !world.repos.iter().any(|repo| repo.tag_id == build_tag) {
            let id = world.repos.iter().map(|repo| repo.id).max().unwrap_or(0) + 1;
            let tag_name = world
                .tag_name(build_tag)
                .map(|name| name.to_string())
                .unwrap_or_default();
            world
                .repos
                .push(synthetic_repo(id, build_tag, &tag_name, world.now));
        }
    }
    for target in &world.targets {
        let build_tag_name = world
            .tag_name(target.build_tag)
            .map(|name| name.to_string())
            .unwrap_or_default();
        let dest_tag_name = world
            .tag_name(target.dest_tag)
            .map(|name| name.to_string())
            .unwrap_or_default();
        let arches: Vec<String> = world
            .tags
            .iter()
            .find(|tag| tag.id == target.build_tag)
            .and_then(|tag| tag.arches.clone())
            .map(|arches| arches.split_whitespace().map(str::to_owned).collect())
            .filter(|arches: &Vec<String>| !arches.is_empty())
            .unwrap_or_else(|| vec!["x86_64".to_owned()]);
        let repo_id = world
            .repos
            .iter()
            .filter(|repo| repo.tag_id == target.build_tag)
            .map(|repo| repo.id)
            .max()
            .unwrap_or(0);
        choices.push(TargetChoice {
            side: target.name.contains("-side-"),
            name: target.name.to_string(),
            build_tag: target.build_tag,
            build_tag_name,
            dest_tag: target.dest_tag,
            dest_tag_name,
            arches,
            repo_id,
        });
    }
    choices
}

pub(super) fn synthetic_repo(id: i64, tag_id: i64, tag_name: &str, now: Micros) -> Repo {
    let time = Val::Double(now.as_secs_f64());
    let text = Val::Str(now.to_iso());
    Repo {
        id,
        tag_id,
        task_id: None,
        info: Val::Struct(vec![
            ("begin_event".into(), Val::Nil),
            ("begin_ts".into(), Val::Nil),
            ("create_event".into(), Val::Int(id)),
            ("create_ts".into(), time.clone()),
            ("creation_time".into(), text.clone()),
            ("creation_ts".into(), time.clone()),
            ("custom_opts".into(), Val::Struct(Vec::new())),
            ("dist".into(), Val::Bool(false)),
            ("end_event".into(), Val::Nil),
            ("end_ts".into(), Val::Nil),
            ("id".into(), Val::Int(id)),
            ("opts".into(), Val::Struct(Vec::new())),
            ("state".into(), Val::Int(1)),
            ("state_time".into(), text),
            ("state_ts".into(), time),
            ("tag_id".into(), Val::Int(tag_id)),
            ("tag_name".into(), Val::Str(tag_name.into())),
            ("task_id".into(), Val::Nil),
        ]),
    }
}

pub(super) fn pick_channels(world: &World) -> Channels {
    let find = |name: &str| {
        world
            .channels
            .iter()
            .find(|channel| &*channel.name == name)
            .map(|channel| channel.id)
    };
    let default = find("default")
        .or(world.channels.first().map(|channel| channel.id))
        .unwrap_or(1);
    Channels {
        default,
        createrepo: find("createrepo").unwrap_or(default),
        image: find("image").unwrap_or(default),
        livemedia: find("livemedia").unwrap_or(default),
        maven: find("maven").unwrap_or(default),
        bigmem: find("bigmem"),
    }
}

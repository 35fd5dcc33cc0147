//! Which tag a task tree belongs to.
//!
//! The top-level task of a tree decides. [`tag_source`] reads its method and decoded params
//! and returns where the tag comes from: build trees take their target's destination tag,
//! newRepo and createrepo trees the repo's tag, tagBuild its destination `tag_id`, and so on
//! (parameter names from `LEGACY_SIGNATURES` in Koji's `koji/tasks.py` and the kiwi and
//! runroot plugins). [`TagResolver`] turns a source into a tag name with the few hub calls
//! it needs, cached.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dxr::Value;

use crate::calls::{get_build_targets, get_buildroot, get_tag, repo_info};
use crate::client::Client;
use crate::error::Error;
use crate::tag::BuildTarget;
use crate::value::{as_int, as_str, split_kwargs};

/// Source of a task tree's tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TagSource {
    /// A tag given by name.
    TagName(String),
    /// A tag given by id.
    TagId(i64),
    /// A build target given by name; the tag is the target's destination tag.
    TargetName(String),
    /// A build target given by id; the tag is the target's destination tag.
    TargetId(i64),
    /// A build target name or, when no target has that name, a tag name (`build` with
    /// `opts.repo_id`, where kojid accepts a plain destination tag).
    TargetOrTagName(String),
    /// A repo id; the tag is the repo's tag.
    Repo(i64),
    /// A buildroot id; the tag is the buildroot's tag.
    Buildroot(i64),
    /// The method or its params name no tag.
    Unknown,
}

/// Reading rule for the tag-carrying param of a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ParamKind {
    /// A build target: name, id, or a target dict.
    Target,
    /// A tag: name, id, or a tag dict.
    Tag,
    /// A repo id or a repo dict.
    Repo,
    /// A buildroot id.
    Buildroot,
    /// An opts dict whose `target` member is a build target (indirectionimage).
    OptsTarget,
}

/// A task method: its parameter names in order and the param that carries the tag.
struct MethodRule {
    method: &'static str,
    signature: &'static [&'static str],
    param: &'static str,
    kind: ParamKind,
}

const LIVE_IMAGE_SIGNATURE: &[&str] = &["name", "version", "arch", "target", "ksfile", "opts"];
const CREATE_LIVE_SIGNATURE: &[&str] = &[
    "name",
    "version",
    "release",
    "arch",
    "target_info",
    "build_tag",
    "repo_info",
    "ksfile",
    "opts",
];

const METHOD_RULES: &[MethodRule] = &[
    MethodRule {
        method: "build",
        signature: &["src", "target", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "buildArch",
        signature: &["pkg", "root", "arch", "keep_srpm", "opts"],
        param: "root",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "buildSRPMFromSCM",
        signature: &["url", "build_tag", "opts"],
        param: "build_tag",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "rebuildSRPM",
        signature: &["srpm", "build_tag", "opts"],
        param: "build_tag",
        kind: ParamKind::Tag,
    },
    // `tag_id` is the destination; `fromtag` is only the source of a move.
    MethodRule {
        method: "tagBuild",
        signature: &["tag_id", "build_id", "force", "fromtag", "ignore_success"],
        param: "tag_id",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "newRepo",
        signature: &["tag", "event", "src", "debuginfo", "separate_src", "opts"],
        param: "tag",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "createrepo",
        signature: &["repo_id", "arch", "oldrepo"],
        param: "repo_id",
        kind: ParamKind::Repo,
    },
    MethodRule {
        method: "distRepo",
        signature: &["tag", "repo_id", "keys", "task_opts"],
        param: "tag",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "createdistrepo",
        signature: &["tag", "repo_id", "arch", "keys", "opts"],
        param: "tag",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "waitrepo",
        signature: &["tag", "newer_than", "nvrs", "min_event"],
        param: "tag",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "tagNotification",
        signature: &[
            "recipients",
            "is_successful",
            "tag_info",
            "from_info",
            "build_info",
            "user_info",
            "ignore_success",
            "failure_msg",
        ],
        param: "tag_info",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "buildNotification",
        signature: &["recipients", "build", "target", "weburl"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "maven",
        signature: &["url", "target", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "chainmaven",
        signature: &["builds", "target", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "chainbuild",
        signature: &["srcs", "target", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "buildMaven",
        signature: &["url", "build_tag", "opts"],
        param: "build_tag",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "wrapperRPM",
        signature: &["spec_url", "build_target", "build", "task", "opts"],
        param: "build_target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "image",
        signature: &["name", "version", "arches", "target", "inst_tree", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "livecd",
        signature: LIVE_IMAGE_SIGNATURE,
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "appliance",
        signature: LIVE_IMAGE_SIGNATURE,
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "livemedia",
        signature: &["name", "version", "arches", "target", "ksfile", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "createImage",
        signature: &[
            "name",
            "version",
            "release",
            "arch",
            "target_info",
            "build_tag",
            "repo_info",
            "inst_tree",
            "opts",
        ],
        param: "target_info",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "createLiveCD",
        signature: CREATE_LIVE_SIGNATURE,
        param: "target_info",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "createAppliance",
        signature: CREATE_LIVE_SIGNATURE,
        param: "target_info",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "createLiveMedia",
        signature: CREATE_LIVE_SIGNATURE,
        param: "target_info",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "createKiwiImage",
        signature: &[
            "name",
            "version",
            "release",
            "arch",
            "target_info",
            "build_tag",
            "repo_info",
            "desc_url",
            "desc_path",
            "opts",
        ],
        param: "target_info",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "indirectionimage",
        signature: &["opts"],
        param: "opts",
        kind: ParamKind::OptsTarget,
    },
    MethodRule {
        method: "kiwiBuild",
        signature: &["target", "arches", "desc_url", "desc_path", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "winbuild",
        signature: &["name", "source_url", "target", "opts"],
        param: "target",
        kind: ParamKind::Target,
    },
    MethodRule {
        method: "runroot",
        signature: &[
            "root",
            "arch",
            "command",
            "keep",
            "packages",
            "mounts",
            "repo_id",
            "skip_setarch",
            "weight",
            "upload_logs",
            "new_chroot",
        ],
        param: "root",
        kind: ParamKind::Tag,
    },
    MethodRule {
        method: "saveFailedTree",
        signature: &["buildrootID", "full"],
        param: "buildrootID",
        kind: ParamKind::Buildroot,
    },
];

/// Param names Koji's hub policies read for methods without a known signature
/// (`policy_data_from_task_args`), in the order they are tried.
const GENERIC_PARAMS: &[(&str, ParamKind)] = &[
    ("target", ParamKind::Target),
    ("build_target", ParamKind::Target),
    ("target_info", ParamKind::Target),
    ("tag", ParamKind::Tag),
    ("tag_id", ParamKind::Tag),
    ("tag_info", ParamKind::Tag),
    ("build_tag", ParamKind::Tag),
];

/// The params of a task, by position and by name.
struct TaskParams<'a> {
    positional: &'a [Value],
    named: Option<&'a BTreeMap<String, Value>>,
}

impl<'a> TaskParams<'a> {
    fn new(params: &'a [Value]) -> Self {
        // New-style tasks send one struct of named params marked with `__method__`.
        if let [Value::Struct(members)] = params
            && members.contains_key("__method__")
        {
            return Self {
                positional: &[],
                named: Some(members),
            };
        }
        let (positional, named) = split_kwargs(params);
        Self { positional, named }
    }

    /// Returns the param called `name`, found by its position in `signature` or by name.
    fn get(&self, signature: &[&str], name: &str) -> Option<&'a Value> {
        let position = signature.iter().position(|param| *param == name);
        if let Some(value) = position.and_then(|index| self.positional.get(index)) {
            return Some(value);
        }
        self.named.and_then(|named| named.get(name))
    }
}

/// Says where the tag of a task tree comes from, given its top-level task's method and
/// decoded params ([`Task::request`](crate::Task::request)).
///
/// Returns [`TagSource::Unknown`] when the method carries no tag or the param is missing or
/// nil.
pub fn tag_source(method: &str, params: &[Value]) -> TagSource {
    let params = TaskParams::new(params);

    let Some(rule) = METHOD_RULES.iter().find(|rule| rule.method == method) else {
        return GENERIC_PARAMS
            .iter()
            .find_map(|(name, kind)| {
                let source = read_param(*kind, params.get(&[], name)?);
                (source != TagSource::Unknown).then_some(source)
            })
            .unwrap_or(TagSource::Unknown);
    };

    let value = params.get(rule.signature, rule.param);
    if method == "build" {
        return build_source(value, params.get(rule.signature, "opts"));
    }
    value.map_or(TagSource::Unknown, |value| read_param(rule.kind, value))
}

/// Reads a `build` task's source: its target, unless `opts.repo_id` is set, in which case kojid accepts a
/// plain tag name as the destination, or no target at all and then the repo decides.
fn build_source(target: Option<&Value>, opts: Option<&Value>) -> TagSource {
    let repo_id = match opts {
        Some(Value::Struct(opts)) => opts.get("repo_id").and_then(as_int),
        _ => None,
    };
    match (target, repo_id) {
        (Some(Value::String(name)), Some(_)) => TagSource::TargetOrTagName(name.clone()),
        (None | Some(Value::Nil), Some(repo_id)) => TagSource::Repo(repo_id),
        (Some(target), _) => read_param(ParamKind::Target, target),
        (None, None) => TagSource::Unknown,
    }
}

fn read_param(kind: ParamKind, value: &Value) -> TagSource {
    match kind {
        ParamKind::Target => read_target(value),
        ParamKind::Tag => read_tag(value),
        ParamKind::Repo => read_repo(value),
        ParamKind::Buildroot => as_int(value).map_or(TagSource::Unknown, TagSource::Buildroot),
        ParamKind::OptsTarget => match value {
            Value::Struct(opts) => opts.get("target").map_or(TagSource::Unknown, read_target),
            _ => TagSource::Unknown,
        },
    }
}

/// Reads a target name, id, or target dict (whose destination tag is used directly).
fn read_target(value: &Value) -> TagSource {
    if let Some(name) = as_str(value) {
        return TagSource::TargetName(name.to_string());
    }
    if let Some(id) = as_int(value) {
        return TagSource::TargetId(id);
    }
    let Value::Struct(target) = value else {
        return TagSource::Unknown;
    };
    if let Some(name) = target.get("dest_tag_name").and_then(as_str) {
        return TagSource::TagName(name.to_string());
    }
    if let Some(id) = target.get("dest_tag").and_then(as_int) {
        return TagSource::TagId(id);
    }
    if let Some(name) = target.get("name").and_then(as_str) {
        return TagSource::TargetName(name.to_string());
    }
    target
        .get("id")
        .and_then(as_int)
        .map_or(TagSource::Unknown, TagSource::TargetId)
}

/// Reads a tag name, id, or tag dict such as newRepo's `{id, name}`.
fn read_tag(value: &Value) -> TagSource {
    if let Some(name) = as_str(value) {
        return TagSource::TagName(name.to_string());
    }
    if let Some(id) = as_int(value) {
        return TagSource::TagId(id);
    }
    let Value::Struct(tag) = value else {
        return TagSource::Unknown;
    };
    if let Some(name) = tag.get("name").and_then(as_str) {
        return TagSource::TagName(name.to_string());
    }
    tag.get("id")
        .and_then(as_int)
        .map_or(TagSource::Unknown, TagSource::TagId)
}

/// Reads a repo id or repo dict (whose tag is used directly).
fn read_repo(value: &Value) -> TagSource {
    if let Some(id) = as_int(value) {
        return TagSource::Repo(id);
    }
    let Value::Struct(repo) = value else {
        return TagSource::Unknown;
    };
    if let Some(name) = repo.get("tag_name").and_then(as_str) {
        return TagSource::TagName(name.to_string());
    }
    if let Some(id) = repo.get("tag_id").and_then(as_int) {
        return TagSource::TagId(id);
    }
    repo.get("id")
        .and_then(as_int)
        .map_or(TagSource::Unknown, TagSource::Repo)
}

/// Default minimum time between two `getBuildTargets` refreshes caused by unknown targets.
pub const DEFAULT_TARGET_REFRESH: Duration = Duration::from_secs(300);

/// Turns [`TagSource`]s into tag names, caching what it learns from the hub.
///
/// Build targets come from one `getBuildTargets` call, repeated when a target is not found
/// but at most once per refresh interval. Tags by id (`getTag`), repos (`repoInfo`) and
/// buildroots (`getBuildroot`) are fetched once each; ids that the hub does not know are
/// cached as unknown too.
#[derive(Debug)]
pub struct TagResolver {
    client: Client,
    target_refresh: Duration,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    targets_fetched: Option<Instant>,
    targets_by_name: HashMap<String, BuildTarget>,
    targets_by_id: HashMap<i64, BuildTarget>,
    tag_names: HashMap<i64, Option<String>>,
    repo_tags: HashMap<i64, Option<String>>,
    buildroot_tags: HashMap<i64, Option<String>>,
}

/// A build target key.
enum TargetKey<'a> {
    Name(&'a str),
    Id(i64),
}

impl TagResolver {
    /// Creates a resolver with empty caches that refreshes targets at most every
    /// [`DEFAULT_TARGET_REFRESH`].
    pub fn new(client: Client) -> Self {
        Self {
            client,
            target_refresh: DEFAULT_TARGET_REFRESH,
            cache: Mutex::default(),
        }
    }

    /// Sets the minimum time between two target refreshes caused by unknown targets.
    pub fn target_refresh(mut self, interval: Duration) -> Self {
        self.target_refresh = interval;
        self
    }

    /// Resolves the tag name of a task tree whose top-level task has `method` and `params`.
    pub async fn resolve_task(
        &self,
        method: &str,
        params: &[Value],
    ) -> Result<Option<String>, Error> {
        self.resolve(&tag_source(method, params)).await
    }

    /// Resolves the tag name `source` refers to, or `None` when the hub has no such object (or the
    /// source is [`TagSource::Unknown`]).
    pub async fn resolve(&self, source: &TagSource) -> Result<Option<String>, Error> {
        match source {
            TagSource::TagName(name) => Ok(Some(name.clone())),
            TagSource::TagId(id) => self.tag_name(*id).await,
            TagSource::TargetName(name) => self.target_dest(TargetKey::Name(name)).await,
            TagSource::TargetId(id) => self.target_dest(TargetKey::Id(*id)).await,
            TagSource::TargetOrTagName(name) => {
                let dest = self.target_dest(TargetKey::Name(name)).await?;
                Ok(Some(dest.unwrap_or_else(|| name.clone())))
            }
            TagSource::Repo(id) => self.repo_tag(*id).await,
            TagSource::Buildroot(id) => self.buildroot_tag(*id).await,
            TagSource::Unknown => Ok(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves the maps consistent, because each update is a
        // single insert, so a poisoned lock is still usable.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached_target_dest(&self, key: &TargetKey<'_>) -> Option<String> {
        let cache = self.lock();
        let target = match key {
            TargetKey::Name(name) => cache.targets_by_name.get(*name),
            TargetKey::Id(id) => cache.targets_by_id.get(id),
        };
        target.map(|target| target.dest_tag_name.clone())
    }

    /// Fetches the targets when they were never fetched, or when `refresh` is set and the
    /// last fetch is older than the refresh interval. Returns true when it fetched.
    async fn fetch_targets(&self, refresh: bool) -> Result<bool, Error> {
        let due = match self.lock().targets_fetched {
            None => true,
            Some(fetched) => refresh && fetched.elapsed() >= self.target_refresh,
        };
        if !due {
            return Ok(false);
        }

        let targets = self.client.call(get_build_targets()).await?;
        let mut cache = self.lock();
        cache.targets_fetched = Some(Instant::now());
        cache.targets_by_name = targets
            .iter()
            .map(|target| (target.name.clone(), target.clone()))
            .collect();
        cache.targets_by_id = targets
            .into_iter()
            .map(|target| (target.id, target))
            .collect();
        Ok(true)
    }

    async fn target_dest(&self, key: TargetKey<'_>) -> Result<Option<String>, Error> {
        self.fetch_targets(false).await?;
        if let Some(dest) = self.cached_target_dest(&key) {
            return Ok(Some(dest));
        }
        if self.fetch_targets(true).await? {
            return Ok(self.cached_target_dest(&key));
        }
        Ok(None)
    }

    async fn tag_name(&self, id: i64) -> Result<Option<String>, Error> {
        if let Some(name) = self.lock().tag_names.get(&id) {
            return Ok(name.clone());
        }

        // Targets name their build and destination tags, which covers most tag ids.
        self.fetch_targets(false).await?;
        let from_targets = self.lock().targets_by_id.values().find_map(|target| {
            if target.dest_tag == id {
                Some(target.dest_tag_name.clone())
            } else if target.build_tag == id {
                Some(target.build_tag_name.clone())
            } else {
                None
            }
        });
        let name = match from_targets {
            Some(name) => Some(name),
            None => self.client.call(get_tag(id)).await?.map(|tag| tag.name),
        };
        self.lock().tag_names.insert(id, name.clone());
        Ok(name)
    }

    async fn repo_tag(&self, id: i64) -> Result<Option<String>, Error> {
        if let Some(name) = self.lock().repo_tags.get(&id) {
            return Ok(name.clone());
        }
        let name = self
            .client
            .call(repo_info(id))
            .await?
            .map(|repo| repo.tag_name);
        self.lock().repo_tags.insert(id, name.clone());
        Ok(name)
    }

    async fn buildroot_tag(&self, id: i64) -> Result<Option<String>, Error> {
        if let Some(name) = self.lock().buildroot_tags.get(&id) {
            return Ok(name.clone());
        }
        let name = self
            .client
            .call(get_buildroot(id))
            .await?
            .and_then(|root| root.tag_name);
        self.lock().buildroot_tags.insert(id, name.clone());
        Ok(name)
    }
}

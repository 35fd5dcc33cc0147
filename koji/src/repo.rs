//! Repos (a tag's generated package repository) and buildroots.

use dxr::Value;

use crate::error::DecodeError;
use crate::value::decode_item;

/// Repo states (`koji.REPO_STATES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepoState {
    /// 0: being generated.
    Init,
    /// 1: usable.
    Ready,
    /// 2: outdated.
    Expired,
    /// 3: deleted.
    Deleted,
    /// 4: generation failed.
    Problem,
    /// A code Koji does not define, kept as sent.
    Unknown(i64),
}

impl RepoState {
    /// Returns the state with numeric code `code`.
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => RepoState::Init,
            1 => RepoState::Ready,
            2 => RepoState::Expired,
            3 => RepoState::Deleted,
            4 => RepoState::Problem,
            other => RepoState::Unknown(other),
        }
    }
}

/// A repo (`repoInfo`).
#[derive(Clone, Debug, PartialEq)]
pub struct Repo {
    /// Repo id.
    pub id: i64,
    /// Id of the tag the repo was generated for.
    pub tag_id: i64,
    /// Name of that tag.
    pub tag_name: String,
    /// Repo state.
    pub state: RepoState,
    /// The newRepo task that generated it.
    pub task_id: Option<i64>,
    /// Event the repo content is taken at.
    pub create_event: Option<i64>,
    /// Time of that event, epoch seconds.
    pub create_ts: Option<f64>,
    /// Whether this is a dist repo (`distRepo`).
    pub dist: bool,
}

/// A buildroot (`getBuildroot`).
#[derive(Clone, Debug, PartialEq)]
pub struct Buildroot {
    /// Buildroot id.
    pub id: i64,
    /// Id of the build tag; `None` for content-generator buildroots.
    pub tag_id: Option<i64>,
    /// Name of the build tag.
    pub tag_name: Option<String>,
    /// Repo the buildroot was populated from.
    pub repo_id: Option<i64>,
    /// Host the buildroot lived on.
    pub host_id: Option<i64>,
    /// Task that used the buildroot.
    pub task_id: Option<i64>,
}

/// Decodes `repoInfo`: a repo struct or `<nil/>` for an unknown repo id.
pub fn decode_optional_repo(value: Value) -> Result<Option<Repo>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        other => decode_item("repo", other, None, |fields, id| {
            Ok(Repo {
                id,
                tag_id: fields.int("tag_id")?,
                tag_name: fields.string("tag_name")?,
                state: RepoState::from_code(fields.int("state")?),
                task_id: fields.opt_int("task_id")?,
                create_event: fields.opt_int("create_event")?,
                create_ts: fields.opt_double("create_ts")?,
                dist: fields.opt_bool("dist")?.unwrap_or(false),
            })
        })
        .map(Some),
    }
}

/// Decodes `getBuildroot`: a buildroot struct or `<nil/>` for an unknown id.
pub fn decode_optional_buildroot(value: Value) -> Result<Option<Buildroot>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        other => decode_item("buildroot", other, None, |fields, id| {
            Ok(Buildroot {
                id,
                tag_id: fields.opt_int("tag_id")?,
                tag_name: fields.opt_string("tag_name")?,
                repo_id: fields.opt_int("repo_id")?,
                host_id: fields.opt_int("host_id")?,
                task_id: fields.opt_int("task_id")?,
            })
        })
        .map(Some),
    }
}

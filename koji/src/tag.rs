//! Tags and build targets (a target maps a name to a build tag and a destination tag).

use std::collections::BTreeMap;

use dxr::Value;

use crate::error::DecodeError;
use crate::value::{array, decode_item};

/// A build target (`getBuildTargets`, `getBuildTarget`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildTarget {
    /// Target id.
    pub id: i64,
    /// Target name, such as `f41`.
    pub name: String,
    /// Id of the tag builds take their buildroot from.
    pub build_tag: i64,
    /// Name of the build tag, such as `f41-build`.
    pub build_tag_name: String,
    /// Id of the tag builds land in.
    pub dest_tag: i64,
    /// Name of the destination tag, such as `f41-candidate`.
    pub dest_tag_name: String,
}

/// A tag (`getTag`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    /// Tag id.
    pub id: i64,
    /// Tag name.
    pub name: String,
    /// Architectures of the tag's buildroots; empty when none are set.
    pub arches: Vec<String>,
    /// Whether the tag is locked.
    pub locked: bool,
    /// Permission needed to change the tag.
    pub perm: Option<String>,
    /// Id of that permission.
    pub perm_id: Option<i64>,
    /// Whether Maven support is on.
    pub maven_support: bool,
    /// Whether Maven repos include all builds.
    pub maven_include_all: bool,
    /// The tag's extra settings, as sent.
    pub extra: BTreeMap<String, Value>,
}

/// Decodes `getBuildTargets`: an array of target structs.
pub fn decode_build_targets(value: Value) -> Result<Vec<BuildTarget>, DecodeError> {
    array(value)?
        .into_iter()
        .enumerate()
        .map(|(index, item)| decode_build_target_item(item, Some(index)))
        .collect()
}

/// Decodes `getBuildTarget`: a target struct or `<nil/>` for an unknown target.
pub fn decode_optional_build_target(value: Value) -> Result<Option<BuildTarget>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        other => decode_build_target_item(other, None).map(Some),
    }
}

fn decode_build_target_item(
    value: Value,
    index: Option<usize>,
) -> Result<BuildTarget, DecodeError> {
    decode_item("build target", value, index, |fields, id| {
        Ok(BuildTarget {
            id,
            name: fields.string("name")?,
            build_tag: fields.int("build_tag")?,
            build_tag_name: fields.string("build_tag_name")?,
            dest_tag: fields.int("dest_tag")?,
            dest_tag_name: fields.string("dest_tag_name")?,
        })
    })
}

/// Decodes `getTag`: a tag struct or `<nil/>` for an unknown tag.
pub fn decode_optional_tag(value: Value) -> Result<Option<Tag>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        other => decode_item("tag", other, None, |mut fields, id| {
            let extra = match fields.take("extra") {
                None | Some(Value::Nil) => BTreeMap::new(),
                Some(Value::Struct(members)) => members,
                Some(other) => {
                    return Err(DecodeError::new(format!(
                        "field extra: expected struct, got {}",
                        crate::value::type_name(&other)
                    )));
                }
            };
            let arches = fields
                .opt_string("arches")?
                .map(|arches| arches.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();

            Ok(Tag {
                id,
                name: fields.string("name")?,
                arches,
                locked: fields.opt_bool("locked")?.unwrap_or(false),
                perm: fields.opt_string("perm")?,
                perm_id: fields.opt_int("perm_id")?,
                maven_support: fields.opt_bool("maven_support")?.unwrap_or(false),
                maven_include_all: fields.opt_bool("maven_include_all")?.unwrap_or(false),
                extra,
            })
        })
        .map(Some),
    }
}

//! The tag of a task tree, for ground truth.
//!
//! The top-level task decides: build-like methods take their target's destination tag,
//! repo and tagging methods take their tag, createrepo takes its repo's tag, and subtasks
//! inherit the tag of their tree. The parameter positions follow `koji/tasks.py`
//! `LEGACY_SIGNATURES` (and `kojid`'s handlers for image tasks).

use dxr::Value;

use crate::scenario::NameOrId;
use crate::world::World;

/// Returns the tag name for a top-level task `method(params...)`, if the request determines one.
pub fn tree_tag(world: &World, method: &str, params: &[Value]) -> Option<String> {
    let param = |index: usize| params.get(index);
    match method {
        "build" | "maven" | "chainmaven" | "chainbuild" | "wrapperRPM" => {
            target_dest_tag(world, param(1)?)
        }
        "image" | "livecd" | "appliance" | "livemedia" => target_dest_tag(world, param(3)?),
        "kiwiBuild" => target_dest_tag(world, param(0)?),
        "buildNotification" => target_dest_tag(world, param(2)?),
        "indirectionimage" => match param(0)? {
            Value::Struct(opts) => target_dest_tag(world, opts.get("target")?),
            _ => None,
        },
        "createImage" | "createLiveCD" | "createAppliance" | "createLiveMedia"
        | "createKiwiImage" => target_dest_tag(world, param(4)?),
        "buildArch" | "buildSRPMFromSCM" | "rebuildSRPM" | "buildMaven" => {
            tag_name(world, param(1)?)
        }
        "tagBuild" | "newRepo" | "distRepo" | "createdistrepo" | "waitrepo" | "runroot" => {
            tag_name(world, param(0)?)
        }
        "tagNotification" => tag_name(world, param(2)?),
        "createrepo" => {
            let repo = world.repo(crate::xmlrpc::python::as_int(param(0)?)?)?;
            world.tag_name(repo.tag_id).map(|name| name.to_string())
        }
        "saveFailedTree" => {
            let id = crate::xmlrpc::python::as_int(param(0)?)?;
            let buildroot = world
                .buildroots
                .iter()
                .find(|buildroot| buildroot.id == id)?;
            buildroot.info.get("tag_name")?.as_str().map(str::to_owned)
        }
        _ => None,
    }
}

/// Returns the destination tag of a target given by name, id or target dict. A name that is not a
/// target but a tag (a build with `repo_id` names its destination tag directly) is that tag.
fn target_dest_tag(world: &World, target: &Value) -> Option<String> {
    match target {
        Value::String(name) => match world.find_target(&NameOrId::Name(name.clone())) {
            Some(target) => world.tag_name(target.dest_tag).map(|name| name.to_string()),
            None => world
                .find_tag(&NameOrId::Name(name.clone()))
                .map(|tag| tag.name.to_string()),
        },
        Value::Integer(_) | Value::Long(_) => {
            let id = crate::xmlrpc::python::as_int(target)?;
            let target = world.find_target(&NameOrId::Id(id))?;
            world.tag_name(target.dest_tag).map(|name| name.to_string())
        }
        Value::Struct(info) => match info.get("dest_tag_name") {
            Some(Value::String(name)) => Some(name.clone()),
            _ => tag_name(world, info.get("dest_tag")?),
        },
        _ => None,
    }
}

/// Returns a tag given by id, name or tag dict.
fn tag_name(world: &World, tag: &Value) -> Option<String> {
    match tag {
        Value::String(name) => Some(name.clone()),
        Value::Integer(_) | Value::Long(_) => world
            .tag_name(crate::xmlrpc::python::as_int(tag)?)
            .map(|name| name.to_string()),
        Value::Struct(info) => match info.get("name") {
            Some(Value::String(name)) => Some(name.clone()),
            _ => tag_name(world, info.get("id")?),
        },
        _ => None,
    }
}

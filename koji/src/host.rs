//! Builder hosts as `getHost` and `listHosts` return them.

use dxr::Value;

use crate::error::DecodeError;
use crate::value::{array, decode_item};

/// The last `host.updateHost` check-in of a host's kojid main loop (`update_ts`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UpdateTs {
    /// The hub does not send `update_ts` (hubs older than 1.33); ask `getLastHostUpdate`.
    Absent,
    /// The host never checked in (`<nil/>`).
    Never,
    /// Epoch seconds of the last check-in.
    At(f64),
}

/// A builder host (`getHost`, `listHosts`).
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// Host id.
    pub id: i64,
    /// Id of the host's login account.
    pub user_id: i64,
    /// Host name, usually the FQDN.
    pub name: String,
    /// Architectures the host builds for; empty when the hub has none.
    pub arches: Vec<String>,
    /// Admin-set capacity, in the unit of task weights.
    pub capacity: f64,
    /// Sum of the weights of the host's tasks, as kojid last reported it.
    pub task_load: f64,
    /// Admin switch (`enableHost`/`disableHost`).
    pub enabled: bool,
    /// Whether the host takes tasks, as kojid last reported it or the scheduler forced it.
    pub ready: bool,
    /// Last check-in of the kojid main loop.
    pub update_ts: UpdateTs,
    /// Free-text description.
    pub description: Option<String>,
    /// Free-text comment.
    pub comment: Option<String>,
}

/// Decodes one host struct.
pub fn decode_host(value: Value) -> Result<Host, DecodeError> {
    decode_host_item(value, None)
}

/// Decodes `getHost`: a host struct or `<nil/>` for an unknown host.
pub fn decode_optional_host(value: Value) -> Result<Option<Host>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        other => decode_host(other).map(Some),
    }
}

/// Decodes `listHosts`: an array of host structs.
pub fn decode_hosts(value: Value) -> Result<Vec<Host>, DecodeError> {
    array(value)?
        .into_iter()
        .enumerate()
        .map(|(index, item)| decode_host_item(item, Some(index)))
        .collect()
}

fn decode_host_item(value: Value, index: Option<usize>) -> Result<Host, DecodeError> {
    decode_item("host", value, index, |fields, id| {
        let update_ts = if !fields.contains("update_ts") {
            UpdateTs::Absent
        } else {
            fields
                .opt_double("update_ts")?
                .map_or(UpdateTs::Never, UpdateTs::At)
        };
        let arches = fields
            .opt_string("arches")?
            .map(|arches| arches.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();

        Ok(Host {
            id,
            user_id: fields.int("user_id")?,
            name: fields.string("name")?,
            arches,
            capacity: fields.double("capacity")?,
            task_load: fields.double("task_load")?,
            enabled: fields.bool("enabled")?,
            ready: fields.bool("ready")?,
            update_ts,
            description: fields.opt_string("description")?,
            comment: fields.opt_string("comment")?,
        })
    })
}

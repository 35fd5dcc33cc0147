//! Channels: named pools of hosts; every task belongs to exactly one.

use dxr::Value;

use crate::error::DecodeError;
use crate::value::{array, decode_item};

/// A channel (`listChannels`, `getChannel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Channel id.
    pub id: i64,
    /// Channel name, such as `default` or `createrepo`.
    pub name: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Whether the scheduler uses the channel; hubs older than 1.26 have no switch, so true.
    pub enabled: bool,
    /// Free-text comment.
    pub comment: Option<String>,
}

/// Decodes `listChannels`: an array of channel structs.
pub fn decode_channels(value: Value) -> Result<Vec<Channel>, DecodeError> {
    array(value)?
        .into_iter()
        .enumerate()
        .map(|(index, item)| decode_channel_item(item, Some(index)))
        .collect()
}

/// Decodes `getChannel`: a channel struct or `<nil/>` for an unknown channel.
pub fn decode_optional_channel(value: Value) -> Result<Option<Channel>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        other => decode_channel_item(other, None).map(Some),
    }
}

fn decode_channel_item(value: Value, index: Option<usize>) -> Result<Channel, DecodeError> {
    decode_item("channel", value, index, |fields, id| {
        Ok(Channel {
            id,
            name: fields.string("name")?,
            description: fields.opt_string("description")?,
            enabled: fields.opt_bool("enabled")?.unwrap_or(true),
            comment: fields.opt_string("comment")?,
        })
    })
}

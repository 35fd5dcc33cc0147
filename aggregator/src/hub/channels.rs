//! The channel list and channel membership, cached for `hub.channel_cache_secs`.
//!
//! A refresh is one `listChannels()` call and then one multicall with a
//! `listHosts(channelID=c)` per channel, the way `koji list-channels` reads membership
//! (`listHosts` does not return channels). A refresh that fails in any call leaves the cache
//! as it was.

use std::collections::BTreeMap;

use koji::calls::{IdOrName, ListChannelsOptions, ListHostsOptions, list_channels, list_hosts};
use koji::{Channel, Client, MultiCall};

/// Channels and the ids of their member hosts.
#[derive(Clone, Debug, Default)]
pub struct ChannelCache {
    channels: Vec<Channel>,
    members: BTreeMap<i64, Vec<i64>>,
    fetched_at: Option<f64>,
}

impl ChannelCache {
    /// Returns true when the cache was never filled or is older than `max_age` seconds at the
    /// monotonic time `now`.
    pub fn is_due(&self, now: f64, max_age: f64) -> bool {
        self.fetched_at
            .is_none_or(|fetched| now - fetched >= max_age)
    }

    /// Reads the channels and their members from the hub.
    pub async fn refresh(&mut self, client: &Client, now: f64) -> Result<(), koji::Error> {
        let channels = client
            .call(list_channels(&ListChannelsOptions::default()))
            .await?;

        let mut multicall = MultiCall::new();
        let handles: Vec<_> = channels
            .iter()
            .map(|channel| {
                let options = ListHostsOptions {
                    channel: Some(IdOrName::Id(channel.id)),
                    ..ListHostsOptions::default()
                };
                (channel.id, multicall.add(list_hosts(&options)))
            })
            .collect();
        let mut results = client.multicall(multicall).await?;

        let mut members = BTreeMap::new();
        for (channel_id, handle) in handles {
            let hosts = results.take(handle)?;
            members.insert(channel_id, hosts.iter().map(|host| host.id).collect());
        }

        self.channels = channels;
        self.members = members;
        self.fetched_at = Some(now);
        Ok(())
    }

    /// Returns every channel, in the hub's order.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Returns the host ids of the members of channel `channel_id`.
    pub fn members(&self, channel_id: i64) -> &[i64] {
        self.members.get(&channel_id).map_or(&[], Vec::as_slice)
    }

    /// Returns the name of channel `channel_id`, when the cache contains it.
    pub fn name(&self, channel_id: i64) -> Option<&str> {
        self.channels
            .iter()
            .find(|channel| channel.id == channel_id)
            .map(|channel| channel.name.as_str())
    }
}

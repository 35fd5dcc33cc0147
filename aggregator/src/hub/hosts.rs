//! Builders from one `listHosts()` per poll, with their last check-in.
//!
//! Hubs 1.33 and later send `update_ts` with every host. On older hubs the check-in times of
//! all hosts come from one multicall of `getLastHostUpdate(id, ts=True)`. Hubs older than
//! 1.25 reject `ts` with fault 1019, so then the multicall is sent again without `ts` and the
//! date strings are parsed. Which form the hub takes is remembered for the life of the process.

use koji::calls::{ListHostsOptions, get_last_host_update, list_hosts};
use koji::{Client, FaultKind, MultiCall, UpdateTs};

use super::snapshot::HostRow;

/// The form of `getLastHostUpdate` that the hub takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CheckInCall {
    /// `getLastHostUpdate(id, ts=True)`, which returns epoch seconds (hub 1.25+).
    #[default]
    EpochSeconds,
    /// `getLastHostUpdate(id)`, which returns a date string (hubs older than 1.25).
    DateString,
}

/// Lists the hosts and their last check-in times.
pub async fn fetch_hosts(
    client: &Client,
    check_in_call: &mut CheckInCall,
) -> Result<Vec<HostRow>, koji::Error> {
    let hosts = client
        .call(list_hosts(&ListHostsOptions::default()))
        .await?;

    let without_update_ts: Vec<i64> = hosts
        .iter()
        .filter(|host| host.update_ts == UpdateTs::Absent)
        .map(|host| host.id)
        .collect();
    let fallback = if without_update_ts.is_empty() {
        Vec::new()
    } else {
        last_host_updates(client, &without_update_ts, check_in_call).await?
    };

    Ok(hosts
        .iter()
        .map(|host| {
            let last_update = match host.update_ts {
                UpdateTs::At(seconds) => Some(seconds),
                UpdateTs::Never => None,
                UpdateTs::Absent => without_update_ts
                    .iter()
                    .position(|id| *id == host.id)
                    .and_then(|index| fallback[index]),
            };
            HostRow::new(host, last_update)
        })
        .collect())
}

async fn last_host_updates(
    client: &Client,
    host_ids: &[i64],
    check_in_call: &mut CheckInCall,
) -> Result<Vec<Option<f64>>, koji::Error> {
    if *check_in_call == CheckInCall::EpochSeconds {
        let results = check_in_multicall(client, host_ids, true).await?;
        let rejected = results
            .iter()
            .any(|result| matches!(result, Err(error) if error.fault_kind() == Some(FaultKind::ParameterError)));
        if !rejected {
            return results.into_iter().collect();
        }
        tracing::info!(
            url = client.url(),
            "The hub rejects getLastHostUpdate(ts=True), so it is older than Koji 1.25; \
             reading check-in times from date strings."
        );
        *check_in_call = CheckInCall::DateString;
    }
    check_in_multicall(client, host_ids, false)
        .await?
        .into_iter()
        .collect()
}

async fn check_in_multicall(
    client: &Client,
    host_ids: &[i64],
    epoch_seconds: bool,
) -> Result<Vec<Result<Option<f64>, koji::Error>>, koji::Error> {
    let mut multicall = MultiCall::new();
    let handles: Vec<_> = host_ids
        .iter()
        .map(|id| multicall.add(get_last_host_update(*id, epoch_seconds)))
        .collect();
    let mut results = client.multicall(multicall).await?;
    Ok(handles
        .into_iter()
        .map(|handle| results.take(handle))
        .collect())
}

//! The metric families of the hub poller, in the names of the metric contract.

use koji_metrics::contract::{
    AGGREGATOR_TASK_IDS_SKIPPED_TOTAL, BUILDER_CAPACITY, BUILDER_CHANNEL_INFO, BUILDER_ENABLED,
    BUILDER_INFO, BUILDER_LAST_UPDATE_TIMESTAMP_SECONDS, BUILDER_READY, BUILDER_RUNNING_TASKS,
    BUILDER_TASK_LOAD, CHANNEL_BUILDERS, CHANNEL_BUILDERS_ENABLED, CHANNEL_BUILDERS_READY,
    CHANNEL_CAPACITY, CHANNEL_ENABLED, CHANNEL_TASK_LOAD, HUB_LAST_SUCCESS_TIMESTAMP_SECONDS,
    HUB_POLL_DURATION_SECONDS, HUB_POLLS_TOTAL, HUB_UP, TASK_RUN_SECONDS, TASK_WAIT_SECONDS, TASKS,
    TASKS_COMPLETED_TOTAL, TASKS_CREATED_TOTAL, TASKS_OLDEST_CREATE_TIMESTAMP_SECONDS,
    TASKS_TAG_FOLDED_TOTAL,
};
use koji_metrics::proto::MetricFamily;
use koji_metrics::{FamilyBuilder, MetricDef};

use super::snapshot::{HostRow, Snapshot};
use super::state::PollerState;

/// The outcome of the latest poll in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PollStatus {
    /// True when the latest poll succeeded; false before the first poll.
    pub up: bool,
    /// Seconds the latest poll took; `None` before the first poll.
    pub duration: Option<f64>,
}

/// Builds every family of the hub poller from the committed state and the latest poll.
///
/// Families without samples are included; the text encoder leaves them out.
pub fn build(state: &PollerState, status: PollStatus) -> Vec<MetricFamily> {
    let mut families = poll_families(state, status);
    if let Some(snapshot) = &state.snapshot {
        families.extend(builder_families(snapshot));
        families.extend(channel_families(snapshot));
        families.extend(active_task_families(snapshot));
    }
    families.extend(counter_families(state));
    families
}

fn family(
    def: &'static MetricDef,
    samples: impl IntoIterator<Item = (Vec<String>, f64)>,
) -> MetricFamily {
    let mut builder = FamilyBuilder::new(def);
    for (labels, value) in samples {
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        builder
            .sample(&labels, value)
            .expect("label values follow the definition");
    }
    builder.build()
}

fn flag(value: bool) -> f64 {
    if value { 1.0 } else { 0.0 }
}

fn poll_families(state: &PollerState, status: PollStatus) -> Vec<MetricFamily> {
    let counters = &state.counters;
    vec![
        family(&HUB_UP, [(Vec::new(), flag(status.up))]),
        family(
            &HUB_LAST_SUCCESS_TIMESTAMP_SECONDS,
            state.last_success.map(|time| (Vec::new(), time)),
        ),
        family(
            &HUB_POLL_DURATION_SECONDS,
            status.duration.map(|seconds| (Vec::new(), seconds)),
        ),
        family(
            &HUB_POLLS_TOTAL,
            [
                (vec!["success".to_string()], counters.polls_success as f64),
                (vec!["failure".to_string()], counters.polls_failure as f64),
            ],
        ),
    ]
}

fn host_family(
    def: &'static MetricDef,
    hosts: &[HostRow],
    value: impl Fn(&HostRow) -> Option<f64>,
) -> MetricFamily {
    family(
        def,
        hosts
            .iter()
            .filter_map(|host| value(host).map(|value| (vec![host.name.clone()], value))),
    )
}

fn builder_families(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let hosts = &snapshot.hosts;
    let memberships = snapshot.channels.iter().flat_map(|channel| {
        channel
            .hosts
            .iter()
            .map(|host| (vec![host.clone(), channel.name.clone()], 1.0))
    });
    vec![
        family(
            &BUILDER_INFO,
            hosts
                .iter()
                .map(|host| (vec![host.name.clone(), host.arches.clone()], 1.0)),
        ),
        host_family(&BUILDER_ENABLED, hosts, |host| Some(flag(host.enabled))),
        host_family(&BUILDER_READY, hosts, |host| Some(flag(host.ready))),
        host_family(&BUILDER_CAPACITY, hosts, |host| Some(host.capacity)),
        host_family(&BUILDER_TASK_LOAD, hosts, |host| Some(host.task_load)),
        host_family(&BUILDER_LAST_UPDATE_TIMESTAMP_SECONDS, hosts, |host| {
            host.last_update
        }),
        family(&BUILDER_CHANNEL_INFO, memberships),
        family(
            &BUILDER_RUNNING_TASKS,
            snapshot.running.iter().map(|running| {
                (
                    vec![running.host.clone(), running.method.clone()],
                    running.count as f64,
                )
            }),
        ),
    ]
}

/// Sums over a channel's member hosts: all, enabled, enabled and ready, and the capacity
/// and task load of the enabled ones (ready or not).
#[derive(Default)]
struct ChannelTotals {
    builders: f64,
    enabled: f64,
    ready: f64,
    capacity: f64,
    task_load: f64,
}

fn channel_families(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let totals: Vec<(String, bool, ChannelTotals)> = snapshot
        .channels
        .iter()
        .map(|channel| {
            let mut totals = ChannelTotals::default();
            for name in &channel.hosts {
                let Some(host) = snapshot.hosts.iter().find(|host| &host.name == name) else {
                    continue;
                };
                totals.builders += 1.0;
                if host.enabled {
                    totals.enabled += 1.0;
                    totals.capacity += host.capacity;
                    totals.task_load += host.task_load;
                    if host.ready {
                        totals.ready += 1.0;
                    }
                }
            }
            (channel.name.clone(), channel.enabled, totals)
        })
        .collect();

    let series = |value: fn(&ChannelTotals) -> f64| {
        totals
            .iter()
            .map(move |(name, _, totals)| (vec![name.clone()], value(totals)))
            .collect::<Vec<_>>()
    };
    vec![
        family(&CHANNEL_BUILDERS, series(|totals| totals.builders)),
        family(&CHANNEL_BUILDERS_ENABLED, series(|totals| totals.enabled)),
        family(&CHANNEL_BUILDERS_READY, series(|totals| totals.ready)),
        family(&CHANNEL_CAPACITY, series(|totals| totals.capacity)),
        family(&CHANNEL_TASK_LOAD, series(|totals| totals.task_load)),
        family(
            &CHANNEL_ENABLED,
            totals
                .iter()
                .map(|(name, enabled, _)| (vec![name.clone()], flag(*enabled))),
        ),
    ]
}

fn active_task_families(snapshot: &Snapshot) -> Vec<MetricFamily> {
    vec![
        family(
            &TASKS,
            snapshot.tasks.iter().map(|count| {
                let labels = vec![
                    count.state.clone(),
                    count.channel.clone(),
                    count.method.clone(),
                    count.tag.clone(),
                ];
                (labels, count.count as f64)
            }),
        ),
        family(
            &TASKS_OLDEST_CREATE_TIMESTAMP_SECONDS,
            snapshot.oldest.iter().map(|oldest| {
                let labels = vec![oldest.state.clone(), oldest.channel.clone()];
                (labels, oldest.create_ts)
            }),
        ),
    ]
}

fn counter_families(state: &PollerState) -> Vec<MetricFamily> {
    let counters = &state.counters;
    let mut families = vec![
        family(
            &TASKS_CREATED_TOTAL,
            counters.created.iter().map(|(labels, count)| {
                let labels = vec![
                    labels.channel.clone(),
                    labels.method.clone(),
                    labels.tag.clone(),
                ];
                (labels, *count as f64)
            }),
        ),
        family(
            &TASKS_COMPLETED_TOTAL,
            counters.completed.iter().map(|((state, labels), count)| {
                let labels = vec![
                    state.label().to_string(),
                    labels.channel.clone(),
                    labels.method.clone(),
                    labels.tag.clone(),
                ];
                (labels, *count as f64)
            }),
        ),
    ];

    for (def, histograms) in [
        (&TASK_WAIT_SECONDS, &counters.wait),
        (&TASK_RUN_SECONDS, &counters.run),
    ] {
        let mut builder = FamilyBuilder::new(def);
        for ((channel, method), histogram) in histograms {
            builder
                .observations(&[channel, method], histogram)
                .expect("histograms use the contract's buckets");
        }
        families.push(builder.build());
    }

    families.push(family(
        &TASKS_TAG_FOLDED_TOTAL,
        [(Vec::new(), counters.tag_folded as f64)],
    ));
    families.push(family(
        &AGGREGATOR_TASK_IDS_SKIPPED_TOTAL,
        [(Vec::new(), counters.ids_skipped as f64)],
    ));
    families
}

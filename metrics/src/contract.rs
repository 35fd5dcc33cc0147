//! The metric contract: one [`MetricDef`] per metric that the agent or the aggregator exports.
//!
//! Both binaries build their families from these definitions, so names, types, label names
//! and HELP texts cannot drift between them. [`ALL`] lists every definition. Each definition
//! also names the binaries that may write the metric ([`Writers`]), and the aggregator's push
//! receiver rejects pushes of the metrics that only the aggregator writes.

use std::fmt;

/// The type of a metric, as written on its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A value that can go up and down.
    Gauge,
    /// A monotonic count; the name ends in `_total`.
    Counter,
    /// A histogram with the buckets of [`MetricDef::buckets`].
    Histogram,
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricKind::Gauge => "gauge",
            MetricKind::Counter => "counter",
            MetricKind::Histogram => "histogram",
        })
    }
}

/// The binaries that may write the series of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Writers {
    /// Only the aggregator, from the hub's data or about itself. The push receiver rejects
    /// every push that contains the metric.
    Aggregator,
    /// Only the agent, about its own host. The aggregator serves what agents push.
    Agent,
    /// Both: the aggregator writes the row of every builder that the hub lists, and an agent
    /// may push the row of its own host, which `/metrics` serves while the hub has no row for
    /// that host.
    AgentAndAggregator,
}

/// The definition of one metric: who writes it, name, HELP text, type, label names and
/// histogram buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricDef {
    /// The binaries that may write the metric.
    pub writers: Writers,
    /// Metric name, such as `koji_builder_enabled`.
    pub name: &'static str,
    /// HELP text: one sentence that names the unit.
    pub help: &'static str,
    /// Metric type.
    pub kind: MetricKind,
    /// Label names in the order in which builders take their values.
    pub labels: &'static [&'static str],
    /// Upper bounds of the histogram buckets in ascending order, without `+Inf`; empty for
    /// gauges and counters.
    pub buckets: &'static [f64],
}

impl MetricDef {
    /// Returns true when an agent may push the metric, false when only the aggregator writes
    /// it.
    pub fn agent_may_push(&self) -> bool {
        self.writers != Writers::Aggregator
    }
}

/// Label names used by the contract.
pub mod label {
    /// The Koji host name of a builder.
    pub const HOST: &str = "host";
    /// The architectures of a builder, space-separated as the hub lists them.
    pub const ARCHES: &str = "arches";
    /// A Koji channel name.
    pub const CHANNEL: &str = "channel";
    /// A Koji task method, such as `build` or `buildArch`.
    pub const METHOD: &str = "method";
    /// A task state name in lower case, such as `free` or `closed`.
    pub const STATE: &str = "state";
    /// The tag of a task tree, after rewrites and the cap on distinct values.
    pub const TAG: &str = "tag";
    /// The outcome of a hub poll or of a push.
    pub const RESULT: &str = "result";
    /// The reason of a failure or a rejection, from a fixed set.
    pub const REASON: &str = "reason";
    /// The version of the agent.
    pub const VERSION: &str = "version";
    /// The name of a readiness check of kojid.
    pub const CHECK: &str = "check";
    /// The name of an agent collector.
    pub const COLLECTOR: &str = "collector";
    /// The push URL that the agent is configured with.
    pub const TARGET: &str = "target";
}

use label::{
    ARCHES, CHANNEL, CHECK, COLLECTOR, HOST, METHOD, REASON, RESULT, STATE, TAG, TARGET, VERSION,
};

/// Bucket upper bounds in seconds of the task wait and run time histograms.
pub const TASK_DURATION_BUCKETS: &[f64] = &[
    10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];

const fn gauge(
    writers: Writers,
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> MetricDef {
    MetricDef {
        writers,
        name,
        help,
        kind: MetricKind::Gauge,
        labels,
        buckets: &[],
    }
}

const fn counter(
    writers: Writers,
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> MetricDef {
    MetricDef {
        writers,
        name,
        help,
        kind: MetricKind::Counter,
        labels,
        buckets: &[],
    }
}

const fn histogram(
    writers: Writers,
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> MetricDef {
    MetricDef {
        writers,
        name,
        help,
        kind: MetricKind::Histogram,
        labels,
        buckets: TASK_DURATION_BUCKETS,
    }
}

// Hub poll health (aggregator).

/// Whether the last poll of the hub succeeded.
pub const HUB_UP: MetricDef = gauge(
    Writers::Aggregator,
    "koji_hub_up",
    "Whether the last poll of the Koji hub succeeded (1) or failed (0).",
    &[],
);

/// Unix time of the last successful hub poll.
pub const HUB_LAST_SUCCESS_TIMESTAMP_SECONDS: MetricDef = gauge(
    Writers::Aggregator,
    "koji_hub_last_success_timestamp_seconds",
    "Unix time in seconds of the last successful poll of the Koji hub.",
    &[],
);

/// Duration of the last hub poll.
pub const HUB_POLL_DURATION_SECONDS: MetricDef = gauge(
    Writers::Aggregator,
    "koji_hub_poll_duration_seconds",
    "Duration in seconds of the last poll of the Koji hub.",
    &[],
);

/// Hub polls by result.
pub const HUB_POLLS_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_hub_polls_total",
    "Polls of the Koji hub, by result.",
    &[RESULT],
);

// Builders as the hub lists them (aggregator; the agent exports its own host's rows).

/// A builder and its architectures, always 1.
pub const BUILDER_INFO: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_info",
    "Build host listed by the Koji hub with its architectures as a label, always 1.",
    &[HOST, ARCHES],
);

/// The hub's enabled flag of a builder.
pub const BUILDER_ENABLED: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_enabled",
    "Whether the Koji hub has the build host enabled (1) or disabled (0).",
    &[HOST],
);

/// The hub's raw ready flag of a builder.
pub const BUILDER_READY: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_ready",
    "Whether the Koji hub reports the build host ready to take tasks (1) or not (0).",
    &[HOST],
);

/// The capacity of a builder.
pub const BUILDER_CAPACITY: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_capacity",
    "Task load capacity of the build host as configured on the Koji hub.",
    &[HOST],
);

/// The task load of a builder.
pub const BUILDER_TASK_LOAD: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_task_load",
    "Sum of the weights of the tasks on the build host as reported by the Koji hub.",
    &[HOST],
);

/// The last check-in of a builder (`update_ts`).
pub const BUILDER_LAST_UPDATE_TIMESTAMP_SECONDS: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_last_update_timestamp_seconds",
    "Unix time in seconds of the last check-in of the build host with the Koji hub.",
    &[HOST],
);

/// A builder's membership in a channel, always 1.
pub const BUILDER_CHANNEL_INFO: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_channel_info",
    "Membership of the build host in a Koji channel, always 1.",
    &[HOST, CHANNEL],
);

/// OPEN tasks of a builder by method.
pub const BUILDER_RUNNING_TASKS: MetricDef = gauge(
    Writers::AgentAndAggregator,
    "koji_builder_running_tasks",
    "Open tasks on the build host by method, waiting parent tasks included.",
    &[HOST, METHOD],
);

// Channels (aggregator).

/// Hosts in a channel.
pub const CHANNEL_BUILDERS: MetricDef = gauge(
    Writers::Aggregator,
    "koji_channel_builders",
    "Build hosts in the Koji channel.",
    &[CHANNEL],
);

/// Enabled hosts in a channel.
pub const CHANNEL_BUILDERS_ENABLED: MetricDef = gauge(
    Writers::Aggregator,
    "koji_channel_builders_enabled",
    "Enabled build hosts in the Koji channel.",
    &[CHANNEL],
);

/// Ready hosts in a channel.
pub const CHANNEL_BUILDERS_READY: MetricDef = gauge(
    Writers::Aggregator,
    "koji_channel_builders_ready",
    "Build hosts in the Koji channel that the hub reports ready.",
    &[CHANNEL],
);

/// Capacity summed over the enabled hosts of a channel.
pub const CHANNEL_CAPACITY: MetricDef = gauge(
    Writers::Aggregator,
    "koji_channel_capacity",
    "Sum of the capacity of the enabled build hosts in the Koji channel.",
    &[CHANNEL],
);

/// Task load summed over the enabled hosts of a channel.
pub const CHANNEL_TASK_LOAD: MetricDef = gauge(
    Writers::Aggregator,
    "koji_channel_task_load",
    "Sum of the task load of the enabled build hosts in the Koji channel.",
    &[CHANNEL],
);

/// The channel's own enabled flag.
pub const CHANNEL_ENABLED: MetricDef = gauge(
    Writers::Aggregator,
    "koji_channel_enabled",
    "Whether the Koji channel itself is enabled (1) or disabled (0).",
    &[CHANNEL],
);

// Tasks (aggregator).

/// Tasks in the free, assigned and open states right now.
pub const TASKS: MetricDef = gauge(
    Writers::Aggregator,
    "koji_tasks",
    "Koji tasks currently in the state, by channel, method and tag.",
    &[STATE, CHANNEL, METHOD, TAG],
);

/// Creation time of the oldest task in a state.
pub const TASKS_OLDEST_CREATE_TIMESTAMP_SECONDS: MetricDef = gauge(
    Writers::Aggregator,
    "koji_tasks_oldest_create_timestamp_seconds",
    "Unix time in seconds at which the oldest Koji task in the state was created.",
    &[STATE, CHANNEL],
);

/// Tasks created.
pub const TASKS_CREATED_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_tasks_created_total",
    "Koji tasks created, by channel, method and tag.",
    &[CHANNEL, METHOD, TAG],
);

/// Tasks that reached a final state.
pub const TASKS_COMPLETED_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_tasks_completed_total",
    "Koji tasks that ended closed, failed or canceled, by channel, method and tag.",
    &[STATE, CHANNEL, METHOD, TAG],
);

/// Time from creation to start of completed tasks.
pub const TASK_WAIT_SECONDS: MetricDef = histogram(
    Writers::Aggregator,
    "koji_task_wait_seconds",
    "Time in seconds from creation to start of completed Koji tasks.",
    &[CHANNEL, METHOD],
);

/// Time from start to completion of completed tasks.
pub const TASK_RUN_SECONDS: MetricDef = histogram(
    Writers::Aggregator,
    "koji_task_run_seconds",
    "Time in seconds from start to completion of completed Koji tasks.",
    &[CHANNEL, METHOD],
);

/// Tasks whose tag was folded into `other` by the cap on distinct tags.
pub const TASKS_TAG_FOLDED_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_tasks_tag_folded_total",
    "Koji tasks whose tag label was replaced by other because of the cap on distinct tags.",
    &[],
);

// Aggregator health.

/// Task ids given up on after the hub returned nil for them during the retry window.
pub const AGGREGATOR_TASK_IDS_SKIPPED_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_aggregator_task_ids_skipped_total",
    "Task ids skipped because the Koji hub returned no task for them within the retry window.",
    &[],
);

/// Duplicate series dropped while rendering `/metrics`.
pub const AGGREGATOR_DUPLICATE_SERIES_DROPPED_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_aggregator_duplicate_series_dropped_total",
    "Duplicate series dropped from the exposition, of which the first occurrence was kept.",
    &[],
);

// Builder-local state (agent).

/// The agent's version, always 1.
pub const AGENT_BUILD_INFO: MetricDef = gauge(
    Writers::Agent,
    "koji_agent_build_info",
    "Version of the koji-agent running on the build host, always 1.",
    &[HOST, VERSION],
);

/// Whether the agent reached the hub.
pub const AGENT_HUB_UP: MetricDef = gauge(
    Writers::Agent,
    "koji_agent_hub_up",
    "Whether the last call of the agent to the Koji hub succeeded (1) or failed (0).",
    &[HOST],
);

/// Whether kojid runs.
pub const BUILDER_KOJID_UP: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_kojid_up",
    "Whether a kojid process runs on the build host (1) or not (0).",
    &[HOST],
);

/// Start time of the running kojid.
pub const BUILDER_KOJID_START_TIME_SECONDS: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_kojid_start_time_seconds",
    "Unix time in seconds at which the running kojid process started.",
    &[HOST],
);

/// Task child processes of kojid.
pub const BUILDER_KOJID_TASK_PROCESSES: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_kojid_task_processes",
    "Task child processes of kojid found on the build host.",
    &[HOST],
);

/// Result of one readiness check of kojid.
pub const BUILDER_READY_CHECK: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_ready_check",
    "Whether the readiness check of kojid named by the check label passes (1) or fails (0).",
    &[HOST, CHECK],
);

/// Free space on the mockdir file system.
pub const BUILDER_MOCKDIR_FREE_BYTES: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_mockdir_free_bytes",
    "Free space in bytes on the file system of the mockdir of kojid.",
    &[HOST],
);

/// kojid's `minspace` setting.
pub const BUILDER_MINSPACE_BYTES: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_minspace_bytes",
    "Free space in bytes that kojid needs in its mockdir to take tasks (minspace).",
    &[HOST],
);

/// One-minute load average.
pub const BUILDER_LOAD1: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_load1",
    "One-minute load average of the build host.",
    &[HOST],
);

/// Logical CPUs.
pub const BUILDER_CPUS: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_cpus",
    "Logical CPUs of the build host.",
    &[HOST],
);

/// kojid's `maxjobs` setting.
pub const BUILDER_MAXJOBS: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_maxjobs",
    "Maximum number of tasks that kojid runs at once (maxjobs).",
    &[HOST],
);

/// Expiry of kojid's client certificate.
pub const BUILDER_CLIENT_CERT_EXPIRY_TIMESTAMP_SECONDS: MetricDef = gauge(
    Writers::Agent,
    "koji_builder_client_cert_expiry_timestamp_seconds",
    "Unix time in seconds at which the client certificate of kojid expires.",
    &[HOST],
);

/// Whether an agent collector succeeded.
pub const AGENT_COLLECTOR_SUCCESS: MetricDef = gauge(
    Writers::Agent,
    "koji_agent_collector_success",
    "Whether the last run of the agent collector succeeded (1) or failed (0).",
    &[HOST, COLLECTOR],
);

/// Duration of an agent collector's last run.
pub const AGENT_COLLECTOR_DURATION_SECONDS: MetricDef = gauge(
    Writers::Agent,
    "koji_agent_collector_duration_seconds",
    "Duration in seconds of the last run of the agent collector.",
    &[HOST, COLLECTOR],
);

/// Failed pushes of the agent by target and reason.
pub const AGENT_PUSH_FAILURES_TOTAL: MetricDef = counter(
    Writers::Agent,
    "koji_agent_push_failures_total",
    "Failed pushes of the agent, by target URL and reason.",
    &[HOST, TARGET, REASON],
);

// Pushes received by the aggregator.

/// Last accepted push per builder.
pub const AGENT_LAST_PUSH_TIMESTAMP_SECONDS: MetricDef = gauge(
    Writers::Aggregator,
    "koji_agent_last_push_timestamp_seconds",
    "Unix time in seconds of the last accepted push from the agent of the build host.",
    &[HOST],
);

/// Pushes received by result.
pub const AGENT_PUSHES_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_agent_pushes_total",
    "Pushes received from agents, by result.",
    &[RESULT],
);

/// Pushes rejected by reason.
pub const AGENT_PUSH_REJECTIONS_TOTAL: MetricDef = counter(
    Writers::Aggregator,
    "koji_agent_push_rejections_total",
    "Pushes from agents that were rejected, by reason.",
    &[REASON],
);

/// Last successful push per group, as the Pushgateway names it. Its labels are the grouping
/// labels of the group, so the definition fixes none.
pub const PUSH_TIME_SECONDS: MetricDef = gauge(
    Writers::Aggregator,
    "push_time_seconds",
    "Unix time in seconds of the last successful push to the group, 0 if there was none.",
    &[],
);

/// Last failed push per group, as the Pushgateway names it. Its labels are the grouping
/// labels of the group, so the definition fixes none.
pub const PUSH_FAILURE_TIME_SECONDS: MetricDef = gauge(
    Writers::Aggregator,
    "push_failure_time_seconds",
    "Unix time in seconds of the last failed push to the group, 0 if there was none.",
    &[],
);

/// Every metric of the contract.
pub const ALL: &[&MetricDef] = &[
    &HUB_UP,
    &HUB_LAST_SUCCESS_TIMESTAMP_SECONDS,
    &HUB_POLL_DURATION_SECONDS,
    &HUB_POLLS_TOTAL,
    &BUILDER_INFO,
    &BUILDER_ENABLED,
    &BUILDER_READY,
    &BUILDER_CAPACITY,
    &BUILDER_TASK_LOAD,
    &BUILDER_LAST_UPDATE_TIMESTAMP_SECONDS,
    &BUILDER_CHANNEL_INFO,
    &BUILDER_RUNNING_TASKS,
    &CHANNEL_BUILDERS,
    &CHANNEL_BUILDERS_ENABLED,
    &CHANNEL_BUILDERS_READY,
    &CHANNEL_CAPACITY,
    &CHANNEL_TASK_LOAD,
    &CHANNEL_ENABLED,
    &TASKS,
    &TASKS_OLDEST_CREATE_TIMESTAMP_SECONDS,
    &TASKS_CREATED_TOTAL,
    &TASKS_COMPLETED_TOTAL,
    &TASK_WAIT_SECONDS,
    &TASK_RUN_SECONDS,
    &TASKS_TAG_FOLDED_TOTAL,
    &AGGREGATOR_TASK_IDS_SKIPPED_TOTAL,
    &AGGREGATOR_DUPLICATE_SERIES_DROPPED_TOTAL,
    &AGENT_BUILD_INFO,
    &AGENT_HUB_UP,
    &BUILDER_KOJID_UP,
    &BUILDER_KOJID_START_TIME_SECONDS,
    &BUILDER_KOJID_TASK_PROCESSES,
    &BUILDER_READY_CHECK,
    &BUILDER_MOCKDIR_FREE_BYTES,
    &BUILDER_MINSPACE_BYTES,
    &BUILDER_LOAD1,
    &BUILDER_CPUS,
    &BUILDER_MAXJOBS,
    &BUILDER_CLIENT_CERT_EXPIRY_TIMESTAMP_SECONDS,
    &AGENT_COLLECTOR_SUCCESS,
    &AGENT_COLLECTOR_DURATION_SECONDS,
    &AGENT_PUSH_FAILURES_TOTAL,
    &AGENT_LAST_PUSH_TIMESTAMP_SECONDS,
    &AGENT_PUSHES_TOTAL,
    &AGENT_PUSH_REJECTIONS_TOTAL,
    &PUSH_TIME_SECONDS,
    &PUSH_FAILURE_TIME_SECONDS,
];

/// Finds the definition of the metric called `name`.
pub fn find(name: &str) -> Option<&'static MetricDef> {
    ALL.iter().copied().find(|def| def.name == name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::names::{is_valid_label_name, is_valid_metric_name};

    /// Unit words that promtool rejects in favour of base units, and abbreviations.
    const NON_BASE_UNITS: &[&str] = &[
        "milliseconds",
        "microseconds",
        "nanoseconds",
        "minutes",
        "hours",
        "days",
        "kilobytes",
        "megabytes",
        "gigabytes",
        "ms",
        "sec",
        "secs",
        "min",
        "mins",
        "kb",
        "mb",
        "gb",
    ];

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for def in ALL {
            assert!(
                seen.insert(def.name),
                "{} is defined twice in ALL",
                def.name
            );
        }
    }

    #[test]
    fn names_follow_conventions() {
        for def in ALL {
            let name = def.name;
            assert!(
                is_valid_metric_name(name),
                "{name} is not a valid metric name"
            );
            assert!(
                !name.contains(':'),
                "{name}: colons are for recording rules"
            );
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name} is not lower snake case"
            );
            assert!(
                name.starts_with("koji_") || name.starts_with("push_"),
                "{name} lacks the koji_ prefix"
            );
            for word in name.split('_') {
                assert!(
                    !NON_BASE_UNITS.contains(&word),
                    "{name} uses the non-base unit {word}"
                );
            }
        }
    }

    #[test]
    fn counters_end_in_total() {
        for def in ALL {
            let ends_in_total = def.name.ends_with("_total");
            match def.kind {
                MetricKind::Counter => assert!(ends_in_total, "counter {} lacks _total", def.name),
                _ => assert!(!ends_in_total, "{} {} ends in _total", def.kind, def.name),
            }
        }
    }

    #[test]
    fn units_are_named_in_help() {
        for def in ALL {
            if def.name.ends_with("_timestamp_seconds") || def.name.ends_with("_time_seconds") {
                assert!(
                    def.help.starts_with("Unix time in seconds"),
                    "{}: {}",
                    def.name,
                    def.help
                );
            } else if def.name.ends_with("_seconds") {
                assert!(
                    def.help.contains(" in seconds "),
                    "{}: {}",
                    def.name,
                    def.help
                );
            }
            if def.name.ends_with("_bytes") {
                assert!(
                    def.help.contains(" in bytes "),
                    "{}: {}",
                    def.name,
                    def.help
                );
            }
        }
    }

    #[test]
    fn help_is_one_sentence() {
        for def in ALL {
            let help = def.help;
            assert!(
                help.ends_with('.'),
                "{}: HELP must end with a period",
                def.name
            );
            assert_eq!(
                help.matches(". ").count(),
                0,
                "{}: HELP has two sentences",
                def.name
            );
            assert!(
                !help.contains("  "),
                "{}: HELP has a double space",
                def.name
            );
            assert!(
                !help.contains(['\n', '\\', '"', '\r']),
                "{}: HELP needs escaping",
                def.name
            );
            assert!(
                help.len() < 120,
                "{}: HELP is longer than 120 bytes",
                def.name
            );
            let first = help.chars().next().expect("HELP is not empty");
            assert!(
                first.is_ascii_uppercase(),
                "{}: HELP starts in lower case",
                def.name
            );
        }
    }

    #[test]
    fn label_names_are_valid() {
        for def in ALL {
            let mut seen = HashSet::new();
            for label in def.labels {
                assert!(
                    is_valid_label_name(label),
                    "{}: invalid label {label}",
                    def.name
                );
                assert!(
                    !label.starts_with("__"),
                    "{}: label {label} is reserved",
                    def.name
                );
                assert!(
                    !["le", "quantile", "job", "instance"].contains(label),
                    "{}: label {label} is reserved for histograms or grouping",
                    def.name
                );
                assert!(
                    seen.insert(label),
                    "{}: label {label} appears twice",
                    def.name
                );
            }
        }
    }

    #[test]
    fn builder_series_carry_host() {
        for def in ALL {
            if def.name.starts_with("koji_builder_") {
                assert_eq!(
                    def.labels.first(),
                    Some(&HOST),
                    "{} lacks host first",
                    def.name
                );
            }
        }
    }

    #[test]
    fn histogram_buckets_match_contract() {
        for def in ALL {
            match def.kind {
                MetricKind::Histogram => {
                    assert_eq!(def.buckets, TASK_DURATION_BUCKETS, "{}", def.name);
                    assert!(def.name.ends_with("_seconds"), "{}", def.name);
                }
                _ => assert!(def.buckets.is_empty(), "{} has buckets", def.name),
            }
        }
        assert!(
            TASK_DURATION_BUCKETS
                .windows(2)
                .all(|pair| pair[0] < pair[1])
        );
        assert_eq!(TASK_DURATION_BUCKETS.len(), 11);
        assert_eq!(TASK_DURATION_BUCKETS.last(), Some(&86400.0));
    }

    #[test]
    fn no_name_clashes_with_histogram_suffixes() {
        let names: HashSet<&str> = ALL.iter().map(|def| def.name).collect();
        for def in ALL.iter().filter(|def| def.kind == MetricKind::Histogram) {
            for suffix in ["_bucket", "_sum", "_count"] {
                let sample_name = format!("{}{suffix}", def.name);
                assert!(
                    !names.contains(sample_name.as_str()),
                    "{sample_name} clashes"
                );
            }
        }
    }

    #[test]
    fn hub_and_aggregator_families_not_pushable() {
        let aggregator_prefixes = [
            "koji_hub_",
            "koji_channel_",
            "koji_tasks",
            "koji_task_",
            "koji_aggregator_",
            "push_",
        ];
        for def in ALL {
            if aggregator_prefixes
                .iter()
                .any(|prefix| def.name.starts_with(prefix))
            {
                assert_eq!(def.writers, Writers::Aggregator, "{}", def.name);
            }
        }
    }

    #[test]
    fn agent_families_split_by_writer() {
        let aggregator_written = [
            AGENT_LAST_PUSH_TIMESTAMP_SECONDS.name,
            AGENT_PUSHES_TOTAL.name,
            AGENT_PUSH_REJECTIONS_TOTAL.name,
        ];
        for def in ALL.iter().filter(|def| def.name.starts_with("koji_agent_")) {
            assert_eq!(
                def.agent_may_push(),
                !aggregator_written.contains(&def.name),
                "{}",
                def.name
            );
        }
    }

    #[test]
    fn builder_families_pushable() {
        for def in ALL
            .iter()
            .filter(|def| def.name.starts_with("koji_builder_"))
        {
            assert!(def.agent_may_push(), "{}", def.name);
        }
    }

    #[test]
    fn find_returns_definition() {
        assert_eq!(find("koji_builder_ready"), Some(&BUILDER_READY));
        assert_eq!(find("koji_builder_ready_total"), None);
    }
}

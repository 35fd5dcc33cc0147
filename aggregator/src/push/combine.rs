//! The combined view: the families of the sources before the push store (the hub poll and
//! the aggregator's own counters), then the pushed series, in one exposition.
//!
//! Precedence is per family and host: a pushed sample whose family the earlier sources emit
//! with a `host` label, and whose `host` has a row there, is dropped, so the hub's row wins.
//! Before the first good poll, for hosts the hub does not list, or with the poller off,
//! pushed rows pass through. Everything else pushed passes through with its `job` and
//! `instance` labels.
//!
//! Pushed series cannot repeat an earlier series: every pushed series carries `job`, a label
//! the hub and the aggregator's own families never have. Pushed families cannot conflict in
//! type with each other or with the metric contract, because the store rejects such pushes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use koji_metrics::check::dedupe_series;
use koji_metrics::contract::{
    AGENT_LAST_PUSH_TIMESTAMP_SECONDS, AGENT_PUSH_REJECTIONS_TOTAL, AGENT_PUSHES_TOTAL, MetricDef,
    MetricKind, PUSH_FAILURE_TIME_SECONDS, PUSH_TIME_SECONDS,
};
use koji_metrics::text::write_float;
use koji_metrics::{Rendered, encode_text, merge_families};
use prometheus::proto::{Counter, Gauge, Metric, MetricFamily, MetricType};

use super::compact::{HOST, SampleValue, StoredFamily, effective_labels};
use super::exposition::{write_header, write_series};
use super::grouping::GroupingKey;
use super::rejection::Reason;
use super::store::{Group, Snapshot, Store};
use crate::server::MetricsSource;

/// The push store as the last source of `/metrics`, after the hub's.
#[derive(Clone, Debug)]
pub struct PushSource {
    store: Arc<Store>,
}

impl PushSource {
    /// Serves the groups of `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

impl MetricsSource for PushSource {
    fn families(&self) -> Vec<MetricFamily> {
        combined_families(Vec::new(), &self.store.snapshot())
    }

    fn render_after(&self, earlier: Vec<MetricFamily>) -> Result<Rendered, Vec<MetricFamily>> {
        Ok(render_combined(earlier, &self.store.snapshot()))
    }
}

/// The hosts that earlier sources have a row for, per family.
#[derive(Debug, Default)]
pub struct HubRows<'a> {
    hosts: HashMap<&'a str, HashSet<&'a str>>,
}

impl<'a> HubRows<'a> {
    /// Collects the `host` label values of every sample in `families`, per family name.
    pub fn from_families(families: &'a [MetricFamily]) -> Self {
        let mut hosts: HashMap<&'a str, HashSet<&'a str>> = HashMap::new();
        for family in families {
            for metric in family.get_metric() {
                let host = metric.get_label().iter().find(|pair| pair.name() == HOST);
                if let Some(pair) = host {
                    hosts.entry(family.name()).or_default().insert(pair.value());
                }
            }
        }
        Self { hosts }
    }

    /// Returns true when an earlier source has a row of `family` for `host`.
    pub fn covers(&self, family: &str, host: &str) -> bool {
        self.hosts
            .get(family)
            .is_some_and(|hosts| hosts.contains(host))
    }
}

/// Builds the families the push store adds about itself: `push_time_seconds` and
/// `push_failure_time_seconds` per group, the last push per host, and the push counters.
pub fn own_families(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let mut push_times = Vec::with_capacity(snapshot.groups.len());
    let mut failure_times = Vec::with_capacity(snapshot.groups.len());
    let mut buffer = Vec::new();
    for group in &snapshot.groups {
        effective_labels(&group.key, &[], &mut buffer);
        push_times.push(metric(&PUSH_TIME_SECONDS, &buffer, group.push_time));
        failure_times.push(metric(
            &PUSH_FAILURE_TIME_SECONDS,
            &buffer,
            group.failure_time,
        ));
    }

    let last_push = snapshot
        .last_push
        .iter()
        .map(|(host, time)| metric(&AGENT_LAST_PUSH_TIMESTAMP_SECONDS, &[(HOST, host)], *time))
        .collect();
    let pushes = vec![
        metric(
            &AGENT_PUSHES_TOTAL,
            &[("result", "success")],
            snapshot.pushes.success as f64,
        ),
        metric(
            &AGENT_PUSHES_TOTAL,
            &[("result", "failure")],
            snapshot.pushes.failure as f64,
        ),
    ];
    let rejections = Reason::ALL
        .iter()
        .zip(snapshot.rejections)
        .map(|(reason, count)| {
            metric(
                &AGENT_PUSH_REJECTIONS_TOTAL,
                &[("reason", reason.as_str())],
                count as f64,
            )
        })
        .collect();

    [
        family(&PUSH_TIME_SECONDS, push_times),
        family(&PUSH_FAILURE_TIME_SECONDS, failure_times),
        family(&AGENT_LAST_PUSH_TIMESTAMP_SECONDS, last_push),
        family(&AGENT_PUSHES_TOTAL, pushes),
        family(&AGENT_PUSH_REJECTIONS_TOTAL, rejections),
    ]
    .into_iter()
    .filter(|family| !family.get_metric().is_empty())
    .collect()
}

/// Indexes the pushed families by name, each with the groups that have it, in key order.
fn pushed_by_name(snapshot: &Snapshot) -> PushedByName<'_> {
    let mut by_name = PushedByName::new();
    for (index, group) in snapshot.groups.iter().enumerate() {
        for family in &group.families {
            by_name
                .entry(&family.name)
                .or_default()
                .push((index, family));
        }
    }
    by_name
}

/// Returns the host of a pushed series, if it has a `host` label.
fn series_host<'a>(labels: &'a [(&'a str, &'a str)]) -> Option<&'a str> {
    labels
        .iter()
        .find(|(name, _)| *name == HOST)
        .map(|(_, value)| *value)
}

/// Renders `earlier` (merged, deduplicated, earlier families first), then the push store's
/// own families and the pushed series of `snapshot`, without building protobuf objects for
/// the pushed series. The text equals `encode_text` of [`combined_families`].
pub fn render_combined(earlier: Vec<MetricFamily>, snapshot: &Snapshot) -> Rendered {
    let (merged, mut type_conflicts) = merge_families(earlier);
    let (earlier, duplicate_series) = dedupe_series(merged);
    let hub_rows = HubRows::from_families(&earlier);
    let mut pushed = pushed_by_name(snapshot);
    let mut out = String::with_capacity(estimate_len(snapshot));
    let blocks = key_blocks(&snapshot.groups);
    let mut writer = PushedWriter::new(&hub_rows, &snapshot.groups, &blocks);

    for family in &earlier {
        out.push_str(&encode_text(std::slice::from_ref(family)));
        writer.append(
            &mut out,
            family.name(),
            family.get_field_type(),
            &mut pushed,
            &mut type_conflicts,
        );
    }

    let mut labels = Vec::new();
    let push_times = [
        (&PUSH_TIME_SECONDS, false),
        (&PUSH_FAILURE_TIME_SECONDS, true),
    ];
    for (def, failure) in push_times {
        if snapshot.groups.is_empty() {
            continue;
        }
        write_header(&mut out, def.name, def.help, MetricType::GAUGE);
        for group in &snapshot.groups {
            effective_labels(&group.key, &[], &mut labels);
            let time = if failure {
                group.failure_time
            } else {
                group.push_time
            };
            let escape = !group.key.has_plain_values();
            write_series(
                &mut out,
                def.name,
                &labels,
                &SampleValue::Simple(time),
                escape,
            );
        }
        writer.append(
            &mut out,
            def.name,
            MetricType::GAUGE,
            &mut pushed,
            &mut type_conflicts,
        );
    }
    if !snapshot.last_push.is_empty() {
        let def = &AGENT_LAST_PUSH_TIMESTAMP_SECONDS;
        write_header(&mut out, def.name, def.help, MetricType::GAUGE);
        for (host, time) in &snapshot.last_push {
            let value = SampleValue::Simple(*time);
            write_series(&mut out, def.name, &[(HOST, host)], &value, true);
        }
        writer.append(
            &mut out,
            def.name,
            MetricType::GAUGE,
            &mut pushed,
            &mut type_conflicts,
        );
    }
    let counters = [
        (&AGENT_PUSHES_TOTAL, pushes_samples(snapshot)),
        (&AGENT_PUSH_REJECTIONS_TOTAL, rejection_samples(snapshot)),
    ];
    for (def, samples) in counters {
        write_header(&mut out, def.name, def.help, MetricType::COUNTER);
        for (label, value, count) in samples {
            let value_sample = SampleValue::Simple(count);
            write_series(&mut out, def.name, &[(label, value)], &value_sample, false);
        }
        writer.append(
            &mut out,
            def.name,
            MetricType::COUNTER,
            &mut pushed,
            &mut type_conflicts,
        );
    }

    let remaining: Vec<_> = pushed.into_iter().collect();
    for part in render_parallel(&remaining, &writer) {
        out.push_str(&part);
    }

    Rendered {
        text: out,
        duplicate_series,
        type_conflicts,
    }
}

/// Writes pushed series, leaving out the rows that earlier sources have for the same host.
#[derive(Clone)]
struct PushedWriter<'a> {
    hub_rows: &'a HubRows<'a>,
    groups: &'a [Arc<Group>],
    /// Per group, its grouping labels written as `name="value"` pairs, when the fast path
    /// applies to the group: the key has an instance and no value needs escaping.
    key_blocks: &'a [Option<String>],
    labels: Vec<(&'a str, &'a str)>,
}

/// Writes the grouping labels of each group as one piece for [`PushedWriter`].
fn key_blocks(groups: &[Arc<Group>]) -> Vec<Option<String>> {
    groups
        .iter()
        .map(|group| {
            let key = &group.key;
            if key.instance().is_none() || !key.has_plain_values() {
                return None;
            }
            let pairs: Vec<String> = key
                .labels()
                .iter()
                .map(|(name, value)| format!("{name}=\"{value}\""))
                .collect();
            Some(pairs.join(","))
        })
        .collect()
}

impl<'a> PushedWriter<'a> {
    fn new(
        hub_rows: &'a HubRows<'a>,
        groups: &'a [Arc<Group>],
        key_blocks: &'a [Option<String>],
    ) -> Self {
        Self {
            hub_rows,
            groups,
            key_blocks,
            labels: Vec::new(),
        }
    }

    /// Appends the pushed samples of the family `name`, written just before as a `kind`, and
    /// removes them from `pushed`. Pushed samples of another type are dropped and reported.
    fn append(
        &mut self,
        out: &mut String,
        name: &str,
        kind: MetricType,
        pushed: &mut PushedByName<'a>,
        type_conflicts: &mut Vec<String>,
    ) {
        let Some(families) = pushed.remove(name) else {
            return;
        };
        if families[0].1.kind != kind {
            type_conflicts.push(name.to_string());
            return;
        }
        let filter = self.hub_rows.hosts.contains_key(name);
        for (group, stored) in families {
            self.write_family(out, group, stored, filter);
        }
    }

    /// Writes the series of `stored` in the group at `group`. With `filter`, series whose
    /// host has a row in an earlier source are left out.
    fn write_family(
        &mut self,
        out: &mut String,
        group: usize,
        stored: &'a StoredFamily,
        filter: bool,
    ) {
        let key = &self.groups[group].key;
        let escape = !(stored.plain_labels && key.has_plain_values());
        // The grouping labels of the group as one piece, unless some label needs escaping.
        let block = self.key_blocks[group].as_deref().filter(|_| !escape);
        for series in &stored.series {
            if let (Some(block), SampleValue::Simple(value)) = (block, &series.value) {
                let host = series
                    .labels
                    .iter()
                    .find(|(name, _)| &**name == HOST)
                    .map(|(_, host)| &**host);
                let covered =
                    filter && host.is_some_and(|host| self.hub_rows.covers(&stored.name, host));
                if covered || write_simple(out, &stored.name, key, block, &series.labels, *value) {
                    continue;
                }
            }
            effective_labels(key, &series.labels, &mut self.labels);
            let covered = filter
                && series_host(&self.labels)
                    .is_some_and(|host| self.hub_rows.covers(&stored.name, host));
            if !covered {
                write_series(out, &stored.name, &self.labels, &series.value, escape);
            }
        }
    }
}

/// Writes one gauge, counter or untyped sample whose labels need no escaping, with the
/// grouping labels copied from `key_block`. Returns false, writing nothing, when a label of
/// the series sorts between the grouping labels, so the block cannot be copied as one piece.
fn write_simple(
    out: &mut String,
    name: &str,
    key: &GroupingKey,
    key_block: &str,
    labels: &[(Arc<str>, Arc<str>)],
    value: f64,
) -> bool {
    let key_labels = key.labels();
    let first = key_labels[0].0.as_str();
    let last = key_labels[key_labels.len() - 1].0.as_str();
    let split = labels.partition_point(|(label, _)| &**label < first);
    if labels.get(split).is_some_and(|(label, _)| &**label < last) {
        return false;
    }

    out.push_str(name);
    out.push('{');
    for (label, label_value) in &labels[..split] {
        push_pair(out, label, label_value);
        out.push(',');
    }
    out.push_str(key_block);
    for (label, label_value) in &labels[split..] {
        out.push(',');
        push_pair(out, label, label_value);
    }
    out.push_str("} ");
    push_value(out, value);
    out.push('\n');
    true
}

fn push_pair(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(value);
    out.push('"');
}

/// Writes `value` as `koji_metrics::text::write_float` does (which `encode_text` uses), with a
/// shortcut for whole numbers, the common case of gauges and counters.
fn push_value(out: &mut String, value: f64) {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() < EXACT && !(value == 0.0 && value.is_sign_negative()) {
        let mut digits = [0u8; 20];
        let mut position = digits.len();
        let mut rest = value.abs() as u64;
        loop {
            position -= 1;
            digits[position] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0.0 {
            out.push('-');
        }
        out.push_str(std::str::from_utf8(&digits[position..]).expect("ASCII digits"));
        return;
    }
    write_float(out, value);
}

/// Renders the families that only pushes have, split by series count over up to
/// [`RENDER_THREADS`] threads, and returns the parts in order.
fn render_parallel<'a>(families: &[FamilyGroups<'a>], writer: &PushedWriter<'a>) -> Vec<String> {
    let series = |groups: &[(usize, &StoredFamily)]| -> usize {
        groups.iter().map(|(_, family)| family.series.len()).sum()
    };
    let total: usize = families.iter().map(|(_, groups)| series(groups)).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(RENDER_THREADS)
        .min(total / MIN_SERIES_PER_THREAD + 1);

    let mut chunks: Vec<&[FamilyGroups<'a>]> = Vec::with_capacity(threads);
    let mut start = 0;
    let mut counted = 0;
    for (index, (_, groups)) in families.iter().enumerate() {
        counted += series(groups);
        if counted * threads >= total * (chunks.len() + 1) && chunks.len() + 1 < threads {
            chunks.push(&families[start..=index]);
            start = index + 1;
        }
    }
    chunks.push(&families[start..]);

    let render = |chunk: &[FamilyGroups<'a>]| -> String {
        let mut writer = writer.clone();
        let mut out =
            String::with_capacity(chunk.iter().map(|(_, g)| series(g)).sum::<usize>() * 160);
        for (name, groups) in chunk {
            let first = groups[0].1;
            write_header(&mut out, name, &first.help, first.kind);
            for (group, stored) in groups {
                writer.write_family(&mut out, *group, stored, false);
            }
        }
        out
    };
    if chunks.len() == 1 {
        return vec![render(chunks[0])];
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks[1..]
            .iter()
            .map(|chunk| scope.spawn(|| render(chunk)))
            .collect();
        let mut parts = vec![render(chunks[0])];
        for handle in handles {
            parts.push(handle.join().expect("a render thread panicked"));
        }
        parts
    })
}

/// Maximum number of threads that render pushed families for one scrape.
const RENDER_THREADS: usize = 4;

/// Fewer series than this per thread are rendered on fewer threads.
const MIN_SERIES_PER_THREAD: usize = 20_000;

/// A family name and the groups that have it, as indexes into the snapshot's groups.
type FamilyGroups<'a> = (&'a str, Vec<(usize, &'a StoredFamily)>);

type PushedByName<'a> = BTreeMap<&'a str, Vec<(usize, &'a StoredFamily)>>;

fn pushes_samples(snapshot: &Snapshot) -> Vec<(&'static str, &'static str, f64)> {
    vec![
        ("result", "success", snapshot.pushes.success as f64),
        ("result", "failure", snapshot.pushes.failure as f64),
    ]
}

fn rejection_samples(snapshot: &Snapshot) -> Vec<(&'static str, &'static str, f64)> {
    Reason::ALL
        .iter()
        .zip(snapshot.rejections)
        .map(|(reason, count)| ("reason", reason.as_str(), count as f64))
        .collect()
}

/// Builds the same view as [`render_combined`] as protobuf families: `earlier` and the
/// store's own families merged, then the pushed families in name order. This is the
/// reference that tests compare [`render_combined`] with; it is much slower for large stores.
pub fn combined_families(earlier: Vec<MetricFamily>, snapshot: &Snapshot) -> Vec<MetricFamily> {
    let mut earlier = earlier;
    earlier.extend(own_families(snapshot));
    let (merged, _) = merge_families(earlier);
    let (mut earlier, _) = dedupe_series(merged);
    let covered: HashMap<String, HashSet<String>> = {
        let rows = HubRows::from_families(&earlier);
        rows.hosts
            .iter()
            .map(|(name, hosts)| {
                let hosts = hosts.iter().map(|host| host.to_string()).collect();
                (name.to_string(), hosts)
            })
            .collect()
    };

    let mut positions: HashMap<String, usize> = earlier
        .iter()
        .enumerate()
        .map(|(index, family)| (family.name().to_string(), index))
        .collect();
    for (name, groups) in pushed_by_name(snapshot) {
        let first = groups[0].1;
        let index = match positions.get(name) {
            Some(index) => {
                if earlier[*index].get_field_type() != first.kind {
                    continue;
                }
                *index
            }
            None => {
                let mut family = MetricFamily::new();
                family.set_name(name.to_string());
                if !first.help.is_empty() {
                    family.set_help(first.help.to_string());
                }
                family.set_field_type(first.kind);
                earlier.push(family);
                positions.insert(name.to_string(), earlier.len() - 1);
                earlier.len() - 1
            }
        };
        for (group, stored) in groups {
            let pushed = stored.to_metric_family(&snapshot.groups[group].key);
            let hosts = covered.get(name);
            let metrics = pushed.get_metric().iter().filter(|metric| {
                let host = metric.get_label().iter().find(|pair| pair.name() == HOST);
                !host.is_some_and(|pair| hosts.is_some_and(|hosts| hosts.contains(pair.value())))
            });
            earlier[index].mut_metric().extend(metrics.cloned());
        }
    }
    earlier.retain(|family| !family.get_metric().is_empty());
    earlier
}

/// Estimates the size of the exposition, to allocate the output once.
fn estimate_len(snapshot: &Snapshot) -> usize {
    let series: usize = snapshot
        .groups
        .iter()
        .map(|group| {
            group
                .families
                .iter()
                .map(|family| family.series.len())
                .sum::<usize>()
        })
        .sum();
    (series + 2 * snapshot.groups.len()) * 96 + 4096
}

fn family(def: &MetricDef, metrics: Vec<Metric>) -> MetricFamily {
    let mut family = MetricFamily::new();
    family.set_name(def.name.to_string());
    family.set_help(def.help.to_string());
    family.set_field_type(match def.kind {
        MetricKind::Counter => MetricType::COUNTER,
        MetricKind::Gauge => MetricType::GAUGE,
        MetricKind::Histogram => MetricType::HISTOGRAM,
    });
    family.set_metric(metrics);
    family
}

fn metric(def: &MetricDef, labels: &[(&str, &str)], value: f64) -> Metric {
    let mut metric = Metric::new();
    metric.set_label(koji_metrics::label_pairs(labels));
    match def.kind {
        MetricKind::Counter => {
            let mut counter = Counter::new();
            counter.set_value(value);
            metric.set_counter(counter);
        }
        _ => {
            let mut gauge = Gauge::new();
            gauge.set_value(value);
            metric.set_gauge(gauge);
        }
    }
    metric
}

#[cfg(test)]
mod tests {
    use koji_metrics::FamilyBuilder;
    use koji_metrics::contract::{
        BUILDER_READY, BUILDER_TASK_LOAD, HUB_POLL_DURATION_SECONDS, HUB_UP,
    };
    use koji_metrics::text::parse_text;

    use super::*;
    use crate::push::store::{Limits, Method, Store};

    fn push(store: &Store, path: &str, text: &str) {
        let families = parse_text(text.as_bytes()).unwrap();
        store
            .push(
                GroupingKey::from_path(path).unwrap(),
                Method::Put,
                families,
                50.0,
            )
            .unwrap();
    }

    fn hub_ready(hosts: &[&str]) -> Vec<MetricFamily> {
        let mut ready = FamilyBuilder::new(&BUILDER_READY);
        for host in hosts {
            ready.sample(&[host], 1.0).unwrap();
        }
        let mut up = FamilyBuilder::new(&HUB_UP);
        up.sample(&[], 1.0).unwrap();
        vec![up.build(), ready.build()]
    }

    fn agent_body(host: &str) -> String {
        format!(
            "# HELP koji_builder_ready Pushed readiness.\n# TYPE koji_builder_ready gauge\n\
             koji_builder_ready{{host=\"{host}\"}} 0\n\
             # TYPE koji_builder_load1 gauge\nkoji_builder_load1{{host=\"{host}\"}} 2.5\n"
        )
    }

    #[test]
    fn hub_rows_win_per_host() {
        let store = Store::new(Limits::default());
        push(&store, "job/agent/instance/b1", &agent_body("b1"));
        push(&store, "job/agent/instance/b2", &agent_body("b2"));

        let text = render_combined(hub_ready(&["b1"]), &store.snapshot()).text;

        assert!(
            text.contains("koji_builder_ready{host=\"b1\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("koji_builder_ready{host=\"b1\",instance"),
            "{text}"
        );
        assert!(
            text.contains("koji_builder_ready{host=\"b2\",instance=\"b2\",job=\"agent\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("koji_builder_load1{host=\"b1\",instance=\"b1\",job=\"agent\"} 2.5\n"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE koji_builder_ready gauge").count(), 1);
    }

    #[test]
    fn pushed_rows_pass_without_hub() {
        let store = Store::new(Limits::default());
        push(&store, "job/koji-agent/instance/b1", &agent_body("b1"));

        let text = render_combined(Vec::new(), &store.snapshot()).text;

        assert!(
            text.contains("koji_builder_ready{host=\"b1\",instance=\"b1\",job=\"koji-agent\"} 0\n"),
            "{text}"
        );
        let contract_help = format!("# HELP koji_builder_ready {}\n", BUILDER_READY.help);
        assert!(text.contains(&contract_help), "{text}");
        assert!(!text.contains("Pushed readiness."), "{text}");
        assert!(
            text.contains("push_time_seconds{instance=\"b1\",job=\"koji-agent\"} 50\n"),
            "{text}"
        );
        assert!(
            text.contains("koji_agent_last_push_timestamp_seconds{host=\"b1\"} 50\n"),
            "{text}"
        );
        assert!(
            text.contains("koji_agent_pushes_total{result=\"success\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("koji_agent_push_rejections_total{reason=\"timestamp\"} 0\n"),
            "{text}"
        );
        assert!(
            koji_metrics::check::find_problems(&parse_text(text.as_bytes()).unwrap()).is_empty()
        );
    }

    #[test]
    fn hub_special_values_written() {
        let mut duration = FamilyBuilder::new(&HUB_POLL_DURATION_SECONDS);
        duration.sample(&[], f64::INFINITY).unwrap();
        let mut load = FamilyBuilder::new(&BUILDER_TASK_LOAD);
        load.sample(&["b1"], f64::NEG_INFINITY).unwrap();
        load.sample(&["b2"], f64::NAN).unwrap();
        let earlier = vec![duration.build(), load.build()];

        let text = render_combined(earlier, &Store::new(Limits::default()).snapshot()).text;

        assert!(
            text.contains("\nkoji_hub_poll_duration_seconds +Inf\n"),
            "{text}"
        );
        assert!(
            text.contains("koji_builder_task_load{host=\"b1\"} -Inf\n"),
            "{text}"
        );
        assert!(
            text.contains("koji_builder_task_load{host=\"b2\"} NaN\n"),
            "{text}"
        );
    }

    #[test]
    fn parallel_render_equals_protobuf_path() {
        let store = Store::new(Limits::default());
        for group in 0..25 {
            let mut body = String::new();
            for family in ["a_first", "m_middle", "z_last"] {
                body.push_str(&format!("# TYPE {family} gauge\n"));
                for series in 0..400 {
                    body.push_str(&format!("{family}{{s=\"{series}\"}} {series}.5\n"));
                }
            }
            push(&store, &format!("job/agent/instance/b{group}"), &body);
        }

        let rendered = render_combined(Vec::new(), &store.snapshot());
        let families = combined_families(Vec::new(), &store.snapshot());

        assert_eq!(rendered.text.len(), encode_text(&families).len());
        assert!(rendered.text == encode_text(&families));
    }

    #[test]
    fn value_shortcut_matches_write_float() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            42.0,
            123_456_789.0,
            1e15,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            1e21,
            0.5,
            -2.25,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for value in values {
            let mut out = String::new();
            push_value(&mut out, value);
            assert_eq!(out, koji_metrics::text::format_float(value), "{value:?}");
        }
    }

    #[test]
    fn fast_render_equals_protobuf_path() {
        let store = Store::new(Limits::default());
        push(&store, "job/agent/instance/b1", &agent_body("b1"));
        push(&store, "job/agent/instance/b2", &agent_body("b2"));
        push(
            &store,
            "job/batch/zone@base64/=",
            "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\n\
             h_count 2\n# TYPE s summary\ns{quantile=\"0.9\"} 1\ns_sum 2\ns_count 3\n\
             u{v=\"a\\\"b\\\\c\\nd\"} NaN\n",
        );

        // A label value that needs escaping, in a group whose key needs none.
        push(&store, "job/agent/instance/b3", "e{v=\"a\\\"b\"} 1\n");
        // The value a"b in the grouping key needs escaping.
        push(&store, "job/quoted/path@base64/YSJi", "q 1\n");

        let rendered = render_combined(hub_ready(&["b1"]), &store.snapshot());
        let families = combined_families(hub_ready(&["b1"]), &store.snapshot());

        assert_eq!(rendered.text, encode_text(&families));
        assert!(
            rendered.text.contains("path=\"a\\\"b\""),
            "{}",
            rendered.text
        );
        assert!(rendered.duplicate_series.is_empty());
        assert!(rendered.type_conflicts.is_empty());
    }
}

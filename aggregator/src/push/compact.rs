//! The stored form of pushed families: names and HELP texts interned across groups, label
//! values interned too, values as plain numbers, and no protobuf object per series.
//!
//! A stored series keeps only the labels of the body that the grouping key does not
//! override, sorted by name. The key's labels, and `instance=""` when neither the key nor the
//! body sets an instance, are added when the series is written, so 10,000 groups of 40 series
//! hold each group's key once.

use std::collections::HashSet;
use std::sync::Arc;

use koji_metrics::contract;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, Metric, MetricFamily, MetricType, Quantile, Summary, Untyped,
};

use super::grouping::{GroupingKey, needs_escaping};
use super::rejection::{Reason, Rejection};

/// The label that every pushed sample carries; `""` when neither key nor body sets it.
pub const INSTANCE: &str = "instance";

/// The label whose value must equal the sample's `instance`.
pub const HOST: &str = "host";

/// The label pairs of a stored series, sorted by name.
pub type LabelSet = Box<[(Arc<str>, Arc<str>)]>;

/// Strings shared by every group: family names, HELP texts, label names and label values.
#[derive(Debug, Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
}

impl Interner {
    /// Returns the shared copy of `text`, adding it when it is new.
    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(shared.clone());
        shared
    }

    /// Forgets the strings that no group uses any more and returns how many there were.
    pub fn purge(&mut self) -> usize {
        let before = self.strings.len();
        self.strings.retain(|text| Arc::strong_count(text) > 1);
        before - self.strings.len()
    }

    /// Number of distinct strings held.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Returns true when no string is held.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// The value of one series.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    /// A counter, gauge or untyped value.
    Simple(f64),
    /// A summary.
    Summary(Box<SummaryValue>),
    /// A histogram.
    Histogram(Box<HistogramValue>),
}

/// The value of a summary series.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryValue {
    /// `(quantile, value)` pairs in the order pushed.
    pub quantiles: Vec<(f64, f64)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// The value of a histogram series.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramValue {
    /// `(upper bound, cumulative count)` pairs in the order pushed.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// One stored series: the body's labels that the key does not override, sorted by name.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSeries {
    /// Label pairs sorted by name.
    pub labels: LabelSet,
    /// The value.
    pub value: SampleValue,
}

/// One stored family of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFamily {
    /// The family name.
    pub name: Arc<str>,
    /// The HELP text, empty when the push had none.
    pub help: Arc<str>,
    /// The type.
    pub kind: MetricType,
    /// Unix time in seconds of the push that wrote this family.
    pub pushed_at: f64,
    /// True when no label value of any series needs escaping in the text format, so writers
    /// can copy the values as they are.
    pub plain_labels: bool,
    /// The series in the order pushed.
    pub series: Vec<StoredSeries>,
}

/// Converts decoded families into the stored form for the group `key`.
///
/// Rejects a key whose `host` label differs from its instance ([`check_key_host`]), families
/// that only the aggregator writes ([`check_reserved`]), timestamps, a `host` label that
/// differs from the sample's instance, and series that are equal once the key's labels are
/// applied. A family of the metric contract takes the contract's HELP text, whatever HELP the
/// push had. The result is sorted by family name.
pub fn convert(
    key: &GroupingKey,
    families: Vec<MetricFamily>,
    pushed_at: f64,
    interner: &mut Interner,
) -> Result<Vec<StoredFamily>, Rejection> {
    check_key_host(key)?;
    let mut stored = Vec::with_capacity(families.len());

    for family in families {
        let name = family.name();
        check_reserved(name)?;
        let kind = family.get_field_type();
        let mut seen: HashSet<LabelSet> = HashSet::with_capacity(family.get_metric().len());
        let mut series = Vec::with_capacity(family.get_metric().len());

        for metric in family.get_metric() {
            if metric.has_timestamp_ms() {
                return Err(Rejection::new(
                    Reason::Timestamp,
                    format!(
                        "pushed metrics must not have timestamps, but a sample of {name} has \
                         the timestamp {}; leave timestamps out, Prometheus stamps samples \
                         when it scrapes",
                        metric.timestamp_ms()
                    ),
                ));
            }
            let labels = stored_labels(key, metric, interner);
            check_host(key, name, &labels)?;
            if !seen.insert(labels.clone()) {
                return Err(Rejection::new(
                    Reason::DuplicateSeries,
                    format!(
                        "duplicate series {}: the body has it twice once the grouping labels \
                         {key} are applied; send each series once",
                        series_text(key, name, &labels)
                    ),
                ));
            }
            series.push(StoredSeries {
                labels,
                value: sample_value(kind, metric),
            });
        }

        let plain_labels = series.iter().all(|series| {
            series
                .labels
                .iter()
                .all(|(_, value)| !needs_escaping(value))
        });
        // The Pushgateway likewise replaces the HELP of a pushed family that it exports
        // itself with its own text (`GetMetricFamilies` in its storage/diskmetricstore.go).
        let help = contract::find(name).map_or(family.help(), |def| def.help);
        stored.push(StoredFamily {
            name: interner.intern(name),
            help: interner.intern(help),
            kind,
            pushed_at,
            plain_labels,
            series,
        });
    }
    stored.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(stored)
}

/// Rejects a family that the metric contract marks as written only by the aggregator: the
/// hub's families, the aggregator's own, and the per-group push times. A host's credential
/// would otherwise let it add series to them, such as a second `koji_hub_up`. The
/// Pushgateway accepts pushes of its per-group push times and overwrites them.
pub fn check_reserved(name: &str) -> Result<(), Rejection> {
    match contract::find(name) {
        Some(def) if !def.agent_may_push() => Err(Rejection::new(
            Reason::ReservedName,
            format!(
                "metric name {name} is reserved: only the aggregator writes {name}, so a push \
                 must not contain it; remove {name} from the push"
            ),
        )),
        _ => Ok(()),
    }
}

/// Returns the body labels of `metric` that `key` does not override, sorted by name. A body
/// `instance=""` is left out when the key has no instance, because the default adds the same.
fn stored_labels(key: &GroupingKey, metric: &Metric, interner: &mut Interner) -> LabelSet {
    let mut labels: Vec<(Arc<str>, Arc<str>)> = metric
        .get_label()
        .iter()
        .filter(|pair| !key.contains_name(pair.name()))
        .filter(|pair| !(pair.name() == INSTANCE && pair.value().is_empty()))
        .map(|pair| (interner.intern(pair.name()), interner.intern(pair.value())))
        .collect();
    labels.sort_by(|left, right| left.0.cmp(&right.0));
    labels.into_boxed_slice()
}

/// Rejects a grouping key with a `host` label that differs from its `instance` label, or
/// from `""` when the key has no instance (the value its `push_time_seconds` is served with).
///
/// A `host` label in the URL path overrides the body's, so without this check a builder
/// could push its own metrics under another builder's name.
pub fn check_key_host(key: &GroupingKey) -> Result<(), Rejection> {
    let Some(host) = key.get(HOST) else {
        return Ok(());
    };
    let instance = key.instance().unwrap_or_default();
    if host == instance {
        return Ok(());
    }
    Err(Rejection::new(
        Reason::HostMismatch,
        format!(
            "the grouping key {key} has host={host:?} but instance={instance:?}; the host label \
             must equal the instance, so leave host out of the URL path and push each host's \
             metrics to /metrics/job/<job>/instance/<host> of that host"
        ),
    ))
}

/// Rejects a series whose `host` label (the key's, else the body's) differs from its
/// instance.
fn check_host(
    key: &GroupingKey,
    family: &str,
    labels: &[(Arc<str>, Arc<str>)],
) -> Result<(), Rejection> {
    let body_host = labels
        .iter()
        .find(|(name, _)| &**name == HOST)
        .map(|(_, value)| &**value);
    let Some(host) = key.get(HOST).or(body_host) else {
        return Ok(());
    };
    let instance = key.instance().unwrap_or_else(|| {
        labels
            .iter()
            .find(|(name, _)| &**name == INSTANCE)
            .map_or("", |(_, value)| &**value)
    });
    if host == instance {
        return Ok(());
    }
    Err(Rejection::new(
        Reason::HostMismatch,
        format!(
            "a sample of {family} has host={host:?} but is pushed as instance={instance:?}; \
             push each host's metrics to /metrics/job/<job>/instance/<host> of that host"
        ),
    ))
}

fn sample_value(kind: MetricType, metric: &Metric) -> SampleValue {
    match kind {
        MetricType::COUNTER => SampleValue::Simple(metric.get_counter().value()),
        MetricType::GAUGE => SampleValue::Simple(metric.get_gauge().value()),
        MetricType::UNTYPED => SampleValue::Simple(
            metric
                .untyped
                .as_ref()
                .map_or(0.0, |untyped| untyped.value()),
        ),
        MetricType::SUMMARY => {
            let summary = metric.get_summary();
            SampleValue::Summary(Box::new(SummaryValue {
                quantiles: summary
                    .get_quantile()
                    .iter()
                    .map(|quantile| (quantile.quantile(), quantile.value()))
                    .collect(),
                sum: summary.sample_sum(),
                count: summary.sample_count(),
            }))
        }
        MetricType::HISTOGRAM => {
            let histogram = metric.get_histogram();
            SampleValue::Histogram(Box::new(HistogramValue {
                buckets: histogram
                    .get_bucket()
                    .iter()
                    .map(|bucket| (bucket.upper_bound(), bucket.cumulative_count()))
                    .collect(),
                sum: histogram.get_sample_sum(),
                count: histogram.get_sample_count(),
            }))
        }
    }
}

/// Fills `buffer` with the labels a stored series is served with: the key's and the series'
/// labels merged by name, plus `instance=""` when neither has an instance.
pub fn effective_labels<'a>(
    key: &'a GroupingKey,
    labels: &'a [(Arc<str>, Arc<str>)],
    buffer: &mut Vec<(&'a str, &'a str)>,
) {
    buffer.clear();
    let mut own = labels
        .iter()
        .map(|(name, value)| (&**name, &**value))
        .peekable();
    for (name, value) in key.labels() {
        while let Some(pair) = own.next_if(|(own_name, _)| *own_name < name.as_str()) {
            buffer.push(pair);
        }
        buffer.push((name, value));
    }
    buffer.extend(own);
    if key.instance().is_none() && !buffer.iter().any(|(name, _)| *name == INSTANCE) {
        let position = buffer.partition_point(|(name, _)| *name < INSTANCE);
        buffer.insert(position, (INSTANCE, ""));
    }
}

/// Writes a series in exposition syntax for messages, such as `a{instance="b1",job="j"}`.
pub fn series_text(key: &GroupingKey, name: &str, labels: &[(Arc<str>, Arc<str>)]) -> String {
    let mut buffer = Vec::new();
    effective_labels(key, labels, &mut buffer);
    let pairs: Vec<String> = buffer
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{name}{{{}}}", pairs.join(","))
}

/// Number of series in `families`.
pub fn series_count(families: &[StoredFamily]) -> usize {
    families.iter().map(|family| family.series.len()).sum()
}

impl StoredFamily {
    /// Builds the protobuf family of this stored family for the group `key`.
    pub fn to_metric_family(&self, key: &GroupingKey) -> MetricFamily {
        let mut family = MetricFamily::new();
        family.set_name(self.name.to_string());
        if !self.help.is_empty() {
            family.set_help(self.help.to_string());
        }
        family.set_field_type(self.kind);
        let mut buffer = Vec::new();
        for series in &self.series {
            effective_labels(key, &series.labels, &mut buffer);
            family
                .mut_metric()
                .push(to_metric(self.kind, &buffer, &series.value));
        }
        family
    }
}

fn to_metric(kind: MetricType, labels: &[(&str, &str)], value: &SampleValue) -> Metric {
    let mut metric = Metric::new();
    metric.set_label(koji_metrics::label_pairs(labels));
    match value {
        SampleValue::Simple(value) => match kind {
            MetricType::COUNTER => {
                let mut counter = Counter::new();
                counter.set_value(*value);
                metric.set_counter(counter);
            }
            MetricType::GAUGE => {
                let mut gauge = Gauge::new();
                gauge.set_value(*value);
                metric.set_gauge(gauge);
            }
            _ => {
                let mut untyped = Untyped::new();
                untyped.set_value(*value);
                metric.untyped = Some(untyped).into();
            }
        },
        SampleValue::Summary(summary) => {
            let mut proto = Summary::new();
            proto.set_quantile(
                summary
                    .quantiles
                    .iter()
                    .map(|(quantile, value)| {
                        let mut pair = Quantile::new();
                        pair.set_quantile(*quantile);
                        pair.set_value(*value);
                        pair
                    })
                    .collect(),
            );
            proto.set_sample_sum(summary.sum);
            proto.set_sample_count(summary.count);
            metric.set_summary(proto);
        }
        SampleValue::Histogram(histogram) => {
            let mut proto = Histogram::new();
            proto.set_bucket(
                histogram
                    .buckets
                    .iter()
                    .map(|(bound, count)| {
                        let mut bucket = Bucket::new();
                        bucket.set_upper_bound(*bound);
                        bucket.set_cumulative_count(*count);
                        bucket
                    })
                    .collect(),
            );
            proto.set_sample_sum(histogram.sum);
            proto.set_sample_count(histogram.count);
            metric.set_histogram(proto);
        }
    }
    metric
}

#[cfg(test)]
mod tests {
    use koji_metrics::text::parse_text;

    use super::*;

    fn key(path: &str) -> GroupingKey {
        GroupingKey::from_path(path).unwrap()
    }

    fn convert_text(key: &GroupingKey, text: &str) -> Result<Vec<StoredFamily>, Rejection> {
        let families = parse_text(text.as_bytes()).unwrap();
        convert(key, families, 1.0, &mut Interner::default())
    }

    fn served(key: &GroupingKey, families: &[StoredFamily]) -> String {
        let families: Vec<MetricFamily> = families
            .iter()
            .map(|family| family.to_metric_family(key))
            .collect();
        koji_metrics::encode_text(&families)
    }

    #[test]
    fn grouping_labels_override_body() {
        let key = key("job/agent/instance/b1");
        let families = convert_text(&key, "a{instance=\"evil\",x=\"1\"} 1\n").unwrap();

        assert_eq!(
            served(&key, &families),
            "# TYPE a untyped\na{instance=\"b1\",job=\"agent\",x=\"1\"} 1\n"
        );
        assert_eq!(families[0].series[0].labels.len(), 1);
    }

    #[test]
    fn empty_instance_added() {
        let key = key("job/agent");
        let families = convert_text(&key, "a 1\nb{instance=\"i\"} 2\n").unwrap();
        let text = served(&key, &families);

        assert!(
            text.contains("a{instance=\"\",job=\"agent\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("b{instance=\"i\",job=\"agent\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn overwrite_making_duplicates_rejected() {
        let key = key("job/agent/instance/b1");
        let rejection =
            convert_text(&key, "a{instance=\"x\"} 1\na{instance=\"y\"} 2\n").unwrap_err();

        assert_eq!(rejection.reason, Reason::DuplicateSeries);
        assert!(
            rejection
                .message
                .contains("a{instance=\"b1\",job=\"agent\"}"),
            "{rejection}"
        );
    }

    #[test]
    fn empty_body_instance_equals_default() {
        let key = key("job/agent");
        let rejection = convert_text(&key, "a 1\na{instance=\"\"} 2\n").unwrap_err();

        assert_eq!(rejection.reason, Reason::DuplicateSeries);
    }

    #[test]
    fn timestamps_rejected() {
        let rejection = convert_text(&key("job/agent"), "a 1 1700000000000\n").unwrap_err();

        assert_eq!(rejection.reason, Reason::Timestamp);
        assert!(rejection.message.contains("1700000000000"), "{rejection}");
    }

    #[test]
    fn host_must_equal_instance() {
        let key_b1 = key("job/agent/instance/b1");
        assert!(convert_text(&key_b1, "a{host=\"b1\"} 1\n").is_ok());

        let rejection = convert_text(&key_b1, "a{host=\"b2\"} 1\n").unwrap_err();
        assert_eq!(rejection.reason, Reason::HostMismatch);
        assert!(rejection.message.contains("host=\"b2\""), "{rejection}");
        assert!(rejection.message.contains("instance=\"b1\""), "{rejection}");

        let without_instance = key("job/agent");
        assert!(convert_text(&without_instance, "a{host=\"b1\",instance=\"b1\"} 1\n").is_ok());
        let rejection = convert_text(&without_instance, "a{host=\"b1\"} 1\n").unwrap_err();
        assert_eq!(rejection.reason, Reason::HostMismatch);
    }

    /// Writes one series of the contract metric `def` with the label block `labels`.
    fn contract_body(def: &contract::MetricDef, labels: &str) -> String {
        let name = def.name;
        let kind = def.kind;
        match kind {
            contract::MetricKind::Histogram => {
                let inner = labels.trim_start_matches('{').trim_end_matches('}');
                let separator = if inner.is_empty() { "" } else { "," };
                format!(
                    "# TYPE {name} {kind}\n{name}_bucket{{{inner}{separator}le=\"+Inf\"}} 9\n\
                     {name}_sum{labels} 9\n{name}_count{labels} 9\n"
                )
            }
            _ => format!("# TYPE {name} {kind}\n{name}{labels} 9\n"),
        }
    }

    #[test]
    fn aggregator_families_rejected() {
        let aggregator_only = contract::ALL.iter().filter(|def| !def.agent_may_push());
        for def in aggregator_only {
            let name = def.name;
            let text = format!("{}a 1\n", contract_body(def, ""));
            let rejection = convert_text(&key("job/agent/instance/b1"), &text).unwrap_err();

            assert_eq!(rejection.reason, Reason::ReservedName, "{name}");
            assert!(
                rejection
                    .message
                    .contains(&format!("metric name {name} is reserved")),
                "{rejection}"
            );
            assert!(
                rejection.message.contains("only the aggregator writes"),
                "{rejection}"
            );
        }
    }

    #[test]
    fn agent_families_accepted() {
        let pushable = contract::ALL.iter().filter(|def| def.agent_may_push());
        for def in pushable {
            let name = def.name;
            let text = contract_body(def, "{host=\"b1\"}");
            let stored = convert_text(&key("job/agent/instance/b1"), &text);

            assert!(stored.is_ok(), "{name}: {stored:?}");
        }
    }

    #[test]
    fn contract_help_replaces_pushed_help() {
        let key = key("job/agent/instance/b1");
        let pushed = "# HELP koji_builder_cpus other help\n# TYPE koji_builder_cpus gauge\n\
                      koji_builder_cpus{host=\"b1\"} 4\n\
                      # TYPE koji_builder_load1 gauge\nkoji_builder_load1{host=\"b1\"} 1\n\
                      # HELP agent_own Help of the client.\nagent_own 1\n";
        let families = convert_text(&key, pushed).unwrap();
        let help = |name: &str| -> String {
            let family = families.iter().find(|family| &*family.name == name);
            family.expect(name).help.to_string()
        };

        assert_eq!(help("koji_builder_cpus"), contract::BUILDER_CPUS.help);
        assert_eq!(help("koji_builder_load1"), contract::BUILDER_LOAD1.help);
        assert_eq!(help("agent_own"), "Help of the client.");
    }

    #[test]
    fn key_host_must_equal_instance() {
        let mismatched = key("job/koji-agent/instance/b1/host/b2");
        for body in ["a{host=\"b1\"} 0\n", "a 0\n", "a{host=\"b2\"} 0\n", ""] {
            let rejection = convert_text(&mismatched, body).unwrap_err();

            assert_eq!(rejection.reason, Reason::HostMismatch, "{body:?}");
            assert!(rejection.message.contains("host=\"b2\""), "{rejection}");
            assert!(rejection.message.contains("instance=\"b1\""), "{rejection}");
        }

        let without_instance = key("job/koji-agent/host/b2");
        let rejection = convert_text(&without_instance, "a{instance=\"b2\"} 0\n").unwrap_err();
        assert_eq!(rejection.reason, Reason::HostMismatch);
        assert!(rejection.message.contains("instance=\"\""), "{rejection}");

        let matching = key("job/koji-agent/instance/b1/host/b1");
        let families = convert_text(&matching, "a{host=\"b1\"} 0\n").unwrap();
        assert_eq!(
            served(&matching, &families),
            "# TYPE a untyped\na{host=\"b1\",instance=\"b1\",job=\"koji-agent\"} 0\n"
        );
    }

    #[test]
    fn every_type_round_trips() {
        let key = key("job/agent/instance/b1");
        let text = "# HELP h A histogram.\n# TYPE h histogram\n\
                    h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 7.5\nh_count 3\n\
                    # TYPE s summary\ns{quantile=\"0.5\"} 2\ns_sum 9\ns_count 4\n\
                    # TYPE c counter\nc 3\n# TYPE g gauge\ng -1.5\nu{v=\"q\\\"\\\\\\n\"} 7\n";
        let families = convert_text(&key, text).unwrap();
        let served = served(&key, &families);

        let reparsed = parse_text(served.as_bytes()).unwrap();
        let again = convert(&key, reparsed, 1.0, &mut Interner::default()).unwrap();
        assert_eq!(again, families);
        assert!(served.contains("u{instance=\"b1\",job=\"agent\",v=\"q\\\"\\\\\\n\"} 7"));
        assert!(served.contains("# HELP h A histogram."), "{served}");
    }

    #[test]
    fn interner_shares_and_purges() {
        let mut interner = Interner::default();
        let first = interner.intern("host");
        let second = interner.intern("host");
        assert!(Arc::ptr_eq(&first, &second));

        drop(first);
        assert_eq!(interner.purge(), 0);
        drop(second);
        assert_eq!(interner.purge(), 1);
        assert!(interner.is_empty());
    }
}

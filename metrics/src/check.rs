//! Consistency checks across metric families before they are served or accepted: duplicate
//! series, type conflicts, sample names that clash with histogram or summary samples, and the
//! structure of a single family.
//!
//! The `prometheus` crate checks none of these when it gathers families, and Prometheus
//! itself drops duplicate series silently, so the aggregator runs these checks on every
//! render. They are built for several hundred thousand series. A series is identified by a
//! 64-bit hash of its name and sorted labels, and only a hash match leads to an exact
//! comparison. No string is copied except for the series that are reported.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use prometheus::proto::{Metric, MetricFamily, MetricType};

use crate::names::{is_reserved_label_name, is_valid_label_name, is_valid_metric_name};
use crate::text::{complex_suffixes, type_name};

/// One series: a metric name and its labels sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesId {
    /// Metric family name.
    pub name: String,
    /// Label pairs sorted by label name.
    pub labels: Vec<(String, String)>,
}

impl SeriesId {
    /// Builds the identity of `metric` in the family called `name`.
    pub fn of(name: &str, metric: &Metric) -> Self {
        let mut labels: Vec<(String, String)> = metric
            .get_label()
            .iter()
            .map(|pair| (pair.name().to_string(), pair.value().to_string()))
            .collect();
        labels.sort_unstable();
        Self {
            name: name.to_string(),
            labels,
        }
    }
}

impl fmt::Display for SeriesId {
    /// Writes the series in exposition syntax, such as `koji_builder_ready{host="b1"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (index, (name, value)) in self.labels.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            let escaped = value
                .replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('"', "\\\"");
            write!(f, "{name}=\"{escaped}\"")?;
        }
        f.write_str("}")
    }
}

/// Two families with the same name and different types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeConflict {
    /// Metric family name.
    pub name: String,
    /// Type of the first family with that name.
    pub first: MetricType,
    /// Type of the later family.
    pub second: MetricType,
}

impl fmt::Display for TypeConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metric {} is a {} in one family and a {} in another; one name needs one type",
            self.name,
            type_name(self.first),
            type_name(self.second)
        )
    }
}

/// A family whose name equals a `_bucket`, `_sum` or `_count` sample name of a histogram or
/// summary family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuffixClash {
    /// Name of the clashing family, such as `koji_task_run_seconds_count`.
    pub name: String,
    /// Name of the histogram or summary family, such as `koji_task_run_seconds`.
    pub owner: String,
    /// Type of the owner: histogram or summary.
    pub owner_type: MetricType,
}

impl fmt::Display for SuffixClash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metric {} clashes with the samples of the {} {}; rename one of them",
            self.name,
            type_name(self.owner_type),
            self.owner
        )
    }
}

/// A problem that makes an exposition of several families inconsistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A series that occurs more than once; the id names the repeated series.
    DuplicateSeries(SeriesId),
    /// The same name with two types.
    TypeConflict(TypeConflict),
    /// A family name that equals a histogram or summary sample name.
    SuffixClash(SuffixClash),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::DuplicateSeries(series) => write!(f, "duplicate series {series}"),
            Problem::TypeConflict(conflict) => conflict.fmt(f),
            Problem::SuffixClash(clash) => clash.fmt(f),
        }
    }
}

/// A family that breaks the data model on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metric family {name:?}: {detail}")]
pub struct InvalidFamily {
    /// The family name as sent.
    pub name: String,
    /// Description of the problem, naming the value.
    pub detail: String,
}

/// Finds every duplicate series, type conflict and suffix clash in `families`.
pub fn find_problems(families: &[MetricFamily]) -> Vec<Problem> {
    let mut problems: Vec<Problem> = find_type_conflicts(families)
        .into_iter()
        .map(Problem::TypeConflict)
        .collect();
    problems.extend(
        find_suffix_clashes(families)
            .into_iter()
            .map(Problem::SuffixClash),
    );
    problems.extend(
        find_duplicate_series(families)
            .into_iter()
            .map(Problem::DuplicateSeries),
    );
    problems
}

/// Finds the series that occur more than once across `families`. Families with the same name
/// form one metric, and label order does not matter. Every occurrence after the first is
/// reported once.
pub fn find_duplicate_series(families: &[MetricFamily]) -> Vec<SeriesId> {
    duplicate_positions(families)
        .into_iter()
        .map(|(family, metric)| {
            let family = &families[family];
            SeriesId::of(family.name(), &family.get_metric()[metric])
        })
        .collect()
}

/// Removes every occurrence of a series after its first, in the order of `families`, and
/// returns the remaining families with the ids of the dropped series. A family left without
/// samples is removed; type conflicts and suffix clashes stay as they are.
pub fn dedupe_series(mut families: Vec<MetricFamily>) -> (Vec<MetricFamily>, Vec<SeriesId>) {
    let positions = duplicate_positions(&families);
    if positions.is_empty() {
        return (families, Vec::new());
    }

    let dropped = positions
        .iter()
        .map(|(family, metric)| {
            let family = &families[*family];
            SeriesId::of(family.name(), &family.get_metric()[*metric])
        })
        .collect();

    let mut by_family: Vec<Vec<usize>> = vec![Vec::new(); families.len()];
    for (family, metric) in positions {
        by_family[family].push(metric);
    }
    let mut emptied = vec![false; families.len()];
    for (index, family) in families.iter_mut().enumerate() {
        let remove = &by_family[index];
        if remove.is_empty() {
            continue;
        }
        let mut position = 0;
        family.mut_metric().retain(|_| {
            let keep = remove.binary_search(&position).is_err();
            position += 1;
            keep
        });
        emptied[index] = family.get_metric().is_empty();
    }
    let mut index = 0;
    families.retain(|_| {
        let keep = !emptied[index];
        index += 1;
        keep
    });
    (families, dropped)
}

/// Finds names that two families use with different types. Each conflicting pair of types
/// of a name is reported once.
pub fn find_type_conflicts(families: &[MetricFamily]) -> Vec<TypeConflict> {
    let mut first_type: HashMap<&str, MetricType> = HashMap::new();
    let mut conflicts = Vec::new();
    for family in families {
        let name = family.name();
        let metric_type = family.get_field_type();
        let first = *first_type.entry(name).or_insert(metric_type);
        let reported = conflicts
            .iter()
            .any(|conflict: &TypeConflict| conflict.name == name && conflict.second == metric_type);
        if first != metric_type && !reported {
            conflicts.push(TypeConflict {
                name: name.to_string(),
                first,
                second: metric_type,
            });
        }
    }
    conflicts
}

/// Finds families named like the `_bucket`, `_sum` or `_count` samples of a histogram, or the
/// `_sum` or `_count` samples of a summary, in `families`.
pub fn find_suffix_clashes(families: &[MetricFamily]) -> Vec<SuffixClash> {
    let names: HashSet<&str> = families.iter().map(|family| family.name()).collect();
    let mut clashes: Vec<SuffixClash> = Vec::new();
    for family in families {
        let owner_type = family.get_field_type();
        for suffix in complex_suffixes(owner_type) {
            let sample_name = format!("{}{suffix}", family.name());
            let known = clashes.iter().any(|clash| clash.name == sample_name);
            if names.contains(sample_name.as_str()) && !known {
                clashes.push(SuffixClash {
                    name: sample_name,
                    owner: family.name().to_string(),
                    owner_type,
                });
            }
        }
    }
    clashes
}

/// Checks one family against the data model: a valid metric name, a known type, valid label
/// names that do not start with `__`, no label name twice in a sample, and a value of the
/// family's type in every sample.
pub fn validate_family(family: &MetricFamily) -> Result<(), InvalidFamily> {
    let name = family.name();
    let invalid = |detail: String| InvalidFamily {
        name: name.to_string(),
        detail,
    };
    if !is_valid_metric_name(name) {
        return Err(invalid(
            "invalid metric name; names match [a-zA-Z_:][a-zA-Z0-9_:]*".into(),
        ));
    }
    let known_type = family
        .type_
        .is_none_or(|metric_type| metric_type.enum_value().is_ok());
    if !known_type {
        let value = family
            .type_
            .map(|metric_type| metric_type.value())
            .unwrap_or_default();
        return Err(invalid(format!(
            "unknown metric type {value}; expected counter, gauge, summary, untyped or histogram"
        )));
    }

    let metric_type = family.get_field_type();
    for metric in family.get_metric() {
        let labels = metric.get_label();
        for (index, pair) in labels.iter().enumerate() {
            let label = pair.name();
            if !is_valid_label_name(label) {
                return Err(invalid(format!(
                    "invalid label name {label:?}; label names match [a-zA-Z_][a-zA-Z0-9_]*"
                )));
            }
            if is_reserved_label_name(label) {
                return Err(invalid(format!(
                    "label name {label:?} is reserved: names starting with __ are for \
                     Prometheus' internal use"
                )));
            }
            if labels[..index]
                .iter()
                .any(|earlier| earlier.name() == label)
            {
                return Err(invalid(format!(
                    "label name {label:?} appears twice in a sample"
                )));
            }
        }
        let has_value = match metric_type {
            MetricType::COUNTER => metric.counter.is_some(),
            MetricType::GAUGE => metric.gauge.is_some(),
            MetricType::SUMMARY => metric.summary.is_some(),
            MetricType::UNTYPED => metric.untyped.is_some(),
            MetricType::HISTOGRAM => metric.histogram.is_some(),
        };
        if !has_value {
            return Err(invalid(format!(
                "a sample has no {} value although the family is a {}",
                type_name(metric_type),
                type_name(metric_type)
            )));
        }
    }
    Ok(())
}

/// A hasher for keys that already are hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A seen series: where it is, and the next seen series with the same hash.
struct Entry {
    family: usize,
    metric: usize,
    next: usize,
}

const NO_ENTRY: usize = usize::MAX;

/// Positions `(family index, metric index)` of every repeated occurrence of a series, in
/// input order.
fn duplicate_positions(families: &[MetricFamily]) -> Vec<(usize, usize)> {
    let total: usize = families
        .iter()
        .map(|family| family.get_metric().len())
        .sum();
    // The hash keys are random per process, so crafted label values cannot force collisions.
    let hash_state = RandomState::new();
    let mut heads: HashMap<u64, usize, BuildHasherDefault<IdentityHasher>> =
        HashMap::with_capacity_and_hasher(total, BuildHasherDefault::default());
    let mut entries: Vec<Entry> = Vec::with_capacity(total);
    let mut sorted: Vec<(&str, &str)> = Vec::new();
    let mut other: Vec<(&str, &str)> = Vec::new();
    let mut duplicates = Vec::new();

    for (family_index, family) in families.iter().enumerate() {
        let name = family.name();
        for (metric_index, metric) in family.get_metric().iter().enumerate() {
            sort_labels(metric, &mut sorted);
            let hash = series_hash(&hash_state, name, &sorted);

            let head = heads.get(&hash).copied().unwrap_or(NO_ENTRY);
            let mut cursor = head;
            let mut duplicate = false;
            while cursor != NO_ENTRY {
                let entry = &entries[cursor];
                let seen_family = &families[entry.family];
                if seen_family.name() == name {
                    sort_labels(&seen_family.get_metric()[entry.metric], &mut other);
                    if other == sorted {
                        duplicate = true;
                        break;
                    }
                }
                cursor = entry.next;
            }

            if duplicate {
                duplicates.push((family_index, metric_index));
            } else {
                heads.insert(hash, entries.len());
                entries.push(Entry {
                    family: family_index,
                    metric: metric_index,
                    next: head,
                });
            }
        }
    }
    duplicates
}

/// Fills `sorted` with the labels of `metric` sorted by name, reusing its allocation.
fn sort_labels<'a>(metric: &'a Metric, sorted: &mut Vec<(&'a str, &'a str)>) {
    sorted.clear();
    sorted.extend(
        metric
            .get_label()
            .iter()
            .map(|pair| (pair.name(), pair.value())),
    );
    sorted.sort_unstable();
}

fn series_hash(state: &RandomState, name: &str, labels: &[(&str, &str)]) -> u64 {
    // 0xFF never occurs in UTF-8, so it separates the strings unambiguously.
    let mut hasher = state.build_hasher();
    hasher.write(name.as_bytes());
    for (label, value) in labels {
        hasher.write_u8(0xFF);
        hasher.write(label.as_bytes());
        hasher.write_u8(0xFF);
        hasher.write(value.as_bytes());
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use prometheus::proto::{Gauge, LabelPair};

    use super::*;

    fn family(name: &str, metric_type: MetricType, series: &[&[(&str, &str)]]) -> MetricFamily {
        let mut family = MetricFamily::new();
        family.set_name(name.to_string());
        family.set_field_type(metric_type);
        for labels in series {
            let mut metric = Metric::new();
            metric.set_label(
                labels
                    .iter()
                    .map(|(label, value)| {
                        let mut pair = LabelPair::new();
                        pair.set_name(label.to_string());
                        pair.set_value(value.to_string());
                        pair
                    })
                    .collect(),
            );
            let mut gauge = Gauge::new();
            gauge.set_value(1.0);
            match metric_type {
                MetricType::GAUGE => metric.set_gauge(gauge),
                MetricType::COUNTER => metric.counter = Some(Default::default()).into(),
                MetricType::HISTOGRAM => metric.histogram = Some(Default::default()).into(),
                MetricType::SUMMARY => metric.summary = Some(Default::default()).into(),
                MetricType::UNTYPED => metric.untyped = Some(Default::default()).into(),
            }
            family.mut_metric().push(metric);
        }
        family
    }

    #[test]
    fn duplicates_ignore_label_order() {
        let families = [
            family(
                "up",
                MetricType::GAUGE,
                &[&[("a", "1"), ("b", "2")], &[("a", "2")]],
            ),
            family("up", MetricType::GAUGE, &[&[("b", "2"), ("a", "1")]]),
            family("down", MetricType::GAUGE, &[&[("a", "1"), ("b", "2")]]),
        ];
        let duplicates = find_duplicate_series(&families);
        assert_eq!(duplicates.len(), 1);
        assert_eq!(duplicates[0].to_string(), r#"up{a="1",b="2"}"#);
    }

    #[test]
    fn duplicates_within_one_family() {
        let families = [family(
            "up",
            MetricType::GAUGE,
            &[&[("a", "x")], &[("a", "x")], &[("a", "x")], &[]],
        )];
        let duplicates = find_duplicate_series(&families);
        assert_eq!(duplicates.len(), 2);
    }

    #[test]
    fn label_boundaries_are_distinct() {
        let families = [family(
            "up",
            MetricType::GAUGE,
            &[&[("a", "bc")], &[("ab", "c")], &[("a", "b"), ("c", "")]],
        )];
        assert!(find_duplicate_series(&families).is_empty());
    }

    #[test]
    fn dedupe_keeps_first() {
        let families = vec![
            family(
                "up",
                MetricType::GAUGE,
                &[&[("host", "a")], &[("host", "b")]],
            ),
            family("up", MetricType::GAUGE, &[&[("host", "b")]]),
            family(
                "up",
                MetricType::GAUGE,
                &[&[("host", "c")], &[("host", "a")]],
            ),
        ];
        let (kept, dropped) = dedupe_series(families);

        assert_eq!(kept.len(), 2, "the family left empty is removed");
        assert_eq!(kept[0].get_metric().len(), 2);
        assert_eq!(kept[1].get_metric().len(), 1);
        assert_eq!(kept[1].get_metric()[0].get_label()[0].value(), "c");
        let dropped: Vec<String> = dropped.iter().map(ToString::to_string).collect();
        assert_eq!(dropped, [r#"up{host="b"}"#, r#"up{host="a"}"#]);
        assert!(find_duplicate_series(&kept).is_empty());
    }

    #[test]
    fn dedupe_without_duplicates_is_identity() {
        let families = vec![family("up", MetricType::GAUGE, &[&[("host", "a")]])];
        let (kept, dropped) = dedupe_series(families.clone());
        assert_eq!(kept, families);
        assert!(dropped.is_empty());
    }

    #[test]
    fn type_conflicts_reported_once() {
        let families = [
            family("capacity", MetricType::GAUGE, &[&[("host", "a")]]),
            family("capacity", MetricType::COUNTER, &[&[("host", "b")]]),
            family("capacity", MetricType::COUNTER, &[&[("host", "c")]]),
            family("capacity", MetricType::GAUGE, &[&[("host", "d")]]),
        ];
        let conflicts = find_type_conflicts(&families);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].first, MetricType::GAUGE);
        assert_eq!(conflicts[0].second, MetricType::COUNTER);
        assert!(
            conflicts[0]
                .to_string()
                .contains("a gauge in one family and a counter")
        );
    }

    #[test]
    fn suffix_clashes_found() {
        let families = [
            family("wait_seconds", MetricType::HISTOGRAM, &[&[]]),
            family("wait_seconds_bucket", MetricType::GAUGE, &[&[]]),
            family("latency", MetricType::SUMMARY, &[&[]]),
            family("latency_count", MetricType::COUNTER, &[&[]]),
            family("latency_bucket", MetricType::GAUGE, &[&[]]),
        ];
        let clashes = find_suffix_clashes(&families);
        let names: Vec<&str> = clashes.iter().map(|clash| clash.name.as_str()).collect();
        assert_eq!(names, ["wait_seconds_bucket", "latency_count"]);
        assert_eq!(clashes[0].owner, "wait_seconds");
    }

    #[test]
    fn find_problems_collects_all_kinds() {
        let families = [
            family("a", MetricType::GAUGE, &[&[]]),
            family("a", MetricType::COUNTER, &[&[]]),
            family("h", MetricType::HISTOGRAM, &[&[]]),
            family("h_sum", MetricType::GAUGE, &[&[]]),
        ];
        let problems = find_problems(&families);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(matches!(problems[0], Problem::TypeConflict(_)));
        assert!(matches!(problems[1], Problem::SuffixClash(_)));
        assert_eq!(problems[2].to_string(), "duplicate series a");
    }

    #[test]
    fn validate_family_rules() {
        assert!(validate_family(&family("ok", MetricType::GAUGE, &[&[("host", "a")]])).is_ok());

        let error = validate_family(&family("bad-name", MetricType::GAUGE, &[])).unwrap_err();
        assert!(error.to_string().contains("invalid metric name"), "{error}");

        let error =
            validate_family(&family("x", MetricType::GAUGE, &[&[("__meta", "a")]])).unwrap_err();
        assert!(error.detail.contains("reserved"), "{error}");

        let error =
            validate_family(&family("x", MetricType::GAUGE, &[&[("a-b", "a")]])).unwrap_err();
        assert!(error.detail.contains("invalid label name"), "{error}");

        let twice = family("x", MetricType::GAUGE, &[&[("a", "1"), ("a", "2")]]);
        assert!(
            validate_family(&twice)
                .unwrap_err()
                .detail
                .contains("appears twice")
        );

        let mut wrong_value = family("x", MetricType::GAUGE, &[&[]]);
        wrong_value.set_field_type(MetricType::COUNTER);
        let error = validate_family(&wrong_value).unwrap_err();
        assert!(error.detail.contains("no counter value"), "{error}");

        let mut unknown = family("x", MetricType::GAUGE, &[]);
        unknown.type_ = Some(protobuf::EnumOrUnknown::from_i32(5));
        let error = validate_family(&unknown).unwrap_err();
        assert!(error.detail.contains("unknown metric type 5"), "{error}");
    }

    /// Builds `families` families of `per_family` series with five labels each, where the
    /// last family repeats the first one's series.
    fn large_input(families: usize, per_family: usize) -> Vec<MetricFamily> {
        let mut output = Vec::with_capacity(families + 1);
        for family_index in 0..families {
            let mut family = MetricFamily::new();
            family.set_name(format!("koji_metric_{}", family_index % 50));
            family.set_field_type(MetricType::GAUGE);
            for series in 0..per_family {
                let mut metric = Metric::new();
                let values = [
                    ("instance", format!("builder{family_index:05}.example.org")),
                    ("job", "koji-agent".to_string()),
                    ("host", format!("builder{family_index:05}.example.org")),
                    ("method", format!("method{}", series % 40)),
                    ("channel", format!("channel{}", series / 40)),
                ];
                metric.set_label(
                    values
                        .into_iter()
                        .map(|(name, value)| {
                            let mut pair = LabelPair::new();
                            pair.set_name(name.to_string());
                            pair.set_value(value);
                            pair
                        })
                        .collect(),
                );
                metric.set_gauge(Gauge::new());
                family.mut_metric().push(metric);
            }
            output.push(family);
        }
        output.push(output[0].clone());
        output
    }

    #[test]
    fn duplicates_found_in_large_input() {
        let families = large_input(100, 100);
        let duplicates = find_duplicate_series(&families);
        assert_eq!(duplicates.len(), 100);
    }

    /// Measures the checks on 400,000 series; run with
    /// `cargo test -p koji-metrics --release -- --ignored --nocapture check_benchmark`.
    #[test]
    #[ignore = "benchmark; run explicitly in release mode"]
    fn check_benchmark() {
        let families = large_input(4_000, 100);
        let series: usize = families
            .iter()
            .map(|family| family.get_metric().len())
            .sum();

        let start = Instant::now();
        let duplicates = find_duplicate_series(&families);
        let find_time = start.elapsed();
        assert_eq!(duplicates.len(), 100);

        let start = Instant::now();
        let conflicts = find_type_conflicts(&families);
        let clashes = find_suffix_clashes(&families);
        let family_time = start.elapsed();
        assert!(conflicts.is_empty());
        assert!(clashes.is_empty());

        let start = Instant::now();
        let (kept, dropped) = dedupe_series(families);
        let dedupe_time = start.elapsed();
        assert_eq!(dropped.len(), 100);
        assert_eq!(kept.len(), 4_000);

        eprintln!(
            "{series} series: find_duplicate_series {find_time:?}, type conflicts and suffix \
             clashes {family_time:?}, dedupe_series {dedupe_time:?}"
        );
    }
}

//! Builders that turn a [`MetricDef`] and sample values into a `MetricFamily` of the
//! `prometheus` crate's protobuf model.
//!
//! ```
//! use koji_metrics::contract::BUILDER_ENABLED;
//! use koji_metrics::FamilyBuilder;
//!
//! let mut builder = FamilyBuilder::new(&BUILDER_ENABLED);
//! builder.sample(&["builder01"], 1.0)?.sample(&["builder02"], 0.0)?;
//! let family = builder.build();
//! assert_eq!(family.get_metric().len(), 2);
//! # Ok::<(), koji_metrics::BuildError>(())
//! ```

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use crate::contract::{MetricDef, MetricKind};

/// A sample that does not fit its metric definition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// The number of label values differs from the number of label names.
    #[error(
        "metric {metric} takes {expected} label values ({names}), got {got}: {values:?}; \
         pass one value per label name in that order"
    )]
    LabelCount {
        /// Metric name.
        metric: &'static str,
        /// Number of label names in the definition.
        expected: usize,
        /// Number of values passed.
        got: usize,
        /// The label names, comma-separated.
        names: String,
        /// The values passed.
        values: Vec<String>,
    },
    /// A gauge or counter sample for a histogram, or the other way round.
    #[error("metric {metric} is a {kind}; use {use_instead} for it")]
    WrongKind {
        /// Metric name.
        metric: &'static str,
        /// The type in the definition.
        kind: MetricKind,
        /// The builder method that fits the type.
        use_instead: &'static str,
    },
    /// Histogram bucket counts that do not fit the definition's buckets.
    #[error("histogram {metric}: {detail}")]
    Buckets {
        /// Metric name.
        metric: &'static str,
        /// Description of the problem, naming the counts.
        detail: String,
    },
}

/// Collects the samples of one metric into a `MetricFamily` with the definition's name, HELP
/// and type.
#[derive(Debug, Clone)]
pub struct FamilyBuilder {
    def: &'static MetricDef,
    family: MetricFamily,
}

impl FamilyBuilder {
    /// Starts an empty family for `def`.
    pub fn new(def: &'static MetricDef) -> Self {
        let mut family = MetricFamily::new();
        family.set_name(def.name.to_string());
        family.set_help(def.help.to_string());
        family.set_field_type(metric_type(def.kind));
        Self { def, family }
    }

    /// Adds a gauge or counter sample with `label_values` in the order of the definition's
    /// label names.
    ///
    /// A wrong number of label values or a histogram definition is a programming error: debug
    /// builds panic, release builds return the error.
    pub fn sample(&mut self, label_values: &[&str], value: f64) -> Result<&mut Self, BuildError> {
        let mut metric = Metric::new();
        match self.def.kind {
            MetricKind::Gauge => {
                let mut gauge = Gauge::new();
                gauge.set_value(value);
                metric.set_gauge(gauge);
            }
            MetricKind::Counter => {
                let mut counter = Counter::new();
                counter.set_value(value);
                metric.set_counter(counter);
            }
            MetricKind::Histogram => {
                return Err(self.wrong_kind("histogram() or observations()"));
            }
        }
        metric.set_label(self.label_pairs(label_values)?);
        self.family.mut_metric().push(metric);
        Ok(self)
    }

    /// Adds a histogram sample from cumulative bucket counts (one per bucket bound of the
    /// definition, `+Inf` excluded), the sum of the observed values and their count.
    pub fn histogram(
        &mut self,
        label_values: &[&str],
        cumulative_counts: &[u64],
        sum: f64,
        count: u64,
    ) -> Result<&mut Self, BuildError> {
        if self.def.kind != MetricKind::Histogram {
            return Err(self.wrong_kind("sample()"));
        }
        check_cumulative_counts(self.def, cumulative_counts, count)?;
        let labels = self.label_pairs(label_values)?;

        let buckets = self
            .def
            .buckets
            .iter()
            .zip(cumulative_counts)
            .map(|(bound, cumulative)| {
                let mut bucket = Bucket::new();
                bucket.set_upper_bound(*bound);
                bucket.set_cumulative_count(*cumulative);
                bucket
            })
            .collect();
        let mut histogram = Histogram::new();
        histogram.set_bucket(buckets);
        histogram.set_sample_sum(sum);
        histogram.set_sample_count(count);

        let mut metric = Metric::new();
        metric.set_label(labels);
        metric.set_histogram(histogram);
        self.family.mut_metric().push(metric);
        Ok(self)
    }

    /// Adds a histogram sample from the observations collected in `accumulator`.
    pub fn observations(
        &mut self,
        label_values: &[&str],
        accumulator: &HistogramAccumulator,
    ) -> Result<&mut Self, BuildError> {
        if accumulator.bounds != self.def.buckets {
            return Err(BuildError::Buckets {
                metric: self.def.name,
                detail: format!(
                    "the accumulator has the buckets {:?}, the definition {:?}",
                    accumulator.bounds, self.def.buckets
                ),
            });
        }
        let cumulative = accumulator.cumulative_counts();
        self.histogram(
            label_values,
            &cumulative,
            accumulator.sum,
            accumulator.count,
        )
    }

    /// Number of samples added so far.
    pub fn len(&self) -> usize {
        self.family.get_metric().len()
    }

    /// Returns true when no sample was added.
    pub fn is_empty(&self) -> bool {
        self.family.get_metric().is_empty()
    }

    /// Returns the family. A family without samples is valid here, but the text encoder
    /// skips it.
    pub fn build(self) -> MetricFamily {
        self.family
    }

    fn label_pairs(&self, label_values: &[&str]) -> Result<Vec<LabelPair>, BuildError> {
        let names = self.def.labels;
        debug_assert_eq!(
            names.len(),
            label_values.len(),
            "metric {} takes the labels {names:?}, got the values {label_values:?}",
            self.def.name
        );
        if names.len() != label_values.len() {
            return Err(BuildError::LabelCount {
                metric: self.def.name,
                expected: names.len(),
                got: label_values.len(),
                names: names.join(","),
                values: label_values.iter().map(|value| value.to_string()).collect(),
            });
        }
        Ok(names
            .iter()
            .zip(label_values)
            .map(|(name, value)| label_pair(name, value))
            .collect())
    }

    fn wrong_kind(&self, use_instead: &'static str) -> BuildError {
        debug_assert!(
            false,
            "metric {} is a {}; use {use_instead}",
            self.def.name, self.def.kind
        );
        BuildError::WrongKind {
            metric: self.def.name,
            kind: self.def.kind,
            use_instead,
        }
    }
}

/// Observations of a histogram metric, counted into the definition's buckets.
///
/// Keep one per label set, call [`observe`](Self::observe) for each value, and hand it to
/// [`FamilyBuilder::observations`] when building the family.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramAccumulator {
    bounds: &'static [f64],
    /// Non-cumulative counts: one per bound, then one for values above the last bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl HistogramAccumulator {
    /// Starts an empty accumulator with the buckets of `def`.
    pub fn new(def: &'static MetricDef) -> Self {
        debug_assert_eq!(
            def.kind,
            MetricKind::Histogram,
            "{} is not a histogram",
            def.name
        );
        Self {
            bounds: def.buckets,
            counts: vec![0; def.buckets.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Restores an accumulator from its cumulative bucket counts, sum and count, as
    /// [`cumulative_counts`](Self::cumulative_counts), [`sum`](Self::sum) and
    /// [`count`](Self::count) returned them.
    pub fn from_parts(
        def: &'static MetricDef,
        cumulative_counts: &[u64],
        sum: f64,
        count: u64,
    ) -> Result<Self, BuildError> {
        if def.kind != MetricKind::Histogram {
            return Err(BuildError::WrongKind {
                metric: def.name,
                kind: def.kind,
                use_instead: "a histogram definition",
            });
        }
        check_cumulative_counts(def, cumulative_counts, count)?;

        let mut counts = Vec::with_capacity(cumulative_counts.len() + 1);
        let mut previous = 0;
        for cumulative in cumulative_counts {
            counts.push(cumulative - previous);
            previous = *cumulative;
        }
        counts.push(count - previous);
        Ok(Self {
            bounds: def.buckets,
            counts,
            sum,
            count,
        })
    }

    /// Counts `value` into the first bucket whose upper bound is at least `value`.
    ///
    /// NaN is ignored, because it would turn the sum into NaN for good.
    pub fn observe(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        let index = self.bounds.partition_point(|bound| *bound < value);
        self.counts[index] += 1;
        self.sum += value;
        self.count += 1;
    }

    /// Cumulative counts, one per bucket bound, `+Inf` excluded.
    pub fn cumulative_counts(&self) -> Vec<u64> {
        let mut total = 0;
        self.counts[..self.bounds.len()]
            .iter()
            .map(|count| {
                total += count;
                total
            })
            .collect()
    }

    /// Sum of the observed values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Number of observed values.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Sets the labels `labels` on every sample of `family`, replacing the value of a label with
/// the same name, as the Pushgateway does with grouping labels such as `job` and `instance`.
/// New labels are appended after the existing ones.
pub fn add_labels(family: &mut MetricFamily, labels: &[(&str, &str)]) {
    for metric in family.mut_metric() {
        for (name, value) in labels {
            match metric.label.iter_mut().find(|pair| pair.name() == *name) {
                Some(pair) => pair.set_value(value.to_string()),
                None => metric.label.push(label_pair(name, value)),
            }
        }
    }
}

/// Builds the label pairs of a metric from `(name, value)` pairs, in order.
pub fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(name, value)| label_pair(name, value))
        .collect()
}

fn label_pair(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::new();
    pair.set_name(name.to_string());
    pair.set_value(value.to_string());
    pair
}

fn metric_type(kind: MetricKind) -> MetricType {
    match kind {
        MetricKind::Gauge => MetricType::GAUGE,
        MetricKind::Counter => MetricType::COUNTER,
        MetricKind::Histogram => MetricType::HISTOGRAM,
    }
}

fn check_cumulative_counts(
    def: &'static MetricDef,
    cumulative_counts: &[u64],
    count: u64,
) -> Result<(), BuildError> {
    if cumulative_counts.len() != def.buckets.len() {
        return Err(BuildError::Buckets {
            metric: def.name,
            detail: format!(
                "expected {} cumulative bucket counts for the bounds {:?}, got {}: {cumulative_counts:?}",
                def.buckets.len(),
                def.buckets,
                cumulative_counts.len()
            ),
        });
    }
    let decreasing = cumulative_counts.windows(2).any(|pair| pair[0] > pair[1]);
    let above_count = cumulative_counts.last().is_some_and(|last| *last > count);
    if decreasing || above_count {
        return Err(BuildError::Buckets {
            metric: def.name,
            detail: format!(
                "cumulative bucket counts must not decrease or exceed the count {count}, \
                 got {cumulative_counts:?}"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{
        BUILDER_READY, HUB_POLLS_TOTAL, PUSH_TIME_SECONDS, TASK_RUN_SECONDS, TASK_WAIT_SECONDS,
        TASKS,
    };

    fn labels(metric: &Metric) -> Vec<(&str, &str)> {
        metric
            .get_label()
            .iter()
            .map(|pair| (pair.name(), pair.value()))
            .collect()
    }

    #[test]
    fn gauge_samples_in_def_order() {
        let mut builder = FamilyBuilder::new(&TASKS);
        builder
            .sample(&["open", "default", "buildArch", "f44"], 3.0)
            .unwrap();
        let family = builder.build();

        assert_eq!(family.name(), "koji_tasks");
        assert_eq!(family.help(), TASKS.help);
        assert_eq!(family.get_field_type(), MetricType::GAUGE);
        let metric = &family.get_metric()[0];
        assert_eq!(
            labels(metric),
            [
                ("state", "open"),
                ("channel", "default"),
                ("method", "buildArch"),
                ("tag", "f44")
            ]
        );
        assert_eq!(metric.get_gauge().value(), 3.0);
        assert!(!metric.has_timestamp_ms());
    }

    #[test]
    fn counter_samples_chain() {
        let mut builder = FamilyBuilder::new(&HUB_POLLS_TOTAL);
        builder
            .sample(&["success"], 10.0)
            .unwrap()
            .sample(&["failure"], 2.0)
            .unwrap();
        assert_eq!(builder.len(), 2);
        let family = builder.build();
        assert_eq!(family.get_field_type(), MetricType::COUNTER);
        assert_eq!(family.get_metric()[1].get_counter().value(), 2.0);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "takes the labels")]
    fn label_count_mismatch_panics_in_debug() {
        let mut builder = FamilyBuilder::new(&BUILDER_READY);
        let _result = builder.sample(&["builder01", "extra"], 1.0);
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn label_count_mismatch_is_error_in_release() {
        let mut builder = FamilyBuilder::new(&BUILDER_READY);
        let error = builder.sample(&["builder01", "extra"], 1.0).unwrap_err();
        assert!(matches!(
            error,
            BuildError::LabelCount {
                expected: 1,
                got: 2,
                ..
            }
        ));
        assert!(builder.is_empty());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "is a histogram")]
    fn gauge_sample_on_histogram_panics_in_debug() {
        let mut builder = FamilyBuilder::new(&TASK_RUN_SECONDS);
        let _result = builder.sample(&["default", "build"], 1.0);
    }

    #[test]
    fn histogram_from_counts() {
        let mut builder = FamilyBuilder::new(&TASK_WAIT_SECONDS);
        let counts = [1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4];
        builder
            .histogram(&["default", "build"], &counts, 5000.5, 5)
            .unwrap();
        let family = builder.build();

        assert_eq!(family.get_field_type(), MetricType::HISTOGRAM);
        let histogram = family.get_metric()[0].get_histogram();
        assert_eq!(histogram.get_sample_count(), 5);
        assert_eq!(histogram.get_sample_sum(), 5000.5);
        let bounds: Vec<f64> = histogram
            .get_bucket()
            .iter()
            .map(|b| b.upper_bound())
            .collect();
        assert_eq!(bounds, TASK_WAIT_SECONDS.buckets);
        let cumulative: Vec<u64> = histogram
            .get_bucket()
            .iter()
            .map(|b| b.cumulative_count())
            .collect();
        assert_eq!(cumulative, counts);
    }

    #[test]
    fn histogram_rejects_bad_counts() {
        let mut builder = FamilyBuilder::new(&TASK_WAIT_SECONDS);
        let short = builder
            .histogram(&["default", "build"], &[1, 2], 1.0, 2)
            .unwrap_err();
        assert!(
            short
                .to_string()
                .contains("expected 11 cumulative bucket counts"),
            "{short}"
        );

        let decreasing = [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        let error = builder
            .histogram(&["default", "build"], &decreasing, 1.0, 2)
            .unwrap_err();
        assert!(error.to_string().contains("must not decrease"), "{error}");

        let above_count = [3; 11];
        let error = builder
            .histogram(&["default", "build"], &above_count, 1.0, 2)
            .unwrap_err();
        assert!(error.to_string().contains("exceed the count 2"), "{error}");
        assert!(builder.is_empty());
    }

    #[test]
    fn accumulator_counts_inclusive_upper_bounds() {
        let mut accumulator = HistogramAccumulator::new(&TASK_RUN_SECONDS);
        for value in [0.0, 10.0, 10.5, 86400.0, 90000.0, f64::NAN, -1.0] {
            accumulator.observe(value);
        }

        assert_eq!(accumulator.count(), 6);
        assert_eq!(
            accumulator.sum(),
            0.0 + 10.0 + 10.5 + 86400.0 + 90000.0 - 1.0
        );
        assert_eq!(
            accumulator.cumulative_counts(),
            [3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5]
        );

        let mut builder = FamilyBuilder::new(&TASK_RUN_SECONDS);
        builder
            .observations(&["default", "build"], &accumulator)
            .unwrap();
        let family = builder.build();
        let histogram = family.get_metric()[0].get_histogram();
        assert_eq!(histogram.get_sample_count(), 6);
        assert_eq!(histogram.get_bucket()[10].cumulative_count(), 5);
    }

    #[test]
    fn accumulator_restores_from_parts() {
        let mut accumulator = HistogramAccumulator::new(&TASK_RUN_SECONDS);
        for value in [5.0, 45.0, 45.0, 100000.0] {
            accumulator.observe(value);
        }
        let restored = HistogramAccumulator::from_parts(
            &TASK_RUN_SECONDS,
            &accumulator.cumulative_counts(),
            accumulator.sum(),
            accumulator.count(),
        )
        .unwrap();
        assert_eq!(restored, accumulator);

        let error =
            HistogramAccumulator::from_parts(&TASK_RUN_SECONDS, &[1; 11], 1.0, 0).unwrap_err();
        assert!(error.to_string().contains("exceed the count 0"), "{error}");
    }

    #[test]
    fn add_labels_appends_and_overwrites() {
        let mut builder = FamilyBuilder::new(&PUSH_TIME_SECONDS);
        builder.sample(&[], 1.7e9).unwrap();
        let mut family = builder.build();
        add_labels(
            &mut family,
            &[("job", "koji-agent"), ("instance", "builder01")],
        );
        add_labels(&mut family, &[("instance", "builder02")]);

        assert_eq!(
            labels(&family.get_metric()[0]),
            [("job", "koji-agent"), ("instance", "builder02")]
        );
    }
}

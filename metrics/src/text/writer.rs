//! The text writer: the layout of `prometheus::TextEncoder`, with the special float values
//! spelled as the text format requires.

use std::fmt::Write;

use prometheus::proto::{Metric, MetricFamily, MetricType};

use super::type_name;

/// Writes one family in the layout of `prometheus::TextEncoder`.
pub(super) fn write_family(out: &mut String, family: &MetricFamily) {
    let name = family.name();
    if !family.help().is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_into(out, family.help(), false);
        out.push('\n');
    }
    let metric_type = family.get_field_type();
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(type_name(metric_type));
    out.push('\n');

    for metric in family.get_metric() {
        match metric_type {
            MetricType::COUNTER => {
                write_sample(out, name, "", metric, None, metric.get_counter().value());
            }
            MetricType::GAUGE => {
                write_sample(out, name, "", metric, None, metric.get_gauge().value());
            }
            MetricType::UNTYPED => {
                let value = metric
                    .untyped
                    .as_ref()
                    .map_or(0.0, |untyped| untyped.value());
                write_sample(out, name, "", metric, None, value);
            }
            MetricType::SUMMARY => {
                let summary = metric.get_summary();
                for quantile in summary.get_quantile() {
                    let label = format_float(quantile.quantile());
                    let value = quantile.value();
                    write_sample(out, name, "", metric, Some(("quantile", &label)), value);
                }
                write_sample(out, name, "_sum", metric, None, summary.sample_sum());
                let count = summary.sample_count() as f64;
                write_sample(out, name, "_count", metric, None, count);
            }
            MetricType::HISTOGRAM => {
                let histogram = metric.get_histogram();
                let mut inf_seen = false;
                for bucket in histogram.get_bucket() {
                    let bound = bucket.upper_bound();
                    inf_seen |= bound == f64::INFINITY;
                    let label = format_float(bound);
                    let count = bucket.cumulative_count() as f64;
                    write_sample(out, name, "_bucket", metric, Some(("le", &label)), count);
                }
                let count = histogram.get_sample_count() as f64;
                if !inf_seen {
                    write_sample(out, name, "_bucket", metric, Some(("le", "+Inf")), count);
                }
                write_sample(out, name, "_sum", metric, None, histogram.get_sample_sum());
                write_sample(out, name, "_count", metric, None, count);
            }
        }
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    metric: &Metric,
    extra_label: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let labels = metric.get_label();
    if !labels.is_empty() || extra_label.is_some() {
        let mut separator = '{';
        let pairs = labels
            .iter()
            .map(|pair| (pair.name(), pair.value()))
            .chain(extra_label);
        for (label, label_value) in pairs {
            out.push(separator);
            out.push_str(label);
            out.push_str("=\"");
            escape_into(out, label_value, true);
            out.push('"');
            separator = ',';
        }
        out.push('}');
    }
    out.push(' ');
    write_float(out, value);
    if metric.timestamp_ms() != 0 {
        out.push(' ');
        out.push_str(&metric.timestamp_ms().to_string());
    }
    out.push('\n');
}

/// Writes `value` as a sample value or an `le` or `quantile` label value. The special values
/// are written `+Inf`, `-Inf` and `NaN` as the text format requires, where Rust's `Display`
/// writes `inf` and `-inf`. Every other value takes the shortest decimal form that reads back
/// as the same `f64`.
pub fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        write!(out, "{value}").expect("writing into a String cannot fail");
    }
}

/// Returns `value` as [`write_float`] writes it.
pub fn format_float(value: f64) -> String {
    let mut text = String::new();
    write_float(&mut text, value);
    text
}

/// Escapes `\` and line feed, and `"` when `quote` is set, as the text format requires.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            other => out.push(other),
        }
    }
}

//! Text format 0.0.4 written straight from stored series, byte for byte as
//! `koji_metrics::encode_text` writes the same series from protobuf families, without
//! building a protobuf object per series.

use koji_metrics::text::{format_float, write_float};
use prometheus::proto::MetricType;

use super::compact::SampleValue;

/// Writes the HELP line (when `help` is not empty) and the TYPE line of a family.
pub fn write_header(out: &mut String, name: &str, help: &str, kind: MetricType) {
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_into(out, help, false);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(type_name(kind));
    out.push('\n');
}

/// Writes the sample lines of one series with `labels` in the given order. With `escape`
/// false the caller promises that no label value needs escaping, which saves scanning them.
pub fn write_series(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    value: &SampleValue,
    escape: bool,
) {
    let sample = |out: &mut String, suffix: &str, extra: Option<(&str, &str)>, value: f64| {
        write_sample(out, name, suffix, labels, extra, value, escape);
    };
    match value {
        SampleValue::Simple(value) => sample(out, "", None, *value),
        SampleValue::Summary(summary) => {
            for (quantile, value) in &summary.quantiles {
                let quantile = format_float(*quantile);
                sample(out, "", Some(("quantile", &quantile)), *value);
            }
            sample(out, "_sum", None, summary.sum);
            sample(out, "_count", None, summary.count as f64);
        }
        SampleValue::Histogram(histogram) => {
            let mut inf_seen = false;
            for (bound, count) in &histogram.buckets {
                inf_seen |= *bound == f64::INFINITY;
                let bound = format_float(*bound);
                sample(out, "_bucket", Some(("le", &bound)), *count as f64);
            }
            let count = histogram.count as f64;
            if !inf_seen {
                sample(out, "_bucket", Some(("le", "+Inf")), count);
            }
            sample(out, "_sum", None, histogram.sum);
            sample(out, "_count", None, count);
        }
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&str, &str)],
    extra_label: Option<(&str, &str)>,
    value: f64,
    escape: bool,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || extra_label.is_some() {
        let mut separator = '{';
        for (label, label_value) in labels.iter().copied().chain(extra_label) {
            out.push(separator);
            out.push_str(label);
            out.push_str("=\"");
            if escape {
                escape_into(out, label_value, true);
            } else {
                out.push_str(label_value);
            }
            out.push('"');
            separator = ',';
        }
        out.push('}');
    }
    out.push(' ');
    write_float(out, value);
    out.push('\n');
}

/// Escapes `\` and line feed, and `"` when `quote` is set, as the text format requires.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    if !text
        .bytes()
        .any(|byte| byte == b'\\' || byte == b'\n' || (quote && byte == b'"'))
    {
        out.push_str(text);
        return;
    }
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            other => out.push(other),
        }
    }
}

/// Returns the lower-case type name of a TYPE line.
pub fn type_name(kind: MetricType) -> &'static str {
    match kind {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::SUMMARY => "summary",
        MetricType::UNTYPED => "untyped",
        MetricType::HISTOGRAM => "histogram",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::compact::{HistogramValue, SummaryValue};

    fn series_text(value: &SampleValue) -> String {
        let mut out = String::new();
        write_series(&mut out, "m", &[("host", "b1")], value, false);
        out
    }

    #[test]
    fn special_values_written() {
        for (value, expected) in [
            (f64::INFINITY, "m{host=\"b1\"} +Inf\n"),
            (f64::NEG_INFINITY, "m{host=\"b1\"} -Inf\n"),
            (f64::NAN, "m{host=\"b1\"} NaN\n"),
        ] {
            assert_eq!(series_text(&SampleValue::Simple(value)), expected);
        }
    }

    #[test]
    fn infinite_bucket_bound_written() {
        let histogram = SampleValue::Histogram(Box::new(HistogramValue {
            buckets: vec![(f64::NEG_INFINITY, 0), (1.0, 1), (f64::INFINITY, 2)],
            sum: f64::INFINITY,
            count: 2,
        }));
        let text = series_text(&histogram);

        assert!(
            text.contains("m_bucket{host=\"b1\",le=\"-Inf\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("m_bucket{host=\"b1\",le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert_eq!(text.matches("le=\"+Inf\"").count(), 1, "{text}");
        assert!(text.contains("m_sum{host=\"b1\"} +Inf\n"), "{text}");
    }

    #[test]
    fn special_quantiles_written() {
        let summary = SampleValue::Summary(Box::new(SummaryValue {
            quantiles: vec![
                (0.5, f64::NEG_INFINITY),
                (0.9, f64::NAN),
                (f64::INFINITY, 1.0),
            ],
            sum: f64::NEG_INFINITY,
            count: 3,
        }));
        let text = series_text(&summary);

        assert!(
            text.contains("m{host=\"b1\",quantile=\"0.5\"} -Inf\n"),
            "{text}"
        );
        assert!(
            text.contains("m{host=\"b1\",quantile=\"0.9\"} NaN\n"),
            "{text}"
        );
        assert!(
            text.contains("m{host=\"b1\",quantile=\"+Inf\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("m_sum{host=\"b1\"} -Inf\n"), "{text}");
    }
}

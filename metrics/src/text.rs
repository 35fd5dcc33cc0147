//! The Prometheus text exposition format 0.0.4: a strict parser for push bodies and a writer.
//!
//! The parser rejects every input that the Go `expfmt` text parser rejects, as vendored in
//! Pushgateway 1.5 and promtool 2.42. It applies the same line-level rules. Every line ends in
//! `\n`. Label values escape only `\\`, `\"` and `\n`, and HELP escapes only `\\` and `\n`.
//! A family has at most one HELP and one TYPE line, and TYPE comes before its samples. Names
//! are never quoted, because the Pushgateway rejects UTF-8 names by default. The parser is
//! stricter in a few places where the Go parser keeps broken data or drops it silently:
//!
//! - a carriage return anywhere is an error (Go accepts one in label values and HELP text);
//! - the lines of one family must be contiguous, as the format requires;
//! - label names starting with `__` are rejected here, where the Pushgateway rejects them
//!   later in its consistency check;
//! - histogram and summary samples must carry the suffix and the `le` or `quantile` label
//!   that fits them, and their counts must be whole numbers;
//! - the bucket bounds of one histogram series must ascend, and a series may not repeat a
//!   bucket, quantile, `_sum` or `_count`;
//! - a family whose sample names clash with the `_bucket`, `_sum` or `_count` samples of a
//!   histogram or summary in the same body is rejected, as the Pushgateway's consistency
//!   check rejects it.
//!
//! Timestamps are kept on the metric (`timestamp_ms`), so a receiver can reject them.

use prometheus::proto::{MetricFamily, MetricType};

mod parser;
mod writer;

use parser::parse;
use writer::write_family;
pub use writer::{format_float, write_float};

/// The content type of text format 0.0.4, exactly as Prometheus and the Pushgateway send it.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A text body that is not valid exposition format 0.0.4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("text format error in line {line}: {message}")]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// Description of the problem, quoting the offending text.
    pub message: String,
}

/// Parses a text format 0.0.4 body into metric families, in the order in which the families
/// first appear. Families without samples are left out. Duplicate series are kept, as the Go
/// parser keeps them, and [`crate::check::find_duplicate_series`] finds them.
pub fn parse_text(input: &[u8]) -> Result<Vec<MetricFamily>, ParseError> {
    parse(input)
}

/// Encodes `families` as text format 0.0.4 with [`TEXT_CONTENT_TYPE`].
///
/// Families without a name or without samples are skipped, because the format has no way to
/// write them. Every other family is written in the layout of `prometheus::TextEncoder` by the
/// writer of this module. `TextEncoder` 0.14 is not used, because it writes infinite values as
/// `inf` and `-inf` where the format requires `+Inf` and `-Inf`. It also labels an explicit
/// `+Inf` bucket `le="inf"` and panics on untyped families.
pub fn encode_text(families: &[MetricFamily]) -> String {
    let mut out = String::new();
    for family in families {
        if family.name().is_empty() || family.get_metric().is_empty() {
            continue;
        }
        write_family(&mut out, family);
    }
    out
}

/// Parses `data` and, when it parses, checks that writing and reading it back is stable:
/// the written text parses again and writes the same text. Panics when that does not hold,
/// and returns whether `data` parsed.
///
/// This is the entry point for fuzzers and property tests; any panic is a bug.
pub fn fuzz_round_trip(data: &[u8]) -> bool {
    let Ok(families) = parse_text(data) else {
        return false;
    };
    let text = encode_text(&families);
    let reparsed = match parse_text(text.as_bytes()) {
        Ok(reparsed) => reparsed,
        Err(error) => {
            panic!("written text does not parse: {error}\ninput: {data:?}\ntext:\n{text}")
        }
    };
    let rewritten = encode_text(&reparsed);
    assert_eq!(
        text, rewritten,
        "written text changes on a second round trip"
    );
    true
}

/// Returns the sample name suffixes that a family of `metric_type` writes besides its name.
pub(crate) fn complex_suffixes(metric_type: MetricType) -> &'static [&'static str] {
    match metric_type {
        MetricType::HISTOGRAM => &["_bucket", "_sum", "_count"],
        MetricType::SUMMARY => &["_sum", "_count"],
        _ => &[],
    }
}

/// Returns the lower-case type name as written on a TYPE line.
pub(crate) fn type_name(metric_type: MetricType) -> &'static str {
    match metric_type {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::SUMMARY => "summary",
        MetricType::UNTYPED => "untyped",
        MetricType::HISTOGRAM => "histogram",
    }
}

#[cfg(test)]
mod tests;

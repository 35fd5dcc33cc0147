//! The metric contract shared by `koji-agent` and `koji-aggregator`, and the codecs and checks
//! for pushed metrics.
//!
//! - [`contract`]: one [`MetricDef`] per exported metric, and [`contract::ALL`].
//! - [`FamilyBuilder`] and [`HistogramAccumulator`]: `MetricFamily` values from definitions.
//! - [`text`]: a strict parser for text format 0.0.4 and a writer.
//! - [`protobuf`]: the Pushgateway's varint-delimited `MetricFamily` stream.
//! - [`gzip`]: decompression with a size limit, and compression.
//! - [`check`]: duplicate series, type conflicts and suffix clashes across families.
//! - [`render`]: one exposition from families gathered from several places.
//!
//! Families use the protobuf model of the `prometheus` crate, re-exported as [`proto`].

#![deny(missing_docs)]

pub mod check;
pub mod contract;
mod family;
pub mod gzip;
pub mod names;
pub mod protobuf;
pub mod render;
pub mod text;

pub use contract::{MetricDef, MetricKind};
pub use family::{BuildError, FamilyBuilder, HistogramAccumulator, add_labels, label_pairs};
pub use prometheus::proto;
pub use render::{Rendered, merge_families, render};
pub use text::{TEXT_CONTENT_TYPE, encode_text};

#[cfg(test)]
mod tests {
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn errors_fit_anyhow() {
        assert_error::<crate::BuildError>();
        assert_error::<crate::text::ParseError>();
        assert_error::<crate::protobuf::DecodeError>();
        assert_error::<crate::protobuf::EncodeError>();
        assert_error::<crate::gzip::GzipError>();
        assert_error::<crate::check::InvalidFamily>();
    }

    #[test]
    fn content_types_match_encoders() {
        assert!(crate::text::TEXT_CONTENT_TYPE.starts_with(prometheus::TEXT_FORMAT));
        assert_eq!(
            crate::protobuf::PROTOBUF_CONTENT_TYPE,
            prometheus::PROTOBUF_FORMAT
        );
    }
}

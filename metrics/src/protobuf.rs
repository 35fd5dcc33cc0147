//! The Pushgateway's protobuf body: a stream of `io.prometheus.client.MetricFamily` messages,
//! each preceded by its length as a varint.

use ::protobuf::Message;
use prometheus::proto::MetricFamily;

use crate::check::{InvalidFamily, validate_family};

/// The content type of a delimited protobuf body, as client_golang and the Pushgateway write
/// it.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Maximum length in bytes of the varint of a 64-bit value.
const MAX_VARINT_LEN: usize = 10;

/// A protobuf body that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The stream ends inside a length prefix.
    #[error("truncated protobuf stream: the length prefix at byte {offset} is cut off")]
    TruncatedLength {
        /// Byte offset of the length prefix.
        offset: usize,
    },
    /// A length prefix longer than a 64-bit varint.
    #[error("invalid length prefix at byte {offset}: longer than {MAX_VARINT_LEN} bytes")]
    InvalidLength {
        /// Byte offset of the length prefix.
        offset: usize,
    },
    /// The stream ends inside a message.
    #[error(
        "truncated protobuf stream: message {index} at byte {offset} declares {declared} bytes, \
         but only {remaining} remain"
    )]
    TruncatedMessage {
        /// 0-based position of the message in the stream.
        index: usize,
        /// Byte offset of the message, after its length prefix.
        offset: usize,
        /// Length from the prefix.
        declared: u64,
        /// Bytes left in the stream.
        remaining: usize,
    },
    /// A message that is not a valid `MetricFamily`.
    #[error("message {index} at byte {offset} is not a valid MetricFamily: {reason}")]
    Message {
        /// 0-based position of the message in the stream.
        index: usize,
        /// Byte offset of the message, after its length prefix.
        offset: usize,
        /// The protobuf library's error.
        reason: ::protobuf::Error,
    },
    /// A family that breaks the data model.
    #[error("message {index}: {reason}")]
    InvalidFamily {
        /// 0-based position of the message in the stream.
        index: usize,
        /// The validation error of the family.
        reason: InvalidFamily,
    },
    /// Two messages with the same family name, which the Pushgateway would let overwrite each
    /// other silently.
    #[error(
        "messages {first} and {second} both carry metric family {name:?}; send each family once"
    )]
    RepeatedFamily {
        /// Family name.
        name: String,
        /// 0-based position of the first message.
        first: usize,
        /// 0-based position of the repeated message.
        second: usize,
    },
}

/// A family that the protobuf library cannot encode.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode metric family {name:?} as protobuf: {reason}")]
pub struct EncodeError {
    /// Family name.
    pub name: String,
    /// The protobuf library's error.
    pub reason: ::protobuf::Error,
}

/// Returns true when `content_type` selects the delimited protobuf format, by the
/// Pushgateway's rule: media type `application/vnd.google.protobuf` with the parameters
/// `proto=io.prometheus.client.MetricFamily` and `encoding=delimited`. Every other body is
/// text format 0.0.4.
pub fn is_protobuf_content_type(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/vnd.google.protobuf") {
        return false;
    }
    let mut proto = None;
    let mut encoding = None;
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|value| value.strip_suffix('"'))
            .unwrap_or(value);
        match name.trim().to_ascii_lowercase().as_str() {
            "proto" => proto = Some(value),
            "encoding" => encoding = Some(value),
            _ => {}
        }
    }
    proto == Some("io.prometheus.client.MetricFamily") && encoding == Some("delimited")
}

/// Decodes a varint-delimited stream of `MetricFamily` messages and checks each family with
/// [`validate_family`]. Families without samples are left out, as the text parser leaves
/// them out. Timestamps stay on the metrics.
///
/// NOTE: this `MetricFamily` schema predates native histograms, so their fields are kept only
/// as unknown fields. A histogram that has only native buckets reads as one without buckets.
pub fn decode_delimited(bytes: &[u8]) -> Result<Vec<MetricFamily>, DecodeError> {
    let mut families: Vec<MetricFamily> = Vec::new();
    let mut first_index: std::collections::HashMap<String, usize> = Default::default();
    let mut offset = 0;
    let mut index = 0;

    while offset < bytes.len() {
        let (declared, prefix_len) =
            read_varint(&bytes[offset..]).map_err(|error| match error {
                VarintError::Truncated => DecodeError::TruncatedLength { offset },
                VarintError::TooLong => DecodeError::InvalidLength { offset },
            })?;
        offset += prefix_len;
        let remaining = bytes.len() - offset;
        let length = usize::try_from(declared)
            .ok()
            .filter(|length| *length <= remaining)
            .ok_or(DecodeError::TruncatedMessage {
                index,
                offset,
                declared,
                remaining,
            })?;

        let message = &bytes[offset..offset + length];
        let family =
            MetricFamily::parse_from_bytes(message).map_err(|reason| DecodeError::Message {
                index,
                offset,
                reason,
            })?;
        validate_family(&family).map_err(|reason| DecodeError::InvalidFamily { index, reason })?;
        if let Some(first) = first_index.insert(family.name().to_string(), index) {
            return Err(DecodeError::RepeatedFamily {
                name: family.name().to_string(),
                first,
                second: index,
            });
        }
        if !family.get_metric().is_empty() {
            families.push(family);
        }

        offset += length;
        index += 1;
    }
    Ok(families)
}

/// Encodes `families` as a varint-delimited stream with [`PROTOBUF_CONTENT_TYPE`].
pub fn encode_delimited(families: &[MetricFamily]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    for family in families {
        family
            .write_length_delimited_to_vec(&mut out)
            .map_err(|reason| EncodeError {
                name: family.name().to_string(),
                reason,
            })?;
    }
    Ok(out)
}

enum VarintError {
    /// The bytes end inside the varint.
    Truncated,
    /// The varint is longer than a 64-bit value needs.
    TooLong,
}

/// Reads a varint from the start of `bytes`, returning the value and its length in bytes.
fn read_varint(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (position, byte) in bytes.iter().enumerate() {
        if position == MAX_VARINT_LEN {
            return Err(VarintError::TooLong);
        }
        value |= u64::from(byte & 0x7F) << (7 * position);
        if byte & 0x80 == 0 {
            return Ok((value, position + 1));
        }
    }
    Err(VarintError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{BUILDER_READY, TASK_WAIT_SECONDS};
    use crate::family::{FamilyBuilder, HistogramAccumulator};

    fn sample_families() -> Vec<MetricFamily> {
        let mut ready = FamilyBuilder::new(&BUILDER_READY);
        ready
            .sample(&["builder01"], 1.0)
            .unwrap()
            .sample(&["builder02"], 0.0)
            .unwrap();
        let mut ready = ready.build();
        ready.mut_metric()[1].set_timestamp_ms(1_700_000_000_000);

        let mut accumulator = HistogramAccumulator::new(&TASK_WAIT_SECONDS);
        accumulator.observe(42.0);
        let mut wait = FamilyBuilder::new(&TASK_WAIT_SECONDS);
        wait.observations(&["default", "build"], &accumulator)
            .unwrap();
        vec![ready, wait.build()]
    }

    #[test]
    fn round_trip() {
        let families = sample_families();
        let bytes = encode_delimited(&families).unwrap();
        let decoded = decode_delimited(&bytes).unwrap();
        assert_eq!(decoded, families);
        assert_eq!(
            decoded[0].get_metric()[1].timestamp_ms,
            Some(1_700_000_000_000)
        );
    }

    #[test]
    fn empty_stream_has_no_families() {
        assert!(decode_delimited(&[]).unwrap().is_empty());
    }

    #[test]
    fn truncated_message_reported() {
        let bytes = encode_delimited(&sample_families()).unwrap();
        for cut in [1, 3, bytes.len() / 2, bytes.len() - 1] {
            let error = decode_delimited(&bytes[..cut]).unwrap_err();
            assert!(
                error.to_string().starts_with("truncated protobuf stream"),
                "{error}"
            );
        }
        let error = decode_delimited(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(
            matches!(error, DecodeError::TruncatedMessage { index: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn truncated_length_reported() {
        let error = decode_delimited(&[0x80, 0x80]).unwrap_err();
        assert!(
            matches!(error, DecodeError::TruncatedLength { offset: 0 }),
            "{error}"
        );

        let error = decode_delimited(&[0xFF; 11]).unwrap_err();
        assert!(
            matches!(error, DecodeError::InvalidLength { offset: 0 }),
            "{error}"
        );
    }

    #[test]
    fn garbage_message_reported() {
        // Field 1 declared as a 5-byte string, but with wire type 7, which does not exist.
        let error = decode_delimited(&[2, 0x0F, 0x00]).unwrap_err();
        assert!(
            matches!(
                error,
                DecodeError::Message {
                    index: 0,
                    offset: 1,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn repeated_family_rejected() {
        let mut families = sample_families();
        families.push(families[0].clone());
        let bytes = encode_delimited(&families).unwrap();
        let error = decode_delimited(&bytes).unwrap_err();
        assert!(
            matches!(
                error,
                DecodeError::RepeatedFamily {
                    first: 0,
                    second: 2,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn invalid_family_rejected() {
        let mut families = sample_families();
        families[0].set_name("koji-builder-ready".to_string());
        let bytes = encode_delimited(&families).unwrap();
        let error = decode_delimited(&bytes).unwrap_err();
        assert!(error.to_string().contains("invalid metric name"), "{error}");
    }

    #[test]
    fn content_type_detection() {
        assert!(is_protobuf_content_type(PROTOBUF_CONTENT_TYPE));
        assert!(is_protobuf_content_type(
            "Application/Vnd.Google.Protobuf;encoding=\"delimited\";proto=io.prometheus.client.MetricFamily"
        ));
        assert!(!is_protobuf_content_type(
            "application/vnd.google.protobuf; encoding=delimited"
        ));
        assert!(!is_protobuf_content_type(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text"
        ));
        assert!(!is_protobuf_content_type(crate::text::TEXT_CONTENT_TYPE));
        assert!(!is_protobuf_content_type(""));
    }
}

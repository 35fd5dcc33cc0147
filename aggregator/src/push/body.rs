//! Push bodies: read with a size limit, gunzipped with the same limit, and decoded as the
//! Pushgateway decides: delimited protobuf for its exact content type, text format 0.0.4
//! for everything else.

use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use koji_metrics::gzip::{GzipError, gunzip_limited};
use koji_metrics::protobuf::{decode_delimited, is_protobuf_content_type};
use koji_metrics::text::parse_text;
use prometheus::proto::MetricFamily;

use super::rejection::{Reason, Rejection};

/// Bodies at least this large are decoded on the blocking thread pool, so that a large push
/// does not stall the other requests of a runtime worker.
pub const BLOCKING_DECODE_BYTES: usize = 256 * 1024;

/// Reads `body` into memory, rejecting it with [`Reason::BodyTooLarge`] as soon as it
/// exceeds `max_bytes` (or when its `Content-Length` announces more).
pub async fn read_limited(
    headers: &HeaderMap,
    mut body: Body,
    max_bytes: usize,
) -> Result<Bytes, Rejection> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if let Some(length) = announced
        && length > max_bytes as u64
    {
        return Err(too_large(&format!(" (Content-Length {length})"), max_bytes));
    }

    let mut collected: Vec<u8> = Vec::with_capacity(announced.unwrap_or(0) as usize);
    loop {
        let frame = std::future::poll_fn(|context| Pin::new(&mut body).poll_frame(context)).await;
        let Some(frame) = frame else {
            break;
        };
        let frame = frame.map_err(|error| {
            Rejection::new(
                Reason::InvalidBody,
                format!("reading the request body failed: {error}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if collected.len() + data.len() > max_bytes {
            return Err(too_large("", max_bytes));
        }
        collected.extend_from_slice(&data);
    }
    Ok(Bytes::from(collected))
}

/// Decodes a push body by its `Content-Encoding` and `Content-Type` headers.
///
/// Families without samples are left out. Nothing is checked across families here; timestamps
/// stay on the samples for the caller to reject.
pub fn decode(
    headers: &HeaderMap,
    bytes: &[u8],
    max_bytes: usize,
) -> Result<Vec<MetricFamily>, Rejection> {
    let encoding = headers
        .get(CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("(not ASCII)").trim())
        .unwrap_or("identity");
    let gunzipped;
    let bytes = if encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip")
    {
        gunzipped = gunzip_limited(bytes, max_bytes).map_err(|error| match error {
            GzipError::TooLarge { .. } => too_large(" after gunzip", max_bytes),
            GzipError::Invalid(_) => Rejection::new(Reason::InvalidBody, error.to_string()),
        })?;
        &gunzipped[..]
    } else if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        bytes
    } else {
        return Err(Rejection::new(
            Reason::InvalidBody,
            format!("unsupported Content-Encoding {encoding:?}; send the body as is or gzip it"),
        ));
    };

    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if is_protobuf_content_type(content_type) {
        decode_delimited(bytes).map_err(|error| {
            Rejection::new(
                Reason::InvalidBody,
                format!("invalid protobuf body: {error}"),
            )
        })
    } else {
        parse_text(bytes).map_err(|error| Rejection::new(Reason::InvalidBody, error.to_string()))
    }
}

/// Builds the rejection of a body over `max_bytes`. `detail` names where the size was seen.
fn too_large(detail: &str, max_bytes: usize) -> Rejection {
    Rejection::new(
        Reason::BodyTooLarge,
        format!(
            "the body exceeds the limit of {max_bytes} bytes{detail}; push fewer series, or \
             raise push.max_body_bytes in the aggregator's configuration"
        ),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use koji_metrics::protobuf::{PROTOBUF_CONTENT_TYPE, encode_delimited};

    use super::*;

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn text_is_default() {
        let families = decode(&HeaderMap::new(), b"# TYPE a gauge\na 1\n", 1000).unwrap();

        assert_eq!(families.len(), 1);
        assert_eq!(families[0].name(), "a");
    }

    #[test]
    fn protobuf_by_content_type() {
        let text = decode(&HeaderMap::new(), b"a{x=\"1\"} 2\n", 1000).unwrap();
        let bytes = encode_delimited(&text).unwrap();

        let decoded = decode(
            &headers(&[(CONTENT_TYPE, PROTOBUF_CONTENT_TYPE)]),
            &bytes,
            1000,
        );
        assert_eq!(decoded.unwrap(), text);

        // Without encoding=delimited the Pushgateway reads text, and so does this decoder.
        let wrong = headers(&[(CONTENT_TYPE, "application/vnd.google.protobuf")]);
        assert_eq!(
            decode(&wrong, &bytes, 1000).unwrap_err().reason,
            Reason::InvalidBody
        );
    }

    #[test]
    fn gzip_limit_applies_after_decompression() {
        let body = b"a 1\n".repeat(1000);
        let compressed = koji_metrics::gzip::gzip(&body);
        let gzip = headers(&[(CONTENT_ENCODING, "gzip")]);

        assert_eq!(decode(&gzip, &compressed, body.len()).unwrap().len(), 1);
        let rejection = decode(&gzip, &compressed, body.len() - 1).unwrap_err();
        assert_eq!(rejection.reason, Reason::BodyTooLarge);
        assert!(rejection.message.contains("after gunzip"), "{rejection}");
        assert!(
            rejection.message.contains("push.max_body_bytes"),
            "{rejection}"
        );
    }

    #[test]
    fn unknown_encoding_rejected() {
        let rejection = decode(&headers(&[(CONTENT_ENCODING, "br")]), b"a 1\n", 100).unwrap_err();

        assert_eq!(rejection.reason, Reason::InvalidBody);
        assert!(rejection.message.contains("\"br\""), "{rejection}");
    }

    #[test]
    fn parse_error_names_line() {
        let rejection = decode(&HeaderMap::new(), b"a 1\nb 2", 100).unwrap_err();

        assert_eq!(rejection.reason, Reason::InvalidBody);
        assert!(rejection.message.contains("line 2"), "{rejection}");
    }

    #[tokio::test]
    async fn read_stops_at_limit() {
        let body = Body::from(vec![b'x'; 101]);
        let rejection = read_limited(&HeaderMap::new(), body, 100)
            .await
            .unwrap_err();
        assert_eq!(rejection.reason, Reason::BodyTooLarge);

        let announced = headers(&[(CONTENT_LENGTH, "5000")]);
        let rejection = read_limited(&announced, Body::empty(), 100)
            .await
            .unwrap_err();
        assert!(
            rejection.message.contains("Content-Length 5000"),
            "{rejection}"
        );

        let body = Body::from(vec![b'x'; 100]);
        assert_eq!(
            read_limited(&HeaderMap::new(), body, 100)
                .await
                .unwrap()
                .len(),
            100
        );
    }
}

//! Gzip for push bodies (`Content-Encoding: gzip`), with a limit on the decompressed size so
//! that a small compressed body cannot expand without bound.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// A gzip body that cannot be decompressed within the limit.
#[derive(Debug, thiserror::Error)]
pub enum GzipError {
    /// The decompressed body exceeds the limit.
    #[error(
        "decompressed body exceeds the limit of {limit} bytes; send a smaller body or raise the \
         limit"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not valid gzip data, or ends early.
    #[error("invalid gzip body: {0}")]
    Invalid(std::io::Error),
}

/// Decompresses the gzip data in `bytes` (one or more gzip members, as Go's `gzip.Reader`
/// reads them) and stops with [`GzipError::TooLarge`] as soon as the output exceeds
/// `max_bytes`. At most `max_bytes + 1` bytes of output are held in memory.
pub fn gunzip_limited(bytes: &[u8], max_bytes: usize) -> Result<Vec<u8>, GzipError> {
    if bytes.is_empty() {
        return Err(GzipError::Invalid(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the body is empty, but Content-Encoding: gzip needs at least a gzip header",
        )));
    }
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut output = Vec::with_capacity(max_bytes.min(bytes.len().saturating_mul(4)));
    MultiGzDecoder::new(bytes)
        .take(limit)
        .read_to_end(&mut output)
        .map_err(GzipError::Invalid)?;
    if output.len() > max_bytes {
        return Err(GzipError::TooLarge { limit: max_bytes });
    }
    Ok(output)
}

/// Compresses `bytes` as one gzip member at the default level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    // GzEncoder returns errors only from the inner writer, and writing into a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into a Vec");
    encoder.finish().expect("gzip into a Vec")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let body = b"koji_builder_ready{host=\"builder01\"} 1\n".repeat(100);
        let compressed = gzip(&body);
        assert!(compressed.len() < body.len());
        assert_eq!(gunzip_limited(&compressed, body.len()).unwrap(), body);
    }

    #[test]
    fn bomb_stops_at_limit() {
        // 16 MiB of zeros compress to about 16 KiB.
        let compressed = gzip(&vec![0u8; 16 << 20]);
        assert!(compressed.len() < 64 << 10);
        let error = gunzip_limited(&compressed, 1 << 20).unwrap_err();
        assert!(
            matches!(error, GzipError::TooLarge { limit } if limit == 1 << 20),
            "{error}"
        );
        assert!(error.to_string().contains("1048576 bytes"), "{error}");
    }

    #[test]
    fn limit_is_inclusive() {
        let compressed = gzip(b"12345");
        assert_eq!(gunzip_limited(&compressed, 5).unwrap(), b"12345");
        assert!(matches!(
            gunzip_limited(&compressed, 4),
            Err(GzipError::TooLarge { limit: 4 })
        ));
    }

    #[test]
    fn concatenated_members_read() {
        let mut compressed = gzip(b"first\n");
        compressed.extend(gzip(b"second\n"));
        assert_eq!(
            gunzip_limited(&compressed, 100).unwrap(),
            b"first\nsecond\n"
        );
    }

    #[test]
    fn invalid_input_rejected() {
        let error = gunzip_limited(b"koji_builder_ready 1\n", 100).unwrap_err();
        assert!(matches!(error, GzipError::Invalid(_)), "{error}");

        let compressed = gzip(b"some text that is long enough");
        let error = gunzip_limited(&compressed[..compressed.len() - 4], 100).unwrap_err();
        assert!(matches!(error, GzipError::Invalid(_)), "{error}");

        let error = gunzip_limited(b"", 100).unwrap_err();
        assert!(error.to_string().contains("empty"), "{error}");
    }
}

//! Metric and label name rules of the Prometheus data model (without the UTF-8 names that
//! Prometheus 3 allows in quotes, which the Pushgateway rejects by default).

/// Returns true when `byte` may start a metric name: `[a-zA-Z_:]`.
pub(crate) fn is_metric_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b':'
}

/// Returns true when `byte` may continue a metric name: `[a-zA-Z0-9_:]`.
pub(crate) fn is_metric_name_continuation(byte: u8) -> bool {
    is_metric_name_start(byte) || byte.is_ascii_digit()
}

/// Returns true when `byte` may start a label name: `[a-zA-Z_]`.
pub(crate) fn is_label_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

/// Returns true when `byte` may continue a label name: `[a-zA-Z0-9_]`.
pub(crate) fn is_label_name_continuation(byte: u8) -> bool {
    is_label_name_start(byte) || byte.is_ascii_digit()
}

/// Returns true when `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            is_metric_name_start(*first) && rest.iter().all(|b| is_metric_name_continuation(*b))
        }
        None => false,
    }
}

/// Returns true when `name` matches `[a-zA-Z_][a-zA-Z0-9_]*`.
///
/// Names that start with `__` match too, and [`is_reserved_label_name`] detects them.
pub fn is_valid_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            is_label_name_start(*first) && rest.iter().all(|b| is_label_name_continuation(*b))
        }
        None => false,
    }
}

/// Returns true for label names that start with `__`, which Prometheus keeps for its own use
/// and the Pushgateway rejects in pushed samples.
pub fn is_reserved_label_name(name: &str) -> bool {
    name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        assert!(is_valid_metric_name("koji_builder_ready"));
        assert!(is_valid_metric_name("_x"));
        assert!(is_valid_metric_name("job:rate5m"));
        assert!(!is_valid_metric_name(""));
        assert!(!is_valid_metric_name("1x"));
        assert!(!is_valid_metric_name("koji-builder"));
        assert!(!is_valid_metric_name("koji.builder"));
        assert!(!is_valid_metric_name("bücher"));
    }

    #[test]
    fn label_names() {
        assert!(is_valid_label_name("host"));
        assert!(is_valid_label_name("_x1"));
        assert!(is_valid_label_name("__name__"));
        assert!(!is_valid_label_name(""));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name("9a"));
        assert!(is_reserved_label_name("__name__"));
        assert!(!is_reserved_label_name("_name"));
    }
}

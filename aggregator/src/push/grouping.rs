//! The grouping key of a push: the job and the label pairs in the URL path
//! `/metrics/job/<job>{/<label>/<value>}`, with the Pushgateway's `@base64` form for values.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use koji_metrics::names::{is_reserved_label_name, is_valid_label_name};

/// The suffix of a label name whose value follows in URL-safe base64.
const BASE64_SUFFIX: &str = "@base64";

/// The label pairs that identify a group: `job` and the pairs from the URL, sorted by name.
///
/// Cloning is cheap: the pairs are shared.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupingKey {
    labels: Arc<[(String, String)]>,
    /// True when no label value needs escaping in the text format.
    plain_values: bool,
}

/// A push URL whose path is not a valid grouping key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid grouping key in URL path {path:?}: {detail}")]
pub struct GroupingError {
    /// The path as received, after `/metrics/`.
    pub path: String,
    /// The problem and how to write the path instead.
    pub detail: String,
}

impl GroupingKey {
    /// Builds a key from label pairs; `job` must be among them. Used for keys read back from
    /// disk and in tests; pushes go through [`GroupingKey::from_path`].
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, GroupingError> {
        let mut labels: Vec<(String, String)> = pairs.into_iter().collect();
        labels.sort();
        let path = labels
            .iter()
            .map(|(name, value)| format!("{name}/{value}"))
            .collect::<Vec<_>>()
            .join("/");
        let invalid = |detail: String| GroupingError {
            path: path.clone(),
            detail,
        };

        for window in labels.windows(2) {
            if window[0].0 == window[1].0 {
                return Err(invalid(format!("label {:?} appears twice", window[0].0)));
            }
        }
        for (name, _) in &labels {
            check_label_name(name).map_err(invalid)?;
        }
        match labels.iter().find(|(name, _)| name == "job") {
            None => return Err(invalid("the label job is missing".to_string())),
            Some((_, job)) if job.is_empty() => {
                return Err(invalid("the job name is empty".to_string()));
            }
            Some(_) => {}
        }
        Ok(Self::from_sorted(labels))
    }

    fn from_sorted(labels: Vec<(String, String)>) -> Self {
        let plain_values = labels.iter().all(|(_, value)| !needs_escaping(value));
        Self {
            labels: labels.into(),
            plain_values,
        }
    }

    /// Parses the part of a push URL path after `/metrics/`, such as
    /// `job/koji-agent/instance/builder01` or `job@base64/a29qaQ/instance/builder01`.
    ///
    /// Each segment is percent-decoded. A label name ending in `@base64` takes a URL-safe
    /// base64 value, with or without padding, where `=` alone is the empty value.
    pub fn from_path(path: &str) -> Result<Self, GroupingError> {
        let invalid = |detail: String| GroupingError {
            path: path.to_string(),
            detail,
        };
        let segments: Vec<&str> = path.split('/').collect();
        if !segments.len().is_multiple_of(2) {
            return Err(invalid(
                "odd number of components: the path must be job/<job> followed by \
                 <label>/<value> pairs"
                    .to_string(),
            ));
        }
        if segments[0] != "job" && segments[0] != "job@base64" {
            return Err(invalid(
                "the path must start with job/<job> or job@base64/<base64 job>".to_string(),
            ));
        }

        let mut labels: Vec<(String, String)> = Vec::with_capacity(segments.len() / 2);
        for pair in segments.chunks_exact(2) {
            let raw_name = percent_decode(pair[0]).map_err(invalid)?;
            let raw_value = percent_decode(pair[1]).map_err(invalid)?;
            let (name, value) = match raw_name.strip_suffix(BASE64_SUFFIX) {
                Some(name) => (
                    name.to_string(),
                    decode_base64(name, &raw_value).map_err(invalid)?,
                ),
                None => {
                    if raw_value.is_empty() {
                        return Err(invalid(format!(
                            "the value of label {raw_name:?} is empty; write an empty value as \
                             {raw_name}@base64/="
                        )));
                    }
                    (raw_name, raw_value)
                }
            };
            check_label_name(&name).map_err(invalid)?;
            if labels.iter().any(|(seen, _)| *seen == name) {
                return Err(invalid(format!(
                    "label {name:?} appears twice; give each grouping label once"
                )));
            }
            labels.push((name, value));
        }

        if labels[0].1.is_empty() {
            return Err(invalid(
                "the job name is empty; every group needs a job".to_string(),
            ));
        }
        labels.sort();
        Ok(Self::from_sorted(labels))
    }

    /// Returns the label pairs sorted by name, `job` included.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// Returns the value of the label `name`, if the key has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(label, _)| label.as_str().cmp(name))
            .ok()
            .map(|index| self.labels[index].1.as_str())
    }

    /// Returns the job name.
    pub fn job(&self) -> &str {
        self.get("job").unwrap_or_default()
    }

    /// Returns the `instance` label, which names the build host, or `None` when the key has
    /// none.
    pub fn instance(&self) -> Option<&str> {
        self.get("instance")
    }

    /// Returns the host of the group: the `instance` label when it is not empty.
    pub fn host(&self) -> Option<&str> {
        self.instance().filter(|instance| !instance.is_empty())
    }

    /// Returns true when no label value contains a character that the text format escapes.
    pub fn has_plain_values(&self) -> bool {
        self.plain_values
    }

    /// Returns true when the key has a label called `name`.
    pub fn contains_name(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl fmt::Display for GroupingKey {
    /// Writes the key in selector syntax, such as `{instance="builder01",job="koji-agent"}`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("{")?;
        for (index, (name, value)) in self.labels.iter().enumerate() {
            if index > 0 {
                formatter.write_str(",")?;
            }
            write!(formatter, "{name}={value:?}")?;
        }
        formatter.write_str("}")
    }
}

/// Returns true when `value` contains a backslash, double quote or line feed, which a label
/// value in the text format must escape.
pub fn needs_escaping(value: &str) -> bool {
    value
        .bytes()
        .any(|byte| byte == b'\\' || byte == b'"' || byte == b'\n')
}

fn check_label_name(name: &str) -> Result<(), String> {
    if !is_valid_label_name(name) {
        return Err(format!(
            "invalid label name {name:?}; label names match [a-zA-Z_][a-zA-Z0-9_]*"
        ));
    }
    if is_reserved_label_name(name) {
        return Err(format!(
            "label name {name:?} is reserved: names starting with __ are for Prometheus' \
             internal use"
        ));
    }
    Ok(())
}

/// Decodes the URL-safe base64 `value` of label `name`; trailing `=` are optional, and `=`
/// alone is the empty value.
fn decode_base64(name: &str, value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD.decode(trimmed).map_err(|error| {
        format!(
            "the value {value:?} of label {name}@base64 is not URL-safe base64 ({error}); \
             encode it with the alphabet A-Z a-z 0-9 - _"
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        format!("the value {value:?} of label {name}@base64 does not decode to UTF-8 text")
    })
}

/// Decodes `%XX` escapes in one path segment.
fn percent_decode(segment: &str) -> Result<String, String> {
    if !segment.contains('%') {
        return Ok(segment.to_string());
    }
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'%' {
            decoded.push(bytes[index]);
            index += 1;
            continue;
        }
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .ok_or_else(|| format!("invalid percent escape in {segment:?}; write % as %25"))?;
        decoded.push(hex);
        index += 3;
    }
    String::from_utf8(decoded)
        .map_err(|_| format!("the segment {segment:?} does not decode to UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> GroupingKey {
        GroupingKey::from_path(path).unwrap_or_else(|error| panic!("{error}"))
    }

    fn error(path: &str) -> String {
        GroupingKey::from_path(path).unwrap_err().to_string()
    }

    #[test]
    fn plain_pairs_sorted() {
        let key = key("job/koji-agent/instance/builder01/zone/a");

        assert_eq!(
            key.labels(),
            &[
                ("instance".to_string(), "builder01".to_string()),
                ("job".to_string(), "koji-agent".to_string()),
                ("zone".to_string(), "a".to_string()),
            ]
        );
        assert_eq!(key.job(), "koji-agent");
        assert_eq!(key.host(), Some("builder01"));
        assert_eq!(
            key.to_string(),
            r#"{instance="builder01",job="koji-agent",zone="a"}"#
        );
    }

    #[test]
    fn base64_values_decode() {
        // "a/b" in URL-safe base64 with and without padding.
        assert_eq!(key("job/j/path@base64/YS9i").get("path"), Some("a/b"));
        assert_eq!(key("job/j/path@base64/YS9iYw==").get("path"), Some("a/bc"));
        assert_eq!(key("job/j/path@base64/YS9iYw").get("path"), Some("a/bc"));
        assert_eq!(key("job@base64/a29qaQ/x/1").job(), "koji");
        assert_eq!(key("job/j/instance@base64/=").instance(), Some(""));
        assert_eq!(key("job/j/instance@base64/=").host(), None);
        // '-' and '_' belong to the URL-safe alphabet: 0xfb 0xff is "-_8".
        assert!(error("job/j/x@base64/-_8").contains("UTF-8"));
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(key("job/j/host/b%C3%BCcher").get("host"), Some("bücher"));
        assert!(error("job/j/host/%zz").contains("percent escape"));
    }

    #[test]
    fn invalid_paths_rejected() {
        let cases = [
            ("job", "odd number of components"),
            ("job/j/instance", "odd number of components"),
            ("job/j/in-stance/x", "invalid label name \"in-stance\""),
            ("job/j/__name__/x", "reserved"),
            ("job@base64/=", "job name is empty"),
            (
                "job/j/instance/",
                "write an empty value as instance@base64/=",
            ),
            ("job/j/x@base64/!!", "not URL-safe base64"),
            ("job/j/x/1/x/2", "appears twice"),
            ("job/j/job/k", "appears twice"),
            ("instance/x/job/j", "must start with job"),
        ];
        for (path, expected) in cases {
            let message = error(path);
            assert!(message.contains(expected), "{path}: {message}");
            assert!(message.contains(path), "{path}: {message}");
        }
    }

    #[test]
    fn new_validates_pairs() {
        let key = GroupingKey::new([
            ("job".to_string(), "j".to_string()),
            ("instance".to_string(), "b1".to_string()),
        ])
        .unwrap();
        assert_eq!(key.labels()[0].0, "instance");

        let missing = GroupingKey::new([("instance".to_string(), "b1".to_string())]);
        assert!(missing.unwrap_err().detail.contains("job is missing"));
    }
}

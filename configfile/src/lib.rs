//! Strict reading of the TOML configuration files of koji-agent and koji-aggregator.
//!
//! [`read`] lists every key that no table of the configuration has, each with its table
//! path, its line and the closest known key, removes them, and then deserializes the rest,
//! so an operator sees every unknown key in one run. A value of the wrong type stops the
//! reading at the first one, with a message that names the key, the line and the expected
//! type. The programs add their own value checks to the returned problems.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Returns the known keys of the table at a schema path: a dotted path in which `[]` stands
/// for every element of an array of tables, such as `""` for the top level, `"hub"` or
/// `"tags.rewrite[]"`. `None` means the table's keys are not checked.
pub type KnownKeys = fn(&str) -> Option<&'static [&'static str]>;

/// A problem with one key of a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyProblem {
    /// The key with its table path, such as `hub.pol_interval_secs` or `push[0].url`.
    pub key: String,
    /// Description of the problem, with the line and the allowed values.
    pub message: String,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.key, self.message)
    }
}

/// Failure to read a configuration file into its struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The text is not TOML; the message names the line and column.
    Syntax(String),
    /// The text is TOML but does not fit the struct: the unknown keys and the first value of
    /// the wrong type or missing key.
    Problems(Vec<KeyProblem>),
}

/// Reads `text` into `T`, whose tables' keys `known_keys` lists.
///
/// Returns the value with the problems of the unknown keys, which were left out so that the
/// rest could be read. The caller reports them together with its own value checks. Fails
/// when the text is not TOML, or when a value has the wrong type or a required key is
/// missing.
pub fn read<T: DeserializeOwned>(
    text: &str,
    known_keys: KnownKeys,
) -> Result<(T, Vec<KeyProblem>), ReadError> {
    let mut document = DeTable::parse(text)
        .map_err(|error| ReadError::Syntax(error.to_string().trim_end().to_string()))?;

    let mut problems = remove_unknown_keys(&mut document, text, known_keys);
    match T::deserialize(toml::de::Deserializer::from(document.clone())) {
        Ok(value) => Ok((value, problems)),
        Err(error) => {
            problems.push(wrong_type(&error, &document, text));
            Err(ReadError::Problems(problems))
        }
    }
}

/// Returns the problems of the keys in `document` that no table of the configuration
/// has, and removes those keys, so the rest can still be read and checked.
fn remove_unknown_keys(
    document: &mut Spanned<DeTable<'_>>,
    text: &str,
    known_keys: KnownKeys,
) -> Vec<KeyProblem> {
    let mut unknown = Vec::new();
    find_unknown_keys(document.get_mut(), "", "", text, known_keys, &mut unknown);
    unknown.sort_by_key(|key| key.offset);
    unknown.iter().map(UnknownKey::problem).collect()
}

/// A key that no table of the configuration has.
struct UnknownKey {
    /// The key with its table path, such as `hub.pol_interval_secs`.
    path: String,
    /// The table path, empty for the top level.
    table: String,
    /// The table as its TOML header, such as `[hub]` or `[[push]]`.
    header: String,
    /// The byte offset of the key in the file.
    offset: usize,
    /// The line of the key, from 1.
    line: usize,
    /// The known key closest to the unknown one, when it is close.
    suggestion: Option<&'static str>,
    /// The keys of the table.
    known: &'static [&'static str],
}

impl UnknownKey {
    fn problem(&self) -> KeyProblem {
        let line = self.line;
        let message = match (self.suggestion, self.table.is_empty()) {
            (Some(known), true) => format!("unknown key at line {line}; did you mean {known}?"),
            (Some(known), false) => format!(
                "unknown key at line {line}; did you mean {}.{known}?",
                self.table
            ),
            (None, true) => format!(
                "unknown key at line {line}; the top-level keys are {}",
                self.known.join(", ")
            ),
            (None, false) => format!(
                "unknown key at line {line}; the keys of {} are {}",
                self.header,
                self.known.join(", ")
            ),
        };
        KeyProblem {
            key: self.path.clone(),
            message,
        }
    }
}

fn find_unknown_keys(
    table: &mut DeTable<'_>,
    schema_path: &str,
    path: &str,
    text: &str,
    known_keys: KnownKeys,
    unknown: &mut Vec<UnknownKey>,
) {
    let Some(known) = known_keys(schema_path) else {
        return;
    };

    let mut names = Vec::new();
    for key in table.keys() {
        let name: &str = key.get_ref();
        if !known.contains(&name) {
            names.push(name.to_string());
            unknown.push(UnknownKey {
                path: join(path, name),
                table: path.to_string(),
                header: match schema_path.strip_suffix("[]") {
                    Some(array) => format!("[[{array}]]"),
                    None => format!("[{schema_path}]"),
                },
                offset: key.span().start,
                line: line_of(text, key.span().start),
                suggestion: closest_key(name, known),
                known,
            });
        }
    }
    for name in names {
        table.remove(name.as_str());
    }

    for (key, value) in table.iter_mut() {
        let schema_child = join(schema_path, key.get_ref());
        let child = join(path, key.get_ref());
        match value.get_mut() {
            DeValue::Table(nested) => {
                find_unknown_keys(nested, &schema_child, &child, text, known_keys, unknown)
            }
            DeValue::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    if let DeValue::Table(nested) = item.get_mut() {
                        find_unknown_keys(
                            nested,
                            &format!("{schema_child}[]"),
                            &format!("{child}[{index}]"),
                            text,
                            known_keys,
                            unknown,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// Describes a deserialization error, such as a value of the wrong type, with the key it
/// belongs to and its line.
fn wrong_type(error: &toml::de::Error, document: &Spanned<DeTable<'_>>, text: &str) -> KeyProblem {
    let Some(span) = error.span() else {
        return KeyProblem {
            key: "(file)".to_string(),
            message: error.message().to_string(),
        };
    };
    let path = KeyAt::find(document.get_ref(), span.start);
    let line = line_of(text, span.start);

    let message = error.message();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return KeyProblem {
            key: join(&path, field),
            message: format!("missing in the table at line {line}; this key is required"),
        };
    }
    let key = if path.is_empty() {
        "(top level)".to_string()
    } else {
        path
    };
    KeyProblem {
        key,
        message: format!("{} at line {line}", plain_type_names(message)),
    }
}

/// The dotted path of the key whose key or value is the smallest span containing `offset`.
#[derive(Default)]
struct KeyAt {
    path: String,
    span_len: Option<usize>,
}

impl KeyAt {
    fn find(table: &DeTable<'_>, offset: usize) -> String {
        let mut found = Self::default();
        found.search_table(table, offset, "");
        found.path
    }

    fn search_table(&mut self, table: &DeTable<'_>, offset: usize, parent: &str) {
        for (key, value) in table.iter() {
            let path = join(parent, key.get_ref());
            if key.span().contains(&offset) {
                self.offer(&path, key.span().len());
            }
            self.search_value(value, offset, path);
        }
    }

    fn search_value(&mut self, value: &Spanned<DeValue<'_>>, offset: usize, path: String) {
        if value.span().contains(&offset) {
            self.offer(&path, value.span().len());
        }
        match value.get_ref() {
            DeValue::Table(table) => self.search_table(table, offset, &path),
            DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.search_value(item, offset, format!("{path}[{index}]"));
                }
            }
            _ => {}
        }
    }

    fn offer(&mut self, path: &str, span_len: usize) {
        if self.span_len.is_none_or(|best| span_len <= best) {
            self.path = path.to_string();
            self.span_len = Some(span_len);
        }
    }
}

/// Returns `key` under the table path `parent`, which is empty for the top level.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Replaces Rust type names in a serde message with TOML terms.
fn plain_type_names(message: &str) -> String {
    let mut message = message
        .replace(
            "expected u64",
            "expected a whole number that is not negative",
        )
        .replace(
            "expected usize",
            "expected a whole number that is not negative",
        )
        .replace("expected path string", "expected a string (a file path)")
        .replace("expected a sequence", "expected an array");
    if let Some(start) = message.find("expected struct ") {
        message.replace_range(start.., "expected a table");
    }
    message
}

/// Returns the line of byte `offset` in `text`, from 1.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count()
        + 1
}

/// Returns the known key closest to `key` when at most a quarter of its letters (at least
/// two) differ, such as `poll_interval_secs` for `pol_interval_secs`.
fn closest_key(key: &str, known: &[&'static str]) -> Option<&'static str> {
    let limit = (key.chars().count() / 4).max(2);
    known
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Returns the Levenshtein distance of `a` and `b`: the number of inserted, removed or
/// replaced characters that turn one into the other.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, b_char) in b.iter().enumerate() {
            let replace = previous[j] + usize::from(a_char != *b_char);
            current[j + 1] = replace.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Returns the field names of the struct `T`, as its derived `Deserialize` implementation
/// lists them, so the known keys cannot drift from the structs.
pub fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The recorder always fails after it has seen the field list.
    let _recorded = T::deserialize(FieldRecorder(&mut fields));
    fields
}

/// A deserializer that stores the field list a derived struct implementation passes to
/// `deserialize_struct`, and reads nothing.
struct FieldRecorder<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for FieldRecorder<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom(
            "only a struct's field names are recorded",
        ))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("the field names are recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        listen: String,
        #[serde(default)]
        hub: Option<Hub>,
        #[serde(default)]
        push: Vec<Push>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Hub {
        url: String,
        #[serde(default)]
        poll_interval_secs: u64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Push {
        url: String,
    }

    fn known_keys(schema_path: &str) -> Option<&'static [&'static str]> {
        Some(match schema_path {
            "" => field_names::<File>(),
            "hub" => field_names::<Hub>(),
            "push[]" => field_names::<Push>(),
            _ => return None,
        })
    }

    fn problems(text: &str) -> Vec<String> {
        match read::<File>(text, known_keys) {
            Ok((_, problems)) => problems.iter().map(ToString::to_string).collect(),
            Err(ReadError::Problems(problems)) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(ReadError::Syntax(message)) => vec![message],
        }
    }

    #[test]
    fn every_unknown_key_listed_in_file_order() {
        let text = "lisen = \"x\"\n[hub]\nurl = \"u\"\npol_interval_secs = 5\n[[push]]\nurl = \"p\"\nuri = \"q\"\n";

        assert_eq!(
            problems(text),
            vec![
                "lisen: unknown key at line 1; did you mean listen?",
                "hub.pol_interval_secs: unknown key at line 4; did you mean hub.poll_interval_secs?",
                "push[0].uri: unknown key at line 7; did you mean push[0].url?",
            ]
        );
    }

    #[test]
    fn unknown_keys_removed_before_reading() {
        let (file, problems) = read::<File>("[hub]\nurl = \"u\"\nextra = 1\n", known_keys).unwrap();

        assert_eq!(file.hub.unwrap().url, "u");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .message
                .contains("the keys of [hub] are url, poll_interval_secs")
        );
    }

    #[test]
    fn wrong_type_names_key_line_and_type() {
        assert_eq!(
            problems("[hub]\nurl = \"u\"\npoll_interval_secs = \"30\"\n"),
            vec![
                "hub.poll_interval_secs: invalid type: string \"30\", expected a whole number that is not negative at line 3"
            ]
        );
    }

    #[test]
    fn missing_key_named() {
        assert_eq!(
            problems("[hub]\npoll_interval_secs = 3\n"),
            vec!["hub.url: missing in the table at line 1; this key is required"]
        );
    }

    #[test]
    fn syntax_error_names_line() {
        let message = problems("[hub\n").remove(0);

        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn closest_key_needs_close_match() {
        let known = ["poll_interval_secs", "url"];

        assert_eq!(
            closest_key("pol_interval_secs", &known),
            Some("poll_interval_secs")
        );
        assert_eq!(closest_key("uri", &known), Some("url"));
        assert_eq!(closest_key("state_directory", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn field_names_follow_struct() {
        assert_eq!(field_names::<Hub>(), ["url", "poll_interval_secs"]);
    }
}

//! kojid's configuration file (`/etc/kojid/kojid.conf`), read as kojid reads it.
//!
//! kojid parses the file with Python's `configparser` without interpolation, in its default
//! strict mode, and takes the options of the `[kojid]` section plus those of `[DEFAULT]`. The
//! parser here follows the same rules:
//!
//! - section names are case-sensitive, option names are not (they are lower-cased);
//! - `key = value` and `key: value`, split at the first `=` or `:`, both sides trimmed;
//! - lines whose first non-blank character is `#` or `;` are comments, also when indented;
//!   there are no inline comments, so `maxjobs = 4 # four` has the value `4 # four`;
//! - a line indented deeper than its option's line continues the value, and the lines are
//!   joined with newlines;
//! - an option or a section given twice, an option before any section header, and a line
//!   that is neither are errors.
//!
//! Options the agent does not use are kept unread, as kojid's plugins define their own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The default path of kojid's configuration file.
pub const DEFAULT_PATH: &str = "/etc/kojid/kojid.conf";

/// kojid's default `mockdir`.
pub const DEFAULT_MOCKDIR: &str = "/var/lib/mock";
/// kojid's default `workdir`, from its code (a comment in kojid's sample file gives `/tmp/koji`).
pub const DEFAULT_WORKDIR: &str = "/var/tmp/koji";
/// kojid's default `minspace` in MiB.
pub const DEFAULT_MINSPACE_MIB: i64 = 8192;
/// kojid's default `maxjobs`.
pub const DEFAULT_MAXJOBS: i64 = 10;
/// kojid's default `sleeptime` in seconds.
pub const DEFAULT_SLEEPTIME_SECS: i64 = 15;
/// kojid's default `cert`, used for its login only when the file exists.
pub const DEFAULT_CERT: &str = "/etc/kojid/client.crt";
/// kojid's default `serverca`, used only when the file exists.
pub const DEFAULT_SERVERCA: &str = "/etc/kojid/serverca.crt";

/// The section kojid reads.
const SECTION: &str = "kojid";
/// configparser's section whose options every other section inherits.
const DEFAULT_SECTION: &str = "DEFAULT";

/// The settings of kojid.conf that the agent uses, with kojid's defaults for absent keys.
#[derive(Clone, Debug, PartialEq)]
pub struct KojidSettings {
    /// Hub URL (`server`); kojid has no default.
    pub server: Option<String>,
    /// CA bundle of the hub (`serverca`) when the file sets it.
    pub serverca: Option<PathBuf>,
    /// kojid's client certificate (`cert`) when the file sets it.
    pub cert: Option<PathBuf>,
    /// Directory of the mock chroots, whose free space kojid checks (`mockdir`).
    pub mockdir: PathBuf,
    /// Directory of the task work directories (`workdir`).
    pub workdir: PathBuf,
    /// Free space in MiB that `mockdir` needs before kojid takes a task (`minspace`).
    pub minspace_mib: i64,
    /// Maximum number of tasks kojid runs at once (`maxjobs`).
    pub maxjobs: i64,
    /// Seconds kojid sleeps between polls of the hub when idle (`sleeptime`).
    pub sleeptime_secs: i64,
}

impl Default for KojidSettings {
    fn default() -> Self {
        Self {
            server: None,
            serverca: None,
            cert: None,
            mockdir: PathBuf::from(DEFAULT_MOCKDIR),
            workdir: PathBuf::from(DEFAULT_WORKDIR),
            minspace_mib: DEFAULT_MINSPACE_MIB,
            maxjobs: DEFAULT_MAXJOBS,
            sleeptime_secs: DEFAULT_SLEEPTIME_SECS,
        }
    }
}

impl KojidSettings {
    /// Returns the client certificate path: `cert` from the file, else kojid's default.
    pub fn cert_path(&self) -> &Path {
        self.cert.as_deref().unwrap_or(Path::new(DEFAULT_CERT))
    }

    /// Returns the hub CA bundle path: `serverca` from the file, else kojid's default.
    pub fn serverca_path(&self) -> &Path {
        self.serverca
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_SERVERCA))
    }

    /// Returns `minspace` in bytes.
    pub fn minspace_bytes(&self) -> i64 {
        self.minspace_mib.saturating_mul(1024 * 1024)
    }

    /// Parses the text of a kojid.conf; `path` is used in error messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Self, KojidConfError> {
        let ini = Ini::parse(text).map_err(|error| KojidConfError::Syntax {
            path: path.to_path_buf(),
            line: error.line,
            message: error.message,
        })?;
        Self::from_ini(&ini, path)
    }

    /// Reads and parses kojid.conf at `path`.
    pub fn read(path: &Path) -> Result<Self, KojidConfError> {
        let bytes = std::fs::read(path).map_err(|error| KojidConfError::Read {
            path: path.to_path_buf(),
            message: read_error_message(&error),
        })?;
        // Python reads the file as UTF-8 and fails on other bytes, as this does.
        let text = String::from_utf8(bytes).map_err(|error| KojidConfError::Read {
            path: path.to_path_buf(),
            message: format!(
                "the file is not valid UTF-8 (invalid byte at offset {})",
                error.utf8_error().valid_up_to()
            ),
        })?;
        Self::parse(&text, path)
    }

    fn from_ini(ini: &Ini, path: &Path) -> Result<Self, KojidConfError> {
        let mut settings = Self::default();
        let option = |key: &str| ini.option(SECTION, key);

        if let Some(entry) = option("server") {
            settings.server = Some(entry.value.clone()).filter(|server| !server.is_empty());
        }
        if let Some(entry) = option("serverca") {
            settings.serverca = Some(PathBuf::from(&entry.value));
        }
        if let Some(entry) = option("cert") {
            settings.cert = Some(PathBuf::from(&entry.value));
        }
        if let Some(entry) = option("mockdir") {
            settings.mockdir = PathBuf::from(&entry.value);
        }
        if let Some(entry) = option("workdir") {
            settings.workdir = PathBuf::from(&entry.value);
        }

        let integers = [
            ("minspace", &mut settings.minspace_mib),
            ("maxjobs", &mut settings.maxjobs),
            ("sleeptime", &mut settings.sleeptime_secs),
        ];
        for (key, target) in integers {
            if let Some(entry) = option(key) {
                *target =
                    parse_python_int(&entry.value).ok_or_else(|| KojidConfError::NotInteger {
                        path: path.to_path_buf(),
                        line: entry.line,
                        key: key.to_string(),
                        value: entry.value.clone(),
                    })?;
            }
        }
        Ok(settings)
    }
}

fn read_error_message(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => {
            "the file does not exist; check kojid_config in agent.toml".to_string()
        }
        std::io::ErrorKind::PermissionDenied => format!(
            "{error}; the agent needs read access: run it as root, or give its user the \
             CAP_DAC_READ_SEARCH capability"
        ),
        _ => error.to_string(),
    }
}

/// Parses an integer as Python's `int()` does for ASCII text: surrounding whitespace, an
/// optional sign, and single underscores between digits.
fn parse_python_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    if digits.contains("__") {
        return None;
    }
    if !digits
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'_')
    {
        return None;
    }
    let plain: String = digits.chars().filter(|c| *c != '_').collect();
    let value: i64 = plain.parse().ok()?;
    Some(if negative { -value } else { value })
}

/// A problem with kojid.conf.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KojidConfError {
    /// The file could not be read.
    #[error("cannot read kojid configuration {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Description of the failure and of the fix.
        message: String,
    },
    /// The file is not valid configparser syntax.
    #[error("invalid kojid configuration {}, line {line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Description of the problem.
        message: String,
    },
    /// An option that kojid reads as an integer has another value.
    #[error(
        "invalid kojid configuration {}, line {line}: {key} = {value:?} is not an integer; \
         kojid exits on this value, so give a whole number such as {key} = {}",
        path.display(),
        integer_example(key)
    )]
    NotInteger {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the option.
        line: usize,
        /// The option name.
        key: String,
        /// The value as written.
        value: String,
    },
}

fn integer_example(key: &str) -> i64 {
    match key {
        "minspace" => DEFAULT_MINSPACE_MIB,
        "maxjobs" => DEFAULT_MAXJOBS,
        _ => DEFAULT_SLEEPTIME_SECS,
    }
}

/// A syntax error of an INI file, with its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniError {
    /// 1-based line number.
    pub line: usize,
    /// Description of the problem.
    pub message: String,
}

impl fmt::Display for IniError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.message)
    }
}

/// One option's value and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniEntry {
    /// The value: continuation lines joined with `\n`, trailing whitespace removed.
    pub value: String,
    /// 1-based line number of the option.
    pub line: usize,
}

/// An INI file as Python's `configparser.RawConfigParser` reads it in strict mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ini {
    /// Sections by name, with options by lower-cased name.
    pub sections: BTreeMap<String, BTreeMap<String, IniEntry>>,
    /// Options of the `[DEFAULT]` section, which every section inherits.
    pub defaults: BTreeMap<String, IniEntry>,
}

/// The section that receives option lines while parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Current {
    None,
    Defaults,
    Section(String),
}

impl Ini {
    /// Parses INI text.
    pub fn parse(text: &str) -> Result<Self, IniError> {
        let mut ini = Ini::default();
        let mut current = Current::None;
        let mut option: Option<String> = None;
        let mut indent_level = 0usize;
        let mut seen_sections = BTreeSet::new();
        let mut seen_options = BTreeSet::new();

        for (index, raw_line) in text.split('\n').enumerate() {
            let line_number = index + 1;
            let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
            let stripped = line.trim();
            let comment = stripped.starts_with('#') || stripped.starts_with(';');

            if stripped.is_empty() || comment {
                // An empty line inside a multi-line value stays part of it.
                if !comment
                    && let Some(name) = &option
                    && let Some(entry) = ini.entry_mut(&current, name)
                {
                    entry.value.push('\n');
                }
                continue;
            }

            let indent = line.len() - line.trim_start().len();
            if option.is_some() && current != Current::None && indent > indent_level {
                let name = option.as_deref().unwrap_or_default();
                if let Some(entry) = ini.entry_mut(&current, name) {
                    entry.value.push('\n');
                    entry.value.push_str(stripped);
                }
                continue;
            }
            indent_level = indent;

            if let Some(header) = section_header(stripped) {
                if header == DEFAULT_SECTION {
                    current = Current::Defaults;
                } else {
                    if !seen_sections.insert(header.to_string()) {
                        return Err(IniError {
                            line: line_number,
                            message: format!("section [{header}] appears a second time"),
                        });
                    }
                    ini.sections.entry(header.to_string()).or_default();
                    current = Current::Section(header.to_string());
                }
                option = None;
                continue;
            }

            if current == Current::None {
                return Err(IniError {
                    line: line_number,
                    message: format!(
                        "{stripped:?} comes before any section header; kojid's options go \
                         under [kojid]"
                    ),
                });
            }

            let Some(delimiter) = stripped.find(['=', ':']) else {
                return Err(IniError {
                    line: line_number,
                    message: format!(
                        "{stripped:?} is neither a section header nor an option; write \
                         key = value"
                    ),
                });
            };
            let name = stripped[..delimiter].trim_end().to_lowercase();
            if name.is_empty() {
                return Err(IniError {
                    line: line_number,
                    message: format!("{stripped:?} has no option name before the delimiter"),
                });
            }
            let section_name = match &current {
                Current::Section(section) => section.as_str(),
                _ => DEFAULT_SECTION,
            };
            if !seen_options.insert((section_name.to_string(), name.clone())) {
                return Err(IniError {
                    line: line_number,
                    message: format!(
                        "option {name:?} in section [{section_name}] appears a second time"
                    ),
                });
            }
            let value = stripped[delimiter + 1..].trim().to_string();
            let entry = IniEntry {
                value,
                line: line_number,
            };
            match &current {
                Current::Section(section) => {
                    ini.sections
                        .entry(section.clone())
                        .or_default()
                        .insert(name.clone(), entry);
                }
                _ => {
                    ini.defaults.insert(name.clone(), entry);
                }
            }
            option = Some(name);
        }

        for entry in ini
            .sections
            .values_mut()
            .flat_map(|section| section.values_mut())
            .chain(ini.defaults.values_mut())
        {
            entry.value.truncate(entry.value.trim_end().len());
        }
        Ok(ini)
    }

    /// Returns an option of `section`, falling back to `[DEFAULT]`; `key` is matched without
    /// regard to case. Options of a section that is absent are not found.
    pub fn option(&self, section: &str, key: &str) -> Option<&IniEntry> {
        let section = self.sections.get(section)?;
        let key = key.to_lowercase();
        section.get(&key).or_else(|| self.defaults.get(&key))
    }

    fn entry_mut(&mut self, current: &Current, name: &str) -> Option<&mut IniEntry> {
        match current {
            Current::None => None,
            Current::Defaults => self.defaults.get_mut(name),
            Current::Section(section) => self.sections.get_mut(section)?.get_mut(name),
        }
    }
}

/// Returns the name of a section header line such as `[kojid]`, as configparser's permissive
/// pattern `\[(?P<header>.+)\]` matches it: from the first `[` to the last `]`.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KojidSettings, KojidConfError> {
        KojidSettings::parse(text, Path::new("/etc/kojid/kojid.conf"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(parse("").unwrap(), KojidSettings::default());
        assert_eq!(parse("[kojid]\n").unwrap(), KojidSettings::default());
        assert_eq!(
            parse("[other]\nmaxjobs = 3\n").unwrap(),
            KojidSettings::default()
        );
    }

    #[test]
    fn keys_ignore_case_and_sections_do_not() {
        let settings = parse("[kojid]\nMaxJobs = 3\nMINSPACE: 100\n").unwrap();
        assert_eq!(settings.maxjobs, 3);
        assert_eq!(settings.minspace_mib, 100);

        let other = parse("[KOJID]\nmaxjobs = 3\n").unwrap();
        assert_eq!(other.maxjobs, DEFAULT_MAXJOBS);
    }

    #[test]
    fn comments_are_whole_lines_only() {
        let text = "# header\n[kojid]\n  ; indented comment\nserver = https://hub/kojihub # x\n";
        let settings = parse(text).unwrap();
        assert_eq!(settings.server.as_deref(), Some("https://hub/kojihub # x"));
    }

    #[test]
    fn continuation_lines_join_values() {
        let ini =
            Ini::parse("[kojid]\nallowed_scms = a:/x\n    b:/y\n\n  # c\n    c:/z\nmaxjobs=2\n")
                .unwrap();
        let entry = ini.option("kojid", "allowed_scms").unwrap();
        assert_eq!(entry.value, "a:/x\nb:/y\n\nc:/z");
        assert_eq!(entry.line, 2);
        assert_eq!(ini.option("kojid", "maxjobs").unwrap().value, "2");
    }

    #[test]
    fn default_section_is_inherited() {
        let settings = parse("[DEFAULT]\nmaxjobs = 6\n[kojid]\nminspace = 1\n").unwrap();
        assert_eq!(settings.maxjobs, 6);
        assert_eq!(settings.minspace_mib, 1);
    }

    #[test]
    fn first_delimiter_splits_key_and_value() {
        let settings = parse("[kojid]\nserver: https://koji.example.org/kojihub\n").unwrap();
        assert_eq!(
            settings.server.as_deref(),
            Some("https://koji.example.org/kojihub")
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let cases = [
            ("maxjobs = 1\n[kojid]\n", 1, "before any section header"),
            (
                "[kojid]\nmaxjobs\n",
                2,
                "neither a section header nor an option",
            ),
            ("[kojid]\n= 4\n", 2, "no option name"),
            (
                "[kojid]\nmaxjobs = 1\nMAXJOBS = 2\n",
                3,
                "appears a second time",
            ),
            (
                "[kojid]\n[other]\n[kojid]\n",
                3,
                "section [kojid] appears a second time",
            ),
        ];
        for (text, line, fragment) in cases {
            let error = parse(text).unwrap_err();
            let KojidConfError::Syntax {
                line: got, message, ..
            } = &error
            else {
                panic!("{text:?}: expected a syntax error, got {error}");
            };
            assert_eq!(*got, line, "{text:?}: {error}");
            assert!(message.contains(fragment), "{text:?}: {error}");
        }
    }

    #[test]
    fn integers_follow_python_int() {
        assert_eq!(parse_python_int(" 12 "), Some(12));
        assert_eq!(parse_python_int("+7"), Some(7));
        assert_eq!(parse_python_int("-1"), Some(-1));
        assert_eq!(parse_python_int("16_384"), Some(16384));
        for bad in ["", "1.5", "ten", "1__0", "_1", "1_", "0x10", "-"] {
            assert_eq!(parse_python_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bad_integer_names_key_value_and_line() {
        let error = parse("[kojid]\n\nmaxjobs = many\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid kojid configuration /etc/kojid/kojid.conf, line 3: maxjobs = \"many\" is \
             not an integer; kojid exits on this value, so give a whole number such as \
             maxjobs = 10"
        );
    }

    #[test]
    fn missing_file_names_path() {
        let error = KojidSettings::read(Path::new("/nonexistent/kojid.conf")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("/nonexistent/kojid.conf"), "{message}");
        assert!(message.contains("does not exist"), "{message}");
    }
}

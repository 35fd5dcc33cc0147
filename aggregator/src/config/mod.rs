//! The aggregator's TOML configuration: a raw serde form with documented defaults, and a
//! validated form that is the only one the rest of the code sees.
//!
//! `Config::load` reads the file, rejects unknown keys, and reports every unknown key,
//! invalid value and unusable file at once, each naming the key, the value and what is
//! allowed. A value of the wrong type stops the check at the first one.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use koji_configfile::{ReadError, field_names};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::push::Limits;
use crate::tls::TlsFiles;

mod files;

/// The file as written by the operator. Every field has a default, so an empty file is a
/// valid configuration that serves pushes on 127.0.0.1:9820 without polling a hub.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address for `/metrics`, `/-/healthy`, `/-/ready` and the push API.
    #[serde(default = "default_listen")]
    pub listen: String,

    /// Directory for the state file (task counters, active tasks, last hub snapshot) and the
    /// pushed groups. The aggregator creates it with its parents at start when it is missing;
    /// the service user must be able to write it.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,

    /// How the hub is polled. Without a `[hub]` table the aggregator does not poll.
    #[serde(default)]
    pub hub: Option<RawHubConfig>,

    /// How task tags become label values.
    #[serde(default)]
    pub tags: RawTagsConfig,

    /// The push receiver: limits, expiry of silent groups, persistence and token secrets.
    #[serde(default)]
    pub push: RawPushConfig,

    /// HTTPS for every endpoint, and client certificates as push credentials. Without a
    /// `[tls]` table the aggregator serves plain HTTP.
    #[serde(default)]
    pub tls: Option<RawTlsConfig>,
}

/// The `[hub]` table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawHubConfig {
    /// The hub's XML-RPC URL, such as `https://koji.example.org/kojihub`.
    pub url: String,

    /// Seconds between the starts of two polls.
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,

    /// Seconds one hub call may take before it fails; must be below the poll interval.
    #[serde(default = "default_call_timeout_secs")]
    pub call_timeout_secs: u64,

    /// Seconds a TCP and TLS connection to the hub may take.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,

    /// PEM file of the CA certificates that sign the hub's certificate. Default: the
    /// system's trust store.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,

    /// PEM certificate for hubs that demand a client certificate. It must be a monitoring
    /// certificate of its own, never a builder's: a second session of a host user is
    /// rejected and could take kojid's lock.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,

    /// PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,

    /// Seconds the channel list and channel membership are cached.
    #[serde(default = "default_channel_cache_secs")]
    pub channel_cache_secs: u64,

    /// Task ids per `getTaskInfo` call when finished or new tasks are fetched.
    #[serde(default = "default_task_info_batch")]
    pub task_info_batch: usize,

    /// Calls per `multiCall` request.
    #[serde(default = "default_multicall_batch")]
    pub multicall_batch: usize,

    /// Seconds an id that the hub answers with nil (deleted, or not yet committed) is asked
    /// again before it is skipped and counted in `koji_aggregator_task_ids_skipped_total`.
    #[serde(default = "default_missing_task_retry_secs")]
    pub missing_task_retry_secs: u64,

    /// On the very first start, also count the tasks created in this many past hours.
    /// 0 starts counting at the hub's current highest task id.
    #[serde(default)]
    pub backfill_hours: u64,
}

/// The `[tags]` table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTagsConfig {
    /// Maximum number of distinct tag label values. Values are admitted first come, first
    /// served, and kept across restarts; tasks of later tags are labelled `other` and counted
    /// in `koji_tasks_tag_folded_total`.
    #[serde(default = "default_max_tag_values")]
    pub max_values: usize,

    /// Regex rewrites applied in order before the cap; the first pattern that matches the
    /// whole tag name replaces it.
    #[serde(default)]
    pub rewrite: Vec<RawTagRewrite>,
}

/// One `[[tags.rewrite]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTagRewrite {
    /// A regular expression (Rust `regex` syntax) matched against the whole tag name.
    pub pattern: String,
    /// The label value; `$1` and `${name}` refer to capture groups.
    pub replacement: String,
}

/// The `[push]` table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawPushConfig {
    /// Maximum size in bytes of a push body, checked before and again after gunzip; larger
    /// bodies are rejected with 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,

    /// Maximum number of series in one group; a push that would exceed it is rejected with
    /// 413.
    #[serde(default = "default_max_series_per_group")]
    pub max_series_per_group: usize,

    /// Maximum number of groups; a push that would add a group beyond it is rejected with
    /// 503.
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,

    /// Seconds after its last push that a group is dropped, so a dead agent's series do not
    /// stay forever. 0 keeps groups until they are deleted, as the Pushgateway does.
    #[serde(default = "default_expiry_secs")]
    pub expiry_secs: u64,

    /// Seconds between two writes of the pushed groups to `<state_dir>/pushed.json`; they are
    /// also written at shutdown.
    #[serde(default = "default_persist_interval_secs")]
    pub persist_interval_secs: u64,

    /// Files that each contain a secret for push tokens; the token of host X is the
    /// lowercase hex HMAC-SHA256 of X under a secret (`koji-aggregator token X` prints it).
    /// Several files let a new secret be rolled in. Without secret files and without
    /// `tls.client_ca_file`, only loopback peers may push.
    #[serde(default)]
    pub token_secret_files: Vec<PathBuf>,
}

/// The `[tls]` table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTlsConfig {
    /// PEM certificate chain of the server, leaf first.
    pub cert_file: PathBuf,

    /// PEM private key of the server certificate.
    pub key_file: PathBuf,

    /// PEM CA certificates that sign agents' client certificates. A client certificate is
    /// optional at the handshake (Prometheus scrapes without one); one that is presented
    /// must chain to these CAs, and its DNS name (or common name) is the host it may push
    /// for.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

fn default_max_body_bytes() -> usize {
    4 << 20
}

fn default_max_series_per_group() -> usize {
    10_000
}

fn default_max_groups() -> usize {
    50_000
}

fn default_expiry_secs() -> u64 {
    600
}

fn default_persist_interval_secs() -> u64 {
    30
}

fn default_listen() -> String {
    "127.0.0.1:9820".to_string()
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/koji-aggregator")
}

fn default_poll_interval_secs() -> u64 {
    30
}

fn default_call_timeout_secs() -> u64 {
    20
}

fn default_connect_timeout_secs() -> u64 {
    10
}

fn default_channel_cache_secs() -> u64 {
    300
}

fn default_task_info_batch() -> usize {
    500
}

fn default_multicall_batch() -> usize {
    100
}

fn default_missing_task_retry_secs() -> u64 {
    600
}

fn default_max_tag_values() -> usize {
    500
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            state_dir: default_state_dir(),
            hub: None,
            tags: RawTagsConfig::default(),
            push: RawPushConfig::default(),
            tls: None,
        }
    }
}

impl Default for RawPushConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_body_bytes(),
            max_series_per_group: default_max_series_per_group(),
            max_groups: default_max_groups(),
            expiry_secs: default_expiry_secs(),
            persist_interval_secs: default_persist_interval_secs(),
            token_secret_files: Vec::new(),
        }
    }
}

impl Default for RawTagsConfig {
    fn default() -> Self {
        Self {
            max_values: default_max_tag_values(),
            rewrite: Vec::new(),
        }
    }
}

impl RawHubConfig {
    /// A `[hub]` table with `url` and every other key at its default.
    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            poll_interval_secs: default_poll_interval_secs(),
            call_timeout_secs: default_call_timeout_secs(),
            connect_timeout_secs: default_connect_timeout_secs(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            channel_cache_secs: default_channel_cache_secs(),
            task_info_batch: default_task_info_batch(),
            multicall_batch: default_multicall_batch(),
            missing_task_retry_secs: default_missing_task_retry_secs(),
            backfill_hours: 0,
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Directory for the state file and the pushed groups.
    pub state_dir: PathBuf,
    /// Hub polling, or `None` when this aggregator does not poll.
    pub hub: Option<HubConfig>,
    /// Tag label rules.
    pub tags: TagsConfig,
    /// The push receiver.
    pub push: PushConfig,
    /// HTTPS, or `None` for plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Settings that are valid but probably not meant, logged at start and printed by
    /// `--check-config`.
    pub warnings: Vec<String>,
}

/// The validated `[push]` table.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// Body, series and group limits.
    pub limits: Limits,
    /// Time after the last push that a group is dropped; `None` keeps groups.
    pub expiry: Option<Duration>,
    /// Time between two writes of the pushed groups.
    pub persist_interval: Duration,
    /// Files with token secrets, the first of which `koji-aggregator token` uses.
    pub token_secret_files: Vec<PathBuf>,
}

/// The validated `[hub]` table.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// The hub's XML-RPC URL.
    pub url: String,
    /// Time between the starts of two polls.
    pub poll_interval: Duration,
    /// Time one hub call may take.
    pub call_timeout: Duration,
    /// Time a connection may take.
    pub connect_timeout: Duration,
    /// CA bundle for the hub's certificate.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, when the hub demands one.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// How long channel membership is cached.
    pub channel_cache: Duration,
    /// Task ids per `getTaskInfo` call.
    pub task_info_batch: usize,
    /// Calls per `multiCall` request.
    pub multicall_batch: usize,
    /// How long a nil task id is asked again before it is skipped.
    pub missing_task_retry: Duration,
    /// Past hours counted on the very first start.
    pub backfill_hours: u64,
}

/// The validated `[tags]` table.
#[derive(Clone, Debug)]
pub struct TagsConfig {
    /// Maximum number of distinct tag label values.
    pub max_values: usize,
    /// Rewrites applied in order; the first full match wins.
    pub rewrites: Vec<TagRewrite>,
}

/// A compiled tag rewrite.
#[derive(Clone, Debug)]
pub struct TagRewrite {
    /// The pattern, anchored to the whole tag name.
    pub pattern: Regex,
    /// The replacement, with `$1`-style references.
    pub replacement: String,
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The file is not valid TOML.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message, with the line and column.
        message: String,
    },

    /// The file has unknown keys, a value of the wrong type, values that are not allowed, or
    /// files that cannot be used.
    #[error("invalid configuration file {path}:\n{}", Problems(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// One line per problem, each starting with the key.
        problems: Vec<String>,
    },
}

struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "  - {problem}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads, parses and validates `path`, and checks the files it names and `state_dir` as
    /// [`RawConfig::check_files`] does. The daemon and `--check-config` both use it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_text(path, &text, true)
    }

    /// Parses and validates `text` without opening the files it names; `path` is only used
    /// in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        Self::from_text(path, text, false)
    }

    fn from_text(path: &Path, text: &str, check_files: bool) -> Result<Self, ConfigError> {
        let invalid = |problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        };
        let (raw, unknown_keys) = match koji_configfile::read::<RawConfig>(text, known_keys) {
            Ok(read) => read,
            Err(ReadError::Syntax(message)) => {
                return Err(ConfigError::Parse {
                    path: path.to_path_buf(),
                    message,
                });
            }
            Err(ReadError::Problems(problems)) => {
                return Err(invalid(problems.iter().map(ToString::to_string).collect()));
            }
        };
        let mut problems: Vec<String> = unknown_keys.iter().map(ToString::to_string).collect();

        let validated = raw.validate();
        if let Err(value_problems) = &validated {
            problems.extend(value_problems.iter().cloned());
        }
        if check_files {
            problems.extend(raw.check_files());
        }
        match validated {
            Ok(config) if problems.is_empty() => Ok(config),
            _ => Err(invalid(problems)),
        }
    }
}

impl RawConfig {
    /// Checks every value and returns the validated configuration, or one message per
    /// problem.
    pub fn validate(&self) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                problems.push(format!(
                    "listen = {:?}: not an IP address and port; use for example \"127.0.0.1:9820\" or \"[::]:9820\"",
                    self.listen
                ));
                None
            }
        };

        if self.state_dir.as_os_str().is_empty() {
            problems.push(
                "state_dir = \"\": must name a directory, such as \"/var/lib/koji-aggregator\""
                    .to_string(),
            );
        }

        let hub = self
            .hub
            .as_ref()
            .and_then(|hub| hub.validate(&mut problems, &mut warnings));
        let tags = self.tags.validate(&mut problems);
        let push = self.push.validate(&mut problems);
        let tls = self
            .tls
            .as_ref()
            .and_then(|tls| tls.validate(&mut problems));

        let credentials = !self.push.token_secret_files.is_empty()
            || self
                .tls
                .as_ref()
                .is_some_and(|tls| tls.client_ca_file.is_some());
        let exposed = listen.filter(|address| !address.ip().is_loopback());
        if let Some(address) = exposed.filter(|_| !credentials) {
            warnings.push(format!(
                "listen = \"{address}\": no push credential is configured, so only peers on \
                 the loopback interface may push and agents on other hosts get 403; set \
                 push.token_secret_files or tls.client_ca_file"
            ));
        }

        match (listen, problems.is_empty()) {
            (Some(listen), true) => Ok(Config {
                listen,
                state_dir: self.state_dir.clone(),
                hub,
                tags: tags.expect("tags validate when there are no problems"),
                push: push.expect("push validates when there are no problems"),
                tls,
                warnings,
            }),
            _ => Err(problems),
        }
    }
}

impl RawHubConfig {
    fn validate(
        &self,
        problems: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> Option<HubConfig> {
        let before = problems.len();

        match reqwest::Url::parse(&self.url) {
            // The URL parser drops surrounding spaces, so they are checked on their own.
            _ if self.url.trim() != self.url => problems.push(format!(
                "hub.url = {:?}: has leading or trailing whitespace; remove it",
                self.url
            )),
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if !url.path().trim_end_matches('/').ends_with("/kojihub") {
                    warnings.push(format!(
                        "hub.url = {:?}: the path does not end in /kojihub, where Koji hubs \
                         serve XML-RPC; check that it is the hub's XML-RPC endpoint",
                        self.url
                    ));
                }
            }
            _ => problems.push(format!(
                "hub.url = {:?}: not an http or https URL; use the hub's XML-RPC endpoint, such as \"https://koji.example.org/kojihub\"",
                self.url
            )),
        }

        positive(problems, "hub.poll_interval_secs", self.poll_interval_secs);
        positive(problems, "hub.call_timeout_secs", self.call_timeout_secs);
        positive(
            problems,
            "hub.connect_timeout_secs",
            self.connect_timeout_secs,
        );
        if self.call_timeout_secs >= self.poll_interval_secs && self.poll_interval_secs > 0 {
            problems.push(format!(
                "hub.call_timeout_secs = {}: must be below hub.poll_interval_secs ({}), so a slow call cannot overlap the next poll",
                self.call_timeout_secs, self.poll_interval_secs
            ));
        }
        // A call timeout of 0 is reported above; comparing with it would only add noise.
        if self.connect_timeout_secs > self.call_timeout_secs && self.call_timeout_secs > 0 {
            problems.push(format!(
                "hub.connect_timeout_secs = {}: must be at most hub.call_timeout_secs ({})",
                self.connect_timeout_secs, self.call_timeout_secs
            ));
        }
        in_range(
            problems,
            "hub.task_info_batch",
            self.task_info_batch,
            1,
            10_000,
        );
        in_range(
            problems,
            "hub.multicall_batch",
            self.multicall_batch,
            1,
            10_000,
        );

        let identity = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            (Some(_), None) => {
                problems.push(
                    "hub.cert_file is set but hub.key_file is not: set both or neither".to_string(),
                );
                None
            }
            (None, Some(_)) => {
                problems.push(
                    "hub.key_file is set but hub.cert_file is not: set both or neither".to_string(),
                );
                None
            }
        };

        if problems.len() > before {
            return None;
        }
        Some(HubConfig {
            url: self.url.clone(),
            poll_interval: Duration::from_secs(self.poll_interval_secs),
            call_timeout: Duration::from_secs(self.call_timeout_secs),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            ca_file: self.ca_file.clone(),
            identity,
            channel_cache: Duration::from_secs(self.channel_cache_secs),
            task_info_batch: self.task_info_batch,
            multicall_batch: self.multicall_batch,
            missing_task_retry: Duration::from_secs(self.missing_task_retry_secs),
            backfill_hours: self.backfill_hours,
        })
    }
}

impl RawTagsConfig {
    fn validate(&self, problems: &mut Vec<String>) -> Option<TagsConfig> {
        let before = problems.len();

        in_range(problems, "tags.max_values", self.max_values, 1, 100_000);

        let mut rewrites = Vec::new();
        for (index, rewrite) in self.rewrite.iter().enumerate() {
            match Regex::new(&format!("^(?:{})$", rewrite.pattern)) {
                Ok(pattern) => rewrites.push(TagRewrite {
                    pattern,
                    replacement: rewrite.replacement.clone(),
                }),
                Err(error) => problems.push(format!(
                    "tags.rewrite[{index}].pattern = {:?}: invalid regular expression: {}",
                    rewrite.pattern,
                    error.to_string().lines().last().unwrap_or_default().trim()
                )),
            }
            if rewrite.replacement.is_empty() {
                problems.push(format!(
                    "tags.rewrite[{index}].replacement = \"\": must not be empty; use a label value such as \"side-tag\""
                ));
            }
        }

        if problems.len() > before {
            return None;
        }
        Some(TagsConfig {
            max_values: self.max_values,
            rewrites,
        })
    }
}

impl RawPushConfig {
    fn validate(&self, problems: &mut Vec<String>) -> Option<PushConfig> {
        let before = problems.len();
        in_range(
            problems,
            "push.max_body_bytes",
            self.max_body_bytes,
            1024,
            1 << 30,
        );
        in_range(
            problems,
            "push.max_series_per_group",
            self.max_series_per_group,
            1,
            10_000_000,
        );
        in_range(problems, "push.max_groups", self.max_groups, 1, 10_000_000);
        positive(
            problems,
            "push.persist_interval_secs",
            self.persist_interval_secs,
        );
        for (index, path) in self.token_secret_files.iter().enumerate() {
            if path.as_os_str().is_empty() {
                problems.push(format!(
                    "push.token_secret_files[{index}] = \"\": must name a file, such as \
                     \"/etc/koji-aggregator/push-token.secret\""
                ));
            }
        }
        if problems.len() > before {
            return None;
        }
        Some(PushConfig {
            limits: Limits {
                max_body_bytes: self.max_body_bytes,
                max_series_per_group: self.max_series_per_group,
                max_groups: self.max_groups,
            },
            expiry: (self.expiry_secs > 0).then(|| Duration::from_secs(self.expiry_secs)),
            persist_interval: Duration::from_secs(self.persist_interval_secs),
            token_secret_files: self.token_secret_files.clone(),
        })
    }
}

impl RawTlsConfig {
    fn validate(&self, problems: &mut Vec<String>) -> Option<TlsFiles> {
        let before = problems.len();
        for (key, path) in [
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
        ] {
            if path.as_os_str().is_empty() {
                problems.push(format!("{key} = \"\": must name a PEM file"));
            }
        }
        if self
            .client_ca_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            problems.push(
                "tls.client_ca_file = \"\": must name a PEM file, or be left out to request no \
                 client certificate"
                    .to_string(),
            );
        }
        if problems.len() > before {
            return None;
        }
        Some(TlsFiles {
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            client_ca_file: self.client_ca_file.clone(),
        })
    }
}

/// Returns the fields of the struct that reads the table at `schema_path`, a dotted path in
/// which `[]` stands for every element of an array of tables.
fn known_keys(schema_path: &str) -> Option<&'static [&'static str]> {
    Some(match schema_path {
        "" => field_names::<RawConfig>(),
        "hub" => field_names::<RawHubConfig>(),
        "tags" => field_names::<RawTagsConfig>(),
        "tags.rewrite[]" => field_names::<RawTagRewrite>(),
        "push" => field_names::<RawPushConfig>(),
        "tls" => field_names::<RawTlsConfig>(),
        _ => return None,
    })
}

fn positive(problems: &mut Vec<String>, key: &str, value: u64) {
    if value == 0 {
        problems.push(format!("{key} = 0: must be at least 1"));
    }
}

fn in_range(problems: &mut Vec<String>, key: &str, value: usize, min: usize, max: usize) {
    if !(min..=max).contains(&value) {
        problems.push(format!("{key} = {value}: must be between {min} and {max}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("aggregator.toml"), text)
    }

    #[test]
    fn empty_file_uses_defaults() {
        let config = parse("").expect("empty file is valid");

        assert_eq!(config.listen, "127.0.0.1:9820".parse().unwrap());
        assert_eq!(config.state_dir, PathBuf::from("/var/lib/koji-aggregator"));
        assert!(config.hub.is_none());
        assert_eq!(config.tags.max_values, 500);
        assert_eq!(config.push.limits, Limits::default());
        assert_eq!(config.push.expiry, Some(Duration::from_secs(600)));
        assert_eq!(config.push.persist_interval, Duration::from_secs(30));
        assert!(config.push.token_secret_files.is_empty());
        assert!(config.tls.is_none());
    }

    #[test]
    fn hub_defaults_match_with_url() {
        let text = "[hub]\nurl = \"https://koji.example.org/kojihub\"\n";
        let raw: RawConfig = toml::from_str(text).unwrap();

        assert_eq!(
            raw.hub,
            Some(RawHubConfig::with_url("https://koji.example.org/kojihub"))
        );
        let hub = parse(text).unwrap().hub.unwrap();
        assert_eq!(hub.poll_interval, Duration::from_secs(30));
        assert_eq!(hub.call_timeout, Duration::from_secs(20));
        assert_eq!(hub.missing_task_retry, Duration::from_secs(600));
    }

    #[test]
    fn default_config_round_trips() {
        let raw = RawConfig {
            hub: Some(RawHubConfig::with_url("https://koji.example.org/kojihub")),
            ..RawConfig::default()
        };
        let text = toml::to_string(&raw).unwrap();

        assert_eq!(toml::from_str::<RawConfig>(&text).unwrap(), raw);
    }

    #[test]
    fn unknown_key_is_rejected() {
        let error = parse("[hub]\nurl = \"https://k/kojihub\"\npoll_intervall_secs = 5\n")
            .unwrap_err()
            .to_string();

        assert!(error.contains("poll_intervall_secs"), "{error}");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
listen = "localhost"
[hub]
url = "ftp://koji"
poll_interval_secs = 10
call_timeout_secs = 10
task_info_batch = 0
cert_file = "/etc/cert.pem"
[tags]
max_values = 0
[[tags.rewrite]]
pattern = "(unclosed"
replacement = "x"
"#;
        let error = parse(text).unwrap_err().to_string();

        assert!(error.contains("listen = \"localhost\""), "{error}");
        assert!(error.contains("hub.url = \"ftp://koji\""), "{error}");
        assert!(
            error.contains("hub.call_timeout_secs = 10: must be below"),
            "{error}"
        );
        assert!(error.contains("hub.task_info_batch = 0"), "{error}");
        assert!(error.contains("hub.key_file is not"), "{error}");
        assert!(error.contains("tags.max_values = 0"), "{error}");
        assert!(
            error.contains("tags.rewrite[0].pattern = \"(unclosed\""),
            "{error}"
        );
    }

    #[test]
    fn zero_call_timeout_reported_once() {
        let error =
            parse("[hub]\nurl = \"https://koji.example.org/kojihub\"\ncall_timeout_secs = 0\n")
                .unwrap_err()
                .to_string();

        assert!(error.contains("hub.call_timeout_secs = 0"), "{error}");
        assert!(!error.contains("connect_timeout_secs"), "{error}");
    }

    #[test]
    fn push_and_tls_tables() {
        let text = r#"
[push]
max_body_bytes = 4096
expiry_secs = 0
persist_interval_secs = 5
token_secret_files = ["/etc/koji-aggregator/new.secret", "/etc/koji-aggregator/old.secret"]
[tls]
cert_file = "/etc/koji-aggregator/tls.crt"
key_file = "/etc/koji-aggregator/tls.key"
client_ca_file = "/etc/koji-aggregator/client-ca.crt"
"#;
        let config = parse(text).unwrap();

        assert_eq!(config.push.limits.max_body_bytes, 4096);
        assert_eq!(config.push.expiry, None);
        assert_eq!(config.push.persist_interval, Duration::from_secs(5));
        assert_eq!(config.push.token_secret_files.len(), 2);
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert_file, PathBuf::from("/etc/koji-aggregator/tls.crt"));
        assert_eq!(
            tls.client_ca_file,
            Some(PathBuf::from("/etc/koji-aggregator/client-ca.crt"))
        );
    }

    #[test]
    fn push_and_tls_problems_reported() {
        let text = r#"
[push]
max_body_bytes = 100
max_series_per_group = 0
max_groups = 0
persist_interval_secs = 0
token_secret_files = [""]
[tls]
cert_file = ""
key_file = "/etc/k"
client_ca_file = ""
"#;
        let error = parse(text).unwrap_err().to_string();

        for expected in [
            "push.max_body_bytes = 100: must be between 1024",
            "push.max_series_per_group = 0",
            "push.max_groups = 0",
            "push.persist_interval_secs = 0",
            "push.token_secret_files[0] = \"\"",
            "tls.cert_file = \"\"",
            "tls.client_ca_file = \"\"",
        ] {
            assert!(error.contains(expected), "{expected}: {error}");
        }
        let missing_key = parse("[tls]\ncert_file = \"/etc/c\"\n")
            .unwrap_err()
            .to_string();
        assert!(missing_key.contains("key_file"), "{missing_key}");
    }

    #[test]
    fn every_unknown_key_is_reported() {
        let text = "stat_dir = \"/var/lib/x\"\n[hub]\nurl = \"https://k/kojihub\"\n\
                    pol_interval_secs = 5\n[[tags.rewrite]]\npattern = 'a'\nreplacement = 'b'\n\
                    replace = 'c'\n[tls]\ncert_file = '/c'\nkey_file = '/k'\nfoo = 1\n";
        let error = parse(text).unwrap_err().to_string();

        assert!(
            error.contains("stat_dir: unknown key at line 1; did you mean state_dir?"),
            "{error}"
        );
        assert!(
            error.contains(
                "hub.pol_interval_secs: unknown key at line 4; did you mean \
                 hub.poll_interval_secs?"
            ),
            "{error}"
        );
        assert!(
            error.contains("tags.rewrite[0].replace: unknown key at line 8"),
            "{error}"
        );
        assert!(
            error.contains(
                "tls.foo: unknown key at line 12; the keys of [tls] are cert_file, key_file, \
                 client_ca_file"
            ),
            "{error}"
        );
        assert!(
            error.find("stat_dir").unwrap() < error.find("hub.pol_interval_secs").unwrap(),
            "problems are listed in file order: {error}"
        );
    }

    #[test]
    fn unknown_keys_and_values_reported_together() {
        let error = parse("stat_dir = \"/x\"\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();

        assert!(error.contains("stat_dir: unknown key"), "{error}");
        assert!(error.contains("listen = \"localhost\""), "{error}");
    }

    #[test]
    fn unknown_table_is_reported() {
        let error = parse("[hubb]\nurl = \"https://k/kojihub\"\n")
            .unwrap_err()
            .to_string();

        assert!(
            error.contains("hubb: unknown key at line 1; did you mean hub?"),
            "{error}"
        );
    }

    #[test]
    fn wrong_type_names_key_and_type() {
        let cases = [
            (
                "[hub]\nurl = \"https://k/kojihub\"\npoll_interval_secs = \"30\"\n",
                "hub.poll_interval_secs: invalid type: string \"30\", expected a whole number \
                 that is not negative at line 3",
            ),
            (
                "[push]\ntoken_secret_files = [\"/a\", 5]\n",
                "push.token_secret_files[1]: invalid type: integer `5`, expected a string (a \
                 file path) at line 2",
            ),
            (
                "[tags]\nmax_values = -1\n",
                "tags.max_values: invalid value: integer `-1`",
            ),
            (
                "hub = 5\n",
                "hub: invalid type: integer `5`, expected a table at line 1",
            ),
            (
                "[hub]\npoll_interval_secs = 5\n",
                "hub.url: missing in the table at line 1; this key is required",
            ),
            (
                "[[tags.rewrite]]\npattern = 'a'\nreplacement = 1\n",
                "tags.rewrite[0].replacement: invalid type: integer `1`, expected a string",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();

            assert!(error.contains(expected), "{expected}\n{error}");
        }
    }

    #[test]
    fn syntax_error_names_line() {
        let error = parse("[hub\n").unwrap_err();

        assert!(matches!(error, ConfigError::Parse { .. }), "{error}");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn hub_url_whitespace_rejected() {
        for url in [
            " https://koji.example.org/kojihub",
            "https://koji.example.org/kojihub\t",
        ] {
            let text = format!("[hub]\nurl = {url:?}\n");
            let error = parse(&text).unwrap_err().to_string();

            assert!(
                error.contains(&format!(
                    "hub.url = {url:?}: has leading or trailing whitespace"
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn open_listen_without_credentials_warns() {
        let config = parse("listen = \"0.0.0.0:9820\"\n").unwrap();
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(
            config.warnings[0].contains("listen = \"0.0.0.0:9820\""),
            "{:?}",
            config.warnings
        );
        assert!(
            config.warnings[0].contains("push.token_secret_files"),
            "{:?}",
            config.warnings
        );

        let loopback = parse("listen = \"127.0.0.1:9820\"\n").unwrap();
        assert!(loopback.warnings.is_empty(), "{:?}", loopback.warnings);
        let with_secret =
            parse("listen = \"[::]:9820\"\n[push]\ntoken_secret_files = [\"/etc/secret\"]\n")
                .unwrap();
        assert!(
            with_secret.warnings.is_empty(),
            "{:?}",
            with_secret.warnings
        );
    }

    #[test]
    fn hub_url_path_warns() {
        let config = parse("[hub]\nurl = \"https://koji.example.org/api\"\n").unwrap();

        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(
            config.warnings[0].contains("hub.url = \"https://koji.example.org/api\""),
            "{:?}",
            config.warnings
        );
        assert!(
            config.warnings[0].contains("/kojihub"),
            "{:?}",
            config.warnings
        );
        for url in [
            "https://koji.example.org/kojihub",
            "https://koji.example.org/kojihub/",
            "http://127.0.0.1:8080/koji/kojihub",
        ] {
            let config = parse(&format!("[hub]\nurl = {url:?}\n")).unwrap();
            assert!(config.warnings.is_empty(), "{url}: {:?}", config.warnings);
        }
    }

    #[test]
    fn known_keys_follow_structs() {
        assert_eq!(
            known_keys(""),
            Some(&["listen", "state_dir", "hub", "tags", "push", "tls"][..])
        );
        assert_eq!(
            known_keys("tags.rewrite[]"),
            Some(&["pattern", "replacement"][..])
        );
        assert!(
            known_keys("hub")
                .unwrap()
                .contains(&"missing_task_retry_secs")
        );
        assert_eq!(known_keys("hub.url"), None);
    }

    /// Writes `content` to `name` in `dir` and returns the path as a TOML string.
    fn write(dir: &Path, name: &str, content: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        format!("{:?}", path.display().to_string())
    }

    fn load(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        let path = dir.join("aggregator.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn load_reports_every_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = |name: &str| format!("{:?}", dir.path().join(name).display().to_string());
        let short = write(dir.path(), "short.secret", "12345678\n");
        let text = format!(
            "state_dir = {state}\n[hub]\nurl = \"https://k/kojihub\"\nca_file = {ca}\n\
             cert_file = {cert}\nkey_file = {key}\n[push]\n\
             token_secret_files = [{secret}, {short}]\n[tls]\ncert_file = {tls_cert}\n\
             key_file = {tls_key}\nclient_ca_file = {client_ca}\n",
            state = missing("state"),
            ca = missing("hub-ca.pem"),
            cert = missing("hub.crt"),
            key = missing("hub.key"),
            secret = missing("push.secret"),
            tls_cert = missing("tls.crt"),
            tls_key = missing("tls.key"),
            client_ca = missing("client-ca.pem"),
        );
        let error = load(dir.path(), &text).unwrap_err().to_string();

        for (key, file) in [
            ("hub.ca_file", "hub-ca.pem"),
            ("hub.cert_file", "hub.crt"),
            ("hub.key_file", "hub.key"),
            ("push.token_secret_files[0]", "push.secret"),
            ("tls.cert_file", "tls.crt"),
            ("tls.key_file", "tls.key"),
            ("tls.client_ca_file", "client-ca.pem"),
        ] {
            let line = error
                .lines()
                .find(|line| line.contains(key) && line.contains(file))
                .unwrap_or_else(|| panic!("no line for {key} and {file} in\n{error}"));
            assert!(line.contains("cannot read"), "{line}");
        }
        assert!(
            error.contains("push.token_secret_files[1]: token secret file"),
            "{error}"
        );
        assert!(error.contains("holds 8 bytes, fewer than 16"), "{error}");
        assert!(
            !error.contains("state_dir"),
            "a missing state_dir is created: {error}"
        );
        assert!(!dir.path().join("state").exists());
    }

    #[test]
    fn load_parses_pem_files() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = write(dir.path(), "not.pem", "just text\n");
        let text = format!(
            "state_dir = {state:?}\n[hub]\nurl = \"https://k/kojihub\"\nca_file = {not_pem}\n\
             cert_file = {not_pem}\nkey_file = {not_pem}\n[tls]\ncert_file = {not_pem}\n\
             key_file = {not_pem}\n",
            state = dir.path().display().to_string(),
        );
        let error = load(dir.path(), &text).unwrap_err().to_string();

        let hub_ca = error.lines().find(|line| line.contains("hub.ca_file:"));
        assert!(
            hub_ca.is_some_and(|line| line.contains("not.pem") && line.contains("no PEM")),
            "{error}"
        );
        let identity = error
            .lines()
            .find(|line| line.contains("hub.cert_file, hub.key_file:"));
        assert!(
            identity.is_some_and(|line| line.contains("not.pem")),
            "{error}"
        );
        let tls = error.lines().find(|line| line.contains("tls.cert_file"));
        assert!(
            tls.is_some_and(|line| line.contains("not.pem") && line.contains("certificate")),
            "{error}"
        );
    }

    #[test]
    fn load_checks_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "plain-file", "");
        let error = load(dir.path(), &format!("state_dir = {file}\n"))
            .unwrap_err()
            .to_string();

        assert!(
            error.contains(&format!(
                "state_dir = {file}: exists but is not a directory"
            )),
            "{error}"
        );

        let below_file = format!(
            "{:?}",
            dir.path().join("plain-file/state").display().to_string()
        );
        let error = load(dir.path(), &format!("state_dir = {below_file}\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot be created"), "{error}");

        let writable = format!("{:?}", dir.path().display().to_string());
        load(dir.path(), &format!("state_dir = {writable}\n")).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "the probe file is removed: {left:?}");
    }

    #[test]
    fn rewrite_matches_whole_tag() {
        let config = parse(
            "[[tags.rewrite]]\npattern = 'f\\d+-build-side-\\d+'\nreplacement = 'side-tag'\n",
        )
        .unwrap();
        let rewrite = &config.tags.rewrites[0];

        assert!(rewrite.pattern.is_match("f41-build-side-12345"));
        assert!(!rewrite.pattern.is_match("xf41-build-side-12345"));
    }
}

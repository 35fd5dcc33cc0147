//! The agent's configuration file (`/etc/koji-agent/agent.toml`).
//!
//! [`RawConfig`] is the file as written, with a named default function per key. It is
//! validated into [`Config`], which the rest of the agent uses. Validation reports every
//! unknown key and every invalid value at once, each with the key, the value and the allowed
//! values. A value of the wrong type stops the check at the first one.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use koji_configfile::{KeyProblem, ReadError, field_names};
use serde::{Deserialize, Serialize};

use crate::collector;
use crate::kojid_conf;

/// The configuration file as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The builder's Koji host name, the `host` label of every sample and the `instance` of
    /// the pushed group. Default: the machine's fully qualified domain name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Seconds between collection cycles, each followed by a push.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// Directory under which every path of the build host is read (`/proc`, `/sys`, kojid.conf,
    /// mockdir, the certificate). Only tests and chroot setups change it.
    #[serde(default = "default_root")]
    pub root: PathBuf,
    /// kojid's configuration file, resolved under `root`.
    #[serde(default = "default_kojid_config")]
    pub kojid_config: PathBuf,
    /// Collectors to run, by name. Default: all of them.
    #[serde(default = "default_collectors")]
    pub collectors: Vec<String>,
    /// The hub, read anonymously for the builder's own record.
    #[serde(default)]
    pub hub: RawHub,
    /// Push targets: aggregators, Pushgateways, or both.
    #[serde(default)]
    pub push: Vec<RawPush>,
}

/// The `[hub]` section as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHub {
    /// Whether the agent calls the hub at all. Switch it off where an aggregator polls the
    /// hub: the agent then exports no hub rows and no `koji_agent_hub_up`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The hub's XML-RPC URL. Default: `server` from kojid.conf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// CA bundle (PEM) that signs the hub's certificate, for an `https://` URL. Default:
    /// `serverca` from kojid.conf. When kojid.conf sets none, kojid's default
    /// `/etc/kojid/serverca.crt` if that file exists, else the system's trusted roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Seconds between refreshes of the hub view; cycles in between reuse the last one.
    #[serde(default = "default_hub_interval_secs")]
    pub interval_secs: u64,
    /// Seconds allowed for each hub request.
    #[serde(default = "default_hub_timeout_secs")]
    pub timeout_secs: u64,
}

impl Default for RawHub {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            url: None,
            ca_file: None,
            interval_secs: default_hub_interval_secs(),
            timeout_secs: default_hub_timeout_secs(),
        }
    }
}

/// One `[[push]]` target as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPush {
    /// Base URL of a koji-aggregator or a Pushgateway, such as
    /// `https://monitor.example.org:9820`. The agent appends
    /// `/metrics/job/koji-agent/instance/<host>`.
    pub url: String,
    /// Seconds allowed for one push request.
    #[serde(default = "default_push_timeout_secs")]
    pub timeout_secs: u64,
    /// Upper bound in seconds of the random delay before a retry.
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    /// File that contains the bearer token sent with each push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Client certificate (PEM) presented to the target; needs `key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM) of `cert_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// CA bundle (PEM) that signs the target's certificate. Default: the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// Default of `interval_secs`.
pub fn default_interval_secs() -> u64 {
    15
}

/// Default of `root`.
pub fn default_root() -> PathBuf {
    PathBuf::from("/")
}

/// Default of `kojid_config`.
pub fn default_kojid_config() -> PathBuf {
    PathBuf::from(kojid_conf::DEFAULT_PATH)
}

/// Default of `collectors`: every collector.
pub fn default_collectors() -> Vec<String> {
    collector::NAMES
        .iter()
        .map(|name| name.to_string())
        .collect()
}

fn default_true() -> bool {
    true
}

/// Default of `[hub] interval_secs`.
pub fn default_hub_interval_secs() -> u64 {
    60
}

/// Default of `[hub] timeout_secs`.
pub fn default_hub_timeout_secs() -> u64 {
    10
}

/// Default of `[[push]] timeout_secs`.
pub fn default_push_timeout_secs() -> u64 {
    10
}

/// Default of `[[push]] max_backoff_secs`.
pub fn default_max_backoff_secs() -> u64 {
    60
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            host: None,
            interval_secs: default_interval_secs(),
            root: default_root(),
            kojid_config: default_kojid_config(),
            collectors: default_collectors(),
            hub: RawHub::default(),
            push: Vec::new(),
        }
    }
}

/// Upper bound of every `*_secs` key: one day.
const MAX_SECS: u64 = 86_400;

/// The validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The builder's Koji host name.
    pub host: String,
    /// Time between collection cycles.
    pub interval: Duration,
    /// Directory under which the build host's paths are read.
    pub root: PathBuf,
    /// kojid.conf, as a path on the build host (not yet under `root`).
    pub kojid_config: PathBuf,
    /// Enabled collectors, in [`collector::NAMES`] order.
    pub collectors: Vec<&'static str>,
    /// Hub settings.
    pub hub: HubConfig,
    /// Push targets.
    pub push: Vec<PushConfig>,
    /// Settings that are valid but probably not meant, for a warning at start.
    pub warnings: Vec<String>,
    /// The file the configuration was loaded from, named in errors found later.
    pub path: Option<PathBuf>,
}

/// The validated `[hub]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct HubConfig {
    /// Whether the agent calls the hub.
    pub enabled: bool,
    /// Hub URL; `None` takes `server` from kojid.conf.
    pub url: Option<String>,
    /// CA bundle of the hub; `None` takes `serverca` from kojid.conf or kojid's default.
    pub ca_file: Option<PathBuf>,
    /// Time between refreshes of the hub view.
    pub interval: Duration,
    /// Time allowed for each hub request.
    pub timeout: Duration,
}

/// A validated `[[push]]` target.
#[derive(Clone, PartialEq)]
pub struct PushConfig {
    /// Base URL as configured; also the `target` label of the failure counter.
    pub url: String,
    /// Time allowed for one push request.
    pub timeout: Duration,
    /// Upper bound of the delay before a retry.
    pub max_backoff: Duration,
    /// Bearer token read from `token_file`.
    pub token: Option<String>,
    /// Client certificate and key files.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// CA bundle of the target.
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for PushConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PushConfig")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("max_backoff", &self.max_backoff)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("identity", &self.identity)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// One invalid setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The key, such as `push[0].url`.
    pub key: String,
    /// The value as written; empty when the problem is not about the value, such as an
    /// unknown key.
    pub value: String,
    /// Description of the problem and of the allowed values.
    pub message: String,
}

impl Problem {
    /// A problem of `key` that is not about its value.
    pub fn of_key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: String::new(),
            message: message.into(),
        }
    }
}

impl From<KeyProblem> for Problem {
    fn from(problem: KeyProblem) -> Self {
        Self::of_key(problem.key, problem.message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            return write!(formatter, "{}: {}", self.key, self.message);
        }
        write!(formatter, "{} = {}: {}", self.key, self.value, self.message)
    }
}

/// Errors of loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("invalid configuration file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error with its line and column.
        message: String,
    },
    /// Unknown keys, a value of the wrong type, or values that are not allowed.
    #[error("invalid configuration{}:\n{}", origin(path), list(problems))]
    Invalid {
        /// The file, when the configuration came from one.
        path: Option<PathBuf>,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn origin(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|path| format!(" in {}", path.display()))
        .unwrap_or_default()
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads, parses and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::from_toml(&text).map_err(|error| match error {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ConfigError::Invalid { problems, .. } => ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                problems,
            },
            other => other,
        })?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates configuration text. Unknown keys are reported together with
    /// the invalid values of the other keys.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let (raw, unknown_keys) = match koji_configfile::read::<RawConfig>(text, known_keys) {
            Ok(read) => read,
            Err(ReadError::Syntax(message)) => {
                return Err(ConfigError::Parse {
                    path: PathBuf::new(),
                    message,
                });
            }
            Err(ReadError::Problems(problems)) => {
                return Err(ConfigError::Invalid {
                    path: None,
                    problems: problems.into_iter().map(Problem::from).collect(),
                });
            }
        };
        let mut problems: Vec<Problem> = unknown_keys.into_iter().map(Problem::from).collect();

        match raw.validate() {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(ConfigError::Invalid {
                path: None,
                problems,
            }),
            Err(ConfigError::Invalid {
                problems: value_problems,
                ..
            }) => {
                problems.extend(value_problems);
                Err(ConfigError::Invalid {
                    path: None,
                    problems,
                })
            }
            Err(other) => Err(other),
        }
    }

    /// Returns the path of kojid.conf under the root.
    pub fn kojid_config_path(&self) -> PathBuf {
        crate::paths::under_root(&self.root, &self.kojid_config)
    }

    /// Checks that at least one push target is configured, for the modes that push.
    pub fn require_push_targets(&self) -> Result<(), ConfigError> {
        if self.push.is_empty() {
            return Err(ConfigError::Invalid {
                path: self.path.clone(),
                problems: vec![Problem {
                    key: "push".to_string(),
                    value: "[]".to_string(),
                    message: "no push target; add a [[push]] section with the url of a \
                              koji-aggregator or a Pushgateway"
                        .to_string(),
                }],
            });
        }
        Ok(())
    }
}

impl RawConfig {
    /// Validates the configuration; the default host name comes from [`crate::hostname`].
    pub fn validate(self) -> Result<Config, ConfigError> {
        self.validate_with_host(|| crate::hostname::fqdn().map_err(|error| error.to_string()))
    }

    /// Validates the configuration, taking the default host name from `default_host`.
    pub fn validate_with_host(
        self,
        default_host: impl FnOnce() -> Result<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let mut problem = |key: &str, value: &dyn fmt::Debug, message: &str| {
            problems.push(Problem {
                key: key.to_string(),
                value: format!("{value:?}"),
                message: message.to_string(),
            });
        };

        let host_is_set = self.host.is_some();
        let host = match self.host {
            Some(host) => Some(host),
            None => match default_host() {
                Ok(host) => Some(host),
                Err(error) => {
                    problem(
                        "host",
                        &"(unset)",
                        &format!(
                            "the machine's host name could not be read ({error}); set host to \
                             the builder's Koji host name"
                        ),
                    );
                    None
                }
            },
        };
        if let Some(host) = &host
            && let Err(reason) = check_host_name(host)
        {
            let origin = if host_is_set {
                ""
            } else {
                " (host is unset, so the agent took the machine's host name)"
            };
            problem(
                "host",
                host,
                &format!(
                    "is not a valid Koji host name{origin}: {reason}. Use the builder's Koji \
                     host name: 1 to {MAX_HOST_NAME_LEN} ASCII letters, digits and the \
                     characters {HOST_NAME_PUNCTUATION}, such as builder01.example.org"
                ),
            );
        }
        let host = host.unwrap_or_default();

        check_secs(&mut problem, "interval_secs", self.interval_secs);

        if !self.root.is_dir() {
            problem(
                "root",
                &self.root,
                "must be an existing directory; use / on a build host",
            );
        }
        if !self.kojid_config.is_absolute() {
            problem(
                "kojid_config",
                &self.kojid_config,
                "must be an absolute path such as /etc/kojid/kojid.conf",
            );
        }

        if self.collectors.is_empty() {
            problem(
                "collectors",
                &self.collectors,
                &format!(
                    "lists no collector, so the agent would push nothing about the builder; \
                     list at least one of {}, or remove the key to run them all",
                    collector::NAMES.join(", ")
                ),
            );
        }
        let mut seen = BTreeSet::new();
        for name in &self.collectors {
            if !collector::NAMES.contains(&name.as_str()) {
                problem(
                    "collectors",
                    name,
                    &format!(
                        "unknown collector; the collectors are {}",
                        collector::NAMES.join(", ")
                    ),
                );
            } else if !seen.insert(name.as_str()) {
                problem("collectors", name, "listed twice; list each collector once");
            }
        }
        let collectors: Vec<&'static str> = collector::NAMES
            .iter()
            .copied()
            .filter(|name| seen.contains(name))
            .collect();

        let hub = &self.hub;
        if let Some(url) = &hub.url {
            check_url(
                &mut problem,
                "hub.url",
                url,
                "https://koji.example.org/kojihub",
            );
            if let Ok(parsed) = reqwest::Url::parse(url)
                && !parsed.path().trim_end_matches('/').ends_with("/kojihub")
            {
                warnings.push(format!(
                    "hub.url = {url:?}: the path does not end in /kojihub, where Koji hubs serve \
                     XML-RPC; check that it is the hub's XML-RPC endpoint"
                ));
            }
        }
        if let Some(ca_file) = &hub.ca_file {
            check_file(&mut problem, "hub.ca_file", ca_file);
        }
        check_secs(&mut problem, "hub.interval_secs", hub.interval_secs);
        check_secs(&mut problem, "hub.timeout_secs", hub.timeout_secs);
        if hub.enabled && hub.timeout_secs >= self.interval_secs && self.interval_secs > 0 {
            warnings.push(format!(
                "hub.timeout_secs ({}) is not below interval_secs ({}); a slow hub delays \
                 pushes by up to the timeout",
                hub.timeout_secs, self.interval_secs
            ));
        }

        let mut push = Vec::new();
        let mut urls = BTreeSet::new();
        for (index, target) in self.push.iter().enumerate() {
            let key = |name: &str| format!("push[{index}].{name}");
            check_url(
                &mut problem,
                &key("url"),
                &target.url,
                "https://monitor.example.org:9820",
            );
            if target.url.contains("/metrics/job") {
                problem(
                    &key("url"),
                    &target.url,
                    "must be the base URL of the receiver, such as \
                     https://monitor.example.org:9820; the agent appends \
                     /metrics/job/koji-agent/instance/<host> itself",
                );
            }
            if !urls.insert(target.url.trim_end_matches('/')) {
                problem(
                    &key("url"),
                    &target.url,
                    "listed twice; list each target once",
                );
            }
            check_secs(&mut problem, &key("timeout_secs"), target.timeout_secs);
            check_secs(
                &mut problem,
                &key("max_backoff_secs"),
                target.max_backoff_secs,
            );

            let token = match &target.token_file {
                Some(path) => match read_token(path) {
                    Ok(token) => Some(token),
                    Err(message) => {
                        problem(&key("token_file"), path, &message);
                        None
                    }
                },
                None => None,
            };
            let identity = match (&target.cert_file, &target.key_file) {
                (Some(cert), Some(key_file)) => {
                    check_file(&mut problem, &key("cert_file"), cert);
                    check_file(&mut problem, &key("key_file"), key_file);
                    Some((cert.clone(), key_file.clone()))
                }
                (Some(cert), None) => {
                    check_file(&mut problem, &key("cert_file"), cert);
                    problem(
                        &key("cert_file"),
                        cert,
                        "needs key_file, the certificate's key",
                    );
                    None
                }
                (None, Some(key_file)) => {
                    check_file(&mut problem, &key("key_file"), key_file);
                    problem(
                        &key("key_file"),
                        key_file,
                        "needs cert_file, the certificate",
                    );
                    None
                }
                (None, None) => None,
            };
            if let Some(ca_file) = &target.ca_file {
                check_file(&mut problem, &key("ca_file"), ca_file);
            }
            if target.timeout_secs >= self.interval_secs && self.interval_secs > 0 {
                warnings.push(format!(
                    "{} ({}) is not below interval_secs ({}); a hanging target can hold a \
                     snapshot past the next cycle",
                    key("timeout_secs"),
                    target.timeout_secs,
                    self.interval_secs
                ));
            }

            if token.is_some() && sends_in_clear(&target.url) {
                warnings.push(format!(
                    "{} = {:?} is plain http to another host, so the bearer token of \
                     token_file crosses the network unencrypted; use https",
                    key("url"),
                    target.url
                ));
            }

            push.push(PushConfig {
                url: target.url.clone(),
                timeout: Duration::from_secs(target.timeout_secs),
                max_backoff: Duration::from_secs(target.max_backoff_secs),
                token,
                identity,
                ca_file: target.ca_file.clone(),
            });
        }

        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: None,
                problems,
            });
        }
        Ok(Config {
            host,
            interval: Duration::from_secs(self.interval_secs),
            root: self.root,
            kojid_config: self.kojid_config,
            collectors,
            hub: HubConfig {
                enabled: self.hub.enabled,
                url: self.hub.url,
                ca_file: self.hub.ca_file,
                interval: Duration::from_secs(self.hub.interval_secs),
                timeout: Duration::from_secs(self.hub.timeout_secs),
            },
            push,
            warnings,
            path: None,
        })
    }
}

/// Maximum length of a Koji host name: the hub's default `MaxNameLengthInternal`.
const MAX_HOST_NAME_LEN: usize = 256;
/// The characters besides ASCII letters and digits that the hub's default name rules allow in
/// host names: `RegexNameInternal` (`^[A-Za-z0-9/_.+-]+$`) together with `RegexUserName`
/// (`^[A-Za-z0-9/_.@-]+$`), since a host is also a user. Sites can change both rules.
const HOST_NAME_PUNCTUATION: &str = "/_.+@-";

/// Checks `host` against the hub's default name rules for hosts. Returns what is wrong
/// otherwise.
fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("it is empty".to_string());
    }
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || HOST_NAME_PUNCTUATION.contains(*c)))
    {
        return Err(format!("it contains {bad:?}"));
    }
    if host.len() > MAX_HOST_NAME_LEN {
        return Err(format!("it has {} characters", host.len()));
    }
    Ok(())
}

/// Returns true for an `http://` URL whose host is not a loopback address or `localhost`.
fn sends_in_clear(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(address) => !address.is_loopback(),
        Err(_) => host != "localhost",
    }
}

fn check_secs(problem: &mut impl FnMut(&str, &dyn fmt::Debug, &str), key: &str, value: u64) {
    if value == 0 || value > MAX_SECS {
        problem(
            key,
            &value,
            &format!("must be a whole number of seconds from 1 to {MAX_SECS}"),
        );
    }
}

fn check_url(
    problem: &mut impl FnMut(&str, &dyn fmt::Debug, &str),
    key: &str,
    url: &str,
    example: &str,
) {
    if url.trim() != url {
        // The URL parser drops surrounding spaces, so they are checked on their own.
        problem(key, &url, "has leading or trailing whitespace; remove it");
        return;
    }
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
            if parsed.query().is_some() || parsed.fragment().is_some() {
                problem(key, &url, "must not have a query or a fragment");
            }
        }
        Ok(_) => problem(
            key,
            &url,
            &format!("must start with https:// or http://, such as {example}"),
        ),
        Err(error) => problem(
            key,
            &url,
            &format!("is not a URL ({error}); give one such as {example}"),
        ),
    }
}

fn check_file(problem: &mut impl FnMut(&str, &dyn fmt::Debug, &str), key: &str, path: &Path) {
    if let Err(error) = std::fs::File::open(path) {
        problem(
            key,
            &path,
            &format!("cannot be read ({error}); give a readable PEM file"),
        );
    }
}

fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        format!("cannot be read ({error}); give a file that contains the token")
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err("is empty; the file must contain the bearer token".to_string());
    }
    if token.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(
            "contains whitespace inside the token; the file must contain one token on one line"
                .to_string(),
        );
    }
    Ok(token.to_string())
}

/// Returns the fields of the struct that reads the table at `schema_path`, a dotted path in
/// which `[]` stands for every element of an array of tables.
fn known_keys(schema_path: &str) -> Option<&'static [&'static str]> {
    Some(match schema_path {
        "" => field_names::<RawConfig>(),
        "hub" => field_names::<RawHub>(),
        "push[]" => field_names::<RawPush>(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).unwrap();
        raw.validate_with_host(|| Ok("builder01.example.org".to_string()))
    }

    fn problems(text: &str) -> Vec<Problem> {
        match validate(text) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected invalid configuration, got {other:?}"),
        }
    }

    #[test]
    fn defaults_round_trip() {
        let raw = RawConfig::default();
        let text = toml::to_string(&raw).unwrap();
        let parsed: RawConfig = toml::from_str(&text).unwrap();
        assert_eq!(parsed, raw);
        let empty: RawConfig = toml::from_str("").unwrap();
        assert_eq!(empty, raw);
    }

    #[test]
    fn defaults_validate() {
        let config = validate("").unwrap();
        assert_eq!(config.host, "builder01.example.org");
        assert_eq!(config.interval, Duration::from_secs(15));
        assert_eq!(config.collectors, collector::NAMES);
        assert!(config.hub.enabled);
        assert_eq!(config.hub.interval, Duration::from_secs(60));
        assert_eq!(config.hub.timeout, Duration::from_secs(10));
        assert!(config.push.is_empty());
        assert!(config.require_push_targets().is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = Config::from_toml("intervall_secs = 5\n").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("intervall_secs: unknown key at line 1; did you mean interval_secs?"),
            "{message}"
        );
    }

    #[test]
    fn every_unknown_key_is_reported() {
        let text = "hots = \"b1\"\nintervl_secs = 5\ninterval_secs = 0\n[hub]\nurll = 'x'\n\
                    [[push]]\nurl = \"http://127.0.0.1:9091\"\ntoken = 'abc'\n";
        let found = match Config::from_toml(text) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected invalid configuration, got {other:?}"),
        };
        let lines: Vec<String> = found.iter().map(Problem::to_string).collect();

        assert_eq!(
            lines[..4],
            [
                "hots: unknown key at line 1; did you mean host?",
                "intervl_secs: unknown key at line 2; did you mean interval_secs?",
                "hub.urll: unknown key at line 5; did you mean hub.url?",
                "push[0].token: unknown key at line 8; the keys of [[push]] are url, \
                 timeout_secs, max_backoff_secs, token_file, cert_file, key_file, ca_file",
            ]
        );
        assert!(
            lines[4].starts_with("interval_secs = 0: must be a whole number"),
            "{lines:?}"
        );
    }

    #[test]
    fn wrong_type_names_key_and_type() {
        for (text, expected) in [
            (
                "interval_secs = \"15\"\n",
                "interval_secs: invalid type: string \"15\", expected a whole number that is \
                 not negative at line 1",
            ),
            (
                "[hub]\nenabled = \"no\"\n",
                "hub.enabled: invalid type: string \"no\", expected a boolean at line 2",
            ),
            (
                "[[push]]\ntimeout_secs = 5\n",
                "push[0].url: missing in the table at line 1; this key is required",
            ),
            (
                "collectors = [\"disk\", 3]\n",
                "collectors[1]: invalid type: integer `3`, expected a string at line 1",
            ),
        ] {
            let message = Config::from_toml(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{expected}\n{message}");
        }
    }

    #[test]
    fn missing_push_target_names_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, "host = \"b1\"\n").unwrap();

        let config = Config::load(&path).unwrap();
        let message = config.require_push_targets().unwrap_err().to_string();
        assert!(
            message.contains(&format!("invalid configuration in {}", path.display())),
            "{message}"
        );
        assert!(message.contains("no push target"), "{message}");
    }

    #[test]
    fn push_url_must_be_base() {
        let found = problems("[[push]]\nurl = \"http://127.0.0.1:9091/metrics/job/foo\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "push[0].url");
        assert!(
            found[0].message.contains("base URL"),
            "{}",
            found[0].message
        );
        assert!(
            found[0]
                .message
                .contains("/metrics/job/koji-agent/instance/<host>"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn url_whitespace_is_rejected() {
        let found = problems(
            "[hub]\nurl = \" https://koji.example.org/kojihub\"\n\
             [[push]]\nurl = \"http://127.0.0.1:9091 \"\n",
        );
        let keys: Vec<&str> = found.iter().map(|problem| problem.key.as_str()).collect();
        assert_eq!(keys, ["hub.url", "push[0].url"]);
        assert_eq!(found[0].value, "\" https://koji.example.org/kojihub\"");
        assert!(
            found[0].message.contains("whitespace"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn hub_url_path_warns() {
        let config = validate("[hub]\nurl = \"https://koji.example.org/\"\n").unwrap();
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(
            config.warnings[0].contains("does not end in /kojihub"),
            "{:?}",
            config.warnings
        );

        let config = validate("[hub]\nurl = \"https://koji.example.org/kojihub\"\n").unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn every_problem_is_reported() {
        let found = problems(
            r#"
            host = ""
            interval_secs = 0
            collectors = ["kojid", "disks", "kojid"]
            [hub]
            url = "ftp://hub"
            timeout_secs = 0
            [[push]]
            url = "not a url"
            cert_file = "/nonexistent/agent.crt"
            [[push]]
            url = "http://127.0.0.1:9091"
            token_file = "/nonexistent/token"
            "#,
        );
        let keys: Vec<&str> = found.iter().map(|problem| problem.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "host",
                "interval_secs",
                "collectors",
                "collectors",
                "hub.url",
                "hub.timeout_secs",
                "push[0].url",
                "push[0].cert_file",
                "push[0].cert_file",
                "push[1].token_file",
            ]
        );
        assert!(
            found[7].message.starts_with("cannot be read"),
            "{}",
            found[7].message
        );
        assert!(
            found[8].message.starts_with("needs key_file"),
            "{}",
            found[8].message
        );
        let unknown = &found[2];
        assert_eq!(unknown.value, "\"disks\"");
        assert_eq!(
            unknown.message,
            "unknown collector; the collectors are config, kojid, disk, load, certificate, \
             hub, readiness"
        );
        assert_eq!(found[3].message, "listed twice; list each collector once");
    }

    #[test]
    fn empty_collectors_are_rejected() {
        let found = problems("collectors = []\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "collectors");
        assert_eq!(found[0].value, "[]");
        assert!(
            found[0]
                .message
                .contains("config, kojid, disk, load, certificate, hub, readiness"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].message.contains("remove the key"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn host_must_be_koji_name() {
        let invalid = [
            ("bad host/name", "contains ' '"),
            ("bäcker.example.org", "contains 'ä'"),
            ("builder:01", "contains ':'"),
        ];
        for (host, reason) in invalid {
            let found = problems(&format!("host = {host:?}\n"));
            assert_eq!(found.len(), 1, "{host}: {found:?}");
            assert_eq!(found[0].key, "host");
            assert_eq!(found[0].value, format!("{host:?}"));
            assert!(found[0].message.contains(reason), "{}", found[0].message);
            assert!(
                found[0]
                    .message
                    .contains("letters, digits and the characters /_.+@-"),
                "{}",
                found[0].message
            );
        }

        let long_name = "a".repeat(257);
        let found = problems(&format!("host = \"{long_name}\"\n"));
        assert!(found[0].message.contains("257 characters"), "{found:?}");

        for host in [
            "b1",
            "builder01.example.org",
            "B1-x86.Lab.example.org",
            "build_vm.example.org",
            "kojibuilder/b1.example.org",
        ] {
            assert_eq!(validate(&format!("host = {host:?}\n")).unwrap().host, host);
        }
    }

    #[test]
    fn invalid_default_host_names_its_origin() {
        let raw: RawConfig = toml::from_str("").unwrap();
        let error = raw
            .validate_with_host(|| Ok("build vm".to_string()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("host = \"build vm\""), "{error}");
        assert!(error.contains("took the machine's host name"), "{error}");
    }

    #[test]
    fn token_over_plain_http_warns() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc123\n").unwrap();
        let config = |url: &str| {
            validate(&format!(
                "[[push]]\nurl = {url:?}\ntoken_file = {:?}\n",
                token.display().to_string()
            ))
            .unwrap()
        };

        let remote = config("http://monitor.example.org:9820");
        assert_eq!(remote.warnings.len(), 1, "{:?}", remote.warnings);
        assert!(
            remote.warnings[0].contains("unencrypted"),
            "{:?}",
            remote.warnings
        );
        for url in [
            "https://monitor.example.org:9820",
            "http://127.0.0.1:9820",
            "http://[::1]:9820",
            "http://localhost:9820",
        ] {
            assert!(config(url).warnings.is_empty(), "{url}");
        }
    }

    #[test]
    fn token_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc123\n").unwrap();
        let text = format!(
            "[[push]]\nurl = \"http://127.0.0.1:9091\"\ntoken_file = \"{}\"\n",
            token.display()
        );
        let config = validate(&text).unwrap();
        assert_eq!(config.push[0].token.as_deref(), Some("abc123"));
        assert!(!format!("{:?}", config.push[0]).contains("abc123"));

        std::fs::write(&token, "\n").unwrap();
        let found = problems(&text);
        assert_eq!(found[0].key, "push[0].token_file");
        assert!(
            found[0].message.contains("is empty"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn collectors_keep_registry_order() {
        let config = validate("collectors = [\"readiness\", \"disk\", \"config\"]\n").unwrap();
        assert_eq!(config.collectors, ["config", "disk", "readiness"]);
    }

    #[test]
    fn slow_timeouts_warn() {
        let config = validate(
            "interval_secs = 5\n[hub]\ntimeout_secs = 10\n[[push]]\nurl = \"http://127.0.0.1:1\"\n",
        )
        .unwrap();
        assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    }
}

//! Pushes to a koji-aggregator or a Pushgateway, with the Pushgateway's HTTP API.
//!
//! Each cycle's snapshot replaces the host's whole group with an HTTP PUT to
//! `<url>/metrics/job/koji-agent/instance/<host>`, in text format 0.0.4, gzip-compressed.
//! `deregister` removes the group with DELETE. A grouping value that is empty, contains `/`
//! or other characters outside `[A-Za-z0-9._~-]` goes in the URL-safe base64 form
//! (`instance@base64/<value>`) that both receivers decode.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koji::identity::IdentityFiles;
use koji::{RetryPolicy, error_chain};
use koji_metrics::FamilyBuilder;
use koji_metrics::contract::AGENT_PUSH_FAILURES_TOTAL;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};

use crate::config::PushConfig;

pub mod worker;

/// The `job` grouping label of the agent's group.
pub const JOB: &str = "koji-agent";

/// The first retry waits at most this long; each further retry doubles the bound up to the
/// target's `max_backoff_secs`.
pub const BASE_BACKOFF: Duration = Duration::from_secs(1);

/// Bytes of an error response body read for the log line.
const ERROR_BODY_BYTES: usize = 2048;

/// Returns the path of the host's group: `/metrics/job/koji-agent/instance/<host>`.
pub fn group_path(host: &str) -> String {
    format!(
        "/metrics/{}/{}",
        grouping_segment("job", JOB),
        grouping_segment("instance", host)
    )
}

/// Encodes one grouping label as path segments: `name/value`, or `name@base64/<value>` when
/// the value is empty or has characters outside `[A-Za-z0-9._~-]`. An empty value becomes
/// `=`, as the Pushgateway expects.
fn grouping_segment(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'~' | b'-'));
    if plain {
        format!("{name}/{value}")
    } else if value.is_empty() {
        format!("{name}@base64/=")
    } else {
        format!("{name}@base64/{}", URL_SAFE.encode(value))
    }
}

/// The class of a push failure, as the `reason` label of `koji_agent_push_failures_total` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureReason {
    /// The connection could not be set up (refused, unreachable, TLS handshake failed).
    Connect,
    /// The request or the response took longer than the target's timeout.
    Timeout,
    /// The target returned a 4xx status.
    Http4xx,
    /// The target returned a 5xx status.
    Http5xx,
    /// Anything else: a redirect, a reset connection, an unexpected status.
    Other,
}

impl FailureReason {
    /// Every reason, in label order.
    pub const ALL: [FailureReason; 5] = [
        FailureReason::Connect,
        FailureReason::Timeout,
        FailureReason::Http4xx,
        FailureReason::Http5xx,
        FailureReason::Other,
    ];

    /// Returns the label value, such as `http_5xx`.
    pub fn label(self) -> &'static str {
        match self {
            FailureReason::Connect => "connect",
            FailureReason::Timeout => "timeout",
            FailureReason::Http4xx => "http_4xx",
            FailureReason::Http5xx => "http_5xx",
            FailureReason::Other => "other",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.label())
    }
}

/// A failed push or delete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PushError {
    /// The failure class.
    pub reason: FailureReason,
    /// Whether sending again may succeed: connection errors, timeouts, 408, 429 and 5xx.
    pub retryable: bool,
    /// Description of the failure with the URL, and the start of the response body when
    /// there was one.
    pub message: String,
}

/// A push target that could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("push target {url}: {message}")]
pub struct TargetError {
    /// The target's configured URL.
    pub url: String,
    /// Description of the problem.
    pub message: String,
}

/// One configured receiver of the host's group.
#[derive(Clone)]
pub struct PushTarget {
    url: String,
    group_url: String,
    client: reqwest::Client,
    token: Option<String>,
    timeout: Duration,
    max_backoff: Duration,
}

impl fmt::Debug for PushTarget {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PushTarget")
            .field("url", &self.url)
            .field("group_url", &self.group_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PushTarget {
    /// Sets up the HTTP client of a target for the group of `host`, reading its certificate
    /// files.
    pub fn new(config: &PushConfig, host: &str) -> Result<Self, TargetError> {
        let error = |message: String| TargetError {
            url: config.url.clone(),
            message,
        };
        install_crypto_provider();

        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(1)
            .user_agent(format!("koji-agent/{}", crate::VERSION));

        if let Some(ca_file) = &config.ca_file {
            let pem = std::fs::read(ca_file)
                .map_err(|e| error(format!("cannot read ca_file {}: {e}", ca_file.display())))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                error(format!(
                    "ca_file {} is not a PEM certificate bundle: {}",
                    ca_file.display(),
                    error_chain(&e)
                ))
            })?;
            if certificates.is_empty() {
                return Err(error(format!(
                    "ca_file {} contains no -----BEGIN CERTIFICATE----- block",
                    ca_file.display()
                )));
            }
            builder = builder.tls_certs_only(certificates);
        }

        let mut identity_files = None;
        if let Some((cert_file, key_file)) = &config.identity {
            let files = IdentityFiles::read(cert_file, key_file).map_err(error)?;
            let identity = reqwest::Identity::from_pem(&files.pem()).map_err(|e| {
                error(format!(
                    "cert_file {} and key_file {} are not a PEM certificate and its private \
                     key: {}{}",
                    cert_file.display(),
                    key_file.display(),
                    error_chain(&e),
                    files.hint(&e)
                ))
            })?;
            builder = builder.identity(identity);
            identity_files = Some(files);
        }

        let client = builder.build().map_err(|e| {
            let hint = identity_files
                .as_ref()
                .map(|files| files.hint(&e))
                .unwrap_or_default();
            error(format!(
                "cannot build the HTTP client: {}{hint}",
                error_chain(&e)
            ))
        })?;
        Ok(Self {
            url: config.url.clone(),
            group_url: format!("{}{}", config.url.trim_end_matches('/'), group_path(host)),
            client,
            token: config.token.clone(),
            timeout: config.timeout,
            max_backoff: config.max_backoff,
        })
    }

    /// Returns the URL as configured, the `target` label of the failure counter.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the URL of the host's group on this target.
    pub fn group_url(&self) -> &str {
        &self.group_url
    }

    /// Returns the delays between retries: full jitter, doubling from [`BASE_BACKOFF`] up to the
    /// target's `max_backoff_secs`.
    pub fn backoff(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: BASE_BACKOFF.min(self.max_backoff),
            max_delay: self.max_backoff,
        }
    }

    /// Replaces the host's group with `text` (text format 0.0.4), sent gzip-compressed.
    pub async fn push(&self, text: &str) -> Result<(), PushError> {
        let body = koji_metrics::gzip::gzip(text.as_bytes());
        let request = self
            .authorized(self.client.put(&self.group_url))
            .header(CONTENT_TYPE, koji_metrics::TEXT_CONTENT_TYPE)
            .header(CONTENT_ENCODING, "gzip")
            .body(body);
        self.send(request, "PUT").await
    }

    /// Removes the host's group.
    pub async fn delete(&self) -> Result<(), PushError> {
        let request = self.authorized(self.client.delete(&self.group_url));
        self.send(request, "DELETE").await
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, verb: &str) -> Result<(), PushError> {
        let url = self.group_url.as_str();
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|error| transport_error(verb, url, self.timeout, &error))?;

        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let excerpt = read_excerpt(response).await;
        Err(status_error(verb, url, status, &excerpt))
    }
}

fn transport_error(verb: &str, url: &str, timeout: Duration, error: &reqwest::Error) -> PushError {
    let detail = error_chain(error);
    if error.is_timeout() {
        PushError {
            reason: FailureReason::Timeout,
            retryable: true,
            message: format!("{verb} {url} timed out after {timeout:?}: {detail}"),
        }
    } else if error.is_connect() {
        PushError {
            reason: FailureReason::Connect,
            retryable: true,
            message: format!("{verb} {url}: cannot connect: {detail}"),
        }
    } else {
        PushError {
            reason: FailureReason::Other,
            retryable: true,
            message: format!("{verb} {url} failed: {detail}"),
        }
    }
}

fn status_error(verb: &str, url: &str, status: StatusCode, excerpt: &str) -> PushError {
    let (reason, retryable, hint) = if status.is_server_error() {
        (FailureReason::Http5xx, true, "")
    } else if matches!(
        status,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
    ) {
        (FailureReason::Http4xx, true, "")
    } else if status.is_client_error() {
        (
            FailureReason::Http4xx,
            false,
            "; the target rejected the push, so it is not retried",
        )
    } else {
        (
            FailureReason::Other,
            false,
            "; the target answered neither success nor an error, so it is not retried: check \
             that the url points at a koji-aggregator or a Pushgateway",
        )
    };
    PushError {
        reason,
        retryable,
        message: format!("{verb} {url} returned HTTP {status}: {excerpt:?}{hint}"),
    }
}

/// Returns a one-line excerpt of the start of a response body.
async fn read_excerpt(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(ERROR_BODY_BYTES);
    koji::excerpt(&String::from_utf8_lossy(&body))
}

/// Installs rustls' ring provider as the process default unless one is installed; reqwest
/// is built without a provider of its own.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_some() {
        return;
    }
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("Another rustls crypto provider was installed first; using it.");
    }
}

/// Failed pushes per target and reason since the agent started, shared by the push workers
/// and rendered into every push as `koji_agent_push_failures_total`.
#[derive(Clone, Debug)]
pub struct FailureCounters {
    host: String,
    counts: Arc<Mutex<BTreeMap<(String, FailureReason), u64>>>,
}

impl FailureCounters {
    /// Starts the counters of `targets` (configured URLs) at zero for every reason.
    pub fn new(host: &str, targets: &[&str]) -> Self {
        let counts = targets
            .iter()
            .flat_map(|target| {
                FailureReason::ALL
                    .iter()
                    .map(|reason| ((target.to_string(), *reason), 0))
            })
            .collect();
        Self {
            host: host.to_string(),
            counts: Arc::new(Mutex::new(counts)),
        }
    }

    /// Counts one failed push to `target`.
    pub fn record(&self, target: &str, reason: FailureReason) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *counts.entry((target.to_string(), reason)).or_insert(0) += 1;
    }

    /// Returns the count for `target` and `reason`.
    pub fn get(&self, target: &str, reason: FailureReason) -> u64 {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        counts
            .get(&(target.to_string(), reason))
            .copied()
            .unwrap_or(0)
    }

    /// Renders the counters as text format 0.0.4.
    pub fn render(&self) -> String {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut family = FamilyBuilder::new(&AGENT_PUSH_FAILURES_TOTAL);
        for ((target, reason), count) in counts.iter() {
            if let Err(error) = family.sample(&[&self.host, target, reason.label()], *count as f64)
            {
                tracing::error!(%error, "Building the push failure counter failed.");
            }
        }
        koji_metrics::encode_text(&[family.build()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_paths_encode_values() {
        assert_eq!(
            group_path("builder01.example.org"),
            "/metrics/job/koji-agent/instance/builder01.example.org"
        );
        assert_eq!(group_path(""), "/metrics/job/koji-agent/instance@base64/=");
        assert_eq!(
            group_path("a/b"),
            "/metrics/job/koji-agent/instance@base64/YS9i"
        );
        assert_eq!(
            group_path("bäcker"),
            format!(
                "/metrics/job/koji-agent/instance@base64/{}",
                URL_SAFE.encode("bäcker")
            )
        );
        assert_eq!(
            group_path("host name?"),
            "/metrics/job/koji-agent/instance@base64/aG9zdCBuYW1lPw=="
        );
    }

    #[test]
    fn statuses_classify() {
        let cases = [
            (400, FailureReason::Http4xx, false),
            (403, FailureReason::Http4xx, false),
            (408, FailureReason::Http4xx, true),
            (429, FailureReason::Http4xx, true),
            (500, FailureReason::Http5xx, true),
            (503, FailureReason::Http5xx, true),
            (302, FailureReason::Other, false),
        ];
        for (code, reason, retryable) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            let error = status_error("PUT", "http://127.0.0.1:1/x", status, "body");
            assert_eq!(error.reason, reason, "{code}");
            assert_eq!(error.retryable, retryable, "{code}");
            assert!(
                error.message.contains(&code.to_string()),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn counters_render_every_reason() {
        let counters = FailureCounters::new("b1", &["http://a", "http://b"]);
        counters.record("http://a", FailureReason::Http5xx);
        counters.record("http://a", FailureReason::Http5xx);
        let text = counters.render();
        assert!(text.contains(
            "koji_agent_push_failures_total{host=\"b1\",target=\"http://a\",reason=\"http_5xx\"} 2\n"
        ), "{text}");
        assert_eq!(
            text.lines().filter(|line| !line.starts_with('#')).count(),
            10
        );
        assert_eq!(counters.get("http://a", FailureReason::Http5xx), 2);
        assert_eq!(counters.get("http://b", FailureReason::Connect), 0);
    }
}

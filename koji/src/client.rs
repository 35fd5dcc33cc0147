//! The hub client: connection options, retries and single calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dxr::Value;

use crate::call::Call;
use crate::error::Error;
use crate::identity::IdentityFiles;
use crate::retry::RetryPolicy;
use crate::transport;

/// Default number of calls per `multiCall` request.
pub const DEFAULT_MULTICALL_BATCH: usize = 100;

/// Options of a [`Client`]; finish with [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    url: String,
    ca_bundle: Option<PathBuf>,
    identity: Option<(PathBuf, PathBuf)>,
    connect_timeout: Duration,
    call_timeout: Duration,
    retry: RetryPolicy,
    multicall_batch: usize,
    user_agent: String,
}

impl ClientBuilder {
    /// Starts a client for the hub's XML-RPC endpoint, such as
    /// `https://koji.example.com/kojihub`. Calls are anonymous unless an identity is set.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_bundle: None,
            identity: None,
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            multicall_batch: DEFAULT_MULTICALL_BATCH,
            user_agent: format!("koji-monitoring/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Trusts only the CA certificates in this PEM file (Koji's `serverca`) instead of the
    /// system's roots.
    pub fn ca_bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_bundle = Some(path.into());
        self
    }

    /// Presents this client certificate and private key (PEM files) during the TLS
    /// handshake, for hubs whose web server demands one.
    ///
    /// Use the site's own monitoring certificate, never the builder's kojid certificate:
    /// kojid holds an exclusive session for its host user, so a second session of that user
    /// fails with AuthLockError (1006), and forcing one would take kojid's lock.
    pub fn identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.identity = Some((cert.into(), key.into()));
        self
    }

    /// Time allowed to set up the TCP (and TLS) connection; 10 s by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one attempt of a call, from sending the request to the end of the
    /// reply body; 60 s by default. Retries get the same time again.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Retry policy for connection errors, timeouts, HTTP 502/503/504 and fault 1014.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Number of calls per `multiCall` request ([`DEFAULT_MULTICALL_BATCH`] by default).
    /// The hub rejects request bodies over its `MaxRequestLength` (4 MiB by default).
    pub fn multicall_batch(mut self, calls: usize) -> Self {
        self.multicall_batch = calls;
        self
    }

    /// Sets the `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Checks the options, reads the certificate files and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let parsed = reqwest::Url::parse(&self.url).map_err(|error| {
            Error::Config(format!(
                "hub URL {:?} is invalid ({error}); give the full URL such as \
                 https://koji.example.com/kojihub",
                self.url
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "hub URL {:?} must start with https:// or http://",
                self.url
            )));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::Config(
                "retry max_attempts is 0; use 1 to make each call once".to_string(),
            ));
        }
        if self.multicall_batch == 0 {
            return Err(Error::Config(
                "multicall batch size is 0; use at least 1".to_string(),
            ));
        }
        if self.call_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config(
                "timeouts must be longer than zero".to_string(),
            ));
        }

        install_crypto_provider();
        let mut http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.user_agent);

        if let Some(path) = &self.ca_bundle {
            let pem = read_file(path, "CA bundle")?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
                Error::Config(format!(
                    "CA bundle {} is not a PEM certificate bundle: {error}",
                    path.display()
                ))
            })?;
            if certificates.is_empty() {
                return Err(Error::Config(format!(
                    "CA bundle {} contains no PEM certificates; give a file with -----BEGIN \
                     CERTIFICATE----- blocks",
                    path.display()
                )));
            }
            http = http.tls_certs_only(certificates);
        }

        let mut identity_files = None;
        if let Some((cert_path, key_path)) = &self.identity {
            let files = IdentityFiles::from_pem(
                cert_path,
                key_path,
                read_file(cert_path, "client certificate")?,
                read_file(key_path, "client key")?,
            );
            let identity = reqwest::Identity::from_pem(&files.pem()).map_err(|error| {
                Error::Config(format!(
                    "client certificate {} and key {} are not a PEM certificate and private \
                     key: {}{}",
                    cert_path.display(),
                    key_path.display(),
                    error_chain(&error),
                    files.hint(&error)
                ))
            })?;
            http = http.identity(identity);
            identity_files = Some(files);
        }

        let http = http.build().map_err(|error| {
            let cause = error_chain(&error);
            match &identity_files {
                Some(files) => Error::Config(format!(
                    "client certificate {} and key {} cannot be used: {cause}{}",
                    files.cert_file().display(),
                    files.key_file().display(),
                    files.hint(&error)
                )),
                None => Error::Config(format!("cannot build the HTTP client: {cause}")),
            }
        })?;

        Ok(Client {
            inner: Arc::new(Inner {
                http,
                url: self.url,
                call_timeout: self.call_timeout,
                retry: self.retry,
                multicall_batch: self.multicall_batch,
            }),
        })
    }
}

/// Installs rustls' ring crypto provider as the process default unless one is installed.
/// reqwest is built without a provider of its own.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_some() {
        return;
    }
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("another rustls crypto provider was installed first; using it");
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|error| Error::Config(format!("cannot read {what} {}: {error}", path.display())))
}

/// An async Koji hub client; cheap to clone, and clones share connections.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    url: String,
    call_timeout: Duration,
    retry: RetryPolicy,
    multicall_batch: usize,
}

impl Client {
    /// Builds an anonymous client with default options. [`ClientBuilder`] sets the others.
    pub fn new(url: impl Into<String>) -> Result<Self, Error> {
        ClientBuilder::new(url).build()
    }

    /// Returns the hub URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Returns the configured number of calls per `multiCall` request.
    pub fn multicall_batch(&self) -> usize {
        self.inner.multicall_batch
    }

    /// Runs one call, with retries, and decodes its reply.
    pub async fn call<T>(&self, call: Call<T>) -> Result<T, Error> {
        let (method, params, decode) = call.into_parts();
        let value = self.execute(&method, &params).await?;
        decode(value).map_err(|error| Error::Decode {
            method: method.to_string(),
            detail: error.detail,
        })
    }

    /// Runs one call of `method` with `params`, with retries, and returns the raw reply.
    pub async fn call_raw(&self, method: &str, params: Vec<Value>) -> Result<Value, Error> {
        self.execute(method, &params).await
    }

    /// Sends `method(params)`, retrying retryable failures as the retry policy allows.
    pub(crate) async fn execute(&self, method: &str, params: &[Value]) -> Result<Value, Error> {
        let body = transport::encode_call(method, params)?;
        let retry = self.inner.retry;
        let mut attempt = 1;

        loop {
            let target = transport::Target {
                http: &self.inner.http,
                url: &self.inner.url,
                method,
                timeout: self.inner.call_timeout,
            };
            match transport::send(&target, body.clone()).await {
                Ok(value) => return Ok(value),
                Err(error) if error.is_retryable() && attempt < retry.max_attempts => {
                    let delay = retry.delay(attempt);
                    tracing::warn!(
                        method,
                        url = %self.inner.url,
                        attempt,
                        max_attempts = retry.max_attempts,
                        delay_ms = delay.as_millis() as u64,
                        %error,
                        "hub call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Returns an error and its sources on one line, leaving out a source whose text the line
/// already contains. reqwest keeps the cause (such as "Connection refused", or the rustls
/// error behind "builder error") in the source chain.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

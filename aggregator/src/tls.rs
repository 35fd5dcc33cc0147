//! HTTPS for the aggregator: a rustls server configuration with the ring provider, and
//! listeners for `axum::serve` whose peer address carries the client certificate's names.
//!
//! Client certificates are optional at the handshake, so Prometheus can scrape without one.
//! A certificate that is presented must chain to the client CA and be an X.509 v3
//! certificate, because webpki rejects v1 end-entity certificates. Handshakes run in their own
//! tasks with a timeout, so a slow client cannot hold up the accept loop. Failed handshakes
//! are logged at most once per peer address and [`HANDSHAKE_LOG_INTERVAL`].

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::identity::{PeerInfo, certificate_names};

/// Time a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose handshake completed but that `axum::serve` has not taken yet.
const READY_QUEUE: usize = 128;

/// Time during which failed handshakes from one peer address are logged once. The log
/// message states it as 60 s.
pub const HANDSHAKE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Maximum number of peer addresses whose last logged failure is remembered, so at most this
/// many lines per [`HANDSHAKE_LOG_INTERVAL`] are logged even when a scan comes from many
/// addresses.
const HANDSHAKE_LOG_PEERS: usize = 128;

/// The PEM files of the server's TLS setup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key of the leaf certificate (PKCS #8, PKCS #1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates that sign client certificates; `None` requests no client certificate.
    pub client_ca_file: Option<PathBuf>,
}

/// A TLS setup that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read or contains nothing usable.
    #[error("{what} {path}: {detail}")]
    File {
        /// The role of the file, such as "TLS certificate file".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The problem and what the file must contain.
        detail: String,
    },
    /// rustls rejected the combination, such as a key that does not match the certificate.
    #[error("invalid TLS setup with certificate {cert_file} and key {key_file}: {detail}")]
    Config {
        /// The certificate file.
        cert_file: PathBuf,
        /// The key file.
        key_file: PathBuf,
        /// The rustls error.
        detail: String,
    },
}

/// Name of the server certificate file in [`TlsError::File`].
pub const CERT_FILE: &str = "TLS certificate file";
/// Name of the server key file in [`TlsError::File`].
pub const KEY_FILE: &str = "TLS key file";
/// Name of the client CA file in [`TlsError::File`].
pub const CLIENT_CA_FILE: &str = "client CA file";

/// Builds the server configuration from `files`, with the ring crypto provider, TLS 1.2 and
/// 1.3, and ALPN `http/1.1`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certificates = read_certificates(CERT_FILE, &files.cert_file)?;
    let key = read_key(&files.key_file)?;
    let client_roots = files
        .client_ca_file
        .as_deref()
        .map(read_client_roots)
        .transpose()?;
    build(files, certificates, key, client_roots)
}

/// Checks every file of `files` and returns one error per file that cannot be loaded, or,
/// when all load, the error of building the configuration from them.
pub fn check_files(files: &TlsFiles) -> Vec<TlsError> {
    let certificates = read_certificates(CERT_FILE, &files.cert_file);
    let key = read_key(&files.key_file);
    let client_roots = files
        .client_ca_file
        .as_deref()
        .map(read_client_roots)
        .transpose();

    match (certificates, key, client_roots) {
        (Ok(certificates), Ok(key), Ok(client_roots)) => {
            build(files, certificates, key, client_roots)
                .err()
                .into_iter()
                .collect()
        }
        (certificates, key, client_roots) => [certificates.err(), key.err(), client_roots.err()]
            .into_iter()
            .flatten()
            .collect(),
    }
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| TlsError::File {
        what: KEY_FILE,
        path: path.to_path_buf(),
        detail: format!("{error}; it must hold a PEM private key (PKCS #8, PKCS #1 or SEC1)"),
    })
}

fn read_client_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(CLIENT_CA_FILE, path)? {
        roots.add(certificate).map_err(|error| TlsError::File {
            what: CLIENT_CA_FILE,
            path: path.to_path_buf(),
            detail: format!("invalid CA certificate: {error}"),
        })?;
    }
    Ok(roots)
}

fn build(
    files: &TlsFiles,
    certificates: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config_error = |detail: String| TlsError::Config {
        cert_file: files.cert_file.clone(),
        key_file: files.key_file.clone(),
        detail,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| config_error(error.to_string()))?;

    let builder = match (client_roots, &files.client_ca_file) {
        (Some(roots), Some(path)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|error| TlsError::File {
                    what: CLIENT_CA_FILE,
                    path: path.clone(),
                    detail: error.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };

    let mut config = builder
        .with_single_cert(certificates, key)
        .map_err(|error| config_error(error.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_error = |detail: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        detail,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(file_error(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found".to_string(),
        ));
    }
    Ok(certificates)
}

/// A plain TCP listener whose peer address type matches [`TlsListener`]'s, so handlers see
/// the same [`PeerInfo`] either way.
#[derive(Debug)]
pub struct PlainListener {
    listener: TcpListener,
}

impl PlainListener {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        Self { listener }
    }
}

impl Listener for PlainListener {
    type Io = TcpStream;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(peer = %addr, %error, "Cannot set TCP_NODELAY.");
                    }
                    return (stream, PeerInfo::new(addr));
                }
                Err(error) => accept_failed(error).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr().map(PeerInfo::new)
    }
}

impl Connected<IncomingStream<'_, PlainListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, PlainListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TLS listener: a background task accepts TCP connections and runs each handshake in a
/// task of its own; [`Listener::accept`] returns the connections whose handshake completed.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, PeerInfo)>,
    local_addr: SocketAddr,
    accept_task: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` with `config`. Must be called inside a tokio runtime.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        let acceptor = TlsAcceptor::from(config);
        let accept_task = tokio::spawn(accept_loop(listener, acceptor, sender));
        Ok(Self {
            ready,
            local_addr,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task ends only when it is aborted, which happens on drop.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(PeerInfo::new(self.local_addr))
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, PeerInfo)>,
) {
    let failures = Arc::new(HandshakeLog::default());
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                accept_failed(error).await;
                continue;
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(peer = %addr, %error, "Cannot set TCP_NODELAY.");
        }
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        let failures = failures.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        failures.record(addr, &error.to_string(), error.kind());
                        return;
                    }
                    Err(_) => {
                        let reason = format!("timed out after {} s", HANDSHAKE_TIMEOUT.as_secs());
                        failures.record(addr, &reason, io::ErrorKind::TimedOut);
                        return;
                    }
                };
            let peer = PeerInfo {
                addr,
                certificate_names: peer_names(&stream, addr).into(),
            };
            // The receiver is gone only while the server shuts down.
            let _closed = ready.send((stream, peer)).await;
        });
    }
}

/// The log of failed handshakes, limited to one line per peer address and
/// [`HANDSHAKE_LOG_INTERVAL`], so a scan cannot flood the log. Each line carries the number
/// of failures that were not logged since the line before.
#[derive(Debug, Default)]
struct HandshakeLog {
    state: Mutex<HandshakeLogState>,
}

#[derive(Debug, Default)]
struct HandshakeLogState {
    /// When the last line about each peer address was logged.
    last_logged: HashMap<IpAddr, Instant>,
    /// Failures not logged since the last line.
    suppressed: u64,
}

impl HandshakeLog {
    /// Logs the failed handshake of `peer` at warn, unless a line about the same address was
    /// logged within the interval. A peer that closed the connection without completing the
    /// handshake (`UnexpectedEof`, as TCP port checks do) is logged at debug only.
    fn record(&self, peer: SocketAddr, reason: &str, kind: io::ErrorKind) {
        if kind == io::ErrorKind::UnexpectedEof {
            tracing::debug!(%peer, reason, "TLS handshake failed: the peer closed the connection.");
            return;
        }
        let Some(suppressed) = self.admit(peer.ip(), Instant::now()) else {
            return;
        };
        tracing::warn!(
            %peer,
            reason,
            hint = handshake_hint(reason),
            suppressed,
            "TLS handshake failed. Further failures from this address are not logged for 60 s; \
             suppressed counts the failures left out since the last line."
        );
    }

    /// Returns `Some(number of failures not logged since the last line)` when a failure of
    /// `ip` at `now` is to be logged, and `None` when it is suppressed.
    fn admit(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let recent = |logged: &Instant| now.duration_since(*logged) < HANDSHAKE_LOG_INTERVAL;

        if state.last_logged.get(&ip).is_some_and(recent) {
            state.suppressed += 1;
            return None;
        }
        if state.last_logged.len() >= HANDSHAKE_LOG_PEERS {
            state.last_logged.retain(|_, logged| recent(logged));
            if state.last_logged.len() >= HANDSHAKE_LOG_PEERS {
                state.suppressed += 1;
                return None;
            }
        }
        state.last_logged.insert(ip, now);
        Some(std::mem::take(&mut state.suppressed))
    }
}

/// Returns what to do about the common client certificate problems, given the rustls error
/// text `reason`.
fn handshake_hint(reason: &str) -> Option<&'static str> {
    if reason.contains("UnsupportedCertVersion") {
        Some(
            "the client certificate is X.509 v1, which webpki rejects; issue a v3 certificate \
             (openssl req -x509, or openssl x509 -req with -extfile)",
        )
    } else if reason.contains("UnknownIssuer") {
        Some("the client certificate is not signed by a CA of tls.client_ca_file")
    } else {
        None
    }
}

/// Returns the names of the verified client certificate of `stream`, if it presented one.
fn peer_names(stream: &TlsStream<TcpStream>, addr: SocketAddr) -> Vec<String> {
    let (_, connection) = stream.get_ref();
    let Some(leaf) = connection
        .peer_certificates()
        .and_then(|certificates| certificates.first())
    else {
        return Vec::new();
    };
    certificate_names(leaf).unwrap_or_else(|error| {
        tracing::warn!(peer = %addr, %error, "Ignoring a client certificate without readable names.");
        Vec::new()
    })
}

/// Handles a failed `accept`. A connection reset by its client before it was accepted is
/// skipped at once. Other errors, such as running out of file descriptors, are logged and
/// followed by a pause, as in axum's own listener, so they do not become a busy loop.
async fn accept_failed(error: io::Error) {
    let connection_error = matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    );
    if connection_error {
        tracing::debug!(%error, "A connection closed before it was accepted.");
        return;
    }
    tracing::error!(%error, "Accepting a connection failed; retrying in 1 s.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_log_limits_per_address() {
        let log = HandshakeLog::default();
        let start = Instant::now();
        let first: IpAddr = "192.0.2.1".parse().unwrap();
        let second: IpAddr = "192.0.2.2".parse().unwrap();

        assert_eq!(log.admit(first, start), Some(0));
        assert_eq!(log.admit(first, start + Duration::from_secs(1)), None);
        assert_eq!(log.admit(first, start + Duration::from_secs(59)), None);
        assert_eq!(log.admit(second, start + Duration::from_secs(2)), Some(2));
        assert_eq!(log.admit(first, start + HANDSHAKE_LOG_INTERVAL), Some(0));
    }

    #[test]
    fn handshake_log_bounds_addresses() {
        let log = HandshakeLog::default();
        let start = Instant::now();
        let address = |index: usize| IpAddr::from([10, 0, (index / 256) as u8, index as u8]);

        for index in 0..HANDSHAKE_LOG_PEERS {
            assert_eq!(log.admit(address(index), start), Some(0), "{index}");
        }
        let later = start + Duration::from_secs(30);
        assert_eq!(log.admit(address(HANDSHAKE_LOG_PEERS), later), None);
        assert_eq!(log.admit(address(HANDSHAKE_LOG_PEERS + 1), later), None);

        // Once the window of the remembered addresses has passed, new ones are logged again,
        // with the count of the lines left out.
        let next_window = start + HANDSHAKE_LOG_INTERVAL;
        assert_eq!(
            log.admit(address(HANDSHAKE_LOG_PEERS), next_window),
            Some(2)
        );
        assert_eq!(log.state.lock().unwrap().last_logged.len(), 1);
    }
}

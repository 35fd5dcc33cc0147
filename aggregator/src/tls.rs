//! HTTPS for the aggregator: a rustls server configuration with the ring provider, and
//! listeners for `axum::serve` whose peer address carries the client certificate's names.
//!
//! Client certificates are optional at the handshake, so Prometheus can scrape without one;
//! a certificate that is presented must chain to the client CA. Handshakes run in their own
//! tasks with a timeout, so a slow client cannot hold up the accept loop.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// Builds the server configuration from `files`, with the ring crypto provider, TLS 1.2 and
/// 1.3, and ALPN `http/1.1`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certificates = read_certificates("TLS certificate file", &files.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|error| TlsError::File {
        what: "TLS key file",
        path: files.key_file.clone(),
        detail: format!("{error}; it must hold a PEM private key (PKCS #8, PKCS #1 or SEC1)"),
    })?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config_error = |detail: String| TlsError::Config {
        cert_file: files.cert_file.clone(),
        key_file: files.key_file.clone(),
        detail,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| config_error(error.to_string()))?;

    let builder = match &files.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates("client CA file", path)? {
                roots.add(certificate).map_err(|error| TlsError::File {
                    what: "client CA file",
                    path: path.clone(),
                    detail: format!("invalid CA certificate: {error}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|error| TlsError::File {
                    what: "client CA file",
                    path: path.clone(),
                    detail: error.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
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
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(peer = %addr, %error, "TLS handshake failed.");
                    return;
                }
                Err(_) => {
                    tracing::debug!(peer = %addr, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out.");
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

//! Who may push for a host.
//!
//! The grouping label `instance` names the host. With credentials configured, a PUT, POST or
//! DELETE for host X is accepted only with X's credential:
//! - a bearer token equal to the lowercase hex of HMAC-SHA256(secret, X) for any configured
//!   secret (several secrets let a new one be rolled in before the old one is removed);
//! - or a TLS client certificate, verified against the client CA, whose DNS names (or, when
//!   it has none, its common name) include X.
//!
//! With no credential configured, only loopback peers may push. Behind a reverse proxy on the
//! same host every peer looks local, so configure credentials there.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use x509_parser::extensions::GeneralName;

/// Minimum length in bytes of a token secret.
pub const MIN_SECRET_BYTES: usize = 16;

/// The peer of a connection: its address and, for TLS connections with a verified client
/// certificate, the host names the certificate carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The remote address.
    pub addr: SocketAddr,
    /// The DNS names of the client certificate, or its common name when it has no DNS name;
    /// empty without a client certificate.
    pub certificate_names: Arc<[String]>,
}

impl PeerInfo {
    /// A peer without a client certificate.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            certificate_names: Arc::from([]),
        }
    }
}

/// One secret that tokens are derived from.
#[derive(Clone)]
pub struct TokenSecret {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenSecret")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A secret file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file cannot be read.
    #[error("cannot read token secret file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The secret is too short to resist guessing.
    #[error(
        "token secret file {path} holds {length} bytes, fewer than {MIN_SECRET_BYTES}; write at \
         least 32 random bytes, for example with `head -c 32 /dev/urandom | base64 > {path}`"
    )]
    TooShort {
        /// The file.
        path: PathBuf,
        /// Length of the secret after trailing whitespace is removed.
        length: usize,
    },
}

impl TokenSecret {
    /// Reads the secret in `path`. Trailing whitespace (such as the line feed an editor adds)
    /// is not part of the secret.
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        let mut bytes = std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        while bytes.last().is_some_and(u8::is_ascii_whitespace) {
            bytes.pop();
        }
        Self::from_bytes(path, bytes)
    }

    /// A secret from `bytes`; `path` names it in messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, SecretError> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort {
                path: path.to_path_buf(),
                length: bytes.len(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
        })
    }

    /// The file the secret was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The token of `host`: lowercase hex of HMAC-SHA256(secret, host).
    pub fn token(&self, host: &str) -> String {
        hex::encode(self.mac(host).finalize().into_bytes())
    }

    /// Checks `token` against the token of `host` in constant time.
    fn verify(&self, host: &str, token: &[u8]) -> bool {
        self.mac(host).verify_slice(token).is_ok()
    }

    fn mac(&self, host: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.bytes)
            .expect("HMAC accepts keys of any length");
        mac.update(host.as_bytes());
        mac
    }
}

/// Why a request may not act on a group.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential is configured and the peer is not on a loopback address.
    #[error(
        "pushes from {peer} are rejected: no credential is configured, so only loopback peers \
         may push; configure push.token_secret_files or tls.client_ca_file on the aggregator"
    )]
    NotLoopback {
        /// The peer address, or "an unknown peer".
        peer: String,
    },
    /// Credentials are configured but the grouping key names no host.
    #[error(
        "the grouping key has no instance label, but credentials are configured and a \
         credential is for one host; push to /metrics/job/<job>/instance/<host>"
    )]
    MissingInstance,
    /// Credentials are configured but the request carried none.
    #[error(
        "pushes for {host:?} need a credential: send the header Authorization: Bearer <token> \
         with the host's token, or a TLS client certificate for the host"
    )]
    NoCredential {
        /// The host of the group.
        host: String,
    },
    /// The credential names another host.
    #[error("the credential does not belong to {host:?}: {detail}")]
    WrongCredential {
        /// The host of the group.
        host: String,
        /// What was presented, without the token itself.
        detail: String,
    },
}

impl AuthError {
    /// Returns true when the request carried no credential at all, which HTTP answers with
    /// 401 and a `WWW-Authenticate` challenge instead of 403.
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, AuthError::NoCredential { .. })
    }
}

/// The configured credentials and the rule that applies them.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    secrets: Vec<TokenSecret>,
    client_certificates: bool,
}

impl Authenticator {
    /// Accepts tokens derived from `secrets`, and client certificates when
    /// `client_certificates` is set (the TLS listener verifies them against the client CA).
    /// With neither, only loopback peers may push.
    pub fn new(secrets: Vec<TokenSecret>, client_certificates: bool) -> Self {
        Self {
            secrets,
            client_certificates,
        }
    }

    /// Returns true when at least one kind of credential is configured.
    pub fn has_credentials(&self) -> bool {
        !self.secrets.is_empty() || self.client_certificates
    }

    /// Decides whether a request from `peer` with the `Authorization` header value
    /// `authorization` may act on the group whose `instance` label is `instance`. A request
    /// without connection info (`peer` is `None`) counts as a remote peer.
    pub fn authorize(
        &self,
        peer: Option<&PeerInfo>,
        authorization: Option<&str>,
        instance: Option<&str>,
    ) -> Result<(), AuthError> {
        if !self.has_credentials() {
            return match peer {
                Some(peer) if is_loopback(peer.addr.ip()) => Ok(()),
                Some(peer) => Err(AuthError::NotLoopback {
                    peer: peer.addr.to_string(),
                }),
                None => Err(AuthError::NotLoopback {
                    peer: "an unknown peer".to_string(),
                }),
            };
        }

        let host = match instance {
            Some(host) if !host.is_empty() => host,
            _ => return Err(AuthError::MissingInstance),
        };
        let names: &[String] = peer.map_or(&[], |peer| &peer.certificate_names);
        if self.client_certificates && names.iter().any(|name| name.eq_ignore_ascii_case(host)) {
            return Ok(());
        }

        let mut problems = Vec::new();
        if let Some(value) = authorization {
            match bearer_token(value) {
                Some(token) if !self.secrets.is_empty() => {
                    let token = hex::decode(token).unwrap_or_default();
                    if self
                        .secrets
                        .iter()
                        .any(|secret| secret.verify(host, &token))
                    {
                        return Ok(());
                    }
                    problems.push("the bearer token is not the host's token".to_string());
                }
                Some(_) => problems
                    .push("a bearer token was sent, but no token secret is configured".to_string()),
                None => problems
                    .push("the Authorization header is not of the form Bearer <token>".to_string()),
            }
        }
        if !names.is_empty() {
            problems.push(format!("the client certificate names {}", names.join(", ")));
        }
        if problems.is_empty() {
            return Err(AuthError::NoCredential {
                host: host.to_string(),
            });
        }
        Err(AuthError::WrongCredential {
            host: host.to_string(),
            detail: problems.join("; "),
        })
    }
}

/// The token of a `Bearer` authorization header value; the scheme is case-insensitive.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Returns true for loopback addresses: 127.0.0.0/8, `::1`, and 127.0.0.0/8 mapped into
/// IPv6 (`::ffff:127.0.0.1`), which a dual-stack listener reports for IPv4 peers.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|mapped| mapped.is_loopback())
        }
    }
}

/// A client certificate whose names cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the names of the client certificate: {0}")]
pub struct CertificateNamesError(String);

/// The host names a DER certificate carries: its DNS subject alternative names, or its
/// common names when it has no DNS name.
pub fn certificate_names(der: &[u8]) -> Result<Vec<String>, CertificateNamesError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| CertificateNamesError(error.to_string()))?;
    let alternative = certificate
        .subject_alternative_name()
        .map_err(|error| CertificateNamesError(error.to_string()))?;
    let dns_names: Vec<String> = alternative
        .map(|extension| {
            extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(name) => Some(name.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !dns_names.is_empty() {
        return Ok(dns_names);
    }
    Ok(certificate
        .subject()
        .iter_common_name()
        .filter_map(|name| name.as_str().ok())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> TokenSecret {
        TokenSecret::from_bytes(Path::new("/etc/secret"), text.as_bytes().to_vec()).unwrap()
    }

    fn peer(addr: &str) -> PeerInfo {
        PeerInfo::new(addr.parse().unwrap())
    }

    fn with_certificate(addr: &str, names: &[&str]) -> PeerInfo {
        PeerInfo {
            addr: addr.parse().unwrap(),
            certificate_names: names.iter().map(|name| name.to_string()).collect(),
        }
    }

    #[test]
    fn token_is_hex_hmac() {
        // RFC 4231, test case 2: HMAC-SHA256 with the key "Jefe".
        let secret = TokenSecret {
            path: PathBuf::from("/etc/secret"),
            bytes: b"Jefe".to_vec(),
        };

        assert_eq!(
            secret.token("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn short_secret_rejected() {
        let error = TokenSecret::from_bytes(Path::new("/etc/s"), b"short".to_vec()).unwrap_err();

        assert!(
            error.to_string().contains("/etc/s holds 5 bytes"),
            "{error}"
        );
        assert!(error.to_string().contains("/dev/urandom"), "{error}");
    }

    #[test]
    fn load_strips_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();

        let loaded = TokenSecret::load(&path).unwrap();
        assert_eq!(
            loaded.token("b1"),
            secret("0123456789abcdef0123").token("b1")
        );
    }

    #[test]
    fn loopback_rule_without_credentials() {
        let open = Authenticator::default();

        assert!(
            open.authorize(Some(&peer("127.0.0.1:5000")), None, None)
                .is_ok()
        );
        assert!(
            open.authorize(Some(&peer("127.8.9.10:5000")), None, None)
                .is_ok()
        );
        assert!(
            open.authorize(Some(&peer("[::1]:5000")), None, None)
                .is_ok()
        );
        assert!(
            open.authorize(Some(&peer("[::ffff:127.0.0.1]:5000")), None, Some("b1"))
                .is_ok()
        );

        for remote in [
            "192.0.2.7:5000",
            "[2001:db8::1]:5000",
            "[::ffff:192.0.2.7]:5000",
        ] {
            let error = open
                .authorize(Some(&peer(remote)), None, Some("b1"))
                .unwrap_err();
            assert!(matches!(error, AuthError::NotLoopback { .. }), "{remote}");
            assert!(
                error
                    .to_string()
                    .contains(remote.split(']').next().unwrap().trim_start_matches('[')),
                "{error}"
            );
        }
        assert!(open.authorize(None, None, None).is_err());
    }

    #[test]
    fn tokens_bind_to_host() {
        let old = secret("old-secret-0123456789");
        let new = secret("new-secret-0123456789");
        let auth = Authenticator::new(vec![old.clone(), new.clone()], false);
        let remote = peer("192.0.2.7:5000");
        let header = |token: String| format!("Bearer {token}");

        assert!(
            auth.authorize(Some(&remote), Some(&header(old.token("b1"))), Some("b1"))
                .is_ok()
        );
        assert!(
            auth.authorize(Some(&remote), Some(&header(new.token("b1"))), Some("b1"))
                .is_ok()
        );
        assert!(
            auth.authorize(
                Some(&remote),
                Some(&format!("bearer  {}", new.token("b1"))),
                Some("b1")
            )
            .is_ok()
        );

        let error = auth
            .authorize(Some(&remote), Some(&header(old.token("b1"))), Some("b2"))
            .unwrap_err();
        assert!(
            matches!(error, AuthError::WrongCredential { .. }),
            "{error}"
        );
        assert!(!error.to_string().contains(&old.token("b1")), "{error}");

        let error = auth.authorize(Some(&remote), None, Some("b1")).unwrap_err();
        assert!(error.is_unauthenticated(), "{error}");

        let error = auth
            .authorize(Some(&remote), Some("Basic abc"), Some("b1"))
            .unwrap_err();
        assert!(error.to_string().contains("Bearer <token>"), "{error}");

        // Loopback peers need a credential too once one is configured.
        let local = peer("127.0.0.1:5000");
        assert!(auth.authorize(Some(&local), None, Some("b1")).is_err());
    }

    #[test]
    fn instance_required_with_credentials() {
        let auth = Authenticator::new(vec![secret("0123456789abcdef")], false);
        let token = format!("Bearer {}", secret("0123456789abcdef").token(""));

        let error = auth.authorize(Some(&peer("127.0.0.1:1")), Some(&token), None);
        assert_eq!(error.unwrap_err(), AuthError::MissingInstance);
        let error = auth.authorize(Some(&peer("127.0.0.1:1")), Some(&token), Some(""));
        assert_eq!(error.unwrap_err(), AuthError::MissingInstance);
    }

    #[test]
    fn certificates_bind_to_host() {
        let auth = Authenticator::new(Vec::new(), true);
        let a = with_certificate("192.0.2.7:5000", &["b1.example.org"]);

        assert!(
            auth.authorize(Some(&a), None, Some("b1.example.org"))
                .is_ok()
        );
        assert!(
            auth.authorize(Some(&a), None, Some("B1.Example.org"))
                .is_ok()
        );
        let error = auth
            .authorize(Some(&a), None, Some("b2.example.org"))
            .unwrap_err();
        assert!(
            error.to_string().contains("names b1.example.org"),
            "{error}"
        );
        assert!(!error.is_unauthenticated());

        let none = peer("192.0.2.7:5000");
        assert!(
            auth.authorize(Some(&none), None, Some("b1.example.org"))
                .unwrap_err()
                .is_unauthenticated()
        );
    }
}

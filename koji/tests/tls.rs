//! TLS: a private CA bundle, and a client certificate for hubs that demand one.
//!
//! The certificates in `tests/tls` were made with openssl for these tests only: `ca.crt`
//! signed `hub.crt` (for 127.0.0.1) and `monitoring.crt`; `other-ca.crt` signed nothing
//! used here. They are valid until 2125.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::Replay;
use koji::calls;
use koji::{ClientBuilder, Error, RetryPolicy};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};

fn tls_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tls")
        .join(name)
}

fn hub_identity() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let certs = CertificateDer::pem_file_iter(tls_file("hub.crt"))
        .expect("hub.crt")
        .collect::<Result<Vec<_>, _>>()
        .expect("hub.crt certificates");
    let key = PrivateKeyDer::from_pem_file(tls_file("hub.key")).expect("hub.key");
    (certs, key)
}

/// Builds a hub TLS config. With `client_ca` it demands a client certificate signed by that CA.
fn server_config(client_ca: Option<&str>) -> Arc<ServerConfig> {
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let (certs, key) = hub_identity();

    let config = match client_ca {
        None => builder.with_no_client_auth().with_single_cert(certs, key),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(tls_file(ca)).expect("client CA") {
                roots
                    .add(cert.expect("client CA certificate"))
                    .expect("add client CA");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder
                .with_client_cert_verifier(verifier)
                .with_single_cert(certs, key)
        }
    };
    Arc::new(config.expect("hub certificate and key"))
}

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new(url).retry(RetryPolicy::none())
}

#[tokio::test]
async fn ca_bundle_verifies_the_hub() {
    let replay = Replay::capture_tls("getKojiVersion", server_config(None)).await;
    assert!(replay.url().starts_with("https://127.0.0.1:"));

    let client = builder(replay.url())
        .ca_bundle(tls_file("ca.crt"))
        .build()
        .unwrap();
    assert_eq!(
        client.call(calls::get_koji_version()).await.unwrap(),
        "1.35.3"
    );
    assert_eq!(replay.received().len(), 1);
}

#[tokio::test]
async fn hub_signed_by_another_ca_is_rejected() {
    let replay = Replay::capture_tls("getKojiVersion", server_config(None)).await;

    let client = builder(replay.url())
        .ca_bundle(tls_file("other-ca.crt"))
        .build()
        .unwrap();
    let error = client.call(calls::get_koji_version()).await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error}");
    assert!(replay.received().is_empty());
}

#[tokio::test]
async fn client_certificate_is_presented() {
    let replay = Replay::capture_tls("getKojiVersion", server_config(Some("ca.crt"))).await;

    let client = builder(replay.url())
        .ca_bundle(tls_file("ca.crt"))
        .identity(tls_file("monitoring.crt"), tls_file("monitoring.key"))
        .build()
        .unwrap();
    assert_eq!(
        client.call(calls::get_koji_version()).await.unwrap(),
        "1.35.3"
    );
}

#[tokio::test]
async fn hub_demanding_a_certificate_rejects_anonymous_clients() {
    let replay = Replay::capture_tls("getKojiVersion", server_config(Some("ca.crt"))).await;

    let client = builder(replay.url())
        .ca_bundle(tls_file("ca.crt"))
        .build()
        .unwrap();
    let error = client.call(calls::get_koji_version()).await.unwrap_err();
    assert!(
        matches!(error, Error::Connect { .. } | Error::Transport { .. }),
        "{error}"
    );
    assert!(replay.received().is_empty());
}

#[test]
fn invalid_key_pem_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("monitoring.key");
    std::fs::write(&key, "not a key\n").unwrap();

    let error = ClientBuilder::new("https://127.0.0.1:1/kojihub")
        .identity(tls_file("monitoring.crt"), &key)
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error}");
    assert!(error.to_string().contains("monitoring.crt"), "{error}");
}

#[test]
fn mismatched_key_names_cause() {
    let error = ClientBuilder::new("https://127.0.0.1:1/kojihub")
        .identity(tls_file("monitoring.crt"), tls_file("hub.key"))
        .build()
        .unwrap_err();
    let message = error.to_string();

    assert!(matches!(error, Error::Config(_)), "{message}");
    assert!(!message.ends_with("builder error"), "{message}");
    assert!(message.contains("monitoring.crt"), "{message}");
    assert!(message.contains("hub.key"), "{message}");
    assert!(
        message.contains("hub.key is not the private key of cert_file"),
        "{message}"
    );
}

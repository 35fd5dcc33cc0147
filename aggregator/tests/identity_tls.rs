//! Push identity over real TLS handshakes. The tests generate a CA, a server certificate and
//! client certificates for two builders, and check that a token or certificate for one
//! builder cannot push, post or delete for the other.

mod push_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use koji_aggregator::identity::{Authenticator, TokenSecret};
use koji_aggregator::push::Limits;
use koji_aggregator::tls::{TlsFiles, server_config};
use push_support::{AggregatorProcess, TestServer, send};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use reqwest::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};

const HOST_A: &str = "builder-a.example.org";
const HOST_B: &str = "builder-b.example.org";
const HOST_CN_ONLY: &str = "builder-c.example.org";

/// A certificate and its key, both PEM.
struct Pem {
    cert: String,
    key: String,
}

struct Authority {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn authority(name: &str) -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Authority {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        issuer: Issuer::new(params, key),
    }
}

/// Issues an X.509 v1 certificate (no extensions) for `common_name`, signed by `ca`, with
/// `openssl x509 -req`; `None` when openssl is not installed.
fn leaf_v1(ca: &Authority, common_name: &str, dir: &Path) -> Option<Pem> {
    let openssl = koji_test_support::require_tool("openssl")?;

    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca_cert = write("v1-ca.crt", &ca.cert_pem);
    let ca_key = write("v1-ca.key", &ca.key_pem);
    let key = KeyPair::generate().unwrap();
    let key_file = write("v1.key", &key.serialize_pem());
    let request = dir.join("v1.csr");
    let cert = dir.join("v1.crt");

    let run = |args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(&openssl)
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };

    let subject = format!("/CN={common_name}");
    run(&[
        "req".as_ref(),
        "-new".as_ref(),
        "-key".as_ref(),
        key_file.as_os_str(),
        "-subj".as_ref(),
        subject.as_ref(),
        "-out".as_ref(),
        request.as_os_str(),
    ]);
    run(&[
        "x509".as_ref(),
        "-req".as_ref(),
        "-in".as_ref(),
        request.as_os_str(),
        "-CA".as_ref(),
        ca_cert.as_os_str(),
        "-CAkey".as_ref(),
        ca_key.as_os_str(),
        "-set_serial".as_ref(),
        "7".as_ref(),
        "-days".as_ref(),
        "1".as_ref(),
        "-out".as_ref(),
        cert.as_os_str(),
    ]);

    Some(Pem {
        cert: std::fs::read_to_string(&cert).unwrap(),
        key: key.serialize_pem(),
    })
}

/// Issues a certificate signed by `ca` with the DNS names `dns_names` and the common name
/// `common_name`.
fn leaf(ca: &Authority, dns_names: &[&str], common_name: &str) -> Pem {
    let names: Vec<String> = dns_names.iter().map(|name| name.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn server_leaf(ca: &Authority) -> Pem {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// The setup of one test: files in a temporary directory and a TLS receiver.
struct Setup {
    _dir: tempfile::TempDir,
    ca: Authority,
    secret: TokenSecret,
    server: TestServer,
}

async fn setup() -> Setup {
    push_support::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = authority("koji test CA");
    let server_pem = server_leaf(&ca);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let files = TlsFiles {
        cert_file: write("server.crt", &server_pem.cert),
        key_file: write("server.key", &server_pem.key),
        client_ca_file: Some(write("client-ca.crt", &ca.cert_pem)),
    };
    let secret_file = write("token.secret", "a site secret of enough length\n");
    let secret = TokenSecret::load(&secret_file).unwrap();

    let config = server_config(&files).expect("server TLS configuration");
    let authenticator = Authenticator::new(vec![secret.clone()], true);
    let server = TestServer::start_with(Limits::default(), authenticator, Some(config)).await;
    Setup {
        _dir: dir,
        ca,
        secret,
        server,
    }
}

/// Builds an HTTPS client that trusts `ca` and presents `identity` when given.
fn https_client(ca: &Authority, identity: Option<&Pem>) -> reqwest::Client {
    https_client_from(ca, identity, None)
}

/// Builds an HTTPS client like [`https_client`] that connects from `local_address`.
fn https_client_from(
    ca: &Authority,
    identity: Option<&Pem>,
    local_address: Option<IpAddr>,
) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            // `with_client_auth_cert` parses the certificate and rejects a v1 one, so the
            // key is set up without that check: the server is the one that must reject it.
            let chain = vec![CertificateDer::from_pem_slice(pem.cert.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).unwrap();
            let signing_key = rustls::crypto::ring::default_provider()
                .key_provider
                .load_private_key(key)
                .unwrap();
            let certified = CertifiedKey::new(chain, signing_key);
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
        }
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .local_address(local_address)
        .build()
        .unwrap()
}

fn group_path(host: &str) -> String {
    format!("/metrics/job/koji-agent/instance/{host}")
}

fn body(host: &str, value: u32) -> Vec<u8> {
    format!("# TYPE agent_value gauge\nagent_value{{host=\"{host}\"}} {value}\n").into_bytes()
}

async fn request(
    client: &reqwest::Client,
    setup: &Setup,
    method: Method,
    host: &str,
    token: Option<&str>,
    value: u32,
) -> (u16, String) {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect();
    let url = format!("{}{}", setup.server.url, group_path(host));
    send(client, method, &url, &headers, body(host, value)).await
}

fn served_value(exposition: &str, host: &str) -> Option<String> {
    let prefix = format!("agent_value{{host=\"{host}\",instance=\"{host}\",job=\"koji-agent\"}} ");
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_string))
}

#[tokio::test]
async fn tokens_bind_to_hosts() {
    let setup = setup().await;
    let client = https_client(&setup.ca, None);
    let token_a = setup.secret.token(HOST_A);
    let token_b = setup.secret.token(HOST_B);

    let (status, message) = request(&client, &setup, Method::PUT, HOST_B, Some(&token_b), 1).await;
    assert_eq!(status, 200, "B's token pushes for B: {message}");
    let (status, message) = request(&client, &setup, Method::PUT, HOST_A, Some(&token_a), 1).await;
    assert_eq!(status, 200, "A's token pushes for A: {message}");

    for method in [Method::PUT, Method::POST, Method::DELETE] {
        let (status, message) =
            request(&client, &setup, method.clone(), HOST_B, Some(&token_a), 9).await;
        assert_eq!(status, 403, "{method} for B with A's token: {message}");
        assert!(message.contains(HOST_B), "{message}");
    }
    let exposition = setup.server.metrics(&client).await;
    assert_eq!(
        served_value(&exposition, HOST_B).as_deref(),
        Some("1"),
        "{exposition}"
    );

    // A host label in the path overrides the body's, so it must name the token's host too.
    let authorization = format!("Bearer {token_a}");
    let headers = [("Authorization", authorization.as_str())];
    let bodies = [
        format!(
            "# TYPE koji_builder_kojid_up gauge\nkoji_builder_kojid_up{{host=\"{HOST_A}\"}} 0\n"
        ),
        "# TYPE koji_builder_kojid_up gauge\nkoji_builder_kojid_up 0\n".to_string(),
    ];
    for body in bodies {
        let url = format!("{}{}/host/{HOST_B}", setup.server.url, group_path(HOST_A));
        let (status, message) = send(&client, Method::PUT, &url, &headers, body.into()).await;
        assert_eq!(
            status, 400,
            "A's token pushed with host={HOST_B}: {message}"
        );
        assert!(message.contains(&format!("host=\"{HOST_B}\"")), "{message}");
        assert!(
            message.contains(&format!("instance=\"{HOST_A}\"")),
            "{message}"
        );
    }
    let exposition = setup.server.metrics(&client).await;
    assert!(
        !exposition.contains("koji_builder_kojid_up"),
        "{exposition}"
    );

    // Without an instance label a group names no host, so no credential can match it.
    let url = format!("{}/metrics/job/koji-agent", setup.server.url);
    let (status, message) = send(&client, Method::PUT, &url, &headers, body(HOST_A, 4)).await;
    assert_eq!(status, 403, "a push without instance: {message}");
    assert!(message.contains("no instance label"), "{message}");
    let exposition = setup.server.metrics(&client).await;
    let pushed = format!("agent_value{{host=\"{HOST_A}\"}} 4");
    assert!(!exposition.contains(&pushed), "{exposition}");

    let response = client
        .put(format!("{}{}", setup.server.url, group_path(HOST_A)))
        .body(body(HOST_A, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"koji-aggregator\""
    );

    let (status, _) = request(&client, &setup, Method::POST, HOST_A, Some(&token_a), 3).await;
    assert_eq!(status, 200);
    let (status, _) = request(&client, &setup, Method::DELETE, HOST_A, Some(&token_a), 0).await;
    assert_eq!(status, 202);
    let exposition = setup.server.metrics(&client).await;
    assert_eq!(served_value(&exposition, HOST_A), None, "{exposition}");
    assert_eq!(
        served_value(&exposition, HOST_B).as_deref(),
        Some("1"),
        "{exposition}"
    );
}

#[tokio::test]
async fn certificates_bind_to_hosts() {
    let setup = setup().await;
    let client_a = https_client(&setup.ca, Some(&leaf(&setup.ca, &[HOST_A], "builder a")));
    let client_b = https_client(&setup.ca, Some(&leaf(&setup.ca, &[HOST_B], "builder b")));
    let client_c = https_client(&setup.ca, Some(&leaf(&setup.ca, &[], HOST_CN_ONLY)));

    let (status, message) = request(&client_b, &setup, Method::PUT, HOST_B, None, 1).await;
    assert_eq!(status, 200, "B's certificate pushes for B: {message}");
    let (status, message) = request(&client_a, &setup, Method::PUT, HOST_A, None, 1).await;
    assert_eq!(status, 200, "A's certificate pushes for A: {message}");
    let (status, message) = request(&client_c, &setup, Method::PUT, HOST_CN_ONLY, None, 1).await;
    assert_eq!(
        status, 200,
        "a certificate without DNS names is named by its CN: {message}"
    );

    for method in [Method::PUT, Method::POST, Method::DELETE] {
        let (status, message) = request(&client_a, &setup, method.clone(), HOST_B, None, 9).await;
        assert_eq!(
            status, 403,
            "{method} for B with A's certificate: {message}"
        );
        assert!(
            message.contains(HOST_A),
            "the message names the certificate: {message}"
        );
    }
    // The common name does not count when the certificate has DNS names.
    let (status, _) = request(&client_a, &setup, Method::PUT, "builder a", None, 1).await;
    assert_eq!(status, 403);

    let exposition = setup.server.metrics(&client_a).await;
    assert_eq!(
        served_value(&exposition, HOST_B).as_deref(),
        Some("1"),
        "{exposition}"
    );
}

#[tokio::test]
async fn scrape_needs_no_certificate() {
    let setup = setup().await;
    let client = https_client(&setup.ca, None);

    let response = client
        .get(format!("{}/metrics", setup.server.url))
        .send()
        .await
        .expect("a scrape without a client certificate completes the handshake");

    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn foreign_certificate_fails_handshake() {
    let setup = setup().await;
    let rogue = authority("rogue CA");
    let client = https_client(&setup.ca, Some(&leaf(&rogue, &[HOST_A], "builder a")));

    let result = client
        .put(format!("{}{}", setup.server.url, group_path(HOST_A)))
        .body(body(HOST_A, 1))
        .send()
        .await;

    assert!(result.is_err(), "a certificate of another CA was accepted");
    assert!(setup.server.store.is_empty());
}

#[test]
fn server_config_errors_name_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TlsFiles {
        cert_file: dir.path().join("absent.crt"),
        key_file: dir.path().join("absent.key"),
        client_ca_file: None,
    };
    let error = server_config(&missing).unwrap_err().to_string();
    assert!(error.contains("absent.crt"), "{error}");

    let ca = authority("koji test CA");
    let pem = server_leaf(&ca);
    let other = server_leaf(&ca);
    let cert_file = dir.path().join("server.crt");
    let key_file = dir.path().join("other.key");
    std::fs::write(&cert_file, &pem.cert).unwrap();
    std::fs::write(&key_file, &other.key).unwrap();
    let mismatched = TlsFiles {
        cert_file,
        key_file,
        client_ca_file: None,
    };
    let error = server_config(&mismatched).unwrap_err().to_string();
    assert!(error.contains("invalid TLS setup"), "{error}");
    assert!(error.contains("other.key"), "{error}");

    let missing_ca = TlsFiles {
        client_ca_file: Some(Path::new("/nonexistent/ca.crt").to_path_buf()),
        ..mismatched
    };
    let error = server_config(&missing_ca).unwrap_err().to_string();
    assert!(
        error.contains("client CA file /nonexistent/ca.crt"),
        "{error}"
    );
}

#[tokio::test]
async fn binary_serves_tls_with_credentials() {
    push_support::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = authority("koji test CA");
    let server_pem = server_leaf(&ca);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cert_file = write("server.crt", &server_pem.cert);
    let key_file = write("server.key", &server_pem.key);
    let ca_file = write("client-ca.crt", &ca.cert_pem);
    let secret_file = write("token.secret", "a site secret of enough length\n");
    let extra = format!(
        "[push]\ntoken_secret_files = [{secret_file:?}]\n\
         [tls]\ncert_file = {cert_file:?}\nkey_file = {key_file:?}\nclient_ca_file = {ca_file:?}\n"
    );
    let client = https_client(&ca, None);
    let aggregator =
        AggregatorProcess::start_with(dir.path(), &extra, "https", client.clone()).await;
    let secret = TokenSecret::load(std::path::Path::new(&secret_file)).unwrap();
    let group = |host: &str| format!("{}{}", aggregator.url, group_path(host));

    let (status, message) = send(&client, Method::PUT, &group(HOST_A), &[], body(HOST_A, 1)).await;
    assert_eq!(status, 401, "{message}");
    let authorization = format!("Bearer {}", secret.token(HOST_A));
    let headers = [("Authorization", authorization.as_str())];
    let (status, message) = send(
        &client,
        Method::PUT,
        &group(HOST_B),
        &headers,
        body(HOST_B, 1),
    )
    .await;
    assert_eq!(status, 403, "{message}");
    let (status, message) = send(
        &client,
        Method::PUT,
        &group(HOST_A),
        &headers,
        body(HOST_A, 1),
    )
    .await;
    assert_eq!(status, 200, "{message}");

    let client_b = https_client(&ca, Some(&leaf(&ca, &[HOST_B], "builder b")));
    let (status, message) =
        send(&client_b, Method::PUT, &group(HOST_B), &[], body(HOST_B, 2)).await;
    assert_eq!(status, 200, "{message}");
    let (status, message) = send(&client_b, Method::DELETE, &group(HOST_A), &[], Vec::new()).await;
    assert_eq!(status, 403, "{message}");

    let exposition = aggregator.metrics(&client).await;
    assert_eq!(
        served_value(&exposition, HOST_A).as_deref(),
        Some("1"),
        "{exposition}"
    );
    assert_eq!(
        served_value(&exposition, HOST_B).as_deref(),
        Some("2"),
        "{exposition}"
    );
    assert!(
        !aggregator
            .log_text()
            .contains("only loopback peers may push")
    );
}

#[tokio::test]
async fn failed_handshakes_logged_once_per_address() {
    push_support::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = authority("koji test CA");
    let server_pem = server_leaf(&ca);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cert_file = write("server.crt", &server_pem.cert);
    let key_file = write("server.key", &server_pem.key);
    let ca_file = write("client-ca.crt", &ca.cert_pem);
    let extra = format!(
        "[tls]\ncert_file = {cert_file:?}\nkey_file = {key_file:?}\nclient_ca_file = {ca_file:?}\n"
    );
    let client = https_client(&ca, None);
    let aggregator =
        AggregatorProcess::start_with(dir.path(), &extra, "https", client.clone()).await;
    let url = format!("{}{}", aggregator.url, group_path(HOST_A));

    let rogue = authority("rogue CA");
    let foreign = leaf(&rogue, &[HOST_A], "builder a");
    let from_first = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
    for attempt in 0..3 {
        let client = https_client_from(&ca, Some(&foreign), from_first);
        let result = client.put(&url).body(body(HOST_A, 1)).send().await;
        assert!(
            result.is_err(),
            "attempt {attempt}: the foreign certificate was accepted"
        );
    }
    let v1 = leaf_v1(&ca, HOST_B, dir.path());
    let from_second = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    if let Some(v1) = &v1 {
        let client = https_client_from(&ca, Some(v1), Some(from_second));
        let result = client.put(&url).body(body(HOST_B, 1)).send().await;
        assert!(result.is_err(), "the v1 certificate was accepted");
    }

    let failures = |peer: &str| -> Vec<String> {
        aggregator
            .log_text()
            .lines()
            .filter(|line| line.contains("TLS handshake failed") && line.contains(peer))
            .map(str::to_string)
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while failures("peer=127.0.0.1:").is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let first = failures("peer=127.0.0.1:");
    assert_eq!(first.len(), 1, "{}", aggregator.log_text());
    assert!(first[0].contains("WARN"), "{}", first[0]);
    assert!(first[0].contains("UnknownIssuer"), "{}", first[0]);
    assert!(first[0].contains("suppressed=0"), "{}", first[0]);

    if v1.is_some() {
        while failures("peer=127.0.0.2:").is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let second = failures("peer=127.0.0.2:");
        assert_eq!(second.len(), 1, "{}", aggregator.log_text());
        assert!(
            second[0].contains("UnsupportedCertVersion"),
            "{}",
            second[0]
        );
        assert!(second[0].contains("X.509 v1"), "{}", second[0]);
        assert!(
            second[0].contains("suppressed=2"),
            "the two failures of 127.0.0.1 after its first are counted: {}",
            second[0]
        );
    }
}

/// Runs `koji-agent --once` as `host` on the fixture tree `busy`, with the hub off, pushing
/// to `url` with the client certificate `identity` and, when given, the CA file `ca_file`.
/// Returns whether it succeeded and its stderr.
async fn agent_once(
    dir: &Path,
    host: &str,
    url: &str,
    identity: &Pem,
    ca_file: Option<&Path>,
) -> (bool, String) {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cert_file = write("agent.crt", &identity.cert);
    let key_file = write("agent.key", &identity.key);
    let root = koji_test_support::workspace_root().join("agent/tests/fixtures/roots/busy");
    let mut text = format!(
        "host = {host:?}\nroot = {:?}\n[hub]\nenabled = false\n[[push]]\nurl = {url:?}\n\
         cert_file = {cert_file:?}\nkey_file = {key_file:?}\ntimeout_secs = 5\n",
        root.display().to_string()
    );
    if let Some(ca_file) = ca_file {
        text.push_str(&format!("ca_file = {:?}\n", ca_file.display().to_string()));
    }
    let config = write("agent.toml", &text);

    // The receiver runs on this test's runtime, so the agent runs off it.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(koji_test_support::workspace_bin("koji-agent"))
            .args(["--config", &config, "--once"])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run koji-agent")
    })
    .await
    .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn agent_pushes_with_its_certificate() {
    let setup = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, &setup.ca.cert_pem).unwrap();
    let identity_a = leaf(&setup.ca, &[HOST_A], "builder a");
    let client = https_client(&setup.ca, None);
    let kojid_up = |host: &str| {
        format!("koji_builder_kojid_up{{host=\"{host}\",instance=\"{host}\",job=\"koji-agent\"}} 1")
    };

    let (pushed, stderr) = agent_once(
        dir.path(),
        HOST_A,
        &setup.server.url,
        &identity_a,
        Some(&ca_file),
    )
    .await;
    assert!(
        pushed,
        "the agent of A pushes with A's certificate: {stderr}"
    );
    let exposition = setup.server.metrics(&client).await;
    assert!(exposition.contains(&kojid_up(HOST_A)), "{exposition}");

    let (pushed, stderr) = agent_once(
        dir.path(),
        HOST_B,
        &setup.server.url,
        &identity_a,
        Some(&ca_file),
    )
    .await;
    assert!(
        !pushed,
        "an agent configured as B with A's certificate pushed"
    );
    assert!(stderr.contains("403"), "{stderr}");
    let exposition = setup.server.metrics(&client).await;
    assert!(!exposition.contains(&kojid_up(HOST_B)), "{exposition}");

    // Without ca_file the agent trusts only the system's roots, which lack the test CA.
    let (pushed, stderr) =
        agent_once(dir.path(), HOST_A, &setup.server.url, &identity_a, None).await;
    assert!(
        !pushed,
        "the agent trusted a server certificate of an unknown CA"
    );
    assert!(stderr.contains(&setup.server.url), "{stderr}");
}

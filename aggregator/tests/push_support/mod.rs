//! A push receiver served in the test process on 127.0.0.1, and HTTP helpers for the push
//! tests.

#![allow(dead_code)]

use std::sync::Arc;

use axum::routing::get;
use koji_aggregator::identity::{Authenticator, PeerInfo};
use koji_aggregator::push::combine::render_combined;
use koji_aggregator::push::{Limits, PushState, Store, router};
use koji_aggregator::tls::{PlainListener, TlsListener};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running receiver; the server stops when this is dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub url: String,
    /// The store behind the server.
    pub store: Arc<Store>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Serves plain HTTP with `limits` and no credential configured.
    pub async fn start(limits: Limits) -> Self {
        Self::start_with(limits, Authenticator::default(), None).await
    }

    /// Serves the push API and `/metrics` with `limits` and `authenticator`, over TLS when
    /// `tls` is set.
    pub async fn start_with(
        limits: Limits,
        authenticator: Authenticator,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let store = Arc::new(Store::new(limits));
        let scraped = store.clone();
        let app = router(PushState::new(store.clone(), authenticator)).route(
            "/metrics",
            get(move || async move { render_combined(Vec::new(), &scraped.snapshot()).text }),
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let service = app.into_make_service_with_connect_info::<PeerInfo>();

        let (url, task) = match tls {
            None => {
                let listener = PlainListener::new(listener);
                let task = tokio::spawn(async move {
                    axum::serve(listener, service).await.expect("serve");
                });
                (format!("http://{addr}"), task)
            }
            Some(config) => {
                let listener = TlsListener::new(listener, config).expect("TLS listener");
                let task = tokio::spawn(async move {
                    axum::serve(listener, service).await.expect("serve");
                });
                (format!("https://{addr}"), task)
            }
        };
        Self { url, store, task }
    }

    /// Scrapes `/metrics` and returns the exposition.
    pub async fn metrics(&self, client: &reqwest::Client) -> String {
        client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("scrape body")
    }
}

/// Builds a client for plain HTTP. reqwest needs a rustls provider even then.
pub fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// Installs ring as the process's rustls provider, once.
pub fn install_crypto_provider() {
    // Fails only when a provider is installed already, which is what this makes sure of.
    let _installed_before = rustls::crypto::ring::default_provider().install_default();
}

/// Sends `method` with `body` to `url` and returns the status and the response body.
pub async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut request = client.request(method, url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The real `koji-aggregator` binary on a free port, without a hub, killed when dropped.
pub struct AggregatorProcess {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    guard: koji_test_support::ChildGuard,
    log: std::path::PathBuf,
}

impl AggregatorProcess {
    /// Starts the binary with its state in `dir/state`, the lines `extra` appended to its
    /// configuration, and waits until `/-/healthy` answers.
    pub async fn start(dir: &std::path::Path, extra: &str) -> Self {
        Self::start_with(dir, extra, "http", client()).await
    }

    /// Starts the binary like [`AggregatorProcess::start`], reaching it with `scheme`
    /// (`http` or `https`) and `client`.
    pub async fn start_with(
        dir: &std::path::Path,
        extra: &str,
        scheme: &str,
        client: reqwest::Client,
    ) -> Self {
        let port = koji_test_support::free_port();
        let config = dir.join("aggregator.toml");
        let state = dir.join("state");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\nstate_dir = {:?}\n{extra}",
                state.display().to_string()
            ),
        )
        .unwrap();
        let log = dir.join("aggregator.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_koji-aggregator"))
            .arg("--config")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start koji-aggregator");
        let mut process = Self {
            url: format!("{scheme}://127.0.0.1:{port}"),
            guard: koji_test_support::ChildGuard::new("koji-aggregator", child),
            log,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let healthy = client
                .get(format!("{}/-/healthy", process.url))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if healthy {
                return process;
            }
            if let Ok(Some(status)) = process.guard.child_mut().try_wait() {
                panic!(
                    "koji-aggregator exited with {status}\nlog:\n{}",
                    process.log_text()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "koji-aggregator is not healthy after 20 s\nlog:\n{}",
                process.log_text()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Scrapes `/metrics`.
    pub async fn metrics(&self, client: &reqwest::Client) -> String {
        let response = client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("scrape");
        response.text().await.expect("scrape body")
    }

    /// Sends the signal `name` (TERM or KILL) and waits until the process exited. After TERM
    /// the exit status must be 0.
    pub async fn stop(&mut self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.guard.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.guard.child_mut().try_wait() {
                if name == "TERM" {
                    assert!(
                        status.success(),
                        "exit status {status}\nlog:\n{}",
                        self.log_text()
                    );
                }
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the process did not stop\n{}",
                self.log_text()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The log written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Writes a configuration file `dir/name` that listens on a free port of 127.0.0.1 and
/// keeps its state in `state`, with the lines `extra` appended.
pub fn write_config(
    dir: &std::path::Path,
    name: &str,
    state: &std::path::Path,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join(name);
    let port = koji_test_support::free_port();
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{port}\"\nstate_dir = {:?}\n{extra}",
            state.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// Runs the binary with the configuration file `config` and returns its exit status and
/// standard error. Panics when it still runs after 20 s; the process is killed then.
pub fn run_to_exit(config: &std::path::Path) -> (std::process::ExitStatus, String) {
    let stderr = config.with_extension("stderr");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_koji-aggregator"))
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("start koji-aggregator");
    let mut guard = koji_test_support::ChildGuard::new("koji-aggregator", child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = guard.child_mut().try_wait().unwrap() {
            let text = std::fs::read_to_string(&stderr).unwrap_or_default();
            return (status, text);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "koji-aggregator with {} still runs after 20 s; log:\n{}",
            config.display(),
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

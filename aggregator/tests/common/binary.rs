//! The real `koji-aggregator` binary, started on a free port with its log in a file.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use koji_test_support::{ChildGuard, free_port};

use super::{Exposition, install_crypto_provider};

/// Path of the binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_koji-aggregator");

/// Writes `aggregator.toml` in `dir` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("aggregator.toml");
    std::fs::write(&path, text).expect("write aggregator.toml");
    path
}

/// Returns the text of a configuration that listens on `port`, keeps its state in
/// `dir/state` and polls `hub_url` every 2 s with a 1 s call timeout, plus the `[hub]` keys
/// `hub_keys`.
pub fn poll_config(dir: &Path, port: u16, hub_url: &str, hub_keys: &str) -> String {
    format!(
        "listen = \"127.0.0.1:{port}\"\nstate_dir = {:?}\n[hub]\nurl = {hub_url:?}\n\
         poll_interval_secs = 2\ncall_timeout_secs = 1\nconnect_timeout_secs = 1\n{hub_keys}\n",
        dir.join("state").display().to_string()
    )
}

/// A running aggregator process, killed when dropped.
pub struct Aggregator {
    guard: ChildGuard,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The file that receives its stderr.
    pub log: PathBuf,
    client: reqwest::Client,
}

impl Aggregator {
    /// Starts the binary with `--config config_path`, writing its log to `log`, serving on
    /// `port`.
    pub fn spawn(config_path: &Path, port: u16, log: &Path) -> Self {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the log file");
        let child = Command::new(BINARY)
            .arg("--config")
            .arg(config_path)
            .arg("--log-level")
            .arg("info,koji_aggregator=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start koji-aggregator");
        install_crypto_provider();
        Self {
            guard: ChildGuard::new("koji-aggregator", child),
            base_url: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
        }
    }

    /// Writes a polling configuration for `hub_url` into `dir` and starts the binary on a
    /// free port.
    pub fn start(dir: &Path, hub_url: &str, hub_keys: &str) -> Self {
        let port = free_port();
        let config = write_config(dir, &poll_config(dir, port, hub_url, hub_keys));
        Self::spawn(&config, port, &dir.join("aggregator.log"))
    }

    /// Returns the process id.
    pub fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// Scrapes `/metrics`, or returns `None` while the server does not respond.
    pub async fn scrape(&self) -> Option<Exposition> {
        let response = self
            .client
            .get(format!("{}/metrics", self.base_url))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        Some(Exposition::parse(&response.text().await.ok()?))
    }

    /// Returns the status code of `GET path`, or `None` while the server does not respond.
    pub async fn status(&self, path: &str) -> Option<u16> {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }

    /// Scrapes until `condition` holds for the exposition, and returns that exposition.
    /// Panics after `timeout` with the last exposition and the log, or when the process
    /// exited.
    pub async fn wait_for(
        &mut self,
        description: &str,
        timeout: Duration,
        condition: impl Fn(&Exposition) -> bool,
    ) -> Exposition {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            self.assert_running();
            if let Some(exposition) = self.scrape().await {
                if condition(&exposition) {
                    return exposition;
                }
                last = Some(exposition);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out after {timeout:?} waiting for {description}\nlast /metrics:\n{}\nlog:\n{}",
            last.map(|exposition| exposition.text).unwrap_or_default(),
            self.log_text()
        );
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.guard.child_mut().try_wait() {
            panic!(
                "koji-aggregator exited with {status}\nlog:\n{}",
                self.log_text()
            );
        }
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits up to `timeout` for the process to exit and returns its status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.guard.child_mut().try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let child = self.guard.child_mut();
        let _killed = child.kill();
        let _status = child.wait();
    }

    /// Reads the log written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Runs the binary with `args` to completion and returns its status, stdout and stderr.
pub fn run_to_end(args: &[&str]) -> (ExitStatus, String, String) {
    let output = Command::new(BINARY)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run koji-aggregator");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

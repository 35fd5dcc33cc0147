//! Helpers for tests that run real servers and tools.
//!
//! External tools (promtool, Prometheus, the Pushgateway, rpmbuild, Python's
//! `prometheus_client`) are found through [`require_tool`]: under `CI=true` a missing tool
//! fails the test, elsewhere the test prints why it is skipped and returns early. Servers
//! started here listen on 127.0.0.1 only and are killed when their guard is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod prometheus;

pub use prometheus::{Prometheus, Pushgateway};

/// Debian packages that provide the external tools, for the error message.
const TOOL_PACKAGES: &[(&str, &str)] = &[
    ("promtool", "prometheus"),
    ("prometheus", "prometheus"),
    ("prometheus-pushgateway", "prometheus-pushgateway"),
    ("rpmbuild", "rpm"),
    ("rpmlint", "rpmlint"),
    ("prometheus-node-exporter", "prometheus-node-exporter"),
];

/// Returns true when the tests run under CI (`CI=true`), where a missing tool is an error.
pub fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// Finds `name` on `PATH`.
///
/// Panics under `CI=true` when the tool is missing, naming the package to install. Outside CI
/// it prints a line saying the test is skipped and returns `None`.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if let Some(path) = find_on_path(name) {
        return Some(path);
    }

    let package = TOOL_PACKAGES
        .iter()
        .find(|(tool, _)| *tool == name)
        .map_or("the package that provides it", |(_, package)| *package);
    let message = format!("{name} not found on PATH; install the Debian package {package}");
    if running_in_ci() {
        panic!("{message} (CI=true, so this test cannot be skipped)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// Checks that `python3` can import `module`, with the same CI rule as [`require_tool`].
pub fn require_python_module(module: &str) -> Option<PathBuf> {
    let python = require_tool("python3")?;
    let status = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if status.is_ok_and(|status| status.success()) {
        return Some(python);
    }

    let message = format!("python3 cannot import {module}; run: pip install {module}");
    if running_in_ci() {
        panic!("{message} (CI=true, so this test cannot be skipped)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Returns a port on 127.0.0.1 that was free a moment ago, for servers that cannot be told
/// to bind port 0 (Prometheus, the Pushgateway).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The workspace root, found from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/support sits two levels below the workspace root")
        .to_path_buf()
}

/// Path of a workspace binary built by `cargo build --workspace --bins`.
///
/// Looks in `CARGO_TARGET_DIR` (or `target/`) under the `debug` and `release` profiles and
/// panics with the build command when the binary is missing.
pub fn workspace_bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        workspace_root().join(target)
    };

    for profile in ["debug", "release"] {
        let candidate = target.join(profile).join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "binary {name} not found under {}; run `cargo build --workspace --bins` first",
        target.display()
    );
}

/// A child process that is killed and reaped when dropped.
pub struct ChildGuard {
    child: Child,
    name: String,
}

impl ChildGuard {
    /// Wraps a spawned child; `name` is used in messages.
    pub fn new(name: impl Into<String>, child: Child) -> Self {
        Self {
            child,
            name: name.into(),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Gives access to the child, for signals and waiting.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Panics with the process name when it has already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early with {status}", self.name);
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _kill_result = self.child.kill();
        let _wait_result = self.child.wait();
    }
}

/// Installs rustls' ring provider as the process default, once.
///
/// reqwest is built without a default TLS provider (no aws-lc), and building a client
/// panics unless one is installed. The helpers here call this themselves; tests that build
/// their own reqwest client call it first.
pub fn install_crypto_provider() {
    // An error means another provider is installed already, which serves as well.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client for tests, with the crypto provider installed.
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// Polls `url` with GET until it answers 2xx or `timeout` passes.
pub async fn wait_for_http(url: &str, timeout: Duration) -> Result<(), String> {
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|error| error.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut last_error = String::from("no attempt made");

    while Instant::now() < deadline {
        match client.get(url).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last_error = format!("HTTP {}", response.status()),
            Err(error) => last_error = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{url} not ready after {timeout:?}: {last_error}"))
}

/// Polls `condition` every 50 ms until it returns true or `timeout` passes.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Runs `promtool check metrics` over `exposition`.
///
/// Returns `None` when promtool is missing outside CI, `Some(Ok(()))` when it reports
/// nothing, and `Some(Err(output))` with promtool's output otherwise.
pub fn promtool_check_metrics(exposition: &str) -> Option<Result<(), String>> {
    use std::io::Write;

    let promtool = require_tool("promtool")?;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(exposition.as_bytes())
        .expect("write exposition to promtool");
    let output = child.wait_with_output().expect("wait for promtool");

    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && text.trim().is_empty() {
        Some(Ok(()))
    } else {
        Some(Err(format!(
            "promtool check metrics exited with {}: {text}",
            output.status
        )))
    }
}

//! The main job end to end: the real `koji-agent` pushes to the real `koji-aggregator` with a
//! token, both use the hub simulator as their hub, and a real Prometheus scrapes the
//! aggregator with `honor_labels: true`, the setting `docs/operations.md` prescribes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use koji_hub_sim::{HubSim, Scenario, SimHandle, SimOptions};
use koji_test_support::{
    ChildGuard, Prometheus, free_port, wait_for_http, wait_until, workspace_bin, workspace_root,
};

/// A builder of the `demo` scenario: enabled, ready, capacity 10, task load 4.5.
const HOST: &str = "buildvm-x86-01.example.com";

const WAIT: Duration = Duration::from_secs(30);

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn spawn(name: &str, args: &[&str], log: &Path) -> ChildGuard {
    let log_file = std::fs::File::create(log).expect("create the log file");
    let child = Command::new(workspace_bin(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|error| panic!("start {name}: {error}"));
    ChildGuard::new(name, child)
}

/// Writes the aggregator's configuration: polling `hub_url` every 2 s, with one token
/// secret, so pushes need the host's token.
fn write_aggregator_config(dir: &Path, port: u16, hub_url: &str) -> PathBuf {
    let secret = dir.join("push-secret");
    std::fs::write(&secret, "e2e secret of at least sixteen bytes\n").expect("write the secret");

    let config = dir.join("aggregator.toml");
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\nstate_dir = {state:?}\n\
         [hub]\nurl = {hub_url:?}\npoll_interval_secs = 2\ncall_timeout_secs = 1\nconnect_timeout_secs = 1\n\
         [push]\ntoken_secret_files = [{secret:?}]\n",
        state = dir.join("state").display().to_string(),
        secret = secret.display().to_string(),
    );
    std::fs::write(&config, text).expect("write aggregator.toml");
    config
}

/// Runs `koji-aggregator token HOST` and returns the token it prints.
fn host_token(aggregator_config: &Path) -> String {
    let output = Command::new(workspace_bin("koji-aggregator"))
        .arg("--config")
        .arg(aggregator_config)
        .args(["token", HOST])
        .output()
        .expect("run koji-aggregator token");
    assert!(
        output.status.success(),
        "koji-aggregator token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let token = String::from_utf8(output.stdout).expect("token is UTF-8");
    let token = token.trim().to_string();
    assert_eq!(token.len(), 64, "an HMAC-SHA256 in hex: {token:?}");
    token
}

/// Writes the agent's configuration: the `busy` fixture tree as its root (kojid running,
/// load 3.5 on 4 CPUs), the simulator as its hub, the aggregator as its push target.
fn write_agent_config(dir: &Path, hub_url: &str, aggregator_url: &str, token: &str) -> PathBuf {
    let token_file = dir.join("agent-token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write the token file");

    let root = workspace_root().join("agent/tests/fixtures/roots/busy");
    let config = dir.join("agent.toml");
    let text = format!(
        "host = {HOST:?}\nroot = {root:?}\ninterval_secs = 1\n\
         [hub]\nurl = {hub_url:?}\ninterval_secs = 1\n\
         [[push]]\nurl = {aggregator_url:?}\ntoken_file = {token_file:?}\ntimeout_secs = 2\n\
         max_backoff_secs = 1\n",
        root = root.display().to_string(),
        token_file = token_file.display().to_string(),
    );
    std::fs::write(&config, text).expect("write agent.toml");
    config
}

/// The value of the single sample `expr` returns, or `None` while there is none.
async fn single_value(prometheus: &Prometheus, expr: &str) -> Option<f64> {
    let samples = prometheus.query(expr).await;
    assert!(
        samples.len() <= 1,
        "{expr} returned several series: {samples:?}"
    );
    samples.first().map(|sample| sample.value)
}

async fn wait_for_value(prometheus: &Prometheus, expr: &str, expected: f64) {
    wait_until(&format!("{expr} == {expected}"), WAIT, || async {
        single_value(prometheus, expr).await == Some(expected)
    })
    .await;
}

struct Farm {
    sim: SimHandle,
    _aggregator: ChildGuard,
    agent: ChildGuard,
    prometheus: Prometheus,
    _dir: tempfile::TempDir,
}

/// Starts the simulator, the aggregator, one agent and Prometheus, and waits until
/// Prometheus has scraped a push of the agent. Returns `None` when Prometheus is missing
/// outside CI.
async fn start_farm() -> Option<Farm> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let scenario = Scenario::shipped("demo").expect("demo scenario");
    let sim = HubSim::start(scenario, SimOptions::default())
        .await
        .expect("start the simulator");

    let port = free_port();
    let aggregator_url = format!("http://127.0.0.1:{port}");
    let aggregator_config = write_aggregator_config(dir.path(), port, &sim.url());
    let token = host_token(&aggregator_config);
    let config_arg = aggregator_config.display().to_string();
    let aggregator = spawn(
        "koji-aggregator",
        &["--config", &config_arg],
        &dir.path().join("aggregator.log"),
    );
    if let Err(error) = wait_for_http(&format!("{aggregator_url}/-/ready"), WAIT).await {
        let log = std::fs::read_to_string(dir.path().join("aggregator.log")).unwrap_or_default();
        panic!("koji-aggregator did not become ready: {error}\n{log}");
    }

    let agent_config = write_agent_config(dir.path(), &sim.url(), &aggregator_url, &token);
    let config_arg = agent_config.display().to_string();
    let agent = spawn(
        "koji-agent",
        &["--config", &config_arg],
        &dir.path().join("agent.log"),
    );

    let scrape = format!(
        "  - job_name: koji\n    honor_labels: true\n    static_configs:\n      \
         - targets: ['127.0.0.1:{port}']\n"
    );
    let prometheus = Prometheus::start(&scrape).await?;
    prometheus.wait_for_job_up("koji", WAIT).await;

    let freshness = format!("koji_agent_last_push_timestamp_seconds{{host=\"{HOST}\"}}");
    let deadline = Instant::now() + WAIT;
    while single_value(&prometheus, &freshness).await.is_none() {
        if Instant::now() > deadline {
            let log =
                |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
            panic!(
                "no push of {HOST} in Prometheus after {WAIT:?}\nagent log:\n{}\naggregator log:\n{}",
                log("agent.log"),
                log("aggregator.log")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    Some(Farm {
        sim,
        _aggregator: aggregator,
        agent,
        prometheus,
        _dir: dir,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_hub_rows_combine() {
    let started = now_secs();
    let Some(mut farm) = start_farm().await else {
        return;
    };
    let prometheus = &farm.prometheus;
    let host = |name: &str| format!("{name}{{host=\"{HOST}\"}}");
    let check =
        |name: &str| format!("koji_builder_ready_check{{host=\"{HOST}\",check=\"{name}\"}}");

    // The hub's rows: one series per host, although the agent pushes the same families.
    assert_eq!(single_value(prometheus, "koji_hub_up").await, Some(1.0));
    assert_eq!(
        single_value(prometheus, &host("koji_builder_enabled")).await,
        Some(1.0)
    );
    assert_eq!(
        single_value(prometheus, &host("koji_builder_ready")).await,
        Some(1.0)
    );
    assert_eq!(
        single_value(prometheus, &host("koji_builder_capacity")).await,
        Some(10.0)
    );
    assert_eq!(
        single_value(prometheus, &host("koji_builder_task_load")).await,
        Some(4.5)
    );
    let ready_series = prometheus
        .query(&format!("count(koji_builder_ready{{host=\"{HOST}\"}})"))
        .await;
    assert_eq!(ready_series.len(), 1);
    assert_eq!(
        ready_series[0].value, 1.0,
        "koji_builder_ready series of {HOST}"
    );

    // The agent's own rows pass through under its host.
    assert_eq!(
        single_value(prometheus, &host("koji_builder_kojid_up")).await,
        Some(1.0)
    );
    assert_eq!(
        single_value(prometheus, &host("koji_builder_load1")).await,
        Some(3.5)
    );
    assert_eq!(
        single_value(prometheus, &host("koji_builder_cpus")).await,
        Some(4.0)
    );
    assert_eq!(
        single_value(prometheus, &host("koji_agent_hub_up")).await,
        Some(1.0)
    );
    assert_eq!(single_value(prometheus, &check("enabled")).await, Some(1.0));
    assert_eq!(
        single_value(prometheus, &check("capacity")).await,
        Some(1.0)
    );
    assert_eq!(single_value(prometheus, &check("load")).await, Some(1.0));

    let pushed = single_value(prometheus, &host("koji_agent_last_push_timestamp_seconds"))
        .await
        .expect("last push series");
    assert!(
        pushed >= started.floor() && pushed <= now_secs() + 1.0,
        "last push {pushed} is not between the test start {started} and now"
    );

    // Disabling the host on the hub reaches both halves: the aggregator's poll and the
    // agent's own hub view, which feeds kojid's `enabled` rule.
    farm.sim
        .set_host_enabled(HOST, false)
        .expect("disable the host");
    wait_for_value(prometheus, &host("koji_builder_enabled"), 0.0).await;
    wait_for_value(prometheus, &check("enabled"), 0.0).await;
    assert_eq!(
        single_value(prometheus, &host("koji_builder_kojid_up")).await,
        Some(1.0)
    );

    farm.agent.assert_running();
}

//! The real `koji-agent` binary: configuration checks, `--once`, signals, and pushes to a real
//! Pushgateway scraped by a real Prometheus.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::receiver::{Answer, Receiver};
use common::{HOST, fixture};
use koji_test_support::{ChildGuard, Prometheus, Pushgateway};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BINARY: &str = env!("CARGO_BIN_EXE_koji-agent");

/// Writes an agent configuration for the fixture tree `busy` with the hub off and the given
/// extra TOML, and returns its path.
fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("agent.toml");
    let text = format!(
        "host = \"{HOST}\"\nroot = \"{}\"\ninterval_secs = 1\n{extra}\n[hub]\nenabled = false\n",
        fixture("roots/busy").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn push_section(url: &str, timeout_secs: u64) -> String {
    format!("[[push]]\nurl = \"{url}\"\ntimeout_secs = {timeout_secs}\nmax_backoff_secs = 1\n")
}

/// Runs the binary to completion off the async runtime, so that test servers keep replying.
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run koji-agent")
    })
    .await
    .unwrap()
}

fn args(config: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--config".to_string(), config.display().to_string()];
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn spawn_daemon(config: &Path) -> Child {
    Command::new(BINARY)
        .args(["--config", &config.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start koji-agent")
}

/// Sends SIGTERM and returns the exit status and how long the process took to exit.
async fn terminate(child: &mut Child) -> (std::process::ExitStatus, Duration) {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGTERM).expect("send SIGTERM");
    let sent = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, sent.elapsed());
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "koji-agent still runs 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn example_config_passes_check() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/config/agent.toml");
    let output = run(vec![
        "--config".to_string(),
        example.display().to_string(),
        "--check-config".to_string(),
    ])
    .await;
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert!(stdout.contains("agent.toml: valid"), "{stdout}");
    assert!(
        stdout.contains("push: https://monitor.example.org:9820"),
        "{stdout}"
    );
}

#[tokio::test]
async fn invalid_config_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        "interval_secs = 0\ncollectors = [\"kojid\", \"gpu\"]\n[[push]]\nurl = \"ftp://x\"\n",
    )
    .unwrap();
    let output = run(args(&config, &["--check-config"])).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("interval_secs = 0: must be a whole number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("collectors = \"gpu\": unknown collector"),
        "{stderr}"
    );
    assert!(
        stderr.contains("push[0].url = \"ftp://x\": must start with"),
        "{stderr}"
    );

    let missing = run(args(
        &dir.path().join("nonexistent.toml"),
        &["--check-config"],
    ))
    .await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("cannot read configuration file"),
        "{}",
        text(&missing.stderr)
    );

    let no_target = write_config(dir.path(), "");
    let output = run(args(&no_target, &["--check-config"])).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no push target"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn client_certificate_errors_name_cause() {
    let dir = tempfile::tempdir().unwrap();
    let cert = |name: &str| fixture(&format!("certs/{name}")).display().to_string();
    let target = |port: u16, cert_file: &str, key_file: &str| {
        format!(
            "[[push]]\nurl = \"https://127.0.0.1:{port}\"\ncert_file = {:?}\nkey_file = {:?}\n",
            cert(cert_file),
            cert(key_file)
        )
    };
    // key-only.pem is the key of the X.509 v1 leaf in chain.pem; v3-key.pem is the key of
    // v3-cert.pem.
    let targets = [
        target(9101, "v3-cert.pem", "key-only.pem"),
        target(9102, "chain.pem", "key-only.pem"),
        target(9103, "garbage.pem", "key-only.pem"),
        target(9104, "v3-cert.pem", "v3-key.pem"),
    ];
    let config = write_config(dir.path(), &targets.concat());

    let output = run(args(&config, &["--check-config"])).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    let line = |key: &str| {
        stderr
            .lines()
            .find(|line| line.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key} line in\n{stderr}"))
            .to_string()
    };

    let mismatch = line("push[0]: ");
    assert!(mismatch.contains("KeyMismatch"), "{mismatch}");
    assert!(
        mismatch.contains(&format!(
            "key_file {} is not the private key of cert_file {}",
            cert("key-only.pem"),
            cert("v3-cert.pem")
        )),
        "{mismatch}"
    );

    let v1 = line("push[1]: ");
    assert!(v1.contains("UnsupportedCertVersion"), "{v1}");
    assert!(
        v1.contains(&format!(
            "cert_file {} is an X.509 v1 certificate",
            cert("chain.pem")
        )),
        "{v1}"
    );

    let not_pem = line("push[2]: ");
    assert!(
        not_pem.contains("private key or certificate not found"),
        "{not_pem}"
    );
    assert!(
        not_pem.contains(&format!(
            "cert_file {} contains no PEM certificate",
            cert("garbage.pem")
        )),
        "{not_pem}"
    );
    assert!(
        !stderr
            .lines()
            .any(|line| line.trim_start().starts_with("push[3]: ")),
        "a matching v3 certificate and key pass:\n{stderr}"
    );
}

#[tokio::test]
async fn check_config_warns_without_kojid_conf() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "host = \"{HOST}\"\nroot = {:?}\n[hub]\nenabled = false\n\
             [[push]]\nurl = \"http://127.0.0.1:9\"\n",
            fixture("roots/empty").display().to_string()
        ),
    )
    .unwrap();

    let output = run(args(&config, &["--check-config"])).await;

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let warning = stdout
        .lines()
        .find(|line| line.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning in:\n{stdout}"));
    assert!(warning.contains("etc/kojid/kojid.conf"), "{warning}");
    assert!(
        warning.contains("disk and certificate collectors"),
        "{warning}"
    );

    let busy = write_config(dir.path(), &push_section("http://127.0.0.1:9", 1));
    let output = run(args(&busy, &["--check-config"])).await;
    assert!(
        !text(&output.stdout).contains("warning:"),
        "{}",
        text(&output.stdout)
    );
}

#[tokio::test]
async fn once_print_needs_no_target() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let output = run(args(&config, &["--once", "--print"])).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!("koji_builder_kojid_up{{host=\"{HOST}\"}} 1\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("koji_builder_maxjobs{{host=\"{HOST}\"}} 6\n")),
        "{stdout}"
    );
    koji_metrics::text::parse_text(stdout.as_bytes()).expect("valid text format");
}

#[tokio::test]
async fn once_exit_codes() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();

    let good = write_config(dir.path(), &push_section(&receiver.url(), 2));
    let output = run(args(&good, &["--once"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("pushed the group of builder01.example.org"));
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "PUT");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let both = format!(
        "{}{}",
        push_section(&receiver.url(), 2),
        push_section(&refused, 2)
    );
    let bad = write_config(dir.path(), &both);
    let output = run(args(&bad, &["--once"])).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&refused), "{stderr}");
    assert!(stderr.contains("(connect)"), "{stderr}");
    assert_eq!(
        receiver.received().len(),
        2,
        "the good target still got its push"
    );

    receiver.answer_with(Answer::Status(400));
    let rejected = write_config(dir.path(), &push_section(&receiver.url(), 2));
    let output = run(args(&rejected, &["--once"])).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("HTTP 400"), "{stderr}");
    assert!(stderr.contains("(http_4xx)"), "{stderr}");
}

#[tokio::test]
async fn sigterm_stops_within_a_second() {
    let receiver = Receiver::start().await;
    receiver.answer_with(Answer::Hang);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &push_section(&receiver.url(), 30));

    let mut child = spawn_daemon(&config);
    receiver.wait_for(1, Duration::from_secs(10)).await;
    // A push is now in flight, and the receiver never replies to it.
    let (status, elapsed) = terminate(&mut child).await;
    let output = child.wait_with_output().unwrap();
    assert!(
        status.success(),
        "{status}; stderr: {}",
        text(&output.stderr)
    );
    assert!(elapsed < Duration::from_secs(1), "exit took {elapsed:?}");
    assert!(
        text(&output.stderr).contains("Stopping."),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn sighup_warns_and_keeps_running() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &push_section(&receiver.url(), 2));

    let mut child = spawn_daemon(&config);
    let pushed = receiver.wait_for(1, Duration::from_secs(10)).await.len();
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGHUP).expect("send SIGHUP");

    // Pushes go on after the signal (interval_secs = 1).
    receiver.wait_for(pushed + 2, Duration::from_secs(10)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "koji-agent exited after SIGHUP"
    );
    let (status, _) = terminate(&mut child).await;
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(status.success(), "{status}; stderr: {stderr}");

    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("SIGHUP"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("WARN"), "{stderr}");
    assert!(
        warnings[0].contains("Configuration not reloaded"),
        "{stderr}"
    );
    assert!(
        warnings[0].contains("restart the service to apply changes"),
        "{stderr}"
    );
}

#[tokio::test]
async fn failing_collectors_do_not_stop_pushes() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "host = \"{HOST}\"\nroot = \"{}\"\ninterval_secs = 1\n{}\n[hub]\nenabled = false\n",
            fixture("roots/broken").display(),
            push_section(&receiver.url(), 2)
        ),
    )
    .unwrap();

    let mut child = spawn_daemon(&config);
    let received = receiver.wait_for(3, Duration::from_secs(15)).await;
    let (status, _) = terminate(&mut child).await;
    let output = child.wait_with_output().unwrap();
    assert!(status.success(), "{status}");

    for push in &received[..3] {
        assert!(
            push.body.contains(&format!(
                "koji_agent_collector_success{{host=\"{HOST}\",collector=\"config\"}} 0\n"
            )),
            "{}",
            push.body
        );
        assert!(push.body.contains("koji_builder_load1{"), "{}", push.body);
    }
    let stderr = text(&output.stderr);
    let config_failures = stderr
        .lines()
        .filter(|line| line.contains("Collector failed") && line.contains("collector=\"config\""))
        .count();
    assert_eq!(
        config_failures, 1,
        "an unchanged failure is logged once, not every cycle:\n{stderr}"
    );
    assert!(
        stderr.contains("maxjobs 6"),
        "the log line quotes the bad line:\n{stderr}"
    );
}

async fn pushgateway_group(gateway: &Pushgateway) -> Option<serde_json::Value> {
    let response: serde_json::Value = reqwest::get(format!("{}/api/v1/metrics", gateway.url()))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    response["data"]
        .as_array()?
        .iter()
        .find(|group| group["labels"]["job"] == "koji-agent" && group["labels"]["instance"] == HOST)
        .cloned()
}

fn group_value(group: &serde_json::Value, family: &str) -> Option<String> {
    let metrics = group[family]["metrics"].as_array()?;
    assert_eq!(metrics.len(), 1, "{family}: {metrics:?}");
    assert_eq!(metrics[0]["labels"]["host"], HOST, "{family}");
    metrics[0]["value"].as_str().map(str::to_string)
}

#[tokio::test]
async fn pushgateway_and_prometheus_see_the_host() {
    common::install_crypto_provider();
    // Debian's Pushgateway persists to /var/lib/prometheus/pushgateway.data by default,
    // which would share groups between test runs.
    let Some(gateway) = Pushgateway::start(&["--persistence.file="]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &push_section(gateway.url(), 5));
    let child = spawn_daemon(&config);
    let mut agent = ChildGuard::new("koji-agent", child);

    let deadline = Instant::now() + Duration::from_secs(15);
    let group = loop {
        if let Some(group) = pushgateway_group(&gateway).await {
            break group;
        }
        agent.assert_running();
        assert!(
            Instant::now() < deadline,
            "no koji-agent group on the Pushgateway"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(group["last_push_successful"], true);
    assert_eq!(
        group_value(&group, "koji_builder_kojid_up").as_deref(),
        Some("1")
    );
    assert_eq!(
        group_value(&group, "koji_builder_maxjobs").as_deref(),
        Some("6")
    );
    assert_eq!(
        group_value(&group, "koji_builder_kojid_task_processes").as_deref(),
        Some("2")
    );
    assert_eq!(group["koji_builder_maxjobs"]["type"], "GAUGE");
    assert_eq!(group["koji_agent_push_failures_total"]["type"], "COUNTER");

    let scrape = format!(
        "  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['{}']\n",
        gateway.address()
    );
    let Some(prometheus) = Prometheus::start(&scrape).await else {
        return;
    };
    prometheus
        .wait_for_job_up("pushgateway", Duration::from_secs(30))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let samples = loop {
        // Other tests on this machine may push other hosts to a Pushgateway that reused
        // a port, so the query selects this test's host.
        let samples = prometheus
            .query(&format!("koji_builder_maxjobs{{instance=\"{HOST}\"}}"))
            .await;
        if !samples.is_empty() {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus has no koji_builder_maxjobs"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(samples.len(), 1, "{samples:?}");
    let labels = &samples[0].labels;
    assert_eq!(labels["host"], HOST);
    assert_eq!(labels["job"], "koji-agent");
    assert_eq!(labels["instance"], HOST);
    assert_eq!(samples[0].value, 6.0);

    let (status, _) = terminate(agent.child_mut()).await;
    assert!(status.success(), "{status}");

    let output = run(args(&config, &["deregister"])).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("deleted the group of builder01.example.org"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while pushgateway_group(&gateway).await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the group is still on the Pushgateway"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! The binary's command line: `--check-config`, `--version`, `--help`, bad configuration,
//! and stopping on SIGTERM and SIGINT.

mod common;

use std::time::{Duration, Instant};

use common::binary::{Aggregator, run_to_end, write_config};
use koji_hub_sim::{HubSim, SimOptions};

#[test]
fn check_config_accepts_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "listen = \"127.0.0.1:9820\"\n[hub]\nurl = \"https://koji.example.org/kojihub\"\n",
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(0));
    assert_eq!(stdout, format!("configuration OK: {}\n", path.display()));
}

#[test]
fn check_config_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "listen = \"localhost\"\n[hub]\nurl = \"ftp://koji\"\npoll_interval_secs = 10\n\
         call_timeout_secs = 10\n[tags]\nmax_values = 0\n",
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(1));
    assert!(stdout.contains(&path.display().to_string()), "{stdout}");
    assert!(stdout.contains("listen = \"localhost\""), "{stdout}");
    assert!(stdout.contains("hub.url = \"ftp://koji\""), "{stdout}");
    assert!(stdout.contains("hub.call_timeout_secs = 10"), "{stdout}");
    assert!(stdout.contains("tags.max_values = 0"), "{stdout}");
}

#[test]
fn check_config_rejects_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "[hub]\nurl = \"https://koji.example.org/kojihub\"\npoll_intervall_secs = 5\n",
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(1));
    assert!(stdout.contains("poll_intervall_secs"), "{stdout}");
}

#[test]
fn check_config_names_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(1));
    assert!(
        stdout.contains("cannot read configuration file"),
        "{stdout}"
    );
    assert!(stdout.contains(&path.display().to_string()), "{stdout}");
}

#[test]
fn invalid_config_stops_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "listen = \"localhost\"\n");

    let (status, _, stderr) = run_to_end(&["--config", path.to_str().unwrap()]);

    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("listen = \"localhost\""), "{stderr}");
}

#[test]
fn invalid_log_level_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "");

    let (status, _, stderr) =
        run_to_end(&["--config", path.to_str().unwrap(), "--log-level", "loud["]);

    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("invalid --log-level \"loud[\""), "{stderr}");
}

#[test]
fn version_and_help() {
    let (status, stdout, _) = run_to_end(&["--version"]);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        stdout,
        format!("koji-aggregator {}\n", env!("CARGO_PKG_VERSION"))
    );

    let (status, stdout, _) = run_to_end(&["--help"]);
    assert_eq!(status.code(), Some(0));
    for option in [
        "--config <FILE>",
        "--check-config",
        "--log-level <LEVEL>",
        "--version",
    ] {
        assert!(stdout.contains(option), "{option} missing from:\n{stdout}");
    }
}

async fn stops_on(signal: &str) {
    let sim = HubSim::start(common::scenario("captured"), SimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut aggregator = Aggregator::start(dir.path(), &sim.url(), "");
    aggregator
        .wait_for("the first poll", Duration::from_secs(20), |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;

    let sent = Instant::now();
    aggregator.signal(signal);
    let status = aggregator.wait_exit(Duration::from_secs(1)).await;
    let elapsed = sent.elapsed();

    let log = aggregator.log_text();
    let status = status.unwrap_or_else(|| panic!("still running 1 s after SIG{signal}\n{log}"));
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert!(log.contains(&format!("signal=\"SIG{signal}\"")), "{log}");
    let started = log
        .lines()
        .find(|line| line.contains("koji-aggregator started."))
        .unwrap_or_else(|| panic!("no start line in\n{log}"));
    assert!(
        started.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{started}"
    );
    assert!(started.contains("aggregator.toml"), "{started}");
    assert!(
        started.contains(aggregator.base_url.trim_start_matches("http://")),
        "{started}"
    );
    assert!(started.contains(&sim.url()), "{started}");
}

#[tokio::test]
async fn sigterm_stops_within_a_second() {
    stops_on("TERM").await;
}

#[tokio::test]
async fn sigint_stops_within_a_second() {
    stops_on("INT").await;
}

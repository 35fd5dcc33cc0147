//! The binary's command line: `--check-config`, `--version`, `--help`, bad configuration,
//! exit statuses, warnings at start, and stopping on SIGTERM and SIGINT.

mod common;

use std::time::{Duration, Instant};

use common::binary::{Aggregator, poll_config, run_to_end, write_config};
use koji_aggregator::hub::labels::TagCap;
use koji_aggregator::hub::{PollerState, state_file};
use koji_hub_sim::{HubSim, SimOptions};

#[test]
fn check_config_accepts_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "listen = \"127.0.0.1:9820\"\nstate_dir = {:?}\n[hub]\n\
             url = \"https://koji.example.org/kojihub\"\n",
            dir.path().join("state").display().to_string()
        ),
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(0));
    assert_eq!(stdout, format!("configuration OK: {}\n", path.display()));
}

#[test]
fn example_config_passes_check() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/config/aggregator.toml"
    );

    let (status, stdout, stderr) = run_to_end(&["--config", example, "--check-config"]);

    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("configuration OK"), "{stdout}");
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

    assert_eq!(status.code(), Some(2));
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

    assert_eq!(status.code(), Some(2));
    assert!(stdout.contains("poll_intervall_secs"), "{stdout}");
}

#[test]
fn check_config_names_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(2));
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

    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("listen = \"localhost\""), "{stderr}");
}

#[test]
fn invalid_log_level_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "");

    let (status, _, stderr) =
        run_to_end(&["--config", path.to_str().unwrap(), "--log-level", "loud["]);

    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("invalid --log-level \"loud[\""), "{stderr}");
}

#[test]
fn bare_word_log_level_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "");

    let cases = [
        ("warning", None),
        ("verbose", None),
        ("verbose", Some("--check-config")),
    ];
    for (level, extra) in cases {
        let mut args = vec!["--config", path.to_str().unwrap(), "--log-level", level];
        args.extend(extra);
        let (status, _, stderr) = run_to_end(&args);

        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("invalid --log-level \"{level}\"")),
            "{stderr}"
        );
        assert!(
            stderr.contains("off, error, warn, info, debug, trace"),
            "{stderr}"
        );
    }
}

#[test]
fn unknown_flag_exits_2() {
    let (status, _, stderr) = run_to_end(&["--chek-config"]);

    assert_eq!(status.code(), Some(2), "{stderr}");
}

#[test]
fn check_config_reports_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(file("short.secret"), "12345678\n").unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "state_dir = {:?}\n[hub]\nurl = \"https://koji.example.org/kojihub\"\n\
             ca_file = {:?}\ncert_file = {:?}\nkey_file = {:?}\n\
             [push]\ntoken_secret_files = [{:?}]\n\
             [tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\n",
            file("state"),
            file("hub-ca.pem"),
            file("hub.crt"),
            file("hub.key"),
            file("short.secret"),
            file("tls.crt"),
            file("tls.key"),
            file("client-ca.pem"),
        ),
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(2), "{stdout}");
    for (key, name) in [
        ("hub.ca_file", "hub-ca.pem"),
        ("hub.cert_file", "hub.crt"),
        ("hub.key_file", "hub.key"),
        ("push.token_secret_files[0]", "short.secret"),
        ("tls.cert_file", "tls.crt"),
        ("tls.key_file", "tls.key"),
        ("tls.client_ca_file", "client-ca.pem"),
    ] {
        assert!(
            stdout
                .lines()
                .any(|line| line.contains(key) && line.contains(&file(name))),
            "{key} and {name} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains("fewer than 16"), "{stdout}");
    assert!(
        !dir.path().join("state").exists(),
        "--check-config does not create state_dir"
    );
}

#[test]
fn check_config_reports_every_invalid_tls_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    for name in ["tls.crt", "tls.key", "client-ca.pem"] {
        std::fs::write(file(name), "not PEM at all\n").unwrap();
    }
    let path = write_config(
        dir.path(),
        &format!(
            "state_dir = {:?}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\n",
            file("state"),
            file("tls.crt"),
            file("tls.key"),
            file("client-ca.pem"),
        ),
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(2), "{stdout}");
    for (key, name, reason) in [
        ("tls.cert_file", "tls.crt", "no PEM certificate"),
        ("tls.key_file", "tls.key", "PEM private key"),
        ("tls.client_ca_file", "client-ca.pem", "no PEM certificate"),
    ] {
        assert!(
            stdout.lines().any(|line| line.contains(key)
                && line.contains(&file(name))
                && line.contains(reason)),
            "{key}, {name} and {reason:?} missing from:\n{stdout}"
        );
    }
}

#[test]
fn check_config_rejects_file_as_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::write(&state, "").unwrap();
    let path = write_config(
        dir.path(),
        &format!("state_dir = {:?}\n", state.display().to_string()),
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("is not a directory"), "{stdout}");
}

#[test]
fn check_config_reports_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "stat_dir = \"/var/lib/koji-aggregator\"\n[hub]\n\
         url = \"https://koji.example.org/kojihub\"\npol_interval_secs = 5\n",
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(2), "{stdout}");
    assert!(stdout.contains(&path.display().to_string()), "{stdout}");
    assert!(
        stdout.contains("stat_dir: unknown key at line 1; did you mean state_dir?"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "hub.pol_interval_secs: unknown key at line 4; did you mean hub.poll_interval_secs?"
        ),
        "{stdout}"
    );
}

#[test]
fn check_config_prints_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "state_dir = {:?}\n[hub]\nurl = \"https://koji.example.org/\"\n",
            dir.path().display().to_string()
        ),
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(0), "{stdout}");
    let mut lines = stdout.lines();
    let warning = lines.next().unwrap_or_default();
    assert!(warning.starts_with("warning: hub.url = "), "{stdout}");
    assert!(warning.contains("/kojihub"), "{stdout}");
    assert_eq!(
        lines.next(),
        Some(format!("configuration OK: {}", path.display()).as_str())
    );
}

#[tokio::test]
async fn start_warns_about_config_and_tag_cap() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    std::fs::create_dir(&state_dir).unwrap();
    let hub_url = "http://127.0.0.1:9/koji";
    let state = PollerState {
        tags: TagCap::with_admitted(["a", "b", "c"].map(String::from)),
        ..PollerState::default()
    };
    state_file::save(&state_dir.join("state.json"), hub_url, &state, 0.0).unwrap();
    let port = koji_test_support::free_port();
    let config = write_config(
        dir.path(),
        &format!(
            "{}[tags]\nmax_values = 2\n",
            poll_config(dir.path(), port, hub_url, "")
        ),
    );

    let mut aggregator = Aggregator::spawn(&config, port, &dir.path().join("aggregator.log"));
    aggregator
        .wait_for("the server", Duration::from_secs(20), |_| true)
        .await;
    aggregator.kill();

    let log = aggregator.log_text();
    let url_warning = log
        .lines()
        .find(|line| line.contains("WARN") && line.contains("hub.url"))
        .unwrap_or_else(|| panic!("no hub.url warning in\n{log}"));
    assert!(url_warning.contains("/kojihub"), "{url_warning}");
    let cap_warning = log
        .lines()
        .find(|line| line.contains("WARN") && line.contains("tags.max_values"))
        .unwrap_or_else(|| panic!("no tag cap warning in\n{log}"));
    assert!(cap_warning.contains("admitted=3"), "{cap_warning}");
    assert!(cap_warning.contains("max_values=2"), "{cap_warning}");
}

/// Writes a configuration whose `[push]` table has `secret_lines`, and returns its path.
fn token_config(dir: &std::path::Path, secret_lines: &str) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "listen = \"127.0.0.1:9820\"\nstate_dir = {:?}\n[push]\n{secret_lines}\n",
            dir.join("state").display().to_string()
        ),
    )
}

#[test]
fn token_prints_hmac_of_host() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "0123456789abcdef-site-secret\n").unwrap();
    let path = token_config(
        dir.path(),
        &format!("token_secret_files = [{:?}]", secret.display().to_string()),
    );

    let (status, stdout, stderr) = run_to_end(&[
        "--config",
        path.to_str().unwrap(),
        "token",
        "b1.example.org",
    ]);

    assert_eq!(status.code(), Some(0), "{stderr}");
    // HMAC-SHA256 keyed with the secret (without its line feed), computed with Python's hmac.
    assert_eq!(
        stdout,
        "47dac3a19772f14cf7d2a058b439d8f0053ef9b0fc70241fcced3ceb40ac83d6\n"
    );

    for host in ["", "bad host", "tab\there"] {
        let (status, stdout, stderr) =
            run_to_end(&["--config", path.to_str().unwrap(), "token", host]);
        assert_eq!(status.code(), Some(2), "{host:?}: {stdout}");
        assert_eq!(stdout, "", "{host:?}");
        assert!(stderr.contains("invalid host"), "{host:?}: {stderr}");
    }
}

#[test]
fn token_without_secret_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = token_config(dir.path(), "");

    let (status, stdout, stderr) = run_to_end(&[
        "--config",
        path.to_str().unwrap(),
        "token",
        "b1.example.org",
    ]);

    assert_eq!(status.code(), Some(2));
    assert_eq!(
        stdout, "",
        "nothing that could be mistaken for a token on stdout"
    );
    assert!(
        stderr.contains("has no push.token_secret_files"),
        "{stderr}"
    );
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
        "Exit status: 0",
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

#[tokio::test]
async fn sighup_keeps_running() {
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

    aggregator.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;

    aggregator.assert_running();
    assert!(
        aggregator.scrape().await.is_some(),
        "/metrics stopped answering"
    );
    let log = aggregator.log_text();
    assert!(
        log.contains("Received SIGHUP, which does not reload the configuration"),
        "{log}"
    );
    aggregator.signal("TERM");
    let status = aggregator.wait_exit(Duration::from_secs(1)).await;
    assert_eq!(status.and_then(|status| status.code()), Some(0), "{log}");
}

/// `--check-config` as an unprivileged user whose state_dir would be created in a directory
/// it cannot write. As root, the check runs as `nobody` through `setpriv`, from a copy of the
/// binary that `nobody` can execute.
#[test]
fn check_config_state_dir_parent_not_writable() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let mode = |path: &std::path::Path, bits: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(bits)).unwrap();
    };
    mode(dir.path(), 0o755);
    let read_only = dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    mode(&read_only, 0o555);
    let state_dir = read_only.join("state");
    let path = write_config(
        dir.path(),
        &format!("state_dir = {:?}\n", state_dir.display().to_string()),
    );
    mode(&path, 0o644);

    // A new directory belongs to the effective user.
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir.path()).unwrap()) == 0;
    let output = if root {
        let Some(setpriv) = koji_test_support::require_tool("setpriv") else {
            return;
        };
        let binary = dir.path().join("koji-aggregator");
        std::fs::copy(common::binary::BINARY, &binary).unwrap();
        mode(&binary, 0o755);
        std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary)
            .args(["--config", path.to_str().unwrap(), "--check-config"])
            .output()
            .unwrap()
    } else {
        std::process::Command::new(common::binary::BINARY)
            .args(["--config", path.to_str().unwrap(), "--check-config"])
            .output()
            .unwrap()
    };

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains(&format!("{} is not writable", read_only.display())),
        "{stdout}"
    );
}

#[test]
fn shared_tls_file_blames_right_key() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = concat!(env!("CARGO_MANIFEST_DIR"), "/../koji/tests/tls/hub.crt");
    let path = write_config(
        dir.path(),
        &format!(
            "state_dir = {:?}\n[tls]\ncert_file = {certificate:?}\nkey_file = {certificate:?}\n",
            dir.path().join("state").display().to_string(),
        ),
    );

    let (status, stdout, _) = run_to_end(&["--config", path.to_str().unwrap(), "--check-config"]);

    assert_eq!(status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("tls.key_file: TLS key file"),
        "the certificate in key_file is blamed on key_file:\n{stdout}"
    );
    assert!(!stdout.contains("tls.cert_file:"), "{stdout}");
}

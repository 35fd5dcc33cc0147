//! Pushed groups survive a restart of the real binary: a graceful stop writes them, a
//! SIGKILL loses at most the pushes of the last write interval, and the restarted process
//! serves the same series and push times.

mod push_support;

use std::time::Duration;

use push_support::{AggregatorProcess, send};
use reqwest::Method;

fn pushed_lines(exposition: &str) -> Vec<String> {
    let mut lines: Vec<String> = exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.contains("job=\"koji-agent\""))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn groups_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let client = push_support::client();
    let extra = "[push]\npersist_interval_secs = 1\n";
    let mut aggregator = AggregatorProcess::start(dir.path(), extra).await;

    for host in ["b1", "b2"] {
        let url = format!("{}/metrics/job/koji-agent/instance/{host}", aggregator.url);
        let body = format!(
            "# HELP agent_value A value.\n# TYPE agent_value gauge\nagent_value{{host=\"{host}\",v=\"q\\\"\"}} 7\n"
        );
        let (status, message) = send(&client, Method::PUT, &url, &[], body.into_bytes()).await;
        assert_eq!(status, 200, "{message}");
    }
    let before = pushed_lines(&aggregator.metrics(&client).await);
    assert_eq!(before.len(), 6, "{before:#?}");

    assert!(
        aggregator
            .log_text()
            .contains("only loopback peers may push"),
        "no warning about the missing credentials:\n{}",
        aggregator.log_text()
    );
    aggregator.stop("TERM").await;
    assert!(dir.path().join("state/pushed.json").is_file());
    let mut aggregator = AggregatorProcess::start(dir.path(), extra).await;
    let after = pushed_lines(&aggregator.metrics(&client).await);
    assert_eq!(
        after, before,
        "a graceful restart changed the pushed series"
    );
    let exposition = aggregator.metrics(&client).await;
    assert!(
        exposition.contains("# HELP agent_value A value.\n"),
        "{exposition}"
    );
    assert!(
        exposition.contains("koji_agent_last_push_timestamp_seconds{host=\"b1\"}"),
        "{exposition}"
    );

    let url = format!("{}/metrics/job/koji-agent/instance/b3", aggregator.url);
    let (status, message) = send(
        &client,
        Method::PUT,
        &url,
        &[],
        b"# TYPE agent_value gauge\nagent_value 3\n".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{message}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before_kill = pushed_lines(&aggregator.metrics(&client).await);
    aggregator.stop("KILL").await;

    let aggregator = AggregatorProcess::start(dir.path(), extra).await;
    let after_kill = pushed_lines(&aggregator.metrics(&client).await);
    assert_eq!(
        after_kill, before_kill,
        "a SIGKILL after the write interval lost pushes"
    );
}

#[tokio::test]
async fn corrupt_pushed_file_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let client = push_support::client();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let pushed = state.join("pushed.json");
    let aside = state.join("pushed.json.corrupt");
    let contents: [(&str, &[u8]); 3] = [
        ("garbage", b"\x00\xffnot json at all"),
        ("empty", b""),
        (
            "truncated",
            br#"{"version":1,"groups":[{"labels":[["job","koji-agent"]"#,
        ),
    ];

    for (name, content) in contents {
        std::fs::write(&pushed, content).unwrap();

        let mut aggregator = AggregatorProcess::start(dir.path(), "").await;

        let log = aggregator.log_text();
        let error_line = log
            .lines()
            .find(|line| line.contains("ERROR") && line.contains("moved the file aside"))
            .unwrap_or_else(|| panic!("{name}: no error about the file in\n{log}"));
        assert!(
            error_line.contains(&pushed.display().to_string()),
            "{name}: {error_line}"
        );
        assert!(
            error_line.contains(&aside.display().to_string()),
            "{name}: {error_line}"
        );
        assert_eq!(std::fs::read(&aside).unwrap(), content, "{name}");
        assert!(
            !pushed.exists(),
            "{name}: the corrupt file is still in place"
        );

        let url = format!("{}/metrics/job/koji-agent/instance/b1", aggregator.url);
        let body = b"agent_value{host=\"b1\"} 1\n".to_vec();
        let (status, message) = send(&client, Method::PUT, &url, &[], body).await;
        assert_eq!(status, 200, "{name}: {message}");
        aggregator.stop("TERM").await;
        assert!(pushed.is_file(), "{name}: no new file written at shutdown");
        std::fs::remove_file(&pushed).unwrap();
    }
}

#[tokio::test]
async fn second_aggregator_on_state_dir_exits() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut first = AggregatorProcess::start(dir.path(), "").await;
    let config = push_support::write_config(dir.path(), "second.toml", &state, "");

    let (status, log) = tokio::task::spawn_blocking({
        let config = config.clone();
        move || push_support::run_to_exit(&config)
    })
    .await
    .unwrap();

    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("another koji-aggregator"),
        "the message does not name the cause:\n{log}"
    );
    assert!(
        log.contains(&state.display().to_string()),
        "the message does not name the directory:\n{log}"
    );
    assert!(
        !first.log_text().contains("ERROR"),
        "the first aggregator logged an error:\n{}",
        first.log_text()
    );

    // The kernel drops the lock with the process, so a SIGKILL leaves no stale lock.
    first.stop("KILL").await;
    let _restarted = AggregatorProcess::start(dir.path(), "").await;
}

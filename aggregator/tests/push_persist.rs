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
        .filter(|line| line.contains("job=\"agent\""))
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
        let url = format!("{}/metrics/job/agent/instance/{host}", aggregator.url);
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

    let url = format!("{}/metrics/job/agent/instance/b3", aggregator.url);
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

//! The combined view with a real hub poll. The hub's row of a family wins over a pushed row
//! for the same host, and pushed rows for hosts the hub does not list pass through. Before
//! the first good poll every pushed row passes through.

mod push_support;

use std::time::{Duration, Instant};

use koji_hub_sim::{HubSim, Scenario, SimOptions};
use push_support::{AggregatorProcess, send};
use reqwest::Method;

/// A builder of the `small` scenario.
const LISTED: &str = "b1.lab.example.org";
/// A builder the hub does not know.
const UNLISTED: &str = "b9.lab.example.org";

fn agent_body(host: &str) -> Vec<u8> {
    format!(
        "# TYPE koji_builder_ready gauge\nkoji_builder_ready{{host=\"{host}\"}} 0\n\
         # TYPE koji_builder_load1 gauge\nkoji_builder_load1{{host=\"{host}\"}} 2.5\n"
    )
    .into_bytes()
}

async fn push_both(client: &reqwest::Client, aggregator: &AggregatorProcess) {
    for host in [LISTED, UNLISTED] {
        let url = format!("{}/metrics/job/koji-agent/instance/{host}", aggregator.url);
        let (status, message) = send(client, Method::PUT, &url, &[], agent_body(host)).await;
        assert_eq!(status, 200, "{message}");
    }
}

fn sample_lines<'a>(exposition: &'a str, prefix: &str) -> Vec<&'a str> {
    exposition
        .lines()
        .filter(|line| line.starts_with(prefix))
        .collect()
}

#[tokio::test]
async fn hub_rows_win_per_host() {
    let sim = HubSim::start(Scenario::shipped("small").unwrap(), SimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = push_support::client();
    let hub = format!(
        "[hub]\nurl = {:?}\npoll_interval_secs = 2\ncall_timeout_secs = 1\n\
         connect_timeout_secs = 1\n",
        sim.url()
    );
    let aggregator = AggregatorProcess::start(dir.path(), &hub).await;
    push_both(&client, &aggregator).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let exposition = loop {
        let exposition = aggregator.metrics(&client).await;
        if exposition.contains("koji_hub_up 1") {
            break exposition;
        }
        assert!(
            Instant::now() < deadline,
            "no good poll\n{}",
            aggregator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let listed = format!("koji_builder_ready{{host=\"{LISTED}\"");
    let rows = sample_lines(&exposition, &listed);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(
        !rows[0].contains("job="),
        "the hub's row is served: {}",
        rows[0]
    );
    let unlisted = format!(
        "koji_builder_ready{{host=\"{UNLISTED}\",instance=\"{UNLISTED}\",job=\"koji-agent\"}} 0"
    );
    assert!(exposition.contains(&unlisted), "{exposition}");
    let load = format!(
        "koji_builder_load1{{host=\"{LISTED}\",instance=\"{LISTED}\",job=\"koji-agent\"}} 2.5"
    );
    assert!(
        exposition.contains(&load),
        "families the hub does not have pass through"
    );
    assert_eq!(
        exposition
            .matches("# TYPE koji_builder_ready gauge")
            .count(),
        1,
        "{exposition}"
    );
}

#[tokio::test]
async fn pushed_rows_pass_before_first_poll() {
    let dir = tempfile::tempdir().unwrap();
    let client = push_support::client();
    let unused = koji_test_support::free_port();
    let hub = format!(
        "[hub]\nurl = \"http://127.0.0.1:{unused}/kojihub\"\npoll_interval_secs = 2\ncall_timeout_secs = 1\n\
         connect_timeout_secs = 1\n"
    );
    let aggregator = AggregatorProcess::start(dir.path(), &hub).await;
    push_both(&client, &aggregator).await;

    let exposition = aggregator.metrics(&client).await;

    assert!(!exposition.contains("koji_hub_up 1"), "{exposition}");
    for host in [LISTED, UNLISTED] {
        let row = format!(
            "koji_builder_ready{{host=\"{host}\",instance=\"{host}\",job=\"koji-agent\"}} 0"
        );
        assert!(exposition.contains(&row), "{row} missing:\n{exposition}");
    }
}

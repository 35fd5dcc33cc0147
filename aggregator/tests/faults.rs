//! The real binary against a hub that is down, slow, faulting, behind a failing proxy, or
//! failing one call of a multicall. `/metrics` keeps the last good data with
//! `koji_hub_up 0` and the process stays up. When the hub is back, the counters resume
//! without loss or double counting.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::binary::Aggregator;
use common::{Exposition, counter_tables, move_task, new_task, scenario, truth_tables};
use koji_hub_sim::{FaultAction, FaultRule, HubSim, SimHandle, SimOptions, TaskState};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn polls(metrics: &Exposition, result: &str) -> f64 {
    metrics
        .get("koji_hub_polls_total", &[("result", result)])
        .unwrap_or(0.0)
}

/// The series that must survive failed polls unchanged.
fn last_good_data(metrics: &Exposition) -> Vec<String> {
    [
        "koji_builder_info",
        "koji_builder_ready",
        "koji_builder_last_update_timestamp_seconds",
        "koji_channel_capacity",
        "koji_tasks",
        "koji_tasks_created_total",
        "koji_tasks_completed_total",
    ]
    .iter()
    .flat_map(|name| metrics.lines_of(name))
    .collect()
}

/// Creates a build that finishes at once and closes one active task, so that the next good
/// poll has something to count.
fn change_tasks(sim: &SimHandle) {
    let build = sim
        .create_task(new_task(
            "build",
            "default",
            json!(["git+https://src.example.com/rpms/zlib.git#0a1b", "el9", {}]),
        ))
        .unwrap();
    move_task(sim, build, TaskState::Closed, None);
    if let Some(active) = sim.active_task_ids().first() {
        move_task(sim, *active, TaskState::Canceled, None);
    }
}

#[tokio::test]
async fn hub_down_at_start_then_up() {
    let hub_port = koji_test_support::free_port();
    let hub_url = format!("http://127.0.0.1:{hub_port}/kojihub");
    let dir = tempfile::tempdir().unwrap();
    let mut aggregator = Aggregator::start(dir.path(), &hub_url, "");

    let down = aggregator
        .wait_for("a failed poll", WAIT, |metrics| {
            polls(metrics, "failure") >= 2.0
        })
        .await;
    assert_eq!(down.value("koji_hub_up", &[]), 0.0);
    assert!(down.series("koji_builder_info").is_empty());
    assert_eq!(aggregator.status("/-/ready").await, Some(503));
    assert_eq!(aggregator.status("/-/healthy").await, Some(200));

    let options = SimOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], hub_port)),
        ..SimOptions::default()
    };
    let sim = HubSim::start(scenario("captured"), options).await.unwrap();
    let up = aggregator
        .wait_for("a successful poll", WAIT, |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;
    assert_eq!(aggregator.status("/-/ready").await, Some(200));
    assert_eq!(up.series("koji_tasks").len(), 18);
    assert_eq!(
        up.value("koji_channel_capacity", &[("channel", "default")]),
        34.0
    );
    assert!(up.series("koji_tasks_created_total").is_empty());

    change_tasks(&sim);
    let counted = aggregator
        .wait_for("the new tasks counted", WAIT, |metrics| {
            !metrics.series("koji_tasks_completed_total").is_empty()
        })
        .await;
    assert_eq!(counter_tables(&counted), truth_tables(&sim.truth()));
    aggregator.assert_running();
}

#[tokio::test]
async fn faults_keep_last_data_and_counts_resume() {
    let sim = HubSim::start(scenario("captured"), SimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut aggregator = Aggregator::start(dir.path(), &sim.url(), "channel_cache_secs = 0");
    aggregator
        .wait_for("the first poll", WAIT, |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;

    let faults = [
        (
            "slow past the call timeout",
            FaultRule::new(Some("listTasks"), FaultAction::Delay { seconds: 1.5 }, None),
        ),
        (
            "a fault code",
            FaultRule::new(
                Some("listTasks"),
                FaultAction::Fault {
                    code: 1000,
                    string: "database connection lost".into(),
                },
                None,
            ),
        ),
        (
            "HTML 502 from a proxy",
            FaultRule::new(None, FaultAction::HttpError { status: 502 }, None),
        ),
        (
            "a truncated reply",
            FaultRule::new(
                Some("getTaskInfo"),
                FaultAction::Truncate { keep_bytes: None },
                None,
            ),
        ),
        (
            "closed connections",
            FaultRule::new(None, FaultAction::CloseConnection, None),
        ),
    ];

    for (fault, rule) in faults {
        let before = aggregator
            .wait_for("a good poll", WAIT, |metrics| {
                metrics.get("koji_hub_up", &[]) == Some(1.0)
            })
            .await;
        sim.inject(rule).unwrap();
        change_tasks(&sim);
        let failures = polls(&before, "failure");

        let failing = aggregator
            .wait_for(fault, WAIT, |metrics| {
                polls(metrics, "failure") >= failures + 2.0
                    && metrics.get("koji_hub_up", &[]) == Some(0.0)
            })
            .await;
        let later = aggregator.scrape().await.expect("the server answers");
        assert_eq!(later.value("koji_hub_up", &[]), 0.0, "{fault}");
        assert!(!last_good_data(&before).is_empty(), "{fault}");
        assert_eq!(last_good_data(&before), last_good_data(&failing), "{fault}");
        assert_eq!(last_good_data(&before), last_good_data(&later), "{fault}");
        assert_eq!(
            failing.lines_of("koji_hub_last_success_timestamp_seconds"),
            later.lines_of("koji_hub_last_success_timestamp_seconds"),
            "{fault}: no poll succeeds while the hub fails"
        );
        assert_ne!(
            counter_tables(&later),
            truth_tables(&sim.truth()),
            "{fault}: the changes are counted only after the hub recovers"
        );
        aggregator.assert_running();

        sim.clear_faults();
        let recovered = aggregator
            .wait_for(&format!("recovery from {fault}"), WAIT, |metrics| {
                metrics.get("koji_hub_up", &[]) == Some(1.0)
            })
            .await;
        assert_eq!(
            counter_tables(&recovered),
            truth_tables(&sim.truth()),
            "after {fault}"
        );
    }

    // One failing call inside the channel multicall: with channel_cache_secs = 0 every
    // poll refreshes the channels before it lists the hosts, so the first listHosts call
    // of the next poll is the first call of that multicall.
    let before = aggregator
        .wait_for("a good poll", WAIT, |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;
    change_tasks(&sim);
    let rule = FaultRule::new(
        Some("listHosts"),
        FaultAction::Fault {
            code: 1000,
            string: "No such channel".into(),
        },
        Some(1),
    );
    sim.inject(rule).unwrap();
    let failures = polls(&before, "failure");
    aggregator
        .wait_for("the multicall failure", WAIT, |metrics| {
            polls(metrics, "failure") > failures
        })
        .await;
    let recovered = aggregator
        .wait_for("recovery from the multicall failure", WAIT, |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;
    assert_eq!(counter_tables(&recovered), truth_tables(&sim.truth()));
    let log = aggregator.log_text();
    assert!(
        log.contains("reading the channels failed: listHosts failed with fault 1000"),
        "{log}"
    );
    assert!(log.contains("Hub poll succeeded again."), "{log}");
    aggregator.assert_running();
}

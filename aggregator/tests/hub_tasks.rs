//! Counting created and finished tasks: once each, across polls, failed polls, deletions,
//! restarts and backfills.

mod common;

use common::{Exposition, Harness, move_task, new_task, scenario, subtask};
use std::sync::Arc;

use koji_hub_sim::{FaultAction, FaultRule, HubSim, SimHandle, SimOptions, TaskState};
use serde_json::json;

const X86_01: &str = "builder-x86-01.example.com";

fn created(metrics: &Exposition, channel: &str, method: &str, tag: &str) -> Option<f64> {
    metrics.get(
        "koji_tasks_created_total",
        &[("channel", channel), ("method", method), ("tag", tag)],
    )
}

fn completed(
    metrics: &Exposition,
    state: &str,
    channel: &str,
    method: &str,
    tag: &str,
) -> Option<f64> {
    metrics.get(
        "koji_tasks_completed_total",
        &[
            ("state", state),
            ("channel", channel),
            ("method", method),
            ("tag", tag),
        ],
    )
}

fn bucket(metrics: &Exposition, name: &str, channel: &str, method: &str, le: &str) -> f64 {
    metrics.value(
        &format!("{name}_bucket"),
        &[("channel", channel), ("method", method), ("le", le)],
    )
}

#[tokio::test]
async fn tasks_between_polls_counted_once() {
    let mut harness = Harness::shipped("captured").await;
    harness.poll().await;
    let sim = harness.sim.clone();

    // A build created and finished between two polls, above the highest active id.
    let build = sim
        .create_task(new_task(
            "build",
            "default",
            json!(["git+https://src.example.com/rpms/zlib.git#0a1b", "f41", {}]),
        ))
        .unwrap();
    // Its subtask names build tag el9-build (id 2) but takes the tree's tag.
    let child = sim
        .create_task(subtask(
            "buildArch",
            build,
            json!(["zlib.src.rpm", 2, "x86_64", false, {}]),
        ))
        .unwrap();
    sim.create_task(new_task("tagBuild", "default", json!([6, 5, false, null])))
        .unwrap();
    sim.advance(45.0).unwrap();
    move_task(&sim, build, TaskState::Open, Some(X86_01));
    sim.advance(600.0).unwrap();
    move_task(&sim, child, TaskState::Canceled, None);
    move_task(&sim, build, TaskState::Closed, None);
    // Adopted at the first poll: counted when they finish, never as created.
    move_task(&sim, 44, TaskState::Closed, None);
    move_task(&sim, 47, TaskState::Canceled, None);
    harness.poll().await;
    let second = harness.metrics();

    assert_eq!(
        created(&second, "default", "build", "f41-candidate"),
        Some(1.0)
    );
    assert_eq!(
        created(&second, "default", "buildArch", "f41-candidate"),
        Some(1.0)
    );
    assert_eq!(
        created(&second, "default", "tagBuild", "f41-candidate"),
        Some(1.0)
    );
    assert_eq!(second.series("koji_tasks_created_total").len(), 3);
    assert_eq!(
        completed(&second, "closed", "default", "build", "f41-candidate"),
        Some(1.0)
    );
    assert_eq!(
        completed(&second, "canceled", "default", "buildArch", "f41-candidate"),
        Some(1.0)
    );
    assert_eq!(
        completed(&second, "closed", "createrepo", "createrepo", "el9-build"),
        Some(1.0)
    );
    assert_eq!(
        completed(&second, "canceled", "default", "build", "f41-candidate"),
        Some(1.0),
        "the adopted free build 47"
    );
    assert_eq!(second.series("koji_tasks_completed_total").len(), 4);
    assert_eq!(
        second.value(
            "koji_tasks",
            &[
                ("state", "free"),
                ("channel", "default"),
                ("method", "tagBuild"),
                ("tag", "f41-candidate")
            ]
        ),
        2.0,
        "task 41 and the new tagBuild"
    );

    // The build waited 45 s and ran 600 s; the canceled subtask never started.
    let wait = "koji_task_wait_seconds";
    let run = "koji_task_run_seconds";
    assert_eq!(bucket(&second, wait, "default", "build", "30"), 0.0);
    assert_eq!(bucket(&second, wait, "default", "build", "60"), 1.0);
    assert_eq!(bucket(&second, run, "default", "build", "300"), 0.0);
    assert_eq!(bucket(&second, run, "default", "build", "900"), 1.0);
    assert_eq!(
        second.value(
            &format!("{run}_sum"),
            &[("channel", "default"), ("method", "build")]
        ),
        600.0
    );
    assert_eq!(
        second.get(
            &format!("{wait}_count"),
            &[("channel", "default"), ("method", "buildArch")]
        ),
        None
    );
    // Task 44 waited 26 s (created 15:36:51, opened 15:37:17) and ran until the close.
    assert_eq!(bucket(&second, wait, "createrepo", "createrepo", "10"), 0.0);
    assert_eq!(bucket(&second, wait, "createrepo", "createrepo", "30"), 1.0);
    assert_eq!(bucket(&second, run, "createrepo", "createrepo", "900"), 0.0);
    assert_eq!(
        bucket(&second, run, "createrepo", "createrepo", "1800"),
        1.0
    );
    assert_eq!(harness.poller.state().book.highest_seen, Some(51));

    // Nothing changes: nothing is counted again.
    harness.poll().await;
    let third = harness.metrics();
    for name in [
        "koji_tasks_created_total",
        "koji_tasks_completed_total",
        "koji_task_wait_seconds_count",
        "koji_task_run_seconds_count",
    ] {
        assert_eq!(third.lines_of(name), second.lines_of(name), "{name}");
    }
}

#[tokio::test]
async fn failed_poll_commits_nothing() {
    let mut harness = Harness::shipped("captured").await;
    harness.poll().await;
    let sim = harness.sim.clone();
    let build = sim
        .create_task(new_task(
            "build",
            "default",
            json!(["git+https://src.example.com/rpms/zlib.git#0a1b", "el9", {}]),
        ))
        .unwrap();
    move_task(&sim, build, TaskState::Closed, None);
    move_task(&sim, 44, TaskState::Closed, None);

    // The poll fails after the active listing, while fetching the finished tasks.
    let rule = FaultRule::new(
        Some("getTaskInfo"),
        FaultAction::Fault {
            code: 1000,
            string: "database is restarting".to_string(),
        },
        Some(1),
    );
    sim.inject(rule).unwrap();
    let error = harness.poller.poll().await.unwrap_err();
    assert!(
        error.to_string().contains("database is restarting"),
        "{error}"
    );
    let failed = harness.metrics();

    assert_eq!(failed.value("koji_hub_up", &[]), 0.0);
    assert_eq!(
        failed.value("koji_hub_polls_total", &[("result", "failure")]),
        1.0
    );
    assert!(failed.series("koji_tasks_created_total").is_empty());
    assert!(failed.series("koji_tasks_completed_total").is_empty());
    assert_eq!(
        failed.series("koji_tasks").len(),
        18,
        "the last good data stays"
    );
    assert_eq!(harness.poller.state().book.highest_seen, Some(48));

    harness.poll().await;
    let recovered = harness.metrics();
    assert_eq!(recovered.value("koji_hub_up", &[]), 1.0);
    assert_eq!(
        created(&recovered, "default", "build", "el9-candidate"),
        Some(1.0)
    );
    assert_eq!(
        completed(&recovered, "closed", "default", "build", "el9-candidate"),
        Some(1.0)
    );
    assert_eq!(
        completed(
            &recovered,
            "closed",
            "createrepo",
            "createrepo",
            "el9-build"
        ),
        Some(1.0)
    );
    assert_eq!(
        recovered.value("koji_hub_polls_total", &[("result", "success")]),
        2.0
    );
    assert_eq!(
        recovered.value("koji_hub_polls_total", &[("result", "failure")]),
        1.0
    );
}

#[tokio::test]
async fn deleted_tasks_retried_then_skipped() {
    let mut harness = Harness::start(
        scenario("captured"),
        SimOptions::default(),
        "missing_task_retry_secs = 60",
        "",
    )
    .await;
    harness.poll().await;
    let sim = harness.sim.clone();

    // A tracked active task and a new task vanish, as koji-sweep-db deletes rows.
    sim.delete_task(40).unwrap();
    let vanished = sim
        .create_task(new_task("tagBuild", "default", json!([6, 7, false, null])))
        .unwrap();
    sim.delete_task(vanished).unwrap();
    // A later id makes the gap visible: the hub's highest id is above the deleted one.
    sim.create_task(new_task("tagBuild", "default", json!([6, 8, false, null])))
        .unwrap();

    harness.poll().await;
    let metrics = harness.metrics();
    assert_eq!(
        metrics.value("koji_aggregator_task_ids_skipped_total", &[]),
        0.0
    );
    let pending: Vec<i64> = harness
        .poller
        .state()
        .book
        .pending
        .keys()
        .copied()
        .collect();
    assert_eq!(pending, vec![40, vanished]);
    assert_eq!(
        metrics.get(
            "koji_tasks",
            &[
                ("state", "free"),
                ("channel", "default"),
                ("method", "build"),
                ("tag", "el9-candidate")
            ]
        ),
        None,
        "task 40 left the active listing"
    );

    // Still inside the retry window: asked again, not skipped.
    sim.advance(30.0).unwrap();
    sim.reset_stats();
    harness.poll().await;
    assert_eq!(sim.stats().method("getTaskInfo").calls, 1);
    assert_eq!(
        harness
            .metrics()
            .value("koji_aggregator_task_ids_skipped_total", &[]),
        0.0
    );

    // The window passed: both ids are skipped and counted once.
    sim.advance(31.0).unwrap();
    harness.poll().await;
    let skipped = harness.metrics();
    assert_eq!(
        skipped.value("koji_aggregator_task_ids_skipped_total", &[]),
        2.0
    );
    assert!(harness.poller.state().book.pending.is_empty());
    assert!(!harness.poller.state().book.tracked.contains_key(&40));
    assert_eq!(
        skipped.lines_of("koji_tasks_created_total"),
        [
            "koji_tasks_created_total{channel=\"default\",method=\"tagBuild\",tag=\"f41-candidate\"} 1"
        ],
        "only the task after the gap"
    );
    assert!(skipped.series("koji_tasks_completed_total").is_empty());

    // Skipped ids are not asked again.
    sim.reset_stats();
    harness.poll().await;
    assert_eq!(sim.stats().method("getTaskInfo").calls, 0);
    assert_eq!(
        harness
            .metrics()
            .value("koji_aggregator_task_ids_skipped_total", &[]),
        2.0
    );
}

#[tokio::test]
async fn restart_counts_tasks_finished_while_down() {
    let mut harness = Harness::shipped("captured").await;
    harness.poll().await;
    let state = harness.poller.state();
    assert_eq!(state.book.highest_seen, Some(48));
    assert_eq!(state.book.tracked.len(), 18, "the active tasks are adopted");

    // While the aggregator is down, an adopted task finishes and a new one comes and goes.
    let sim = harness.sim.clone();
    move_task(&sim, 44, TaskState::Closed, None);
    let failed_repo = sim
        .create_task(new_task("newRepo", "createrepo", json!(["f41-build"])))
        .unwrap();
    move_task(&sim, failed_repo, TaskState::Failed, None);
    harness.restart();
    let restarted = harness.metrics();
    assert_eq!(restarted.value("koji_hub_up", &[]), 0.0);
    assert_eq!(
        restarted.series("koji_tasks").len(),
        18,
        "the saved snapshot is served"
    );
    assert_eq!(
        restarted.value("koji_hub_polls_total", &[("result", "success")]),
        1.0
    );

    harness.poll().await;
    let after = harness.metrics();
    assert_eq!(
        completed(&after, "closed", "createrepo", "createrepo", "el9-build"),
        Some(1.0)
    );
    assert_eq!(
        created(&after, "createrepo", "newRepo", "f41-build"),
        Some(1.0)
    );
    assert_eq!(
        completed(&after, "failed", "createrepo", "newRepo", "f41-build"),
        Some(1.0)
    );

    harness.restart();
    harness.poll().await;
    let again = harness.metrics();
    for name in ["koji_tasks_created_total", "koji_tasks_completed_total"] {
        assert_eq!(again.lines_of(name), after.lines_of(name), "{name}");
    }
}

/// Backfill of one hour on the captured scenario, whose clock is at 15:42:50: task 32 was
/// created at 14:36:40, before the cutoff at 14:42:50, and task 33 at 14:57:47, so ids 33
/// to 48 are counted.
#[tokio::test]
async fn backfill_counts_recent_tasks() {
    let mut harness = Harness::start(
        scenario("captured"),
        SimOptions::default(),
        "backfill_hours = 1",
        "",
    )
    .await;
    harness.poll().await;
    let metrics = harness.metrics();

    let expected_created = [
        ("default", "build", "el9-candidate", 2.0),
        ("default", "buildSRPMFromSCM", "el9-candidate", 1.0),
        ("default", "buildArch", "el9-candidate", 3.0),
        ("image", "image", "el9-candidate", 1.0),
        ("image", "createImage", "el9-candidate", 1.0),
        ("default", "tagBuild", "f41-candidate", 2.0),
        ("createrepo", "newRepo", "f41-build", 1.0),
        ("createrepo", "newRepo", "el9-build", 1.0),
        ("createrepo", "createrepo", "el9-build", 3.0),
        ("default", "build", "f41-candidate", 1.0),
    ];
    for (channel, method, tag, count) in expected_created {
        assert_eq!(
            created(&metrics, channel, method, tag),
            Some(count),
            "{channel}/{method}/{tag}"
        );
    }
    assert_eq!(
        metrics.series("koji_tasks_created_total").len(),
        expected_created.len()
    );
    // Of ids 33 to 48 only 34 is finished: it waited 9 s and ran 520 s.
    assert_eq!(
        completed(
            &metrics,
            "closed",
            "default",
            "buildSRPMFromSCM",
            "el9-candidate"
        ),
        Some(1.0)
    );
    assert_eq!(metrics.series("koji_tasks_completed_total").len(), 1);
    let wait = "koji_task_wait_seconds";
    let run = "koji_task_run_seconds";
    assert_eq!(
        bucket(&metrics, wait, "default", "buildSRPMFromSCM", "10"),
        1.0
    );
    assert_eq!(
        bucket(&metrics, run, "default", "buildSRPMFromSCM", "300"),
        0.0
    );
    assert_eq!(
        bucket(&metrics, run, "default", "buildSRPMFromSCM", "900"),
        1.0
    );

    // Bisection over 48 ids plus one fetch of the finished ids, never a time-window scan.
    let stats = harness.sim.stats();
    assert!(stats.method("getTaskInfo").calls <= 10, "{stats:?}");
    assert_eq!(stats.method("listTasks").calls, 2);
}

#[tokio::test]
async fn backfill_probes_around_deleted_ids() {
    let scenario = scenario("captured");
    let mut harness =
        Harness::start(scenario, SimOptions::default(), "backfill_hours = 1", "").await;
    for id in [20, 21, 22, 23, 24, 25, 26, 27, 29, 32] {
        harness.sim.delete_task(id).unwrap();
    }
    harness.poll().await;

    assert_eq!(harness.poller.state().book.highest_seen, Some(48));
    let metrics = harness.metrics();
    let total: f64 = metrics
        .series("koji_tasks_created_total")
        .iter()
        .map(|sample| sample.value)
        .sum();
    assert_eq!(total, 16.0, "ids 33 to 48");
    assert!(harness.poller.state().book.pending.is_empty());
}

/// A hub whose database is restored from an older backup hands out task ids again that the
/// aggregator already saw. The first simulator runs the captured scenario plus three newer
/// tasks (ids 49 to 51); the second, on the same address, is the captured scenario again,
/// so its highest id is 48 and its next task gets id 49 with other labels.
#[tokio::test]
async fn restored_hub_restarts_counting() {
    let mut harness = Harness::shipped("captured").await;
    harness.poll().await;
    let sim = harness.sim.clone();
    for _ in 0..3 {
        let id = sim
            .create_task(new_task("newRepo", "createrepo", json!(["f41-build"])))
            .unwrap();
        move_task(&sim, id, TaskState::Open, Some(X86_01));
    }
    harness.poll().await;
    let before = harness.metrics();
    assert_eq!(
        created(&before, "createrepo", "newRepo", "f41-build"),
        Some(3.0)
    );
    drop(sim);

    let address = harness.sim.addr();
    let placeholder = HubSim::start(scenario("captured"), SimOptions::default())
        .await
        .unwrap();
    harness.sim = Arc::new(placeholder);
    harness.restart();
    let restored = start_on(address, scenario("captured")).await;
    harness.sim = Arc::new(restored);
    harness.restart();

    harness.poll().await;
    let after_restore = harness.metrics();
    assert_eq!(
        after_restore.get(
            "koji_tasks",
            &[
                ("state", "open"),
                ("channel", "createrepo"),
                ("method", "newRepo"),
                ("tag", "f41-build")
            ]
        ),
        None,
        "the three tasks of the lost ids are no longer active"
    );
    assert_eq!(after_restore.series("koji_tasks").len(), 18);
    for name in ["koji_tasks_created_total", "koji_tasks_completed_total"] {
        assert_eq!(
            after_restore.lines_of(name),
            before.lines_of(name),
            "{name} keep their values"
        );
    }

    let sim = harness.sim.clone();
    let reused = sim
        .create_task(new_task("tagBuild", "default", json!([6, 5, false, null])))
        .unwrap();
    assert_eq!(reused, 49, "the restored hub hands out id 49 again");
    move_task(&sim, reused, TaskState::Open, Some(X86_01));
    move_task(&sim, reused, TaskState::Closed, None);
    harness.poll().await;
    let after_new_task = harness.metrics();

    assert_eq!(
        created(&after_new_task, "default", "tagBuild", "f41-candidate"),
        Some(1.0),
        "id 49 is counted again, with the labels of its new task"
    );
    assert_eq!(
        completed(
            &after_new_task,
            "closed",
            "default",
            "tagBuild",
            "f41-candidate"
        ),
        Some(1.0)
    );
    assert_eq!(
        created(&after_new_task, "createrepo", "newRepo", "f41-build"),
        Some(3.0)
    );
    assert_eq!(
        after_new_task.get(
            "koji_tasks_completed_total",
            &[
                ("state", "closed"),
                ("channel", "createrepo"),
                ("method", "newRepo"),
                ("tag", "f41-build")
            ]
        ),
        None,
        "the old labels of id 49 are not reused"
    );
}

/// Starts the simulator on `address`, retrying while the previous one releases the port.
async fn start_on(address: std::net::SocketAddr, scenario: koji_hub_sim::Scenario) -> SimHandle {
    for _ in 0..100 {
        let options = SimOptions {
            listen: address,
            ..SimOptions::default()
        };
        match HubSim::start(scenario.clone(), options).await {
            Ok(sim) => return sim,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    panic!("cannot start the simulator again on {address}");
}

#[tokio::test]
async fn task_info_in_batches() {
    let options = SimOptions::default();
    let mut harness =
        Harness::start(scenario("captured"), options, "task_info_batch = 2", "").await;
    harness.poll().await;
    let sim = harness.sim.clone();

    // Five tagBuild tasks (tag 6 is f41-candidate) created and finished between two polls, so
    // none is in the active listing and each must be fetched.
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = sim
            .create_task(new_task("tagBuild", "default", json!([6, 5, false, null])))
            .unwrap();
        ids.push(id);
    }
    for id in &ids {
        move_task(&sim, *id, TaskState::Closed, None);
    }
    sim.reset_stats();
    harness.poll().await;
    let metrics = harness.metrics();

    let stats = sim.stats();
    assert_eq!(
        stats.method("getTaskInfo").calls,
        3,
        "5 ids in batches of 2"
    );
    assert_eq!(stats.method("getTaskInfo").rows, 5);
    assert_eq!(
        created(&metrics, "default", "tagBuild", "f41-candidate"),
        Some(5.0)
    );
    assert_eq!(
        completed(&metrics, "closed", "default", "tagBuild", "f41-candidate"),
        Some(5.0)
    );
}

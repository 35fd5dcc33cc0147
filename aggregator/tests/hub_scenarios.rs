//! The hub poller against the simulator's shipped scenarios, with every metric family
//! checked against values computed by hand from the scenario files.

mod common;

use std::collections::BTreeMap;

use common::{Exposition, Harness, move_task, new_task, scenario};
use koji_hub_sim::{SimOptions, TaskState, VersionMode};
use serde_json::json;

/// Unix time of the captured scenario's clock, 2026-12-04 15:42:50 UTC.
const CAPTURED_NOW: f64 = 1_796_398_970.0;

/// Unix time of the small scenario's clock, 2031-03-15 08:00:00 UTC.
const SMALL_NOW: f64 = 1_931_328_000.0;

const X86_01: &str = "builder-x86-01.example.com";
const X86_02: &str = "builder-x86-02.example.com";
const AARCH64: &str = "builder-aarch64-01.example.com";
const PPC64LE: &str = "builder-ppc64le-01.example.com";
const S390X: &str = "builder-s390x-01.example.com";
const IMAGE: &str = "image-builder-01.example.com";

fn table(entries: &[(&str, f64)]) -> BTreeMap<String, f64> {
    entries
        .iter()
        .map(|(key, value)| (key.to_string(), *value))
        .collect()
}

async fn captured(version: VersionMode) -> Exposition {
    let options = SimOptions {
        version,
        ..SimOptions::default()
    };
    let mut harness = Harness::start(scenario("captured"), options, "", "").await;
    harness.poll().await;
    harness.metrics()
}

#[tokio::test]
async fn captured_poll_health() {
    let metrics = captured(VersionMode::Current).await;

    assert_eq!(metrics.value("koji_hub_up", &[]), 1.0);
    assert_eq!(
        metrics.value("koji_hub_last_success_timestamp_seconds", &[]),
        CAPTURED_NOW
    );
    assert_eq!(
        metrics.value("koji_hub_polls_total", &[("result", "success")]),
        1.0
    );
    assert_eq!(
        metrics.value("koji_hub_polls_total", &[("result", "failure")]),
        0.0
    );
    assert_eq!(metrics.value("koji_hub_poll_duration_seconds", &[]), 0.0);
}

#[tokio::test]
async fn captured_builders() {
    let metrics = captured(VersionMode::Current).await;

    assert_eq!(
        metrics.table("koji_builder_info", &["host", "arches"]),
        table(&[
            (&format!("{X86_01}/x86_64 i686"), 1.0),
            (&format!("{X86_02}/x86_64 i686"), 1.0),
            (&format!("{AARCH64}/aarch64"), 1.0),
            (&format!("{PPC64LE}/ppc64le"), 1.0),
            (&format!("{S390X}/s390x"), 1.0),
            (&format!("{IMAGE}/x86_64"), 1.0),
        ])
    );
    let per_host = |name| metrics.table(name, &["host"]);
    assert_eq!(
        per_host("koji_builder_enabled"),
        table(&[
            (X86_01, 1.0),
            (X86_02, 1.0),
            (AARCH64, 1.0),
            (PPC64LE, 1.0),
            (S390X, 0.0),
            (IMAGE, 1.0)
        ])
    );
    assert_eq!(
        per_host("koji_builder_ready"),
        table(&[
            (X86_01, 1.0),
            (X86_02, 1.0),
            (AARCH64, 1.0),
            (PPC64LE, 0.0),
            (S390X, 0.0),
            (IMAGE, 1.0)
        ])
    );
    assert_eq!(
        per_host("koji_builder_capacity"),
        table(&[
            (X86_01, 8.0),
            (X86_02, 16.0),
            (AARCH64, 6.0),
            (PPC64LE, 4.0),
            (S390X, 3.0),
            (IMAGE, 10.0)
        ])
    );
    assert_eq!(
        per_host("koji_builder_task_load"),
        table(&[
            (X86_01, 1.5),
            (X86_02, 9.0),
            (AARCH64, 0.0),
            (PPC64LE, 0.0),
            (S390X, 0.0),
            (IMAGE, 2.0)
        ])
    );
    // The s390x builder never checked in, so it has no series.
    assert_eq!(
        per_host("koji_builder_last_update_timestamp_seconds"),
        table(&[
            (X86_01, 1_796_398_967.278_105),
            (X86_02, 1_796_398_967.287_264),
            (AARCH64, 1_796_398_967.296_401),
            (PPC64LE, 1_796_391_167.358_518),
            (IMAGE, 1_796_398_967.305_572),
        ])
    );
    assert_eq!(
        metrics.table("koji_builder_channel_info", &["host", "channel"]),
        table(&[
            (&format!("{X86_01}/default"), 1.0),
            (&format!("{X86_01}/createrepo"), 1.0),
            (&format!("{X86_02}/default"), 1.0),
            (&format!("{X86_02}/bigmem"), 1.0),
            (&format!("{AARCH64}/default"), 1.0),
            (&format!("{PPC64LE}/default"), 1.0),
            (&format!("{S390X}/default"), 1.0),
            (&format!("{IMAGE}/image"), 1.0),
            (&format!("{IMAGE}/createrepo"), 1.0),
        ])
    );
}

#[tokio::test]
async fn captured_channels() {
    let metrics = captured(VersionMode::Current).await;
    let per_channel = |name| metrics.table(name, &["channel"]);

    // Only channels with members have series; appliance (disabled) has none.
    assert_eq!(
        per_channel("koji_channel_builders"),
        table(&[
            ("default", 5.0),
            ("createrepo", 2.0),
            ("image", 1.0),
            ("bigmem", 1.0)
        ])
    );
    assert_eq!(
        per_channel("koji_channel_builders_enabled"),
        table(&[
            ("default", 4.0),
            ("createrepo", 2.0),
            ("image", 1.0),
            ("bigmem", 1.0)
        ])
    );
    assert_eq!(
        per_channel("koji_channel_builders_ready"),
        table(&[
            ("default", 3.0),
            ("createrepo", 2.0),
            ("image", 1.0),
            ("bigmem", 1.0)
        ])
    );
    assert_eq!(
        per_channel("koji_channel_capacity"),
        table(&[
            ("default", 34.0),
            ("createrepo", 18.0),
            ("image", 10.0),
            ("bigmem", 16.0)
        ])
    );
    assert_eq!(
        per_channel("koji_channel_task_load"),
        table(&[
            ("default", 10.5),
            ("createrepo", 3.5),
            ("image", 2.0),
            ("bigmem", 9.0)
        ])
    );
    assert_eq!(
        per_channel("koji_channel_enabled"),
        table(&[
            ("default", 1.0),
            ("createrepo", 1.0),
            ("image", 1.0),
            ("bigmem", 1.0)
        ])
    );
}

#[tokio::test]
async fn captured_active_tasks() {
    let metrics = captured(VersionMode::Current).await;

    let expected: Vec<(&str, f64)> = [
        "free/bigmem/buildArch/f41-candidate",
        "free/createrepo/createrepo/el9-build",
        "free/createrepo/newRepo/f41-build",
        "free/default/build/el9-candidate",
        "free/default/build/f41-candidate",
        "free/default/buildArch/el9-candidate",
        "free/default/tagBuild/f41-candidate",
        "assigned/createrepo/createrepo/el9-build",
        "assigned/default/buildArch/el9-candidate",
        "assigned/default/tagBuild/f41-candidate",
        "open/bigmem/build/f41-candidate",
        "open/bigmem/buildArch/f41-candidate",
        "open/createrepo/createrepo/el9-build",
        "open/createrepo/newRepo/el9-build",
        "open/default/build/el9-candidate",
        "open/default/buildArch/el9-candidate",
        "open/image/createImage/el9-candidate",
        "open/image/image/el9-candidate",
    ]
    .into_iter()
    .map(|key| (key, 1.0))
    .collect();
    assert_eq!(
        metrics.table("koji_tasks", &["state", "channel", "method", "tag"]),
        table(&expected)
    );

    assert_eq!(
        metrics.table("koji_builder_running_tasks", &["host", "method"]),
        table(&[
            (&format!("{X86_01}/build"), 1.0),
            (&format!("{X86_01}/createrepo"), 1.0),
            (&format!("{X86_01}/newRepo"), 1.0),
            (&format!("{X86_02}/build"), 1.0),
            (&format!("{X86_02}/buildArch"), 2.0),
            (&format!("{IMAGE}/createImage"), 1.0),
            (&format!("{IMAGE}/image"), 1.0),
        ])
    );

    // The oldest task per state and channel, from the create_ts of the scenario's tasks 31,
    // 42, 37, 45, 36, 28, 43, 33 and 38.
    assert_eq!(
        metrics.table(
            "koji_tasks_oldest_create_timestamp_seconds",
            &["state", "channel"]
        ),
        table(&[
            ("free/bigmem", 1_796_394_229.356_866),
            ("free/createrepo", 1_796_398_487.357_607),
            ("free/default", 1_796_396_871.357_277),
            ("assigned/createrepo", 1_796_398_613.357_795),
            ("assigned/default", 1_796_396_869.357_215),
            ("open/bigmem", 1_796_393_567.356_655),
            ("open/createrepo", 1_796_398_607.357_666),
            ("open/default", 1_796_396_267.357_007),
            ("open/image", 1_796_397_167.357_337),
        ])
    );
}

#[tokio::test]
async fn captured_first_poll_counts_nothing() {
    let metrics = captured(VersionMode::Current).await;

    // The first start adopts the 18 active tasks: counted when they finish, never as created.
    assert!(metrics.series("koji_tasks_created_total").is_empty());
    assert!(metrics.series("koji_tasks_completed_total").is_empty());
    assert!(metrics.series("koji_task_wait_seconds_count").is_empty());
    assert!(metrics.series("koji_task_run_seconds_count").is_empty());
    assert_eq!(metrics.value("koji_tasks_tag_folded_total", &[]), 0.0);
    assert_eq!(
        metrics.value("koji_aggregator_task_ids_skipped_total", &[]),
        0.0
    );
}

#[tokio::test]
async fn captured_poll_call_counts() {
    let mut harness = Harness::shipped("captured").await;

    harness.poll().await;
    let first = harness.sim.stats();
    harness.sim.reset_stats();
    harness.poll().await;
    let second = harness.sim.stats();

    assert_eq!(
        first.method("listHosts").calls,
        1 + 9,
        "one plus one per channel"
    );
    assert_eq!(first.method("multiCall").calls, 1);
    assert_eq!(first.method("listChannels").calls, 1);
    assert_eq!(first.method("listTasks").calls, 2);
    assert_eq!(first.method("getTaskInfo").calls, 0);
    assert_eq!(first.method("getBuildTargets").calls, 1);
    // Later polls use the cached channels, targets and tags.
    assert_eq!(second.method("listHosts").calls, 1);
    assert_eq!(second.method("listTasks").calls, 2);
    assert_eq!(second.method("listTasks").rows, 1 + 18);
    assert_eq!(second.total.calls, 3, "{second:?}");
}

/// The exposition of the captured scenario after two polls on the simulator's clock, with
/// task changes between them so that every family has samples.
#[tokio::test]
async fn captured_golden_exposition() {
    let mut harness = Harness::shipped("captured").await;
    harness.poll().await;
    let sim = &harness.sim;
    let created = sim
        .create_task(new_task(
            "build",
            "default",
            json!(["git+https://src.example.com/rpms/zlib.git#0a1b", "f41", {}]),
        ))
        .unwrap();
    sim.advance(45.0).unwrap();
    move_task(sim, created, TaskState::Open, Some(X86_01));
    sim.advance(600.0).unwrap();
    move_task(sim, created, TaskState::Closed, None);
    move_task(sim, 44, TaskState::Closed, None);
    move_task(sim, 47, TaskState::Canceled, None);
    harness.poll().await;
    let text = harness.metrics().text;

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/captured.prom");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).expect("write the golden file");
    }
    let golden = std::fs::read_to_string(&path)
        .expect("tests/golden/captured.prom exists; create it with UPDATE_GOLDEN=1");
    let changed: Vec<String> = text
        .lines()
        .zip(golden.lines())
        .filter(|(served, expected)| served != expected)
        .map(|(served, expected)| format!("- {expected}\n+ {served}"))
        .collect();
    assert!(
        text == golden,
        "the exposition differs from {} ({} lines served, {} expected); rerun with \
         UPDATE_GOLDEN=1 after checking the change. First differences:\n{}",
        path.display(),
        text.lines().count(),
        golden.lines().count(),
        changed
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    if let Some(result) = koji_test_support::promtool_check_metrics(&golden) {
        result.expect("promtool check metrics reports nothing");
    }
}

#[tokio::test]
async fn small_scenario_hand_computed() {
    let mut harness = Harness::shipped("small").await;
    harness.poll().await;
    let metrics = harness.metrics();

    assert_eq!(
        metrics.table("koji_builder_info", &["host", "arches"]),
        table(&[
            ("b1.lab.example.org/x86_64", 1.0),
            ("rv1.lab.example.org/riscv64", 1.0),
            ("sb1.lab.example.org/x86_64", 1.0),
            ("spare.lab.example.org/x86_64 i686", 1.0),
        ])
    );
    let per_host = |name| metrics.table(name, &["host"]);
    assert_eq!(
        per_host("koji_builder_enabled"),
        table(&[
            ("b1.lab.example.org", 1.0),
            ("rv1.lab.example.org", 1.0),
            ("sb1.lab.example.org", 1.0),
            ("spare.lab.example.org", 0.0),
        ])
    );
    assert_eq!(
        per_host("koji_builder_ready"),
        table(&[
            ("b1.lab.example.org", 1.0),
            ("rv1.lab.example.org", 0.0),
            ("sb1.lab.example.org", 1.0),
            ("spare.lab.example.org", 0.0),
        ])
    );
    assert_eq!(
        per_host("koji_builder_capacity"),
        table(&[
            ("b1.lab.example.org", 4.0),
            ("rv1.lab.example.org", 2.0),
            ("sb1.lab.example.org", 4.0),
            ("spare.lab.example.org", 8.0),
        ])
    );
    assert_eq!(
        per_host("koji_builder_task_load"),
        table(&[
            ("b1.lab.example.org", 2.5),
            ("rv1.lab.example.org", 0.0),
            ("sb1.lab.example.org", 0.0),
            ("spare.lab.example.org", 0.0),
        ])
    );
    assert_eq!(
        per_host("koji_builder_last_update_timestamp_seconds"),
        table(&[
            ("b1.lab.example.org", SMALL_NOW - 20.0),
            ("rv1.lab.example.org", SMALL_NOW - 45.0 * 60.0),
            ("sb1.lab.example.org", SMALL_NOW - 10.0),
        ])
    );
    // spare is in no channel; secure-boot is disabled but has a member.
    assert_eq!(
        metrics.table("koji_builder_channel_info", &["host", "channel"]),
        table(&[
            ("b1.lab.example.org/default", 1.0),
            ("b1.lab.example.org/createrepo", 1.0),
            ("rv1.lab.example.org/riscv", 1.0),
            ("sb1.lab.example.org/secure-boot", 1.0),
        ])
    );

    let per_channel = |name| metrics.table(name, &["channel"]);
    let channels = ["createrepo", "default", "riscv", "secure-boot"];
    let expect = |values: [f64; 4]| {
        channels
            .iter()
            .zip(values)
            .map(|(channel, value)| (channel.to_string(), value))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        per_channel("koji_channel_builders"),
        expect([1.0, 1.0, 1.0, 1.0])
    );
    assert_eq!(
        per_channel("koji_channel_builders_enabled"),
        expect([1.0, 1.0, 1.0, 1.0])
    );
    assert_eq!(
        per_channel("koji_channel_builders_ready"),
        expect([1.0, 1.0, 0.0, 1.0])
    );
    assert_eq!(
        per_channel("koji_channel_capacity"),
        expect([4.0, 4.0, 2.0, 4.0])
    );
    assert_eq!(
        per_channel("koji_channel_task_load"),
        expect([2.5, 2.5, 0.0, 0.0])
    );
    assert_eq!(
        per_channel("koji_channel_enabled"),
        expect([1.0, 1.0, 1.0, 0.0])
    );

    // Task ids beyond 32 bits; the build names target "lab", whose destination is
    // lab-candidate, and the tagBuild names tag 41, lab-candidate.
    assert_eq!(
        metrics.table("koji_tasks", &["state", "channel", "method", "tag"]),
        table(&[
            ("open/default/build/lab-candidate", 1.0),
            ("open/default/buildArch/lab-candidate", 1.0),
            ("free/riscv/buildArch/lab-candidate", 1.0),
            ("assigned/default/tagBuild/lab-candidate", 1.0),
        ])
    );
    assert_eq!(
        metrics.table("koji_builder_running_tasks", &["host", "method"]),
        table(&[
            ("b1.lab.example.org/build", 1.0),
            ("b1.lab.example.org/buildArch", 1.0),
        ])
    );
    assert_eq!(
        metrics.table(
            "koji_tasks_oldest_create_timestamp_seconds",
            &["state", "channel"]
        ),
        table(&[
            ("open/default", SMALL_NOW - 30.0 * 60.0),
            ("free/riscv", SMALL_NOW - 25.0 * 60.0),
            ("assigned/default", SMALL_NOW - 2.0 * 60.0),
        ])
    );
    assert_eq!(
        harness.poller.state().book.highest_seen,
        Some(4_294_967_308)
    );
}

#[tokio::test]
async fn pre_133_hub_reads_last_host_update() {
    let mut harness = Harness::start(
        scenario("captured"),
        SimOptions {
            version: VersionMode::Pre133,
            ..SimOptions::default()
        },
        "",
        "",
    )
    .await;
    harness.poll().await;
    let metrics = harness.metrics();

    // Without update_ts the check-in is the host user's last session activity.
    assert_eq!(
        metrics.table("koji_builder_last_update_timestamp_seconds", &["host"]),
        table(&[
            (X86_01, 1_796_398_967.277_209),
            (X86_02, 1_796_398_967.286_5),
            (AARCH64, 1_796_398_967.295_952),
            (PPC64LE, 1_796_391_167.357_5),
            (IMAGE, 1_796_398_967.304_8),
        ])
    );
    let stats = harness.sim.stats();
    assert_eq!(stats.method("getLastHostUpdate").calls, 6);
    assert_eq!(stats.method("multiCall").calls, 2, "channels and check-ins");
}

#[tokio::test]
async fn pre_125_hub_parses_date_strings() {
    let mut harness = Harness::start(
        scenario("captured"),
        SimOptions {
            version: VersionMode::Pre125,
            ..SimOptions::default()
        },
        "",
        "",
    )
    .await;
    harness.poll().await;
    harness.poll().await;
    let metrics = harness.metrics();

    let times = metrics.table("koji_builder_last_update_timestamp_seconds", &["host"]);
    let expected = [
        (X86_01, 1_796_398_967.277_209),
        (X86_02, 1_796_398_967.286_5),
        (AARCH64, 1_796_398_967.295_952),
        (PPC64LE, 1_796_391_167.357_5),
        (IMAGE, 1_796_398_967.304_8),
    ];
    assert_eq!(times.len(), expected.len(), "{times:?}");
    for (host, expected) in expected {
        let time = times[host];
        assert!(
            (time - expected).abs() < 1e-5,
            "{host}: {time} != {expected}"
        );
    }
    // Channels of hubs before 1.26 carry no enabled flag: every channel counts as enabled.
    assert_eq!(
        metrics.value("koji_channel_enabled", &[("channel", "default")]),
        1.0
    );
    // The first poll finds that ts is rejected (6 faults, then 6 date strings); the
    // second requests date strings at once.
    let stats = harness.sim.stats();
    assert_eq!(stats.method("getLastHostUpdate").calls, 6 * 3);
    assert_eq!(stats.method("getLastHostUpdate").faults, 6);
}

#[tokio::test]
async fn channel_cache_expires() {
    let options = SimOptions::default();
    let mut harness = Harness::start(
        scenario("captured"),
        options,
        "channel_cache_secs = 300",
        "",
    )
    .await;
    harness.poll().await;

    harness.sim.reset_stats();
    harness.sim.advance(299.0).unwrap();
    harness.poll().await;
    let cached = harness.sim.stats();
    assert_eq!(cached.method("listChannels").calls, 0);
    assert_eq!(cached.method("multiCall").calls, 0);
    assert_eq!(cached.method("listHosts").calls, 1);

    harness.sim.reset_stats();
    harness.sim.advance(2.0).unwrap();
    harness.poll().await;
    let refreshed = harness.sim.stats();
    assert_eq!(refreshed.method("listChannels").calls, 1);
    assert_eq!(refreshed.method("multiCall").calls, 1);
    assert_eq!(
        refreshed.method("listHosts").calls,
        1 + 9,
        "one plus one per channel"
    );
}

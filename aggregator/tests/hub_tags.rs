//! The `tag` label: one case per row of Koji's method table, inheritance through `parent`,
//! rewrites, and the cap with `other`.

mod common;

use common::{Exposition, Harness, new_task, scenario_without_tasks, subtask};
use koji_hub_sim::SimOptions;
use serde_json::{Value, json};

fn el9_target() -> Value {
    json!({"build_tag": 2, "build_tag_name": "el9-build", "dest_tag": 3,
           "dest_tag_name": "el9-candidate", "id": 1, "name": "el9"})
}

fn f41_target() -> Value {
    json!({"build_tag": 5, "build_tag_name": "f41-build", "dest_tag": 6,
           "dest_tag_name": "f41-candidate", "id": 2, "name": "f41"})
}

/// Lists a top-level task per method of Koji's table (parameter order from
/// `LEGACY_SIGNATURES`), its request, and the tag its tree gets in the captured scenario.
/// That scenario has the targets el9 (el9-build to el9-candidate) and f41 (f41-build to
/// f41-candidate), the tag ids 2 el9-build, 3 el9-candidate, 5 f41-build and
/// 6 f41-candidate, repo 4 of el9-build, and buildroot 1 on repo 1 of el9-build.
fn method_table() -> Vec<(&'static str, Value, &'static str)> {
    let scm = "git+https://src.example.com/rpms/zlib.git#0a1b2c";
    vec![
        ("build", json!([scm, "f41", {}]), "f41-candidate"),
        (
            "buildArch",
            json!(["zlib.src.rpm", 2, "x86_64", false, {}]),
            "el9-build",
        ),
        ("buildSRPMFromSCM", json!([scm, 5, {}]), "f41-build"),
        (
            "rebuildSRPM",
            json!(["zlib.src.rpm", "el9-build", {}]),
            "el9-build",
        ),
        ("tagBuild", json!([3, 101, false, null]), "el9-candidate"),
        (
            "newRepo",
            json!([{"id": 5, "name": "f41-build"}, null, false, false, false, {}]),
            "f41-build",
        ),
        ("createrepo", json!([4, "x86_64", null]), "el9-build"),
        (
            "distRepo",
            json!(["f41-candidate", 4, [], {}]),
            "f41-candidate",
        ),
        ("waitrepo", json!(["el9-build", null, []]), "el9-build"),
        (
            "tagNotification",
            json!([["rel@example.com"], true, 6, null, 101, 1]),
            "f41-candidate",
        ),
        (
            "buildNotification",
            json!([["rel@example.com"], {"id": 101}, "el9", "https://koji.example.com/koji"]),
            "el9-candidate",
        ),
        ("maven", json!([scm, "f41", {}]), "f41-candidate"),
        (
            "chainmaven",
            json!([{"zlib": {"scmurl": scm}}, "el9", {}]),
            "el9-candidate",
        ),
        ("chainbuild", json!([[[scm]], "f41", {}]), "f41-candidate"),
        (
            "buildMaven",
            json!([scm, {"id": 2, "name": "el9-build"}, {}]),
            "el9-build",
        ),
        (
            "wrapperRPM",
            json!([scm, f41_target(), {"id": 101}, null, {}]),
            "f41-candidate",
        ),
        (
            "image",
            json!(["img", "1", ["x86_64"], "el9", "http://x/os/"]),
            "el9-candidate",
        ),
        (
            "livecd",
            json!(["live", "1", "x86_64", "f41", "live.ks", {}]),
            "f41-candidate",
        ),
        (
            "appliance",
            json!(["app", "1", "x86_64", "el9", "app.ks", {}]),
            "el9-candidate",
        ),
        (
            "livemedia",
            json!(["media", "1", ["x86_64"], "f41", "media.ks", {}]),
            "f41-candidate",
        ),
        (
            "createImage",
            json!(["img", "1", "1", "x86_64", el9_target(), {"id": 2, "name": "el9-build"},
                   {"id": 4}, "http://x/os/", {}]),
            "el9-candidate",
        ),
        (
            "createLiveCD",
            json!(["live", "1", "1", "x86_64", f41_target(), {"id": 5, "name": "f41-build"},
                   {"id": 2}, "live.ks", {}]),
            "f41-candidate",
        ),
        (
            "createAppliance",
            json!(["app", "1", "1", "x86_64", el9_target(), {"id": 2, "name": "el9-build"},
                   {"id": 4}, "app.ks", {}]),
            "el9-candidate",
        ),
        (
            "createLiveMedia",
            json!(["media", "1", "1", "x86_64", f41_target(), {"id": 5, "name": "f41-build"},
                   {"id": 2}, "media.ks", {}]),
            "f41-candidate",
        ),
        (
            "createKiwiImage",
            json!(["kiwi", "1", "1", "x86_64", el9_target(), {"id": 2, "name": "el9-build"},
                   {"id": 4}, "git+https://src.example.com/kiwi.git", "el9.kiwi", {}]),
            "el9-candidate",
        ),
        (
            "indirectionimage",
            json!([{"target": "f41", "name": "base"}]),
            "f41-candidate",
        ),
        (
            "kiwiBuild",
            json!([
                "el9",
                ["x86_64"],
                "git+https://src.example.com/kiwi.git",
                "el9.kiwi",
                {}
            ]),
            "el9-candidate",
        ),
        (
            "runroot",
            json!([
                "f41-build",
                "x86_64",
                "ls",
                false,
                [],
                [],
                null,
                false,
                null,
                null,
                false
            ]),
            "f41-build",
        ),
        ("saveFailedTree", json!([1, false]), "el9-build"),
    ]
}

fn free_tasks(metrics: &Exposition, method: &str, tag: &str) -> Option<f64> {
    metrics.get(
        "koji_tasks",
        &[
            ("state", "free"),
            ("channel", "default"),
            ("method", method),
            ("tag", tag),
        ],
    )
}

async fn empty_captured(rest: &str) -> Harness {
    let mut harness = Harness::start(
        scenario_without_tasks("captured"),
        SimOptions::default(),
        "",
        rest,
    )
    .await;
    harness.poll().await;
    harness
}

#[tokio::test]
async fn every_method_row_gets_its_tag() {
    let mut harness = empty_captured("").await;
    let table = method_table();
    for (method, request, _) in &table {
        harness
            .sim
            .create_task(new_task(method, "default", request.clone()))
            .unwrap_or_else(|error| panic!("create {method}: {error}"));
    }
    harness.poll().await;
    let metrics = harness.metrics();

    for (method, _, tag) in &table {
        assert_eq!(
            free_tasks(&metrics, method, tag),
            Some(1.0),
            "{method} -> {tag}"
        );
        let created = metrics.get(
            "koji_tasks_created_total",
            &[("channel", "default"), ("method", method), ("tag", tag)],
        );
        assert_eq!(created, Some(1.0), "{method} created with tag {tag}");
    }
    assert_eq!(metrics.series("koji_tasks").len(), table.len());
}

#[tokio::test]
async fn subtasks_take_the_tree_tag() {
    let mut harness = empty_captured("").await;
    let sim = harness.sim.clone();
    let scm = "git+https://src.example.com/rpms/zlib.git#0a1b2c";

    let build = sim
        .create_task(new_task("build", "default", json!([scm, "f41", {}])))
        .unwrap();
    harness.poll().await;
    // The subtasks name el9-build (tag id 2) in their own params, but the tree's tag is
    // f41-candidate.
    let child = sim
        .create_task(subtask(
            "buildArch",
            build,
            json!(["zlib.src.rpm", 2, "x86_64", false, {}]),
        ))
        .unwrap();
    sim.create_task(subtask("tagBuild", child, json!([3, 101, false, null])))
        .unwrap();
    let repo = sim
        .create_task(new_task("newRepo", "createrepo", json!(["el9-build"])))
        .unwrap();
    sim.create_task(subtask("createrepo", repo, json!([2, "x86_64", null])))
        .unwrap();
    sim.create_task(new_task(
        "build",
        "default",
        json!([scm, "nosuchtarget", {}]),
    ))
    .unwrap();
    sim.create_task(new_task("sleep", "default", json!([5])))
        .unwrap();
    harness.poll().await;
    let metrics = harness.metrics();

    assert_eq!(free_tasks(&metrics, "build", "f41-candidate"), Some(1.0));
    assert_eq!(
        free_tasks(&metrics, "buildArch", "f41-candidate"),
        Some(1.0)
    );
    assert_eq!(free_tasks(&metrics, "tagBuild", "f41-candidate"), Some(1.0));
    let createrepo = metrics.get(
        "koji_tasks",
        &[
            ("state", "free"),
            ("channel", "createrepo"),
            ("method", "createrepo"),
            ("tag", "el9-build"),
        ],
    );
    assert_eq!(
        createrepo,
        Some(1.0),
        "repo 2 is of f41-build, the tree of el9-build"
    );
    assert_eq!(
        free_tasks(&metrics, "build", "none"),
        Some(1.0),
        "unknown target"
    );
    assert_eq!(
        free_tasks(&metrics, "sleep", "none"),
        Some(1.0),
        "no tag param"
    );
    assert_eq!(metrics.value("koji_tasks_tag_folded_total", &[]), 0.0);
}

#[tokio::test]
async fn missing_ancestor_is_fetched() {
    let mut harness = Harness::start(
        scenario_without_tasks("captured"),
        SimOptions::default(),
        "",
        "",
    )
    .await;
    let sim = harness.sim.clone();
    let scm = "git+https://src.example.com/rpms/zlib.git#0a1b2c";

    // At the first start a subtask is active but its parent already finished, so the parent
    // is not in the active listing and is fetched for its request.
    let build = sim
        .create_task(new_task("build", "default", json!([scm, "el9", {}])))
        .unwrap();
    let child = sim
        .create_task(subtask(
            "buildArch",
            build,
            json!(["zlib.src.rpm", 5, "x86_64", false, {}]),
        ))
        .unwrap();
    common::move_task(&sim, build, koji_hub_sim::TaskState::Closed, None);
    harness.poll().await;
    assert_eq!(sim.stats().method("getTaskInfo").calls, 1);
    assert_eq!(
        free_tasks(&harness.metrics(), "buildArch", "el9-candidate"),
        Some(1.0)
    );

    // After a restart the tracked subtask still carries its tree's tag: no fetch.
    harness.restart();
    sim.create_task(subtask("sleep", child, json!([1])))
        .unwrap();
    sim.reset_stats();
    harness.poll().await;
    assert_eq!(
        free_tasks(&harness.metrics(), "sleep", "el9-candidate"),
        Some(1.0)
    );
    assert_eq!(sim.stats().method("getTaskInfo").calls, 0);
}

#[tokio::test]
async fn rewrites_then_cap_fold_to_other() {
    let rest =
        "[tags]\nmax_values = 2\n[[tags.rewrite]]\npattern = '(el\\d+)-.*'\nreplacement = '$1'\n";
    let mut harness = empty_captured(rest).await;
    let sim = harness.sim.clone();
    let scm = "git+https://src.example.com/rpms/zlib.git#0a1b2c";

    sim.create_task(new_task("build", "default", json!([scm, "f41", {}])))
        .unwrap();
    sim.create_task(new_task("build", "default", json!([scm, "el9", {}])))
        .unwrap();
    sim.create_task(new_task(
        "tagBuild",
        "default",
        json!([3, 101, false, null]),
    ))
    .unwrap();
    let repo = sim
        .create_task(new_task("newRepo", "default", json!(["f41-build"])))
        .unwrap();
    sim.create_task(subtask("createrepo", repo, json!([2, "x86_64", null])))
        .unwrap();
    sim.create_task(new_task("sleep", "default", json!([5])))
        .unwrap();
    harness.poll().await;
    let metrics = harness.metrics();

    assert_eq!(free_tasks(&metrics, "build", "f41-candidate"), Some(1.0));
    assert_eq!(free_tasks(&metrics, "build", "el9"), Some(1.0), "rewritten");
    assert_eq!(
        free_tasks(&metrics, "tagBuild", "el9"),
        Some(1.0),
        "rewritten, admitted"
    );
    assert_eq!(
        free_tasks(&metrics, "newRepo", "other"),
        Some(1.0),
        "cap reached"
    );
    assert_eq!(
        free_tasks(&metrics, "createrepo", "other"),
        Some(1.0),
        "same tree"
    );
    assert_eq!(
        free_tasks(&metrics, "sleep", "none"),
        Some(1.0),
        "none is not capped"
    );
    assert_eq!(metrics.value("koji_tasks_tag_folded_total", &[]), 2.0);

    // The admitted values survive a restart; a later tag still folds.
    harness.restart();
    sim.create_task(new_task(
        "waitrepo",
        "default",
        json!(["f41-build", null, []]),
    ))
    .unwrap();
    sim.create_task(new_task("build", "default", json!([scm, "el9", {}])))
        .unwrap();
    harness.poll().await;
    let metrics = harness.metrics();
    assert_eq!(free_tasks(&metrics, "waitrepo", "other"), Some(1.0));
    assert_eq!(free_tasks(&metrics, "build", "el9"), Some(2.0));
    assert_eq!(metrics.value("koji_tasks_tag_folded_total", &[]), 3.0);
    let admitted: Vec<&String> = harness.poller.state().tags.admitted().collect();
    assert_eq!(admitted, ["el9", "f41-candidate"]);
}

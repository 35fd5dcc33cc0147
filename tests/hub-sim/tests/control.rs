//! The control API in process, over HTTP, and against the binary in another process.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{as_int, client, ids, int, items, member, s, st, start, value};
use dxr::Value;
use koji_hub_sim::{CheckIn, EventKind, NewTask, SimError, StateChange, TaskState, TimeSpec, Val};
use serde_json::json;

#[tokio::test]
async fn host_check_in_and_enable() {
    let sim = start("captured").await;
    let now = sim.now();

    sim.check_in(
        "builder-ppc64le-01.example.com",
        CheckIn {
            task_load: Some(2.5),
            ready: Some(true),
        },
    )
    .unwrap();
    let host = value(&sim, "getHost", &[int(4)]).await;
    assert_eq!(member(&host, "update_ts"), &Value::Double(now));
    assert_eq!(member(&host, "ready"), &Value::Boolean(true));
    assert_eq!(member(&host, "task_load"), &Value::Double(2.5));
    assert_eq!(
        value(
            &sim,
            "getLastHostUpdate",
            &[int(4), common::kwargs(&[("ts", Value::Boolean(true))])]
        )
        .await,
        Value::Double(now)
    );

    sim.set_host_enabled(5, true).unwrap();
    let enabled = value(
        &sim,
        "listHosts",
        &[common::kwargs(&[("enabled", Value::Boolean(true))])],
    )
    .await;
    assert_eq!(ids(&enabled), vec![1, 2, 3, 4, 5, 6]);

    assert!(matches!(
        sim.check_in("nosuch", CheckIn::default()),
        Err(SimError::NotFound { .. })
    ));
}

#[tokio::test]
async fn task_lifecycle_in_process() {
    let sim = start("captured").await;
    let request = vec![
        Val::Str("git+https://src.example.com/rpms/zsh.git#abc".into()),
        Val::Str("f41".into()),
        Val::Struct(vec![]),
    ];

    let id = sim.create_task(NewTask::new("build", request)).unwrap();
    assert_eq!(id, 49, "ids continue the sequence");
    let active = value(
        &sim,
        "listTasks",
        &[st(&[("state", Value::Array(vec![int(0), int(1), int(4)]))])],
    )
    .await;
    assert!(ids(&active).contains(&49));
    let truth = sim.task_truth(id).unwrap();
    assert_eq!(
        (truth.channel.as_str(), truth.tag.as_deref()),
        ("default", Some("f41-candidate"))
    );

    let child = sim
        .create_task(NewTask {
            parent: Some(id),
            arch: Some("x86_64".into()),
            label: Some("x86_64".into()),
            ..NewTask::new("buildArch", vec![])
        })
        .unwrap();
    assert_eq!(
        sim.task_truth(child).unwrap().tag.as_deref(),
        Some("f41-candidate"),
        "children inherit the tree's tag"
    );

    sim.set_task_state(
        id,
        StateChange::to(TaskState::Assigned).on("builder-x86-01.example.com"),
    )
    .unwrap();
    sim.advance(5.0).unwrap();
    sim.set_task_state(id, StateChange::to(TaskState::Open))
        .unwrap();
    let opened = sim.now();
    sim.advance(60.0).unwrap();
    sim.set_task_state(
        id,
        StateChange {
            result: Some(Val::Nil),
            ..StateChange::to(TaskState::Closed)
        },
    )
    .unwrap();

    let info = value(&sim, "getTaskInfo", &[int(id)]).await;
    assert_eq!(member(&info, "state"), &int(2));
    assert_eq!(member(&info, "host_id"), &int(1));
    assert_eq!(member(&info, "start_ts"), &Value::Double(opened));
    assert_eq!(member(&info, "completion_ts"), &Value::Double(sim.now()));

    assert!(matches!(
        sim.set_task_state(id, StateChange::to(TaskState::Open)),
        Err(SimError::InvalidControl(_))
    ));
    assert!(matches!(
        sim.set_task_state(child, StateChange::to(TaskState::Open)),
        Err(SimError::InvalidControl(_))
    ));

    sim.delete_task(child).unwrap();
    assert_eq!(value(&sim, "getTaskInfo", &[int(child)]).await, Value::Nil);
    assert_eq!(sim.max_task_id(), 50);

    let kinds: Vec<(EventKind, Option<TaskState>, Option<TaskState>)> = sim
        .events_since(0)
        .iter()
        .map(|event| (event.kind, event.from, event.to))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (EventKind::Created, None, Some(TaskState::Free)),
            (EventKind::Created, None, Some(TaskState::Free)),
            (
                EventKind::StateChanged,
                Some(TaskState::Free),
                Some(TaskState::Assigned)
            ),
            (
                EventKind::StateChanged,
                Some(TaskState::Assigned),
                Some(TaskState::Open)
            ),
            (
                EventKind::StateChanged,
                Some(TaskState::Open),
                Some(TaskState::Closed)
            ),
            (EventKind::Deleted, Some(TaskState::Free), None),
        ]
    );
    let events = sim.events_since(0);
    assert!(
        events
            .windows(2)
            .all(|pair| pair[0].seq < pair[1].seq && pair[0].time <= pair[1].time)
    );
    assert!(events[4].completed);

    let truth = sim.truth();
    assert_eq!(
        truth.created.iter().map(|count| count.count).sum::<u64>(),
        2
    );
    assert_eq!(truth.completed.len(), 1);
    assert_eq!(truth.completed[0].state, Some(TaskState::Closed));
    assert_eq!(truth.completed[0].tag.as_deref(), Some("f41-candidate"));
    assert_eq!(truth.deleted, 1);
    assert_eq!(truth.highest_id, 50);
}

#[tokio::test]
async fn clock_set_and_advance() {
    let sim = start("captured").await;
    assert_eq!(sim.now(), 1_796_398_970.0);
    assert_eq!(sim.advance(30.0).unwrap(), 1_796_399_000.0);
    assert_eq!(
        sim.set_clock(TimeSpec::parse("2026-12-05 00:00:00+00:00").unwrap())
            .unwrap(),
        1_796_428_800.0
    );
    assert_eq!(
        sim.set_clock(TimeSpec::parse("now-1h").unwrap()).unwrap(),
        1_796_425_200.0
    );
    assert!(sim.advance(-1.0).is_err());
}

#[tokio::test]
async fn control_over_http() {
    let sim = start("captured").await;
    let http = client();
    let url = |path: &str| format!("{}/control/{path}", sim.base_url());

    let clock: serde_json::Value = http
        .get(url("clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["now_text"], "2026-12-04 15:42:50+00:00");
    let moved: serde_json::Value = http
        .post(url("clock"))
        .json(&json!({"advance": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["now"], 1_796_398_980.0);

    let checked = http
        .post(url("hosts/builder-s390x-01.example.com/checkin"))
        .json(&json!({"ready": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status().as_u16(), 200);
    assert_eq!(
        member(&value(&sim, "getHost", &[int(5)]).await, "update_ts"),
        &Value::Double(1_796_398_980.0)
    );
    http.post(url("hosts/5/enable")).send().await.unwrap();
    assert_eq!(
        member(&value(&sim, "getHost", &[int(5)]).await, "enabled"),
        &Value::Boolean(true)
    );

    let created: serde_json::Value = http
        .post(url("tasks"))
        .json(&json!({
            "method": "newRepo",
            "channel": "createrepo",
            "request": ["f41-build"],
            "owner": "kojira",
            "priority": 15
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let moved = http
        .post(url(&format!("tasks/{id}/state")))
        .json(&json!({"state": "open", "host": 6}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status().as_u16(), 200);
    let truth: serde_json::Value = http
        .get(url(&format!("tasks/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth["state"], "open");
    assert_eq!(truth["tag"], "f41-build");
    let failed = http
        .post(url(&format!("tasks/{id}/state")))
        .json(&json!({
            "state": "failed",
            "fault": {"faultCode": 1000, "faultString": "createrepo_c failed"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status().as_u16(), 200);
    let decoded = value(
        &sim,
        "listTasks",
        &[
            st(&[
                ("decode", Value::Boolean(true)),
                ("state", Value::Array(vec![int(5)])),
                ("method", s("newRepo")),
            ]),
            st(&[("order", s("-id"))]),
        ],
    )
    .await;
    assert_eq!(
        member(member(&items(&decoded)[0], "result"), "faultString"),
        &s("createrepo_c failed")
    );

    let events: serde_json::Value = http
        .get(url("events?since=0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events.as_array().unwrap().len(), 3);
    let later: serde_json::Value = http
        .get(url("events?since=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(later[0]["to"], "failed");
    assert_eq!(later[0]["completed"], true);
    let truth: serde_json::Value = http
        .get(url("truth"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth["completed"][0]["channel"], "createrepo");

    let deleted = http
        .delete(url(&format!("tasks/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    let missing = http
        .delete(url(&format!("tasks/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let unknown = http.get(url("nosuch")).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let invalid = http
        .post(url("tasks"))
        .body("{\"method\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status().as_u16(), 400);
    let reason: serde_json::Value = invalid.json().await.unwrap();
    assert!(
        reason["error"].as_str().unwrap().contains("not valid JSON"),
        "{reason}"
    );
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _killed = self.0.kill();
        let _waited = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_a_scenario_file() {
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/small.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_koji-hub-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--version-mode",
            "pre-1.33",
            "--scenario",
        ])
        .arg(&scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start koji-hub-sim");
    let stdout = child.stdout.take().expect("piped stdout");
    let _guard = ChildGuard(child);

    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .expect("read the first line of koji-hub-sim");
    let url = line
        .trim()
        .strip_prefix("koji-hub-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let base = url.trim_end_matches("/kojihub").to_owned();

    let response = client()
        .post(&url)
        .body(common::call_xml("getKojiVersion", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers().get("Koji-Version").unwrap(), "1.32.1");
    assert_eq!(
        common::parse_reply(&response.text().await.unwrap()),
        Ok(s("1.32.1"))
    );

    let created: serde_json::Value = client()
        .post(format!("{base}/control/tasks"))
        .json(&json!({
            "method": "tagBuild",
            "request": [41, 79, false, null],
            "owner": "carol",
            "priority": 10
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["id"], 4_294_967_309_i64);

    let body = common::call_xml(
        "listTasks",
        &[st(&[]), st(&[("order", s("-id")), ("limit", int(1))])],
    );
    let reply = client()
        .post(&url)
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let newest = common::parse_reply(&reply).unwrap();
    assert_eq!(ids(&newest), vec![4_294_967_309]);
    assert_eq!(as_int(member(&items(&newest)[0], "owner")), 7);
    let (code, _) = {
        let body = common::call_xml("host.getID", &[]);
        let reply = client()
            .post(&url)
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        common::parse_reply(&reply).unwrap_err()
    };
    assert_eq!(code, 1002);
}

#[tokio::test]
async fn clock_moves_per_call_or_with_speed() {
    let options = koji_hub_sim::SimOptions {
        advance_per_call: Some(10.0),
        ..Default::default()
    };
    let sim = common::start_with("captured", options).await;
    let start = sim.now();
    value(&sim, "getAPIVersion", &[]).await;
    value(&sim, "getAPIVersion", &[]).await;
    assert_eq!(sim.now(), start + 20.0);

    let options = koji_hub_sim::SimOptions {
        clock_speed: Some(100.0),
        ..Default::default()
    };
    let sim = common::start_with("captured", options).await;
    let start = sim.now();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let moved = sim.now() - start;
    assert!(
        (20.0..=200.0).contains(&moved),
        "clock moved {moved} s in 0.5 s at speed 100"
    );
}

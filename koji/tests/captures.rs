//! The client against replies captured from a real Koji 1.35.3 hub (`tests/wire`).
//!
//! Each test replays one capture, checks the decoded values, and checks that the request the
//! client sent has the same method and params as the captured request.

mod common;

use std::collections::BTreeMap;

use common::{Replay, capture_names, load_capture, parse_request};
use dxr::Value;
use koji::calls::{
    self, IdFilter, IdOrName, ListChannelsOptions, ListHostsOptions, QueryOpts, TaskFilter,
};
use koji::{Call, Error, FaultKind, MultiCall, TaskState, UpdateTs};

/// Asserts that the last request `replay` received equals the request of capture `name`.
fn assert_request_matches(replay: &Replay, name: &str) {
    let captured = load_capture(name).request.expect("capture has a request");
    assert_eq!(replay.last_request(), captured, "request sent for {name}");
}

fn assert_fault(error: &Error, code: i32, kind: FaultKind, message: &str) {
    match error {
        Error::Fault {
            code: got_code,
            kind: got_kind,
            message: got_message,
            ..
        } => {
            assert_eq!(*got_code, code, "{error}");
            assert_eq!(*got_kind, kind, "{error}");
            assert_eq!(got_message, message, "{error}");
        }
        other => panic!("expected fault {code}, got {other}"),
    }
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-6
}

#[tokio::test]
async fn version_probes() {
    let replay = Replay::capture("getAPIVersion").await;
    assert_eq!(
        replay
            .client()
            .call(calls::get_api_version())
            .await
            .unwrap(),
        1
    );
    assert_request_matches(&replay, "getAPIVersion");

    let replay = Replay::capture("getKojiVersion").await;
    assert_eq!(
        replay
            .client()
            .call(calls::get_koji_version())
            .await
            .unwrap(),
        "1.35.3"
    );
    assert_request_matches(&replay, "getKojiVersion");
}

#[tokio::test]
async fn list_hosts_decodes_every_host() {
    let replay = Replay::capture("listHosts").await;
    let hosts = replay
        .client()
        .call(calls::list_hosts(&ListHostsOptions::default()))
        .await
        .unwrap();
    assert_request_matches(&replay, "listHosts");

    let ids: Vec<i64> = hosts.iter().map(|host| host.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);

    let first = &hosts[0];
    assert_eq!(first.name, "builder-x86-01.example.com");
    assert_eq!(first.user_id, 5);
    assert_eq!(first.arches, ["x86_64", "i686"]);
    assert_eq!(first.capacity, 8.0);
    assert_eq!(first.task_load, 1.5);
    assert!(first.enabled);
    assert!(first.ready);
    assert_eq!(first.update_ts, UpdateTs::At(1_796_398_967.278_105));
    assert_eq!(
        first.description.as_deref(),
        Some("x86_64 builder, 32 cores / 128 GiB")
    );
    assert_eq!(first.comment, None);

    let ppc = &hosts[3];
    assert!(ppc.enabled);
    assert!(!ppc.ready, "host 4 is not ready");
    assert_eq!(ppc.update_ts, UpdateTs::At(1_796_391_167.358_518));
    assert_eq!(
        ppc.comment.as_deref(),
        Some("kojid unresponsive since the last check-in")
    );

    let s390x = &hosts[4];
    assert!(!s390x.enabled);
    assert!(!s390x.ready);
    assert_eq!(s390x.update_ts, UpdateTs::Never, "host 5 never checked in");

    assert_eq!(hosts[1].task_load, 9.0);
    assert_eq!(hosts[5].arches, ["x86_64"]);
}

#[tokio::test]
async fn list_hosts_sends_filters_as_keyword_arguments() {
    let replay = Replay::capture("listHosts-channel-enabled").await;
    let options = ListHostsOptions {
        channel: Some(IdOrName::from("createrepo")),
        enabled: Some(true),
        ..ListHostsOptions::default()
    };
    let hosts = replay
        .client()
        .call(calls::list_hosts(&options))
        .await
        .unwrap();
    assert_request_matches(&replay, "listHosts-channel-enabled");

    let names: Vec<&str> = hosts.iter().map(|host| host.name.as_str()).collect();
    assert_eq!(
        names,
        ["builder-x86-01.example.com", "image-builder-01.example.com"]
    );
}

#[tokio::test]
async fn get_host_found_missing_and_strict() {
    let replay = Replay::capture("getHost").await;
    let host = replay
        .client()
        .call(calls::get_host("builder-x86-01.example.com"))
        .await
        .unwrap();
    assert_request_matches(&replay, "getHost");
    let host = host.expect("host 1 exists");
    assert_eq!(host.id, 1);
    assert_eq!(host.update_ts, UpdateTs::At(1_796_398_967.278_105));

    let replay = Replay::capture("getHost-missing").await;
    let host = replay
        .client()
        .call(calls::get_host("no-such-host.example.com"))
        .await
        .unwrap();
    assert_request_matches(&replay, "getHost-missing");
    assert_eq!(host, None);

    let replay = Replay::capture("getHost-missing-strict").await;
    let error = replay
        .client()
        .call(calls::get_host_strict("no-such-host.example.com"))
        .await
        .unwrap_err();
    assert_request_matches(&replay, "getHost-missing-strict");
    assert_fault(
        &error,
        1000,
        FaultKind::GenericError,
        "Invalid hostInfo: no-such-host.example.com",
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn last_host_update_double_string_and_nil() {
    let replay = Replay::capture("getLastHostUpdate-ts").await;
    let seconds = replay
        .client()
        .call(calls::get_last_host_update(1, true))
        .await
        .unwrap();
    assert_request_matches(&replay, "getLastHostUpdate-ts");
    assert_eq!(seconds, Some(1_796_398_967.277_209));

    let replay = Replay::capture("getLastHostUpdate-string").await;
    let seconds = replay
        .client()
        .call(calls::get_last_host_update(1, false))
        .await
        .unwrap();
    assert_request_matches(&replay, "getLastHostUpdate-string");
    let seconds = seconds.expect("a date");
    assert!(
        close(seconds, 1_796_398_967.277_209),
        "2026-12-04 15:42:47.277209+00:00 read as {seconds}"
    );

    let replay = Replay::capture("getLastHostUpdate-never").await;
    let seconds = replay
        .client()
        .call(calls::get_last_host_update(5, true))
        .await
        .unwrap();
    assert_request_matches(&replay, "getLastHostUpdate-never");
    assert_eq!(seconds, None);
}

#[tokio::test]
async fn list_channels_all_and_of_a_host() {
    let replay = Replay::capture("listChannels").await;
    let channels = replay
        .client()
        .call(calls::list_channels(&ListChannelsOptions::default()))
        .await
        .unwrap();
    assert_request_matches(&replay, "listChannels");

    assert_eq!(channels.len(), 9);
    let appliance = channels
        .iter()
        .find(|channel| channel.name == "appliance")
        .unwrap();
    assert_eq!(appliance.id, 5);
    assert!(!appliance.enabled);
    assert_eq!(
        appliance.comment.as_deref(),
        Some("appliance builds are deprecated")
    );
    assert_eq!(appliance.description, None);
    let bigmem = channels
        .iter()
        .find(|channel| channel.name == "bigmem")
        .unwrap();
    assert_eq!(bigmem.id, 9);
    assert!(bigmem.enabled);
    assert_eq!(
        bigmem.description.as_deref(),
        Some("Hosts with >= 512 GiB RAM for very large builds")
    );
    let disabled = channels.iter().filter(|channel| !channel.enabled).count();
    assert_eq!(disabled, 1);

    let replay = Replay::capture("listChannels-host").await;
    let options = ListChannelsOptions {
        host: Some(IdOrName::Id(1)),
        enabled: None,
    };
    let channels = replay
        .client()
        .call(calls::list_channels(&options))
        .await
        .unwrap();
    assert_request_matches(&replay, "listChannels-host");
    let names: Vec<&str> = channels
        .iter()
        .map(|channel| channel.name.as_str())
        .collect();
    assert_eq!(names, ["default", "createrepo"]);
}

fn active_filter(decode: bool) -> TaskFilter {
    TaskFilter {
        state: Some(vec![TaskState::Free, TaskState::Open, TaskState::Assigned]),
        decode,
        ..TaskFilter::default()
    }
}

#[tokio::test]
async fn list_tasks_raw_and_decoded_requests_agree() {
    let replay = Replay::capture("listTasks-active").await;
    let raw = replay
        .client()
        .call(calls::list_tasks(
            &active_filter(false),
            &QueryOpts::default(),
        ))
        .await
        .unwrap();
    assert_request_matches(&replay, "listTasks-active");

    let replay = Replay::capture("listTasks-active-decode").await;
    let decoded = replay
        .client()
        .call(calls::list_tasks(
            &active_filter(true),
            &QueryOpts::default(),
        ))
        .await
        .unwrap();
    assert_request_matches(&replay, "listTasks-active-decode");

    assert_eq!(raw.len(), 18);
    assert_eq!(decoded.len(), 18);
    let count = |state| raw.iter().filter(|task| task.state == state).count();
    assert_eq!(count(TaskState::Free), 7);
    assert_eq!(count(TaskState::Open), 8);
    assert_eq!(count(TaskState::Assigned), 3);

    for (raw_task, decoded_task) in raw.iter().zip(&decoded) {
        assert_eq!(raw_task.id, decoded_task.id);
        let request = raw_task
            .request
            .as_ref()
            .expect("listTasks carries the request");
        assert!(!request.is_empty(), "task {} has params", raw_task.id);
        assert_eq!(
            raw_task.request, decoded_task.request,
            "request of task {}",
            raw_task.id
        );
    }

    let newrepo = &raw[0];
    assert_eq!(newrepo.id, 42);
    assert_eq!(newrepo.method, "newRepo");
    assert_eq!(newrepo.state, TaskState::Free);
    assert_eq!(newrepo.owner_name.as_deref(), Some("kojira"));
    assert_eq!(
        newrepo.request,
        Some(vec![Value::String("f41-build".into())])
    );
    assert_eq!(newrepo.host_id, None);
    assert_eq!(newrepo.parent, None);
    assert_eq!(newrepo.priority, 15);
    assert_eq!(newrepo.create_ts, Some(1_796_398_487.357_607));
    assert_eq!(newrepo.start_ts, None);

    let waiting = raw.iter().find(|task| task.id == 43).unwrap();
    assert_eq!(waiting.waiting, Some(true));
    assert_eq!(waiting.weight, 0.1);

    let tag_build = raw.iter().find(|task| task.id == 48).unwrap();
    assert_eq!(tag_build.state, TaskState::Assigned);
    assert_eq!(
        tag_build.request,
        Some(vec![
            Value::Integer(6),
            Value::Integer(4),
            Value::Boolean(false),
            Value::Nil
        ])
    );
}

#[tokio::test]
async fn count_tasks_returns_a_bare_int() {
    let replay = Replay::capture("listTasks-countOnly").await;
    let filter = TaskFilter {
        state: Some(vec![TaskState::Closed]),
        ..TaskFilter::default()
    };
    let count = replay
        .client()
        .call(calls::count_tasks(&filter))
        .await
        .unwrap();
    assert_request_matches(&replay, "listTasks-countOnly");
    assert_eq!(count, 21);
}

#[tokio::test]
async fn list_tasks_with_query_opts() {
    let replay = Replay::capture("listTasks-host-open").await;
    let filter = TaskFilter {
        host_id: Some(IdFilter::Id(1)),
        state: Some(vec![TaskState::Open, TaskState::Assigned]),
        ..TaskFilter::default()
    };
    let query = QueryOpts {
        order: Some("id".into()),
        ..QueryOpts::default()
    };
    let tasks = replay
        .client()
        .call(calls::list_tasks(&filter, &query))
        .await
        .unwrap();
    assert_request_matches(&replay, "listTasks-host-open");

    let ids: Vec<i64> = tasks.iter().map(|task| task.id).collect();
    assert_eq!(ids, [33, 43, 44, 48]);
    assert!(tasks.iter().all(|task| task.host_id == Some(1)));
}

#[tokio::test]
async fn task_info_list_order_and_unknown() {
    let replay = Replay::capture("getTaskInfo-list-request").await;
    let ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 30, 40, 48, 9999];
    let tasks = replay
        .client()
        .call(calls::get_task_infos(&ids, true))
        .await
        .unwrap();
    assert_request_matches(&replay, "getTaskInfo-list-request");

    assert_eq!(tasks.len(), 17);
    assert!(tasks[16].is_none(), "9999 does not exist");
    for (task, id) in tasks.iter().zip(ids).take(16) {
        let task = task.as_ref().unwrap_or_else(|| panic!("task {id} exists"));
        assert_eq!(task.id, id);
        assert!(task.request.is_some(), "task {id} carries its request");
    }

    let task = |index: usize| tasks[index].as_ref().unwrap();
    assert_eq!(task(0).method, "newRepo");
    assert_eq!(
        task(0).request,
        Some(vec![Value::String("el9-build".into())])
    );
    assert_eq!(task(1).method, "createrepo");
    assert_eq!(
        task(1).request,
        Some(vec![
            Value::Integer(1),
            Value::String("x86_64".into()),
            Value::Nil
        ])
    );
    assert_eq!(task(9).method, "build");
    let build_request = task(9).request.as_ref().unwrap();
    assert_eq!(build_request[1], Value::String("el9".into()));
    assert_eq!(build_request[2], Value::Struct(BTreeMap::new()));
    assert_eq!(task(10).method, "buildSRPMFromSCM");
    assert_eq!(task(10).parent, Some(10));
    assert_eq!(task(12).method, "newRepo");
    assert_eq!(task(12).state, TaskState::Failed);
    assert_eq!(task(14).state, TaskState::Free);
    assert_eq!(task(15).state, TaskState::Assigned);
}

#[tokio::test]
async fn get_task_info_one() {
    let replay = Replay::capture("getTaskInfo-one").await;
    let task = replay
        .client()
        .call(calls::get_task_info(2, false))
        .await
        .unwrap();
    assert_request_matches(&replay, "getTaskInfo-one");

    let task = task.expect("task 2 exists");
    assert_eq!(task.id, 2);
    assert_eq!(task.method, "createrepo");
    assert_eq!(task.state, TaskState::Closed);
    assert_eq!(task.parent, Some(1));
    assert_eq!(task.host_id, Some(6));
    assert_eq!(task.channel_id, 2);
    assert_eq!(task.label.as_deref(), Some("x86_64"));
    assert_eq!(task.arch, "noarch");
    assert_eq!(task.owner, 4);
    assert_eq!(task.priority, 14);
    assert_eq!(task.weight, 1.5);
    assert_eq!(task.waiting, None);
    assert_eq!(task.awaited, Some(false));
    assert_eq!(task.create_ts, Some(1_796_374_971.353_992));
    assert_eq!(task.start_ts, Some(1_796_375_027.353_992));
    assert_eq!(task.completion_ts, Some(1_796_375_447.353_992));
    assert_eq!(task.request, None);
}

#[tokio::test]
async fn build_targets_tag_and_repo() {
    let replay = Replay::capture("getBuildTargets").await;
    let targets = replay
        .client()
        .call(calls::get_build_targets())
        .await
        .unwrap();
    assert_request_matches(&replay, "getBuildTargets");
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0].name, "el9");
    assert_eq!(targets[0].build_tag, 2);
    assert_eq!(targets[0].build_tag_name, "el9-build");
    assert_eq!(targets[0].dest_tag, 3);
    assert_eq!(targets[0].dest_tag_name, "el9-candidate");
    assert_eq!(targets[1].id, 2);
    assert_eq!(targets[1].name, "f41");
    assert_eq!(targets[1].build_tag_name, "f41-build");
    assert_eq!(targets[1].dest_tag, 6);
    assert_eq!(targets[1].dest_tag_name, "f41-candidate");

    let replay = Replay::capture("getBuildTarget").await;
    let target = replay
        .client()
        .call(calls::get_build_target("el9"))
        .await
        .unwrap();
    assert_request_matches(&replay, "getBuildTarget");
    assert_eq!(target.as_ref(), Some(&targets[0]));

    let replay = Replay::capture("getTag").await;
    let tag = replay
        .client()
        .call(calls::get_tag("el9-build"))
        .await
        .unwrap()
        .unwrap();
    assert_request_matches(&replay, "getTag");
    assert_eq!(tag.id, 2);
    assert_eq!(tag.name, "el9-build");
    assert_eq!(tag.arches, ["x86_64", "aarch64", "ppc64le"]);
    assert!(!tag.locked);
    assert_eq!(tag.perm, None);
    assert_eq!(tag.perm_id, None);
    assert!(tag.extra.is_empty());

    let replay = Replay::capture("repoInfo").await;
    let repo = replay
        .client()
        .call(calls::repo_info(1))
        .await
        .unwrap()
        .unwrap();
    assert_request_matches(&replay, "repoInfo");
    assert_eq!(repo.id, 1);
    assert_eq!(repo.tag_id, 2);
    assert_eq!(repo.tag_name, "el9-build");
    assert_eq!(repo.state, koji::RepoState::Ready);
    assert_eq!(repo.task_id, Some(1));
    assert_eq!(repo.create_event, Some(71));
    assert!(!repo.dist);
}

#[tokio::test]
async fn multicall_mixed_results_and_faults() {
    let replay = Replay::capture("multiCall-mixed").await;
    let mut multicall = MultiCall::new();
    let host = multicall.add(calls::get_host("builder-x86-02.example.com"));
    let missing = multicall.add(calls::get_host_strict("nosuch"));
    let filter = TaskFilter {
        host_id: Some(IdFilter::Id(2)),
        state: Some(vec![TaskState::Open, TaskState::Assigned]),
        ..TaskFilter::default()
    };
    let tasks = multicall.add(calls::list_tasks(&filter, &QueryOpts::default()));
    let unknown = multicall.add(Call::raw("noSuchMethod", Vec::new()));

    let mut results = replay.client().multicall(multicall).await.unwrap();
    assert_request_matches(&replay, "multiCall-mixed");
    assert_eq!(results.len(), 4);

    let host = results.take(host).unwrap().expect("host 2 exists");
    assert_eq!(host.id, 2);
    assert_eq!(host.capacity, 16.0);
    assert_fault(
        &results.take(missing).unwrap_err(),
        1000,
        FaultKind::GenericError,
        "Invalid hostInfo: nosuch",
    );
    let tasks = results.take(tasks).unwrap();
    let ids: Vec<i64> = tasks.iter().map(|task| task.id).collect();
    assert_eq!(ids, [28, 35, 30]);
    assert_eq!(tasks[0].request.as_ref().map(Vec::len), Some(3));
    assert_fault(
        &results.take(unknown).unwrap_err(),
        1000,
        FaultKind::GenericError,
        "Invalid method: noSuchMethod",
    );
}

#[tokio::test]
async fn system_multicall_reply_has_the_same_shape() {
    let replay = Replay::capture("system.multicall").await;
    let mut multicall = MultiCall::new();
    let version = multicall.add(calls::get_api_version());
    let update = multicall.add(calls::get_last_host_update(3, true));

    let mut results = replay.client().multicall(multicall).await.unwrap();
    let (name, params) = replay.last_request();
    let (captured_name, captured_params) = load_capture("system.multicall").request.unwrap();
    assert_eq!(name, "multiCall");
    assert_eq!(captured_name, "system.multicall");
    assert_eq!(
        params, captured_params,
        "same calls as the system.multicall capture"
    );

    assert_eq!(results.take(version).unwrap(), 1);
    assert_eq!(results.take(update).unwrap(), Some(1_796_398_967.295_952));
}

#[tokio::test]
async fn faults_carry_code_kind_and_string() {
    let cases: [(&str, Call<Value>, i32, FaultKind, &str); 4] = [
        (
            "fault-unknown-method",
            Call::raw("noSuchMethod", Vec::new()),
            1000,
            FaultKind::GenericError,
            "Invalid method: noSuchMethod",
        ),
        (
            "fault-bad-arguments",
            Call::raw("getHost", Vec::new()),
            1019,
            FaultKind::ParameterError,
            "get_host() missing 1 required positional argument: 'hostInfo'",
        ),
        (
            "fault-not-logged-in",
            Call::raw("host.getHost", Vec::new()),
            1002,
            FaultKind::AuthError,
            "Not logged-in",
        ),
        (
            "fault-bad-order",
            Call::raw(
                "listTasks",
                vec![
                    Value::Struct(BTreeMap::new()),
                    koji::value::struct_value([
                        ("order", Value::String("nosuchcolumn".into())),
                        ("limit", Value::Integer(1)),
                    ]),
                ],
            ),
            1,
            FaultKind::Unexpected,
            "<class 'Exception'>: Invalid order: nosuchcolumn",
        ),
    ];

    for (name, call, code, kind, message) in cases {
        let replay = Replay::capture(name).await;
        let error = replay.client().call(call).await.unwrap_err();
        assert_request_matches(&replay, name);
        assert_fault(&error, code, kind, message);
        assert!(!error.is_retryable(), "{name}");
        let text = error.to_string();
        assert!(
            text.contains(&code.to_string()) && text.contains(kind.name()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn bad_order_through_typed_list_tasks() {
    let replay = Replay::capture("fault-bad-order").await;
    let query = QueryOpts {
        order: Some("nosuchcolumn".into()),
        limit: Some(1),
        offset: None,
    };
    let error = replay
        .client()
        .call(calls::list_tasks(&TaskFilter::default(), &query))
        .await
        .unwrap_err();
    assert_request_matches(&replay, "fault-bad-order");
    assert_eq!(error.fault_code(), Some(1));
}

#[tokio::test]
async fn echo_keeps_i8_nil_and_double() {
    let replay = Replay::capture("echo-i8").await;
    let params = vec![Value::Long(9_000_000_000), Value::Nil, Value::Double(1.5)];
    let value = replay.client().call_raw("echo", params).await.unwrap();
    assert_request_matches(&replay, "echo-i8");
    assert_eq!(
        value,
        Value::Array(vec![
            Value::Long(9_000_000_000),
            Value::Nil,
            Value::Double(1.5)
        ])
    );
    assert_eq!(
        koji::value::int_value(9_000_000_000),
        Value::Long(9_000_000_000)
    );
}

#[tokio::test]
async fn http_level_errors_name_url_status_and_excerpt() {
    let cases = [
        (
            "http-get",
            405,
            "Method Not Allowed This is an XML-RPC server. Only POST requests are accepted.",
        ),
        ("http-empty-body", 400, "Invalid request: Empty request"),
        (
            "http-malformed",
            400,
            "Invalid request: no element found: line 1, column 37",
        ),
    ];
    for (name, status, body) in cases {
        let replay = Replay::capture(name).await;
        let error = replay
            .client()
            .call(calls::get_api_version())
            .await
            .unwrap_err();
        match &error {
            Error::Http {
                url,
                status: got,
                excerpt,
                ..
            } => {
                assert_eq!(url, replay.url(), "{name}");
                assert_eq!(*got, status, "{name}");
                assert_eq!(excerpt, body, "{name}");
            }
            other => panic!("{name}: expected an HTTP error, got {other}"),
        }
        let text = error.to_string();
        assert!(
            text.contains(replay.url()) && text.contains(&status.to_string()),
            "{text}"
        );
        assert!(!error.is_retryable(), "{name}");
    }
}

/// Every capture is covered by a test in this file.
#[test]
fn every_capture_is_known() {
    let covered = [
        "echo-i8",
        "fault-bad-arguments",
        "fault-bad-order",
        "fault-not-logged-in",
        "fault-unknown-method",
        "getAPIVersion",
        "getBuildTarget",
        "getBuildTargets",
        "getHost",
        "getHost-missing",
        "getHost-missing-strict",
        "getKojiVersion",
        "getLastHostUpdate-never",
        "getLastHostUpdate-string",
        "getLastHostUpdate-ts",
        "getTag",
        "getTaskInfo-list-request",
        "getTaskInfo-one",
        "http-empty-body",
        "http-get",
        "http-malformed",
        "listChannels",
        "listChannels-host",
        "listHosts",
        "listHosts-channel-enabled",
        "listTasks-active",
        "listTasks-active-decode",
        "listTasks-countOnly",
        "listTasks-host-open",
        "multiCall-mixed",
        "repoInfo",
        "system.multicall",
    ];
    assert_eq!(capture_names(), covered);
}

#[test]
fn captured_requests_parse() {
    for name in capture_names() {
        let path = common::wire_dir().join(format!("{name}.request.xml"));
        if let Ok(xml) = std::fs::read_to_string(path) {
            let (method, _) = parse_request(&xml);
            assert!(!method.is_empty(), "{name}");
        }
    }
}

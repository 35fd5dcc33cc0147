//! The client against the Koji hub simulator: typed calls on the captured data set, injected
//! faults and broken replies, timeouts, retries, multicall batching and old-hub versions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use koji::calls::{
    self, IdFilter, IdOrName, ListChannelsOptions, ListHostsOptions, QueryOpts, TaskFilter,
};
use koji::{
    Client, ClientBuilder, Error, FaultKind, MultiCall, RetryPolicy, TagResolver, TaskState,
    UpdateTs,
};
use koji_hub_sim::{
    CheckIn, FaultAction, FaultRule, HubSim, Scenario, SimHandle, SimOptions, VersionMode,
};

async fn start_sim(version: VersionMode) -> SimHandle {
    let scenario = Scenario::shipped("captured").expect("captured scenario");
    let options = SimOptions {
        version,
        ..SimOptions::default()
    };
    HubSim::start(scenario, options)
        .await
        .expect("start the hub simulator")
}

fn client(sim: &SimHandle, retry: RetryPolicy) -> Client {
    ClientBuilder::new(sim.url())
        .retry(retry)
        .call_timeout(Duration::from_secs(10))
        .build()
        .expect("client for the simulator")
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
    }
}

fn inject(sim: &SimHandle, method: &str, action: FaultAction, times: Option<u32>) {
    sim.inject(FaultRule::new(Some(method), action, times))
        .expect("install fault rule");
}

fn active_filter() -> TaskFilter {
    TaskFilter {
        state: Some(vec![TaskState::Free, TaskState::Open, TaskState::Assigned]),
        ..TaskFilter::default()
    }
}

#[tokio::test]
async fn typed_calls_on_the_captured_data_set() {
    let sim = start_sim(VersionMode::Current).await;
    let client = client(&sim, RetryPolicy::none());

    assert_eq!(client.call(calls::get_api_version()).await.unwrap(), 1);
    assert_eq!(
        client.call(calls::get_koji_version()).await.unwrap(),
        "1.35.3"
    );

    let hosts = client
        .call(calls::list_hosts(&ListHostsOptions::default()))
        .await
        .unwrap();
    assert_eq!(hosts.len(), 6);
    assert!(!hosts[3].ready, "host 4 is not ready");
    assert_eq!(
        hosts[4].update_ts,
        UpdateTs::Never,
        "host 5 never checked in"
    );
    assert!(!hosts[4].enabled);
    assert_eq!(hosts[1].capacity, 16.0);
    assert_eq!(hosts[1].task_load, 9.0);

    let options = ListHostsOptions {
        channel: Some(IdOrName::from("createrepo")),
        enabled: Some(true),
        ..ListHostsOptions::default()
    };
    let ids: Vec<i64> = client
        .call(calls::list_hosts(&options))
        .await
        .unwrap()
        .iter()
        .map(|host| host.id)
        .collect();
    assert_eq!(ids, [1, 6]);
    let options = ListHostsOptions {
        arches: Some(vec!["aarch64".into()]),
        ..ListHostsOptions::default()
    };
    let ids: Vec<i64> = client
        .call(calls::list_hosts(&options))
        .await
        .unwrap()
        .iter()
        .map(|host| host.id)
        .collect();
    assert_eq!(ids, [3]);

    let host = client
        .call(calls::get_host(2))
        .await
        .unwrap()
        .expect("host 2");
    assert_eq!(host.name, "builder-x86-02.example.com");
    let host = client
        .call(calls::get_host("image-builder-01.example.com"))
        .await
        .unwrap();
    assert_eq!(host.map(|host| host.id), Some(6));
    assert_eq!(
        client
            .call(calls::get_host("no-such-host.example.com"))
            .await
            .unwrap(),
        None
    );
    let error = client
        .call(calls::get_host_strict("no-such-host.example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.fault_kind(), Some(FaultKind::GenericError));

    let channels = client
        .call(calls::list_channels(&ListChannelsOptions::default()))
        .await
        .unwrap();
    assert_eq!(channels.len(), 9);
    assert_eq!(
        channels.iter().filter(|channel| !channel.enabled).count(),
        1
    );
    let options = ListChannelsOptions {
        host: Some(IdOrName::Id(1)),
        enabled: None,
    };
    let names: Vec<String> = client
        .call(calls::list_channels(&options))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["default", "createrepo"]);

    let active = client
        .call(calls::list_tasks(&active_filter(), &QueryOpts::default()))
        .await
        .unwrap();
    assert_eq!(active.len(), 18);
    assert!(active.iter().all(|task| task.request.is_some()));
    let decoded = TaskFilter {
        decode: true,
        ..active_filter()
    };
    let decoded = client
        .call(calls::list_tasks(&decoded, &QueryOpts::default()))
        .await
        .unwrap();
    let requests = |tasks: &[koji::Task]| -> Vec<_> {
        tasks.iter().map(|task| task.request.clone()).collect()
    };
    assert_eq!(requests(&active), requests(&decoded));

    let closed = TaskFilter {
        state: Some(vec![TaskState::Closed]),
        ..TaskFilter::default()
    };
    assert_eq!(client.call(calls::count_tasks(&closed)).await.unwrap(), 21);
    let top_level = TaskFilter {
        parent: Some(IdFilter::Null),
        ..TaskFilter::default()
    };
    assert_eq!(
        client.call(calls::count_tasks(&top_level)).await.unwrap(),
        19
    );

    let query = QueryOpts {
        order: Some("-id".into()),
        limit: Some(3),
        offset: None,
    };
    let ids: Vec<i64> = client
        .call(calls::list_tasks(&TaskFilter::default(), &query))
        .await
        .unwrap()
        .iter()
        .map(|task| task.id)
        .collect();
    assert_eq!(ids, [48, 47, 46]);

    let tasks = client
        .call(calls::get_task_infos(&[2, 9999], true))
        .await
        .unwrap();
    assert_eq!(
        tasks[0].as_ref().map(|task| task.method.as_str()),
        Some("createrepo")
    );
    assert!(tasks[1].is_none());
    assert_eq!(
        client
            .call(calls::get_task_info(9999, false))
            .await
            .unwrap(),
        None
    );

    let targets = client.call(calls::get_build_targets()).await.unwrap();
    assert_eq!(targets.len(), 2);
    let tag = client
        .call(calls::get_tag("el9-build"))
        .await
        .unwrap()
        .expect("tag el9-build");
    assert_eq!(tag.id, 2);
    let repo = client
        .call(calls::repo_info(1))
        .await
        .unwrap()
        .expect("repo 1");
    assert_eq!(repo.tag_name, "el9-build");
    assert!(
        client
            .call(calls::get_last_host_update(1, true))
            .await
            .unwrap()
            .is_some()
    );
}

/// All 48 tasks of the captured data set, each counted under the tag of its tree's top-level
/// task.
#[tokio::test]
async fn all_tasks_by_tag() {
    let sim = start_sim(VersionMode::Current).await;
    let client = client(&sim, RetryPolicy::none());

    let ids: Vec<i64> = (1..=48).collect();
    let tasks: BTreeMap<i64, koji::Task> = client
        .call(calls::get_task_infos(&ids, true))
        .await
        .unwrap()
        .into_iter()
        .map(|task| task.expect("tasks 1 to 48 exist"))
        .map(|task| (task.id, task))
        .collect();
    assert_eq!(
        tasks.values().filter(|task| task.parent.is_none()).count(),
        19
    );

    let resolver = TagResolver::new(client.clone());
    let mut by_tag: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks.values() {
        let mut root = task;
        while let Some(parent) = root.parent {
            root = &tasks[&parent];
        }
        let params = root.request.as_deref().expect("top-level request");
        let tag = resolver
            .resolve_task(&root.method, params)
            .await
            .unwrap()
            .expect("a tag");
        *by_tag.entry(tag).or_default() += 1;
    }

    let expected = BTreeMap::from([
        ("el9-candidate".to_string(), 21),
        ("el9-build".to_string(), 9),
        ("f41-candidate".to_string(), 11),
        ("f41-build".to_string(), 7),
    ]);
    assert_eq!(by_tag, expected);
}

#[tokio::test]
async fn check_in_moves_update_ts() {
    let sim = start_sim(VersionMode::Current).await;
    let client = client(&sim, RetryPolicy::none());

    sim.check_in(
        4,
        CheckIn {
            task_load: Some(1.0),
            ready: Some(true),
        },
    )
    .expect("check in host 4");
    let host = client
        .call(calls::get_host(4))
        .await
        .unwrap()
        .expect("host 4");
    assert!(host.ready);
    assert_eq!(host.task_load, 1.0);
    let UpdateTs::At(seconds) = host.update_ts else {
        panic!(
            "host 4 has update_ts after a check-in: {:?}",
            host.update_ts
        );
    };
    assert!(
        (seconds - sim.now()).abs() < 1e-3,
        "{seconds} vs {}",
        sim.now()
    );
    assert_eq!(client.last_check_in(&host).await.unwrap(), Some(seconds));
}

#[tokio::test]
async fn every_injected_fault_code() {
    let sim = start_sim(VersionMode::Current).await;
    let client = client(&sim, RetryPolicy::none());

    let mut codes = vec![1];
    codes.extend(1000..=1024);
    codes.push(4242);
    for code in codes {
        let message = format!("injected fault {code}");
        inject(
            &sim,
            "getKojiVersion",
            FaultAction::Fault {
                code,
                string: message.clone(),
            },
            Some(1),
        );

        let error = client.call(calls::get_koji_version()).await.unwrap_err();
        let Error::Fault {
            code: got,
            kind,
            message: got_message,
            method,
        } = &error
        else {
            panic!("expected fault {code}, got {error}");
        };
        assert_eq!(*got, code);
        assert_eq!(*kind, FaultKind::from_code(code));
        assert_eq!(got_message, &message);
        assert_eq!(method, "getKojiVersion");
        if code == 4242 {
            assert_eq!(*kind, FaultKind::Unknown(4242));
        } else {
            assert_ne!(*kind, FaultKind::Unknown(code), "code {code} has a name");
        }

        assert_eq!(
            client.call(calls::get_koji_version()).await.unwrap(),
            "1.35.3",
            "rule used up"
        );
    }
}

#[tokio::test]
async fn injected_broken_replies() {
    let sim = start_sim(VersionMode::Current).await;
    let client = client(&sim, RetryPolicy::none());
    let all_hosts = || calls::list_hosts(&ListHostsOptions::default());

    for status in [500, 502, 503, 504] {
        inject(
            &sim,
            "listHosts",
            FaultAction::HttpError { status },
            Some(1),
        );
        let error = client.call(all_hosts()).await.unwrap_err();
        let Error::Http {
            status: got,
            excerpt,
            url,
            ..
        } = &error
        else {
            panic!("HTTP {status}: expected an HTTP error, got {error}");
        };
        assert_eq!(*got, status);
        assert_eq!(url, &sim.url());
        assert!(
            excerpt.chars().count() <= koji::EXCERPT_CHARS + 3,
            "{excerpt}"
        );
        assert!(!excerpt.contains('\n'));
        assert_eq!(error.is_retryable(), status != 500, "HTTP {status}");
    }

    inject(
        &sim,
        "listHosts",
        FaultAction::Truncate { keep_bytes: None },
        Some(1),
    );
    let error = client.call(all_hosts()).await.unwrap_err();
    assert!(
        matches!(error, Error::Transport { .. } | Error::Malformed { .. }),
        "{error}"
    );
    assert!(error.to_string().len() < 600, "{error}");

    inject(
        &sim,
        "listHosts",
        FaultAction::Truncate {
            keep_bytes: Some(0),
        },
        Some(1),
    );
    let error = client.call(all_hosts()).await.unwrap_err();
    assert!(
        matches!(error, Error::Transport { .. } | Error::Malformed { .. }),
        "{error}"
    );

    inject(&sim, "listHosts", FaultAction::CloseConnection, Some(1));
    let error = client.call(all_hosts()).await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error}");
    assert!(error.is_retryable());

    inject(
        &sim,
        "listHosts",
        FaultAction::Redirect { location: None },
        Some(1),
    );
    let error = client.call(all_hosts()).await.unwrap_err();
    let Error::Redirect {
        location, status, ..
    } = &error
    else {
        panic!("expected a redirect error, got {error}");
    };
    assert_eq!(*status, 302);
    assert!(location.contains("/login"), "{location}");

    assert_eq!(
        client.call(all_hosts()).await.unwrap().len(),
        6,
        "rules used up"
    );
}

#[tokio::test]
async fn injected_delay_times_out() {
    let sim = start_sim(VersionMode::Current).await;
    let client = ClientBuilder::new(sim.url())
        .call_timeout(Duration::from_millis(300))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    inject(
        &sim,
        "getAPIVersion",
        FaultAction::Delay { seconds: 3.0 },
        Some(1),
    );

    let started = Instant::now();
    let error = client.call(calls::get_api_version()).await.unwrap_err();
    let elapsed = started.elapsed();
    let Error::Timeout { method, after, .. } = &error else {
        panic!("expected a timeout, got {error}");
    };
    assert_eq!(method, "getAPIVersion");
    assert_eq!(*after, Duration::from_millis(300));
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn delay_within_timeout_succeeds() {
    let sim = start_sim(VersionMode::Current).await;
    let client = ClientBuilder::new(sim.url())
        .call_timeout(Duration::from_secs(5))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    inject(
        &sim,
        "getAPIVersion",
        FaultAction::Delay { seconds: 0.2 },
        Some(1),
    );

    let started = Instant::now();
    assert_eq!(client.call(calls::get_api_version()).await.unwrap(), 1);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn server_offline_twice_then_success() {
    let sim = start_sim(VersionMode::Current).await;
    let offline = FaultAction::Fault {
        code: 1014,
        string: "server is offline".into(),
    };
    inject(&sim, "getAPIVersion", offline, Some(2));

    let version = client(&sim, fast_retries(4))
        .call(calls::get_api_version())
        .await;
    assert_eq!(version.unwrap(), 1);
    let stats = sim.stats().method("getAPIVersion");
    assert_eq!(stats.calls, 3);
    assert_eq!(stats.faults, 2);
}

#[tokio::test]
async fn retryable_failures_then_success() {
    let sim = start_sim(VersionMode::Current).await;
    inject(
        &sim,
        "getAPIVersion",
        FaultAction::HttpError { status: 503 },
        Some(1),
    );
    inject(&sim, "getAPIVersion", FaultAction::CloseConnection, Some(1));

    let version = client(&sim, fast_retries(4))
        .call(calls::get_api_version())
        .await;
    assert_eq!(version.unwrap(), 1);
    assert_eq!(sim.stats().method("getAPIVersion").injected, 2);
}

#[tokio::test]
async fn bad_request_and_other_faults_are_not_retried() {
    let sim = start_sim(VersionMode::Current).await;
    let client = client(&sim, fast_retries(4));

    inject(
        &sim,
        "getAPIVersion",
        FaultAction::HttpError { status: 400 },
        Some(3),
    );
    let error = client.call(calls::get_api_version()).await.unwrap_err();
    assert!(matches!(error, Error::Http { status: 400, .. }), "{error}");
    assert_eq!(sim.stats().method("getAPIVersion").injected, 1);
    sim.clear_faults();

    sim.reset_stats();
    let denied = FaultAction::Fault {
        code: 1006,
        string: "User locked by another session".into(),
    };
    inject(&sim, "getAPIVersion", denied, Some(3));
    let error = client.call(calls::get_api_version()).await.unwrap_err();
    assert_eq!(error.fault_kind(), Some(FaultKind::AuthLockError));
    assert_eq!(sim.stats().method("getAPIVersion").calls, 1);
}

#[tokio::test]
async fn multicall_with_one_failing_call() {
    let sim = start_sim(VersionMode::Current).await;
    let client = client(&sim, RetryPolicy::none());
    let broken = FaultAction::Fault {
        code: 1000,
        string: "injected for getHost".into(),
    };
    inject(&sim, "getHost", broken, Some(1));

    let mut multicall = MultiCall::new();
    let version = multicall.add(calls::get_api_version());
    let host = multicall.add(calls::get_host(1));
    let missing = multicall.add(calls::get_host_strict("nosuch"));
    let tasks = multicall.add(calls::list_tasks(&active_filter(), &QueryOpts::default()));
    let mut results = client.multicall(multicall).await.unwrap();

    assert_eq!(results.take(version).unwrap(), 1);
    let error = results.take(host).unwrap_err();
    assert_eq!(error.fault_code(), Some(1000));
    assert!(
        error.to_string().contains("injected for getHost"),
        "{error}"
    );
    assert_eq!(
        results.take(missing).unwrap_err().fault_kind(),
        Some(FaultKind::GenericError)
    );
    assert_eq!(results.take(tasks).unwrap().len(), 18);
    assert_eq!(sim.stats().method("multiCall").calls, 1);
}

#[tokio::test]
async fn multicall_batches_of_100() {
    let sim = start_sim(VersionMode::Current).await;
    let client = ClientBuilder::new(sim.url())
        .multicall_batch(100)
        .build()
        .unwrap();

    let calls: Vec<_> = (0..250)
        .map(|index| calls::get_task_info(index % 60 + 1, false))
        .collect();
    let results = client.multicall_all(calls).await.unwrap();
    assert_eq!(results.len(), 250);
    for (index, result) in results.iter().enumerate() {
        let id = index as i64 % 60 + 1;
        let task = result
            .as_ref()
            .unwrap_or_else(|error| panic!("call {index}: {error}"));
        assert_eq!(
            task.as_ref().map(|task| task.id),
            (id <= 48).then_some(id),
            "call {index}"
        );
    }

    let stats = sim.stats();
    assert_eq!(stats.method("multiCall").calls, 3);
    assert_eq!(stats.method("getTaskInfo").calls, 250);

    let mut multicall = MultiCall::new().batch_size(30);
    for _ in 0..61 {
        multicall.add(calls::get_api_version());
    }
    sim.reset_stats();
    let results = client.multicall(multicall).await.unwrap();
    assert_eq!(results.len(), 61);
    assert_eq!(sim.stats().method("multiCall").calls, 3);
}

#[tokio::test]
async fn multicall_batch_failure_fails_the_run() {
    let sim = start_sim(VersionMode::Current).await;
    let client = ClientBuilder::new(sim.url())
        .multicall_batch(2)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    inject(
        &sim,
        "multiCall",
        FaultAction::HttpError { status: 502 },
        Some(1),
    );

    let calls = (0..3).map(|_| calls::get_api_version()).collect();
    let error = client.multicall_all(calls).await.unwrap_err();
    assert!(matches!(error, Error::Http { status: 502, .. }), "{error}");
}

#[tokio::test]
async fn pre_1_33_hub_ts_fallback() {
    let sim = start_sim(VersionMode::Pre133).await;
    let client = client(&sim, RetryPolicy::none());
    assert_eq!(
        client.call(calls::get_koji_version()).await.unwrap(),
        "1.32.1"
    );

    let host = client
        .call(calls::get_host(1))
        .await
        .unwrap()
        .expect("host 1");
    assert_eq!(host.update_ts, UpdateTs::Absent);
    sim.reset_stats();

    let expected = client
        .call(calls::get_last_host_update(1, true))
        .await
        .unwrap();
    let seconds = client.last_check_in(&host).await.unwrap();
    assert!(seconds.is_some());
    assert_eq!(seconds, expected);
    let stats = sim.stats().method("getLastHostUpdate");
    assert_eq!(stats.calls, 2);
    assert_eq!(stats.faults, 0);
}

#[tokio::test]
async fn pre_1_25_hub_date_string() {
    let sim = start_sim(VersionMode::Pre125).await;
    let client = client(&sim, RetryPolicy::none());

    let error = client
        .call(calls::get_last_host_update(1, true))
        .await
        .unwrap_err();
    assert_eq!(error.fault_kind(), Some(FaultKind::ParameterError));
    let from_string = client
        .call(calls::get_last_host_update(1, false))
        .await
        .unwrap();

    let hosts = client
        .call(calls::list_hosts(&ListHostsOptions::default()))
        .await
        .unwrap();
    assert!(hosts.iter().all(|host| host.update_ts == UpdateTs::Absent));
    sim.reset_stats();

    let seconds = client.last_check_in(&hosts[0]).await.unwrap();
    assert!(seconds.is_some());
    assert_eq!(seconds, from_string);
    let stats = sim.stats().method("getLastHostUpdate");
    assert_eq!(stats.calls, 2, "ts rejected, then the date string");
    assert_eq!(stats.faults, 1);

    let channels = client
        .call(calls::list_channels(&ListChannelsOptions::default()))
        .await
        .unwrap();
    assert_eq!(channels.len(), 9);
    assert!(
        channels.iter().all(|channel| channel.enabled),
        "no enabled field before 1.26"
    );
}

//! Load mode: tasks flow through their lifecycle, and the event log, the task table and the
//! XML-RPC replies agree.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{as_int, ids, int, items, member, s, st, value};
use dxr::Value;
use koji_hub_sim::{EventKind, HubSim, LoadConfig, Scenario, SimHandle, SimOptions, TaskState};

/// Returns the demo hub without its tasks, so generated ids start at 1.
fn empty_demo() -> Scenario {
    let mut scenario = Scenario::shipped("demo").unwrap();
    scenario.tasks.clear();
    scenario.clock.now = Some(koji_hub_sim::ClockStart::At(koji_hub_sim::Micros(
        1_796_342_400_000_000,
    )));
    scenario
}

async fn start_load(scenario: Scenario, config: LoadConfig) -> SimHandle {
    let options = SimOptions {
        load: Some(config),
        ..SimOptions::default()
    };
    HubSim::start(scenario, options).await.unwrap()
}

fn config(prefill_rows: u64, seed: u64) -> LoadConfig {
    LoadConfig {
        tasks_per_day: 20_000.0,
        prefill_rows,
        seed,
        generated_hosts: 30,
        ..LoadConfig::default()
    }
}

fn rank(state: TaskState) -> u8 {
    match state {
        TaskState::Free => 0,
        TaskState::Assigned => 1,
        TaskState::Open => 2,
        TaskState::Closed | TaskState::Failed | TaskState::Canceled => 3,
    }
}

#[tokio::test]
async fn prefill_makes_dense_history() {
    let sim = start_load(empty_demo(), config(2_000, 1)).await;

    let count = sim.task_count();
    assert!(
        (1_700..=2_300).contains(&count),
        "prefill made {count} rows"
    );
    assert_eq!(sim.max_task_id(), count as i64, "ids are dense from 1");
    let highest = value(
        &sim,
        "listTasks",
        &[st(&[]), st(&[("order", s("-id")), ("limit", int(1))])],
    )
    .await;
    assert_eq!(ids(&highest), vec![count as i64]);
    assert!(
        sim.events_since(0).is_empty(),
        "history is not part of the event log"
    );

    let counts = state_counts(&sim).await;
    let finished: i64 = [TaskState::Closed, TaskState::Failed, TaskState::Canceled]
        .iter()
        .map(|state| counts[state])
        .sum();
    let finished = finished as usize;
    assert!(
        finished * 10 > count * 8,
        "{finished} of {count} rows finished"
    );
    assert!(
        !sim.active_task_ids().is_empty(),
        "the clock's now falls in the middle of running trees"
    );

    let created: Vec<f64> =
        items(&value(&sim, "listTasks", &[st(&[]), st(&[("order", s("id"))])]).await)
            .iter()
            .map(|task| match member(task, "create_ts") {
                Value::Double(ts) => *ts,
                other => panic!("create_ts {other:?}"),
            })
            .collect();
    assert!(
        created.windows(2).all(|pair| pair[0] <= pair[1]),
        "ids follow creation time"
    );
}

async fn active_states(sim: &SimHandle) -> HashMap<i64, TaskState> {
    let active = value(
        sim,
        "listTasks",
        &[st(&[("state", Value::Array(vec![int(0), int(1), int(4)]))])],
    )
    .await;
    items(&active)
        .iter()
        .map(|task| {
            (
                as_int(member(task, "id")),
                TaskState::from_code(as_int(member(task, "state"))).unwrap(),
            )
        })
        .collect()
}

async fn state_counts(sim: &SimHandle) -> BTreeMap<TaskState, i64> {
    let mut counts = BTreeMap::new();
    for state in TaskState::ALL {
        let opts = st(&[("state", Value::Array(vec![int(state.code())]))]);
        let count = value(
            sim,
            "listTasks",
            &[opts, st(&[("countOnly", Value::Boolean(true))])],
        )
        .await;
        counts.insert(state, as_int(&count));
    }
    counts
}

#[tokio::test]
async fn lifecycle_invariants_over_a_day() {
    let sim = start_load(empty_demo(), config(2_000, 7)).await;
    // Finished tasks never change, so the tasks active at start are the only rows the log
    // can change besides the ones it creates.
    let mut replayed = active_states(&sim).await;
    let mut counts = state_counts(&sim).await;
    let mut highest = sim.max_task_id();
    let mut seen_methods = BTreeSet::new();

    for _ in 0..12 {
        sim.advance(7_200.0).unwrap();

        let newest = value(
            &sim,
            "listTasks",
            &[st(&[]), st(&[("order", s("-id")), ("limit", int(1))])],
        )
        .await;
        let newest = ids(&newest)[0];
        assert!(
            newest >= highest,
            "highest id went from {highest} to {newest}"
        );
        assert_eq!(newest, sim.max_task_id());
        highest = newest;

        let active = value(
            &sim,
            "listTasks",
            &[st(&[("state", Value::Array(vec![int(0), int(1), int(4)]))])],
        )
        .await;
        let mut listed = ids(&active);
        listed.sort();
        assert_eq!(
            listed,
            sim.active_task_ids(),
            "active listing matches the active set"
        );
        for task in items(&active) {
            if let Value::String(method) = member(task, "method") {
                seen_methods.insert(method.clone());
            }
        }
        check_host_load(&sim).await;
    }

    // Replay the log: states only move forward, and the counts per state end where the
    // table has them.
    let events = sim.events_since(0);
    assert!(
        events
            .windows(2)
            .all(|pair| pair[0].seq + 1 == pair[1].seq && pair[0].time <= pair[1].time)
    );
    for event in &events {
        match event.kind {
            EventKind::Created => {
                assert!(
                    !replayed.contains_key(&event.task_id),
                    "task {} created twice",
                    event.task_id
                );
                let to = event.to.unwrap();
                replayed.insert(event.task_id, to);
                *counts.entry(to).or_default() += 1;
            }
            EventKind::StateChanged => {
                let (from, to) = (event.from.unwrap(), event.to.unwrap());
                assert_eq!(
                    replayed.get(&event.task_id),
                    Some(&from),
                    "event {} starts where the task was",
                    event.seq
                );
                assert!(
                    rank(to) > rank(from),
                    "task {} moved back from {from} to {to}",
                    event.task_id
                );
                assert_eq!(event.completed, to.is_terminal());
                replayed.insert(event.task_id, to);
                *counts.entry(from).or_default() -= 1;
                *counts.entry(to).or_default() += 1;
            }
            EventKind::Deleted => {
                if let Some(state) = replayed.remove(&event.task_id) {
                    *counts.entry(state).or_default() -= 1;
                }
            }
        }
    }
    assert_eq!(state_counts(&sim).await, counts);
    let replayed_active: BTreeSet<i64> = replayed
        .iter()
        .filter(|(_, state)| state.is_active())
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(replayed_active, sim.active_task_ids().into_iter().collect());

    // The totals count exactly the logged creations and completions.
    let truth = sim.truth();
    let created_events = events
        .iter()
        .filter(|event| event.kind == EventKind::Created)
        .count() as u64;
    assert_eq!(
        truth.created.iter().map(|count| count.count).sum::<u64>(),
        created_events
    );
    let mut completed: BTreeMap<(TaskState, String, String, Option<String>), u64> = BTreeMap::new();
    for event in events.iter().filter(|event| event.completed) {
        let key = (
            event.to.unwrap(),
            event.channel.clone(),
            event.method.clone(),
            event.tag.clone(),
        );
        *completed.entry(key).or_default() += 1;
    }
    let totals: BTreeMap<_, _> = truth
        .completed
        .iter()
        .map(|count| {
            (
                (
                    count.state.unwrap(),
                    count.channel.clone(),
                    count.method.clone(),
                    count.tag.clone(),
                ),
                count.count,
            )
        })
        .collect();
    assert_eq!(totals, completed);
    let active_total: u64 = truth.active.iter().map(|count| count.count).sum();
    assert_eq!(active_total as usize, sim.active_task_ids().len());

    let daily = created_events as f64;
    assert!(
        (12_000.0..=30_000.0).contains(&daily),
        "{daily} tasks in a day at 20,000 a day"
    );
    for method in [
        "build",
        "buildSRPMFromSCM",
        "buildArch",
        "tagBuild",
        "newRepo",
        "createrepo",
    ] {
        assert!(
            seen_methods.contains(method),
            "{method} never seen active: {seen_methods:?}"
        );
    }
    let states: BTreeSet<TaskState> = events.iter().filter_map(|event| event.to).collect();
    assert_eq!(states.len(), 6, "every state occurs: {states:?}");
    assert!(
        events.iter().all(|event| event.tag.is_some()),
        "every generated tree has a tag"
    );
}

/// Returns a live host reports the summed weight of its open tasks that are not waiting.
async fn check_host_load(sim: &SimHandle) {
    let open = value(
        sim,
        "listTasks",
        &[st(&[("state", Value::Array(vec![int(1)]))])],
    )
    .await;
    let mut load: HashMap<i64, f64> = HashMap::new();
    for task in items(&open) {
        if member(task, "waiting") != &Value::Boolean(true)
            && let (Value::Double(weight), host) = (member(task, "weight"), member(task, "host_id"))
        {
            *load.entry(as_int(host)).or_default() += weight;
        }
    }
    for host in items(&value(sim, "listHosts", &[]).await) {
        let name = member(host, "name");
        if !matches!(name, Value::String(name) if name.starts_with("load-builder-")) {
            continue;
        }
        let id = as_int(member(host, "id"));
        let Value::Double(reported) = member(host, "task_load") else {
            panic!("task_load")
        };
        let expected = load.get(&id).copied().unwrap_or(0.0);
        assert!(
            (reported - expected).abs() < 1e-9,
            "host {id} reports {reported}, open tasks weigh {expected}"
        );
    }
}

#[tokio::test]
async fn parents_finish_after_their_children() {
    let sim = start_load(empty_demo(), config(0, 3)).await;
    sim.advance(6.0 * 3600.0).unwrap();

    let decoded = value(
        &sim,
        "listTasks",
        &[st(&[("state", Value::Array(vec![int(2)]))])],
    )
    .await;
    let by_id: HashMap<i64, &Value> = items(&decoded)
        .iter()
        .map(|task| (as_int(member(task, "id")), task))
        .collect();
    let mut checked = 0;
    for task in by_id.values() {
        if let Value::Integer(parent) = member(task, "parent")
            && let Some(parent) = by_id.get(&i64::from(*parent))
        {
            let child_done = member(task, "completion_ts");
            let parent_done = member(parent, "completion_ts");
            match (child_done, parent_done) {
                (Value::Double(child), Value::Double(parent)) => assert!(child <= parent),
                other => panic!("completion times {other:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} closed children checked");
}

#[tokio::test]
async fn same_seed_same_run() {
    let first = start_load(empty_demo(), config(500, 11)).await;
    let second = start_load(empty_demo(), config(500, 11)).await;
    first.advance(7_200.0).unwrap();
    second.advance(7_200.0).unwrap();
    assert_eq!(first.events_since(0), second.events_since(0));
    assert!(!first.events_since(0).is_empty());

    let other = start_load(empty_demo(), config(500, 12)).await;
    other.advance(7_200.0).unwrap();
    assert_ne!(first.events_since(0), other.events_since(0));
}

#[tokio::test]
async fn scenario_tasks_are_taken_over() {
    let scenario = Scenario::shipped("captured").unwrap();
    let sim = start_load(
        scenario,
        LoadConfig {
            tasks_per_day: 0.0,
            ..LoadConfig::default()
        },
    )
    .await;
    assert_eq!(sim.active_task_ids().len(), 18);

    sim.advance(6.0 * 3600.0).unwrap();
    // Every captured task a live builder can run finishes, and so do the parents waiting on
    // them. Task 31 (aarch64 in bigmem, whose only member is x86_64) and task 37 (ppc64le,
    // whose only builder stopped checking in) stay FREE, and their parents 28 and 33 wait.
    assert_eq!(sim.active_task_ids(), vec![28, 31, 33, 37]);
    let truth = sim.truth();
    assert_eq!(
        truth.completed.iter().map(|count| count.count).sum::<u64>(),
        14
    );
    assert!(truth.created.is_empty());
    let stuck = value(&sim, "getTaskInfo", &[Value::Array(vec![int(31), int(37)])]).await;
    for task in items(&stuck) {
        assert_eq!(member(task, "state"), &int(0));
    }
}

/// Returns the million-row table of the benchmarks; run with `--release -- --ignored`.
#[tokio::test]
#[ignore = "builds a million-row task table; run in release"]
async fn million_rows_prefill() {
    let started = std::time::Instant::now();
    let config = LoadConfig {
        tasks_per_day: 50_000.0,
        prefill_rows: 1_000_000,
        seed: 5,
        generated_hosts: 120,
        ..LoadConfig::default()
    };
    let sim = start_load(empty_demo(), config).await;
    let prefill = started.elapsed();
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| {
            line.strip_prefix("VmRSS:")
                .map(|value| value.trim().trim_end_matches(" kB").parse::<u64>().unwrap())
        })
        .unwrap();
    let rows = sim.task_count();
    println!(
        "prefill: {rows} rows in {prefill:?}, RSS {} MiB, active {}",
        rss_kib / 1024,
        sim.active_task_ids().len()
    );
    assert!(rows > 900_000, "{rows} rows");
    assert!(rss_kib < 600 * 1024, "RSS {} MiB", rss_kib / 1024);

    let started = std::time::Instant::now();
    let newest = value(
        &sim,
        "listTasks",
        &[st(&[]), st(&[("order", s("-id")), ("limit", int(1))])],
    )
    .await;
    let highest_lookup = started.elapsed();
    assert_eq!(ids(&newest), vec![sim.max_task_id()]);
    let started = std::time::Instant::now();
    let active = value(
        &sim,
        "listTasks",
        &[st(&[("state", Value::Array(vec![int(0), int(1), int(4)]))])],
    )
    .await;
    let active_listing = started.elapsed();
    let started = std::time::Instant::now();
    let window = value(
        &sim,
        "listTasks",
        &[
            st(&[("createdAfter", Value::Double(sim.now() - 3_600.0))]),
            st(&[("countOnly", Value::Boolean(true))]),
        ],
    )
    .await;
    let window_scan = started.elapsed();
    println!(
        "highest id {highest_lookup:?}, active listing ({} rows) {active_listing:?}, \
         createdAfter scan ({window:?}) {window_scan:?}",
        items(&active).len()
    );
    assert!(highest_lookup.as_millis() < 50);
    assert!(active_listing.as_millis() < 500);
}

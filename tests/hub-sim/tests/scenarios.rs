//! Scenario files: the shipped ones load, and mistakes are reported with the value at fault.

mod common;

use koji_hub_sim::{HubSim, Scenario, SimError, SimOptions};

#[tokio::test]
async fn shipped_scenarios_load() {
    for name in ["captured", "small", "demo"] {
        let scenario = Scenario::shipped(name).unwrap_or_else(|error| panic!("{name}: {error}"));
        let sim = HubSim::start(scenario, SimOptions::default())
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert!(sim.task_count() > 0, "{name} has tasks");
    }
}

async fn start_error(json: &str) -> String {
    let scenario = match Scenario::from_json(json) {
        Ok(scenario) => scenario,
        Err(error) => return error.to_string(),
    };
    match HubSim::start(scenario, SimOptions::default()).await {
        Ok(_) => panic!("scenario was accepted: {json}"),
        Err(SimError::InvalidScenario(message)) => message,
        Err(other) => other.to_string(),
    }
}

#[tokio::test]
async fn mistakes_name_the_value() {
    let channel = r#""channels": [{"id": 1, "name": "default"}]"#;
    let task = |fields: &str| {
        format!(
            r#"{{{channel}, "tasks": [{{"id": 1, "method": "build", "channel": "default",
                "create_ts": "now"{fields}}}]}}"#
        )
    };
    let cases = [
        (
            task(r#", "state": "open""#),
            "task 1 is open but has no \"host\"",
        ),
        (
            task(r#", "state": "free", "parent": 7"#),
            "task 1 has parent 7, which the scenario does not list",
        ),
        (
            task(r#", "state": "free", "owner": "nobody""#),
            "names owner \"nobody\"",
        ),
        (task(r#", "state": "done""#), "invalid task state \"done\""),
        (
            format!(
                r#"{{{channel}, "tasks": [{{"id": 1, "state": 0, "method": "build",
                    "channel": "default", "create_ts": "yesterday"}}]}}"#
            ),
            "invalid time \"yesterday\"",
        ),
        (
            task(r#", "state": 0, "colour": "red""#),
            "unknown field `colour`",
        ),
        (
            r#"{"tasks": [{"id": 1, "state": 0, "method": "build", "channel": "nosuch",
                "create_ts": 0}]}"#
                .to_owned(),
            "task 1 names channel \"nosuch\", which the scenario does not list",
        ),
        (
            format!(
                r#"{{{channel}, "hosts": [{{"id": 1, "name": "a", "channels": ["nosuch"]}}]}}"#
            ),
            "host a is in channel \"nosuch\"",
        ),
        (
            format!(
                r#"{{{channel}, "hosts": [{{"id": 1, "name": "a"}}, {{"id": 1, "name": "b"}}]}}"#
            ),
            "host id 1 appears twice",
        ),
        (
            r#"{"hosts": [{"id": 1, "name": "a", "update_ts": "now-5x"}]}"#.to_owned(),
            "invalid relative time \"now-5x\"",
        ),
        (
            r#"{"clock": {"now": "now-1h"}}"#.to_owned(),
            "clock.now \"now-1h\" is relative",
        ),
    ];
    for (json, expected) in cases {
        let message = start_error(&json).await;
        assert!(
            message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
    }
}

#[test]
fn missing_file_names_the_path() {
    let error =
        Scenario::from_file(std::path::Path::new("/nonexistent/scenario.json")).unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/scenario.json"),
        "{error}"
    );
}

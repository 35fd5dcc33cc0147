//! The simulator replies to every captured request as the real hub did.

mod common;

use std::fs;

use common::{client, parse_reply, post_raw, start, wire_dir};

/// Captures whose reply the simulator reproduces byte for byte. The others differ only in
/// the order of members of nested structs, which the hub keeps in Python insertion order.
const BYTE_IDENTICAL: &[&str] = &[
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
    "listChannels",
    "listChannels-host",
    "listHosts",
    "listHosts-channel-enabled",
    "listTasks-active",
    "listTasks-countOnly",
    "listTasks-host-open",
    "system.multicall",
    "getTaskInfo-one",
    "multiCall-mixed",
];

#[tokio::test]
async fn every_capture_gets_the_captured_value() {
    let sim = start("captured").await;
    let mut names: Vec<String> = fs::read_dir(wire_dir())
        .expect("list captures")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".request.xml").map(str::to_owned))
        .collect();
    names.sort();
    assert_eq!(names.len(), 29, "captured requests: {names:?}");

    for name in &names {
        let request = fs::read_to_string(wire_dir().join(format!("{name}.request.xml"))).unwrap();
        let expected = fs::read_to_string(wire_dir().join(format!("{name}.response.xml"))).unwrap();
        let (status, version, body) = post_raw(&sim, request).await;

        assert_eq!(status, 200, "{name}: HTTP status");
        assert_eq!(
            version.as_deref(),
            Some("1.35.3"),
            "{name}: Koji-Version header"
        );
        assert_eq!(
            parse_reply(&body),
            parse_reply(&expected),
            "{name}: reply value"
        );
        if BYTE_IDENTICAL.contains(&name.as_str()) {
            assert_eq!(body, expected, "{name}: reply bytes");
        }
    }
}

fn captured_body(name: &str) -> String {
    fs::read_to_string(wire_dir().join(format!("{name}.response"))).unwrap()
}

fn captured_status(name: &str) -> u16 {
    let headers = fs::read_to_string(wire_dir().join(format!("{name}.headers"))).unwrap();
    let status_line = headers.lines().next().unwrap_or_default();
    status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn http_level_errors_match_captures() {
    let sim = start("captured").await;

    let response = client().get(sim.url()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), captured_status("http-get"));
    assert_eq!(response.headers().get("Allow").unwrap(), "POST");
    assert_eq!(response.headers().get("Koji-Version").unwrap(), "1.35.3");
    assert_eq!(response.text().await.unwrap(), captured_body("http-get"));

    let (status, version, body) = post_raw(&sim, "").await;
    assert_eq!(status, captured_status("http-empty-body"));
    assert_eq!(version.as_deref(), Some("1.35.3"));
    assert_eq!(body, captured_body("http-empty-body"));

    // A body cut after 37 characters, which expat reports at its end.
    let (status, version, body) = post_raw(&sim, "<methodCall><methodName>getAPIVersion").await;
    assert_eq!(status, captured_status("http-malformed"));
    assert_eq!(version.as_deref(), Some("1.35.3"));
    assert_eq!(body, captured_body("http-malformed"));
}

#[test]
fn captured_raw_requests_reproduced_from_scenario_values() {
    // listTasks without decode returns each request as the XML text the hub stored. The
    // scenario lists requests as values; the marshaller must rebuild that exact text.
    let expected = fs::read_to_string(wire_dir().join("listTasks-active.response.xml")).unwrap();
    let tasks = parse_reply(&expected).unwrap();
    let dxr::Value::Array(tasks) = tasks else {
        panic!("not a list")
    };
    let scenario = koji_hub_sim::Scenario::shipped("captured").unwrap();
    assert_eq!(tasks.len(), 18);
    for task in &tasks {
        let dxr::Value::Struct(members) = task else {
            panic!("not a struct")
        };
        let id = common::as_int(&members["id"]);
        let dxr::Value::String(raw) = &members["request"] else {
            panic!("request is not text")
        };
        let spec = scenario.tasks.iter().find(|spec| spec.id == id).unwrap();
        let params = spec.request.clone().unwrap_or_default();
        let rebuilt = koji_hub_sim::xmlrpc::marshal::method_call(&spec.method, &params);
        assert_eq!(&rebuilt, raw, "task {id} request text");
    }
}

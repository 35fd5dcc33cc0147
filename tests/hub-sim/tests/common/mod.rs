//! Helpers shared by the simulator's integration tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use dxr::{FaultResponse, MethodResponse, Value};
use koji_hub_sim::{HubSim, Scenario, SimHandle, SimOptions};

/// Returns the directory of captured hub traffic.
pub fn wire_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wire")
}

/// Returns a reqwest client builder for plain HTTP on loopback. reqwest is built without a default
/// rustls provider, so the ring provider is installed first.
pub fn client_builder() -> reqwest::ClientBuilder {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another test thread may install it first; either way one is installed afterwards.
        let _installed = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder().timeout(Duration::from_secs(30))
}

/// Returns a reqwest client for plain HTTP on loopback.
pub fn client() -> reqwest::Client {
    client_builder().build().expect("build reqwest client")
}

/// Starts a shipped scenario with default options.
pub async fn start(name: &str) -> SimHandle {
    start_with(name, SimOptions::default()).await
}

/// Starts a shipped scenario with `options`.
pub async fn start_with(name: &str, options: SimOptions) -> SimHandle {
    let scenario = Scenario::shipped(name).expect("load shipped scenario");
    HubSim::start(scenario, options)
        .await
        .expect("start simulator")
}

/// Returns a parsed XML-RPC reply: the value, or the fault code and string.
pub fn parse_reply(body: &str) -> Result<Value, (i32, String)> {
    if let Ok(response) = MethodResponse::from_xml(body) {
        return Ok(response.value);
    }
    match FaultResponse::from_xml(body) {
        Ok(fault) => Err((fault.fault.code(), fault.fault.string().to_owned())),
        Err(error) => panic!("not an XML-RPC reply ({error}): {body}"),
    }
}

/// Posts a raw body to the XML-RPC endpoint and returns status, Koji-Version and body.
pub async fn post_raw(
    sim: &SimHandle,
    body: impl Into<reqwest::Body>,
) -> (u16, Option<String>, String) {
    let response = client()
        .post(sim.url())
        .body(body)
        .send()
        .await
        .expect("send request");
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get("Koji-Version")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let text = response.text().await.expect("read body");
    (status, version, text)
}

/// Builds a methodCall body the way a Python client writes it.
pub fn call_xml(method: &str, params: &[Value]) -> String {
    let mut body =
        format!("<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>");
    for param in params {
        body.push_str("<param>");
        body.push_str(&param.to_xml().expect("serialize param"));
        body.push_str("</param>");
    }
    body.push_str("</params></methodCall>");
    body
}

/// Calls `method(params...)` and returns the parsed reply.
pub async fn call(sim: &SimHandle, method: &str, params: &[Value]) -> Result<Value, (i32, String)> {
    let (status, _, body) = post_raw(sim, call_xml(method, params)).await;
    assert_eq!(status, 200, "HTTP status of {method}: {body}");
    parse_reply(&body)
}

/// Calls `method` and expects a value.
pub async fn value(sim: &SimHandle, method: &str, params: &[Value]) -> Value {
    match call(sim, method, params).await {
        Ok(value) => value,
        Err((code, string)) => panic!("{method} raised fault {code}: {string}"),
    }
}

/// Calls `method` and expects a fault.
pub async fn fault(sim: &SimHandle, method: &str, params: &[Value]) -> (i32, String) {
    match call(sim, method, params).await {
        Ok(value) => panic!("{method} returned {value:?}, expected a fault"),
        Err(fault) => fault,
    }
}

/// Returns a struct value from name/value pairs.
pub fn st(members: &[(&str, Value)]) -> Value {
    Value::Struct(
        members
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    )
}

/// Returns a keyword-argument struct (`__starstar` set).
pub fn kwargs(members: &[(&str, Value)]) -> Value {
    let mut value = st(members);
    if let Value::Struct(map) = &mut value {
        map.insert("__starstar".to_owned(), Value::Boolean(true));
    }
    value
}

/// Returns an int value.
pub fn int(number: i64) -> Value {
    match i32::try_from(number) {
        Ok(small) => Value::Integer(small),
        Err(_) => Value::Long(number),
    }
}

/// Returns a string value.
pub fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// Returns the member `name` of a struct value.
pub fn member<'a>(value: &'a Value, name: &str) -> &'a Value {
    match value {
        Value::Struct(members) => members
            .get(name)
            .unwrap_or_else(|| panic!("no member {name} in {value:?}")),
        other => panic!("not a struct: {other:?}"),
    }
}

/// Returns the items of an array value.
pub fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

/// Returns the int of an int value.
pub fn as_int(value: &Value) -> i64 {
    match value {
        Value::Integer(number) => i64::from(*number),
        Value::Long(number) => *number,
        other => panic!("not an int: {other:?}"),
    }
}

/// Returns the ids of a list of task structs.
pub fn ids(value: &Value) -> Vec<i64> {
    items(value)
        .iter()
        .map(|task| as_int(member(task, "id")))
        .collect()
}

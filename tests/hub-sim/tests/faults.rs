//! Fault injection, observed with a plain reqwest client and a raw TCP socket.

mod common;

use std::time::{Duration, Instant};

use common::{
    call_xml, client, client_builder, fault, int, items, member, parse_reply, s, st, start, value,
};
use dxr::Value;
use koji_hub_sim::{FaultAction, FaultRule};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rule(method: Option<&str>, action: FaultAction, times: Option<u32>) -> FaultRule {
    FaultRule::new(method, action, times)
}

#[tokio::test]
async fn delay_slows_matching_requests() {
    let sim = start("captured").await;
    sim.inject(rule(
        Some("getAPIVersion"),
        FaultAction::Delay { seconds: 1.0 },
        Some(1),
    ))
    .unwrap();

    let started = Instant::now();
    assert_eq!(value(&sim, "getAPIVersion", &[]).await, int(1));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "first call took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    assert_eq!(value(&sim, "getAPIVersion", &[]).await, int(1));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "second call took {:?}",
        started.elapsed()
    );
    assert!(
        sim.faults().is_empty(),
        "a rule for one request expires after it"
    );
}

#[tokio::test]
async fn fault_replaces_calls_until_used_up() {
    let sim = start("captured").await;
    let offline = FaultAction::Fault {
        code: 1014,
        string: "server is offline".into(),
    };
    sim.inject(rule(Some("listHosts"), offline, Some(2)))
        .unwrap();

    for _ in 0..2 {
        assert_eq!(
            fault(&sim, "listHosts", &[]).await,
            (1014, "server is offline".to_owned())
        );
    }
    assert_eq!(items(&value(&sim, "listHosts", &[]).await).len(), 6);
}

#[tokio::test]
async fn fault_inside_multicall_hits_one_entry() {
    let sim = start("captured").await;
    let action = FaultAction::Fault {
        code: 1000,
        string: "injected".into(),
    };
    sim.inject(rule(Some("getHost"), action, None)).unwrap();

    let calls = Value::Array(vec![
        st(&[
            ("methodName", s("getAPIVersion")),
            ("params", Value::Array(vec![])),
        ]),
        st(&[
            ("methodName", s("getHost")),
            ("params", Value::Array(vec![int(1)])),
        ]),
    ]);
    let results = value(&sim, "multiCall", &[calls]).await;
    assert_eq!(items(&results)[0], Value::Array(vec![int(1)]));
    let entry = &items(&results)[1];
    assert_eq!(member(entry, "faultCode"), &int(1000));
    assert_eq!(member(entry, "faultString"), &s("injected"));
    assert!(matches!(entry, Value::Struct(members) if !members.contains_key("traceback")));

    sim.clear_faults();
    assert!(matches!(
        value(&sim, "getHost", &[int(1)]).await,
        Value::Struct(_)
    ));
}

#[tokio::test]
async fn http_error_serves_a_proxy_page() {
    let sim = start("captured").await;
    sim.inject(rule(None, FaultAction::HttpError { status: 502 }, Some(1)))
        .unwrap();

    let response = client()
        .post(sim.url())
        .body(call_xml("getAPIVersion", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 502);
    assert_eq!(response.headers().get("Content-Type").unwrap(), "text/html");
    assert!(
        response.headers().get("Koji-Version").is_none(),
        "the proxy, not the hub, answered"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("<title>502 Bad Gateway</title>"), "{body}");

    assert_eq!(value(&sim, "getAPIVersion", &[]).await, int(1));
}

#[tokio::test]
async fn truncate_cuts_the_body() {
    let sim = start("captured").await;
    sim.inject(rule(
        Some("listHosts"),
        FaultAction::Truncate { keep_bytes: None },
        Some(1),
    ))
    .unwrap();

    let response = client()
        .post(sim.url())
        .body(call_xml("listHosts", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let announced = response.content_length().unwrap();
    assert!(
        response.bytes().await.is_err(),
        "a body shorter than Content-Length is an error"
    );

    // A raw socket receives the announced length and exactly the kept bytes, then EOF.
    sim.inject(rule(
        Some("listHosts"),
        FaultAction::Truncate {
            keep_bytes: Some(100),
        },
        Some(1),
    ))
    .unwrap();
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let body = call_xml("listHosts", &[]);
    let request = format!(
        "POST /kojihub HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml\r\n\
         Content-Length: {}\r\n\r\n{body}",
        sim.addr(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await.unwrap();
    let text = String::from_utf8(received).unwrap();
    let (head, partial) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("Content-Length: {announced}")),
        "{head}"
    );
    assert_eq!(partial.len(), 100);
    assert!(partial.starts_with("<?xml version='1.0'?>\n<methodResponse>"));
}

#[tokio::test]
async fn close_connection_sends_nothing() {
    let sim = start("captured").await;
    sim.inject(rule(Some("getHost"), FaultAction::CloseConnection, Some(1)))
        .unwrap();

    let outcome = client()
        .post(sim.url())
        .body(call_xml("getHost", &[int(1)]))
        .send()
        .await;
    assert!(
        outcome.is_err(),
        "expected a transport error, got {outcome:?}"
    );

    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    sim.inject(rule(Some("getHost"), FaultAction::CloseConnection, Some(1)))
        .unwrap();
    let body = call_xml("getHost", &[int(1)]);
    let request = format!(
        "POST /kojihub HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await.unwrap();
    assert!(received.is_empty(), "received {} bytes", received.len());
}

#[tokio::test]
async fn redirect_points_to_a_login_page() {
    let sim = start("captured").await;
    sim.inject(rule(
        None,
        FaultAction::Redirect { location: None },
        Some(2),
    ))
    .unwrap();

    let no_redirects = client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(sim.url())
        .body(call_xml("getAPIVersion", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get("Location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(location, format!("{}/login?next=/kojihub", sim.base_url()));

    // A client that follows the redirect ends on an HTML page instead of XML-RPC.
    let followed = client()
        .post(sim.url())
        .body(call_xml("getAPIVersion", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status().as_u16(), 200);
    assert!(
        followed
            .headers()
            .get("Content-Type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn rules_over_http_control() {
    let sim = start("captured").await;
    let url = format!("{}/control/faults", sim.base_url());
    let rule = serde_json::json!({
        "method": "getHost",
        "action": {"kind": "http_error", "status": 503},
        "times": 1
    });

    let created: serde_json::Value = client()
        .post(&url)
        .json(&rule)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["id"].as_u64().is_some());
    let listed: serde_json::Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["rule"]["action"]["status"], 503);
    assert_eq!(listed[0]["remaining"], 1);

    let response = client()
        .post(sim.url())
        .body(call_xml("getHost", &[int(1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);

    let bad = serde_json::json!({"action": {"kind": "http_error", "status": 200}});
    let rejected = client().post(&url).json(&bad).send().await.unwrap();
    assert_eq!(rejected.status().as_u16(), 400);

    let any = serde_json::json!({"action": {"kind": "close_connection"}});
    client().post(&url).json(&any).send().await.unwrap();
    assert!(
        client()
            .post(sim.url())
            .body(call_xml("getAPIVersion", &[]))
            .send()
            .await
            .is_err()
    );
    let cleared = client().delete(&url).send().await.unwrap();
    assert_eq!(cleared.status().as_u16(), 200);
    let response = client()
        .post(sim.url())
        .body(call_xml("getAPIVersion", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(parse_reply(&response.text().await.unwrap()), Ok(int(1)));
}

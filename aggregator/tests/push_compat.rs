//! Compatibility with the Pushgateway: Python's `prometheus_client` push functions work
//! against the aggregator, and the same sequence of pushes sent to Debian's Pushgateway and
//! to the aggregator leaves the same pushed series on both `/metrics`.

mod push_support;

use std::collections::BTreeSet;
use std::process::Command;

use koji_aggregator::push::Limits;
use koji_metrics::protobuf::{PROTOBUF_CONTENT_TYPE, encode_delimited};
use koji_metrics::text::parse_text;
use koji_test_support::{Pushgateway, require_python_module};
use prometheus::proto::{MetricFamily, MetricType};
use push_support::{TestServer, send};
use reqwest::Method;

/// One step of the sequence: method, path, headers and body.
struct Step {
    method: Method,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

fn step(method: Method, path: &'static str, body: &str) -> Step {
    Step {
        method,
        path,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

const FIRST_PUSH: &str = "\
# HELP compat_temperature_celsius Temperature of the room.
# TYPE compat_temperature_celsius gauge
compat_temperature_celsius{room=\"lab\"} 21.5
compat_temperature_celsius{room=\"a \\\"quoted\\\" \\\\ name\\nwith a newline\"} -3
# TYPE compat_jobs_total counter
compat_jobs_total{result=\"ok\"} 7
# HELP compat_duration_seconds Durations.
# TYPE compat_duration_seconds histogram
compat_duration_seconds_bucket{le=\"0.5\"} 1
compat_duration_seconds_bucket{le=\"2\"} 3
compat_duration_seconds_bucket{le=\"+Inf\"} 4
compat_duration_seconds_sum 6.25
compat_duration_seconds_count 4
# TYPE compat_latency_seconds summary
compat_latency_seconds{quantile=\"0.5\"} 0.25
compat_latency_seconds{quantile=\"0.99\"} 1.5
compat_latency_seconds_sum 30
compat_latency_seconds_count 40
compat_untyped{instance=\"overwritten\"} 1
";

fn steps() -> Vec<Step> {
    let protobuf_families = parse_text(
        b"# HELP compat_queue_length Items waiting.\n# TYPE compat_queue_length gauge\n\
          compat_queue_length{queue=\"a\"} 3\ncompat_queue_length{queue=\"b\"} 0\n\
          # TYPE compat_jobs_total counter\ncompat_jobs_total{result=\"failed\"} 2\n",
    )
    .unwrap();
    let gzip_body =
        koji_metrics::gzip::gzip(b"# TYPE compat_gzipped gauge\ncompat_gzipped{kind=\"gz\"} 42\n");

    vec![
        step(Method::PUT, "/metrics/job/compat/instance/b1", FIRST_PUSH),
        // A POST replaces the families it names and keeps the others.
        step(
            Method::POST,
            "/metrics/job/compat/instance/b1",
            "# TYPE compat_temperature_celsius gauge\ncompat_temperature_celsius{room=\"lab\"} 22\n\
             # TYPE compat_extra gauge\ncompat_extra 1\n",
        ),
        Step {
            headers: vec![("Content-Type", PROTOBUF_CONTENT_TYPE)],
            body: encode_delimited(&protobuf_families).unwrap(),
            ..step(Method::PUT, "/metrics/job/compat/instance/b2", "")
        },
        Step {
            headers: vec![("Content-Encoding", "gzip")],
            body: gzip_body,
            ..step(Method::PUT, "/metrics/job/compat/instance/b3", "")
        },
        // job "compat" in base64, and an empty zone value.
        step(
            Method::PUT,
            "/metrics/job@base64/Y29tcGF0/zone@base64/=",
            "compat_zoned 5\n",
        ),
        step(
            Method::PUT,
            "/metrics/job/compat/path@base64/YS9iL2M=",
            "compat_path 6\n",
        ),
        step(
            Method::PUT,
            "/metrics/job/compat/instance/b4",
            "compat_gone 1\n",
        ),
        step(Method::DELETE, "/metrics/job/compat/instance/b4", ""),
        step(Method::DELETE, "/metrics/job/compat/instance/never", ""),
        step(Method::POST, "/metrics/job/compat/instance/b1", ""),
        step(
            Method::PUT,
            "/metrics/job/other",
            "compat_other{instance=\"i9\"} 1\ncompat_other{instance=\"i8\"} 2\n",
        ),
        // Rejected on both: the type conflicts with the counter of b1.
        step(
            Method::PUT,
            "/metrics/job/compat/instance/b5",
            "# TYPE compat_jobs_total gauge\ncompat_jobs_total 1\n",
        ),
        // Rejected on both: the body does not parse.
        step(
            Method::PUT,
            "/metrics/job/compat/instance/b6",
            "compat_broken",
        ),
    ]
}

/// Returns the pushed series of an exposition, one line per sample, sorted. The receiver's
/// own families are left out, and push times are compared by their labels only.
fn pushed_series(exposition: &str) -> BTreeSet<String> {
    let families =
        parse_text(exposition.as_bytes()).unwrap_or_else(|error| panic!("{error}\n{exposition}"));
    let own = ["go_", "process_", "pushgateway_", "koji_"];
    families
        .iter()
        .filter(|family| !own.iter().any(|prefix| family.name().starts_with(prefix)))
        .flat_map(family_lines)
        .collect()
}

fn family_lines(family: &MetricFamily) -> Vec<String> {
    let name = family.name();
    let push_time = name == "push_time_seconds" || name == "push_failure_time_seconds";
    let help = if push_time { "" } else { family.help() };
    family
        .get_metric()
        .iter()
        .map(|metric| {
            let mut labels: Vec<String> = metric
                .get_label()
                .iter()
                .map(|pair| format!("{}={:?}", pair.name(), pair.value()))
                .collect();
            labels.sort();
            let value = if push_time {
                String::new()
            } else {
                match family.get_field_type() {
                    MetricType::GAUGE => metric.get_gauge().value().to_string(),
                    MetricType::COUNTER => metric.get_counter().value().to_string(),
                    MetricType::UNTYPED => metric.untyped.value().to_string(),
                    MetricType::SUMMARY => format!("{:?}", metric.get_summary()),
                    MetricType::HISTOGRAM => format!("{:?}", metric.get_histogram()),
                }
            };
            format!(
                "{name} {:?} help={help:?} {{{}}} {value}",
                family.get_field_type(),
                labels.join(",")
            )
        })
        .collect()
}

#[tokio::test]
async fn same_series_as_pushgateway() {
    // The Pushgateway helper builds a reqwest client, which needs a rustls provider.
    push_support::install_crypto_provider();
    let Some(gateway) = Pushgateway::start(&["--persistence.file="]).await else {
        return;
    };
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();

    for step in steps() {
        let (gateway_status, gateway_message) = send(
            &client,
            step.method.clone(),
            &format!("{}{}", gateway.url(), step.path),
            &step.headers,
            step.body.clone(),
        )
        .await;
        let (status, message) = send(
            &client,
            step.method.clone(),
            &format!("{}{}", server.url, step.path),
            &step.headers,
            step.body,
        )
        .await;
        assert_eq!(
            status, gateway_status,
            "{} {}: aggregator said {message:?}, the Pushgateway {gateway_message:?}",
            step.method, step.path
        );
    }

    let expected = pushed_series(&server.metrics(&client).await);
    let gateway_text = client
        .get(format!("{}/metrics", gateway.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let actual = pushed_series(&gateway_text);

    let only_here: Vec<&String> = expected.difference(&actual).collect();
    let only_there: Vec<&String> = actual.difference(&expected).collect();
    assert!(
        only_here.is_empty() && only_there.is_empty(),
        "only on the aggregator: {only_here:#?}\nonly on the Pushgateway: {only_there:#?}"
    );
    // The comparison covers every kind of group the steps create.
    assert!(expected.iter().any(|line| line.contains("zone=\"\"")));
    assert!(expected.iter().any(|line| line.contains("path=\"a/b/c\"")));
    assert!(
        expected
            .iter()
            .any(|line| line.starts_with("compat_queue_length"))
    );
    assert!(
        expected
            .iter()
            .any(|line| line.starts_with("compat_gzipped"))
    );
    assert!(!expected.iter().any(|line| line.starts_with("compat_gone")));
    assert!(
        expected
            .iter()
            .any(|line| line.starts_with("push_failure_time_seconds") && line.contains("b5"))
    );
}

/// Runs one `prometheus_client` call against `gateway`.
fn python_push(python: &std::path::Path, gateway: &str, action: &str) {
    let script = r#"
import sys
from prometheus_client import (CollectorRegistry, Counter, Gauge, delete_from_gateway,
                               push_to_gateway, pushadd_to_gateway)

gateway, action = sys.argv[1], sys.argv[2]
key = {"instance": "b1", "path": "a/b"}
if action == "push":
    registry = CollectorRegistry()
    gauge = Gauge("py_temperature_celsius", "Temperature.", ["room"], registry=registry)
    gauge.labels("lab").set(21.5)
    push_to_gateway(gateway, job="py", registry=registry, grouping_key=key)
elif action == "pushadd":
    registry = CollectorRegistry()
    Counter("py_jobs", "Jobs done.", registry=registry).inc(3)
    pushadd_to_gateway(gateway, job="py", registry=registry, grouping_key=key)
elif action == "delete":
    delete_from_gateway(gateway, job="py", grouping_key=key)
"#;
    let output = Command::new(python)
        .args(["-c", script, gateway, action])
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "prometheus_client {action} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn python_client_functions() {
    let Some(python) = require_python_module("prometheus_client") else {
        return;
    };
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let labels = "instance=\"b1\",job=\"py\",path=\"a/b\"";

    let url = server.url.clone();
    let python_path = python.clone();
    tokio::task::spawn_blocking(move || python_push(&python_path, &url, "push"))
        .await
        .unwrap();
    let text = server.metrics(&client).await;
    assert!(
        text.contains(&format!(
            "py_temperature_celsius{{{labels},room=\"lab\"}} 21.5\n"
        )),
        "{text}"
    );
    assert!(
        !text.contains("koji_agent_last_push_timestamp_seconds"),
        "a push of the job py set the last push of an agent: {text}"
    );

    let url = server.url.clone();
    let python_path = python.clone();
    tokio::task::spawn_blocking(move || python_push(&python_path, &url, "pushadd"))
        .await
        .unwrap();
    let text = server.metrics(&client).await;
    assert!(
        text.contains(&format!("py_jobs_total{{{labels}}} 3\n")),
        "{text}"
    );
    assert!(
        text.contains("py_temperature_celsius{"),
        "pushadd kept the other family: {text}"
    );

    let url = server.url.clone();
    tokio::task::spawn_blocking(move || python_push(&python, &url, "delete"))
        .await
        .unwrap();
    let text = server.metrics(&client).await;
    assert!(!text.contains("py_"), "{text}");
    assert!(!text.contains("job=\"py\""), "{text}");
}

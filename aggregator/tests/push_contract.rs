//! Pushes checked against the metric contract. The agent's real output is accepted, and a
//! builder's credential cannot write the hub's or the aggregator's own families. Contract
//! families are served with the contract's HELP text, and special float values as the text
//! format spells them.

mod push_support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use koji_aggregator::identity::{Authenticator, TokenSecret};
use koji_aggregator::push::Limits;
use koji_metrics::contract;
use koji_metrics::proto::{MetricFamily, MetricType};
use koji_metrics::text::{format_float, parse_text};
use push_support::{TestServer, send};
use reqwest::Method;

/// A series as a comparable value: name, labels sorted by name, and value as text.
type SeriesKey = (String, Vec<(String, String)>, String);

/// Returns every gauge and counter series of `families`, leaving out the labels in `skip`.
fn simple_series(families: &[MetricFamily], skip: &[&str]) -> BTreeSet<SeriesKey> {
    let mut series = BTreeSet::new();
    for family in families {
        let value_of = |metric: &koji_metrics::proto::Metric| match family.get_field_type() {
            MetricType::COUNTER => metric.get_counter().value(),
            MetricType::GAUGE => metric.get_gauge().value(),
            other => panic!(
                "{} is {other:?}, but the agent pushes only gauges and counters",
                family.name()
            ),
        };
        for metric in family.get_metric() {
            let mut labels: Vec<(String, String)> = metric
                .get_label()
                .iter()
                .filter(|pair| !skip.contains(&pair.name()))
                .map(|pair| (pair.name().to_string(), pair.value().to_string()))
                .collect();
            labels.sort();
            let value = format_float(value_of(metric));
            series.insert((family.name().to_string(), labels, value));
        }
    }
    series
}

fn golden_files() -> Vec<PathBuf> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "prom")
        })
        .collect();
    files.sort();
    files
}

/// Returns the value of the `host` label of the first series of `families`.
fn host_of(families: &[MetricFamily]) -> String {
    let pair = families[0].get_metric()[0]
        .get_label()
        .iter()
        .find(|pair| pair.name() == "host")
        .expect("every agent series has a host label");
    pair.value().to_string()
}

#[tokio::test]
async fn agent_golden_output_accepted() {
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let files = golden_files();
    assert!(files.len() >= 5, "golden files found: {files:?}");

    for file in files {
        let body = std::fs::read(&file).unwrap();
        let pushed = parse_text(&body).expect("the golden file parses");
        let host = host_of(&pushed);
        let url = format!("{}/metrics/job/koji-agent/instance/{host}", server.url);

        let (status, message) = send(&client, Method::PUT, &url, &[], body).await;
        assert_eq!(status, 200, "{}: {message}", file.display());

        let exposition = server.metrics(&client).await;
        let served: Vec<MetricFamily> = parse_text(exposition.as_bytes())
            .expect("the exposition parses")
            .into_iter()
            .filter(|family| pushed.iter().any(|own| own.name() == family.name()))
            .collect();
        let served_series = simple_series(&served, &["job", "instance"]);
        let missing: Vec<_> = simple_series(&pushed, &[])
            .difference(&served_series)
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "{}: not served: {missing:?}",
            file.display()
        );

        for family in &pushed {
            let help_line = format!("# HELP {} {}\n", family.name(), family.help());
            assert!(
                exposition.contains(&help_line),
                "{}: {help_line:?} missing",
                file.display()
            );
        }
    }

    let snapshot = server.store.snapshot();
    assert_eq!(snapshot.rejections.iter().sum::<u64>(), 0);
    assert_eq!(snapshot.pushes.failure, 0);
}

#[tokio::test]
async fn builder_token_cannot_write_hub_families() {
    let secret = TokenSecret::from_bytes(
        &PathBuf::from("token.secret"),
        b"a site secret of enough length".to_vec(),
    )
    .unwrap();
    let token = secret.token("b1");
    let authenticator = Authenticator::new(vec![secret], false);
    let server = TestServer::start_with(Limits::default(), authenticator, None).await;
    let client = push_support::client();
    let authorization = format!("Bearer {token}");
    let headers = [("Authorization", authorization.as_str())];
    let body = "koji_hub_up 0\n# TYPE koji_tasks_created_total counter\n\
                koji_tasks_created_total{channel=\"default\",method=\"build\",tag=\"f42\"} 1000000\n";

    let url = format!("{}/metrics/job/evil/instance/b1", server.url);
    let (status, message) = send(&client, Method::PUT, &url, &headers, body.into()).await;

    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("metric name koji_hub_up is reserved: only the aggregator writes"),
        "{message}"
    );
    let exposition = server.metrics(&client).await;
    assert!(!exposition.contains("koji_hub_up"), "{exposition}");
    assert!(
        !exposition.contains("koji_tasks_created_total"),
        "{exposition}"
    );
    assert!(
        exposition.contains("koji_agent_push_rejections_total{reason=\"reserved_name\"} 1\n"),
        "{exposition}"
    );

    // The same credential still pushes the builder's own families.
    let own = "# TYPE koji_builder_cpus gauge\nkoji_builder_cpus{host=\"b1\"} 4\n";
    let (status, message) = send(&client, Method::PUT, &url, &headers, own.into()).await;
    assert_eq!(status, 200, "{message}");
}

#[tokio::test]
async fn every_aggregator_family_rejected() {
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let url = format!("{}/metrics/job/koji-agent/instance/b1", server.url);

    let aggregator_only = contract::ALL.iter().filter(|def| !def.agent_may_push());
    for def in aggregator_only {
        let name = def.name;
        let body = match def.kind {
            contract::MetricKind::Histogram => format!(
                "# TYPE {name} histogram\n{name}_bucket{{le=\"+Inf\"}} 1\n{name}_sum 1\n\
                 {name}_count 1\n"
            ),
            kind => format!("# TYPE {name} {kind}\n{name} 1\n"),
        };

        let (status, message) = send(&client, Method::PUT, &url, &[], body.into()).await;

        assert_eq!(status, 400, "{name}: {message}");
        let expected = format!("only the aggregator writes {name}");
        assert!(message.contains(&expected), "{name}: {message}");
    }
}

#[tokio::test]
async fn contract_help_served_over_pushed_help() {
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let bodies = [
        (
            "b1",
            "# HELP koji_builder_cpus other help\n# TYPE koji_builder_cpus gauge\n\
             koji_builder_cpus{host=\"b1\"} 4\n",
        ),
        (
            "b2",
            "# TYPE koji_builder_cpus gauge\nkoji_builder_cpus{host=\"b2\"} 8\n",
        ),
    ];
    for (host, body) in bodies {
        let url = format!("{}/metrics/job/koji-agent/instance/{host}", server.url);
        let (status, message) = send(&client, Method::PUT, &url, &[], body.into()).await;
        assert_eq!(status, 200, "{host}: {message}");
    }

    let exposition = server.metrics(&client).await;
    let help_line = format!("# HELP koji_builder_cpus {}\n", contract::BUILDER_CPUS.help);
    assert!(exposition.contains(&help_line), "{exposition}");
    assert_eq!(exposition.matches("# HELP koji_builder_cpus ").count(), 1);
    assert!(!exposition.contains("other help"), "{exposition}");

    let api = client
        .get(format!("{}/api/v1/metrics", server.url))
        .send()
        .await
        .expect("GET /api/v1/metrics")
        .text()
        .await
        .expect("API body");
    assert!(!api.contains("other help"), "{api}");
}

#[tokio::test]
async fn special_values_served() {
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let body = "# TYPE agent_value gauge\nagent_value{v=\"up\"} +Inf\n\
                agent_value{v=\"down\"} -Inf\nagent_value{v=\"none\"} NaN\n\
                # TYPE agent_wait_seconds histogram\nagent_wait_seconds_bucket{le=\"-Inf\"} 0\n\
                agent_wait_seconds_bucket{le=\"1\"} 1\nagent_wait_seconds_bucket{le=\"+Inf\"} 2\n\
                agent_wait_seconds_sum +Inf\nagent_wait_seconds_count 2\n\
                # TYPE agent_latency_seconds summary\nagent_latency_seconds{quantile=\"0.5\"} -Inf\n\
                agent_latency_seconds{quantile=\"0.99\"} +Inf\nagent_latency_seconds_sum NaN\n\
                agent_latency_seconds_count 3\n";
    let url = format!("{}/metrics/job/agent/instance/b1", server.url);

    let (status, message) = send(&client, Method::PUT, &url, &[], body.into()).await;
    assert_eq!(status, 200, "{message}");

    let exposition = server.metrics(&client).await;
    let labels = "instance=\"b1\",job=\"agent\"";
    for line in [
        format!("agent_value{{{labels},v=\"up\"}} +Inf\n"),
        format!("agent_value{{{labels},v=\"down\"}} -Inf\n"),
        format!("agent_value{{{labels},v=\"none\"}} NaN\n"),
        format!("agent_wait_seconds_bucket{{{labels},le=\"-Inf\"}} 0\n"),
        format!("agent_wait_seconds_bucket{{{labels},le=\"+Inf\"}} 2\n"),
        format!("agent_wait_seconds_sum{{{labels}}} +Inf\n"),
        format!("agent_latency_seconds{{{labels},quantile=\"0.5\"}} -Inf\n"),
        format!("agent_latency_seconds{{{labels},quantile=\"0.99\"}} +Inf\n"),
        format!("agent_latency_seconds_sum{{{labels}}} NaN\n"),
    ] {
        assert!(
            exposition.contains(&line),
            "{line:?} missing in\n{exposition}"
        );
    }
    assert!(!exposition.contains("inf"), "{exposition}");
}

//! Bad pushes: each gets its status and a message that explains it, and nothing else in
//! `/metrics` changes apart from the push counters and, for a push whose body decoded, the
//! group's `push_failure_time_seconds`.

mod push_support;

use koji_aggregator::push::Limits;
use koji_metrics::text::parse_text;
use push_support::{TestServer, send};
use reqwest::Method;

const TARGET: &str = "/metrics/job/agent/instance/b2";

/// One bad push and what must come back.
struct Case {
    name: &'static str,
    method: Method,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: u16,
    message: &'static str,
    reason: &'static str,
    /// Whether the target group's failure time must change.
    marks_failure: bool,
}

fn case(name: &'static str, body: impl Into<Vec<u8>>, status: u16, message: &'static str) -> Case {
    Case {
        name,
        method: Method::PUT,
        path: TARGET,
        headers: Vec::new(),
        body: body.into(),
        status,
        message,
        reason: "invalid_body",
        marks_failure: false,
    }
}

fn many_series(count: usize) -> Vec<u8> {
    let mut body = String::from("# TYPE agent_series gauge\n");
    for index in 0..count {
        body.push_str(&format!("agent_series{{i=\"{index}\"}} 1\n"));
    }
    body.into_bytes()
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "unterminated last line",
            "agent_ok 1\nagent_more 2",
            400,
            "line 2",
        ),
        case("crlf line endings", "agent_ok 1\r\n", 400, "ends in CR LF"),
        case("invalid metric name", "agent-dash 1\n", 400, "line 1"),
        case(
            "invalid label name",
            "agent_ok{in-valid=\"1\"} 1\n",
            400,
            "line 1",
        ),
        Case {
            reason: "timestamp",
            marks_failure: true,
            ..case(
                "timestamp",
                "agent_ok 1 1700000000000\n",
                400,
                "must not have timestamps",
            )
        },
        Case {
            reason: "type_conflict",
            marks_failure: true,
            ..case(
                "counter pushed as gauge by second host",
                "# TYPE agent_jobs_done_total gauge\nagent_jobs_done_total{host=\"b2\"} 1\n",
                400,
                "pushed as a gauge but is a counter",
            )
        },
        Case {
            reason: "type_conflict",
            marks_failure: true,
            ..case(
                "contract family with another type",
                "# TYPE koji_builder_ready counter\nkoji_builder_ready{host=\"b2\"} 1\n",
                400,
                "is a gauge in the aggregator's own metrics",
            )
        },
        Case {
            reason: "duplicate_series",
            marks_failure: true,
            ..case(
                "two identical series",
                "agent_dup{x=\"1\"} 1\nagent_dup{x=\"1\"} 2\n",
                400,
                "duplicate series agent_dup",
            )
        },
        Case {
            reason: "duplicate_series",
            marks_failure: true,
            ..case(
                "identical after grouping labels",
                "agent_dup{instance=\"x\"} 1\nagent_dup{instance=\"y\"} 2\n",
                400,
                "once the grouping labels",
            )
        },
        Case {
            reason: "host_mismatch",
            marks_failure: true,
            ..case(
                "host label of another host",
                "agent_ok{host=\"b1\"} 1\n",
                400,
                "host=\"b1\" but is pushed as instance=\"b2\"",
            )
        },
        Case {
            path: "/metrics/job/agent/instance/b2/host/b1",
            reason: "host_mismatch",
            ..case(
                "host label of another host in the path",
                "agent_ok{host=\"b2\"} 0\n",
                400,
                "has host=\"b1\" but instance=\"b2\"",
            )
        },
        Case {
            path: "/metrics/job/agent/instance/b2/host/b1",
            reason: "host_mismatch",
            ..case(
                "host in the path without host in the body",
                "agent_ok 0\n",
                400,
                "has host=\"b1\" but instance=\"b2\"",
            )
        },
        Case {
            path: "/metrics/job/agent/host/b1",
            reason: "host_mismatch",
            ..case(
                "host in the path without instance",
                "agent_ok{instance=\"b1\"} 0\n",
                400,
                "has host=\"b1\" but instance=\"\"",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "push_failure_time_seconds pushed",
                "# TYPE push_failure_time_seconds counter\n\
                 push_failure_time_seconds{host=\"b2\"} 9\n",
                400,
                "metric name push_failure_time_seconds is reserved",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "push_time_seconds pushed",
                "agent_ok 2\npush_time_seconds 9\n",
                400,
                "metric name push_time_seconds is reserved",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "hub families pushed by a builder",
                "koji_hub_up 0\n# TYPE koji_tasks_created_total counter\n\
                 koji_tasks_created_total{channel=\"default\",method=\"build\",tag=\"f42\"} 1000000\n",
                400,
                "metric name koji_hub_up is reserved: only the aggregator writes koji_hub_up",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "hub task counter next to agent families",
                "# TYPE koji_builder_cpus gauge\nkoji_builder_cpus{host=\"b2\"} 4\n\
                 # TYPE koji_tasks_created_total counter\n\
                 koji_tasks_created_total{channel=\"default\",method=\"build\",tag=\"f42\"} 1000000\n",
                400,
                "only the aggregator writes koji_tasks_created_total",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "channel gauge pushed",
                "# TYPE koji_channel_capacity gauge\nkoji_channel_capacity{channel=\"default\"} 99\n",
                400,
                "only the aggregator writes koji_channel_capacity",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "task histogram pushed",
                "# TYPE koji_task_wait_seconds histogram\n\
                 koji_task_wait_seconds_bucket{channel=\"default\",method=\"build\",le=\"+Inf\"} 1\n\
                 koji_task_wait_seconds_sum{channel=\"default\",method=\"build\"} 5\n\
                 koji_task_wait_seconds_count{channel=\"default\",method=\"build\"} 1\n",
                400,
                "only the aggregator writes koji_task_wait_seconds",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "aggregator health counter pushed",
                "# TYPE koji_aggregator_duplicate_series_dropped_total counter\n\
                 koji_aggregator_duplicate_series_dropped_total 7\n",
                400,
                "only the aggregator writes koji_aggregator_duplicate_series_dropped_total",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "last push time pushed",
                "# TYPE koji_agent_last_push_timestamp_seconds gauge\n\
                 koji_agent_last_push_timestamp_seconds{host=\"b2\"} 4102444800\n",
                400,
                "only the aggregator writes koji_agent_last_push_timestamp_seconds",
            )
        },
        Case {
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "push counter pushed",
                "# TYPE koji_agent_pushes_total counter\n\
                 koji_agent_pushes_total{result=\"success\"} 5\n",
                400,
                "only the aggregator writes koji_agent_pushes_total",
            )
        },
        Case {
            method: Method::POST,
            reason: "reserved_name",
            marks_failure: true,
            ..case(
                "post of the rejection counter",
                "# TYPE koji_agent_push_rejections_total counter\n\
                 koji_agent_push_rejections_total{reason=\"forbidden\"} 0\n",
                400,
                "only the aggregator writes koji_agent_push_rejections_total",
            )
        },
        Case {
            reason: "type_conflict",
            marks_failure: true,
            ..case(
                "counter pushed over an untyped family",
                "# TYPE agent_plain counter\nagent_plain 1\n",
                400,
                "pushed as a counter but is untyped in another pushed group",
            )
        },
        Case {
            reason: "body_too_large",
            ..case(
                "20 MB body",
                vec![b'#'; 20 << 20],
                413,
                "exceeds the limit of 4194304 bytes",
            )
        },
        Case {
            reason: "body_too_large",
            headers: vec![("Content-Encoding", "gzip")],
            ..case(
                "gzip bomb",
                koji_metrics::gzip::gzip(&vec![b'#'; 20 << 20]),
                413,
                "after gunzip",
            )
        },
        Case {
            headers: vec![("Content-Encoding", "gzip")],
            ..case("invalid gzip", "agent_ok 1\n", 400, "invalid gzip")
        },
        Case {
            reason: "too_many_series",
            marks_failure: true,
            ..case(
                "100,000 series",
                many_series(100_000),
                413,
                "100000 series, more than the limit of 10000",
            )
        },
        Case {
            path: "/metrics/job/agent/instance",
            reason: "invalid_grouping_key",
            ..case("odd path", "agent_ok 1\n", 400, "odd number of components")
        },
        Case {
            path: "/metrics/job/agent/__x/1",
            reason: "invalid_grouping_key",
            ..case("reserved label in path", "agent_ok 1\n", 400, "reserved")
        },
        Case {
            path: "/metrics/job@base64/=",
            reason: "invalid_grouping_key",
            ..case("empty job", "agent_ok 1\n", 400, "job name is empty")
        },
        Case {
            method: Method::POST,
            reason: "type_conflict",
            marks_failure: true,
            ..case(
                "post with a conflicting type",
                "# TYPE agent_jobs_done_total gauge\nagent_jobs_done_total 1\n",
                400,
                "pushed as a gauge",
            )
        },
    ]
}

/// Removes the lines that a rejected push may change.
fn unchanged_part(text: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with("koji_agent_push"))
        .filter(|line| !line.starts_with("push_failure_time_seconds{instance=\"b2\""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_starting<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|line| line.starts_with(prefix))
}

fn rejections(text: &str, reason: &str) -> f64 {
    let prefix = format!("koji_agent_push_rejections_total{{reason=\"{reason}\"}} ");
    line_starting(text, &prefix)
        .and_then(|line| line[prefix.len()..].parse().ok())
        .unwrap_or_else(|| panic!("no rejection counter for {reason} in\n{text}"))
}

#[tokio::test]
async fn bad_pushes_change_nothing() {
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let url = |path: &str| format!("{}{path}", server.url);

    let setup = [
        (
            "/metrics/job/agent/instance/b1",
            "# TYPE agent_jobs_done_total counter\nagent_jobs_done_total{host=\"b1\"} 3\n\
             agent_plain{host=\"b1\"} 1\n",
        ),
        (
            TARGET,
            "# HELP agent_ok A value.\n# TYPE agent_ok gauge\nagent_ok 1\n",
        ),
    ];
    for (path, body) in setup {
        let (status, message) = send(&client, Method::PUT, &url(path), &[], body.into()).await;
        assert_eq!(status, 200, "setup push to {path}: {message}");
    }

    for case in cases() {
        let before = server.metrics(&client).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;

        let (status, message) = send(
            &client,
            case.method,
            &url(case.path),
            &case.headers,
            case.body,
        )
        .await;
        let after = server.metrics(&client).await;

        assert_eq!(status, case.status, "{}: {message}", case.name);
        assert!(
            message.contains(case.message),
            "{}: expected {:?} in {message:?}",
            case.name,
            case.message
        );
        assert_eq!(
            unchanged_part(&after),
            unchanged_part(&before),
            "{}: /metrics changed",
            case.name
        );
        let failure_line = "push_failure_time_seconds{instance=\"b2\"";
        let failure_changed =
            line_starting(&before, failure_line) != line_starting(&after, failure_line);
        assert_eq!(
            failure_changed, case.marks_failure,
            "{}: failure time changed = {failure_changed}",
            case.name
        );
        assert_eq!(
            rejections(&after, case.reason),
            rejections(&before, case.reason) + 1.0,
            "{}: rejection counter for {}",
            case.name,
            case.reason
        );
    }
}

#[tokio::test]
async fn escaped_label_value_round_trips() {
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let body = "# TYPE agent_label gauge\nagent_label{v=\"a\\\"b\\\\c\\nd\"} 1\n";

    let (status, message) = send(
        &client,
        Method::PUT,
        &format!("{}{TARGET}", server.url),
        &[],
        body.into(),
    )
    .await;
    assert_eq!(status, 200, "{message}");

    let exposition = server.metrics(&client).await;
    assert!(
        exposition.contains("agent_label{instance=\"b2\",job=\"agent\",v=\"a\\\"b\\\\c\\nd\"} 1\n"),
        "{exposition}"
    );
    let families = parse_text(exposition.as_bytes()).expect("the exposition parses");
    let family = families
        .iter()
        .find(|family| family.name() == "agent_label")
        .expect("agent_label is served");
    let value = family.get_metric()[0]
        .get_label()
        .iter()
        .find(|pair| pair.name() == "v")
        .map(|pair| pair.value().to_string());
    assert_eq!(value.as_deref(), Some("a\"b\\c\nd"));
}

#[tokio::test]
async fn group_limit_gets_413() {
    let limits = Limits {
        max_groups: 2,
        ..Limits::default()
    };
    let server = TestServer::start(limits).await;
    let client = push_support::client();
    let put = async |host: &str, value: u32| {
        let url = format!("{}/metrics/job/agent/instance/{host}", server.url);
        let body = format!("# TYPE agent_value gauge\nagent_value {value}\n");
        send(&client, Method::PUT, &url, &[], body.into_bytes()).await
    };
    for host in ["b1", "b2"] {
        let (status, message) = put(host, 1).await;
        assert_eq!(status, 200, "push for {host}: {message}");
    }
    let before = server.metrics(&client).await;

    let (status, message) = put("b3", 1).await;
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("push.max_groups"), "{message}");
    let after = server.metrics(&client).await;
    assert_eq!(unchanged_part(&after), unchanged_part(&before));
    assert_eq!(rejections(&after, "too_many_groups"), 1.0);

    let (status, message) = put("b2", 2).await;
    assert_eq!(status, 200, "a stored group is still replaced: {message}");
    let metrics = server.metrics(&client).await;
    assert!(
        metrics.contains("agent_value{instance=\"b2\",job=\"agent\"} 2"),
        "{metrics}"
    );
}

//! Pushing: the request on the wire, failure classes, retries, the failure counter, and the
//! one-snapshot bound while a receiver is away.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::receiver::{Answer, Receiver};
use common::{HOST, raw_push};
use koji_agent::config::{PushConfig, RawConfig};
use koji_agent::push::worker::{SnapshotSender, run_target};
use koji_agent::push::{FailureCounters, FailureReason, PushTarget};
use tokio::sync::watch;

const GROUP: &str = "/metrics/job/koji-agent/instance/builder01.example.org";

fn push_config(url: &str) -> PushConfig {
    let raw = RawConfig {
        host: Some(HOST.to_string()),
        push: vec![raw_push(url)],
        ..RawConfig::default()
    };
    raw.validate().unwrap().push.remove(0)
}

fn target(url: &str) -> PushTarget {
    PushTarget::new(&push_config(url), HOST).unwrap()
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn snapshot(marker: u32) -> Option<Arc<str>> {
    Some(Arc::from(format!(
        "# TYPE koji_builder_maxjobs gauge\nkoji_builder_maxjobs{{host=\"{HOST}\"}} {marker}\n"
    )))
}

#[tokio::test]
async fn push_request_on_the_wire() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let raw = RawConfig {
        host: Some(HOST.to_string()),
        push: vec![koji_agent::config::RawPush {
            token_file: Some(token),
            ..raw_push(&format!("{}/", receiver.url()))
        }],
        ..RawConfig::default()
    };
    let config = raw.validate().unwrap();
    let target = PushTarget::new(&config.push[0], HOST).unwrap();

    let text =
        "# TYPE koji_builder_cpus gauge\nkoji_builder_cpus{host=\"builder01.example.org\"} 4\n";
    target.push(text).await.unwrap();
    target.delete().await.unwrap();

    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let put = &received[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.path, GROUP);
    assert_eq!(
        put.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(put.headers["content-encoding"], "gzip");
    assert_eq!(put.headers["authorization"], "Bearer s3cret-token");
    assert_eq!(put.body, text);
    let parsed = koji_metrics::text::parse_text(put.body.as_bytes()).unwrap();
    assert_eq!(parsed.len(), 1);

    let delete = &received[1];
    assert_eq!(delete.method, "DELETE");
    assert_eq!(delete.path, GROUP);
    assert_eq!(delete.headers["authorization"], "Bearer s3cret-token");
}

#[tokio::test]
async fn push_failures_classify() {
    let refused = closed_port_url();
    let error = target(&refused).push("").await.unwrap_err();
    assert_eq!(error.reason, FailureReason::Connect);
    assert!(error.retryable);
    assert!(error.message.contains(&refused), "{}", error.message);

    let receiver = Receiver::start().await;
    receiver.script(&[
        Answer::Status(400),
        Answer::Status(503),
        Answer::Status(429),
        Answer::Status(302),
        Answer::Hang,
    ]);
    let target = target(&receiver.url());

    let bad_request = target.push("").await.unwrap_err();
    assert_eq!(bad_request.reason, FailureReason::Http4xx);
    assert!(!bad_request.retryable);
    assert!(
        bad_request
            .message
            .contains("HTTP 400 Bad Request: \"answer 400 from the test receiver\""),
        "the log line quotes the response body: {}",
        bad_request.message
    );

    let unavailable = target.push("").await.unwrap_err();
    assert_eq!(unavailable.reason, FailureReason::Http5xx);
    assert!(unavailable.retryable);

    let too_many = target.push("").await.unwrap_err();
    assert_eq!(too_many.reason, FailureReason::Http4xx);
    assert!(too_many.retryable);

    let redirect = target.push("").await.unwrap_err();
    assert_eq!(redirect.reason, FailureReason::Other);
    assert!(!redirect.retryable);

    let started = Instant::now();
    let hanging = target.push("").await.unwrap_err();
    assert_eq!(hanging.reason, FailureReason::Timeout);
    assert!(hanging.retryable);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn accepting_never_answering_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });

    let error = target(&url).push("").await.unwrap_err();
    assert_eq!(error.reason, FailureReason::Timeout);
    assert!(
        error.message.contains("timed out after 1s"),
        "{}",
        error.message
    );
    held.abort();
}

fn start_worker(
    url: &str,
    counters: &FailureCounters,
) -> (SnapshotSender, tokio::task::JoinHandle<()>) {
    let sender: SnapshotSender = watch::channel(None).0;
    let worker = tokio::spawn(run_target(
        target(url),
        sender.subscribe(),
        counters.clone(),
    ));
    (sender, worker)
}

fn failures_line(url: &str, reason: &str, count: u64) -> String {
    format!(
        "koji_agent_push_failures_total{{host=\"{HOST}\",target=\"{url}\",reason=\"{reason}\"}} \
         {count}\n"
    )
}

#[tokio::test]
async fn retries_until_success_and_counts_failures() {
    let receiver = Receiver::start().await;
    receiver.script(&[Answer::Status(503), Answer::Status(500)]);
    let url = receiver.url();
    let counters = FailureCounters::new(HOST, &[&url]);
    let (sender, worker) = start_worker(&url, &counters);

    sender.send_replace(snapshot(1));
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    let last = &received[2].body;
    assert!(
        last.starts_with(&snapshot(1).unwrap().to_string()),
        "{last}"
    );
    assert!(
        last.contains(&failures_line(&url, "http_5xx", 2)),
        "the successful push carries the two failures: {last}"
    );
    assert!(last.contains(&failures_line(&url, "connect", 0)), "{last}");
    assert!(
        received[0]
            .body
            .contains(&failures_line(&url, "http_5xx", 0)),
        "counters start at zero: {}",
        received[0].body
    );

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 3, "no push after the success");
    assert_eq!(counters.get(&url, FailureReason::Http5xx), 2);
    worker.abort();
}

#[tokio::test]
async fn rejected_push_is_not_retried() {
    let receiver = Receiver::start().await;
    receiver.answer_with(Answer::Status(400));
    let url = receiver.url();
    let counters = FailureCounters::new(HOST, &[&url]);
    let (sender, worker) = start_worker(&url, &counters);

    sender.send_replace(snapshot(1));
    receiver.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 1, "a 400 is not retried");
    assert_eq!(counters.get(&url, FailureReason::Http4xx), 1);

    receiver.answer_with(Answer::Status(200));
    sender.send_replace(snapshot(2));
    let received = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert!(
        received[1]
            .body
            .contains(&failures_line(&url, "http_4xx", 1)),
        "{}",
        received[1].body
    );
    worker.abort();
}

#[tokio::test]
async fn away_receiver_gets_latest_snapshot_only() {
    let receiver = Receiver::start().await;
    receiver.answer_with(Answer::Status(503));
    let url = receiver.url();
    let counters = FailureCounters::new(HOST, &[&url]);
    let (sender, worker) = start_worker(&url, &counters);

    // 200 cycles while the receiver is away: the worker retries at its backoff pace, and
    // the channel holds only the newest snapshot.
    for marker in 1..=200 {
        sender.send_replace(snapshot(marker));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let while_away = receiver.received().len();
    assert!(
        (1..=10).contains(&while_away),
        "{while_away} pushes in 2 s of backoff capped at 1 s"
    );

    receiver.answer_with(Answer::Status(200));
    let deadline = Instant::now() + Duration::from_secs(5);
    let recovered = loop {
        let received = receiver.received();
        if let Some(last) = received.last()
            && received.len() > while_away
            && last.body.contains("koji_builder_maxjobs")
            && counters.get(&url, FailureReason::Http5xx) as usize == received.len() - 1
        {
            break received;
        }
        assert!(
            Instant::now() < deadline,
            "no successful push after recovery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let last = recovered.last().unwrap();
    assert!(
        last.body
            .contains(&format!("koji_builder_maxjobs{{host=\"{HOST}\"}} 200\n")),
        "the first push after recovery carries the newest snapshot: {}",
        last.body
    );
    let failures = counters.get(&url, FailureReason::Http5xx);
    assert!(
        last.body
            .contains(&failures_line(&url, "http_5xx", failures)),
        "{}",
        last.body
    );
    worker.abort();
}

#[tokio::test]
async fn refused_connections_count_as_connect() {
    let url = closed_port_url();
    let counters = FailureCounters::new(HOST, &[&url]);
    let (sender, worker) = start_worker(&url, &counters);
    sender.send_replace(snapshot(1));

    let deadline = Instant::now() + Duration::from_secs(5);
    while counters.get(&url, FailureReason::Connect) < 2 {
        assert!(Instant::now() < deadline, "refused pushes were not retried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counters.get(&url, FailureReason::Timeout), 0);
    worker.abort();
}

//! Groups of silent agents expire on the timer, without any scrape in between, in the store
//! and in the binary configured with `push.expiry_secs`.

mod push_support;

use std::time::{Duration, Instant};

use koji_aggregator::push::expiry::expire_periodically;
use koji_aggregator::push::{GroupingKey, Limits};
use push_support::{AggregatorProcess, TestServer, send};
use reqwest::Method;

#[tokio::test]
async fn silent_group_expires_without_scrapes() {
    let server = TestServer::start(Limits::default()).await;
    let client = push_support::client();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let expiry = tokio::spawn(expire_periodically(
        server.store.clone(),
        Duration::from_secs(2),
        async move {
            let _closed = stopped.await;
        },
    ));
    let silent = GroupingKey::from_path("job/koji-agent/instance/silent").unwrap();
    let active = GroupingKey::from_path("job/koji-agent/instance/active").unwrap();

    let push = |host: &'static str| {
        let url = format!("{}/metrics/job/koji-agent/instance/{host}", server.url);
        let client = client.clone();
        async move {
            let body = format!("agent_up{{host=\"{host}\"}} 1\n").into_bytes();
            let (status, message) = send(&client, Method::PUT, &url, &[], body).await;
            assert_eq!(status, 200, "{message}");
        }
    };
    push("silent").await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(3500) {
        push("active").await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    assert!(
        server.store.group(&silent).is_none(),
        "the silent group is still stored"
    );
    assert!(
        server.store.group(&active).is_some(),
        "the active group expired"
    );
    let exposition = server.metrics(&client).await;
    assert!(!exposition.contains("instance=\"silent\""), "{exposition}");
    assert!(
        exposition.contains("koji_agent_last_push_timestamp_seconds{host=\"silent\"}"),
        "the last push of the silent host stays visible: {exposition}"
    );
    stop.send(()).unwrap();
    expiry.await.unwrap();
}

#[tokio::test]
async fn binary_expires_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let aggregator = AggregatorProcess::start(dir.path(), "[push]\nexpiry_secs = 2\n").await;
    let client = push_support::client();
    let url = format!("{}/metrics/job/koji-agent/instance/silent", aggregator.url);
    let body = b"agent_up{host=\"silent\"} 1\n".to_vec();
    let (status, message) = send(&client, Method::PUT, &url, &[], body).await;
    assert_eq!(status, 200, "{message}");

    // No scrape in between: only the timer can drop the group.
    tokio::time::sleep(Duration::from_millis(4000)).await;

    let exposition = aggregator.metrics(&client).await;
    assert!(!exposition.contains("agent_up"), "{exposition}");
    assert!(
        exposition.contains("koji_agent_last_push_timestamp_seconds{host=\"silent\"}"),
        "{exposition}"
    );
    let log = aggregator.log_text();
    assert!(
        log.contains("Dropped a pushed group whose agent stopped pushing."),
        "{log}"
    );
    assert!(
        log.contains("host=\"silent\"") || log.contains("host=silent"),
        "{log}"
    );
}

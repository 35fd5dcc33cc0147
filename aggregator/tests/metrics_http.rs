//! `/metrics` over HTTP from the binary: the exact Content-Type of text format 0.0.4, and
//! gzip when the scraper asks for it.

mod common;

use std::io::Read;
use std::time::Duration;

use common::binary::Aggregator;
use common::scenario;
use koji_hub_sim::{HubSim, SimOptions};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Builds a client that leaves `Content-Encoding` alone, so the test reads the body as sent.
fn raw_client() -> reqwest::Client {
    koji_test_support::install_crypto_provider();
    reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Returns the sample lines of an exposition without their values, which a poll between two
/// scrapes may change.
fn series(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            line.rsplit_once(' ')
                .expect("a sample has a value")
                .0
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn content_type_and_gzip() {
    let sim = HubSim::start(scenario("captured"), SimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut aggregator = Aggregator::start(dir.path(), &sim.url(), "");
    aggregator
        .wait_for("the first poll", Duration::from_secs(30), |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;
    let client = raw_client();
    let url = format!("{}/metrics", aggregator.base_url);

    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(plain.status().as_u16(), 200);
    assert_eq!(plain.headers()["content-type"], CONTENT_TYPE);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_text = plain.text().await.unwrap();
    assert!(plain_text.contains("\nkoji_hub_up 1\n"), "{plain_text}");
    let duration: f64 = plain_text
        .lines()
        .find_map(|line| line.strip_prefix("koji_hub_poll_duration_seconds "))
        .expect("a poll duration")
        .parse()
        .unwrap();
    assert!(duration > 0.0, "poll took {duration} s");
    assert!(duration < 30.0, "poll took {duration} s");

    let zipped = client
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.status().as_u16(), 200);
    assert_eq!(zipped.headers()["content-type"], CONTENT_TYPE);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let body = zipped.bytes().await.unwrap();
    assert!(
        body.len() < plain_text.len(),
        "gzip did not make the body smaller"
    );
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut unzipped)
        .expect("the body is gzip");
    assert_eq!(series(&unzipped), series(&plain_text));

    let refused = client
        .get(&url)
        .header("Accept-Encoding", "gzip;q=0, identity")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
}

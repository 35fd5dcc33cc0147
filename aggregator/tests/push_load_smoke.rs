//! The push benchmark at 1/100 of its size: `push-load` fills 100 builder groups of 40
//! series into the real binary, pushes from 2 pushers for a second, and times `/metrics`.
//! The full size runs from `tests/bench/push-load`, never in CI.

mod push_support;

use std::process::Command;

use push_support::AggregatorProcess;

fn value<'a>(output: &'a str, line_start: &str, key: &str) -> &'a str {
    let line = output
        .lines()
        .find(|line| line.starts_with(line_start))
        .unwrap_or_else(|| panic!("no line starting with {line_start:?} in\n{output}"));
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

#[tokio::test]
async fn push_load_at_one_hundredth() {
    let dir = tempfile::tempdir().unwrap();
    let aggregator = AggregatorProcess::start(dir.path(), "").await;
    let url = aggregator.url.clone();

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_push-load"))
            .args([
                "--url",
                &url,
                "--groups",
                "100",
                "--fill",
                "--concurrency",
                "2",
            ])
            .args(["--duration-secs", "1", "--scrape"])
            .output()
            .expect("run push-load")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();

    assert!(
        output.status.success(),
        "push-load failed:\n{stdout}\n{}",
        aggregator.log_text()
    );
    assert!(!stdout.contains("error="), "{stdout}");
    assert_eq!(value(&stdout, "body", "series"), "40");
    assert_eq!(value(&stdout, "fill", "groups"), "100");
    assert_eq!(value(&stdout, "push", "errors"), "0");
    let pushes: u64 = value(&stdout, "push", "pushes").parse().unwrap();
    assert!(pushes > 0, "{stdout}");
    let plain: u64 = value(&stdout, "scrape encoding=plain", "bytes")
        .parse()
        .unwrap();
    let gzip: u64 = value(&stdout, "scrape encoding=gzip", "bytes")
        .parse()
        .unwrap();
    assert!(
        plain > 100 * 40 * 60,
        "100 groups of 40 series are served: {stdout}"
    );
    assert!(gzip < plain / 4, "the gzip scrape is compressed: {stdout}");

    let client = push_support::client();
    let exposition = aggregator.metrics(&client).await;
    assert_eq!(
        exposition.matches("push_time_seconds{instance=").count(),
        100,
        "every group was stored"
    );
}

//! A real Prometheus scrapes the real binary, and its queries return the hand-computed
//! values of the captured scenario. promtool finds nothing wrong with the live output.

mod common;

use std::time::Duration;

use common::binary::Aggregator;
use common::{move_task, scenario};
use koji_hub_sim::{HubSim, SimOptions, TaskState};
use koji_test_support::{Prometheus, promtool_check_metrics, wait_until};

const WAIT: Duration = Duration::from_secs(60);

const CREATEREPO_EL9: &str = "koji_tasks_completed_total{state=\"closed\",channel=\"createrepo\",\
                              method=\"createrepo\",tag=\"el9-build\"}";

/// The samples of a query result as `(value of label, sample value)`, sorted. A macro,
/// because koji_test_support does not export the sample type by name.
macro_rules! by_label {
    ($samples:expr, $label:expr) => {{
        let mut values: Vec<(String, f64)> = $samples
            .iter()
            .map(|sample| {
                let label = sample.labels.get($label).cloned().unwrap_or_default();
                (label, sample.value)
            })
            .collect();
        values.sort_by(|left, right| left.0.cmp(&right.0));
        values
    }};
}

async fn single_value(prometheus: &Prometheus, expr: &str) -> Option<f64> {
    prometheus
        .query(expr)
        .await
        .first()
        .map(|sample| sample.value)
}

async fn wait_for_value(prometheus: &Prometheus, expr: &str, value: f64) {
    wait_until(&format!("{expr} == {value}"), WAIT, || async {
        single_value(prometheus, expr).await == Some(value)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_queries_match_the_scenario() {
    let sim = HubSim::start(scenario("captured"), SimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut aggregator = Aggregator::start(dir.path(), &sim.url(), "");
    let target = aggregator
        .base_url
        .trim_start_matches("http://")
        .to_string();
    let scrape = format!(
        "  - job_name: koji-aggregator\n    honor_labels: true\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let Some(prometheus) = Prometheus::start(&scrape).await else {
        return;
    };
    prometheus.wait_for_job_up("koji-aggregator", WAIT).await;
    aggregator
        .wait_for("the first poll", WAIT, |metrics| {
            metrics.get("koji_hub_up", &[]) == Some(1.0)
        })
        .await;

    let live = aggregator.scrape().await.expect("/metrics answers");
    if let Some(result) = promtool_check_metrics(&live.text) {
        result.expect("promtool check metrics reports nothing on the live output");
    }

    wait_for_value(&prometheus, "count(koji_tasks)", 18.0).await;
    let states = prometheus.query("sum by (state) (koji_tasks)").await;
    assert_eq!(
        by_label!(states, "state"),
        [
            ("assigned".to_string(), 3.0),
            ("free".to_string(), 7.0),
            ("open".to_string(), 8.0)
        ]
    );
    let capacity = prometheus.query("koji_channel_capacity").await;
    assert_eq!(
        by_label!(capacity, "channel"),
        [
            ("bigmem".to_string(), 16.0),
            ("createrepo".to_string(), 18.0),
            ("default".to_string(), 34.0),
            ("image".to_string(), 10.0)
        ]
    );

    // The first completion creates the series at 1; the next one takes it to 2. The other
    // two completions go to other series.
    move_task(&sim, 44, TaskState::Closed, None);
    wait_for_value(&prometheus, CREATEREPO_EL9, 1.0).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    move_task(&sim, 45, TaskState::Closed, None);
    move_task(&sim, 46, TaskState::Canceled, None);
    move_task(&sim, 42, TaskState::Closed, None);
    wait_for_value(&prometheus, CREATEREPO_EL9, 2.0).await;

    // increase() extrapolates: it takes the difference between the first and the last
    // sample in the window (2 - 1 = 1 here), then stretches it towards the window's
    // edges by at most half a scrape interval at the start (the series began inside the
    // window) and up to the evaluation time at the end (within 1.1 scrape intervals).
    // With at least 6 s between the first and the last sample and a 1 s scrape interval
    // the result lies between 1 and 1 * (6 + 0.5 + 1.1) / 6.
    let increase = single_value(&prometheus, &format!("increase({CREATEREPO_EL9}[5m])"))
        .await
        .expect("increase() has a value");
    assert!(
        (1.0..=1.0 * (6.0 + 0.5 + 1.1) / 6.0).contains(&increase),
        "increase() = {increase}"
    );
    let raw = aggregator.scrape().await.expect("/metrics answers");
    assert_eq!(
        raw.value(
            "koji_tasks_completed_total",
            &[
                ("state", "closed"),
                ("channel", "createrepo"),
                ("method", "createrepo"),
                ("tag", "el9-build")
            ]
        ),
        2.0
    );
    let total_increase = single_value(&prometheus, "sum(increase(koji_tasks_completed_total[5m]))")
        .await
        .expect("increase() has a value");
    assert!(total_increase > 0.0, "{total_increase}");
}

//! Builds one family of every contract metric, compares the encoded text with
//! `tests/golden/contract.prom`, and runs `promtool check metrics` over it.
//!
//! `UPDATE_GOLDEN=1 cargo test -p koji-metrics --test golden` rewrites the golden file.

use std::path::PathBuf;

use koji_metrics::contract::{self, ALL, MetricDef, MetricKind};
use koji_metrics::proto::MetricFamily;
use koji_metrics::text::{encode_text, parse_text};
use koji_metrics::{FamilyBuilder, HistogramAccumulator, add_labels, check};

/// A label value that needs every escape of the text format.
const TRICKY_VALUE: &str = "say \"hi\" C:\\koji\nsecond line";

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/contract.prom")
}

/// Returns a representative value for each label of the metric called `metric`.
fn label_value(metric: &str, label: &str) -> &'static str {
    match label {
        "state" if metric == contract::TASKS_COMPLETED_TOTAL.name => "closed",
        "reason" if metric == contract::AGENT_PUSH_REJECTIONS_TOTAL.name => "timestamp",
        "host" => "builder01.example.org",
        "arches" => "x86_64 i686",
        "channel" => "default",
        "method" => "buildArch",
        "state" => "open",
        "tag" => "f44-build",
        "result" => "success",
        "reason" => "http_5xx",
        "version" => "0.1.0",
        "check" => "disk",
        "collector" => "kojid",
        "target" => "https://monitor.example.org:9820",
        other => panic!("no representative value for label {other}"),
    }
}

fn build_family(def: &'static MetricDef) -> MetricFamily {
    let values: Vec<&str> = def
        .labels
        .iter()
        .map(|label| label_value(def.name, label))
        .collect();
    let mut builder = FamilyBuilder::new(def);
    match def.kind {
        MetricKind::Histogram => {
            let mut accumulator = HistogramAccumulator::new(def);
            for seconds in [4.0, 25.0, 25.0, 700.0, 5000.0, 100000.0] {
                accumulator.observe(seconds);
            }
            builder.observations(&values, &accumulator).unwrap();
        }
        MetricKind::Gauge | MetricKind::Counter => {
            let value = if def.name.starts_with("push_") {
                1_764_866_567.25
            } else {
                1.0
            };
            builder.sample(&values, value).unwrap();
        }
    }
    let mut family = builder.build();

    if def.name == contract::AGENT_BUILD_INFO.name {
        let mut second = FamilyBuilder::new(def);
        second
            .sample(&["builder02.example.org", TRICKY_VALUE], 1.0)
            .unwrap();
        family.mut_metric().extend(second.build().take_metric());
    }
    if def.labels.is_empty() && def.name.starts_with("push_") {
        add_labels(
            &mut family,
            &[("job", "koji-agent"), ("instance", "builder01.example.org")],
        );
    }
    family
}

fn contract_exposition() -> String {
    let families: Vec<MetricFamily> = ALL.iter().map(|def| build_family(def)).collect();
    assert!(check::find_problems(&families).is_empty());
    encode_text(&families)
}

#[test]
fn contract_matches_golden() {
    let text = contract_exposition();
    let path = golden_path();
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|value| value == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; run with UPDATE_GOLDEN=1 to write it",
            path.display()
        )
    });
    assert_eq!(
        text,
        golden,
        "encoded contract differs from {}",
        path.display()
    );
}

#[test]
fn golden_parses_back() {
    let text = contract_exposition();
    let families = parse_text(text.as_bytes()).unwrap();
    assert_eq!(families.len(), ALL.len());
    assert_eq!(encode_text(&families), text);

    let info = families
        .iter()
        .find(|family| family.name() == "koji_agent_build_info")
        .unwrap();
    assert_eq!(info.get_metric()[1].get_label()[1].value(), TRICKY_VALUE);
}

#[test]
fn golden_passes_promtool() {
    // The same text as the golden file, which contract_matches_golden compares.
    let text = contract_exposition();
    match koji_test_support::promtool_check_metrics(&text) {
        None => {}
        Some(Ok(())) => {}
        Some(Err(output)) => panic!("{output}"),
    }
}

//! The metrics reference in docs/metrics.md lists every metric of the contract.

use std::path::Path;

#[test]
fn metrics_reference_lists_every_metric() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let reference = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));

    let missing: Vec<&str> = koji_metrics::contract::ALL
        .iter()
        .map(|def| def.name)
        .filter(|name| !reference.contains(&format!("`{name}`")))
        .collect();

    assert!(
        missing.is_empty(),
        "docs/metrics.md does not describe: {missing:?}"
    );
}

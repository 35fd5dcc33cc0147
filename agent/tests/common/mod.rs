//! Helpers shared by the agent's integration tests.

#![allow(dead_code)]

pub mod receiver;

use std::path::{Path, PathBuf};

use koji_agent::config::{Config, RawConfig, RawHub, RawPush};
use koji_agent::probes::Probes;

/// The host name used by the fixture tests.
pub const HOST: &str = "builder01.example.org";

/// Returns the path of a file or directory under `tests/fixtures`.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// Free bytes for the fixture trees: the number in `<dir>/FREE_BYTES`, so each tree chooses
/// its own, and the same error as `statvfs` for a directory that does not exist.
pub fn fixture_free_bytes(dir: &Path) -> std::io::Result<u64> {
    let text = std::fs::read_to_string(dir.join("FREE_BYTES"))?;
    text.trim()
        .parse()
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
}

/// Probes for the fixture trees: free bytes from `FREE_BYTES`, load from the tree's files.
pub fn fixture_probes() -> Probes {
    Probes {
        free_bytes: fixture_free_bytes,
        load: koji_agent::probes::read_load,
    }
}

/// Returns a configuration for the fixture tree `roots/<name>` with the hub off.
pub fn fixture_config(name: &str) -> Config {
    raw_config(&fixture(&format!("roots/{name}")))
        .validate()
        .expect("fixture configuration is valid")
}

/// Returns a raw configuration for `root` with the hub off and no push target.
pub fn raw_config(root: &Path) -> RawConfig {
    RawConfig {
        host: Some(HOST.to_string()),
        root: root.to_path_buf(),
        hub: RawHub {
            enabled: false,
            ..RawHub::default()
        },
        ..RawConfig::default()
    }
}

/// Returns a push target with test-sized timeouts.
pub fn raw_push(url: &str) -> RawPush {
    RawPush {
        url: url.to_string(),
        timeout_secs: 1,
        max_backoff_secs: 1,
        token_file: None,
        cert_file: None,
        key_file: None,
        ca_file: None,
    }
}

/// Replaces the values of `koji_agent_collector_duration_seconds`, which vary from run to
/// run, with 0, after checking that each is a finite non-negative number.
pub fn normalize_durations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("koji_agent_collector_duration_seconds{") {
            let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
            let value: f64 = value.parse().expect("duration is a number");
            assert!(value.is_finite(), "{line}");
            assert!(value >= 0.0, "{line}");
            out.push_str(series);
            out.push_str(" 0\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Compares `actual` with `tests/golden/<name>.prom`; `UPDATE_GOLDEN=1` rewrites the file.
pub fn assert_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1") {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "exposition differs from {}; rerun with UPDATE_GOLDEN=1 if the change is \
         intended\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Returns the value of the one sample line that starts with `series` (name and labels).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    let mut values = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(name, _)| *name == series)
        .map(|(_, value)| value.parse::<f64>().expect("sample value is a number"));
    let value = values.next();
    assert!(values.next().is_none(), "{series} appears more than once");
    value
}

/// Installs rustls' ring provider as the process default. reqwest is built without a
/// provider, so every test that builds a reqwest client (directly or through
/// `koji_test_support`) calls this first.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another test thread may install it first; either provider is ring.
        let _installed = rustls::crypto::ring::default_provider().install_default();
    }
}

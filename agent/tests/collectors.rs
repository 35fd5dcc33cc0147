//! The collectors on the fixture trees under `tests/fixtures/roots`, against golden
//! expositions in `tests/golden` (`UPDATE_GOLDEN=1` rewrites them).

mod common;

use std::path::Path;

use common::{HOST, assert_golden, fixture, fixture_config, fixture_probes, normalize_durations};
use koji_agent::Agent;
use koji_agent::agent::Snapshot;
use koji_agent::collector::certificate::leaf_expiry;
use koji_agent::collector::kojid::{KojidProcesses, find_kojid};
use koji_agent::kojid_conf::{KojidConfError, KojidSettings};

/// Expiry of the leaf certificate in `certs/key-first.pem` and `certs/chain.pem`
/// (notAfter Jan  8 18:15:09 2028 GMT).
const LEAF_EXPIRY: i64 = 1_830_968_109;
/// Expiry of the CA certificate after the leaf in `certs/chain.pem`
/// (notAfter Dec  1 18:15:09 2036 GMT).
const CA_EXPIRY: i64 = 2_111_768_109;

async fn collect(root: &str) -> Snapshot {
    let config = fixture_config(root);
    let mut agent = Agent::with_probes(&config, fixture_probes());
    agent.collect().await
}

fn failure(snapshot: &Snapshot, collector: &str) -> Option<String> {
    let outcome = snapshot
        .outcomes
        .iter()
        .find(|outcome| outcome.name == collector)
        .unwrap_or_else(|| panic!("collector {collector} did not run"));
    outcome.error.as_ref().map(ToString::to_string)
}

#[tokio::test]
async fn busy_builder_golden() {
    let snapshot = collect("busy").await;
    for outcome in &snapshot.outcomes {
        assert_eq!(outcome.error, None, "{}", outcome.name);
    }
    assert_golden("busy", &normalize_durations(&snapshot.text));
}

#[tokio::test]
async fn idle_builder_golden() {
    let snapshot = collect("idle").await;
    for outcome in &snapshot.outcomes {
        assert_eq!(outcome.error, None, "{}", outcome.name);
    }
    assert_golden("idle", &normalize_durations(&snapshot.text));
}

#[tokio::test]
async fn broken_builder_golden() {
    let snapshot = collect("broken").await;
    let root = fixture("roots/broken");

    let config = failure(&snapshot, "config").expect("config fails");
    let kojid_conf = root.join("etc/kojid/kojid.conf");
    assert_eq!(
        config,
        format!(
            "invalid kojid configuration {}, line 3: \"maxjobs 6\" is neither a section header \
             nor an option; write key = value",
            kojid_conf.display()
        )
    );

    // kojid exits on this file, so the collectors that need its settings name the file's
    // problem instead of reading kojid's default mockdir and certificate paths.
    let disk = failure(&snapshot, "disk").expect("disk fails");
    assert_eq!(
        disk,
        format!("mockdir is unknown because kojid.conf could not be read: {config}")
    );
    let certificate = failure(&snapshot, "certificate").expect("certificate fails");
    assert_eq!(
        certificate,
        format!(
            "kojid's client certificate (cert) is unknown because kojid.conf could not be \
             read: {config}"
        )
    );

    assert_eq!(failure(&snapshot, "kojid"), None);
    assert_eq!(failure(&snapshot, "load"), None);
    assert_eq!(failure(&snapshot, "readiness"), None);
    assert_golden("broken", &normalize_durations(&snapshot.text));
}

#[tokio::test]
async fn empty_root_golden() {
    let snapshot = collect("empty").await;
    let config = failure(&snapshot, "config").expect("config fails");
    assert!(config.contains("does not exist"), "{config}");
    assert!(
        config.contains("roots/empty/etc/kojid/kojid.conf"),
        "{config}"
    );
    for collector in ["disk", "certificate"] {
        let error = failure(&snapshot, collector).expect("fails without kojid.conf");
        assert!(
            error.ends_with(&format!("could not be read: {config}")),
            "{collector}: {error}"
        );
    }
    assert_golden("empty", &normalize_durations(&snapshot.text));
}

#[test]
fn goldens_pass_promtool() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("golden directory") {
        let path = entry.expect("golden entry").path();
        if path.extension().is_none_or(|extension| extension != "prom") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read golden file");
        let Some(result) = koji_test_support::promtool_check_metrics(&text) else {
            return;
        };
        if let Err(output) = result {
            panic!("{}: {output}", path.display());
        }
        checked += 1;
    }
    assert!(
        checked >= 4,
        "only {checked} golden files found in {}",
        dir.display()
    );
}

#[test]
fn every_sample_carries_the_host() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for name in ["busy", "idle", "broken", "empty"] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.prom"))).unwrap();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            assert!(
                line.contains(&format!("host=\"{HOST}\"")),
                "{name}: sample without host: {line}"
            );
        }
    }
}

#[test]
fn kojid_conf_defaults() {
    let settings = KojidSettings::read(&fixture("kojid-conf/defaults.conf")).unwrap();
    let expected = KojidSettings {
        server: Some("https://koji.example.org/kojihub".to_string()),
        ..KojidSettings::default()
    };
    assert_eq!(settings, expected);
    assert_eq!(settings.mockdir, Path::new("/var/lib/mock"));
    assert_eq!(settings.workdir, Path::new("/var/tmp/koji"));
    assert_eq!(settings.minspace_mib, 8192);
    assert_eq!(settings.minspace_bytes(), 8_589_934_592);
    assert_eq!(settings.maxjobs, 10);
    assert_eq!(settings.sleeptime_secs, 15);
    assert_eq!(settings.cert_path(), Path::new("/etc/kojid/client.crt"));
    assert_eq!(
        settings.serverca_path(),
        Path::new("/etc/kojid/serverca.crt")
    );
}

#[test]
fn kojid_conf_every_key() {
    let settings = KojidSettings::read(&fixture("kojid-conf/all-keys.conf")).unwrap();
    assert_eq!(
        settings,
        KojidSettings {
            server: Some("https://koji.example.org/kojihub".to_string()),
            serverca: Some("/etc/pki/koji/koji-ca.pem".into()),
            cert: Some("/etc/pki/koji/builder01.pem".into()),
            mockdir: "/srv/mock".into(),
            workdir: "/srv/koji-work".into(),
            minspace_mib: 16384,
            maxjobs: 6,
            sleeptime_secs: 5,
        }
    );
}

#[test]
fn kojid_conf_comments_and_case() {
    let settings = KojidSettings::read(&fixture("kojid-conf/comments-case.conf")).unwrap();
    assert_eq!(settings.maxjobs, 4);
    assert_eq!(settings.minspace_mib, 2048);
    assert_eq!(settings.sleeptime_secs, 30, "inherited from [DEFAULT]");
    assert_eq!(settings.mockdir, Path::new("/var/lib/mock-ssd"));
    assert_eq!(
        settings.server.as_deref(),
        Some(
            "https://koji.example.org/kojihub ; not a comment: configparser has no inline \
             comments"
        )
    );
}

#[test]
fn kojid_conf_malformed() {
    let path = fixture("kojid-conf/malformed.conf");
    let error = KojidSettings::read(&path).unwrap_err();
    assert_eq!(
        error,
        KojidConfError::Syntax {
            path: path.clone(),
            line: 3,
            message: "\"maxjobs 6\" is neither a section header nor an option; write key = \
                      value"
                .to_string(),
        }
    );

    let path = fixture("kojid-conf/bad-integer.conf");
    let error = KojidSettings::read(&path).unwrap_err();
    assert_eq!(
        error,
        KojidConfError::NotInteger {
            path,
            line: 3,
            key: "minspace".to_string(),
            value: "8 GiB".to_string(),
        }
    );
}

#[test]
fn kojid_found_with_task_children() {
    let found = find_kojid(&fixture("roots/busy/proc")).unwrap();
    assert_eq!(
        found,
        Some(KojidProcesses {
            pid: 812,
            start_ticks: 250_000,
            task_processes: 2,
        }),
        "pid 812 is the main process; 2001 and 2002 are its task children; zombie 2003, \
         pid 3001 without a stat file, and the other processes do not count"
    );
}

#[test]
fn kojid_found_under_odd_path() {
    let found = find_kojid(&fixture("roots/idle/proc")).unwrap();
    assert_eq!(
        found,
        Some(KojidProcesses {
            pid: 4000,
            start_ticks: 123_456,
            task_processes: 0,
        })
    );
}

#[test]
fn kojid_absent() {
    assert_eq!(find_kojid(&fixture("roots/broken/proc")).unwrap(), None);
    assert_eq!(find_kojid(&fixture("roots/empty/proc")).unwrap(), None);

    let error = find_kojid(&fixture("roots/nonexistent/proc")).unwrap_err();
    assert!(
        error.to_string().contains("roots/nonexistent/proc"),
        "{error}"
    );
}

#[test]
fn certificate_leaf_expiry() {
    let read = |name: &str| std::fs::read(fixture(&format!("certs/{name}"))).unwrap();
    assert_eq!(leaf_expiry(&read("key-first.pem")), Ok(LEAF_EXPIRY));
    assert_eq!(leaf_expiry(&read("chain.pem")), Ok(LEAF_EXPIRY));
    assert_ne!(LEAF_EXPIRY, CA_EXPIRY);

    let garbage = leaf_expiry(&read("garbage.pem")).unwrap_err();
    assert_eq!(
        garbage,
        "contains no PEM certificate (no -----BEGIN CERTIFICATE----- block)"
    );
    let key_only = leaf_expiry(&read("key-only.pem")).unwrap_err();
    assert_eq!(key_only, garbage);
    let not_x509 = leaf_expiry(&read("not-x509.pem")).unwrap_err();
    assert!(
        not_x509.starts_with("holds a CERTIFICATE block that is not X.509"),
        "{not_x509}"
    );
}

#[tokio::test]
async fn configured_certificate_missing_fails() {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/kojid");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("kojid.conf"),
        "[kojid]\ncert = /etc/kojid/builder.pem\n",
    )
    .unwrap();
    let mut raw = common::raw_config(root.path());
    raw.collectors = vec!["certificate".to_string()];
    let config = raw.validate().unwrap();

    let snapshot = Agent::with_probes(&config, fixture_probes())
        .collect()
        .await;
    let error = failure(&snapshot, "certificate").expect("certificate fails");
    assert!(
        error.starts_with(&format!(
            "cannot read kojid's client certificate {}: ",
            root.path().join("etc/kojid/builder.pem").display()
        )),
        "{error}"
    );
}

/// Creates a root with `/etc/kojid/kojid.conf` set to `kojid_conf`.
fn kojid_root(kojid_conf: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/kojid");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("kojid.conf"), kojid_conf).unwrap();
    root
}

#[tokio::test]
async fn default_certificate_absent_is_no_failure() {
    let root = kojid_root("[kojid]\nserver = https://koji.example.org/kojihub\n");
    let mut raw = common::raw_config(root.path());
    raw.collectors = vec!["certificate".to_string()];
    let config = raw.validate().unwrap();

    let snapshot = Agent::new(&config).collect().await;
    assert_eq!(failure(&snapshot, "certificate"), None);
    assert!(
        !snapshot
            .text
            .contains("koji_builder_client_cert_expiry_timestamp_seconds{"),
        "{}",
        snapshot.text
    );
}

#[tokio::test]
async fn garbage_certificate_fails() {
    let root = kojid_root("[kojid]\n");
    let certificate = root.path().join("etc/kojid/client.crt");
    std::fs::copy(fixture("certs/garbage.pem"), &certificate).unwrap();
    let mut raw = common::raw_config(root.path());
    raw.collectors = vec!["certificate".to_string()];
    let config = raw.validate().unwrap();

    let snapshot = Agent::new(&config).collect().await;
    assert_eq!(
        failure(&snapshot, "certificate").as_deref(),
        Some(
            format!(
                "kojid's client certificate {} contains no PEM certificate (no -----BEGIN \
                 CERTIFICATE----- block)",
                certificate.display()
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn missing_mockdir_fails_disk_check() {
    let root = kojid_root("[kojid]\nmockdir = /srv/mock\nminspace = 1\n");
    let mut raw = common::raw_config(root.path());
    raw.collectors = vec!["disk".to_string(), "readiness".to_string()];
    let config = raw.validate().unwrap();
    let disk_check = format!("koji_builder_ready_check{{host=\"{HOST}\",check=\"disk\"}}");

    // ENOENT: /srv does not exist.
    let snapshot = Agent::new(&config).collect().await;
    let error = failure(&snapshot, "disk").expect("disk fails");
    assert!(
        error.starts_with(&format!(
            "cannot read the free space of mockdir {}: ",
            root.path().join("srv/mock").display()
        )),
        "{error}"
    );
    assert!(error.contains("create it or fix mockdir in"), "{error}");
    assert_eq!(common::sample(&snapshot.text, &disk_check), Some(0.0));
    assert!(
        !snapshot.text.contains("koji_builder_mockdir_free_bytes{"),
        "{}",
        snapshot.text
    );

    // ENOTDIR: /srv is a file.
    std::fs::write(root.path().join("srv"), "").unwrap();
    let snapshot = Agent::new(&config).collect().await;
    let error = failure(&snapshot, "disk").expect("disk fails");
    assert!(error.contains("Not a directory"), "{error}");
    assert_eq!(common::sample(&snapshot.text, &disk_check), Some(0.0));

    // Once mockdir exists, the check compares its free space with minspace (1 MiB).
    std::fs::remove_file(root.path().join("srv")).unwrap();
    std::fs::create_dir_all(root.path().join("srv/mock")).unwrap();
    let snapshot = Agent::new(&config).collect().await;
    assert_eq!(failure(&snapshot, "disk"), None);
    assert_eq!(common::sample(&snapshot.text, &disk_check), Some(1.0));
}

#[tokio::test]
async fn bad_kojid_conf_names_file_not_defaults() {
    let root = kojid_root("[kojid]\nmockdir = /srv/mock\nmaxjobs = abc\n");
    std::fs::create_dir_all(root.path().join("srv/mock")).unwrap();
    let config = common::raw_config(root.path()).validate().unwrap();

    let snapshot = Agent::new(&config).collect().await;
    let kojid_conf = root.path().join("etc/kojid/kojid.conf");
    let problem = format!(
        "invalid kojid configuration {}, line 3: maxjobs = \"abc\" is not an integer",
        kojid_conf.display()
    );
    for (collector, setting) in [
        ("disk", "mockdir"),
        ("certificate", "kojid's client certificate (cert)"),
    ] {
        let error = failure(&snapshot, collector).expect("fails on a bad kojid.conf");
        assert!(
            error.starts_with(&format!(
                "{setting} is unknown because kojid.conf could not be read: {problem}"
            )),
            "{collector}: {error}"
        );
        assert!(!error.contains("/var/lib/mock"), "{collector}: {error}");
    }
    assert!(
        !snapshot.text.contains("koji_builder_mockdir_free_bytes{"),
        "{}",
        snapshot.text
    );
    assert!(
        !snapshot.text.contains("check=\"disk\""),
        "{}",
        snapshot.text
    );
}

#[tokio::test]
async fn disk_reads_statvfs() {
    let root = kojid_root("[kojid]\n");
    std::fs::create_dir_all(root.path().join("var/lib/mock")).unwrap();
    let mut raw = common::raw_config(root.path());
    raw.collectors = vec!["disk".to_string()];
    let config = raw.validate().unwrap();

    let snapshot = Agent::new(&config).collect().await;
    assert_eq!(failure(&snapshot, "disk"), None);
    let free = common::sample(
        &snapshot.text,
        &format!("koji_builder_mockdir_free_bytes{{host=\"{HOST}\"}}"),
    )
    .expect("free bytes reported");
    assert!(free > 0.0, "{free}");
}

#[tokio::test]
async fn collectors_run_only_when_enabled() {
    let mut raw = common::raw_config(&fixture("roots/busy"));
    raw.collectors = vec!["kojid".to_string(), "load".to_string()];
    let config = raw.validate().unwrap();
    let mut agent = Agent::with_probes(&config, fixture_probes());
    assert_eq!(agent.collector_names(), ["kojid", "load"]);

    let snapshot = agent.collect().await;
    assert!(snapshot.text.contains("koji_builder_kojid_up{"));
    assert!(snapshot.text.contains("koji_builder_load1{"));
    assert!(!snapshot.text.contains("koji_builder_maxjobs{"));
    assert!(!snapshot.text.contains("koji_builder_ready_check{"));
}

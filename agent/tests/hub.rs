//! The `hub` and `readiness` collectors against the Koji hub simulator.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{fixture, sample};
use koji_agent::Agent;
use koji_agent::collector::hub::HubCollector;
use koji_agent::collector::readiness::ReadinessCollector;
use koji_agent::collector::{CollectError, Collector, Cycle, Families};
use koji_agent::config::{HubConfig, RawConfig, RawHub};
use koji_agent::probes::Probes;
use koji_hub_sim::{
    CheckIn, FaultAction, FaultRule, HubSim, NewTask, Scenario, SimHandle, SimOptions, StateChange,
    TaskState, VersionMode,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// The builder of the `small` scenario that has OPEN tasks.
const B1: &str = "b1.lab.example.org";

async fn start_sim(version: VersionMode) -> SimHandle {
    let scenario = Scenario::shipped("small").expect("small scenario");
    let options = SimOptions {
        version,
        ..SimOptions::default()
    };
    HubSim::start(scenario, options)
        .await
        .expect("start the simulator")
}

fn hub_settings(url: Option<String>) -> HubConfig {
    HubConfig {
        enabled: true,
        url,
        ca_file: None,
        interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(5),
    }
}

/// One cycle of the hub and readiness collectors for `host` on the fixture tree `root`
/// (whose kojid.conf sets maxjobs 6). Returns the exposition and the hub outcome.
async fn hub_cycle(
    hub: &mut HubCollector,
    host: &str,
    root: &Path,
) -> (String, Result<(), CollectError>) {
    let mut cycle = Cycle::start(
        host,
        root,
        Path::new("/etc/kojid/kojid.conf"),
        Probes::default(),
    );
    let mut out = Families::default();
    let result = hub.collect(&mut cycle, &mut out).await;
    ReadinessCollector
        .collect(&mut cycle, &mut out)
        .await
        .expect("readiness never fails");
    (koji_metrics::encode_text(out.as_slice()), result)
}

fn series(name: &str, host: &str) -> String {
    format!("{name}{{host=\"{host}\"}}")
}

fn check(host: &str, check: &str) -> String {
    format!("koji_builder_ready_check{{host=\"{host}\",check=\"{check}\"}}")
}

fn running(host: &str, method: &str) -> String {
    format!("koji_builder_running_tasks{{host=\"{host}\",method=\"{method}\"}}")
}

#[tokio::test]
async fn hub_view_follows_simulator() {
    let sim = start_sim(VersionMode::Current).await;
    let root = fixture("roots/busy");
    let mut hub = HubCollector::new(hub_settings(Some(sim.url())));

    // Initial state: b1 checked in 20 s ago, with an OPEN build (a waiting parent), an OPEN
    // buildArch and an ASSIGNED tagBuild, which does not count.
    let (text, result) = hub_cycle(&mut hub, B1, &root).await;
    assert_eq!(result, Ok(()));
    let now = sim.now();
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(1.0));
    assert_eq!(
        sample(&text, &series("koji_builder_enabled", B1)),
        Some(1.0)
    );
    assert_eq!(sample(&text, &series("koji_builder_ready", B1)), Some(1.0));
    assert_eq!(
        sample(&text, &series("koji_builder_capacity", B1)),
        Some(4.0)
    );
    assert_eq!(
        sample(&text, &series("koji_builder_task_load", B1)),
        Some(2.5)
    );
    let last_update = sample(
        &text,
        &series("koji_builder_last_update_timestamp_seconds", B1),
    );
    assert_eq!(last_update, Some(now - 20.0));
    assert_eq!(sample(&text, &running(B1, "build")), Some(1.0));
    assert_eq!(sample(&text, &running(B1, "buildArch")), Some(1.0));
    assert_eq!(sample(&text, &running(B1, "tagBuild")), None);
    assert_eq!(sample(&text, &check(B1, "enabled")), Some(1.0));
    assert_eq!(sample(&text, &check(B1, "capacity")), Some(1.0));
    assert_eq!(sample(&text, &check(B1, "maxjobs")), Some(1.0));

    let stats = sim.stats();
    assert_eq!(
        stats.method("getHost").calls,
        2,
        "one lookup by name, one in the multicall"
    );
    assert_eq!(stats.method("multiCall").calls, 1);
    assert_eq!(stats.method("listTasks").calls, 1);

    // A check-in 30 s later that reports a load above the capacity and not ready.
    sim.advance(30.0).unwrap();
    sim.check_in(
        B1,
        CheckIn {
            task_load: Some(5.0),
            ready: Some(false),
        },
    )
    .unwrap();
    hub.refresh_next_cycle();
    let (text, result) = hub_cycle(&mut hub, B1, &root).await;
    assert_eq!(result, Ok(()));
    let checked_in = sim.now();
    assert_eq!(
        sample(
            &text,
            &series("koji_builder_last_update_timestamp_seconds", B1)
        ),
        Some(checked_in)
    );
    assert_eq!(
        sample(&text, &series("koji_builder_task_load", B1)),
        Some(5.0)
    );
    assert_eq!(sample(&text, &series("koji_builder_ready", B1)), Some(0.0));
    assert_eq!(sample(&text, &check(B1, "capacity")), Some(0.0));
    assert_eq!(
        sim.stats().method("getHost").calls,
        3,
        "the host id is cached: the refresh looks the host up by id only"
    );

    // The admin disables the host.
    sim.set_host_enabled(B1, false).unwrap();
    hub.refresh_next_cycle();
    let (text, _) = hub_cycle(&mut hub, B1, &root).await;
    assert_eq!(
        sample(&text, &series("koji_builder_enabled", B1)),
        Some(0.0)
    );
    assert_eq!(sample(&text, &check(B1, "enabled")), Some(0.0));

    // Tasks open on the host: maxjobs is 6 in the fixture's kojid.conf.
    let mut opened = Vec::new();
    for _ in 0..4 {
        let task = NewTask {
            channel: Some("createrepo".into()),
            state: Some(TaskState::Open),
            host: Some(B1.into()),
            ..NewTask::new("createrepo", Vec::new())
        };
        opened.push(sim.create_task(task).unwrap());
    }
    hub.refresh_next_cycle();
    let (text, _) = hub_cycle(&mut hub, B1, &root).await;
    assert_eq!(sample(&text, &running(B1, "createrepo")), Some(4.0));
    assert_eq!(
        sample(&text, &check(B1, "maxjobs")),
        Some(0.0),
        "6 OPEN tasks, maxjobs 6"
    );

    // Tasks close.
    for id in &opened {
        sim.set_task_state(*id, StateChange::to(TaskState::Closed))
            .unwrap();
    }
    sim.set_task_state(4294967304, StateChange::to(TaskState::Failed))
        .unwrap();
    hub.refresh_next_cycle();
    let (text, _) = hub_cycle(&mut hub, B1, &root).await;
    assert_eq!(sample(&text, &running(B1, "createrepo")), None);
    assert_eq!(sample(&text, &running(B1, "buildArch")), None);
    assert_eq!(sample(&text, &running(B1, "build")), Some(1.0));
    assert_eq!(sample(&text, &check(B1, "maxjobs")), Some(1.0));
}

#[tokio::test]
async fn hub_view_reused_between_refreshes() {
    let sim = start_sim(VersionMode::Current).await;
    let root = fixture("roots/busy");
    let mut hub = HubCollector::new(hub_settings(Some(sim.url())));

    let (first, _) = hub_cycle(&mut hub, B1, &root).await;
    sim.set_host_enabled(B1, false).unwrap();
    let (second, result) = hub_cycle(&mut hub, B1, &root).await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        first, second,
        "the interval has not passed, so the last view is reported"
    );
    assert_eq!(sim.stats().method("multiCall").calls, 1);
}

#[tokio::test]
async fn never_checked_in_has_no_last_update() {
    let sim = start_sim(VersionMode::Current).await;
    let host = "spare.lab.example.org";
    let mut hub = HubCollector::new(hub_settings(Some(sim.url())));
    let (text, result) = hub_cycle(&mut hub, host, &fixture("roots/busy")).await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        sample(&text, &series("koji_builder_enabled", host)),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            &series("koji_builder_last_update_timestamp_seconds", host)
        ),
        None
    );
    assert!(!text.contains("koji_builder_running_tasks"), "{text}");
}

#[tokio::test]
async fn old_hubs_report_last_session() {
    for version in [VersionMode::Pre133, VersionMode::Pre125] {
        let sim = start_sim(version).await;
        let mut hub = HubCollector::new(hub_settings(Some(sim.url())));
        let (text, result) = hub_cycle(&mut hub, B1, &fixture("roots/busy")).await;
        assert_eq!(result, Ok(()), "{version:?}");
        // b1's last session was 5 s ago; its last check-in (update_ts) 20 s ago.
        let expected = sim.now() - 5.0;
        let got = sample(
            &text,
            &series("koji_builder_last_update_timestamp_seconds", B1),
        )
        .unwrap_or_else(|| panic!("{version:?}: no last update"));
        assert!(
            (got - expected).abs() < 1e-3,
            "{version:?}: {got} != {expected}"
        );
        assert!(
            sim.stats().method("getLastHostUpdate").calls >= 1,
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn hub_url_from_kojid_conf() {
    let sim = start_sim(VersionMode::Current).await;
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/kojid");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("kojid.conf"),
        format!("[kojid]\nserver = {}\n", sim.url()),
    )
    .unwrap();

    let mut hub = HubCollector::new(hub_settings(None));
    let (text, result) = hub_cycle(&mut hub, B1, root.path()).await;
    assert_eq!(result, Ok(()));
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(1.0));
}

/// Returns the path of a file from the koji crate's TLS tests. There `ca.crt` signed
/// `hub.crt`, which is valid for 127.0.0.1, and `hub.key` is its private key.
fn koji_tls_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../koji/tests/tls")
        .join(name)
}

fn hub_tls_config() -> Arc<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(koji_tls_file("hub.crt"))
        .expect("read hub.crt")
        .collect::<Result<Vec<_>, _>>()
        .expect("parse hub.crt");
    let key = PrivateKeyDer::from_pem_file(koji_tls_file("hub.key")).expect("read hub.key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("hub certificate and key");
    Arc::new(config)
}

/// Starts an HTTPS front for the hub simulator at `backend` and returns its hub URL. Each
/// connection runs on its own thread, which decrypts what the client sends, relays it to the
/// simulator and encrypts the replies, until either side closes.
fn start_tls_front(backend: SocketAddr) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!(
        "https://{}/kojihub",
        listener.local_addr().expect("local address")
    );
    let config = hub_tls_config();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else {
                return;
            };
            let config = Arc::clone(&config);
            // A failed handshake ends the relay; the client reports it.
            std::thread::spawn(move || relay_tls(client, backend, config));
        }
    });
    url
}

fn relay_tls(
    client: TcpStream,
    backend: SocketAddr,
    config: Arc<ServerConfig>,
) -> std::io::Result<()> {
    // Short read timeouts let one thread poll both directions.
    let poll = Some(Duration::from_millis(5));
    client.set_read_timeout(poll)?;
    let mut hub = TcpStream::connect(backend)?;
    hub.set_read_timeout(poll)?;
    let connection = ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(connection, client);
    let is_timeout = |error: &std::io::Error| {
        matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };

    let mut buffer = vec![0; 64 * 1024];
    loop {
        match tls.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(count) => hub.write_all(&buffer[..count])?,
            Err(error) if is_timeout(&error) => {}
            Err(error) => return Err(error),
        }
        match hub.read(&mut buffer) {
            Ok(0) => {
                tls.conn.send_close_notify();
                return tls.flush();
            }
            Ok(count) => {
                tls.write_all(&buffer[..count])?;
                tls.flush()?;
            }
            Err(error) if is_timeout(&error) => {}
            Err(error) => return Err(error),
        }
    }
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
async fn hub_ca_from_kojid_serverca() {
    let sim = start_sim(VersionMode::Current).await;
    let url = start_tls_front(sim.addr());
    // serverca is not kojid's default path, so only the key can lead the agent to the CA.
    let root = kojid_root(&format!(
        "[kojid]\nserver = {url}\nserverca = /etc/pki/koji/hub-ca.crt\n"
    ));
    let ca_dir = root.path().join("etc/pki/koji");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(koji_tls_file("ca.crt"), ca_dir.join("hub-ca.crt")).unwrap();

    let mut hub = HubCollector::new(hub_settings(None));
    let (text, result) = hub_cycle(&mut hub, B1, root.path()).await;
    assert_eq!(result, Ok(()));
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(1.0));
    assert_eq!(
        sample(&text, &series("koji_builder_enabled", B1)),
        Some(1.0)
    );
    assert_eq!(sim.stats().method("multiCall").calls, 1);
}

#[tokio::test]
async fn https_hub_without_serverca_untrusted() {
    let sim = start_sim(VersionMode::Current).await;
    let url = start_tls_front(sim.addr());
    // No serverca and no file at kojid's default path: the client trusts the system roots,
    // which do not contain the test CA.
    let root = kojid_root(&format!("[kojid]\nserver = {url}\n"));

    let mut hub = HubCollector::new(hub_settings(None));
    let (text, result) = hub_cycle(&mut hub, B1, root.path()).await;
    let error = result.unwrap_err().to_string();
    assert!(error.contains(&url), "{error}");
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(0.0));
    assert!(!text.contains("koji_builder_enabled"), "{text}");
    assert_eq!(sim.stats().total.calls, 0, "no call reached the hub");
}

#[tokio::test]
async fn missing_hub_url_names_both_places() {
    let root = tempfile::tempdir().unwrap();
    let mut hub = HubCollector::new(hub_settings(None));
    let (text, result) = hub_cycle(&mut hub, B1, root.path()).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with("no hub URL: set url in the [hub] section"),
        "{error}"
    );
    assert!(error.contains("etc/kojid/kojid.conf"), "{error}");
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(0.0));
}

#[tokio::test]
async fn bad_kojid_conf_needs_agent_hub_settings() {
    let sim = start_sim(VersionMode::Current).await;
    let tls_url = start_tls_front(sim.addr());
    // kojid exits on this file, so its server, serverca and maxjobs are unknown.
    let root = kojid_root(&format!(
        "[kojid]\nserver = {tls_url}\nserverca = /etc/pki/koji/hub-ca.crt\nmaxjobs 6\n"
    ));
    let problem = format!(
        "invalid kojid configuration {}, line 4:",
        root.path().join("etc/kojid/kojid.conf").display()
    );

    let mut hub = HubCollector::new(hub_settings(None));
    let (_, result) = hub_cycle(&mut hub, B1, root.path()).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with(
            "no hub URL: set url in the [hub] section of agent.toml, or fix kojid.conf"
        ),
        "{error}"
    );
    assert!(error.contains(&problem), "{error}");

    let mut hub = HubCollector::new(hub_settings(Some(tls_url.clone())));
    let (_, result) = hub_cycle(&mut hub, B1, root.path()).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "no CA bundle for the hub at {tls_url}: set ca_file in the [hub] section"
        )),
        "{error}"
    );
    assert!(error.contains(&problem), "{error}");
    assert_eq!(sim.stats().total.calls, 0, "no call reached the hub");

    // A plain HTTP URL in agent.toml needs nothing from kojid.conf. The readiness rules
    // that need maxjobs are left out, the others stay.
    let mut hub = HubCollector::new(hub_settings(Some(sim.url())));
    let (text, result) = hub_cycle(&mut hub, B1, root.path()).await;
    assert_eq!(result, Ok(()));
    assert_eq!(sample(&text, &check(B1, "enabled")), Some(1.0));
    assert_eq!(sample(&text, &check(B1, "capacity")), Some(1.0));
    assert_eq!(sample(&text, &check(B1, "maxjobs")), None, "{text}");
}

#[tokio::test]
async fn unreachable_hub_is_data() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/kojihub", listener.local_addr().unwrap());
    drop(listener);

    let mut hub = HubCollector::new(hub_settings(Some(url.clone())));
    let (text, result) = hub_cycle(&mut hub, B1, &fixture("roots/busy")).await;
    let error = result.unwrap_err().to_string();
    assert!(error.contains(&url), "{error}");
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(0.0));
    assert!(!text.contains("koji_builder_enabled"), "{text}");
    for hub_check in ["enabled", "capacity", "maxjobs"] {
        assert_eq!(sample(&text, &check(B1, hub_check)), None, "{hub_check}");
    }
}

#[tokio::test]
async fn hub_faults_are_data() {
    let sim = start_sim(VersionMode::Current).await;
    let root = fixture("roots/busy");
    let mut hub = HubCollector::new(hub_settings(Some(sim.url())));

    let rule = sim
        .inject(FaultRule::new(
            Some("getHost"),
            FaultAction::Fault {
                code: 1014,
                string: "server is offline".to_string(),
            },
            None,
        ))
        .unwrap();
    let (text, result) = hub_cycle(&mut hub, B1, &root).await;
    let error = result.unwrap_err().to_string();
    assert!(error.contains("server is offline"), "{error}");
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(0.0));
    sim.remove_fault(rule);

    sim.inject(FaultRule::new(
        Some("multiCall"),
        FaultAction::HttpError { status: 503 },
        Some(1),
    ))
    .unwrap();
    hub.refresh_next_cycle();
    let (_, result) = hub_cycle(&mut hub, B1, &root).await;
    let error = result.unwrap_err().to_string();
    assert!(error.contains("HTTP 503"), "{error}");
    assert!(error.contains(&sim.url()), "{error}");

    hub.refresh_next_cycle();
    let (text, result) = hub_cycle(&mut hub, B1, &root).await;
    assert_eq!(result, Ok(()), "the hub recovered");
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(1.0));
}

#[tokio::test]
async fn unknown_host_names_the_fix() {
    let sim = start_sim(VersionMode::Current).await;
    let mut hub = HubCollector::new(hub_settings(Some(sim.url())));
    let (text, result) = hub_cycle(&mut hub, "nosuch.example.org", &fixture("roots/busy")).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("has no host named \"nosuch.example.org\"; set host in agent.toml"),
        "{error}"
    );
    assert_eq!(
        sample(&text, &series("koji_agent_hub_up", "nosuch.example.org")),
        Some(1.0),
        "the hub replied, so it is reachable"
    );
    assert!(!text.contains("koji_builder_enabled"), "{text}");
}

#[tokio::test]
async fn hub_fault_keeps_hub_up() {
    let sim = start_sim(VersionMode::Current).await;
    sim.inject(FaultRule::new(
        Some("getHost"),
        FaultAction::Fault {
            code: 1000,
            string: "database error".to_string(),
        },
        None,
    ))
    .unwrap();
    let mut hub = HubCollector::new(hub_settings(Some(sim.url())));

    let (text, result) = hub_cycle(&mut hub, B1, &fixture("roots/busy")).await;

    assert!(result.unwrap_err().to_string().contains("database error"));
    assert_eq!(sample(&text, &series("koji_agent_hub_up", B1)), Some(1.0));
}

#[tokio::test]
async fn hub_off_exports_no_hub_rows() {
    let sim = start_sim(VersionMode::Current).await;
    let raw = RawConfig {
        host: Some(B1.to_string()),
        root: fixture("roots/busy"),
        hub: RawHub {
            enabled: false,
            url: Some(sim.url()),
            ..RawHub::default()
        },
        ..RawConfig::default()
    };
    let config = raw.validate().unwrap();
    let mut agent = Agent::with_probes(&config, common::fixture_probes());
    assert!(!agent.collector_names().contains(&"hub"));

    let snapshot = agent.collect().await;
    assert!(
        !snapshot.text.contains("koji_agent_hub_up"),
        "{}",
        snapshot.text
    );
    assert!(
        !snapshot.text.contains("koji_builder_enabled"),
        "{}",
        snapshot.text
    );
    assert_eq!(sim.stats().total.calls, 0, "no call reached the hub");
}

#[tokio::test]
async fn full_cycle_with_hub_golden() {
    let sim = start_sim(VersionMode::Current).await;
    let raw = RawConfig {
        host: Some(B1.to_string()),
        root: fixture("roots/busy"),
        hub: RawHub {
            url: Some(sim.url()),
            ..RawHub::default()
        },
        ..RawConfig::default()
    };
    let config = raw.validate().unwrap();
    let snapshot = Agent::with_probes(&config, common::fixture_probes())
        .collect()
        .await;
    for outcome in &snapshot.outcomes {
        assert_eq!(outcome.error, None, "{}", outcome.name);
    }
    common::assert_golden("busy-hub", &common::normalize_durations(&snapshot.text));
}

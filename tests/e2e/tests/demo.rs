//! `scripts/demo`, the first command of the README: it must start the simulator, the
//! aggregator and three agents, and print the combined view with data in every section.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use koji_test_support::{require_tool, workspace_root};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The demo builds the workspace first, which takes minutes on a cold target directory.
const TIMEOUT: Duration = Duration::from_secs(600);

const AGENT_HOSTS: [&str; 3] = [
    "buildvm-x86-01.example.com",
    "buildvm-a64-01.example.com",
    "buildvm-s390x-01.example.com",
];

/// Runs `scripts/demo` and returns its exit status and standard output, stopping it with
/// SIGTERM (which its trap turns into a cleanup of every child) after `TIMEOUT`.
fn run_demo() -> (std::process::ExitStatus, String, String) {
    let mut child = Command::new(workspace_root().join("scripts/demo"))
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scripts/demo");

    let started = Instant::now();
    while child.try_wait().expect("poll scripts/demo").is_none() {
        if started.elapsed() > TIMEOUT {
            let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits in i32"));
            let _signal_result = kill(pid, Signal::SIGTERM);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let output = child.wait_with_output().expect("collect the demo's output");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Returns the lines of `section` (from its `## ` title to the next one).
fn section<'a>(stdout: &'a str, title: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|line| *line != format!("## {title}"))
        .skip(1)
        .take_while(|line| !line.starts_with("## ") && !line.is_empty())
        .collect()
}

#[test]
fn demo_prints_combined_view() {
    if require_tool("python3").is_none() || require_tool("cargo").is_none() {
        return;
    }

    let (status, stdout, stderr) = run_demo();
    assert!(
        status.success(),
        "scripts/demo failed with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let hub = section(&stdout, "Hub");
    assert!(
        hub.contains(&"koji_hub_polls_total{result=\"failure\"} 0"),
        "{stdout}"
    );
    assert!(hub.contains(&"koji_hub_up 1"), "{stdout}");

    let builders = section(&stdout, "Builders: enabled, ready, capacity, task load");
    assert!(
        builders.contains(&"koji_builder_capacity{host=\"buildvm-x86-01.example.com\"} 10"),
        "{stdout}"
    );
    assert!(
        builders.contains(&"koji_builder_enabled{host=\"buildvm-ppc64le-02.example.com\"} 0"),
        "{stdout}"
    );

    let checks = section(&stdout, "Builders: why not ready (from the agents)");
    let local = section(&stdout, "Builders: local state (from the agents)");
    let freshness = section(&stdout, "Agent freshness");
    for host in AGENT_HOSTS {
        let prefix = format!("koji_agent_last_push_timestamp_seconds{{host=\"{host}\"}} ");
        assert!(
            freshness.iter().any(|line| line.starts_with(&prefix)),
            "no push from {host}:\n{stdout}"
        );
        let kojid = format!("koji_builder_kojid_up{{host=\"{host}\"");
        assert!(
            local.iter().any(|line| line.starts_with(&kojid)),
            "no kojid_up of {host}:\n{stdout}"
        );
    }
    let load_check = "koji_builder_ready_check{check=\"load\",host=\"buildvm-s390x-01.example.com\",\
                      instance=\"buildvm-s390x-01.example.com\",job=\"koji-agent\"} 0";
    assert!(
        checks.contains(&load_check),
        "the broken builder's load of 40 on 2 CPUs fails kojid's load rule:\n{stdout}"
    );

    assert!(!section(&stdout, "Channels").is_empty(), "{stdout}");
    assert!(
        !section(&stdout, "Active tasks by state").is_empty(),
        "{stdout}"
    );
}

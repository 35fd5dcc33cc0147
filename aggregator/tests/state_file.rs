//! A state file that cannot be used stops the aggregator at start with a message naming
//! the file and what to do, and `--check-config` reports the same problem.

mod common;

use std::path::Path;
use std::process::ExitStatus;

use common::binary::{run_to_end, write_config};

const HUB_URL: &str = "http://127.0.0.1:9/kojihub";

/// What the binary wrote: its exit status, its log (stderr) or report (stdout), and the
/// path of the state file.
type Outcome = (ExitStatus, String, String);

/// Runs the binary with a state directory `dir/state` prepared by `prepare`, once to start
/// and once with `--check-config`, and returns both outcomes.
fn start_with_state(prepare: impl FnOnce(&Path)) -> (ExitStatus, String, String, Outcome) {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    prepare(&state_dir);
    let config = write_config(
        dir.path(),
        &format!(
            "listen = \"127.0.0.1:0\"\nstate_dir = {:?}\n[hub]\nurl = {HUB_URL:?}\n",
            state_dir.display().to_string()
        ),
    );
    let path = state_dir.join("state.json").display().to_string();
    let (status, _, stderr) = run_to_end(&["--config", config.to_str().unwrap()]);
    let (check_status, report, _) =
        run_to_end(&["--config", config.to_str().unwrap(), "--check-config"]);
    (status, stderr, path.clone(), (check_status, report, path))
}

/// Asserts that `--check-config` failed with status 1 and a report that names the file and
/// contains `expected`.
fn assert_check_reports(check: &Outcome, expected: &str) {
    let (status, report, path) = check;
    assert_eq!(status.code(), Some(1), "{report}");
    assert!(report.contains(path.as_str()), "{report}");
    assert!(report.contains(expected), "{report}");
}

#[test]
fn corrupt_state_file_stops_start() {
    let (status, log, path, check) = start_with_state(|dir| {
        std::fs::write(
            dir.join("state.json"),
            b"{\"version\": 1, \"hub_url\": trunc",
        )
        .unwrap();
    });

    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(&path), "{log}");
    assert!(log.contains("is corrupt"), "{log}");
    assert!(
        log.contains("restore it from a backup, or move it away"),
        "{log}"
    );
    assert_check_reports(&check, "is corrupt");
}

#[test]
fn unreadable_state_file_stops_start() {
    // A directory in place of the file cannot be read, even by root.
    let (status, log, path, check) = start_with_state(|dir| {
        std::fs::create_dir(dir.join("state.json")).unwrap();
    });

    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(&format!("cannot read {path}")), "{log}");
    assert!(
        log.contains("fix its permissions, or move it away"),
        "{log}"
    );
    assert_check_reports(&check, "fix its permissions, or move it away");
}

#[test]
fn state_file_of_another_hub_stops_start() {
    let other = "https://other.example.org/kojihub";
    let (status, log, path, check) = start_with_state(|dir| {
        let state = koji_aggregator::hub::PollerState::default();
        koji_aggregator::hub::state_file::save(&dir.join("state.json"), other, &state, 0.0)
            .unwrap();
    });

    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(&path), "{log}");
    assert!(log.contains(other), "{log}");
    assert!(log.contains(HUB_URL), "{log}");
    assert!(log.contains("move"), "{log}");
    assert_check_reports(&check, other);
}

//! A state file that cannot be used stops the aggregator at start with a message naming
//! the file and what to do.

mod common;

use std::path::Path;
use std::process::ExitStatus;

use common::binary::{run_to_end, write_config};

const HUB_URL: &str = "http://127.0.0.1:9/kojihub";

/// Runs the binary with a state directory `dir/state` prepared by `prepare`.
fn start_with_state(prepare: impl FnOnce(&Path)) -> (ExitStatus, String, String) {
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
    let (status, _, stderr) = run_to_end(&["--config", config.to_str().unwrap()]);
    (
        status,
        stderr,
        state_dir.join("state.json").display().to_string(),
    )
}

#[test]
fn corrupt_state_file_stops_start() {
    let (status, log, path) = start_with_state(|dir| {
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
}

#[test]
fn unreadable_state_file_stops_start() {
    // A directory in place of the file cannot be read, even by root.
    let (status, log, path) = start_with_state(|dir| {
        std::fs::create_dir(dir.join("state.json")).unwrap();
    });

    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(&format!("cannot read {path}")), "{log}");
    assert!(
        log.contains("fix its permissions, or move it away"),
        "{log}"
    );
}

#[test]
fn state_file_of_another_hub_stops_start() {
    let other = "https://other.example.org/kojihub";
    let (status, log, path) = start_with_state(|dir| {
        let state = koji_aggregator::hub::PollerState::default();
        koji_aggregator::hub::state_file::save(&dir.join("state.json"), other, &state, 0.0)
            .unwrap();
    });

    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(&path), "{log}");
    assert!(log.contains(other), "{log}");
    assert!(log.contains(HUB_URL), "{log}");
    assert!(log.contains("move"), "{log}");
}

//! The `kojid` collector: whether kojid runs, since when, and how many task processes it has.
//!
//! kojid writes no PID file, so the collector looks for it in `/proc` (under the root) by its
//! command line: a Python interpreter whose arguments include a path ending in `/kojid`, such
//! as `python3 /usr/sbin/kojid --fg --force-lock --verbose`. kojid forks one child per task
//! without changing its command line, so the main process is the kojid process whose parent
//! is not kojid, and its task processes are its kojid children that are not zombies.

use std::collections::BTreeSet;
use std::path::Path;

use koji_metrics::contract::{
    BUILDER_KOJID_START_TIME_SECONDS, BUILDER_KOJID_TASK_PROCESSES, BUILDER_KOJID_UP,
};
use procfs::{ExplicitSystemInfo, FromReadSI, KernelStats};

use super::{CollectError, CollectFuture, Collector, Cycle, Families};

/// The collector's name.
pub const NAME: &str = "kojid";

/// Finds kojid in `/proc`.
#[derive(Debug, Default)]
pub struct KojidCollector {
    /// Boot time from `<root>/proc/stat`, read once.
    boot_time: Option<u64>,
}

impl Collector for KojidCollector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a> {
        Box::pin(std::future::ready(self.collect_now(cycle, out)))
    }
}

impl KojidCollector {
    fn collect_now(&mut self, cycle: &Cycle, out: &mut Families) -> Result<(), CollectError> {
        let proc_root = cycle.root.join("proc");
        let host = cycle.host.as_str();

        let Some(kojid) = find_kojid(&proc_root)? else {
            out.gauge(&BUILDER_KOJID_UP, &[host], 0.0)?;
            return Ok(());
        };

        let boot_time = match self.boot_time {
            Some(boot_time) => boot_time,
            None => {
                let boot_time = read_boot_time(&proc_root)?;
                self.boot_time = Some(boot_time);
                boot_time
            }
        };
        let ticks = procfs::ticks_per_second().max(1);
        let start_time = boot_time as f64 + kojid.start_ticks as f64 / ticks as f64;

        out.gauge(&BUILDER_KOJID_UP, &[host], 1.0)?;
        out.gauge(&BUILDER_KOJID_START_TIME_SECONDS, &[host], start_time)?;
        out.gauge(
            &BUILDER_KOJID_TASK_PROCESSES,
            &[host],
            kojid.task_processes as f64,
        )?;
        Ok(())
    }
}

/// The running kojid, as found in `/proc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KojidProcesses {
    /// Process id of the main process.
    pub pid: i32,
    /// Start of the main process in clock ticks after boot (`starttime` of its stat file).
    pub start_ticks: u64,
    /// Task child processes: kojid children of the main process that are not zombies.
    pub task_processes: usize,
}

/// One kojid process found while scanning.
#[derive(Clone, Copy, Debug)]
struct Found {
    pid: i32,
    ppid: i32,
    state: char,
    start_ticks: u64,
}

/// Returns true for process states that are no longer running: zombie and dead.
fn is_exited(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// Scans the process directories under `proc_root` for kojid.
///
/// Processes that exit during the scan, or whose `cmdline` or `stat` cannot be read, are
/// skipped. Only an unreadable `proc_root` itself is an error.
pub fn find_kojid(proc_root: &Path) -> Result<Option<KojidProcesses>, CollectError> {
    let processes = procfs::process::all_processes_with_root(proc_root).map_err(|error| {
        CollectError::new(format!(
            "cannot list processes in {}: {error}",
            proc_root.display()
        ))
    })?;

    let mut found = Vec::new();
    for process in processes {
        let Ok(process) = process else { continue };
        let Ok(argv) = process.cmdline() else {
            continue;
        };
        if !is_kojid_command(&argv) {
            continue;
        }
        let Ok(stat) = process.stat() else { continue };
        found.push(Found {
            pid: stat.pid,
            ppid: stat.ppid,
            state: stat.state,
            start_ticks: stat.starttime,
        });
    }

    let pids: BTreeSet<i32> = found.iter().map(|process| process.pid).collect();
    let main = found
        .iter()
        .filter(|process| !pids.contains(&process.ppid) && !is_exited(process.state))
        .min_by_key(|process| (process.start_ticks, process.pid));
    let Some(main) = main else {
        return Ok(None);
    };

    let task_processes = found
        .iter()
        .filter(|process| process.ppid == main.pid && !is_exited(process.state))
        .count();
    Ok(Some(KojidProcesses {
        pid: main.pid,
        start_ticks: main.start_ticks,
        task_processes,
    }))
}

/// Returns true when `argv` runs kojid: the program is a Python interpreter (`python3`,
/// `python3.9`, `platform-python`) and a later argument is a path ending in `/kojid`.
///
/// Arguments are compared whole, so paths with spaces or parentheses match as they are.
pub fn is_kojid_command(argv: &[String]) -> bool {
    let Some((program, arguments)) = argv.split_first() else {
        return false;
    };
    let program = program.rsplit('/').next().unwrap_or(program);
    if !program.contains("python") {
        return false;
    }
    arguments
        .iter()
        .any(|argument| argument.ends_with("/kojid"))
}

/// Reads the boot time (`btime`, seconds since the Unix epoch) from `<proc_root>/stat`.
fn read_boot_time(proc_root: &Path) -> Result<u64, CollectError> {
    let path = proc_root.join("stat");
    // Only btime is used; the tick rate and page size matter for fields that are not read.
    let system = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: procfs::ticks_per_second(),
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    };
    KernelStats::from_file(&path, &system)
        .map(|stats| stats.btime)
        .map_err(|error| {
            CollectError::new(format!(
                "cannot read the boot time from {}: {error}",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn kojid_command_lines() {
        let matching = [
            argv(&[
                "python3",
                "/usr/sbin/kojid",
                "--fg",
                "--force-lock",
                "--verbose",
            ]),
            argv(&["/usr/bin/python3", "-s", "/usr/sbin/kojid"]),
            argv(&["/usr/libexec/platform-python", "/usr/sbin/kojid"]),
            argv(&[
                "/usr/bin/python3.11",
                "/opt/koji builder (test)/kojid",
                "--fg",
            ]),
        ];
        for command in matching {
            assert!(is_kojid_command(&command), "{command:?}");
        }

        let other = [
            argv(&[]),
            argv(&["/usr/sbin/kojid"]),
            argv(&["vim", "/usr/sbin/kojid"]),
            argv(&["python3", "/usr/sbin/kojid-helper"]),
            argv(&["python3", "/usr/sbin/kojira"]),
            argv(&["python3 /usr/sbin/kojid --fg"]),
        ];
        for command in other {
            assert!(!is_kojid_command(&command), "{command:?}");
        }
    }
}

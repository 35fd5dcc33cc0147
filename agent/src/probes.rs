//! Readings of the running system that the collectors take through small functions, so that
//! fixture tests can replace them with known numbers.

use std::path::Path;

use sysinfo::{CpuRefreshKind, System};

/// The one-minute load average and the number of online CPUs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadReading {
    /// One-minute load average.
    pub load1: f64,
    /// Online logical CPUs (what kojid gets from `sysconf(_SC_NPROCESSORS_ONLN)`).
    pub cpus: u32,
}

/// The functions through which collectors read the system.
#[derive(Clone, Copy, Debug)]
pub struct Probes {
    /// Free bytes for unprivileged users on the file system of a directory.
    pub free_bytes: fn(&Path) -> std::io::Result<u64>,
    /// Load average and online CPUs of the system under a root directory.
    pub load: fn(&Path) -> Result<LoadReading, String>,
}

impl Default for Probes {
    fn default() -> Self {
        Self {
            free_bytes: statvfs_free_bytes,
            load: read_load,
        }
    }
}

/// Returns `f_bavail * f_bsize` of the file system that contains `path`, by `statvfs`.
pub fn statvfs_free_bytes(path: &Path) -> std::io::Result<u64> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    // Both fields are unsigned and at most 64 bits wide on every Linux target.
    let available = stat.blocks_available() as u64;
    // NOTE: POSIX counts f_bavail in f_frsize units, and df multiplies by f_frsize. kojid's
    // checkSpace (koji/daemon.py) multiplies by f_bsize, so this does too and the disk
    // readiness rule matches kojid. Linux reports both as equal on most file systems. Where
    // they differ (FUSE passes both through from its daemon), this is not the true free space.
    let block_size = stat.block_size() as u64;
    Ok(available.saturating_mul(block_size))
}

/// Reads the load average and the online CPUs.
///
/// With the root `/` the numbers come from sysinfo. Under another root (a fixture tree) they
/// come from `<root>/proc/loadavg` and `<root>/sys/devices/system/cpu/online`.
pub fn read_load(root: &Path) -> Result<LoadReading, String> {
    if root == Path::new("/") {
        let load1 = System::load_average().one;
        let mut system = System::new();
        system.refresh_cpu_list(CpuRefreshKind::nothing());
        let cpus = u32::try_from(system.cpus().len()).unwrap_or(u32::MAX);
        if cpus == 0 {
            return Err("sysinfo found no online CPU in /proc/stat".to_string());
        }
        return Ok(LoadReading { load1, cpus });
    }

    let loadavg_path = root.join("proc/loadavg");
    let loadavg = std::fs::read_to_string(&loadavg_path)
        .map_err(|error| format!("cannot read {}: {error}", loadavg_path.display()))?;
    let load1 = parse_loadavg(&loadavg).ok_or_else(|| {
        format!(
            "{} has no load average: {loadavg:?}",
            loadavg_path.display()
        )
    })?;

    let online_path = root.join("sys/devices/system/cpu/online");
    let online = std::fs::read_to_string(&online_path)
        .map_err(|error| format!("cannot read {}: {error}", online_path.display()))?;
    let cpus = count_cpu_list(&online).ok_or_else(|| {
        format!(
            "{} is not a CPU list such as 0-3,5: {online:?}",
            online_path.display()
        )
    })?;
    Ok(LoadReading { load1, cpus })
}

/// Returns the one-minute load average, the first field of `/proc/loadavg`.
fn parse_loadavg(text: &str) -> Option<f64> {
    let value: f64 = text.split_whitespace().next()?.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// Counts the CPUs of a kernel CPU list such as `0-3,5,7-8`.
fn count_cpu_list(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut count = 0u32;
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((first, last)) => (first.parse::<u32>().ok()?, last.parse::<u32>().ok()?),
            None => {
                let cpu = part.parse::<u32>().ok()?;
                (cpu, cpu)
            }
        };
        if last < first {
            return None;
        }
        count = count.checked_add(last - first + 1)?;
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count() {
        assert_eq!(count_cpu_list("0\n"), Some(1));
        assert_eq!(count_cpu_list("0-3\n"), Some(4));
        assert_eq!(count_cpu_list("0-3,5,7-8"), Some(7));
        for bad in ["", "a", "3-1", "0-", "0,,1"] {
            assert_eq!(count_cpu_list(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn loadavg_first_field() {
        assert_eq!(parse_loadavg("1.25 0.50 0.10 2/345 6789\n"), Some(1.25));
        assert_eq!(parse_loadavg("x"), None);
        assert_eq!(parse_loadavg(""), None);
    }

    #[test]
    fn real_system_reads() {
        let reading = read_load(Path::new("/")).unwrap();
        assert!(reading.cpus >= 1);
        assert!(reading.load1 >= 0.0);
        assert!(statvfs_free_bytes(Path::new("/")).unwrap() > 0);
    }
}

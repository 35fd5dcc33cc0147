//! The `disk` collector: free space in kojid's mockdir.
//!
//! kojid's free space check (`TaskManager.checkSpace` in koji/daemon.py) raises when
//! `os.path.exists(mockdir)` is false or `os.statvfs(mockdir)` fails, and kojid then takes no
//! task. `stat` (behind `os.path.exists`) and `statvfs` resolve the path the same way. The
//! agent runs as another user than kojid, which runs as root, so only errors that do not
//! depend on the caller's permissions mean that kojid fails too:
//!
//! - `ENOENT`: mockdir, or a directory on its path, does not exist;
//! - `ENOTDIR`: a component of the path is not a directory;
//! - `ELOOP`: the path contains a symbolic link loop;
//! - `ENAMETOOLONG`: the path or one of its components is too long;
//! - `ENOSYS`: mockdir's file system does not report free space.
//!
//! For these the collector fails and records mockdir as unusable, so the `readiness`
//! collector exports `koji_builder_ready_check{check="disk"} 0`.
//!
//! Other errors leave the disk readiness row out. `EACCES` means that the agent's user may
//! not search a directory on the path, while kojid, as root, may. `EIO`, `ENOMEM`, `EINTR`
//! and `EOVERFLOW` can be transient or specific to the agent's process.
//!
//! NOTE: the agent must see the same mounts as kojid. A mockdir that the agent's mount
//! namespace hides (such as a systemd unit with `TemporaryFileSystem=` over its parent) reads
//! as missing and reports 0 although kojid can use it.

use koji_metrics::contract::BUILDER_MOCKDIR_FREE_BYTES;
use nix::errno::Errno;

use super::{CollectError, CollectFuture, Collector, Cycle, Families, MockdirReading};

/// The collector's name.
pub const NAME: &str = "disk";

/// Reports the free bytes of mockdir's file system, which kojid's free space check compares
/// with `minspace`.
#[derive(Debug)]
pub struct DiskCollector;

impl Collector for DiskCollector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a> {
        Box::pin(std::future::ready(collect(cycle, out)))
    }
}

fn collect(cycle: &mut Cycle, out: &mut Families) -> Result<(), CollectError> {
    let settings = cycle.kojid_settings("mockdir")?;
    let mockdir = cycle.path(&settings.mockdir);
    let free = match (cycle.probes.free_bytes)(&mockdir) {
        Ok(free) => free,
        Err(error) => {
            if kojid_fails_too(&error) {
                cycle.observed.mockdir = Some(MockdirReading::Unusable);
            }
            return Err(CollectError::new(format!(
                "cannot read the free space of mockdir {}: {error}; {}",
                mockdir.display(),
                hint(&error, &cycle.kojid_config_path.display().to_string())
            )));
        }
    };

    out.gauge(&BUILDER_MOCKDIR_FREE_BYTES, &[&cycle.host], free as f64)?;
    cycle.observed.mockdir = Some(MockdirReading::FreeBytes(free));
    Ok(())
}

/// Returns true for the `statvfs` errors that make kojid's free space check raise for any
/// user, as the module documentation lists them.
pub fn kojid_fails_too(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw),
        Some(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP | Errno::ENAMETOOLONG | Errno::ENOSYS)
    )
}

/// Returns what a `statvfs` error means for kojid and what to do, for the error message.
fn hint(error: &std::io::Error, kojid_config: &str) -> String {
    match error.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENOSYS) => "kojid takes no task while mockdir's file system cannot report \
                               free space, so the disk readiness check reports 0: move \
                               mockdir to a file system that supports statvfs"
            .to_string(),
        Some(Errno::EACCES) => "the agent's user may not search the path, so the disk \
                               readiness check is left out: give that user search access or \
                               the CAP_DAC_READ_SEARCH capability"
            .to_string(),
        _ if kojid_fails_too(error) => format!(
            "kojid takes no task while mockdir is missing, so the disk readiness check \
             reports 0: create it or fix mockdir in {kojid_config}"
        ),
        _ => "the disk readiness check is left out this cycle".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::collector::Observations;
    use crate::kojid_conf::KojidSettings;
    use crate::probes::Probes;

    /// A replacement of `statvfs`: probes are plain functions, so each error has its own.
    type FreeBytesProbe = fn(&Path) -> std::io::Result<u64>;

    fn cycle(free_bytes: FreeBytesProbe) -> Cycle {
        Cycle {
            host: "b1.example.org".to_string(),
            root: PathBuf::from("/nonexistent"),
            kojid_config_path: PathBuf::from("/nonexistent/etc/kojid/kojid.conf"),
            kojid_config: Ok(KojidSettings::default()),
            probes: Probes {
                free_bytes,
                ..Probes::default()
            },
            observed: Observations::default(),
        }
    }

    fn fail(errno: Errno) -> std::io::Result<u64> {
        Err(std::io::Error::from_raw_os_error(errno as i32))
    }

    #[test]
    fn path_errors_mark_mockdir_unusable() {
        let probes: [(Errno, FreeBytesProbe); 5] = [
            (Errno::ENOENT, |_| fail(Errno::ENOENT)),
            (Errno::ENOTDIR, |_| fail(Errno::ENOTDIR)),
            (Errno::ELOOP, |_| fail(Errno::ELOOP)),
            (Errno::ENAMETOOLONG, |_| fail(Errno::ENAMETOOLONG)),
            (Errno::ENOSYS, |_| fail(Errno::ENOSYS)),
        ];
        for (errno, probe) in probes {
            let mut cycle = cycle(probe);
            let mut out = Families::default();
            let error = collect(&mut cycle, &mut out).unwrap_err().to_string();

            assert_eq!(
                cycle.observed.mockdir,
                Some(MockdirReading::Unusable),
                "{errno}"
            );
            assert!(out.as_slice().is_empty(), "{errno}");
            assert!(error.contains("/nonexistent/var/lib/mock"), "{error}");
            assert!(error.contains("reports 0"), "{errno}: {error}");
        }
    }

    #[test]
    fn other_errors_leave_mockdir_unknown() {
        let probes: [(Errno, FreeBytesProbe); 3] = [
            (Errno::EACCES, |_| fail(Errno::EACCES)),
            (Errno::EIO, |_| fail(Errno::EIO)),
            (Errno::ENOMEM, |_| fail(Errno::ENOMEM)),
        ];
        for (errno, probe) in probes {
            let mut cycle = cycle(probe);
            let mut out = Families::default();
            let error = collect(&mut cycle, &mut out).unwrap_err().to_string();

            assert_eq!(cycle.observed.mockdir, None, "{errno}");
            assert!(error.contains("is left out"), "{errno}: {error}");
        }

        let mut cycle = cycle(|_| fail(Errno::EACCES));
        let error = collect(&mut cycle, &mut Families::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("search access"), "{error}");
    }

    #[test]
    fn free_space_is_recorded() {
        let mut cycle = cycle(|_| Ok(5 * 1024 * 1024));
        let mut out = Families::default();
        collect(&mut cycle, &mut out).unwrap();

        assert_eq!(
            cycle.observed.mockdir,
            Some(MockdirReading::FreeBytes(5 * 1024 * 1024))
        );
        assert_eq!(out.as_slice().len(), 1);
    }
}

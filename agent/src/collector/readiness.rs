//! The `readiness` collector: kojid's own readiness rules, recomputed locally.
//!
//! kojid takes no task in five cases (`TaskManager.readyForTask` and `TaskManager.checkSpace`
//! in koji/daemon.py, the task manager that builder/kojid runs):
//!
//! - `enabled`: the host is disabled;
//! - `capacity`: its task load exceeds its capacity;
//! - `maxjobs`: it runs `maxjobs` tasks or more;
//! - `disk`: mockdir has less than `minspace` MiB free;
//! - `load`: the one-minute load average exceeds 4 per online CPU.
//!
//! One `koji_builder_ready_check` row per rule shows whether it passes. A row whose input is
//! missing is left out: `enabled`, `capacity` and `maxjobs` need this cycle's hub view,
//! `disk` the `disk` collector and `load` the `load` collector. `maxjobs` and `disk` also
//! need kojid.conf, and are left out while it cannot be read: kojid exits on such a file, and
//! a kojid started before the file changed uses settings that the agent cannot see. The
//! `config` collector reports the file's problem.
//!
//! `disk` is 0 when kojid's free space check would raise instead of comparing, such as when
//! mockdir does not exist: kojid then takes no task (see the `disk` collector).

use koji_metrics::FamilyBuilder;
use koji_metrics::contract::BUILDER_READY_CHECK;

use super::{CollectError, CollectFuture, Collector, Cycle, Families, MockdirReading};

/// The collector's name.
pub const NAME: &str = "readiness";

/// kojid's load rule: not ready while the load average exceeds this many per online CPU.
pub const LOAD_PER_CPU: f64 = 4.0;

const MIB: u64 = 1024 * 1024;

/// Recomputes kojid's readiness rules.
#[derive(Debug)]
pub struct ReadinessCollector;

impl Collector for ReadinessCollector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a> {
        Box::pin(std::future::ready(collect(cycle, out)))
    }
}

/// Returns the rules that pass or fail this cycle, in kojid's order. Rules without input are
/// left out.
pub fn checks(cycle: &Cycle) -> Vec<(&'static str, bool)> {
    let mut checks = Vec::new();
    let settings = cycle.kojid_config.as_ref().ok();

    if let Some(hub) = &cycle.observed.hub {
        checks.push(("enabled", hub.enabled));
        // readyForTask rejects on `task_load > capacity`, so a load equal to the capacity
        // passes.
        checks.push(("capacity", hub.task_load <= hub.capacity));
        if let Some(settings) = settings {
            // readyForTask rejects on `len(self.tasks) >= maxjobs`.
            let open = i64::try_from(hub.open_tasks).unwrap_or(i64::MAX);
            checks.push(("maxjobs", open < settings.maxjobs));
        }
    }
    match (cycle.observed.mockdir, settings) {
        (Some(MockdirReading::FreeBytes(free)), Some(settings)) => {
            // checkSpace rejects on `available // 1024 // 1024 < minspace`, so it compares
            // whole MiB rounded down, and exactly `minspace` MiB passes.
            let free_mib = i64::try_from(free / MIB).unwrap_or(i64::MAX);
            checks.push(("disk", free_mib >= settings.minspace_mib));
        }
        (Some(MockdirReading::Unusable), Some(_)) => checks.push(("disk", false)),
        (None, _) | (_, None) => {}
    }
    if let Some(load) = cycle.observed.load {
        // readyForTask rejects on `loadavg[0] > 4.0 * SC_NPROCESSORS_ONLN`, so a load of
        // exactly 4 per CPU passes.
        checks.push(("load", load.load1 <= LOAD_PER_CPU * f64::from(load.cpus)));
    }
    checks
}

fn collect(cycle: &Cycle, out: &mut Families) -> Result<(), CollectError> {
    let mut family = FamilyBuilder::new(&BUILDER_READY_CHECK);
    for (check, passes) in checks(cycle) {
        family.sample(&[&cycle.host, check], if passes { 1.0 } else { 0.0 })?;
    }
    out.push(family.build());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::collector::{HubView, Observations};
    use crate::kojid_conf::{KojidConfError, KojidSettings};
    use crate::probes::{LoadReading, Probes};

    fn cycle(settings: KojidSettings, observed: Observations) -> Cycle {
        Cycle {
            host: "b1.example.org".to_string(),
            root: PathBuf::from("/nonexistent"),
            kojid_config_path: PathBuf::from("/nonexistent/etc/kojid/kojid.conf"),
            kojid_config: Ok(settings),
            probes: Probes::default(),
            observed,
        }
    }

    fn hub_view(task_load: f64, capacity: f64, open_tasks: u64) -> HubView {
        HubView {
            id: 1,
            enabled: true,
            ready: true,
            capacity,
            task_load,
            last_update: None,
            running_tasks: BTreeMap::new(),
            open_tasks,
        }
    }

    /// Returns the outcome of the rule `name`, or `None` when the rule is left out.
    fn outcome(cycle: &Cycle, name: &str) -> Option<bool> {
        checks(cycle)
            .into_iter()
            .find(|(check, _)| *check == name)
            .map(|(_, passes)| passes)
    }

    #[test]
    fn capacity_boundary() {
        let capacity = 4.0;
        let cases = [
            (f64::next_down(capacity), true),
            (capacity, true),
            (f64::next_up(capacity), false),
        ];
        for (task_load, expected) in cases {
            let observed = Observations {
                hub: Some(hub_view(task_load, capacity, 0)),
                ..Observations::default()
            };
            let cycle = cycle(KojidSettings::default(), observed);
            assert_eq!(
                outcome(&cycle, "capacity"),
                Some(expected),
                "task_load {task_load:e}, capacity {capacity}"
            );
        }
    }

    #[test]
    fn maxjobs_boundary() {
        let settings = KojidSettings {
            maxjobs: 6,
            ..KojidSettings::default()
        };
        for (open_tasks, expected) in [(5, true), (6, false), (7, false)] {
            let observed = Observations {
                hub: Some(hub_view(0.0, 4.0, open_tasks)),
                ..Observations::default()
            };
            let cycle = cycle(settings.clone(), observed);
            assert_eq!(
                outcome(&cycle, "maxjobs"),
                Some(expected),
                "{open_tasks} open tasks, maxjobs 6"
            );
        }
    }

    #[test]
    fn disk_boundary() {
        let minspace_mib: i64 = 8192;
        let settings = KojidSettings {
            minspace_mib,
            ..KojidSettings::default()
        };
        let minspace = u64::try_from(minspace_mib).unwrap() * MIB;
        let cases = [
            (minspace - MIB, false),
            (minspace - 1, false),
            (minspace, true),
            (minspace + 1, true),
            (minspace + MIB, true),
        ];
        for (free_bytes, expected) in cases {
            let observed = Observations {
                mockdir: Some(MockdirReading::FreeBytes(free_bytes)),
                ..Observations::default()
            };
            let cycle = cycle(settings.clone(), observed);
            assert_eq!(
                outcome(&cycle, "disk"),
                Some(expected),
                "{free_bytes} bytes free, minspace {minspace_mib} MiB"
            );
        }
    }

    #[test]
    fn load_boundary() {
        let cpus = 3;
        let max_load = 12.0;
        let cases = [
            (f64::next_down(max_load), true),
            (max_load, true),
            (f64::next_up(max_load), false),
        ];
        for (load1, expected) in cases {
            let observed = Observations {
                load: Some(LoadReading { load1, cpus }),
                ..Observations::default()
            };
            let cycle = cycle(KojidSettings::default(), observed);
            assert_eq!(
                outcome(&cycle, "load"),
                Some(expected),
                "load {load1:e}, {cpus} CPUs"
            );
        }
    }

    #[test]
    fn rules_without_input_left_out() {
        let cycle = cycle(KojidSettings::default(), Observations::default());
        assert!(checks(&cycle).is_empty());
    }

    #[test]
    fn unusable_mockdir_fails_disk() {
        let observed = Observations {
            mockdir: Some(MockdirReading::Unusable),
            ..Observations::default()
        };
        let cycle = cycle(KojidSettings::default(), observed);
        assert_eq!(outcome(&cycle, "disk"), Some(false));
    }

    #[test]
    fn unreadable_kojid_conf_leaves_settings_rules_out() {
        let observed = Observations {
            mockdir: Some(MockdirReading::FreeBytes(u64::MAX)),
            hub: Some(hub_view(0.0, 4.0, 0)),
            load: Some(LoadReading {
                load1: 0.0,
                cpus: 1,
            }),
        };
        let mut cycle = cycle(KojidSettings::default(), observed);
        cycle.kojid_config = Err(KojidConfError::Syntax {
            path: cycle.kojid_config_path.clone(),
            line: 3,
            message: "\"maxjobs 6\" is neither a section header nor an option".to_string(),
        });

        let names: Vec<&str> = checks(&cycle).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["enabled", "capacity", "load"]);

        cycle.observed.mockdir = Some(MockdirReading::Unusable);
        assert_eq!(outcome(&cycle, "disk"), None);
    }
}

//! The `readiness` collector: kojid's own readiness rules, recomputed locally.
//!
//! kojid (`TaskManager.readyForTask` in koji 1.36) takes no task in five cases:
//!
//! - `enabled`: the host is disabled;
//! - `capacity`: its task load exceeds its capacity;
//! - `maxjobs`: it runs `maxjobs` tasks;
//! - `disk`: mockdir has less than `minspace` MiB free;
//! - `load`: the one-minute load average exceeds 4 per online CPU.
//!
//! One
//! `koji_builder_ready_check` row per rule says whether it passes. A row whose input is
//! missing is left out: `enabled`, `capacity` and `maxjobs` need this cycle's hub view,
//! `disk` the `disk` collector and `load` the `load` collector.

use koji_metrics::FamilyBuilder;
use koji_metrics::contract::BUILDER_READY_CHECK;

use super::{CollectError, CollectFuture, Collector, Cycle, Families};

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
    let settings = &cycle.kojid;

    if let Some(hub) = &cycle.observed.hub {
        checks.push(("enabled", hub.enabled));
        // kojid refuses only when the load is strictly greater than the capacity.
        checks.push(("capacity", hub.task_load <= hub.capacity));
        let open = i64::try_from(hub.open_tasks).unwrap_or(i64::MAX);
        checks.push(("maxjobs", open < settings.maxjobs));
    }
    if let Some(free) = cycle.observed.mockdir_free_bytes {
        // kojid compares whole MiB, rounded down.
        let free_mib = i64::try_from(free / MIB).unwrap_or(i64::MAX);
        checks.push(("disk", free_mib >= settings.minspace_mib));
    }
    if let Some(load) = cycle.observed.load {
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

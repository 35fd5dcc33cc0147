//! The `load` collector: the one-minute load average and the online CPUs.

use koji_metrics::contract::{BUILDER_CPUS, BUILDER_LOAD1};

use super::{CollectError, CollectFuture, Collector, Cycle, Families};

/// The collector's name.
pub const NAME: &str = "load";

/// Reports the load average and CPU count that kojid's load check compares.
#[derive(Debug)]
pub struct LoadCollector;

impl Collector for LoadCollector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a> {
        Box::pin(std::future::ready(collect(cycle, out)))
    }
}

fn collect(cycle: &mut Cycle, out: &mut Families) -> Result<(), CollectError> {
    let reading = (cycle.probes.load)(&cycle.root).map_err(CollectError::new)?;
    let host = cycle.host.as_str();
    out.gauge(&BUILDER_LOAD1, &[host], reading.load1)?;
    out.gauge(&BUILDER_CPUS, &[host], f64::from(reading.cpus))?;
    cycle.observed.load = Some(reading);
    Ok(())
}

//! The `disk` collector: free space in kojid's mockdir.

use koji_metrics::contract::BUILDER_MOCKDIR_FREE_BYTES;

use super::{CollectError, CollectFuture, Collector, Cycle, Families};

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
    let mockdir = cycle.path(&cycle.kojid.mockdir);
    let free = (cycle.probes.free_bytes)(&mockdir).map_err(|error| {
        let hint = match error.kind() {
            std::io::ErrorKind::NotFound => {
                "; kojid cannot take tasks without it: create it or fix mockdir in kojid.conf"
            }
            _ => "",
        };
        CollectError::new(format!(
            "cannot read the free space of mockdir {}: {error}{hint}",
            mockdir.display()
        ))
    })?;

    out.gauge(&BUILDER_MOCKDIR_FREE_BYTES, &[&cycle.host], free as f64)?;
    cycle.observed.mockdir_free_bytes = Some(free);
    Ok(())
}

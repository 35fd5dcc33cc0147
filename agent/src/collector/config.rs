//! The `config` collector: kojid's `maxjobs` and `minspace` from kojid.conf.
//!
//! The cycle reads kojid.conf once before any collector runs, for all of them. This collector
//! reports the outcome, and fails with the path and line of the problem. The collectors that
//! need other settings of the file then fail too, naming the setting they lack.

use koji_metrics::contract::{BUILDER_MAXJOBS, BUILDER_MINSPACE_BYTES};

use super::{CollectError, CollectFuture, Collector, Cycle, Families};

/// The collector's name.
pub const NAME: &str = "config";

/// Reports kojid.conf settings.
#[derive(Debug)]
pub struct ConfigCollector;

impl Collector for ConfigCollector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a> {
        Box::pin(std::future::ready(collect(cycle, out)))
    }
}

fn collect(cycle: &Cycle, out: &mut Families) -> Result<(), CollectError> {
    let settings = cycle.kojid_config.as_ref().map_err(|error| error.clone())?;
    let host = cycle.host.as_str();
    out.gauge(&BUILDER_MAXJOBS, &[host], settings.maxjobs as f64)?;
    out.gauge(
        &BUILDER_MINSPACE_BYTES,
        &[host],
        settings.minspace_bytes() as f64,
    )?;
    Ok(())
}

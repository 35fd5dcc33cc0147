//! The hub poller's contribution to `/metrics`.

use std::sync::{Arc, RwLock};

use koji_metrics::proto::MetricFamily;

use crate::server::MetricsSource;

/// The families of the last committed poll, shared between the poller and the server.
///
/// The poller publishes new families only after the state file contains the values they
/// show, so a scrape never sees a counter that a restart could take back.
#[derive(Clone, Debug, Default)]
pub struct HubSource {
    shared: Arc<RwLock<Published>>,
}

#[derive(Debug, Default)]
struct Published {
    families: Vec<MetricFamily>,
    ready: bool,
}

impl HubSource {
    /// Replaces the served families. `ready` is true once a poll of this process succeeded.
    pub(crate) fn publish(&self, families: Vec<MetricFamily>, ready: bool) {
        let mut published = self
            .shared
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        published.families = families;
        published.ready = ready;
    }
}

impl MetricsSource for HubSource {
    fn families(&self) -> Vec<MetricFamily> {
        self.shared
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .families
            .clone()
    }

    fn ready(&self) -> bool {
        self.shared
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .ready
    }
}

//! The Pushgateway-compatible push receiver.
//!
//! Agents PUT, POST and DELETE groups under `/metrics/job/<job>{/<label>/<value>}` (and the
//! `@base64` forms) with the Pushgateway's meaning, and the groups join the aggregator's
//! `/metrics` after the hub's rows. Beyond the Pushgateway, the receiver checks who pushes
//! ([`crate::identity`]) and that `host` labels equal `instance`. It rejects pushes of the
//! families that the metric contract marks as written only by the aggregator (the hub's
//! families, its own, and the per-group push times, which the Pushgateway accepts and
//! overwrites), and serves the contract's HELP text for the contract's families.
//! It limits body size, series per group and the number of groups, expires the groups of
//! silent agents, and writes the groups to disk.
//!
//! - [`grouping`]: the grouping key from the URL path.
//! - [`body`]: reading, gunzipping and decoding bodies.
//! - [`compact`]: the stored form of series and the per-push checks.
//! - [`store`]: the groups and the checks across groups.
//! - [`combine`]: the combined view with the hub's families.
//! - [`routes`] and [`api`]: the HTTP endpoints.
//! - [`expiry`] and [`persist`]: the timers.
//!
//! Not implemented from the Pushgateway API: the `snappy` content encoding, UTF-8 metric
//! and label names (`--push.enable-utf8-names`), `PUT /api/v1/admin/wipe`, `/api/v1/status`,
//! `/-/quit`, and protobuf exposition on `/metrics`. A push is applied before the response
//! is sent, so no write queue exists to report as unhealthy.

pub mod api;
pub mod body;
pub mod combine;
pub mod compact;
pub mod expiry;
pub mod exposition;
pub mod grouping;
pub mod persist;
pub mod rejection;
pub mod routes;
pub mod store;

pub use grouping::GroupingKey;
pub use rejection::{Reason, Rejection};
pub use routes::{PushState, router};
pub use store::{Limits, Method, Snapshot, Store};

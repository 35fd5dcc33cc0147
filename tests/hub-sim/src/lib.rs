//! A stateful Koji hub simulator for tests, benchmarks and the demo.
//!
//! [`HubSim::start`] loads a [`Scenario`] from JSON: hosts, channels, tags, targets, repos,
//! buildroots, tasks and a clock. It serves `POST /kojihub` on 127.0.0.1 in the dialect of a
//! real hub, and writes its replies the way Python's `xmlrpc` marshaller writes them:
//! - faults as HTTP 200 `<fault>` replies with the hub's wording;
//! - `<nil/>`, `<i8>`, dates as strings and `*_ts` doubles;
//! - `multiCall`/`system.multicall` with tracebacks;
//! - keyword arguments in a trailing `__starstar` struct;
//! - 405/400 plain-text errors and a `Koji-Version` header.
//!
//! The returned [`SimHandle`] controls the simulator in process, and the same operations are
//! served as JSON under `/control/...` for other processes. They cover host check-ins and
//! enable/disable, task creation, state changes and deletion, the clock, fault injection
//! (delays, faults, HTTP errors, truncated bodies, closed connections, login redirects),
//! per-method stats, and the ground truth of every task lifecycle change.
//!
//! Version modes imitate hubs before 1.33 and before 1.25. Load mode ([`LoadConfig`]) runs
//! task trees through their lifecycle at a set rate over a task table prefilled with up to
//! a million rows of history.

mod control;
mod error;
mod events;
mod handle;
mod hashing;
mod hub;
mod inject;
mod load;
mod methods;
mod query;
mod scenario;
mod server;
mod setup;
mod stats;
mod tagging;
mod tasks;
mod time;
mod value;
mod version;
mod world;
pub mod xmlrpc;

pub use control::{CheckIn, ClockChange, NewTask, StateChange, TaskTruth};
pub use error::SimError;
pub use events::{EventKind, GroundTruth, LabelCount, TaskEvent};
pub use handle::{HubSim, SimHandle, SimOptions};
pub use inject::{FaultAction, FaultRule, InstalledRule};
pub use load::LoadConfig;
pub use methods::METHODS;
pub use scenario::{ClockStart, FaultSpec, NameOrId, Scenario};
pub use stats::{MethodStats, StatsSnapshot};
pub use tasks::TaskState;
pub use time::{Micros, TimeSpec};
pub use value::Val;
pub use version::VersionMode;

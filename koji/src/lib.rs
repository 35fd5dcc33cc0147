//! Async client for the Koji hub's XML-RPC API, for monitoring.
//!
//! ```no_run
//! # async fn example() -> Result<(), koji::Error> {
//! use koji::calls::{self, ListHostsOptions, QueryOpts, TaskFilter};
//! use koji::{Client, MultiCall, TaskState};
//!
//! let client = Client::new("https://koji.example.com/kojihub")?;
//! let hosts = client.call(calls::list_hosts(&ListHostsOptions::default())).await?;
//!
//! let active = TaskFilter {
//!     state: Some(vec![TaskState::Free, TaskState::Open, TaskState::Assigned]),
//!     ..TaskFilter::default()
//! };
//! let mut multicall = MultiCall::new();
//! let tasks = multicall.add(calls::list_tasks(&active, &QueryOpts::default()));
//! let version = multicall.add(calls::get_koji_version());
//! let mut results = client.multicall(multicall).await?;
//! let tasks = results.take(tasks)?;
//! let version = results.take(version)?;
//! # let _ = (hosts, tasks, version);
//! # Ok(())
//! # }
//! ```
//!
//! Calls are anonymous: every read the monitoring needs works without logging in. Calls are
//! values ([`Call`]) built by the constructors in [`calls`] and run alone with
//! [`Client::call`] or together in a [`MultiCall`]. Faults become [`Error::Fault`] with
//! their [`FaultKind`]; replies that are not XML-RPC become errors that quote at most a short
//! excerpt of the body. [`tags`] maps a task tree to its tag.

mod call;
pub mod calls;
mod channel;
mod checkin;
mod client;
mod error;
mod host;
pub mod identity;
mod multicall;
mod repo;
mod retry;
mod tag;
pub mod tags;
mod task;
mod transport;
pub mod value;

pub use call::{Call, Decoder};
pub use channel::{Channel, decode_channels, decode_optional_channel};
pub use checkin::parse_hub_time;
pub use client::{Client, ClientBuilder, DEFAULT_MULTICALL_BATCH, error_chain};
pub use dxr::Value;
pub use error::{DecodeError, EXCERPT_CHARS, Error, FaultKind, excerpt};
pub use host::{Host, UpdateTs, decode_host, decode_hosts, decode_optional_host};
pub use multicall::{Handle, MultiCall, MultiCallResults};
pub use repo::{Buildroot, Repo, RepoState, decode_optional_buildroot, decode_optional_repo};
pub use retry::RetryPolicy;
pub use tag::{
    BuildTarget, Tag, decode_build_targets, decode_optional_build_target, decode_optional_tag,
};
pub use tags::{TagResolver, TagSource, tag_source};
pub use task::{
    Task, TaskState, decode_optional_task, decode_optional_tasks, decode_task, decode_tasks,
};

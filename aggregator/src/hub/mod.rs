//! The hub poller: the hub's view of builders, channels and tasks on `/metrics`.
//!
//! Every poll makes one `listHosts()`, one `listTasks` for the highest task id, one
//! `listTasks({'state': [0, 1, 4]})` for the active tasks, and `getTaskInfo` for the ids
//! that left the active set or appeared since the last poll. The channel membership is
//! cached. So the cost grows with the number of task changes, never with the size of the
//! task table. Counters are kept in a state file that is written before new values are served.
//!
//! - [`poller`]: the poll loop and the commit of each poll.
//! - [`tasks`]: counting created and finished tasks exactly once.
//! - [`tree`] and [`labels`]: the tag of a task tree, rewrites and the cap.
//! - [`hosts`], [`channels`]: builders and channel membership.
//! - [`snapshot`], [`families`], [`source`]: what `/metrics` shows.
//! - [`state`], [`state_file`]: what survives a restart.

pub mod backfill;
pub mod channels;
pub mod clock;
pub mod error;
pub mod families;
pub mod hosts;
pub mod labels;
pub mod poller;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod state_file;
pub mod tasks;
pub mod tree;

pub use clock::{Clock, FnClock, SystemClock};
pub use error::PollError;
pub use poller::{HubPoller, StartError};
pub use source::HubSource;
pub use state::PollerState;

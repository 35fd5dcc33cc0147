//! The error of a failed poll.

use crate::persist::PersistError;

/// A failed poll. Nothing of a failed poll is counted; the next poll starts again from the
/// last committed state.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// A hub call failed.
    #[error("{step} failed: {source}")]
    Hub {
        /// The step of the poll, such as `listing the active tasks`.
        step: &'static str,
        /// The error of the call.
        #[source]
        source: koji::Error,
    },

    /// The state file could not be written, so the new values are not served.
    #[error("{0}; check that the state directory is writable and not full")]
    Persist(#[from] PersistError),
}

impl PollError {
    /// Returns a closure that wraps a hub error with `step`, for `map_err`.
    pub fn at(step: &'static str) -> impl FnOnce(koji::Error) -> PollError {
        move |source| PollError::Hub { step, source }
    }

    /// Returns a short key that is the same for repeats of one failure, such as
    /// `listing the active tasks: timeout`, so repeated log lines can be rate-limited.
    pub fn kind(&self) -> String {
        match self {
            PollError::Hub { step, source } => format!("{step}: {}", error_kind(source)),
            PollError::Persist(_) => "saving the state".to_string(),
        }
    }
}

fn error_kind(error: &koji::Error) -> String {
    match error {
        koji::Error::Fault { code, .. } => format!("fault {code}"),
        koji::Error::Http { status, .. } => format!("HTTP {status}"),
        koji::Error::Redirect { status, .. } => format!("redirect {status}"),
        koji::Error::Malformed { .. } => "malformed reply".to_string(),
        koji::Error::Timeout { .. } => "timeout".to_string(),
        koji::Error::Connect { .. } => "connection refused or unreachable".to_string(),
        koji::Error::Transport { .. } => "connection failed".to_string(),
        koji::Error::Decode { .. } => "unexpected reply".to_string(),
        koji::Error::MulticallMismatch { .. } => "multicall mismatch".to_string(),
        koji::Error::Encode { .. } => "request encoding".to_string(),
        koji::Error::Config(_) => "client configuration".to_string(),
    }
}

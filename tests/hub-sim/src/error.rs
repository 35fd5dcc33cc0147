//! Errors of the simulator library.

use std::net::SocketAddr;
use std::path::PathBuf;

fn file_suffix(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|path| format!(" file {}", path.display()))
        .unwrap_or_default()
}

/// An error from loading a scenario, starting the server or a control operation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    ReadScenario {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The scenario is not valid JSON of the scenario format.
    #[error(
        "invalid scenario{}: {detail}; see tests/hub-sim/README.md for the format",
        file_suffix(path)
    )]
    ParseScenario {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// What serde reported, with line and column.
        detail: String,
    },
    /// The scenario is well-formed but inconsistent.
    #[error("invalid scenario: {0}")]
    InvalidScenario(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A control operation named something that does not exist.
    #[error("{what} {key} not found")]
    NotFound {
        /// The kind of thing: "host", "task", "channel", ...
        what: &'static str,
        /// The id or name given.
        key: String,
    },
    /// A control operation that cannot be applied.
    #[error("invalid control request: {0}")]
    InvalidControl(String),
}

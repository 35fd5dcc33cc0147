//! Errors of hub calls: faults, HTTP failures, replies that are not XML-RPC, wrong shapes.

use std::fmt;
use std::time::Duration;

/// Maximum number of characters of a reply body quoted in an error message.
pub const EXCERPT_CHARS: usize = 200;

/// The fault codes Koji defines in `koji/__init__.py`, plus 1 for unexpected server errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// 1: an exception that is not a Koji error (`faultString` is `<class ...>: message`).
    Unexpected,
    /// 1000
    GenericError,
    /// 1001
    LockError,
    /// 1002: the call needs a logged-in session.
    AuthError,
    /// 1003
    TagError,
    /// 1004
    ActionNotAllowed,
    /// 1005
    BuildError,
    /// 1006: the user is locked by another (exclusive) session, such as kojid's.
    AuthLockError,
    /// 1007
    AuthExpired,
    /// 1008
    SequenceError,
    /// 1009
    RetryError,
    /// 1010
    PreBuildError,
    /// 1011
    PostBuildError,
    /// 1012
    BuildrootError,
    /// 1013
    FunctionDeprecated,
    /// 1014: the hub is offline (database down or lockout); worth retrying.
    ServerOffline,
    /// 1015
    LiveCDError,
    /// 1016
    PluginError,
    /// 1017
    CallbackError,
    /// 1018
    ApplianceError,
    /// 1019: bad arguments, including keyword arguments an older hub does not know.
    ParameterError,
    /// 1020
    ImportError,
    /// 1021
    ConfigurationError,
    /// 1022
    LiveMediaError,
    /// 1023
    GSSAPIAuthError,
    /// 1024
    NameValidationError,
    /// A code Koji does not define, kept as sent.
    Unknown(i32),
}

/// Fault kinds with their codes, in code order.
const FAULT_CODES: &[(i32, FaultKind)] = &[
    (1, FaultKind::Unexpected),
    (1000, FaultKind::GenericError),
    (1001, FaultKind::LockError),
    (1002, FaultKind::AuthError),
    (1003, FaultKind::TagError),
    (1004, FaultKind::ActionNotAllowed),
    (1005, FaultKind::BuildError),
    (1006, FaultKind::AuthLockError),
    (1007, FaultKind::AuthExpired),
    (1008, FaultKind::SequenceError),
    (1009, FaultKind::RetryError),
    (1010, FaultKind::PreBuildError),
    (1011, FaultKind::PostBuildError),
    (1012, FaultKind::BuildrootError),
    (1013, FaultKind::FunctionDeprecated),
    (1014, FaultKind::ServerOffline),
    (1015, FaultKind::LiveCDError),
    (1016, FaultKind::PluginError),
    (1017, FaultKind::CallbackError),
    (1018, FaultKind::ApplianceError),
    (1019, FaultKind::ParameterError),
    (1020, FaultKind::ImportError),
    (1021, FaultKind::ConfigurationError),
    (1022, FaultKind::LiveMediaError),
    (1023, FaultKind::GSSAPIAuthError),
    (1024, FaultKind::NameValidationError),
];

impl FaultKind {
    /// Maps a `faultCode` to its kind; codes Koji does not define become [`FaultKind::Unknown`].
    pub fn from_code(code: i32) -> Self {
        FAULT_CODES
            .iter()
            .find(|(known, _)| *known == code)
            .map_or(FaultKind::Unknown(code), |(_, kind)| *kind)
    }

    /// Returns the numeric `faultCode`.
    pub fn code(self) -> i32 {
        if let FaultKind::Unknown(code) = self {
            return code;
        }
        FAULT_CODES
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or(0, |(code, _)| *code)
    }

    /// Returns the name of the Koji exception class, such as `GenericError`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Unexpected => "Unexpected",
            FaultKind::GenericError => "GenericError",
            FaultKind::LockError => "LockError",
            FaultKind::AuthError => "AuthError",
            FaultKind::TagError => "TagError",
            FaultKind::ActionNotAllowed => "ActionNotAllowed",
            FaultKind::BuildError => "BuildError",
            FaultKind::AuthLockError => "AuthLockError",
            FaultKind::AuthExpired => "AuthExpired",
            FaultKind::SequenceError => "SequenceError",
            FaultKind::RetryError => "RetryError",
            FaultKind::PreBuildError => "PreBuildError",
            FaultKind::PostBuildError => "PostBuildError",
            FaultKind::BuildrootError => "BuildrootError",
            FaultKind::FunctionDeprecated => "FunctionDeprecated",
            FaultKind::ServerOffline => "ServerOffline",
            FaultKind::LiveCDError => "LiveCDError",
            FaultKind::PluginError => "PluginError",
            FaultKind::CallbackError => "CallbackError",
            FaultKind::ApplianceError => "ApplianceError",
            FaultKind::ParameterError => "ParameterError",
            FaultKind::ImportError => "ImportError",
            FaultKind::ConfigurationError => "ConfigurationError",
            FaultKind::LiveMediaError => "LiveMediaError",
            FaultKind::GSSAPIAuthError => "GSSAPIAuthError",
            FaultKind::NameValidationError => "NameValidationError",
            FaultKind::Unknown(_) => "unknown fault",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A reply value of the wrong shape: a missing field, a wrong type, an unknown enum value.
///
/// The detail names the item and the field, such as `host 4: field capacity: expected
/// double, got string`; [`Error::Decode`] adds the method.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct DecodeError {
    /// Description of the problem and its location.
    pub detail: String,
}

impl DecodeError {
    /// Creates a decode error with the given detail.
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
        }
    }

    /// Prefixes the detail with the item it occurred in, such as `host 4`.
    pub fn within(self, context: impl fmt::Display) -> Self {
        Self {
            detail: format!("{context}: {}", self.detail),
        }
    }
}

/// Errors of hub calls.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hub returned an XML-RPC fault.
    #[error("{method} failed with fault {code} ({kind}): {message}")]
    Fault {
        /// The called method.
        method: String,
        /// The `faultCode`.
        code: i32,
        /// The Koji exception class of the code.
        kind: FaultKind,
        /// The `faultString`.
        message: String,
    },

    /// The hub or a proxy in front of it returned an HTTP error status.
    #[error(
        "{method} to {url} failed with HTTP {status}: {excerpt:?}; check the hub URL and the \
         web server or proxy in front of the hub"
    )]
    Http {
        /// The called method.
        method: String,
        /// The hub URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the body, on one line.
        excerpt: String,
    },

    /// The hub URL returned a redirect, which this client does not follow.
    #[error(
        "{method} to {url} was redirected (HTTP {status}) to {location:?}; set the hub URL to \
         the XML-RPC endpoint itself (usually ending in /kojihub)"
    )]
    Redirect {
        /// The called method.
        method: String,
        /// The hub URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The `Location` header, empty when missing.
        location: String,
    },

    /// The reply is not an XML-RPC response: HTML, a truncated or empty body.
    #[error(
        "{method} to {url} returned HTTP {status} with a body that is not an XML-RPC response \
         ({reason}): {excerpt:?}"
    )]
    Malformed {
        /// The called method.
        method: String,
        /// The hub URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// Reason the body was rejected.
        reason: String,
        /// The start of the body, on one line.
        excerpt: String,
    },

    /// No complete reply arrived within the per-call timeout.
    #[error("{method} to {url} timed out after {after:?}")]
    Timeout {
        /// The called method.
        method: String,
        /// The hub URL.
        url: String,
        /// The per-call timeout that passed.
        after: Duration,
    },

    /// The connection to the hub could not be made.
    #[error("{method}: cannot connect to {url}: {}", cause_chain(.cause))]
    Connect {
        /// The called method.
        method: String,
        /// The hub URL.
        url: String,
        /// The underlying error. The message already includes its causes, so it is not
        /// returned by `source()`, which would print them twice in a chain.
        cause: reqwest::Error,
    },

    /// The connection failed after the request was sent, such as a reset or closed connection.
    #[error("{method} to {url} failed: {}", cause_chain(.cause))]
    Transport {
        /// The called method.
        method: String,
        /// The hub URL.
        url: String,
        /// The underlying error, included in the message with its causes.
        cause: reqwest::Error,
    },

    /// A well-formed reply of the wrong shape.
    #[error("{method}: {detail}")]
    Decode {
        /// The called method.
        method: String,
        /// Description of the problem and its location.
        detail: String,
    },

    /// A multicall reply whose number of results differs from the number of calls.
    #[error(
        "multiCall to {url} returned {received} results for {expected} calls; the hub or a \
         proxy changed the reply"
    )]
    MulticallMismatch {
        /// The hub URL.
        url: String,
        /// The number of calls sent in the batch.
        expected: usize,
        /// The number of results received.
        received: usize,
    },

    /// The request could not be encoded as XML-RPC.
    #[error("{method}: cannot encode the request as XML-RPC: {detail}")]
    Encode {
        /// The called method.
        method: String,
        /// What failed.
        detail: String,
    },

    /// The client could not be built from its options.
    #[error("invalid Koji client configuration: {0}")]
    Config(String),
}

impl Error {
    /// Returns true for failures worth retrying: connection errors, timeouts, HTTP 502, 503
    /// and 504, and fault 1014 (ServerOffline). Other faults and other HTTP statuses are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Fault { kind, .. } => *kind == FaultKind::ServerOffline,
            Error::Http { status, .. } => matches!(status, 502..=504),
            Error::Timeout { .. } | Error::Connect { .. } | Error::Transport { .. } => true,
            Error::Redirect { .. }
            | Error::Malformed { .. }
            | Error::Decode { .. }
            | Error::MulticallMismatch { .. }
            | Error::Encode { .. }
            | Error::Config(_) => false,
        }
    }

    /// Returns the fault kind when this is a fault.
    pub fn fault_kind(&self) -> Option<FaultKind> {
        match self {
            Error::Fault { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Returns the fault code when this is a fault.
    pub fn fault_code(&self) -> Option<i32> {
        match self {
            Error::Fault { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Reads `faultCode` (an int) and `faultString` (a string) from a fault struct. Other members,
/// such as Koji's `traceback`, are ignored.
pub(crate) fn fault_from_struct(
    members: &std::collections::BTreeMap<String, dxr::Value>,
) -> Option<(i32, String)> {
    let code = members.get("faultCode").and_then(crate::value::as_int)?;
    let code = i32::try_from(code).ok()?;
    match members.get("faultString") {
        Some(dxr::Value::String(message)) => Some((code, message.clone())),
        _ => None,
    }
}

/// Returns the start of `body` on one line: whitespace runs become one space, and at most
/// [`EXCERPT_CHARS`] characters are kept, with `...` appended when the body was cut.
pub fn excerpt(body: &str) -> String {
    let mut text = String::new();
    let mut chars = 0;
    let mut pending_space = false;

    for character in body.chars() {
        if character.is_whitespace() || character.is_control() {
            pending_space = !text.is_empty();
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if chars + needed > EXCERPT_CHARS {
            text.push_str("...");
            return text;
        }
        if pending_space {
            text.push(' ');
            chars += 1;
            pending_space = false;
        }
        text.push(character);
        chars += 1;
    }
    text
}

/// Writes `error` and each of its causes, separated by colons, such as "error sending
/// request: client error (Connect): tcp connect error: Connection refused (os error 111)".
/// reqwest's own message names only the first step, which hides why a connection failed.
/// The URL is part of the surrounding message, so the cause is stored without it.
fn cause_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(next) = cause {
        let next_text = next.to_string();
        if !text.ends_with(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_kinds_round_trip_codes() {
        for (code, kind) in FAULT_CODES {
            assert_eq!(FaultKind::from_code(*code), *kind);
            assert_eq!(kind.code(), *code);
        }
        assert_eq!(FaultKind::from_code(1024).name(), "NameValidationError");
        assert_eq!(FaultKind::from_code(4242), FaultKind::Unknown(4242));
        assert_eq!(FaultKind::Unknown(4242).code(), 4242);
    }

    #[test]
    fn excerpt_is_one_short_line() {
        let body = format!("<html>\n  <body>{}</body>\n</html>", "x".repeat(5000));
        let text = excerpt(&body);

        assert!(!text.contains('\n'));
        assert!(text.starts_with("<html> <body>xxx"));
        assert!(text.ends_with("..."));
        assert_eq!(text.chars().count(), EXCERPT_CHARS + 3);

        let spaced = "ab ".repeat(500);
        assert!(excerpt(&spaced).chars().count() <= EXCERPT_CHARS + 3);
    }

    #[test]
    fn excerpt_keeps_short_bodies_whole() {
        assert_eq!(
            excerpt("Invalid request: Empty request"),
            "Invalid request: Empty request"
        );
        assert_eq!(excerpt(""), "");
        assert_eq!(excerpt("  a\r\n\tb  "), "a b");
    }

    #[test]
    fn retryable_errors() {
        let fault = |code| Error::Fault {
            method: "getHost".into(),
            code,
            kind: FaultKind::from_code(code),
            message: String::new(),
        };
        let http = |status| Error::Http {
            method: "getHost".into(),
            url: "http://127.0.0.1/kojihub".into(),
            status,
            excerpt: String::new(),
        };

        assert!(fault(1014).is_retryable());
        assert!(!fault(1000).is_retryable());
        assert!(!fault(1).is_retryable());
        for status in [502, 503, 504] {
            assert!(http(status).is_retryable(), "HTTP {status}");
        }
        for status in [400, 403, 404, 405, 500] {
            assert!(!http(status).is_retryable(), "HTTP {status}");
        }
    }
}

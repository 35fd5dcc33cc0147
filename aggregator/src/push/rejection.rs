//! Why a push was rejected: the HTTP status, a reason from a fixed set (the `reason` label of
//! `koji_agent_push_rejections_total`) and a message for the client.

use std::fmt;

use axum::http::StatusCode;

/// The reason of a rejected request to the push API. The names are label values, so the set
/// is fixed and never contains a host name or a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The URL path is not a valid grouping key.
    InvalidGroupingKey,
    /// Credentials are configured but the request carried none.
    Unauthenticated,
    /// The credential does not name the group's host, the group has no `instance`, or a
    /// non-loopback peer pushed while no credential is configured.
    Forbidden,
    /// The body exceeds the size limit, before or after gunzip.
    BodyTooLarge,
    /// The body is not valid text format 0.0.4, protobuf or gzip.
    InvalidBody,
    /// A sample carries a timestamp.
    Timestamp,
    /// A family's type differs from the same family elsewhere.
    TypeConflict,
    /// A series occurs twice, in the body or across groups.
    DuplicateSeries,
    /// A sample's `host` label, or the grouping key's, differs from the `instance`.
    HostMismatch,
    /// The body contains a family that only the aggregator writes, as the metric contract
    /// marks it: a hub family, one of the aggregator's own, or a per-group push time.
    ReservedName,
    /// The group would hold more series than allowed.
    TooManySeries,
    /// A new group would exceed the group limit.
    TooManyGroups,
}

impl Reason {
    /// Every reason, in the order of the exposition.
    pub const ALL: [Reason; 12] = [
        Reason::InvalidGroupingKey,
        Reason::Unauthenticated,
        Reason::Forbidden,
        Reason::BodyTooLarge,
        Reason::InvalidBody,
        Reason::Timestamp,
        Reason::TypeConflict,
        Reason::DuplicateSeries,
        Reason::HostMismatch,
        Reason::ReservedName,
        Reason::TooManySeries,
        Reason::TooManyGroups,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidGroupingKey => "invalid_grouping_key",
            Reason::Unauthenticated => "unauthenticated",
            Reason::Forbidden => "forbidden",
            Reason::BodyTooLarge => "body_too_large",
            Reason::InvalidBody => "invalid_body",
            Reason::Timestamp => "timestamp",
            Reason::TypeConflict => "type_conflict",
            Reason::DuplicateSeries => "duplicate_series",
            Reason::HostMismatch => "host_mismatch",
            Reason::ReservedName => "reserved_name",
            Reason::TooManySeries => "too_many_series",
            Reason::TooManyGroups => "too_many_groups",
        }
    }

    /// The position in [`Reason::ALL`].
    pub fn index(self) -> usize {
        Reason::ALL
            .iter()
            .position(|reason| *reason == self)
            .expect("every reason is in ALL")
    }

    /// The HTTP status of a request rejected for this reason.
    pub fn status(self) -> StatusCode {
        match self {
            Reason::Unauthenticated => StatusCode::UNAUTHORIZED,
            Reason::Forbidden => StatusCode::FORBIDDEN,
            Reason::BodyTooLarge | Reason::TooManySeries | Reason::TooManyGroups => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Reason::InvalidGroupingKey
            | Reason::InvalidBody
            | Reason::Timestamp
            | Reason::TypeConflict
            | Reason::DuplicateSeries
            | Reason::HostMismatch
            | Reason::ReservedName => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether a push rejected for this reason counts as a failed push of its group (and so
    /// sets `push_failure_time_seconds`). As in the Pushgateway, only pushes whose body was
    /// read and decoded do; requests rejected before that never touch a group.
    pub fn marks_group_failed(self) -> bool {
        matches!(
            self,
            Reason::Timestamp
                | Reason::TypeConflict
                | Reason::DuplicateSeries
                | Reason::HostMismatch
                | Reason::ReservedName
                | Reason::TooManySeries
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A rejected request: the reason and a message that names the value and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// The reason, which decides the status.
    pub reason: Reason,
    /// The message sent to the client as the response body.
    pub message: String,
}

impl Rejection {
    /// A rejection for `reason` with `message`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.reason.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_unique() {
        let mut names: Vec<&str> = Reason::ALL.iter().map(|reason| reason.as_str()).collect();
        names.sort_unstable();
        names.dedup();

        assert_eq!(names.len(), Reason::ALL.len());
        for reason in Reason::ALL {
            assert_eq!(Reason::ALL[reason.index()], reason);
        }
    }

    #[test]
    fn statuses_by_class() {
        assert_eq!(Reason::Unauthenticated.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Reason::Forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(Reason::BodyTooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(Reason::TypeConflict.status(), StatusCode::BAD_REQUEST);
        assert!(!Reason::InvalidBody.marks_group_failed());
        assert!(Reason::Timestamp.marks_group_failed());
    }
}

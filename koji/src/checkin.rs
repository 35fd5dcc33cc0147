//! A host's last check-in, with the fallbacks older hubs need.
//!
//! Hubs 1.33+ send `update_ts` with every host. Older hubs do not, so the last check-in comes
//! from `getLastHostUpdate(id, ts=True)` (hub 1.25+), and on hubs that reject `ts` with fault
//! 1019 from `getLastHostUpdate(id)`, which returns a date string.

use chrono::{DateTime, NaiveDateTime};
use dxr::Value;

use crate::calls::get_last_host_update;
use crate::client::Client;
use crate::error::{DecodeError, Error, FaultKind};
use crate::host::{Host, UpdateTs};
use crate::value::{as_double, type_name};

/// Parses a date as the hub sends it (Python's `isoformat(' ')`), such as
/// `2026-12-04 15:42:47.277209+00:00`, into epoch seconds.
///
/// Microseconds and the UTC offset are optional; a date without an offset is taken as UTC.
/// A `T` between date and time is accepted too.
pub fn parse_hub_time(text: &str) -> Option<f64> {
    let text = text.trim();
    let with_offset = [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ];
    for format in with_offset {
        if let Ok(time) = DateTime::parse_from_str(text, format) {
            return Some(epoch_seconds(
                time.timestamp(),
                time.timestamp_subsec_micros(),
            ));
        }
    }

    // NOTE: a date without an offset is read as UTC; it is off by the zone offset when the
    // hub's database session runs in another time zone.
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            let time = time.and_utc();
            return Some(epoch_seconds(
                time.timestamp(),
                time.timestamp_subsec_micros(),
            ));
        }
    }
    None
}

fn epoch_seconds(seconds: i64, micros: u32) -> f64 {
    seconds as f64 + f64::from(micros) / 1_000_000.0
}

/// Decodes a `getLastHostUpdate` reply: a double or int (with `ts`), a date string
/// (without), or nil for a host that never had a session.
pub(crate) fn decode_last_host_update(value: Value) -> Result<Option<f64>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        Value::String(text) => parse_hub_time(&text).map(Some).ok_or_else(|| {
            DecodeError::new(format!(
                "expected a date such as 2026-12-04 15:42:47.277209+00:00, got {text:?}"
            ))
        }),
        other => as_double(&other).map(Some).ok_or_else(|| {
            DecodeError::new(format!(
                "expected double, string or nil, got {}",
                type_name(&other)
            ))
        }),
    }
}

impl Client {
    /// Returns the epoch seconds of `host`'s last check-in, or `None` when it never checked in.
    ///
    /// Uses [`Host::update_ts`] when the hub sent it (1.33+). Otherwise calls
    /// `getLastHostUpdate(id, ts=True)`, and when the hub rejects `ts` with fault 1019
    /// (ParameterError, hubs older than 1.25) calls `getLastHostUpdate(id)` and parses its
    /// date string. Both fallbacks report the latest activity of any session of the host's user,
    /// which task subprocesses keep moving even when kojid's main loop hangs.
    pub async fn last_check_in(&self, host: &Host) -> Result<Option<f64>, Error> {
        match host.update_ts {
            UpdateTs::At(seconds) => return Ok(Some(seconds)),
            UpdateTs::Never => return Ok(None),
            UpdateTs::Absent => {}
        }

        match self.call(get_last_host_update(host.id, true)).await {
            Err(error) if error.fault_kind() == Some(FaultKind::ParameterError) => {
                tracing::debug!(
                    host = %host.name,
                    "hub rejects getLastHostUpdate(ts=True); using the date string"
                );
                self.call(get_last_host_update(host.id, false)).await
            }
            result => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_dates_parse() {
        let cases = [
            ("2026-12-04 15:42:47.277209+00:00", 1_796_398_967.277_209),
            ("2026-12-04 15:42:47+00:00", 1_796_398_967.0),
            ("2026-12-04 15:42:47.5", 1_796_398_967.5),
            ("2026-12-04 15:42:47", 1_796_398_967.0),
            ("2026-12-04 16:42:47.277209+01:00", 1_796_398_967.277_209),
            ("2026-12-04T15:42:47.277209+00:00", 1_796_398_967.277_209),
        ];
        for (text, expected) in cases {
            let parsed = parse_hub_time(text).unwrap_or_else(|| panic!("{text} did not parse"));
            assert!(
                (parsed - expected).abs() < 1e-6,
                "{text}: {parsed} != {expected}"
            );
        }
    }

    #[test]
    fn bad_dates_are_rejected() {
        assert_eq!(parse_hub_time("yesterday"), None);
        assert_eq!(parse_hub_time("2026-13-04 15:42:47"), None);
        let error = decode_last_host_update(Value::String("yesterday".into())).unwrap_err();
        assert!(error.detail.contains("\"yesterday\""), "{}", error.detail);
    }

    #[test]
    fn last_host_update_values() {
        assert_eq!(decode_last_host_update(Value::Nil).unwrap(), None);
        assert_eq!(
            decode_last_host_update(Value::Double(1.5)).unwrap(),
            Some(1.5)
        );
        assert_eq!(
            decode_last_host_update(Value::Integer(2)).unwrap(),
            Some(2.0)
        );
        let error = decode_last_host_update(Value::Boolean(true)).unwrap_err();
        assert_eq!(error.detail, "expected double, string or nil, got boolean");
    }
}

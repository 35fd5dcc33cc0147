//! Time values as the hub stores and prints them.
//!
//! The hub keeps `TIMESTAMPTZ` columns with microsecond precision. It returns them twice: as a
//! string (`2026-12-04 15:42:47.277209+00:00`, Python's `isoformat(' ')`, microseconds left
//! out when they are zero) and as a `*_ts` double of epoch seconds. The simulator stores epoch
//! microseconds and derives both, so the two always agree.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A point in time: microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub i64);

impl Micros {
    /// Converts epoch seconds, rounding to the nearest microsecond as Python's
    /// `datetime.fromtimestamp` does.
    ///
    /// Python splits off the fraction exactly, then scales only the fraction and rounds half to
    /// even (checked with Python 3.11). Scaling the whole value first loses bits near 1.8e9
    /// seconds, so `1796374975.3543794` would round to microsecond 380 there, not 379.
    pub fn from_secs_f64(seconds: f64) -> Micros {
        let whole = seconds.trunc() as i64;
        let fraction = (seconds.fract() * 1e6).round_ties_even() as i64;
        Micros(whole.saturating_mul(1_000_000).saturating_add(fraction))
    }

    /// Returns epoch seconds as the hub's `date_part('epoch', ...)` does.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Adds a number of seconds, rounded to microseconds.
    pub fn add_secs(self, seconds: f64) -> Micros {
        Micros(self.0 + (seconds * 1e6).round() as i64)
    }

    /// Formats like Python's `datetime.isoformat(' ')` for a UTC timestamp.
    pub fn to_iso(self) -> String {
        let Some(moment) = DateTime::<Utc>::from_timestamp_micros(self.0) else {
            return format!("{}", self.as_secs_f64());
        };
        let micros = self.0.rem_euclid(1_000_000);
        let base = moment.format("%Y-%m-%d %H:%M:%S");
        if micros == 0 {
            format!("{base}+00:00")
        } else {
            format!("{base}.{micros:06}+00:00")
        }
    }

    /// Parses a timestamp the way PostgreSQL reads a `timestamptz` literal in a UTC session:
    /// a date, a date and time (space or `T`), optional fractional seconds, and an optional
    /// `Z`, `+HH`, `+HHMM` or `+HH:MM` offset. A value without an offset is taken as UTC.
    pub fn parse_iso(text: &str) -> Option<Micros> {
        let text = text.trim();
        let (body, offset_secs) = split_offset(text);
        let body = body.trim();

        let naive = if body.len() == 10 {
            NaiveDate::parse_from_str(body, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)?
        } else {
            let normalized = body.replacen('T', " ", 1);
            NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%d %H:%M"))
                .ok()?
        };

        let utc = naive.and_utc().timestamp_micros() - offset_secs * 1_000_000;
        Some(Micros(utc))
    }
}

/// Splits a trailing UTC offset from an ISO timestamp, returning the offset in seconds east.
fn split_offset(text: &str) -> (&str, i64) {
    if let Some(body) = text.strip_suffix('Z').or_else(|| text.strip_suffix("UTC")) {
        return (body, 0);
    }

    // An offset starts at the last '+' or '-' that comes after the time part.
    let Some(time_start) = text.find([' ', 'T']) else {
        return (text, 0);
    };
    let Some(sign_at) = text[time_start..]
        .rfind(['+', '-'])
        .map(|at| at + time_start)
    else {
        return (text, 0);
    };
    let sign = if text.as_bytes()[sign_at] == b'-' {
        -1
    } else {
        1
    };
    let digits: String = text[sign_at + 1..].chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return (text, 0);
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().unwrap_or(0), 0),
        4 => (
            digits[..2].parse::<i64>().unwrap_or(0),
            digits[2..].parse::<i64>().unwrap_or(0),
        ),
        _ => return (text, 0),
    };
    (&text[..sign_at], sign * (hours * 3600 + minutes * 60))
}

impl fmt::Display for Micros {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_iso())
    }
}

impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_secs_f64())
    }
}

/// A time as written in scenario files and control requests: epoch seconds, an ISO
/// timestamp, or a time relative to the simulator clock (`now`, `now-130m`, `now+1h30m`).
#[derive(Clone, Debug, PartialEq)]
pub enum TimeSpec {
    /// An absolute time.
    At(Micros),
    /// The clock plus this many microseconds (negative for the past).
    Relative(i64),
}

impl TimeSpec {
    /// Resolves the time against the clock value `now`.
    pub fn resolve(&self, now: Micros) -> Micros {
        match self {
            TimeSpec::At(at) => *at,
            TimeSpec::Relative(offset) => Micros(now.0 + offset),
        }
    }

    /// Parses the text forms: an ISO timestamp or `now` with optional offsets such as
    /// `now-2h30m`, `now+90s`, `now-1d` (units d, h, m, s).
    pub fn parse(text: &str) -> Result<TimeSpec, String> {
        let trimmed = text.trim();
        if let Some(rest) = trimmed.strip_prefix("now") {
            return parse_offset(rest).map(TimeSpec::Relative).ok_or_else(|| {
                format!(
                    "invalid relative time {text:?}: expected now, now-90s, now-2h30m or now+1d"
                )
            });
        }
        Micros::parse_iso(trimmed).map(TimeSpec::At).ok_or_else(|| {
            format!(
                "invalid time {text:?}: expected epoch seconds, an ISO timestamp such as \
                 2026-12-04 15:42:47.277209+00:00, or now-130m"
            )
        })
    }
}

/// Parses `""`, `-2h30m`, `+90s` into microseconds.
fn parse_offset(text: &str) -> Option<i64> {
    if text.is_empty() {
        return Some(0);
    }
    let (sign, mut rest) = match text.as_bytes()[0] {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }

    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        let unit = rest[number_len..].chars().next()?;
        let scale = match unit {
            'd' => 86_400.0,
            'h' => 3_600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[number_len + 1..];
    }
    Some(sign * (total * 1e6).round() as i64)
}

impl<'de> Deserialize<'de> for TimeSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;

        impl Visitor<'_> for TimeVisitor {
            type Value = TimeSpec;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("epoch seconds, an ISO timestamp or a time such as now-130m")
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<TimeSpec, E> {
                Ok(TimeSpec::At(Micros::from_secs_f64(value)))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<TimeSpec, E> {
                Ok(TimeSpec::At(Micros(value * 1_000_000)))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<TimeSpec, E> {
                Ok(TimeSpec::At(Micros(value as i64 * 1_000_000)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<TimeSpec, E> {
                TimeSpec::parse(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(TimeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_omits_zero_microseconds() {
        assert_eq!(
            Micros(1_796_398_970_000_000).to_iso(),
            "2026-12-04 15:42:50+00:00"
        );
        assert_eq!(
            Micros(1_796_398_967_277_209).to_iso(),
            "2026-12-04 15:42:47.277209+00:00"
        );
    }

    #[test]
    fn seconds_round_trip_through_micros() {
        let seconds = 1_796_398_487.357_607;
        assert_eq!(Micros::from_secs_f64(seconds).as_secs_f64(), seconds);
    }

    #[test]
    fn seconds_round_like_python() {
        // Expected values are from Python 3.11's `datetime.fromtimestamp` with TZ=UTC.
        assert_eq!(
            Micros::from_secs_f64(1_796_374_975.354_379_4),
            Micros(1_796_374_975_354_379)
        );
        assert_eq!(
            Micros::from_secs_f64(1_796_374_975.000_000_5),
            Micros(1_796_374_975_000_000)
        );
        assert_eq!(Micros::from_secs_f64(0.000_000_5), Micros(0));
        assert_eq!(Micros::from_secs_f64(0.000_002_5), Micros(2));
        assert_eq!(Micros::from_secs_f64(0.000_001_5), Micros(2));
    }

    #[test]
    fn parse_iso_forms() {
        let expected = Micros(1_796_398_967_277_209);
        assert_eq!(
            Micros::parse_iso("2026-12-04 15:42:47.277209+00:00"),
            Some(expected)
        );
        assert_eq!(
            Micros::parse_iso("2026-12-04T15:42:47.277209Z"),
            Some(expected)
        );
        assert_eq!(
            Micros::parse_iso("2026-12-04 17:42:47.277209+02:00"),
            Some(expected)
        );
        assert_eq!(
            Micros::parse_iso("2026-12-04 15:42:47.277209"),
            Some(expected)
        );
        assert_eq!(
            Micros::parse_iso("2026-12-04"),
            Some(Micros(1_796_342_400_000_000))
        );
        assert_eq!(Micros::parse_iso("yesterday"), None);
    }

    #[test]
    fn relative_times() {
        let now = Micros(1_000_000_000_000);
        assert_eq!(TimeSpec::parse("now").unwrap().resolve(now), now);
        assert_eq!(
            TimeSpec::parse("now-2h30m").unwrap().resolve(now),
            Micros(now.0 - 9_000_000_000)
        );
        assert_eq!(
            TimeSpec::parse("now+90s").unwrap().resolve(now),
            Micros(now.0 + 90_000_000)
        );
        assert!(TimeSpec::parse("now-2x").is_err());
    }
}

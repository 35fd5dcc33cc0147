//! The time source of the poller, replaceable in tests that run on the simulator's clock.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock and monotonic time for the poller.
///
/// Wall-clock time stamps `koji_hub_last_success_timestamp_seconds`, the first nil reply for
/// a task id and the start of a backfill. Monotonic time measures polls, cache ages and the
/// spacing of repeated log lines.
pub trait Clock: Send + Sync {
    /// Unix time in seconds.
    fn now(&self) -> f64;

    /// Seconds on a clock that never goes back, from an arbitrary start.
    fn monotonic(&self) -> f64;
}

/// The system's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64())
    }

    fn monotonic(&self) -> f64 {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64()
    }
}

/// A clock that returns whatever a function returns, for both readings: a fixed time, or the
/// simulator's virtual clock.
pub struct FnClock<F>(pub F);

impl<F> Clock for FnClock<F>
where
    F: Fn() -> f64 + Send + Sync,
{
    fn now(&self) -> f64 {
        (self.0)()
    }

    fn monotonic(&self) -> f64 {
        (self.0)()
    }
}

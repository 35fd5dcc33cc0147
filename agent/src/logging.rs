//! Rate limiting of log lines that would repeat every cycle.

use std::time::{Duration, Instant};

/// How often a failure that keeps repeating unchanged is logged again.
pub const REPEAT_PERIOD: Duration = Duration::from_secs(600);

/// The logging decision for one failure of a repeating operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; the number is how many identical failures were not logged since the last line.
    Log(u64),
    /// Do not log it.
    Suppress,
}

/// Decides which failures of one repeating operation (a collector, a push target) to log.
///
/// It logs the first failure of a streak and any failure whose message differs from the
/// last logged one. An unchanged message is logged again once per [`REPEAT_PERIOD`], with
/// the count of the lines left out.
#[derive(Debug)]
pub struct RepeatLimiter {
    period: Duration,
    last_message: Option<String>,
    last_logged: Option<Instant>,
    suppressed: u64,
    failing: bool,
}

impl Default for RepeatLimiter {
    fn default() -> Self {
        Self::new(REPEAT_PERIOD)
    }
}

impl RepeatLimiter {
    /// Creates a limiter that repeats an unchanged message once per `period`.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last_message: None,
            last_logged: None,
            suppressed: 0,
            failing: false,
        }
    }

    /// Records a failure with `message` and returns whether to log it.
    pub fn failure(&mut self, message: &str) -> Verdict {
        let now = Instant::now();
        let changed = self.last_message.as_deref() != Some(message);
        let due = self
            .last_logged
            .is_none_or(|logged| now.duration_since(logged) >= self.period);
        self.failing = true;

        if !changed && !due {
            self.suppressed += 1;
            return Verdict::Suppress;
        }
        let suppressed = std::mem::take(&mut self.suppressed);
        self.last_message = Some(message.to_string());
        self.last_logged = Some(now);
        Verdict::Log(suppressed)
    }

    /// Records a success; returns true when it ends a streak of failures, which is worth a
    /// log line of its own.
    pub fn success(&mut self) -> bool {
        let recovered = self.failing;
        self.failing = false;
        self.last_message = None;
        self.last_logged = None;
        self.suppressed = 0;
        recovered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_suppressed_until_the_message_changes() {
        let mut limiter = RepeatLimiter::new(Duration::from_secs(3600));
        assert_eq!(limiter.failure("a"), Verdict::Log(0));
        assert_eq!(limiter.failure("a"), Verdict::Suppress);
        assert_eq!(limiter.failure("a"), Verdict::Suppress);
        assert_eq!(limiter.failure("b"), Verdict::Log(2));
        assert!(limiter.success());
        assert!(!limiter.success());
        assert_eq!(limiter.failure("b"), Verdict::Log(0));
    }

    #[test]
    fn repeats_are_logged_again_after_the_period() {
        let mut limiter = RepeatLimiter::new(Duration::ZERO);
        assert_eq!(limiter.failure("a"), Verdict::Log(0));
        assert_eq!(limiter.failure("a"), Verdict::Log(0));
    }
}

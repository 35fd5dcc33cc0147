//! Retry policy for transport failures: capped exponential backoff with full jitter.

use std::time::Duration;

/// How often and how long to wait before repeating a call that failed with a retryable
/// error ([`Error::is_retryable`](crate::Error::is_retryable)).
///
/// Before retry `n` (1-based) the client sleeps a uniformly random time between zero and
/// `min(max_delay, base_delay * 2^(n-1))` ("full jitter"), so clients that failed together
/// do not retry together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per call, the first one included; 1 disables retries.
    pub max_attempts: u32,
    /// Upper bound of the first delay.
    pub base_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts with delays bounded by 0.5 s, 1 s and 2 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Returns a policy without retries: each call is sent once.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Returns the upper bound of the delay before retry `retry` (1-based).
    pub fn delay_bound(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Picks a random delay before retry `retry` (1-based), between zero and
    /// [`delay_bound`](Self::delay_bound).
    pub fn delay(&self, retry: u32) -> Duration {
        let bound = self.delay_bound(retry);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_double_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let bounds: Vec<u128> = (1..=6)
            .map(|retry| policy.delay_bound(retry).as_millis())
            .collect();
        assert_eq!(bounds, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.delay_bound(200), Duration::from_millis(1000));
    }

    #[test]
    fn delays_stay_within_bounds_and_vary() {
        let policy = RetryPolicy::default();
        let delays: Vec<Duration> = (0..200).map(|_| policy.delay(3)).collect();

        assert!(delays.iter().all(|delay| *delay <= policy.delay_bound(3)));
        let distinct: std::collections::BTreeSet<Duration> = delays.iter().copied().collect();
        assert!(
            distinct.len() > 100,
            "full jitter gave only {} distinct delays",
            distinct.len()
        );
    }
}

//! The push loop of one target: the latest snapshot, retries with backoff, failure counts.
//!
//! Snapshots arrive on a `watch` channel, which holds only the newest one, so a target that
//! is away for hours costs one snapshot of memory. A failed push is retried after a random
//! delay (full jitter, doubling up to `max_backoff_secs`) with the snapshot that is newest by
//! then. A push that the target rejects (4xx other than 408 and 429) is not retried, and the
//! next cycle's snapshot is pushed instead. Every failed attempt is counted in
//! `koji_agent_push_failures_total`, which every push carries.

use std::sync::Arc;

use tokio::sync::watch;

use super::{FailureCounters, PushTarget};
use crate::logging::{RepeatLimiter, Verdict};

/// The newest snapshot text, shared by all targets; `None` before the first cycle.
pub type SnapshotSender = watch::Sender<Option<Arc<str>>>;

/// Pushes each new snapshot to `target` until the sender is dropped.
pub async fn run_target(
    target: PushTarget,
    mut snapshots: watch::Receiver<Option<Arc<str>>>,
    counters: FailureCounters,
) {
    let backoff = target.backoff();
    let mut limiter = RepeatLimiter::default();

    while snapshots.changed().await.is_ok() {
        let mut retry = 0u32;
        loop {
            let Some(text) = snapshots.borrow_and_update().clone() else {
                break;
            };
            let body = format!("{text}{}", counters.render());

            let error = match target.push(&body).await {
                Ok(()) => {
                    if limiter.success() {
                        tracing::info!(
                            target = target.url(),
                            retries = retry,
                            "Push succeeded again."
                        );
                    }
                    break;
                }
                Err(error) => error,
            };
            counters.record(target.url(), error.reason);

            if !error.retryable {
                if let Verdict::Log(suppressed) = limiter.failure(&error.message) {
                    tracing::error!(
                        target = target.url(),
                        reason = %error.reason,
                        %error,
                        repeats_not_logged = suppressed,
                        "Push rejected; the next cycle pushes a new snapshot."
                    );
                }
                break;
            }

            retry = retry.saturating_add(1);
            let delay = backoff.delay(retry);
            if let Verdict::Log(suppressed) = limiter.failure(&error.message) {
                tracing::warn!(
                    target = target.url(),
                    reason = %error.reason,
                    %error,
                    retry,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    repeats_not_logged = suppressed,
                    "Push failed; retrying with the newest snapshot."
                );
            }
            tokio::time::sleep(delay).await;
        }
    }
}

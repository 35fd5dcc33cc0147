//! Drops the groups of agents that stopped pushing, on a timer of its own, so a group
//! expires whether or not anyone scrapes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::routes::unix_now;
use super::store::Store;

/// Time between two expiry runs for `max_age`: a quarter of it, between 250 ms and 30 s, so
/// a group lives at most a quarter longer than `max_age`.
pub fn check_interval(max_age: Duration) -> Duration {
    (max_age / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
}

/// Drops the groups whose last push is older than `max_age`, every
/// [`check_interval`]`(max_age)`, until `shutdown` completes. Each dropped group is logged
/// with its key, host and age.
pub async fn expire_periodically(
    store: Arc<Store>,
    max_age: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticker = tokio::time::interval(check_interval(max_age));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = &mut shutdown => return,
        }
        for expired in store.expire(unix_now(), max_age.as_secs_f64()) {
            tracing::info!(
                group = %expired.key,
                host = expired.key.host().unwrap_or_default(),
                age_secs = expired.age_secs.round(),
                max_age_secs = max_age.as_secs(),
                "Dropped a pushed group whose agent stopped pushing."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use koji_metrics::text::parse_text;

    use super::*;
    use crate::push::grouping::GroupingKey;
    use crate::push::store::{Limits, Method};

    #[test]
    fn interval_bounds() {
        assert_eq!(
            check_interval(Duration::from_secs(600)),
            Duration::from_secs(30)
        );
        assert_eq!(
            check_interval(Duration::from_secs(60)),
            Duration::from_secs(15)
        );
        assert_eq!(
            check_interval(Duration::from_millis(100)),
            Duration::from_millis(250)
        );
    }

    #[tokio::test]
    async fn timer_drops_silent_group() {
        let store = Arc::new(Store::new(Limits::default()));
        let key = GroupingKey::from_path("job/koji-agent/instance/b1").unwrap();
        let families = parse_text(b"a 1\n").unwrap();
        store
            .push(key.clone(), Method::Put, families, unix_now())
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(expire_periodically(
            store.clone(),
            Duration::from_secs(1),
            async move {
                let _closed = stopped.await;
            },
        ));

        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(store.group(&key).is_some(), "the group expired too early");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while store.group(&key).is_some() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        assert!(store.group(&key).is_none(), "the group did not expire");
        assert_eq!(store.snapshot().last_push.len(), 1);
        stop.send(()).unwrap();
        task.await.unwrap();
    }
}

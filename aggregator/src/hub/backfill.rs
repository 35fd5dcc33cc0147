//! The first task id of a backfill window, found by bisecting ids on `create_ts`.
//!
//! Task ids are serial, so creation times grow with ids. The first id created at or after a
//! time is found with about log2(highest id) `getTaskInfo` calls, never with a time-window
//! `listTasks`, which scans the whole task table. `getTaskInfo` returns nil for the ids of
//! deleted tasks, so each step probes a window of ids around the middle and takes the
//! existing task nearest to it, widening the window until it finds one.

use std::collections::BTreeSet;

use koji::calls::get_task_infos;
use koji::{Client, Task};

/// Ids in the first probe window around the middle of the range.
const FIRST_WINDOW: i64 = 16;

/// Returns the lowest id in `1..=max_id` whose task was created at or after `cutoff`
/// (Unix time), or `max_id + 1` when every task is older.
pub async fn first_id_since(client: &Client, cutoff: f64, max_id: i64) -> Result<i64, koji::Error> {
    let mut low = 1;
    let mut high = max_id;
    let mut probes = 0;

    // The first id at or after the cutoff stays in low..=high + 1.
    while low <= high {
        let middle = low + (high - low) / 2;
        probes += 1;
        let Some(task) = nearest_task(client, middle, low, high).await? else {
            // No task in low..=high: the first task at or after the cutoff is above high.
            break;
        };
        let created = task.create_ts.unwrap_or(f64::NEG_INFINITY);
        if created >= cutoff {
            high = task.id - 1;
        } else {
            low = task.id + 1;
        }
    }

    tracing::debug!(
        cutoff,
        first_id = high + 1,
        probes,
        "Found the first task id of the backfill."
    );
    Ok(high + 1)
}

/// Returns the task in `low..=high` nearest to `middle`, or `None` when no task exists in
/// that range.
async fn nearest_task(
    client: &Client,
    middle: i64,
    low: i64,
    high: i64,
) -> Result<Option<Task>, koji::Error> {
    let mut probed: BTreeSet<i64> = BTreeSet::new();
    let mut radius = FIRST_WINDOW / 2;

    loop {
        let window =
            middle.saturating_sub(radius).max(low)..=middle.saturating_add(radius).min(high);
        let ids: Vec<i64> = window.clone().filter(|id| !probed.contains(id)).collect();
        probed.extend(&ids);

        let tasks = client.call(get_task_infos(&ids, false)).await?;
        let nearest = tasks
            .into_iter()
            .flatten()
            .min_by_key(|task| ((task.id - middle).abs(), task.id));
        if nearest.is_some() {
            return Ok(nearest);
        }
        if *window.start() == low && *window.end() == high {
            return Ok(None);
        }
        radius = radius.saturating_mul(8);
    }
}

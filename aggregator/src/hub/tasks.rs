//! Counting created and finished tasks exactly once, without scanning history.
//!
//! Each poll hands over the hub's highest task id (read before the active listing) and the
//! active listing. Then:
//!
//! 1. `new_max` is the highest of the old highest id, the hub's highest id and the highest
//!    id in the listing.
//! 2. Tracked tasks that left the listing, ids still pending after a nil answer, and every
//!    id in (old highest id, `new_max`] that is not in the listing are fetched with
//!    `getTaskInfo([ids], request=True)` in batches of `hub.task_info_batch`.
//! 3. Every id above the old highest id is counted once as created; every task found in a
//!    final state that was tracked or is new is counted once as completed and observed in
//!    the wait and run histograms. A task that left the listing but is still active stays
//!    tracked. An active task at or below the old highest id that is not tracked (the
//!    active tasks at the first start) is adopted: it is counted when it completes, never
//!    as created.
//! 4. An id the hub answers with nil (deleted, or not committed yet) is asked again on
//!    later polls until `hub.missing_task_retry_secs` passed since the first nil answer,
//!    then it is skipped and counted in `koji_aggregator_task_ids_skipped_total`.
//!
//! Ids are processed in ascending order, so a parent's tag is known before its subtasks.
//! When the hub's highest id falls below the highest id seen before (a restored or replaced
//! database), counting starts again from the hub's highest id as on a first start.

use std::collections::{BTreeMap, BTreeSet};

use koji::calls::get_task_infos;
use koji::{Client, TagResolver, Task};

use super::channels::ChannelCache;
use super::error::PollError;
use super::state::{PollerState, TaskLabels, TrackedTask};
use super::tree::TreeTags;
use crate::config::{HubConfig, TagsConfig};

/// The parts of the poller that the task accounting reads.
pub struct Context<'a> {
    /// The hub client.
    pub client: &'a Client,
    /// Tag resolution with its caches.
    pub resolver: &'a TagResolver,
    /// The `[hub]` settings.
    pub hub: &'a HubConfig,
    /// The `[tags]` settings.
    pub tags: &'a TagsConfig,
}

/// The task accounting of one poll.
pub struct Accounting<'a> {
    context: Context<'a>,
    channels: &'a mut ChannelCache,
    trees: &'a mut TreeTags,
    now: f64,
    monotonic: f64,
    channels_refreshed: bool,
}

impl<'a> Accounting<'a> {
    /// Prepares the accounting of one poll at Unix time `now` and monotonic time
    /// `monotonic`. An unknown channel id refreshes `channels`; resolved tree tags are kept
    /// in `trees`.
    pub fn new(
        context: Context<'a>,
        channels: &'a mut ChannelCache,
        trees: &'a mut TreeTags,
        now: f64,
        monotonic: f64,
    ) -> Self {
        Self {
            context,
            channels,
            trees,
            now,
            monotonic,
            channels_refreshed: false,
        }
    }

    /// Accounts for the tasks of one poll in `state`. `state.book.highest_seen` must be set:
    /// on the first start it is the id below which active tasks are adopted.
    pub async fn run(
        &mut self,
        state: &mut PollerState,
        max_id: Option<i64>,
        listing: &[Task],
    ) -> Result<(), PollError> {
        let listed: BTreeMap<i64, &Task> = listing.iter().map(|task| (task.id, task)).collect();
        let listing_max = listed.keys().next_back().copied();
        self.restart_if_ids_went_back(state, max_id.max(listing_max));
        let baseline = state.book.highest_seen.unwrap_or(0);
        let new_max = [Some(baseline), max_id, listing_max]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(baseline);

        let mut to_fetch: BTreeSet<i64> = BTreeSet::new();
        to_fetch.extend(state.book.tracked.keys());
        to_fetch.extend(state.book.pending.keys());
        to_fetch.extend(baseline.saturating_add(1)..=new_max);
        to_fetch.retain(|id| !listed.contains_key(id));
        let mut fetched = self.fetch(&to_fetch).await?;

        let ids: BTreeSet<i64> = listed.keys().chain(fetched.keys()).copied().collect();
        for id in ids {
            let task = match listed.get(&id) {
                Some(task) => Some((*task).clone()),
                None => fetched.remove(&id).flatten(),
            };
            let tracked = state.book.tracked.contains_key(&id);
            let pending = state.book.pending.contains_key(&id);
            let new = id > baseline || (pending && !tracked);
            match task {
                Some(task) => self.observe(state, task, tracked, new).await?,
                None => self.missing(state, id),
            }
        }

        state.book.highest_seen = Some(new_max);
        Ok(())
    }

    /// Starts counting afresh when the hub's highest task id is below the highest id seen
    /// before, which happens when the hub's database was restored from a backup or replaced.
    ///
    /// Task ids are then reused for other tasks, so the tracked tasks, pending ids and cached
    /// tree tags no longer describe the hub. They are dropped, the hub's highest id becomes
    /// the new baseline, and the active tasks are adopted as on a first start: counted when
    /// they complete, never as created. The counters keep their values. Tasks that finished
    /// between the last poll and the restore are not counted.
    fn restart_if_ids_went_back(&mut self, state: &mut PollerState, hub_max: Option<i64>) {
        let Some(highest_seen) = state.book.highest_seen else {
            return;
        };
        let hub_max = hub_max.unwrap_or(0);
        if hub_max >= highest_seen {
            return;
        }

        tracing::error!(
            hub_highest_task_id = hub_max,
            highest_task_id_seen = highest_seen,
            dropped_tracked_tasks = state.book.tracked.len(),
            "The hub's highest task id is below the highest id seen before, so its database \
             was restored or replaced. Counting starts again at the hub's highest id; the \
             counters keep their values."
        );
        state.book.tracked.clear();
        state.book.pending.clear();
        state.book.highest_seen = Some(hub_max);
        self.trees.clear();
    }

    /// Fetches `ids` with `getTaskInfo([ids], request=True)` in batches.
    async fn fetch(&self, ids: &BTreeSet<i64>) -> Result<BTreeMap<i64, Option<Task>>, PollError> {
        let ids: Vec<i64> = ids.iter().copied().collect();
        let mut fetched = BTreeMap::new();
        for batch in ids.chunks(self.context.hub.task_info_batch) {
            let tasks = self
                .context
                .client
                .call(get_task_infos(batch, true))
                .await
                .map_err(PollError::at("fetching finished and new tasks"))?;
            fetched.extend(batch.iter().copied().zip(tasks));
        }
        Ok(fetched)
    }

    /// Counts a task the hub returned.
    async fn observe(
        &mut self,
        state: &mut PollerState,
        task: Task,
        tracked: bool,
        new: bool,
    ) -> Result<(), PollError> {
        state.book.pending.remove(&task.id);

        let (labels, tree_tag) = match state.book.tracked.get(&task.id) {
            Some(known) => (known.labels.clone(), known.tree_tag.clone()),
            None => {
                let tree_tag = self
                    .trees
                    .tree_tag(
                        &task,
                        &state.book,
                        self.context.client,
                        self.context.resolver,
                    )
                    .await?;
                let labels = self.labels(state, &task, tree_tag.as_deref()).await?;
                (labels, tree_tag)
            }
        };
        self.trees.remember(task.id, tree_tag.clone());

        if new && !tracked {
            state.counters.count_created(&labels);
        }
        if task.state.is_finished() {
            if tracked || new {
                state.counters.count_completed(&task, &labels);
            }
            state.book.tracked.remove(&task.id);
            return Ok(());
        }

        state.book.tracked.insert(
            task.id,
            TrackedTask {
                state: task.state,
                parent: task.parent,
                labels,
                tree_tag,
                create_ts: task.create_ts,
                start_ts: task.start_ts,
            },
        );
        Ok(())
    }

    /// Handles an id that `getTaskInfo` returned as nil. The id is asked again on later
    /// polls until the retry window has passed, then skipped.
    fn missing(&self, state: &mut PollerState, id: i64) {
        let first_nil = *state.book.pending.entry(id).or_insert(self.now);
        let waited = self.now - first_nil;
        if waited < self.context.hub.missing_task_retry.as_secs_f64() {
            return;
        }

        state.book.pending.remove(&id);
        let was_tracked = state.book.tracked.remove(&id).is_some();
        state.counters.ids_skipped += 1;
        tracing::info!(
            task_id = id,
            was_tracked,
            waited_secs = waited.round(),
            "The hub has returned no task for this id since the first try; skipping it."
        );
    }

    /// Decides the labels of a task seen for the first time, counting a folded tag.
    async fn labels(
        &mut self,
        state: &mut PollerState,
        task: &Task,
        tree_tag: Option<&str>,
    ) -> Result<TaskLabels, PollError> {
        let channel = self.channel_name(task.channel_id).await?;
        let tag = state.tags.label(tree_tag, self.context.tags);
        if tag.folded {
            state.counters.tag_folded += 1;
        }
        Ok(TaskLabels {
            channel,
            method: task.method.clone(),
            tag: tag.value,
        })
    }

    /// Returns the name of a channel. An unknown id refreshes the channel cache, at most
    /// once per poll. When the hub does not list the id either, its number is the name.
    async fn channel_name(&mut self, channel_id: i64) -> Result<String, PollError> {
        if let Some(name) = self.channels.name(channel_id) {
            return Ok(name.to_string());
        }
        if !self.channels_refreshed {
            self.channels_refreshed = true;
            tracing::debug!(
                channel_id,
                "A task names a channel id missing from the cache; refreshing the channels."
            );
            self.channels
                .refresh(self.context.client, self.monotonic)
                .await
                .map_err(PollError::at("reading the channels"))?;
            if let Some(name) = self.channels.name(channel_id) {
                return Ok(name.to_string());
            }
        }
        Ok(channel_id.to_string())
    }
}

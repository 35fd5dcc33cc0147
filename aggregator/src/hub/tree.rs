//! The tag of a task's tree: the top-level task decides from its request, and every
//! descendant takes that tag through `parent`.
//!
//! Ancestors are found, in order, among the tasks of the current poll, the tracked tasks
//! (which keep their tree's tag), a cache of recently resolved task ids, and finally with
//! `getTaskInfo(id, request=True)` for each ancestor the poller has not seen.

use std::collections::HashMap;

use koji::calls::get_task_info;
use koji::{Client, TagResolver, Task};

use super::error::PollError;
use super::state::TaskBook;

/// Resolved task ids kept before the cache is emptied and refilled.
const CACHE_LIMIT: usize = 100_000;

/// Maximum length of a parent chain that is followed. Koji trees are a few levels deep.
const MAX_DEPTH: usize = 64;

/// Tree tags of task ids resolved earlier in this process.
#[derive(Debug, Default)]
pub struct TreeTags {
    by_task: HashMap<i64, Option<String>>,
}

impl TreeTags {
    /// Records that task `id` belongs to a tree tagged `tag`.
    pub fn remember(&mut self, id: i64, tag: Option<String>) {
        if self.by_task.len() >= CACHE_LIMIT {
            self.by_task.clear();
        }
        self.by_task.insert(id, tag);
    }

    /// Forgets every resolved task id.
    pub fn clear(&mut self) {
        self.by_task.clear();
    }

    fn known(&self, id: i64, book: &TaskBook) -> Option<Option<String>> {
        if let Some(tag) = self.by_task.get(&id) {
            return Some(tag.clone());
        }
        book.tracked.get(&id).map(|task| task.tree_tag.clone())
    }

    /// Returns the tag of `task`'s tree before rewrites and the cap. The tag is `None` when
    /// the top-level task names no tag or the hub has no such target, tag or repo.
    pub async fn tree_tag(
        &mut self,
        task: &Task,
        book: &TaskBook,
        client: &Client,
        resolver: &TagResolver,
    ) -> Result<Option<String>, PollError> {
        let mut ancestors = Vec::new();
        let mut current = task.clone();

        let tag = loop {
            let Some(parent) = current.parent else {
                let params = current.request.as_deref().unwrap_or(&[]);
                break resolver
                    .resolve_task(&current.method, params)
                    .await
                    .map_err(PollError::at("resolving the tag of a task tree"))?;
            };
            if let Some(tag) = self.known(parent, book) {
                break tag;
            }
            if ancestors.len() >= MAX_DEPTH {
                tracing::warn!(
                    task_id = task.id,
                    depth = MAX_DEPTH,
                    "Task tree is deeper than expected; labelling it without a tag."
                );
                break None;
            }

            ancestors.push(parent);
            let fetched = client
                .call(get_task_info(parent, true))
                .await
                .map_err(PollError::at("fetching the parent of a task"))?;
            match fetched {
                Some(parent_task) => current = parent_task,
                None => {
                    tracing::debug!(
                        task_id = task.id,
                        parent,
                        "The hub has no parent task; labelling the tree without a tag."
                    );
                    break None;
                }
            }
        };

        for id in ancestors {
            self.remember(id, tag.clone());
        }
        Ok(tag)
    }
}

//! Moving tasks through their lifecycle: host choice, assignment, opening, finishing,
//! stages of children, cancellation, and taking over the scenario's active tasks.

use std::collections::VecDeque;
use std::sync::Arc;

use super::catalog::TargetChoice;
use super::trees::leaf_kind_for;
use super::{CAPACITY_OVERCOMMIT, Job, JobKind, LoadEngine, MAX_JOBS, Placed, Step};
use crate::hashing::FastMap;
use crate::tasks::{Payload, TaskState};
use crate::value::Val;
use crate::world::{TaskDraft, World};

impl LoadEngine {
    /// True when a live, enabled host of `channel_id` has `arch` and is ready, or not ready
    /// only because its load is above capacity.
    pub(super) fn serves(&self, world: &World, channel_id: i64, arch: &str) -> bool {
        self.channel_hosts.get(&channel_id).is_some_and(|hosts| {
            hosts.iter().any(|index| {
                let host = &world.hosts[*index];
                host.live
                    && host.enabled
                    && (host.ready || host.task_load > host.capacity)
                    && self.host_arches[*index].iter().any(|have| **have == *arch)
            })
        })
    }

    /// Returns the arches of `target` some host of `channel_id` serves, or its first arch when none
    /// is served, so generated trees do not pile up tasks that no host can take.
    pub(super) fn served_arches(
        &self,
        world: &World,
        channel_id: i64,
        target: &TargetChoice,
    ) -> Vec<String> {
        let served: Vec<String> = target
            .arches
            .iter()
            .filter(|arch| self.serves(world, channel_id, arch))
            .cloned()
            .collect();
        if served.is_empty() {
            target.arches.iter().take(1).cloned().collect()
        } else {
            served
        }
    }

    pub(super) fn pick_host(
        &self,
        world: &World,
        channel_id: i64,
        arch: &str,
        weight: f64,
    ) -> Option<i64> {
        if !world
            .channel(channel_id)
            .is_some_and(|channel| channel.enabled)
        {
            return None;
        }
        let mut best: Option<(f64, i64)> = None;
        for index in self
            .channel_hosts
            .get(&channel_id)
            .map_or(&[][..], Vec::as_slice)
        {
            let host = &world.hosts[*index];
            if !(host.live && host.enabled && host.ready) {
                continue;
            }
            if arch != "noarch" && !self.host_arches[*index].iter().any(|have| **have == *arch) {
                continue;
            }
            let book = &self.books[*index];
            let (load, count) = (book.scheduled_load(), book.placed.len());
            if load + weight > host.capacity + CAPACITY_OVERCOMMIT || count >= MAX_JOBS {
                continue;
            }
            let ratio = load / host.capacity.max(0.1);
            if best.is_none_or(|(best_ratio, _)| ratio < best_ratio) {
                best = Some((ratio, host.id));
            }
        }
        best.map(|(_, host)| host)
    }

    /// Changes the engine's record of task `id` on `host_id` and refreshes the host.
    pub(super) fn update_placed(
        &mut self,
        world: &mut World,
        host_id: i64,
        id: i64,
        change: impl FnOnce(&mut Placed),
    ) {
        let placed = self
            .host_index
            .get(&host_id)
            .and_then(|index| self.books.get_mut(*index))
            .and_then(|book| book.placed.iter_mut().find(|task| task.id == id));
        if let Some(placed) = placed {
            change(placed);
        }
        self.refresh_host(world, host_id);
    }

    /// Sets a live host's reported `task_load` and `ready` from its open tasks.
    pub(super) fn refresh_host(&self, world: &mut World, host_id: i64) {
        let Some(index) = self.host_index.get(&host_id).copied() else {
            return;
        };
        let load = self.books[index].task_load();
        if let Some(host) = world.hosts.get_mut(index)
            && host.live
        {
            host.task_load = load;
            host.ready = host.enabled && load <= host.capacity;
        }
    }

    pub(super) fn release_host(&mut self, world: &mut World, task_id: i64, host_id: Option<i64>) {
        let Some(host_id) = host_id else { return };
        if let Some(book) = self
            .host_index
            .get(&host_id)
            .and_then(|index| self.books.get_mut(*index))
        {
            book.placed.retain(|task| task.id != task_id);
        }
        self.refresh_host(world, host_id);
        let channels = self
            .host_index
            .get(&host_id)
            .map(|index| world.hosts[*index].channels.clone())
            .unwrap_or_default();
        for channel in channels {
            if self
                .pending
                .get(&channel)
                .is_some_and(|queue| !queue.is_empty())
            {
                self.retry_pending(world, channel);
            }
        }
    }

    pub(super) fn assign(&mut self, world: &mut World, id: i64) {
        let Some(task) = world.tasks.get(id) else {
            return;
        };
        if task.state != TaskState::Free {
            return;
        }
        let (channel_id, arch) = (
            task.channel_id,
            world.tasks.symbols.name(task.arch).to_string(),
        );
        let weight = self.jobs.get(&id).map_or(1.0, |job| job.weight);
        match self.pick_host(world, channel_id, &arch, weight) {
            Some(host) => self.assign_to(world, id, host),
            None => self.pending.entry(channel_id).or_default().push_back(id),
        }
    }

    pub(super) fn assign_to(&mut self, world: &mut World, id: i64, host: i64) {
        if world
            .transition(id, TaskState::Assigned, Some(host), None)
            .is_err()
        {
            return;
        }
        let weight = self.jobs.get(&id).map_or(1.0, |job| job.weight);
        let placed = Placed {
            id,
            weight,
            open: false,
            waiting: false,
        };
        if let Some(book) = self
            .host_index
            .get(&host)
            .and_then(|index| self.books.get_mut(*index))
        {
            book.placed.push(placed);
        }
        self.schedule_in(world, 1.0, 15.0, Step::Open(id));
    }

    /// Gives waiting FREE tasks of `channel_id` to hosts, oldest first, until one cannot be
    /// placed.
    pub(super) fn retry_pending(&mut self, world: &mut World, channel_id: i64) {
        for _ in 0..8 {
            let Some(queue) = self.pending.get_mut(&channel_id) else {
                return;
            };
            let Some(id) = queue.pop_front() else { return };
            let Some(task) = world
                .tasks
                .get(id)
                .filter(|task| task.state == TaskState::Free)
            else {
                continue;
            };
            let arch = world.tasks.symbols.name(task.arch).to_string();
            let weight = self.jobs.get(&id).map_or(1.0, |job| job.weight);
            match self.pick_host(world, channel_id, &arch, weight) {
                Some(host) => self.assign_to(world, id, host),
                None => {
                    self.pending.entry(channel_id).or_default().push_front(id);
                    return;
                }
            }
        }
    }

    pub(super) fn open(&mut self, world: &mut World, id: i64) {
        let Some(task) = world.tasks.get(id) else {
            self.task_gone(world, id);
            return;
        };
        if task.state != TaskState::Assigned {
            return;
        }
        let host = task.host_id();
        if world.transition(id, TaskState::Open, None, None).is_err() {
            return;
        }
        let weight = self.jobs.get(&id).map_or(1.0, |job| job.weight);
        world.tasks.update(id, |task| task.weight = weight);

        let run = match self.jobs.get(&id).map(|job| &job.kind) {
            Some(JobKind::Leaf(run)) => Some(run.run_secs),
            Some(JobKind::Parent { .. }) => None,
            None => Some(self.log_uniform((60.0, 900.0))),
        };
        if let Some(host) = host {
            self.update_placed(world, host, id, |placed| placed.open = true);
        }
        match run {
            Some(seconds) => self.schedule(world.now.add_secs(seconds), Step::Finish(id)),
            None => self.start_next_stage(world, id),
        }
    }

    pub(super) fn start_next_stage(&mut self, world: &mut World, parent: i64) {
        let stage = match self.jobs.get_mut(&parent).map(|job| &mut job.kind) {
            Some(JobKind::Parent { stages, .. }) => stages.pop_front(),
            _ => None,
        };
        let Some(stage) = stage.filter(|stage| !stage.is_empty()) else {
            self.schedule_in(world, 1.0, 10.0, Step::Resume(parent));
            return;
        };
        let Some(parent_task) = world.tasks.get(parent) else {
            return;
        };
        let (owner, priority) = (parent_task.owner, parent_task.priority - 1);

        let mut children = Vec::with_capacity(stage.len());
        for plan in stage {
            let id = world.create_task(TaskDraft {
                method: plan.method.to_owned(),
                channel_id: plan.channel_id,
                arch: plan.arch,
                label: plan.label,
                parent: Some(parent),
                owner,
                priority,
                weight: 1.0,
                state: TaskState::Free,
                host_id: None,
                request: plan.request,
                tag: None,
                waiting: None,
                awaited: Some(true),
            });
            self.jobs.insert(
                id,
                Job {
                    parent: Some(parent),
                    weight: plan.leaf.weight,
                    kind: JobKind::Leaf(plan.leaf),
                },
            );
            children.push(id);
        }
        for id in &children {
            self.schedule_in(world, 2.0, 30.0, Step::Assign(*id));
        }

        world.tasks.update(parent, |task| task.waiting = Some(true));
        if let Some(JobKind::Parent {
            children: current,
            open_children,
            ..
        }) = self.jobs.get_mut(&parent).map(|job| &mut job.kind)
        {
            *open_children = children.len();
            *current = children;
        }
        if let Some(host) = world.tasks.get(parent).and_then(|task| task.host_id()) {
            self.update_placed(world, host, parent, |placed| placed.waiting = true);
        }
    }

    pub(super) fn finish_leaf(&mut self, world: &mut World, id: i64) {
        let Some(task) = world.tasks.get(id) else {
            self.task_gone(world, id);
            return;
        };
        if task.state != TaskState::Open {
            return;
        }
        let host = task.host_id();
        let Some(job) = self.jobs.remove(&id) else {
            // A task without a plan closes successfully.
            if world.transition(id, TaskState::Closed, None, None).is_ok() {
                self.release_host(world, id, host);
            }
            return;
        };
        let (state, outcome) = match &job.kind {
            JobKind::Leaf(run) if run.fails => (TaskState::Failed, Some(run.outcome.clone())),
            JobKind::Leaf(run) => (TaskState::Closed, Some(run.outcome.clone())),
            JobKind::Parent { .. } => (TaskState::Closed, None),
        };
        if world.transition(id, state, None, outcome.clone()).is_err() {
            return;
        }
        self.release_host(world, id, host);
        if let Some(parent) = job.parent {
            let failure = (state == TaskState::Failed).then_some(outcome).flatten();
            self.child_done(world, parent, id, failure);
        }
    }

    /// Handles a step for a task that no longer exists (deleted through the control API).
    pub(super) fn task_gone(&mut self, world: &mut World, id: i64) {
        if let Some(job) = self.jobs.remove(&id)
            && let Some(parent) = job.parent
        {
            self.child_done(world, parent, id, None);
        }
    }

    pub(super) fn child_done(
        &mut self,
        world: &mut World,
        parent: i64,
        child: i64,
        failure: Option<Arc<Payload>>,
    ) {
        world.tasks.update(child, |task| task.awaited = Some(false));
        let mut cancel = Vec::new();
        let mut resume = false;
        if let Some(JobKind::Parent {
            children,
            open_children,
            failure: first_failure,
            ..
        }) = self.jobs.get_mut(&parent).map(|job| &mut job.kind)
        {
            *open_children = open_children.saturating_sub(1);
            if failure.is_some() && first_failure.is_none() {
                *first_failure = failure;
                cancel = children.iter().copied().filter(|id| *id != child).collect();
            }
            resume = *open_children == 0 || !cancel.is_empty();
        }

        for sibling in cancel {
            if Self::state_of(world, sibling).is_some_and(TaskState::is_active) {
                self.cancel_one(world, sibling);
            }
        }
        if let Some(JobKind::Parent { open_children, .. }) =
            self.jobs.get_mut(&parent).map(|job| &mut job.kind)
            && resume
        {
            *open_children = 0;
            self.schedule_in(world, 1.0, 10.0, Step::Resume(parent));
        }
    }

    pub(super) fn resume(&mut self, world: &mut World, parent: i64) {
        if Self::state_of(world, parent) != Some(TaskState::Open) {
            return;
        }
        world
            .tasks
            .update(parent, |task| task.waiting = Some(false));
        if let Some(host) = world.tasks.get(parent).and_then(|task| task.host_id()) {
            self.update_placed(world, host, parent, |placed| placed.waiting = false);
        }
        let (failure, more, result) = match self.jobs.get(&parent).map(|job| &job.kind) {
            Some(JobKind::Parent {
                failure,
                stages,
                result,
                ..
            }) => (failure.clone(), !stages.is_empty(), Some(result.clone())),
            _ => (None, false, None),
        };
        if failure.is_none() && more {
            self.start_next_stage(world, parent);
            return;
        }

        let host = world.tasks.get(parent).and_then(|task| task.host_id());
        let state = if failure.is_some() {
            TaskState::Failed
        } else {
            TaskState::Closed
        };
        let outcome = failure.clone().or(result);
        let job = self.jobs.remove(&parent);
        if world.transition(parent, state, None, outcome).is_err() {
            return;
        }
        self.release_host(world, parent, host);
        if let Some(grandparent) = job.and_then(|job| job.parent) {
            self.child_done(world, grandparent, parent, failure);
        }
    }

    /// Cancels one task and its running descendants.
    pub(super) fn cancel_one(&mut self, world: &mut World, id: i64) {
        let children = match self.jobs.get(&id).map(|job| &job.kind) {
            Some(JobKind::Parent { children, .. }) => children.clone(),
            _ => Vec::new(),
        };
        for child in children {
            if Self::state_of(world, child).is_some_and(TaskState::is_active) {
                self.cancel_one(world, child);
            }
        }
        let host = world.tasks.get(id).and_then(|task| task.host_id());
        self.jobs.remove(&id);
        if world
            .transition(id, TaskState::Canceled, None, None)
            .is_ok()
        {
            self.release_host(world, id, host);
        }
    }

    pub(super) fn cancel_tree(&mut self, world: &mut World, root: i64) {
        if Self::state_of(world, root).is_some_and(TaskState::is_active) {
            self.cancel_one(world, root);
        }
    }

    /// Takes over the active tasks the engine did not create (the scenario's): each runs as
    /// a single task, and a waiting parent finishes when its children have.
    pub(super) fn adopt_active_tasks(&mut self, world: &mut World) {
        let active: Vec<i64> = world
            .tasks
            .active_ids()
            .iter()
            .copied()
            .filter(|id| !self.jobs.contains_key(id))
            .collect();
        let mut children_of: FastMap<i64, Vec<i64>> = FastMap::default();
        for id in &active {
            if let Some(parent) = world.tasks.get(*id).and_then(|task| task.parent()) {
                children_of.entry(parent).or_default().push(*id);
            }
        }

        for id in active {
            let Some(task) = world.tasks.get(id) else {
                continue;
            };
            let (state, parent, host, method, weight, waiting) = (
                task.state,
                task.parent(),
                task.host_id(),
                world.tasks.symbols.name(task.method).to_string(),
                task.weight,
                task.waiting,
            );
            let children = children_of.remove(&id).unwrap_or_default();
            let kind = if children.is_empty() {
                let leaf = leaf_kind_for(&method);
                let mut run = self.leaf_run(&leaf);
                run.fails = false;
                run.outcome = self.outcome(&leaf, false);
                JobKind::Leaf(run)
            } else {
                let result =
                    self.payload(format!("result:{method}"), || Payload::result(&Val::Nil));
                JobKind::Parent {
                    stages: VecDeque::new(),
                    open_children: children.len(),
                    children,
                    failure: None,
                    result,
                }
            };
            let is_leaf = matches!(kind, JobKind::Leaf(_));
            let job_weight = if weight > 0.0 { weight } else { 1.0 };
            let run_secs = match &kind {
                JobKind::Leaf(run) => run.run_secs,
                JobKind::Parent { .. } => 0.0,
            };
            self.jobs.insert(
                id,
                Job {
                    parent,
                    weight: job_weight,
                    kind,
                },
            );
            if let Some(host) = host {
                let placed = Placed {
                    id,
                    weight: job_weight,
                    open: state == TaskState::Open,
                    waiting: waiting == Some(true),
                };
                if let Some(book) = self
                    .host_index
                    .get(&host)
                    .and_then(|index| self.books.get_mut(*index))
                {
                    book.placed.push(placed);
                }
            }

            match state {
                TaskState::Free => self.schedule_in(world, 1.0, 30.0, Step::Assign(id)),
                TaskState::Assigned => self.schedule_in(world, 1.0, 15.0, Step::Open(id)),
                TaskState::Open if is_leaf => {
                    let remaining = run_secs * self.uniform(0.1, 1.0);
                    self.schedule(world.now.add_secs(remaining), Step::Finish(id));
                }
                _ => {}
            }
        }
    }
}

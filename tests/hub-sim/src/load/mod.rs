//! Load mode: task trees flowing through their lifecycle on a virtual clock.
//!
//! Trees arrive at a set rate of tasks a day, with a daily curve that peaks at 13:00 UTC.
//! The mix is modelled on a Fedora-like hub:
//! - builds: buildSRPMFromSCM, then one buildArch per arch of the build tag, then tagBuild;
//! - newRepo with one createrepo per arch;
//! - standalone tagBuild;
//! - image (createImage), livemedia (createLiveMedia) and maven (buildMaven).
//!
//! A task waits FREE until a host takes it that is live, enabled and ready, belongs to the
//! task's channel, has its arch and has spare capacity. The task is then ASSIGNED, opens a
//! few seconds later (OPEN), and finishes after a method-specific run time (CLOSED, or FAILED
//! at a per-method rate). Parents wait on each stage of children. A failed child cancels its
//! running siblings and fails the parent, and a few trees are canceled as a whole. Hosts
//! report the summed weight of their running tasks as `task_load` and are not ready above
//! capacity.
//!
//! Everything draws from one seeded generator, so a run with the same scenario, seed and
//! clock steps repeats exactly. A prefill runs the same process over the past to fill the
//! task table with history before the clock's `now`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::hashing::FastMap;
use crate::tasks::{Payload, TaskState};
use crate::time::Micros;
use crate::world::World;

use catalog::{
    Channels, TargetChoice, add_generated_hosts, channel_hosts, pick_channels, prepare_targets,
};
use trees::{TREE_MIX, TreeKind};

mod catalog;
mod lifecycle;
mod trees;

const DAY_SECS: f64 = 86_400.0;
const CAPACITY_OVERCOMMIT: f64 = 5.0;
const MAX_JOBS: usize = 15;

/// Load-mode settings (the `load` section of a scenario, or the binary's `--load` flags).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// Tasks created per day on average, subtasks included.
    pub tasks_per_day: f64,
    /// Rows of history to generate before the clock's `now` (about this many).
    pub prefill_rows: u64,
    /// Seed of the random generator.
    pub seed: u64,
    /// Amplitude of the daily curve: the rate is `1 + a` times the mean at 13:00 UTC and
    /// `1 - a` times at 01:00 UTC.
    pub diurnal_amplitude: f64,
    /// Multiplies every method's failure rate.
    pub failure_scale: f64,
    /// Fraction of trees canceled while they run.
    pub cancel_fraction: f64,
    /// Extra live builders to add (`load-builder-NNN.example.com`), for rates the
    /// scenario's hosts cannot carry.
    pub generated_hosts: u32,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            tasks_per_day: 50_000.0,
            prefill_rows: 0,
            seed: 1,
            diurnal_amplitude: 0.6,
            failure_scale: 1.0,
            cancel_fraction: 0.02,
            generated_hosts: 0,
        }
    }
}

/// A scheduled step of the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Assign(i64),
    Open(i64),
    Finish(i64),
    Resume(i64),
    Cancel(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    at: i64,
    seq: u64,
    step: Step,
}

/// A child task to create when its stage starts.
#[derive(Clone, Debug)]
struct ChildPlan {
    method: &'static str,
    channel_id: i64,
    arch: String,
    label: Option<String>,
    request: Arc<Payload>,
    leaf: LeafRun,
}

/// How a leaf task runs once open.
#[derive(Clone, Debug)]
struct LeafRun {
    run_secs: f64,
    weight: f64,
    outcome: Arc<Payload>,
    fails: bool,
}

#[derive(Debug)]
enum JobKind {
    Leaf(LeafRun),
    Parent {
        stages: VecDeque<Vec<ChildPlan>>,
        children: Vec<i64>,
        open_children: usize,
        failure: Option<Arc<Payload>>,
        result: Arc<Payload>,
    },
}

#[derive(Debug)]
struct Job {
    parent: Option<i64>,
    weight: f64,
    kind: JobKind,
}

/// A task the engine has put on a host.
#[derive(Clone, Copy, Debug)]
struct Placed {
    id: i64,
    weight: f64,
    open: bool,
    waiting: bool,
}

/// The tasks on one host, kept by the engine so that choosing a host does not read the
/// task table.
#[derive(Debug, Default)]
struct HostBook {
    placed: Vec<Placed>,
}

impl HostBook {
    /// Returns the load the scheduler counts: ASSIGNED tasks and OPEN tasks not waiting on
    /// subtasks.
    fn scheduled_load(&self) -> f64 {
        // A fold from 0.0: an empty f64 sum is -0.0, which the hub would print as "-0.0".
        self.placed
            .iter()
            .filter(|task| !task.waiting)
            .fold(0.0, |load, task| load + task.weight)
    }

    /// Returns the load kojid reports: OPEN tasks not waiting on subtasks.
    fn task_load(&self) -> f64 {
        self.placed
            .iter()
            .filter(|task| task.open && !task.waiting)
            .fold(0.0, |load, task| load + task.weight)
    }
}

/// The engine: pending steps, running trees and host bookkeeping.
#[derive(Debug)]
pub struct LoadEngine {
    config: LoadConfig,
    rng: Xoshiro256PlusPlus,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    next_arrival: i64,
    trees_per_sec: f64,
    jobs: FastMap<i64, Job>,
    pending: FastMap<i64, VecDeque<i64>>,
    /// Tasks on each host, by index in `world.hosts`.
    books: Vec<HostBook>,
    /// Arches of each host, by index in `world.hosts`.
    host_arches: Vec<Vec<Box<str>>>,
    host_index: FastMap<i64, usize>,
    channel_hosts: FastMap<i64, Vec<usize>>,
    targets: Vec<TargetChoice>,
    channels: Channels,
    users: Vec<i64>,
    kojira: i64,
    payloads: FastMap<String, Arc<Payload>>,
}

impl LoadEngine {
    /// Starts load mode on `world`: adds generated hosts and any missing target or repo,
    /// generates the prefill history, and takes over the scenario's active tasks.
    pub fn start(world: &mut World, config: LoadConfig) -> LoadEngine {
        world.live_checkins = true;
        add_generated_hosts(world, config.generated_hosts);
        let targets = prepare_targets(world);
        let channels = pick_channels(world);
        let users: Vec<i64> = world
            .users
            .iter()
            .filter(|user| user.usertype == 0 && &*user.name != "kojira")
            .map(|user| user.id)
            .collect();
        let kojira = world
            .users
            .iter()
            .find(|user| &*user.name == "kojira")
            .map_or(users.first().copied().unwrap_or(1), |user| user.id);

        let mut engine = LoadEngine {
            rng: Xoshiro256PlusPlus::seed_from_u64(config.seed),
            queue: BinaryHeap::new(),
            seq: 0,
            next_arrival: i64::MAX,
            trees_per_sec: 0.0,
            jobs: FastMap::default(),
            pending: FastMap::default(),
            books: world.hosts.iter().map(|_| HostBook::default()).collect(),
            host_arches: world
                .hosts
                .iter()
                .map(|host| {
                    host.arches
                        .as_deref()
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(Box::from)
                        .collect()
                })
                .collect(),
            host_index: world
                .hosts
                .iter()
                .enumerate()
                .map(|(index, host)| (host.id, index))
                .collect(),
            channel_hosts: channel_hosts(world),
            targets,
            channels,
            users: if users.is_empty() { vec![1] } else { users },
            kojira,
            payloads: FastMap::default(),
            config,
        };
        engine.trees_per_sec =
            engine.config.tasks_per_day.max(0.0) / DAY_SECS / engine.mean_tree_size();

        let end = world.now;
        if engine.config.prefill_rows > 0 && engine.config.tasks_per_day > 0.0 {
            let start = engine.prefill_start(end);
            let recording = world.recording;
            world.recording = false;
            world.now = start;
            engine.next_arrival = engine.draw_arrival(start.0);
            engine.run_until(world, end);
            world.recording = recording;
        } else {
            engine.next_arrival = engine.draw_arrival(end.0);
        }
        engine.adopt_active_tasks(world);
        engine
    }

    /// Returns the start of the prefill: far enough before `end` that the daily curve yields about
    /// `prefill_rows` tasks.
    fn prefill_start(&self, end: Micros) -> Micros {
        const SLICE_SECS: f64 = 60.0;
        let per_slice = self.config.tasks_per_day / DAY_SECS * SLICE_SECS;
        let target_rows = self.config.prefill_rows as f64;
        let mut expected = 0.0;
        let mut start = end.as_secs_f64();
        // Ten years at most, whatever the rate.
        for _ in 0..(10 * 365 * 1440) {
            if expected >= target_rows {
                break;
            }
            expected += per_slice * self.diurnal(start - SLICE_SECS / 2.0);
            start -= SLICE_SECS;
        }
        Micros::from_secs_f64(start)
    }

    /// Runs every step up to `end` and leaves the clock there.
    pub fn run_until(&mut self, world: &mut World, end: Micros) {
        loop {
            let next_step = self.queue.peek().map(|Reverse(scheduled)| scheduled.at);
            let arrival_first = next_step.is_none_or(|at| self.next_arrival <= at);
            let next = match next_step {
                Some(at) if !arrival_first => at,
                _ => self.next_arrival,
            };
            if next > end.0 {
                break;
            }
            world.now = Micros(next.max(world.now.0));

            if arrival_first {
                self.arrive(world);
                self.next_arrival = self.draw_arrival(next);
            } else if let Some(Reverse(scheduled)) = self.queue.pop() {
                self.handle(world, scheduled.step);
            }
        }
        if end > world.now {
            world.now = end;
        }
    }

    fn schedule(&mut self, at: Micros, step: Step) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at: at.0,
            seq: self.seq,
            step,
        }));
    }

    fn schedule_in(&mut self, world: &World, low_secs: f64, high_secs: f64, step: Step) {
        let delay = self.uniform(low_secs, high_secs);
        self.schedule(world.now.add_secs(delay), step);
    }

    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.rng.random::<f64>()
    }

    fn log_uniform(&mut self, (low, high): (f64, f64)) -> f64 {
        (low.ln() + (high.ln() - low.ln()) * self.rng.random::<f64>()).exp()
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.rng.random::<f64>() < probability
    }

    fn index(&mut self, len: usize) -> usize {
        if len <= 1 {
            0
        } else {
            self.rng.random_range(0..len)
        }
    }

    /// Returns the rate factor of the daily curve at `seconds` (epoch).
    fn diurnal(&self, seconds: f64) -> f64 {
        let hour = seconds.rem_euclid(DAY_SECS) / 3600.0;
        1.0 + self.config.diurnal_amplitude * ((hour - 13.0) / 24.0 * std::f64::consts::TAU).cos()
    }

    /// Draws the next tree arrival after `from` (a Poisson process thinned by the curve).
    fn draw_arrival(&mut self, from: i64) -> i64 {
        if self.trees_per_sec <= 0.0 {
            return i64::MAX;
        }
        let amplitude = self.config.diurnal_amplitude.clamp(0.0, 1.0);
        let max_rate = self.trees_per_sec * (1.0 + amplitude);
        let mut seconds = from as f64 / 1e6;
        loop {
            let gap = -(1.0 - self.rng.random::<f64>()).ln() / max_rate;
            seconds += gap;
            if self.rng.random::<f64>() * max_rate <= self.trees_per_sec * self.diurnal(seconds) {
                return (seconds * 1e6).round() as i64;
            }
        }
    }

    /// Expected tasks per tree, to turn tasks a day into trees a second.
    fn mean_tree_size(&self) -> f64 {
        let arches = self
            .targets
            .iter()
            .map(|target| target.arches.len() as f64)
            .sum::<f64>()
            / self.targets.len().max(1) as f64;
        TREE_MIX
            .iter()
            .map(|(kind, share)| {
                let size = match kind {
                    TreeKind::Build => 2.0 + arches + 0.85,
                    TreeKind::NewRepo => 1.0 + arches,
                    TreeKind::TagBuild => 1.0,
                    TreeKind::Image => 2.5,
                    TreeKind::LiveMedia | TreeKind::Maven => 2.0,
                };
                share * size
            })
            .sum()
    }

    fn handle(&mut self, world: &mut World, step: Step) {
        match step {
            Step::Assign(id) => self.assign(world, id),
            Step::Open(id) => self.open(world, id),
            Step::Finish(id) => self.finish_leaf(world, id),
            Step::Resume(id) => self.resume(world, id),
            Step::Cancel(id) => self.cancel_tree(world, id),
        }
    }

    fn state_of(world: &World, id: i64) -> Option<TaskState> {
        world.tasks.get(id).map(|task| task.state)
    }
}

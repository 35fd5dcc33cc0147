//! Starting the simulator and controlling it in process.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control::{CheckIn, ClockChange, NewTask, StateChange, TaskTruth};
use crate::error::SimError;
use crate::events::{GroundTruth, TaskEvent};
use crate::hub::Hub;
use crate::inject::{FaultRule, FaultRules, InstalledRule};
use crate::load::{LoadConfig, LoadEngine};
use crate::scenario::{ClockStart, NameOrId, Scenario};
use crate::server::{self, Shared};
use crate::setup::build_world;
use crate::stats::{Stats, StatsSnapshot};
use crate::tasks::TaskState;
use crate::time::{Micros, TimeSpec};
use crate::version::VersionMode;

/// How to run the simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Address to listen on; `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// Which hub release to imitate.
    pub version: VersionMode,
    /// Load mode settings; `None` keeps the scenario's tasks as they are.
    pub load: Option<LoadConfig>,
    /// Move the virtual clock by this many seconds per real second in the background.
    pub clock_speed: Option<f64>,
    /// Move the virtual clock by this many seconds before each XML-RPC request.
    pub advance_per_call: Option<f64>,
    /// The clock's start, overriding the scenario's `clock.now`.
    pub now: Option<ClockStart>,
    /// Events the log keeps before dropping the oldest (the totals count all).
    pub event_capacity: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            version: VersionMode::Current,
            load: None,
            clock_speed: None,
            advance_per_call: None,
            now: None,
            event_capacity: 1_000_000,
        }
    }
}

/// The simulator's entry point.
#[derive(Debug)]
pub struct HubSim;

fn system_now() -> Micros {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Micros(elapsed.as_micros() as i64)
}

impl HubSim {
    /// Loads `scenario`, starts load mode if asked, binds the listen address and serves
    /// `/kojihub` and `/control/...` until the handle is shut down or dropped.
    pub async fn start(scenario: Scenario, options: SimOptions) -> Result<SimHandle, SimError> {
        let now = match options.now.clone().or(scenario.clock.now.clone()) {
            Some(ClockStart::At(at)) => at,
            Some(ClockStart::System) | None => system_now(),
        };
        let capacity = options.event_capacity;
        let load = options.load.clone();

        // Building a large prefill takes a while: keep it off the async worker threads.
        let world = tokio::task::spawn_blocking(move || -> Result<_, SimError> {
            let mut world = build_world(scenario, now, capacity)?;
            let engine = load.map(|config| LoadEngine::start(&mut world, config));
            Ok((world, engine))
        })
        .await
        .map_err(|error| SimError::InvalidControl(format!("scenario setup panicked: {error}")))?;
        let (world, engine) = world?;

        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| SimError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: options.listen,
            source,
        })?;

        let hub = Hub {
            world,
            version: options.version,
            stats: Stats::default(),
            faults: FaultRules::default(),
            engine,
            advance_per_call: options.advance_per_call,
        };
        let shared = Arc::new(Shared {
            hub: Mutex::new(hub),
            base_url: format!("http://{addr}"),
        });
        let (shutdown, receiver) = watch::channel(false);

        let mut tasks = vec![tokio::spawn(server::serve(
            listener,
            shared.clone(),
            receiver.clone(),
        ))];
        if let Some(speed) = options.clock_speed.filter(|speed| *speed > 0.0) {
            tasks.push(tokio::spawn(run_clock(shared.clone(), speed, receiver)));
        }
        tracing::info!(%addr, version = %options.version, "Koji hub simulator started.");
        Ok(SimHandle {
            shared,
            addr,
            shutdown,
            tasks,
        })
    }
}

/// Moves the virtual clock at `speed` virtual seconds per real second.
async fn run_clock(shared: Arc<Shared>, speed: f64, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let elapsed = last.elapsed();
        last = Instant::now();
        let worker = shared.clone();
        let advanced = tokio::task::spawn_blocking(move || {
            let mut hub = worker.lock();
            let target = hub.world.now.add_secs(elapsed.as_secs_f64() * speed);
            hub.advance_to(target)
        })
        .await;
        if let Ok(Err(error)) = advanced {
            tracing::warn!(%error, "Advancing the clock failed.");
        }
    }
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// Returns the XML-RPC endpoint, `http://127.0.0.1:PORT/kojihub`.
    pub fn url(&self) -> String {
        format!("http://{}/kojihub", self.addr)
    }

    /// Returns the server root, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the virtual clock, epoch seconds.
    pub fn now(&self) -> f64 {
        self.shared.lock().world.now.as_secs_f64()
    }

    /// Sets the clock (running load mode up to it); returns the new time.
    pub fn set_clock(&self, time: TimeSpec) -> Result<f64, SimError> {
        let change = ClockChange {
            set: Some(time),
            advance: None,
        };
        self.shared
            .lock()
            .change_clock(&change)
            .map(Micros::as_secs_f64)
    }

    /// Advances the clock by `seconds` (running load mode up to it); returns the new time.
    pub fn advance(&self, seconds: f64) -> Result<f64, SimError> {
        let change = ClockChange {
            set: None,
            advance: Some(seconds),
        };
        self.shared
            .lock()
            .change_clock(&change)
            .map(Micros::as_secs_f64)
    }

    /// Records a check-in of `host` at the current time.
    pub fn check_in(&self, host: impl Into<NameOrId>, check_in: CheckIn) -> Result<(), SimError> {
        self.shared.lock().check_in(&host.into(), &check_in)
    }

    /// Enables or disables `host`.
    pub fn set_host_enabled(
        &self,
        host: impl Into<NameOrId>,
        enabled: bool,
    ) -> Result<(), SimError> {
        self.shared.lock().set_host_enabled(&host.into(), enabled)
    }

    /// Creates a task and returns its id.
    pub fn create_task(&self, task: NewTask) -> Result<i64, SimError> {
        self.shared.lock().create_task(&task)
    }

    /// Moves a task to a new state; returns the state it left.
    pub fn set_task_state(&self, id: i64, change: StateChange) -> Result<TaskState, SimError> {
        self.shared.lock().set_task_state(id, &change)
    }

    /// Deletes a task.
    pub fn delete_task(&self, id: i64) -> Result<(), SimError> {
        self.shared.lock().delete_task(id)
    }

    /// Returns the simulator's record of a task.
    pub fn task_truth(&self, id: i64) -> Option<TaskTruth> {
        self.shared.lock().task_truth(id)
    }

    /// Installs a fault rule; returns its id.
    pub fn inject(&self, rule: FaultRule) -> Result<u64, SimError> {
        self.shared.lock().faults.add(rule)
    }

    /// Removes a fault rule; returns whether it existed.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.shared.lock().faults.remove(id)
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Returns the installed fault rules.
    pub fn faults(&self) -> Vec<InstalledRule> {
        self.shared.lock().faults.list()
    }

    /// Returns the per-method counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.lock().stats.snapshot()
    }

    /// Sets the per-method counters to zero.
    pub fn reset_stats(&self) {
        self.shared.lock().stats.reset();
    }

    /// Lifecycle events after sequence number `since` (0 for all kept).
    pub fn events_since(&self, since: u64) -> Vec<TaskEvent> {
        self.shared.lock().events_since(since)
    }

    /// Returns the ground-truth totals.
    pub fn truth(&self) -> GroundTruth {
        self.shared.lock().truth()
    }

    /// Switches the version mode.
    pub fn set_version_mode(&self, mode: VersionMode) {
        self.shared.lock().version = mode;
    }

    /// Returns the version mode.
    pub fn version_mode(&self) -> VersionMode {
        self.shared.lock().version
    }

    /// Rows in the task table.
    pub fn task_count(&self) -> usize {
        self.shared.lock().world.tasks.len()
    }

    /// Returns the highest task id assigned so far.
    pub fn max_task_id(&self) -> i64 {
        self.shared.lock().world.tasks.max_id()
    }

    /// Ids of the FREE, OPEN and ASSIGNED tasks, ascending.
    pub fn active_task_ids(&self) -> Vec<i64> {
        self.shared
            .lock()
            .world
            .tasks
            .active_ids()
            .iter()
            .copied()
            .collect()
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        let _sent = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _joined = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _sent = self.shutdown.send(true);
    }
}

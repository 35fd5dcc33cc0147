//! The `hub` collector: the builder's own record on the hub, read anonymously.
//!
//! The hub URL and CA bundle come from `[hub]` in agent.toml, else from `server` and
//! `serverca` in kojid.conf. The collector fails when it needs one of them from a kojid.conf
//! that cannot be read. The first refresh looks the host id up with `getHost(name)`;
//! each refresh then sends one multicall of `getHost(id)` and
//! `listTasks({'host_id': id, 'state': [OPEN, ASSIGNED]})`. Refreshes run every
//! `[hub] interval_secs`, whatever the outcome of the last one; the cycles in between report
//! the last outcome again. Hubs older than 1.33 send no `update_ts`, so the last check-in
//! then costs one `getLastHostUpdate` call more.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use koji::calls::{self, IdFilter, QueryOpts, TaskFilter};
use koji::{Client, ClientBuilder, MultiCall, RetryPolicy, TaskState};
use koji_metrics::FamilyBuilder;
use koji_metrics::contract::{
    AGENT_HUB_UP, BUILDER_CAPACITY, BUILDER_ENABLED, BUILDER_LAST_UPDATE_TIMESTAMP_SECONDS,
    BUILDER_READY, BUILDER_RUNNING_TASKS, BUILDER_TASK_LOAD,
};

use super::{CollectError, CollectFuture, Collector, Cycle, Families};
use crate::config::HubConfig;

/// The collector's name.
pub const NAME: &str = "hub";

/// The builder's record on the hub, as of the last successful refresh.
#[derive(Clone, Debug, PartialEq)]
pub struct HubView {
    /// Host id on the hub.
    pub id: i64,
    /// The admin switch.
    pub enabled: bool,
    /// The ready flag kojid last reported (or the scheduler forced).
    pub ready: bool,
    /// Admin-set capacity.
    pub capacity: f64,
    /// Task load kojid last reported.
    pub task_load: f64,
    /// Last check-in of kojid's main loop; `None` if it never checked in.
    pub last_update: Option<f64>,
    /// The host's OPEN tasks by method, waiting parents included.
    pub running_tasks: BTreeMap<String, u64>,
    /// The host's OPEN tasks in all.
    pub open_tasks: u64,
}

/// The hub client and the URL and CA bundle it was built for.
#[derive(Debug)]
struct Connection {
    url: String,
    ca_file: Option<PathBuf>,
    client: Client,
}

/// Reads the builder's record from the hub on its own interval.
#[derive(Debug)]
pub struct HubCollector {
    settings: HubConfig,
    connection: Option<Connection>,
    host_id: Option<i64>,
    last_refresh: Option<Instant>,
    last: Option<Result<HubView, CollectError>>,
    /// Whether the hub returned an XML-RPC reply at the last refresh, even a fault or no
    /// such host: `koji_agent_hub_up` then stays 1, because the hub itself is reachable.
    reached: bool,
}

impl Collector for HubCollector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn collect<'a>(&'a mut self, cycle: &'a mut Cycle, out: &'a mut Families) -> CollectFuture<'a> {
        Box::pin(self.collect_view(cycle, out))
    }
}

impl HubCollector {
    /// Creates the collector; it calls the hub at its first cycle.
    pub fn new(settings: HubConfig) -> Self {
        Self {
            settings,
            connection: None,
            host_id: None,
            last_refresh: None,
            reached: false,
            last: None,
        }
    }

    /// Makes the next cycle refresh the hub view regardless of the interval.
    pub fn refresh_next_cycle(&mut self) {
        self.last_refresh = None;
    }

    async fn collect_view(
        &mut self,
        cycle: &mut Cycle,
        out: &mut Families,
    ) -> Result<(), CollectError> {
        let due = self
            .last_refresh
            .is_none_or(|last| last.elapsed() >= self.settings.interval);
        if due {
            let outcome = self.refresh(cycle).await;
            self.last_refresh = Some(Instant::now());
            self.last = Some(outcome);
        }

        let host = cycle.host.as_str();
        match &self.last {
            Some(Ok(view)) => {
                out.gauge(&AGENT_HUB_UP, &[host], 1.0)?;
                add_view(out, host, view)?;
                cycle.observed.hub = Some(view.clone());
                Ok(())
            }
            Some(Err(error)) => {
                let up = if self.reached { 1.0 } else { 0.0 };
                out.gauge(&AGENT_HUB_UP, &[host], up)?;
                Err(error.clone())
            }
            None => Err(CollectError::new("the hub view was never refreshed")),
        }
    }

    async fn refresh(&mut self, cycle: &Cycle) -> Result<HubView, CollectError> {
        let result = self.read_view(cycle).await;
        self.reached = !matches!(result, Err(HubFailure::Unreached(_)));
        result.map_err(HubFailure::into_error)
    }

    async fn read_view(&mut self, cycle: &Cycle) -> Result<HubView, HubFailure> {
        let client = self.client(cycle).map_err(HubFailure::Unreached)?;
        let url = client.url().to_string();
        let host = cycle.host.as_str();

        let id = match self.host_id {
            Some(id) => id,
            None => {
                let record = client
                    .call(calls::get_host(host))
                    .await
                    .map_err(|error| failure(&error))?;
                let Some(record) = record else {
                    return Err(HubFailure::Reply(CollectError::new(format!(
                        "the hub at {url} has no host named {host:?}; set host in agent.toml \
                         to the builder's Koji host name"
                    ))));
                };
                self.host_id = Some(record.id);
                record.id
            }
        };

        let mut multicall = MultiCall::new();
        let record = multicall.add(calls::get_host(id));
        let filter = TaskFilter {
            host_id: Some(IdFilter::Id(id)),
            state: Some(vec![TaskState::Open, TaskState::Assigned]),
            ..TaskFilter::default()
        };
        let tasks = multicall.add(calls::list_tasks(&filter, &QueryOpts::default()));
        let mut results = client
            .multicall(multicall)
            .await
            .map_err(|error| failure(&error))?;

        let record = results.take(record).map_err(|error| failure(&error))?;
        let Some(record) = record else {
            self.host_id = None;
            return Err(HubFailure::Reply(CollectError::new(format!(
                "the hub at {url} no longer has host id {id} ({host:?}); it is looked up by \
                 name again at the next refresh"
            ))));
        };
        let tasks = results.take(tasks).map_err(|error| failure(&error))?;
        let last_update = client
            .last_check_in(&record)
            .await
            .map_err(|error| failure(&error))?;

        let mut running_tasks = BTreeMap::new();
        let mut open_tasks = 0;
        for task in tasks.iter().filter(|task| task.state == TaskState::Open) {
            *running_tasks.entry(task.method.clone()).or_insert(0) += 1;
            open_tasks += 1;
        }

        Ok(HubView {
            id,
            enabled: record.enabled,
            ready: record.ready,
            capacity: record.capacity,
            task_load: record.task_load,
            last_update,
            running_tasks,
            open_tasks,
        })
    }

    /// Returns the hub client, building it when the URL or CA bundle changed.
    fn client(&mut self, cycle: &Cycle) -> Result<Client, CollectError> {
        let url = match (&self.settings.url, &cycle.kojid_config) {
            (Some(url), _) => url.clone(),
            (None, Ok(settings)) => match &settings.server {
                Some(server) => server.clone(),
                None => {
                    return Err(CollectError::new(format!(
                        "no hub URL: set url in the [hub] section of agent.toml, or server in \
                         {}",
                        cycle.kojid_config_path.display()
                    )));
                }
            },
            (None, Err(error)) => {
                return Err(CollectError::new(format!(
                    "no hub URL: set url in the [hub] section of agent.toml, or fix kojid.conf \
                     so that the agent can take server from it: {error}"
                )));
            }
        };
        let ca_file = self.ca_file(cycle, &url)?;

        if let Some(connection) = &self.connection
            && connection.url == url
            && connection.ca_file == ca_file
        {
            return Ok(connection.client.clone());
        }

        let timeout = self.settings.timeout;
        let mut builder = ClientBuilder::new(url.clone())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .call_timeout(timeout)
            .retry(RetryPolicy::none())
            .user_agent(format!("koji-agent/{}", crate::VERSION));
        if let Some(ca_file) = &ca_file {
            builder = builder.ca_bundle(ca_file.clone());
        }
        let client = builder
            .build()
            .map_err(|error| CollectError::new(format!("cannot set up the hub client: {error}")))?;

        self.host_id = None;
        self.connection = Some(Connection {
            url,
            ca_file,
            client: client.clone(),
        });
        Ok(client)
    }

    /// Returns the CA bundle for an HTTPS hub URL: `[hub] ca_file`, else `serverca` from
    /// kojid.conf under the root, else kojid's default `serverca` when that file exists
    /// under the root, else `None` for the system's roots. Fails when only kojid.conf could
    /// name the bundle and it cannot be read.
    fn ca_file(&self, cycle: &Cycle, url: &str) -> Result<Option<PathBuf>, CollectError> {
        if !url.starts_with("https:") {
            return Ok(None);
        }
        if let Some(ca_file) = &self.settings.ca_file {
            return Ok(Some(ca_file.clone()));
        }
        let settings = cycle.kojid_config.as_ref().map_err(|error| {
            CollectError::new(format!(
                "no CA bundle for the hub at {url}: set ca_file in the [hub] section of \
                 agent.toml, or fix kojid.conf so that the agent can take serverca from it: \
                 {error}"
            ))
        })?;
        let serverca = cycle.path(settings.serverca_path());
        if settings.serverca.is_some() || serverca.is_file() {
            return Ok(Some(serverca));
        }
        Ok(None)
    }
}

/// Why a refresh failed: the hub was not reached, or it replied with a fault or a reply
/// that does not fit (such as no host of that name).
enum HubFailure {
    Unreached(CollectError),
    Reply(CollectError),
}

impl HubFailure {
    fn into_error(self) -> CollectError {
        match self {
            HubFailure::Unreached(error) | HubFailure::Reply(error) => error,
        }
    }
}

/// Classifies a client error. Fault 1014 (ServerOffline) counts as not reached, because
/// the hub then serves no calls at all.
fn failure(error: &koji::Error) -> HubFailure {
    let collect_error = CollectError::new(error.to_string());
    match error {
        koji::Error::Fault { kind, .. } if *kind != koji::FaultKind::ServerOffline => {
            HubFailure::Reply(collect_error)
        }
        koji::Error::Decode { .. } | koji::Error::MulticallMismatch { .. } => {
            HubFailure::Reply(collect_error)
        }
        _ => HubFailure::Unreached(collect_error),
    }
}

fn add_view(out: &mut Families, host: &str, view: &HubView) -> Result<(), CollectError> {
    let flag = |value: bool| if value { 1.0 } else { 0.0 };
    out.gauge(&BUILDER_ENABLED, &[host], flag(view.enabled))?;
    out.gauge(&BUILDER_READY, &[host], flag(view.ready))?;
    out.gauge(&BUILDER_CAPACITY, &[host], view.capacity)?;
    out.gauge(&BUILDER_TASK_LOAD, &[host], view.task_load)?;
    if let Some(last_update) = view.last_update {
        out.gauge(&BUILDER_LAST_UPDATE_TIMESTAMP_SECONDS, &[host], last_update)?;
    }

    let mut running = FamilyBuilder::new(&BUILDER_RUNNING_TASKS);
    for (method, count) in &view.running_tasks {
        running.sample(&[host, method], *count as f64)?;
    }
    out.push(running.build());
    Ok(())
}

//! The pushed groups, with the Pushgateway's write semantics and its consistency rules.
//!
//! Every write goes through one mutex and either applies completely or changes nothing but
//! the group's failure time. Readers take a [`Snapshot`]. The groups are shared `Arc`s, so a
//! snapshot costs one pointer copy per group, and a scrape holds the lock only for that copy.
//!
//! Checks on every PUT and POST, besides those of [`compact::convert`]:
//! - a family's type must equal its type in every other group and in the metric contract;
//! - no family may be named like the `_bucket`, `_sum` or `_count` samples of a histogram or
//!   summary elsewhere, and the other way round;
//! - no series may equal a series of another group (possible when body labels match another
//!   group's grouping labels);
//! - the group stays within the series limit, and a new group within the group limit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use koji_metrics::contract::{self, MetricKind};
use prometheus::proto::{MetricFamily, MetricType};

use super::compact::{self, Interner, StoredFamily, effective_labels, series_count};
use super::exposition::type_name;
use super::grouping::GroupingKey;
use super::rejection::{Reason, Rejection};

/// The job name that `koji-agent` pushes under. Only pushes of this job set
/// `koji_agent_last_push_timestamp_seconds`, so other clients of the push API cannot make a
/// silent agent look alive.
pub const AGENT_JOB: &str = "koji-agent";

/// Limits that keep one client from exhausting the aggregator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of a push body in bytes, before and after gunzip.
    pub max_body_bytes: usize,
    /// Maximum number of series in one group.
    pub max_series_per_group: usize,
    /// Maximum number of groups.
    pub max_groups: usize,
}

impl Default for Limits {
    /// 4 MiB bodies, 10,000 series per group and 50,000 groups.
    fn default() -> Self {
        Self {
            max_body_bytes: 4 << 20,
            max_series_per_group: 10_000,
            max_groups: 50_000,
        }
    }
}

/// The kind of change a push makes to its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Replace every family of the group.
    Put,
    /// Replace the families that the body names, keep the others.
    Post,
}

/// One group: its key, its families sorted by name, and its push times.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The grouping key.
    pub key: GroupingKey,
    /// The families sorted by name.
    pub families: Vec<StoredFamily>,
    /// Unix time in seconds of the last successful push; 0 when there was none.
    pub push_time: f64,
    /// Unix time in seconds of the last failed push; 0 when there was none.
    pub failure_time: f64,
}

impl Group {
    /// Returns the unix time in seconds of the last push that keeps the group alive: the
    /// last success, or the last failure of a group that never had a successful push.
    pub fn last_activity(&self) -> f64 {
        if self.push_time > 0.0 {
            self.push_time
        } else {
            self.failure_time
        }
    }
}

/// A group dropped by [`Store::expire`].
#[derive(Clone, Debug, PartialEq)]
pub struct Expired {
    /// The key of the dropped group.
    pub key: GroupingKey,
    /// Seconds since its last activity.
    pub age_secs: f64,
}

/// The groups and push counters at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every group, sorted by key.
    pub groups: Vec<Arc<Group>>,
    /// `(host, unix time of its last successful push)`, sorted by host.
    pub last_push: Vec<(Arc<str>, f64)>,
    /// Successful and failed pushes.
    pub pushes: PushCounts,
    /// Rejected requests by reason, in the order of [`Reason::ALL`].
    pub rejections: [u64; Reason::ALL.len()],
}

/// Successful and failed PUT and POST requests since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushCounts {
    /// Pushes that were applied.
    pub success: u64,
    /// Pushes that were rejected.
    pub failure: u64,
}

/// The pushed groups. Safe to share between threads; every method takes `&self`.
#[derive(Debug)]
pub struct Store {
    limits: Limits,
    inner: Mutex<Inner>,
    interner: Mutex<Interner>,
    pushes_success: AtomicU64,
    pushes_failure: AtomicU64,
    rejections: [AtomicU64; Reason::ALL.len()],
    generation: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    groups: BTreeMap<GroupingKey, Arc<Group>>,
    /// Family name to its type and the number of groups that have it.
    types: HashMap<Arc<str>, (MetricType, usize)>,
    /// Groups by job and instance, to find the groups whose series a push could repeat.
    by_job_instance: HashMap<(String, Option<String>), HashSet<GroupingKey>>,
    /// Number of groups of the job [`AGENT_JOB`] per host.
    agent_groups: HashMap<String, usize>,
    /// Last successful push of the job [`AGENT_JOB`] per host.
    last_push: BTreeMap<Arc<str>, f64>,
}

impl Store {
    /// Creates an empty store with `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            inner: Mutex::new(Inner::default()),
            interner: Mutex::new(Interner::default()),
            pushes_success: AtomicU64::new(0),
            pushes_failure: AtomicU64::new(0),
            rejections: Default::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Returns a number that changes with every change of the groups, so the persistence
    /// timer can skip writes when nothing changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Applies a PUT or POST of `families` to the group `key` at unix time `now`.
    ///
    /// On a rejection that concerns the content, the group's failure time is set (a new group
    /// is created for it, with push time 0, when the group limit allows). A key whose `host`
    /// label differs from its instance is rejected without touching any group, because the
    /// group's own push times would carry that host name. The outcome is counted either way.
    pub fn push(
        &self,
        key: GroupingKey,
        method: Method,
        families: Vec<MetricFamily>,
        now: f64,
    ) -> Result<(), Rejection> {
        if let Err(rejection) = compact::check_key_host(&key) {
            self.count_push(Some(&rejection));
            return Err(rejection);
        }
        let result = self.try_push(&key, method, families, now);
        if let Err(rejection) = &result
            && rejection.reason.marks_group_failed()
        {
            self.mark_failed(&key, now);
        }
        self.count_push(result.as_ref().err());
        result
    }

    /// Counts a request that was rejected before it reached [`Store::push`] or
    /// [`Store::delete`]. `is_push` is true for a PUT or POST and false for a DELETE.
    pub fn count_rejection(&self, rejection: &Rejection, is_push: bool) {
        if is_push {
            self.count_push(Some(rejection));
        } else {
            self.rejections[rejection.reason.index()].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count_push(&self, rejection: Option<&Rejection>) {
        match rejection {
            None => self.pushes_success.fetch_add(1, Ordering::Relaxed),
            Some(rejection) => {
                self.rejections[rejection.reason.index()].fetch_add(1, Ordering::Relaxed);
                self.pushes_failure.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    fn try_push(
        &self,
        key: &GroupingKey,
        method: Method,
        families: Vec<MetricFamily>,
        now: f64,
    ) -> Result<(), Rejection> {
        let stored = {
            let mut interner = lock(&self.interner);
            compact::convert(key, families, now, &mut interner)?
        };

        let mut inner = lock(&self.inner);
        let existing = inner.groups.get(key).cloned();
        if existing.is_none() && inner.groups.len() >= self.limits.max_groups {
            return Err(Rejection::new(
                Reason::TooManyGroups,
                format!(
                    "the aggregator holds {} groups, its limit; the group {key} cannot be \
                     added; delete groups that are no longer pushed, or raise \
                     push.max_groups in the aggregator's configuration",
                    inner.groups.len()
                ),
            ));
        }

        let kept: Vec<StoredFamily> = match (method, &existing) {
            (Method::Post, Some(group)) => group
                .families
                .iter()
                .filter(|family| {
                    stored
                        .binary_search_by(|new| new.name.cmp(&family.name))
                        .is_err()
                })
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        let series = series_count(&kept) + series_count(&stored);
        if series > self.limits.max_series_per_group {
            return Err(Rejection::new(
                Reason::TooManySeries,
                format!(
                    "the group {key} would hold {series} series, more than the limit of {}; \
                     push fewer series, or raise push.max_series_per_group in the \
                     aggregator's configuration",
                    self.limits.max_series_per_group
                ),
            ));
        }

        let replaced: Vec<&StoredFamily> = existing
            .as_deref()
            .map(|group| {
                group
                    .families
                    .iter()
                    .filter(|family| !kept.iter().any(|kept| kept.name == family.name))
                    .collect()
            })
            .unwrap_or_default();
        inner.check_types(&stored, &replaced)?;
        inner.check_duplicates(key, &stored)?;

        let mut families = kept;
        families.extend(stored);
        families.sort_by(|left, right| left.name.cmp(&right.name));
        let group = Group {
            key: key.clone(),
            families,
            push_time: now,
            failure_time: existing.as_ref().map_or(0.0, |group| group.failure_time),
        };
        inner.replace(group);
        if let Some(host) = agent_host(key) {
            match inner.last_push.get_mut(host) {
                Some(time) => *time = now,
                None => {
                    inner.last_push.insert(Arc::from(host), now);
                }
            }
        }
        drop(inner);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    fn mark_failed(&self, key: &GroupingKey, now: f64) {
        let mut inner = lock(&self.inner);
        if let Some(group) = inner.groups.get_mut(key) {
            Arc::make_mut(group).failure_time = now;
        } else if inner.groups.len() < self.limits.max_groups {
            inner.replace(Group {
                key: key.clone(),
                families: Vec::new(),
                push_time: 0.0,
                failure_time: now,
            });
        } else {
            return;
        }
        drop(inner);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Removes the group `key`; returns whether it existed. A host left without groups of
    /// the job [`AGENT_JOB`] loses its last push time too, so a decommissioned builder
    /// disappears completely.
    pub fn delete(&self, key: &GroupingKey) -> bool {
        let mut inner = lock(&self.inner);
        let removed = inner.remove(key);
        if removed {
            if let Some(host) = agent_host(key)
                && !inner.agent_groups.contains_key(host)
            {
                inner.last_push.remove(host);
            }
            drop(inner);
            self.generation.fetch_add(1, Ordering::Release);
        }
        removed
    }

    /// Drops the groups whose last activity is more than `max_age_secs` before `now`, and
    /// the interned strings no group uses any more. Hosts keep their last push time, so
    /// `koji_agent_last_push_timestamp_seconds` keeps showing how long a builder is silent.
    pub fn expire(&self, now: f64, max_age_secs: f64) -> Vec<Expired> {
        let mut inner = lock(&self.inner);
        let stale: Vec<Expired> = inner
            .groups
            .values()
            .filter(|group| now - group.last_activity() > max_age_secs)
            .map(|group| Expired {
                key: group.key.clone(),
                age_secs: now - group.last_activity(),
            })
            .collect();
        for expired in &stale {
            inner.remove(&expired.key);
        }
        drop(inner);

        if !stale.is_empty() {
            self.generation.fetch_add(1, Ordering::Release);
        }
        self.purge_unused_strings();
        stale
    }

    /// Forgets the interned strings that no group uses any more, such as label values of
    /// replaced series, and returns how many there were. The expiry and persistence timers
    /// call it, so the strings of a long-running store stay bounded by what its groups use.
    pub fn purge_unused_strings(&self) -> usize {
        lock(&self.interner).purge()
    }

    /// Adds a group read back from disk, with the same checks as a PUT. `family_times` gives
    /// the push time of each family by name; families without one take `push_time`.
    pub fn restore(
        &self,
        key: GroupingKey,
        families: Vec<MetricFamily>,
        push_time: f64,
        failure_time: f64,
        family_times: &HashMap<String, f64>,
    ) -> Result<(), Rejection> {
        let mut stored = {
            let mut interner = lock(&self.interner);
            compact::convert(&key, families, push_time, &mut interner)?
        };
        for family in &mut stored {
            if let Some(time) = family_times.get(&*family.name) {
                family.pushed_at = *time;
            }
        }

        let mut inner = lock(&self.inner);
        if !inner.groups.contains_key(&key) && inner.groups.len() >= self.limits.max_groups {
            return Err(Rejection::new(
                Reason::TooManyGroups,
                format!("the group limit of {} is reached", self.limits.max_groups),
            ));
        }
        let series = series_count(&stored);
        if series > self.limits.max_series_per_group {
            return Err(Rejection::new(
                Reason::TooManySeries,
                format!(
                    "the group has {series} series, more than push.max_series_per_group = {}",
                    self.limits.max_series_per_group
                ),
            ));
        }
        let replaced: Vec<StoredFamily> = inner
            .groups
            .get(&key)
            .map(|group| group.families.clone())
            .unwrap_or_default();
        let replaced: Vec<&StoredFamily> = replaced.iter().collect();
        inner.check_types(&stored, &replaced)?;
        inner.check_duplicates(&key, &stored)?;
        inner.replace(Group {
            key: key.clone(),
            families: stored,
            push_time,
            failure_time,
        });
        drop(inner);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Sets the last push time of `host`, as read back from disk.
    pub fn restore_last_push(&self, host: String, time: f64) {
        lock(&self.inner).last_push.insert(Arc::from(host), time);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Returns the group `key`, if it exists.
    pub fn group(&self, key: &GroupingKey) -> Option<Arc<Group>> {
        lock(&self.inner).groups.get(key).cloned()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        lock(&self.inner).groups.len()
    }

    /// Returns true when there is no group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the groups, last push times and counters as of now.
    pub fn snapshot(&self) -> Snapshot {
        let inner = lock(&self.inner);
        let groups: Vec<Arc<Group>> = inner.groups.values().cloned().collect();
        let last_push: Vec<(Arc<str>, f64)> = inner
            .last_push
            .iter()
            .map(|(host, time)| (host.clone(), *time))
            .collect();
        drop(inner);

        let mut rejections = [0; Reason::ALL.len()];
        for (count, counter) in rejections.iter_mut().zip(&self.rejections) {
            *count = counter.load(Ordering::Relaxed);
        }
        Snapshot {
            groups,
            last_push,
            pushes: PushCounts {
                success: self.pushes_success.load(Ordering::Relaxed),
                failure: self.pushes_failure.load(Ordering::Relaxed),
            },
            rejections,
        }
    }
}

impl Inner {
    /// Inserts or replaces `group`, keeping the type counts and indexes in step.
    fn replace(&mut self, group: Group) {
        let key = group.key.clone();
        self.remove(&key);
        for family in &group.families {
            let entry = self
                .types
                .entry(family.name.clone())
                .or_insert((family.kind, 0));
            entry.1 += 1;
        }
        self.by_job_instance
            .entry(index_key(&key))
            .or_default()
            .insert(key.clone());
        if let Some(host) = agent_host(&key) {
            *self.agent_groups.entry(host.to_string()).or_default() += 1;
        }
        self.groups.insert(key, Arc::new(group));
    }

    /// Removes the group `key` and its entries in the type counts and indexes.
    fn remove(&mut self, key: &GroupingKey) -> bool {
        let Some(group) = self.groups.remove(key) else {
            return false;
        };
        for family in &group.families {
            if let Some(entry) = self.types.get_mut(&family.name) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    self.types.remove(&family.name);
                }
            }
        }
        let index = index_key(key);
        if let Some(keys) = self.by_job_instance.get_mut(&index) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_job_instance.remove(&index);
            }
        }
        if let Some(host) = agent_host(key)
            && let Some(count) = self.agent_groups.get_mut(host)
        {
            *count -= 1;
            if *count == 0 {
                self.agent_groups.remove(host);
            }
        }
        true
    }

    /// Returns the type that `name` has outside the families a push replaces, in other
    /// groups or in the metric contract, and where it was found.
    fn existing_type(&self, name: &str, replaced: &[&StoredFamily]) -> Option<(MetricType, &str)> {
        if let Some((kind, count)) = self.types.get(name) {
            let own = usize::from(replaced.iter().any(|family| &*family.name == name));
            if *count > own {
                return Some((*kind, "in another pushed group"));
            }
        }
        contract::find(name).map(|def| {
            let kind = match def.kind {
                MetricKind::Gauge => MetricType::GAUGE,
                MetricKind::Counter => MetricType::COUNTER,
                MetricKind::Histogram => MetricType::HISTOGRAM,
            };
            (kind, "in the aggregator's own metrics")
        })
    }

    fn check_types(
        &self,
        stored: &[StoredFamily],
        replaced: &[&StoredFamily],
    ) -> Result<(), Rejection> {
        let type_of = |name: &str| -> Option<(MetricType, &str)> {
            match stored.iter().find(|family| &*family.name == name) {
                Some(family) => Some((family.kind, "in the same push")),
                None => self.existing_type(name, replaced),
            }
        };

        for family in stored {
            if let Some((kind, place)) = self.existing_type(&family.name, replaced)
                && kind != family.kind
            {
                return Err(Rejection::new(
                    Reason::TypeConflict,
                    format!(
                        "metric {} is pushed as {} but is {} {place}; one name needs one \
                         type, so push it as {} or rename it",
                        family.name,
                        type_phrase(family.kind),
                        type_phrase(kind),
                        type_phrase(kind)
                    ),
                ));
            }

            for (suffix, owners) in SUFFIX_OWNERS {
                let Some(base) = family.name.strip_suffix(suffix) else {
                    continue;
                };
                if let Some((kind, place)) = type_of(base)
                    && owners.contains(&kind)
                {
                    return Err(suffix_clash(&family.name, base, kind, place));
                }
            }
            for (suffix, owners) in SUFFIX_OWNERS {
                if !owners.contains(&family.kind) {
                    continue;
                }
                let sample = format!("{}{suffix}", family.name);
                if let Some((_, place)) = type_of(&sample) {
                    return Err(suffix_clash(&sample, &family.name, family.kind, place));
                }
            }
        }
        Ok(())
    }

    /// Rejects a series of `stored` that another group already has. Only groups of the same
    /// job whose instance equals the series' instance (or that have no instance in their key)
    /// can hold the same series, because grouping labels are forced onto every sample.
    fn check_duplicates(
        &self,
        key: &GroupingKey,
        stored: &[StoredFamily],
    ) -> Result<(), Rejection> {
        let mut instances: HashSet<Option<String>> = HashSet::new();
        instances.insert(None);
        match key.instance() {
            Some(instance) => {
                instances.insert(Some(instance.to_string()));
            }
            None => {
                let mut buffer = Vec::new();
                for family in stored {
                    for series in &family.series {
                        effective_labels(key, &series.labels, &mut buffer);
                        let instance = buffer
                            .iter()
                            .find(|(name, _)| *name == compact::INSTANCE)
                            .map_or("", |(_, value)| *value);
                        instances.insert(Some(instance.to_string()));
                    }
                }
            }
        }

        let job = key.job().to_string();
        let mut mine = Vec::new();
        let mut theirs = Vec::new();
        for instance in instances {
            let Some(candidates) = self.by_job_instance.get(&(job.clone(), instance)) else {
                continue;
            };
            for other_key in candidates {
                if other_key == key || !keys_agree(key, other_key) {
                    continue;
                }
                let Some(other) = self.groups.get(other_key) else {
                    continue;
                };
                for family in stored {
                    let Ok(position) = other
                        .families
                        .binary_search_by(|other| other.name.cmp(&family.name))
                    else {
                        continue;
                    };
                    let other_family = &other.families[position];
                    for series in &family.series {
                        effective_labels(key, &series.labels, &mut mine);
                        let clash = other_family.series.iter().any(|other_series| {
                            effective_labels(other_key, &other_series.labels, &mut theirs);
                            theirs == mine
                        });
                        if clash {
                            return Err(Rejection::new(
                                Reason::DuplicateSeries,
                                format!(
                                    "duplicate series {}: the group {other_key} already has \
                                     it; change the grouping labels or the body labels so \
                                     that each series has one group",
                                    compact::series_text(key, &family.name, &series.labels)
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The suffixes of histogram and summary samples and the types that write them.
const SUFFIX_OWNERS: [(&str, &[MetricType]); 3] = [
    ("_bucket", &[MetricType::HISTOGRAM]),
    ("_sum", &[MetricType::HISTOGRAM, MetricType::SUMMARY]),
    ("_count", &[MetricType::HISTOGRAM, MetricType::SUMMARY]),
];

/// Returns the type as a message phrases it: "untyped" (an adjective), or the type name with
/// "a", such as "a counter".
fn type_phrase(kind: MetricType) -> String {
    match kind {
        MetricType::UNTYPED => "untyped".to_string(),
        _ => format!("a {}", type_name(kind)),
    }
}

fn suffix_clash(name: &str, owner: &str, owner_kind: MetricType, place: &str) -> Rejection {
    Rejection::new(
        Reason::TypeConflict,
        format!(
            "metric {name} clashes with the samples of the {} {owner} {place}; rename one \
             of them",
            type_name(owner_kind)
        ),
    )
}

/// Returns true when the labels that both keys have carry the same values, so that one
/// series could belong to both groups.
fn keys_agree(left: &GroupingKey, right: &GroupingKey) -> bool {
    left.labels()
        .iter()
        .all(|(name, value)| right.get(name).is_none_or(|other| other == value))
}

/// Returns the host of a group of the job [`AGENT_JOB`], if it has one.
fn agent_host(key: &GroupingKey) -> Option<&str> {
    key.host().filter(|_| key.job() == AGENT_JOB)
}

fn index_key(key: &GroupingKey) -> (String, Option<String>) {
    (key.job().to_string(), key.instance().map(str::to_string))
}

/// Locks `mutex`, taking the data of a poisoned one: every write either completes before it
/// can panic or leaves the data as it was.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use koji_metrics::text::parse_text;

    use super::*;

    fn key(path: &str) -> GroupingKey {
        GroupingKey::from_path(path).unwrap()
    }

    fn push(store: &Store, path: &str, method: Method, text: &str) -> Result<(), Rejection> {
        let families = parse_text(text.as_bytes()).unwrap();
        store.push(key(path), method, families, 100.0)
    }

    fn family_names(store: &Store, path: &str) -> Vec<String> {
        store
            .group(&key(path))
            .unwrap()
            .families
            .iter()
            .map(|family| family.name.to_string())
            .collect()
    }

    #[test]
    fn put_replaces_post_merges() {
        let store = Store::new(Limits::default());
        push(&store, "job/j/instance/b1", Method::Put, "a 1\nb 2\n").unwrap();
        push(&store, "job/j/instance/b1", Method::Post, "b 3\nc 4\n").unwrap();
        assert_eq!(family_names(&store, "job/j/instance/b1"), ["a", "b", "c"]);

        push(&store, "job/j/instance/b1", Method::Put, "d 5\n").unwrap();
        assert_eq!(family_names(&store, "job/j/instance/b1"), ["d"]);
        assert_eq!(store.snapshot().pushes.success, 3);
    }

    #[test]
    fn type_conflict_across_groups() {
        let store = Store::new(Limits::default());
        push(
            &store,
            "job/j/instance/b1",
            Method::Put,
            "# TYPE x gauge\nx 1\n",
        )
        .unwrap();

        let rejection = push(
            &store,
            "job/j/instance/b2",
            Method::Put,
            "# TYPE x counter\nx 1\n",
        )
        .unwrap_err();
        assert_eq!(rejection.reason, Reason::TypeConflict);
        assert!(
            rejection
                .message
                .contains("pushed as a counter but is a gauge"),
            "{rejection}"
        );

        // The group that owns the only gauge may change its type.
        push(
            &store,
            "job/j/instance/b1",
            Method::Put,
            "# TYPE x counter\nx 1\n",
        )
        .unwrap();
    }

    #[test]
    fn contract_types_enforced() {
        let store = Store::new(Limits::default());
        let rejection = push(
            &store,
            "job/j/instance/b1",
            Method::Put,
            "# TYPE koji_builder_ready counter\nkoji_builder_ready{host=\"b1\"} 1\n",
        )
        .unwrap_err();

        assert_eq!(rejection.reason, Reason::TypeConflict);
        assert!(
            rejection.message.contains("aggregator's own"),
            "{rejection}"
        );
    }

    #[test]
    fn suffix_clash_across_groups() {
        let store = Store::new(Limits::default());
        push(
            &store,
            "job/j/instance/b1",
            Method::Put,
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        )
        .unwrap();

        let rejection = push(&store, "job/j/instance/b2", Method::Put, "h_count 1\n").unwrap_err();
        assert_eq!(rejection.reason, Reason::TypeConflict);
        assert!(rejection.message.contains("histogram h"), "{rejection}");
    }

    #[test]
    fn duplicate_across_groups() {
        let store = Store::new(Limits::default());
        push(&store, "job/j/instance/b1", Method::Put, "a 1\n").unwrap();

        let rejection = push(&store, "job/j", Method::Put, "a{instance=\"b1\"} 2\n").unwrap_err();
        assert_eq!(rejection.reason, Reason::DuplicateSeries);
        assert!(rejection.message.contains("instance=\"b1\""), "{rejection}");

        push(&store, "job/j", Method::Put, "a{instance=\"b2\"} 2\n").unwrap();
        push(&store, "job/k", Method::Put, "a{instance=\"b1\"} 2\n").unwrap();
    }

    #[test]
    fn failure_time_on_existing_and_new_groups() {
        let store = Store::new(Limits::default());
        push(&store, "job/j/instance/b1", Method::Put, "a 1\n").unwrap();
        let before = store.group(&key("job/j/instance/b1")).unwrap();

        let families = parse_text(b"a 1 5\n").unwrap();
        let rejection = store
            .push(
                key("job/j/instance/b1"),
                Method::Put,
                families.clone(),
                200.0,
            )
            .unwrap_err();
        assert_eq!(rejection.reason, Reason::Timestamp);
        let after = store.group(&key("job/j/instance/b1")).unwrap();
        assert_eq!(after.families, before.families);
        assert_eq!(after.push_time, 100.0);
        assert_eq!(after.failure_time, 200.0);

        store
            .push(key("job/j/instance/b9"), Method::Put, families, 300.0)
            .unwrap_err();
        let created = store.group(&key("job/j/instance/b9")).unwrap();
        assert!(created.families.is_empty());
        assert_eq!(created.push_time, 0.0);
        assert_eq!(created.failure_time, 300.0);
        assert_eq!(store.snapshot().pushes.failure, 2);
    }

    #[test]
    fn series_limit_counts_kept_families() {
        let limits = Limits {
            max_series_per_group: 3,
            ..Limits::default()
        };
        let store = Store::new(limits);
        push(&store, "job/j", Method::Put, "a{x=\"1\"} 1\na{x=\"2\"} 1\n").unwrap();

        let rejection = push(
            &store,
            "job/j",
            Method::Post,
            "b{x=\"1\"} 1\nb{x=\"2\"} 1\n",
        );
        let rejection = rejection.unwrap_err();
        assert_eq!(rejection.reason, Reason::TooManySeries);
        assert!(rejection.message.contains("4 series"), "{rejection}");
        assert!(
            rejection.message.contains("push.max_series_per_group"),
            "{rejection}"
        );

        push(&store, "job/j", Method::Put, "b{x=\"1\"} 1\nb{x=\"2\"} 1\n").unwrap();
    }

    #[test]
    fn group_limit_rejects_new_groups_only() {
        let limits = Limits {
            max_groups: 1,
            ..Limits::default()
        };
        let store = Store::new(limits);
        push(&store, "job/j/instance/b1", Method::Put, "a 1\n").unwrap();

        let rejection = push(&store, "job/j/instance/b2", Method::Put, "a 1\n").unwrap_err();
        assert_eq!(rejection.reason, Reason::TooManyGroups);
        assert!(rejection.message.contains("push.max_groups"), "{rejection}");
        push(&store, "job/j/instance/b1", Method::Put, "a 2\n").unwrap();

        // A failed push cannot create a group past the limit either.
        push(&store, "job/j/instance/b3", Method::Put, "a 1 5\n").unwrap_err();
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn delete_and_last_push() {
        let store = Store::new(Limits::default());
        let first = "job/koji-agent/instance/b1";
        let second = "job/koji-agent/instance/b1/part/2";
        push(&store, first, Method::Put, "a 1\n").unwrap();
        push(&store, second, Method::Put, "b 1\n").unwrap();
        push(&store, "job/other/instance/b1", Method::Put, "c 1\n").unwrap();
        assert_eq!(store.snapshot().last_push, vec![(Arc::from("b1"), 100.0)]);

        assert!(store.delete(&key(first)));
        assert!(!store.delete(&key(first)));
        assert_eq!(store.snapshot().last_push.len(), 1);
        assert!(store.delete(&key(second)));
        assert!(
            store.snapshot().last_push.is_empty(),
            "a group of another job keeps the host's last push"
        );

        // The type of a deleted family is free again.
        push(
            &store,
            "job/j/instance/b2",
            Method::Put,
            "# TYPE a counter\na 1\n",
        )
        .unwrap();
    }

    #[test]
    fn last_push_only_for_agent_job() {
        let store = Store::new(Limits::default());
        push(&store, "job/pcjob/instance/b1", Method::Put, "a 1\n").unwrap();
        push(
            &store,
            "job/koji-agent-test/instance/b2",
            Method::Put,
            "b 1\n",
        )
        .unwrap();
        assert!(store.snapshot().last_push.is_empty());

        push(&store, "job/koji-agent/instance/b3", Method::Put, "c 1\n").unwrap();
        assert_eq!(store.snapshot().last_push, vec![(Arc::from("b3"), 100.0)]);
    }

    #[test]
    fn key_host_mismatch_touches_no_group() {
        let store = Store::new(Limits::default());
        let path = "job/koji-agent/instance/b1/host/b2";

        let rejection = push(&store, path, Method::Put, "a{host=\"b1\"} 0\n").unwrap_err();

        assert_eq!(rejection.reason, Reason::HostMismatch);
        assert!(store.is_empty(), "a group named after b2 was created");
        assert!(store.snapshot().last_push.is_empty());
        assert_eq!(store.snapshot().pushes.failure, 1);
        let index = Reason::HostMismatch.index();
        assert_eq!(store.snapshot().rejections[index], 1);
    }

    #[test]
    fn untyped_conflict_reads_naturally() {
        let store = Store::new(Limits::default());
        push(&store, "job/j/instance/b1", Method::Put, "x 1\n").unwrap();

        let rejection = push(
            &store,
            "job/j/instance/b2",
            Method::Put,
            "# TYPE x counter\nx 1\n",
        )
        .unwrap_err();
        assert!(
            rejection.message.contains(
                "pushed as a counter but is untyped in another pushed group; one name needs \
                 one type, so push it as untyped or rename it"
            ),
            "{rejection}"
        );

        let rejection = push(
            &store,
            "job/j/instance/b3",
            Method::Put,
            "koji_builder_ready 1\n",
        )
        .unwrap_err();
        assert!(
            rejection
                .message
                .contains("pushed as untyped but is a gauge"),
            "{rejection}"
        );
    }

    #[test]
    fn expire_drops_silent_groups() {
        let store = Store::new(Limits::default());
        push(&store, "job/koji-agent/instance/b1", Method::Put, "a 1\n").unwrap();
        let families = parse_text(b"a 2\n").unwrap();
        store
            .push(
                key("job/koji-agent/instance/b2"),
                Method::Put,
                families,
                150.0,
            )
            .unwrap();

        assert!(store.expire(160.0, 60.0).is_empty());
        let expired = store.expire(170.0, 60.0);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].key, key("job/koji-agent/instance/b1"));
        assert_eq!(expired[0].age_secs, 70.0);
        assert!(store.group(&key("job/koji-agent/instance/b1")).is_none());
        assert_eq!(store.snapshot().last_push.len(), 2);
    }

    #[test]
    fn replaced_strings_purged() {
        let store = Store::new(Limits::default());
        push(&store, "job/j", Method::Put, "a{v=\"first\"} 1\n").unwrap();
        push(&store, "job/j", Method::Put, "a{v=\"second\"} 1\n").unwrap();

        assert_eq!(
            store.purge_unused_strings(),
            1,
            "the value first is no longer used"
        );
        assert_eq!(store.purge_unused_strings(), 0);
        let group = store.group(&key("job/j")).unwrap();
        assert_eq!(&*group.families[0].series[0].labels[0].1, "second");
    }

    #[test]
    fn snapshot_unaffected_by_later_pushes() {
        let store = Store::new(Limits::default());
        push(&store, "job/j", Method::Put, "a 1\n").unwrap();
        let snapshot = store.snapshot();

        push(&store, "job/j", Method::Put, "a 2\n").unwrap();
        let value = &snapshot.groups[0].families[0].series[0].value;
        assert_eq!(*value, compact::SampleValue::Simple(1.0));
    }
}

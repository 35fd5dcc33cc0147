//! Pushed groups on disk, so a restart does not empty `/metrics`.
//!
//! The file is versioned JSON written with [`crate::persist::write_atomic`]. Each group's
//! families are kept as text format 0.0.4 without the grouping labels, and read back through
//! the same parser and checks as a push, so a file edited by hand or written by another
//! version cannot put an inconsistent group into the store.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use koji_metrics::text::parse_text;
use serde::{Deserialize, Serialize};

use super::exposition::{write_header, write_series};
use super::grouping::GroupingKey;
use super::store::{Group, Snapshot, Store};
use crate::persist::{PersistError, write_atomic};

/// Name of the file in the state directory.
pub const PUSHED_FILE: &str = "pushed.json";

/// Version of the file format this code writes and reads.
const FORMAT_VERSION: u32 = 1;

/// Suffix of the name a corrupt file is moved to by [`load_or_set_aside`].
pub const CORRUPT_SUFFIX: &str = ".corrupt";

/// The file as read back.
#[derive(Debug, Deserialize)]
struct PushedFile {
    version: u32,
    groups: Vec<SavedGroup>,
    /// Last successful push per host.
    last_push: BTreeMap<String, f64>,
}

/// One group as read back.
#[derive(Debug, Deserialize)]
struct SavedGroup {
    /// The grouping key as `[name, value]` pairs.
    labels: Vec<(String, String)>,
    push_time: f64,
    failure_time: f64,
    /// Push time of each family by name.
    family_times: HashMap<String, f64>,
    /// The families in text format 0.0.4, without the grouping labels.
    text: String,
}

/// The file as written, with the same fields as [`PushedFile`]. Each group's text is
/// written while the JSON is serialized, so only one group's text is in memory at a time.
#[derive(Serialize)]
struct PushedFileOut<'a> {
    version: u32,
    groups: Vec<GroupOut<'a>>,
    last_push: BTreeMap<&'a str, f64>,
}

struct GroupOut<'a>(&'a Group);

impl Serialize for GroupOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        let group = self.0;
        let family_times: HashMap<&str, f64> = group
            .families
            .iter()
            .map(|family| (&*family.name, family.pushed_at))
            .collect();
        let mut out = serializer.serialize_struct("SavedGroup", 5)?;
        out.serialize_field("labels", group.key.labels())?;
        out.serialize_field("push_time", &group.push_time)?;
        out.serialize_field("failure_time", &group.failure_time)?;
        out.serialize_field("family_times", &family_times)?;
        out.serialize_field("text", &group_text(group))?;
        out.end()
    }
}

/// Writes the families of `group` as text format 0.0.4 without the grouping labels.
fn group_text(group: &Group) -> String {
    let mut text = String::new();
    let mut labels = Vec::new();
    for family in &group.families {
        write_header(&mut text, &family.name, &family.help, family.kind);
        for series in &family.series {
            labels.clear();
            labels.extend(
                series
                    .labels
                    .iter()
                    .map(|(name, value)| (&**name, &**value)),
            );
            let escape = !family.plain_labels;
            write_series(&mut text, &family.name, &labels, &series.value, escape);
        }
    }
    text
}

/// What [`load`] restored.
#[derive(Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Groups restored.
    pub groups: usize,
    /// Groups left out because they no longer pass the checks, with the reason.
    pub skipped: Vec<String>,
}

/// Writes every group of `snapshot` to `path`.
pub fn save(path: &Path, snapshot: &Snapshot) -> Result<(), PersistError> {
    let file = PushedFileOut {
        version: FORMAT_VERSION,
        groups: snapshot
            .groups
            .iter()
            .map(|group| GroupOut(group))
            .collect(),
        last_push: snapshot
            .last_push
            .iter()
            .map(|(host, time)| (&**host, *time))
            .collect(),
    };
    let bytes = serde_json::to_vec(&file).map_err(|error| PersistError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(error),
    })?;
    write_atomic(path, &bytes)
}

/// Reads `path` into `store`. A missing file restores nothing; a group that fails the checks
/// is left out and reported.
pub fn load(path: &Path, store: &Store) -> Result<LoadReport, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LoadReport::default());
        }
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let corrupt = |detail: String| PersistError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let file: PushedFile =
        serde_json::from_slice(&bytes).map_err(|error| corrupt(error.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {} is not the supported version {FORMAT_VERSION}",
            file.version
        )));
    }

    let mut report = LoadReport::default();
    for group in file.groups {
        let restored = GroupingKey::new(group.labels)
            .map_err(|error| error.to_string())
            .and_then(|key| {
                let families = parse_text(group.text.as_bytes())
                    .map_err(|error| format!("group {key}: {error}"))?;
                store
                    .restore(
                        key.clone(),
                        families,
                        group.push_time,
                        group.failure_time,
                        &group.family_times,
                    )
                    .map_err(|rejection| format!("group {key}: {rejection}"))
            });
        match restored {
            Ok(()) => report.groups += 1,
            Err(reason) => report.skipped.push(reason),
        }
    }
    for (host, time) in file.last_push {
        store.restore_last_push(host, time);
    }
    Ok(report)
}

/// Reads `path` into `store` like [`load`], except for a file that is not valid, such as an
/// empty, truncated or garbled file, or one of another format version. Such a file is
/// logged, moved to `<path>.corrupt` (replacing an older one), and nothing is restored. The
/// file contains only pushed groups, and agents push theirs again within one push interval.
/// A file that cannot be read at all is still an error.
pub fn load_or_set_aside(path: &Path, store: &Store) -> Result<LoadReport, PersistError> {
    let detail = match load(path, store) {
        Err(PersistError::Corrupt { detail, .. }) => detail,
        other => return other,
    };
    let mut aside = path.as_os_str().to_owned();
    aside.push(CORRUPT_SUFFIX);
    let aside = PathBuf::from(aside);

    match std::fs::rename(path, &aside) {
        Ok(()) => tracing::error!(
            file = %path.display(),
            moved_to = %aside.display(),
            error = %detail,
            "The saved pushed groups cannot be parsed; moved the file aside and starting \
             without pushed groups. Agents push their groups again within one interval."
        ),
        Err(rename_error) => tracing::error!(
            file = %path.display(),
            error = %detail,
            %rename_error,
            "The saved pushed groups cannot be parsed and the file cannot be moved aside; \
             starting without pushed groups. The next save replaces the file."
        ),
    }
    Ok(LoadReport::default())
}

/// Writes the store to `path` every `interval` when it changed, and once more when
/// `shutdown` completes. Write errors are logged, and the next interval tries again.
pub async fn save_periodically(
    store: Arc<Store>,
    path: PathBuf,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut saved_generation = store.generation();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    tokio::pin!(shutdown);

    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => false,
            () = &mut shutdown => true,
        };
        store.purge_unused_strings();
        let generation = store.generation();
        if generation != saved_generation || stopping {
            let snapshot = store.snapshot();
            let target = path.clone();
            let groups = snapshot.groups.len();
            let result = tokio::task::spawn_blocking(move || save(&target, &snapshot)).await;
            match result {
                Ok(Ok(())) => {
                    saved_generation = generation;
                    tracing::debug!(path = %path.display(), groups, "Saved the pushed groups.");
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, "Saving the pushed groups failed; retrying at the next interval.");
                }
                Err(error) => {
                    tracing::error!(%error, "Saving the pushed groups failed; retrying at the next interval.");
                }
            }
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::combine::render_combined;
    use crate::push::store::{Limits, Method};

    fn push(store: &Store, path: &str, text: &str, now: f64) {
        let families = parse_text(text.as_bytes()).unwrap();
        let key = GroupingKey::from_path(path).unwrap();
        store.push(key, Method::Put, families, now).unwrap();
    }

    #[test]
    fn save_then_load_serves_same_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUSHED_FILE);
        let store = Store::new(Limits::default());
        push(
            &store,
            "job/agent/instance/b1",
            "# HELP a An a.\n# TYPE a gauge\na{x=\"q\\\"\"} 1\n",
            10.0,
        );
        push(
            &store,
            "job/batch/path@base64/YS9i",
            "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n\
             # TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 0\ns_count 0\n",
            20.0,
        );
        let failed = parse_text(b"a 1 5\n").unwrap();
        let key = GroupingKey::from_path("job/agent/instance/b2").unwrap();
        store.push(key, Method::Put, failed, 30.0).unwrap_err();

        save(&path, &store.snapshot()).unwrap();
        let restored = Store::new(Limits::default());
        let report = load(&path, &restored).unwrap();

        assert_eq!(
            report,
            LoadReport {
                groups: 3,
                skipped: Vec::new()
            }
        );
        let before = render_combined(Vec::new(), &store.snapshot()).text;
        let after = render_combined(Vec::new(), &restored.snapshot()).text;
        // The push counters start afresh; everything else is restored.
        let without_counters = |text: &str| -> String {
            text.lines()
                .filter(|line| !line.contains("koji_agent_push"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(without_counters(&after), without_counters(&before));
        // Debug output compares NaN values as equal, which PartialEq does not.
        assert_eq!(
            format!("{:?}", restored.snapshot().groups),
            format!("{:?}", store.snapshot().groups)
        );
    }

    #[test]
    fn missing_file_loads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Limits::default());

        assert_eq!(
            load(&dir.path().join(PUSHED_FILE), &store).unwrap(),
            LoadReport::default()
        );
    }

    #[test]
    fn inconsistent_group_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUSHED_FILE);
        let text = r##"{"version":1,"last_push":{},"groups":[
            {"labels":[["job","j"],["instance","b1"]],"push_time":1,"failure_time":0,
             "family_times":{},"text":"x 1\n"},
            {"labels":[["job","j"],["instance","b2"]],"push_time":1,"failure_time":0,
             "family_times":{},"text":"# TYPE x counter\nx 1\n"}]}"##;
        std::fs::write(&path, text).unwrap();
        let store = Store::new(Limits::default());

        let report = load(&path, &store).unwrap();

        assert_eq!(report.groups, 1);
        assert_eq!(report.skipped.len(), 1);
        assert!(
            report.skipped[0].contains("instance=\"b2\""),
            "{:?}",
            report.skipped
        );
        assert!(
            report.skipped[0].contains("counter"),
            "{:?}",
            report.skipped
        );
    }

    #[test]
    fn corrupt_file_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUSHED_FILE);
        let aside = dir.path().join("pushed.json.corrupt");
        std::fs::write(&aside, "an older corrupt file").unwrap();

        for content in ["", "garbage", r#"{"version":1,"groups":[{"labels":"#] {
            std::fs::write(&path, content).unwrap();
            let store = Store::new(Limits::default());

            let report = load_or_set_aside(&path, &store).unwrap();

            assert_eq!(report, LoadReport::default(), "{content:?}");
            assert!(store.is_empty(), "{content:?}");
            assert!(
                !path.exists(),
                "{content:?}: the corrupt file is still in place"
            );
            assert_eq!(std::fs::read_to_string(&aside).unwrap(), content);
        }
    }

    #[test]
    fn unreadable_file_is_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in place of the file cannot be read, which is not corruption.
        let path = dir.path().join(PUSHED_FILE);
        std::fs::create_dir(&path).unwrap();

        let error = load_or_set_aside(&path, &Store::new(Limits::default())).unwrap_err();

        assert!(matches!(error, PersistError::Read { .. }), "{error}");
        assert!(path.is_dir());
    }

    #[test]
    fn wrong_version_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUSHED_FILE);
        std::fs::write(&path, r#"{"version":9,"groups":[],"last_push":{}}"#).unwrap();

        let error = load(&path, &Store::new(Limits::default()))
            .unwrap_err()
            .to_string();

        assert!(error.contains("format version 9"), "{error}");
        assert!(error.contains("move it away"), "{error}");
    }
}

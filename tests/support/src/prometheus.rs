//! A real Prometheus server and a real Pushgateway, started from Debian's packages.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::{ChildGuard, free_port, require_tool, wait_for_http};

/// A Prometheus server on 127.0.0.1 with its own data directory, killed on drop.
pub struct Prometheus {
    _child: ChildGuard,
    _dir: TempDir,
    base_url: String,
    client: reqwest::Client,
}

/// One sample of an instant query result.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    /// The series labels, `__name__` included when the query keeps it.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
}

impl Prometheus {
    /// Starts Prometheus with a 1 s scrape interval and the given `scrape_configs` entries
    /// (YAML list items, indented by two spaces). Returns `None` when the binary is missing
    /// outside CI.
    pub async fn start(scrape_configs: &str) -> Option<Self> {
        let binary = require_tool("prometheus")?;
        let dir = tempfile::tempdir().expect("temporary directory for Prometheus");
        let config_path = dir.path().join("prometheus.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{scrape_configs}"
        );
        std::fs::write(&config_path, config).expect("write prometheus.yml");

        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let child = ChildGuard::new("prometheus", child);

        let base_url = format!("http://127.0.0.1:{port}");
        if let Err(error) =
            wait_for_http(&format!("{base_url}/-/ready"), Duration::from_secs(30)).await
        {
            let log =
                std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
            panic!("Prometheus did not start: {error}\n{log}");
        }

        Some(Self {
            _child: child,
            _dir: dir,
            base_url,
            client: reqwest::Client::new(),
        })
    }

    /// The base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// Runs an instant query and returns its vector samples.
    pub async fn query(&self, expr: &str) -> Vec<QuerySample> {
        let response: Value = self
            .client
            .get(format!("{}/api/v1/query", self.base_url))
            .query(&[("query", expr)])
            .send()
            .await
            .expect("query Prometheus")
            .json()
            .await
            .expect("query response is JSON");
        assert_eq!(
            response["status"], "success",
            "query {expr} failed: {response}"
        );

        let result = response["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        result
            .iter()
            .map(|sample| {
                let labels = sample["metric"]
                    .as_object()
                    .map(|labels| {
                        labels
                            .iter()
                            .map(|(name, value)| {
                                (name.clone(), value.as_str().unwrap_or_default().to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let value = sample["value"][1]
                    .as_str()
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(f64::NAN);
                QuerySample { labels, value }
            })
            .collect()
    }

    /// Waits until every target of `job` reports `up == 1`.
    pub async fn wait_for_job_up(&self, job: &str, timeout: Duration) {
        let expr = format!("up{{job=\"{job}\"}}");
        crate::wait_until(&format!("{job} scraped by Prometheus"), timeout, || async {
            let samples = self.query(&expr).await;
            !samples.is_empty() && samples.iter().all(|sample| sample.value == 1.0)
        })
        .await;
    }
}

/// A Pushgateway on 127.0.0.1 without persistence, killed on drop.
pub struct Pushgateway {
    _child: ChildGuard,
    _dir: TempDir,
    base_url: String,
}

impl Pushgateway {
    /// Starts Debian's `prometheus-pushgateway` with `extra_args`. Returns `None` when the
    /// binary is missing outside CI.
    ///
    /// Debian's build persists to `/var/lib/prometheus/pushgateway.data` by default, which
    /// would leak groups between tests, so persistence is off unless `extra_args` sets
    /// `--persistence.file`.
    pub async fn start(extra_args: &[&str]) -> Option<Self> {
        let binary = require_tool("prometheus-pushgateway")?;
        let dir = tempfile::tempdir().expect("temporary directory for the Pushgateway");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("pushgateway.log")).expect("log file");
        let sets_persistence = extra_args
            .iter()
            .any(|arg| arg.starts_with("--persistence.file"));
        let persistence_off: &[&str] = if sets_persistence {
            &[]
        } else {
            &["--persistence.file="]
        };
        let child = Command::new(binary)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(persistence_off)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus-pushgateway");
        let child = ChildGuard::new("prometheus-pushgateway", child);

        let base_url = format!("http://127.0.0.1:{port}");
        if let Err(error) =
            wait_for_http(&format!("{base_url}/-/ready"), Duration::from_secs(30)).await
        {
            let log =
                std::fs::read_to_string(dir.path().join("pushgateway.log")).unwrap_or_default();
            panic!("Pushgateway did not start: {error}\n{log}");
        }

        Some(Self {
            _child: child,
            _dir: dir,
            base_url,
        })
    }

    /// The base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// The `host:port` address, for scrape configs.
    pub fn address(&self) -> &str {
        self.base_url.trim_start_matches("http://")
    }
}

//! `push-load`: a load generator for the push API of `koji-aggregator` or a Pushgateway.
//!
//! It fills a receiver with builder groups of 40 series each, shaped like a `koji-agent`
//! push. Then it re-pushes groups from N concurrent pushers for a fixed time and reports
//! pushes per second and latency percentiles. It can also time `/metrics`, plain and
//! gzip-compressed. Results are printed as `key=value` lines for
//! `tests/bench/push-load`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use koji_aggregator::identity::TokenSecret;

/// Pushes builder groups to a Pushgateway-compatible receiver and reports throughput,
/// latency and the cost of a scrape.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Base URL of the receiver, such as http://127.0.0.1:9820.
    #[arg(long)]
    url: String,

    /// Number of builder groups (hosts).
    #[arg(long, default_value_t = 10_000)]
    groups: usize,

    /// Push every group once before measuring.
    #[arg(long)]
    fill: bool,

    /// Concurrent pushers while measuring; 0 skips the measurement.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,

    /// Seconds to measure pushes for.
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,

    /// Time `/metrics`, plain and gzip-compressed, after the pushes.
    #[arg(long)]
    scrape: bool,

    /// Token secret file of the receiver; every push then carries the host's bearer token.
    #[arg(long, value_name = "FILE")]
    token_secret_file: Option<PathBuf>,

    /// Job name of the groups.
    #[arg(long, default_value = "koji-agent")]
    job: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            println!("error=cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("error={error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // reqwest is built without a default rustls provider.
    let _installed_before = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(args.concurrency.max(16))
        .timeout(Duration::from_secs(60))
        .build()?;
    let secret = match &args.token_secret_file {
        Some(path) => Some(TokenSecret::load(path)?),
        None => None,
    };
    let pusher = Arc::new(Pusher {
        client: client.clone(),
        url: args.url.trim_end_matches('/').to_string(),
        job: args.job.clone(),
        secret,
    });
    let body_bytes = agent_body(&host_name(0)).len();
    println!(
        "body bytes={body_bytes} series={}",
        series_count(&host_name(0))
    );

    if args.fill {
        fill(&pusher, args.groups).await?;
    }
    if args.concurrency > 0 {
        let duration = Duration::from_secs(args.duration_secs);
        measure(&pusher, args.groups, args.concurrency, duration).await?;
    }
    if args.scrape {
        scrape(&client, &pusher.url).await?;
    }
    Ok(())
}

struct Pusher {
    client: reqwest::Client,
    url: String,
    job: String,
    secret: Option<TokenSecret>,
}

impl Pusher {
    /// PUTs the group of builder `index` and returns the time the request took.
    async fn push(&self, index: usize) -> anyhow::Result<Duration> {
        let host = host_name(index);
        let url = format!("{}/metrics/job/{}/instance/{host}", self.url, self.job);
        let mut request = self.client.put(url).body(agent_body(&host));
        if let Some(secret) = &self.secret {
            request = request.bearer_auth(secret.token(&host));
        }
        let start = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let elapsed = start.elapsed();
        if !status.is_success() {
            anyhow::bail!("push for {host} failed with {status}: {}", text.trim());
        }
        Ok(elapsed)
    }
}

/// Pushes every group once with 16 pushers.
async fn fill(pusher: &Arc<Pusher>, groups: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let pusher = pusher.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= groups {
                    return Ok::<(), anyhow::Error>(());
                }
                pusher.push(index).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "fill groups={groups} seconds={seconds:.1} pushes_per_sec={:.0}",
        groups as f64 / seconds
    );
    Ok(())
}

/// Re-pushes groups from `concurrency` pushers for `duration` and reports the rate, the
/// latency percentiles of the accepted pushes, and the failed pushes with the first error.
async fn measure(
    pusher: &Arc<Pusher>,
    groups: usize,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let pusher = pusher.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            let mut index = worker * 7919 % groups.max(1);
            while Instant::now() < deadline {
                match pusher.push(index).await {
                    Ok(latency) => latencies.push(latency),
                    Err(error) => errors.push(error.to_string()),
                }
                index = (index + concurrency * 31 + 1) % groups.max(1);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for task in tasks {
        let (task_latencies, task_errors) = task.await?;
        latencies.extend(task_latencies);
        errors.extend(task_errors);
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |fraction: f64| -> f64 {
        let index = ((latencies.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(f64::NAN, |latency| latency.as_secs_f64() * 1000.0)
    };
    println!(
        "push concurrency={concurrency} pushes={} errors={} seconds={seconds:.1} \
         pushes_per_sec={:.1} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        latencies.len(),
        errors.len(),
        latencies.len() as f64 / seconds,
        percentile(0.5),
        percentile(0.99),
        percentile(1.0)
    );
    if let Some(first) = errors.first() {
        println!("first_error={first}");
    }
    Ok(())
}

/// Times `/metrics` three times plain and three times with gzip, and reports the fastest of
/// each with its size.
async fn scrape(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for (label, gzip) in [("plain", false), ("gzip", true)] {
        let mut best = Duration::MAX;
        let mut bytes = 0;
        for _ in 0..3 {
            let mut request = client.get(format!("{url}/metrics"));
            if gzip {
                request = request.header("Accept-Encoding", "gzip");
            }
            let start = Instant::now();
            let mut response = request.send().await?.error_for_status()?;
            // The body is counted, not kept, so the time is the server's and the network's
            // rather than the time to assemble 50 MB in this process.
            bytes = 0;
            while let Some(chunk) = response.chunk().await? {
                bytes += chunk.len();
            }
            best = best.min(start.elapsed());
        }
        println!(
            "scrape encoding={label} ms={:.0} bytes={bytes}",
            best.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

fn host_name(index: usize) -> String {
    format!("builder{index:05}.example.org")
}

fn series_count(host: &str) -> usize {
    agent_body(host)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .count()
}

/// Builds the body of one builder: 40 series in 16 families, shaped like a `koji-agent`
/// push.
fn agent_body(host: &str) -> String {
    let mut body = String::with_capacity(4096);
    let gauge = |body: &mut String, name: &str, help: &str| {
        body.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    };
    gauge(
        &mut body,
        "koji_agent_build_info",
        "Version of the agent, always 1.",
    );
    body.push_str(&format!(
        "koji_agent_build_info{{host=\"{host}\",version=\"0.1.0\"}} 1\n"
    ));
    gauge(
        &mut body,
        "koji_builder_ready_check",
        "Readiness checks of kojid.",
    );
    for check in ["enabled", "capacity", "maxjobs", "disk", "load"] {
        body.push_str(&format!(
            "koji_builder_ready_check{{check=\"{check}\",host=\"{host}\"}} 1\n"
        ));
    }
    let single = [
        ("koji_agent_hub_up", "1"),
        ("koji_builder_kojid_up", "1"),
        ("koji_builder_kojid_start_time_seconds", "1796400000"),
        ("koji_builder_kojid_task_processes", "3"),
        ("koji_builder_mockdir_free_bytes", "412316860416"),
        ("koji_builder_minspace_bytes", "8589934592"),
        ("koji_builder_load1", "3.25"),
        ("koji_builder_cpus", "16"),
        ("koji_builder_maxjobs", "10"),
        (
            "koji_builder_client_cert_expiry_timestamp_seconds",
            "1830000000",
        ),
    ];
    for (name, value) in single {
        gauge(&mut body, name, "A builder value.");
        body.push_str(&format!("{name}{{host=\"{host}\"}} {value}\n"));
    }
    let collectors = [
        "kojid", "config", "disk", "load", "cert", "hub", "tasks", "system", "mock", "repos",
    ];
    gauge(
        &mut body,
        "koji_agent_collector_success",
        "Whether the collector succeeded.",
    );
    for collector in collectors {
        body.push_str(&format!(
            "koji_agent_collector_success{{collector=\"{collector}\",host=\"{host}\"}} 1\n"
        ));
    }
    gauge(
        &mut body,
        "koji_agent_collector_duration_seconds",
        "Collector run time.",
    );
    for collector in collectors {
        body.push_str(&format!(
            "koji_agent_collector_duration_seconds{{collector=\"{collector}\",host=\"{host}\"}} 0.0042\n"
        ));
    }
    gauge(
        &mut body,
        "koji_builder_running_tasks",
        "Open tasks by method.",
    );
    for method in ["build", "buildArch", "createrepo", "newRepo"] {
        body.push_str(&format!(
            "koji_builder_running_tasks{{host=\"{host}\",method=\"{method}\"}} 1\n"
        ));
    }
    body
}

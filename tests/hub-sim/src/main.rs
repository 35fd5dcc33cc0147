//! `koji-hub-sim`: serve a scenario as a Koji hub on 127.0.0.1 until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use koji_hub_sim::{HubSim, LoadConfig, Scenario, SimOptions, VersionMode};

/// Serve a Koji hub simulator. The first line on stdout is
/// `koji-hub-sim listening on http://ADDR/kojihub`.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Scenario file (JSON).
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,

    /// Hub release to imitate: current (1.35.3), pre-1.33 or pre-1.25.
    #[arg(long, default_value = "current")]
    version_mode: VersionMode,

    /// Run load mode: task trees flow through their lifecycle (settings from the scenario's
    /// `load` section, overridden by the flags below).
    #[arg(long)]
    load: bool,

    /// Load mode: tasks created per day.
    #[arg(long, requires = "load")]
    tasks_per_day: Option<f64>,

    /// Load mode: rows of history to generate before the clock's now.
    #[arg(long, requires = "load")]
    prefill: Option<u64>,

    /// Load mode: random seed.
    #[arg(long, requires = "load")]
    seed: Option<u64>,

    /// Load mode: extra live builders to add.
    #[arg(long, requires = "load")]
    generated_hosts: Option<u32>,

    /// Virtual seconds per real second (default 1 in load mode, a fixed clock otherwise).
    #[arg(long)]
    speed: Option<f64>,

    /// Virtual seconds added to the clock before each XML-RPC request.
    #[arg(long, value_name = "SECONDS")]
    advance_per_call: Option<f64>,
}

fn load_config(args: &Args, scenario: &Scenario) -> Option<LoadConfig> {
    if !args.load {
        return None;
    }
    let mut config = scenario.load.clone().unwrap_or_default();
    if let Some(rate) = args.tasks_per_day {
        config.tasks_per_day = rate;
    }
    if let Some(rows) = args.prefill {
        config.prefill_rows = rows;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(hosts) = args.generated_hosts {
        config.generated_hosts = hosts;
    }
    Some(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let args = Args::parse();
    let scenario = Scenario::from_file(&args.scenario)?;
    let load = load_config(&args, &scenario);
    let options = SimOptions {
        listen: args.listen,
        version: args.version_mode,
        clock_speed: args.speed.or(load.as_ref().map(|_| 1.0)),
        load,
        advance_per_call: args.advance_per_call,
        ..SimOptions::default()
    };

    let sim = HubSim::start(scenario, options).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "koji-hub-sim listening on {}", sim.url())
        .context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")?;

    wait_for_signal().await?;
    tracing::info!("Stopping.");
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot wait for SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

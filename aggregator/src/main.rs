//! `koji-aggregator`: polls a Koji hub and serves `/metrics` for Prometheus.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use koji_aggregator::config::Config;
use tracing_subscriber::EnvFilter;

/// Polls a Koji hub and serves its builders, channels and tasks on /metrics for Prometheus.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Configuration file (TOML).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/koji-aggregator/aggregator.toml"
    )]
    config: PathBuf,

    /// Check the configuration file, print "configuration OK: FILE" or every problem, and
    /// exit with 0 or 1.
    #[arg(long)]
    check_config: bool,

    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// "info,koji=debug".
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.check_config {
        return check_config(&args.config);
    }

    let filter = match EnvFilter::try_new(&args.log_level) {
        Ok(filter) => filter,
        Err(error) => {
            println!(
                "invalid --log-level {:?}: {error}; use error, warn, info, debug or trace",
                args.log_level
            );
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    match start(&args.config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "koji-aggregator stopped with an error.");
            ExitCode::FAILURE
        }
    }
}

fn start(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(koji_aggregator::run::run(&config, config_path))?;
    Ok(())
}

fn check_config(path: &Path) -> ExitCode {
    match Config::load(path) {
        Ok(_) => {
            println!("configuration OK: {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}

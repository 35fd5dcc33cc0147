//! `koji-aggregator`: polls a Koji hub, receives agent pushes, and serves `/metrics` for
//! Prometheus.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use koji_aggregator::config::Config;
use koji_aggregator::identity::TokenSecret;
use tracing_subscriber::EnvFilter;

/// Polls a Koji hub, receives pushes from koji-agent, and serves builders, channels, tasks
/// and pushed series on /metrics for Prometheus.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Configuration file (TOML).
    #[arg(
        long,
        global = true,
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

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the push token of HOST: the lowercase hex HMAC-SHA256 of HOST under the first
    /// secret of push.token_secret_files. The agent on HOST sends it as a bearer token.
    Token {
        /// The host name, as the agent pushes it in the instance grouping label.
        host: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Token { host }) = &args.command {
        return print_token(&args.config, host);
    }
    if args.check_config {
        return check_config(&args.config);
    }

    let filter = match EnvFilter::try_new(&args.log_level) {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!(
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

fn print_token(config_path: &Path, host: &str) -> ExitCode {
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            println!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let Some(secret_file) = config.push.token_secret_files.first() else {
        println!(
            "{} has no push.token_secret_files; add a file with a random secret to the [push] \
             table first",
            config_path.display()
        );
        return ExitCode::FAILURE;
    };
    match TokenSecret::load(secret_file) {
        Ok(secret) => {
            println!("{}", secret.token(host));
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}

//! `koji-agent`: pushes a Koji builder's local state and hub record to a koji-aggregator or a
//! Pushgateway.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use koji_agent::config::Config;
use koji_agent::daemon::{self, TargetReport};

/// Exit status of invalid flags or configuration.
const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE", default_value = koji_agent::DEFAULT_CONFIG_PATH)]
    config: PathBuf,

    /// Run one collection cycle, push it once to every target, and exit: 0 when every push
    /// succeeded, 1 otherwise.
    #[arg(long)]
    once: bool,

    /// With --once: print the exposition to stdout instead of pushing.
    #[arg(long, requires = "once")]
    print: bool,

    /// Check the configuration and the push targets' certificate files, then exit.
    #[arg(long, conflicts_with_all = ["once", "print"])]
    check_config: bool,

    /// Log filter for stderr, such as info or koji_agent=debug (tracing's EnvFilter syntax).
    #[arg(long, value_name = "FILTER", default_value = "info")]
    log_level: String,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Delete this host's group from every push target, for a builder that is retired.
    Deregister,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = init_logging(&cli.log_level) {
        eprintln!("koji-agent: {error:#}");
        return ExitCode::from(EXIT_CONFIG);
    }

    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("koji-agent: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &config.warnings {
        tracing::warn!(config = %cli.config.display(), "{warning}");
    }

    if cli.check_config {
        return check_config(&cli, &config);
    }
    match run(&cli, &config) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("koji-agent: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("invalid --log-level {filter:?}; use a level such as info"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

fn check_config(cli: &Cli, config: &Config) -> ExitCode {
    let checked = config
        .require_push_targets()
        .map_err(anyhow::Error::from)
        .and_then(|()| daemon::build_targets(config).map_err(anyhow::Error::from));
    if let Err(error) = checked {
        eprintln!("koji-agent: {error}");
        return ExitCode::from(EXIT_CONFIG);
    }

    println!("{}: valid", cli.config.display());
    println!("host: {}", config.host);
    println!("collectors: {}", config.collectors.join(", "));
    let hub = match (config.hub.enabled, &config.hub.url) {
        (false, _) => "off".to_string(),
        (true, Some(url)) => url.clone(),
        (true, None) => format!("server from {}", config.kojid_config_path().display()),
    };
    println!("hub: {hub}");
    for target in &config.push {
        println!("push: {}", target.url);
    }
    ExitCode::SUCCESS
}

fn run(cli: &Cli, config: &Config) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    if let Some(Command::Deregister) = cli.command {
        let reports = runtime.block_on(daemon::deregister(config))?;
        return Ok(report(&reports, "deleted the group of", &config.host));
    }
    if cli.once && cli.print {
        let text = runtime.block_on(daemon::print(config));
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if cli.once {
        let reports = runtime.block_on(daemon::once(config))?;
        return Ok(report(&reports, "pushed the group of", &config.host));
    }

    runtime.block_on(async {
        let shutdown = daemon::shutdown_signal()?;
        daemon::run(config, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one line per target: successes to stdout, failures to stderr. Returns 0 when
/// every target succeeded.
fn report(reports: &[TargetReport], done: &str, host: &str) -> ExitCode {
    let mut failed = false;
    for report in reports {
        match &report.result {
            Ok(()) => println!("{}: {done} {host}", report.target),
            Err(error) => {
                failed = true;
                eprintln!(
                    "koji-agent: {}: {} ({})",
                    report.target, error, error.reason
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

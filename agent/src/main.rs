//! `koji-agent`: pushes a Koji builder's local state and hub record to a koji-aggregator or a
//! Pushgateway.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use koji_agent::config::Config;
use koji_agent::daemon::{self, TargetReport};
use koji_agent::kojid_conf::KojidSettings;
use tracing_subscriber::EnvFilter;

/// Exit status of invalid flags or configuration.
const EXIT_CONFIG: u8 = 2;

/// The levels a directive of `--log-level` without `=` may name. tracing's `EnvFilter`
/// reads any other bare word as a target name, which would turn off every other log line.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Exit status: 0 on success, 1 when a push or delete of --once or deregister \
                  failed or the agent failed while running, 2 for invalid flags or an invalid \
                  configuration."
)]
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

    /// Check the configuration and every file it names (certificates, keys, CA bundles,
    /// token files), print a summary or every problem, and exit with 0 or 2.
    #[arg(long, conflicts_with_all = ["once", "print"])]
    check_config: bool,

    /// Log level (off, error, warn, info, debug, trace) or a filter for stderr such as
    /// "info,koji_agent=debug" (tracing's EnvFilter syntax).
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
    let pushes = !(cli.once && cli.print);
    if pushes && let Err(error) = daemon::check_setup(&config, true) {
        eprintln!("koji-agent: {error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    match run(&cli, &config) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("koji-agent: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(value: &str) -> anyhow::Result<()> {
    let filter = log_filter(value).map_err(anyhow::Error::msg)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

/// Builds the log filter of `--log-level`. A directive without `=` must be a level.
fn log_filter(value: &str) -> Result<EnvFilter, String> {
    let levels = LEVELS.join(", ");
    let bare = value
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty() && !directive.contains('='));
    for directive in bare {
        if !LEVELS
            .iter()
            .any(|level| directive.eq_ignore_ascii_case(level))
        {
            return Err(format!(
                "invalid --log-level {value:?}: {directive:?} is not a level; use one of \
                 {levels}, or a filter such as \"info,koji_agent=debug\""
            ));
        }
    }
    EnvFilter::try_new(value)
        .map_err(|error| format!("invalid --log-level {value:?}: {error}; use one of {levels}"))
}

fn check_config(cli: &Cli, config: &Config) -> ExitCode {
    if let Err(error) = daemon::check_setup(config, true) {
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

    // kojid.conf belongs to kojid, so a problem with it is no configuration error of the
    // agent, but the collectors that need its settings fail until it is fixed.
    if let Err(error) = KojidSettings::read(&config.kojid_config_path()) {
        println!(
            "warning: {error}; until kojid.conf can be read, the disk and certificate \
             collectors, the maxjobs and disk readiness rules, and the hub collector when its \
             url or CA comes from kojid.conf fail"
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filter_rejects_unknown_word() {
        for value in ["warning", "verbose", "info,verbose", "5"] {
            let error = log_filter(value).unwrap_err();

            assert!(error.contains(&format!("{value:?}")), "{error}");
            assert!(
                error.contains("off, error, warn, info, debug, trace"),
                "{error}"
            );
        }
    }

    #[test]
    fn log_filter_accepts_levels_and_filters() {
        for value in [
            "info",
            "DEBUG",
            "off",
            "info,koji=debug",
            "koji_agent=debug",
        ] {
            assert!(log_filter(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn help_states_exit_status() {
        use clap::CommandFactory;

        let help = Cli::command().render_long_help().to_string();

        assert!(help.contains("Exit status: 0"), "{help}");
        assert!(help.contains("2 for invalid flags"), "{help}");
        assert!(help.contains("exit with 0 or 2"), "{help}");
    }
}

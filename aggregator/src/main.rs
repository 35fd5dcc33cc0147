//! `koji-aggregator`: polls a Koji hub, receives agent pushes, and serves `/metrics` for
//! Prometheus.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use koji_aggregator::config::Config;
use koji_aggregator::hub::state_file;
use koji_aggregator::identity::TokenSecret;
use tracing_subscriber::EnvFilter;

/// Exit status of a failure while running, such as an unusable state file or a listen
/// address in use.
const EXIT_RUNTIME: u8 = 1;

/// Exit status of invalid flags or an invalid configuration.
const EXIT_CONFIG: u8 = 2;

/// The levels a directive of `--log-level` without `=` may name. tracing's `EnvFilter`
/// reads any other bare word as a target name, which would turn off every other log line.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Polls a Koji hub, receives pushes from koji-agent, and serves builders, channels, tasks
/// and pushed series on /metrics for Prometheus.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit status: 0 after a clean stop or a valid --check-config, 1 when the \
                  aggregator fails while starting or running (state file, listen address), \
                  2 for invalid flags or an invalid configuration."
)]
struct Args {
    /// Configuration file (TOML).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "/etc/koji-aggregator/aggregator.toml"
    )]
    config: PathBuf,

    /// Check the configuration file, the files it names and state_dir, print warnings and
    /// "configuration OK: FILE" or every problem, and exit with 0 or 2.
    #[arg(long)]
    check_config: bool,

    /// Log level (off, error, warn, info, debug, trace) or a tracing filter such as
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
    let filter = match log_filter(&args.log_level) {
        Ok(filter) => filter,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(Command::Token { host }) = &args.command {
        return print_token(&args.config, host);
    }
    if args.check_config {
        return check_config(&args.config);
    }

    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(error = %error, "koji-aggregator cannot start.");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &config.warnings {
        tracing::warn!(config = %args.config.display(), "{warning}");
    }

    match run(&config, &args.config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "koji-aggregator stopped with an error.");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
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
                 {levels}, or a filter such as \"info,koji=debug\""
            ));
        }
    }
    EnvFilter::try_new(value)
        .map_err(|error| format!("invalid --log-level {value:?}: {error}; use one of {levels}"))
}

fn run(config: &Config, config_path: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(koji_aggregator::run::run(config, config_path))?;
    Ok(())
}

fn check_config(path: &Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            println!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &config.warnings {
        println!("warning: {warning}");
    }
    println!("configuration OK: {}", path.display());

    // The state file is not configuration, but one the aggregator cannot load stops the
    // start just the same, with exit status 1.
    if let Some(hub) = &config.hub {
        let state = state_file::state_path(&config.state_dir);
        if let Err(error) = state_file::load(&state, &hub.url) {
            println!("state file: {error}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    }
    ExitCode::SUCCESS
}

fn print_token(config_path: &Path, host: &str) -> ExitCode {
    if host.is_empty() || host.contains(|character: char| character.is_whitespace()) {
        eprintln!(
            "invalid host {host:?}: give the builder's Koji host name, which its agent pushes \
             as the instance label, such as buildvm-x86-01.example.org"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(secret_file) = config.push.token_secret_files.first() else {
        eprintln!(
            "{} has no push.token_secret_files; add a file with a random secret to the [push] \
             table first",
            config_path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    match TokenSecret::load(secret_file) {
        Ok(secret) => {
            println!("{}", secret.token(host));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(EXIT_CONFIG)
        }
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
            "WARN",
            "off",
            "info,koji=debug",
            "koji_aggregator=debug",
            "warn,koji_aggregator::hub=trace",
        ] {
            assert!(log_filter(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn help_states_exit_status() {
        use clap::CommandFactory;

        let help = Args::command().render_long_help().to_string();

        assert!(help.contains("Exit status: 0"), "{help}");
        assert!(help.contains("2 for invalid flags"), "{help}");
        assert!(help.contains("exit with 0 or 2"), "{help}");
    }
}

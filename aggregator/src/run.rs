//! Building the aggregator from its configuration and running it until SIGTERM or SIGINT.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::hub::{HubPoller, StartError, SystemClock};
use crate::identity::{Authenticator, PeerInfo, SecretError, TokenSecret};
use crate::persist::PersistError;
use crate::push::combine::PushSource;
use crate::push::expiry::expire_periodically;
use crate::push::persist::{PUSHED_FILE, load_or_set_aside, save_periodically};
use crate::push::{PushState, Store};
use crate::server::{self, AppState, MetricsSource};
use crate::tls::{PlainListener, TlsError, TlsListener, server_config};

/// Time the server and the poller get to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// Name of the file in the state directory that the running aggregator holds locked.
pub const LOCK_FILE: &str = "lock";

/// A failure to start or run the aggregator.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The hub poller could not start (state directory, state file, hub client).
    #[error(transparent)]
    Poller(#[from] StartError),

    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}; free the port or set listen to another address")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The HTTP server stopped with an error.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),

    /// The signal handlers could not be installed.
    #[error("cannot install the signal handlers: {0}")]
    Signal(std::io::Error),

    /// The state directory for the pushed groups could not be created.
    #[error(
        "cannot create the state directory {path}: {source}; create it writable for the \
         service user, or set state_dir to another directory"
    )]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// Another process holds the lock on the state directory.
    #[error(
        "another koji-aggregator{holder} uses the state directory {path}: it holds the lock on \
         {path}/{LOCK_FILE}; stop that process, or give this one another state_dir"
    )]
    StateDirInUse {
        /// The directory.
        path: PathBuf,
        /// " (process N)" when the lock file names the holder, else empty.
        holder: String,
    },

    /// The lock file could not be opened or locked.
    #[error(
        "cannot open or lock {path}: {source}; make the state directory writable for the \
         service user, on a file system that supports flock"
    )]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The saved pushed groups could not be read.
    #[error(transparent)]
    Pushed(#[from] PersistError),

    /// A token secret file could not be used.
    #[error(transparent)]
    Secret(#[from] SecretError),

    /// The TLS files could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Runs the aggregator: locks the state directory, loads the state, starts the poller and
/// the HTTP server, and stops both on SIGTERM or SIGINT. The hub state is already on disk
/// after every poll; stopping writes the pushed groups once more.
pub async fn run(config: &Config, config_path: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|source| RunError::StateDir {
        path: config.state_dir.clone(),
        source,
    })?;
    // Held until `run` returns, so no second aggregator writes the same files meanwhile.
    let _lock = lock_state_dir(&config.state_dir)?;
    let (stop, stopped) = watch::channel(false);
    let mut sources: Vec<Arc<dyn MetricsSource>> = Vec::new();

    let poller = match &config.hub {
        Some(hub) => {
            let poller =
                HubPoller::new(hub, &config.tags, &config.state_dir, Arc::new(SystemClock))?;
            sources.push(Arc::new(poller.source()));
            Some(poller)
        }
        None => {
            tracing::info!("No [hub] table in the configuration, so the hub is not polled.");
            None
        }
    };

    let (push_state, push_store) = start_push(config)?;
    sources.push(Arc::new(PushSource::new(push_store.clone())));
    let tls = config.tls.as_ref().map(server_config).transpose()?;

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Bind {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr().unwrap_or(config.listen);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config_path.display(),
        listen = %address,
        hub_url = config.hub.as_ref().map(|hub| hub.url.as_str()),
        state_dir = %config.state_dir.display(),
        tls = tls.is_some(),
        "koji-aggregator started."
    );

    let poller = poller.map(|poller| tokio::spawn(poller.run(stopped.clone())));
    let expiry = config.push.expiry.map(|max_age| {
        tokio::spawn(expire_periodically(
            push_store.clone(),
            max_age,
            wait_for_stop(stopped.clone()),
        ))
    });
    let saver = tokio::spawn(save_periodically(
        push_store.clone(),
        config.state_dir.join(PUSHED_FILE),
        config.push.persist_interval,
        wait_for_stop(stopped.clone()),
    ));

    let app = server::router(AppState::new(sources)).merge(crate::push::router(push_state));
    let service = app.into_make_service_with_connect_info::<PeerInfo>();
    let server_stop = wait_for_stop(stopped.clone());
    let mut server = match tls {
        None => tokio::spawn(async move {
            axum::serve(PlainListener::new(listener), service)
                .with_graceful_shutdown(server_stop)
                .await
        }),
        Some(tls) => {
            let listener = TlsListener::new(listener, tls).map_err(RunError::Serve)?;
            tokio::spawn(async move {
                axum::serve(listener, service)
                    .with_graceful_shutdown(server_stop)
                    .await
            })
        }
    };

    tokio::select! {
        signal = stop_signal() => {
            let signal = signal.map_err(RunError::Signal)?;
            tracing::info!(signal, "Stopping.");
        }
        result = &mut server => {
            let result = result.map_err(|error| RunError::Serve(std::io::Error::other(error)))?;
            result.map_err(RunError::Serve)?;
            return Err(RunError::Serve(std::io::Error::other("the server stopped by itself")));
        }
    }

    let _sent = stop.send(true);
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        let _server = server.await;
        if let Some(poller) = poller {
            let _poller = poller.await;
        }
    })
    .await;
    if finished.is_err() {
        tracing::info!("Open connections did not close in time; stopping anyway.");
    }
    if let Some(expiry) = expiry {
        let _expiry = expiry.await;
    }
    // The final write of the pushed groups is not cut short: losing it would lose the
    // pushes since the last interval.
    let _saver = saver.await;
    tracing::info!("Stopped.");
    Ok(())
}

/// Creates the push store with the groups saved in the state directory, and the state of
/// the push handlers with the configured credentials.
fn start_push(config: &Config) -> Result<(PushState, Arc<Store>), RunError> {
    let store = Arc::new(Store::new(config.push.limits));
    let path = config.state_dir.join(PUSHED_FILE);
    let report = load_or_set_aside(&path, &store)?;
    for skipped in &report.skipped {
        tracing::warn!(file = %path.display(), reason = %skipped, "Left out a saved pushed group.");
    }
    if report.groups > 0 || !report.skipped.is_empty() {
        tracing::info!(
            file = %path.display(),
            groups = report.groups,
            skipped = report.skipped.len(),
            "Restored the pushed groups."
        );
    }

    let secrets = config
        .push
        .token_secret_files
        .iter()
        .map(|path| TokenSecret::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let client_certificates = config
        .tls
        .as_ref()
        .is_some_and(|tls| tls.client_ca_file.is_some());
    let authenticator = Authenticator::new(secrets, client_certificates);
    if !authenticator.has_credentials() {
        tracing::warn!(
            "No push credential is configured (push.token_secret_files, tls.client_ca_file), \
             so only loopback peers may push. Behind a reverse proxy on this host every peer \
             looks local: configure credentials there."
        );
    }
    Ok((PushState::new(store.clone(), authenticator), store))
}

/// Takes an exclusive `flock` on `<state_dir>/lock` and writes this process's id into it.
/// The kernel releases the lock when the process exits, however it exits, so a crash leaves
/// no stale lock behind.
fn lock_state_dir(state_dir: &Path) -> Result<Flock<File>, RunError> {
    let path = state_dir.join(LOCK_FILE);
    let lock_error = |source: std::io::Error| RunError::Lock {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(lock_error)?;

    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _unreadable = file.read_to_string(&mut holder);
            let holder = match holder.trim().parse::<u32>() {
                Ok(pid) => format!(" (process {pid})"),
                Err(_) => String::new(),
            };
            return Err(RunError::StateDirInUse {
                path: state_dir.to_path_buf(),
                holder,
            });
        }
        Err((_, errno)) => return Err(lock_error(errno.into())),
    };

    lock.set_len(0).map_err(lock_error)?;
    writeln!(lock, "{}", std::process::id()).map_err(lock_error)?;
    Ok(lock)
}

/// Completes when `stopped` turns true.
async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    let _stopped = stopped.wait_for(|stop| *stop).await;
}

/// Waits for SIGTERM or SIGINT and returns its name. SIGHUP, which operators and service
/// managers send to ask for a reload, is logged and otherwise ignored, because the
/// configuration is read only at start.
async fn stop_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = terminate.recv() => return Ok("SIGTERM"),
            _ = interrupt.recv() => return Ok("SIGINT"),
            _ = hangup.recv() => tracing::warn!(
                "Received SIGHUP, which does not reload the configuration; restart \
                 koji-aggregator to apply changes."
            ),
        }
    }
}

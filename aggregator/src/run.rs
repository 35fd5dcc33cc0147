//! Building the aggregator from its configuration and running it until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::hub::{HubPoller, StartError, SystemClock};
use crate::server::{self, AppState, MetricsSource};

/// Time the server and the poller get to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

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
    #[error("cannot install the SIGTERM handler: {0}")]
    Signal(std::io::Error),
}

/// Runs the aggregator: loads the state, starts the poller and the HTTP server, and stops
/// both on SIGTERM or SIGINT. The state is already on disk after every poll, so stopping
/// writes nothing.
pub async fn run(config: &Config, config_path: &Path) -> Result<(), RunError> {
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
        "koji-aggregator started."
    );

    let poller = poller.map(|poller| tokio::spawn(poller.run(stopped.clone())));
    let mut server_stop = stopped.clone();
    let app = server::router(AppState::new(sources));
    let mut server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _stopped = server_stop.wait_for(|stop| *stop).await;
            })
            .await
    });

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
    tracing::info!("Stopped.");
    Ok(())
}

/// Waits for SIGTERM or SIGINT and returns its name.
async fn stop_signal() -> std::io::Result<&'static str> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => Ok("SIGTERM"),
        _ = interrupt.recv() => Ok("SIGINT"),
    }
}

//! Binding, running and stopping the server.

use crate::alerts;
use crate::configuration::{self, ConfigError};
use crate::domain::Surveys;
use crate::routes::router;
use crate::server::serve_connections;
use crate::state::AppState;
use crate::store::{Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::TcpListener;

/// Everything `collector serve` needs, after flags, environment and defaults are settled.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data: PathBuf,
    /// `None`: no configuration file, so no surveys (the server still serves health and assets).
    pub config: Option<PathBuf>,
    pub assets: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the data directory: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}

/// Loads the configuration, opens the store, binds, and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> Result<(), StartupError> {
    let surveys = match &settings.config {
        Some(path) => configuration::load(path)?,
        None => Surveys::default(),
    };
    let store = Store::open(&settings.data)?;
    if settings.assets.is_none() {
        tracing::warn!(
            "no widget assets found: /pulsetap.js will answer 404 until scripts/build-widget.sh has run"
        );
    }
    let listener = TcpListener::bind(settings.listen).await?;
    let address = listener.local_addr()?;
    let state = AppState::new(surveys, store, settings.assets);
    tracing::info!(surveys = state.surveys.iter().count(), data = %settings.data.display(), "collector ready");
    // Scripts and tests wait for this exact line to know the server is up.
    println!("pulsetap collector listening on http://{address}");
    run(listener, state, shutdown_signal()).await?;
    Ok(())
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// and flushes the store, so a stop never loses an acknowledged rating. Alert delivery runs for
/// exactly as long.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let alerts = alerts::start(
        state.store.clone(),
        state.surveys.clone(),
        state.alerts_queued.clone(),
        state.stopping.clone(),
    );
    let app = router(state.clone());
    let stopping = state.stopping.clone();
    let served = serve_connections(listener, app, async move {
        shutdown.await;
        // Live feeds never finish on their own; this ends them so the drain can complete.
        stopping.cancel();
    })
    .await;
    state.stopping.cancel();
    // The worker holds the store; it must be gone before a restart in this process reopens it.
    let _ = alerts.await;
    served?;
    state.store.flush().map_err(std::io::Error::other)?;
    tracing::info!("collector stopped; store flushed");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}

//! Binding, running and stopping the server.

use crate::alerts;
use crate::configuration::{self, ConfigError};
use crate::domain::Surveys;
use crate::routes::router;
use crate::server::serve_connections;
use crate::state::AppState;
use crate::store::{EmbeddedStore, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Everything `collector serve` needs, after flags, environment and defaults are settled.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data: PathBuf,
    /// `None`: no configuration file, so no surveys (the server still serves health and assets).
    pub config: Option<PathBuf>,
    /// A directory that must hold the built widget (`pulsetap.js`); `None`: no widget, so
    /// `/pulsetap.js` answers 404.
    pub assets: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "{}: no built widget there (pulsetap.js is missing): run scripts/build-widget.sh, which writes widget/dist, and pass that directory to --assets",
        .0.display()
    )]
    Assets(PathBuf),
    #[error("cannot open the data directory: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}

/// Loads the configuration, checks the assets, opens the store, binds, and serves until Ctrl-C
/// or SIGTERM. A broken configuration or a `--assets` without a widget stops it before the data
/// directory is created. What would leave a server that answers but can't do its job (no
/// surveys, no widget) is warned about loudly, since the server may still be wanted for
/// reading old data.
pub async fn serve(settings: Settings) -> Result<(), StartupError> {
    let surveys = match &settings.config {
        Some(path) => configuration::load(path)?,
        None => {
            tracing::warn!(
                "NO CONFIGURATION: no --config, no PULSETAP_CONFIG and no pulsetap.toml in the working directory, so there are 0 surveys and every rating will be refused"
            );
            Surveys::default()
        }
    };
    match &settings.assets {
        Some(assets) if !assets.join("pulsetap.js").is_file() => {
            return Err(StartupError::Assets(assets.clone()));
        }
        Some(_) => {}
        None => tracing::warn!(
            "NO WIDGET: no --assets and no widget/dist/pulsetap.js in the working directory, so /pulsetap.js answers 404 and no page can show the widget; run scripts/build-widget.sh and pass --assets widget/dist"
        ),
    }
    let store = EmbeddedStore::open(&settings.data)?;
    let listener = TcpListener::bind(settings.listen).await?;
    let shutdown = shutdown_signal();
    let address = listener.local_addr()?;
    let shown = |path: Option<&Path>| match path {
        Some(path) => std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_owned())
            .display()
            .to_string(),
        None => "none".to_owned(),
    };
    tracing::info!(
        config = %shown(settings.config.as_deref()),
        data = %shown(Some(&settings.data)),
        assets = %shown(settings.assets.as_deref()),
        surveys = surveys.iter().count(),
        "collector ready"
    );
    let state = AppState::new(surveys, Arc::new(store), settings.assets);
    // Scripts and tests wait for this exact line to know the server is up.
    println!("pulsetap collector listening on http://{address}");
    run(listener, state, shutdown).await?;
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
    state.store.durable().await.map_err(std::io::Error::other)?;
    tracing::info!("collector stopped; store flushed");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when it
/// is first awaited: a supervisor that sends SIGTERM right after the ready line must get a
/// graceful stop, not the default action that kills the process.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let received = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing requests in flight");
    }
}

//! Binding, running and stopping the server.

use crate::alerts;
use crate::configuration::{self, ConfigError};
use crate::domain::Surveys;
use crate::routes::{admin, router};
use crate::server::serve_connections;
use crate::state::AppState;
use crate::store::{Location, Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A stalled writer is logged again this often while it stays stalled.
const STALL_REMINDER: Duration = Duration::from_secs(30);

/// Everything `collector serve` needs, after flags, environment and defaults are settled.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data: PathBuf,
    /// `--store` or `PULSETAP_STORE`: a PostgreSQL URL, which wins over the configuration's
    /// `store`; with neither, the embedded store in `data`.
    pub store: Option<String>,
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
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("--store: {0}")]
    Location(String),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}

/// Loads the configuration, checks the assets, opens the store, binds, and serves until Ctrl-C
/// or SIGTERM. A broken configuration or a `--assets` without a widget stops it before the data
/// directory is created. What would leave a server that answers but can't do its job (no
/// surveys, no widget) is warned about loudly, since the server may still be wanted for
/// reading old data.
pub async fn serve(settings: Settings) -> Result<(), StartupError> {
    let (surveys, configured_store) = match &settings.config {
        Some(path) => {
            let config = configuration::load_config(path)?;
            (config.surveys, config.store)
        }
        None => {
            tracing::warn!(
                "NO CONFIGURATION: no --config, no PULSETAP_CONFIG and no pulsetap.toml in the working directory, so there are 0 surveys and every rating will be refused"
            );
            (Surveys::default(), None)
        }
    };
    let location = match settings.store.clone().or(configured_store) {
        Some(url) => Location::parse(&url).map_err(StartupError::Location)?,
        None => Location::Embedded(settings.data.clone()),
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
    let store = location.open().await?;
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
        // Where the data is: the directory, or the database (without its password).
        data = %match &location {
            Location::Embedded(data) => shown(Some(data)),
            postgres => postgres.shown(),
        },
        assets = %shown(settings.assets.as_deref()),
        surveys = surveys.iter().count(),
        "collector ready"
    );
    let state = AppState::new(surveys, store, settings.assets);
    // The admin socket serves backups of the embedded store; a database is backed up with its
    // own tools, and collectors sharing it may share a machine and a data directory too.
    let admin = match &location {
        Location::Embedded(data) => serve_admin(data, state.clone()),
        Location::Postgres(_) => None,
    };
    // Scripts and tests wait for this exact line to know the server is up.
    println!("pulsetap collector listening on http://{address}");
    run(listener, state, shutdown).await?;
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    Ok(())
}

/// The admin socket of a collector serving `data`: `collector backup` talks to it.
pub fn admin_socket(data: &Path) -> PathBuf {
    data.join("admin").join("socket")
}

/// Serves the admin routes (`routes::admin`) on `admin_socket(data)` until the server stops.
///
/// Who may use it: the socket sits in a directory only the collector's user (and root) may
/// enter, inside the data directory, so exactly the accounts that can already read every
/// response. The public port never serves these routes, and a reverse proxy can't reach a Unix
/// socket, where a loopback port would receive every proxied request. A collector that can't
/// create it still serves, without online backups (logged).
#[cfg(unix)]
fn serve_admin(data: &Path, state: AppState) -> Option<JoinHandle<()>> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let socket = admin_socket(data);
    let directory = socket.parent().expect("the socket is in a directory");
    let bound = std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(directory)
        // An older directory keeps its mode: make sure it is private.
        .and_then(|()| std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700)))
        // Left by a collector that was killed: the store's lock, which this process holds,
        // says no other collector is using it.
        .and_then(|()| match std::fs::remove_file(&socket) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        })
        .and_then(|()| tokio::net::UnixListener::bind(&socket));
    let listener = match bound {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(
                socket = %socket.display(),
                %error,
                "NO ADMIN SOCKET: `collector backup` can't reach this collector (a data directory path over about 100 bytes is too long for a socket)"
            );
            return None;
        }
    };
    let stopping = state.stopping.clone();
    let app = admin::router(state);
    Some(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stopping.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the admin socket stopped");
        }
    }))
}

#[cfg(not(unix))]
fn serve_admin(_data: &Path, _state: AppState) -> Option<JoinHandle<()>> {
    tracing::warn!(
        "NO ADMIN SOCKET on this platform: `collector backup` works on a stopped collector only"
    );
    None
}

/// Logs an error when the writer stalls (and every `STALL_REMINDER` while it stays stalled),
/// and when it moves again. `/healthz` answers 503 meanwhile.
fn watch_writer(store: Store, stopping: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        let mut reported: Option<Instant> = None;
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = every_second.tick() => {}
            }
            let status = store.writer_status();
            if status.stalled() {
                if reported.is_none_or(|at| at.elapsed() >= STALL_REMINDER) {
                    tracing::error!(
                        queued = status.queued,
                        seconds_since_progress = status.since_progress.as_secs(),
                        "THE WRITER IS STALLED: ratings are not being stored and /healthz answers 503; restart the collector"
                    );
                    reported = Some(Instant::now());
                }
            } else if reported.take().is_some() {
                tracing::info!("the writer is moving again");
            }
        }
    })
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
        state.metrics.clone(),
        state.stopping.clone(),
    );
    let watchdog = watch_writer(state.store.clone(), state.stopping.clone());
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
    let _ = watchdog.await;
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

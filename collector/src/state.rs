//! What every request handler shares.

use crate::domain::Surveys;
use crate::metrics::Metrics;
use crate::service::ingest::Ingest;
use crate::service::visitors::VisitorLimits;
use crate::store::writer::FlushObserver;
use crate::store::{Backend, Store};
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The state behind one `Arc`: axum clones it for every request, and cloning a dozen handles
/// (an atomic count each, a lock for the cancellation token) showed in the ingest profile.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Debug)]
pub struct Shared {
    pub surveys: Arc<Surveys>,
    /// Reads, and the live feed's and alerts' wake-ups. Writes go through `ingest`.
    pub store: Store,
    /// Records ratings, impressions and email clicks.
    pub ingest: Ingest,
    pub visitors: Arc<VisitorLimits>,
    pub metrics: Arc<Metrics>,
    /// The built widget (`pulsetap.js` and `assets/`), when there is one.
    pub assets: Option<PathBuf>,
    /// Cancelled when the server begins to stop: endless work (live feeds, alert delivery)
    /// ends, so a graceful shutdown does not wait forever on an open dashboard.
    pub stopping: CancellationToken,
}

impl AppState {
    /// Builds the state and starts the store's writer over `backend`.
    pub fn new(surveys: Surveys, backend: Arc<dyn Backend>, assets: Option<PathBuf>) -> Self {
        let metrics = Arc::new(Metrics::default());
        let observed = metrics.clone();
        let observe_flush: FlushObserver = Arc::new(move |seconds, batch| {
            observed.flush_seconds.observe(seconds);
            observed.flush_batch_size.observe(batch as f64);
        });
        let visitors = Arc::new(VisitorLimits::new(surveys.flood_limit()));
        let surveys = Arc::new(surveys);
        let store = Store::start(backend, surveys.clone(), observe_flush);
        let ingest = Ingest::new(surveys.clone(), store.clone(), visitors.clone());
        Self(Arc::new(Shared {
            surveys,
            store,
            ingest,
            visitors,
            metrics,
            assets,
            stopping: CancellationToken::new(),
        }))
    }
}

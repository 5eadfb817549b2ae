//! What every request handler shares.

use crate::domain::Surveys;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::group_commit::{FlushObserver, GroupCommit};
use crate::store::writer::Writer;
use crate::visitor::VisitorLimits;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Notify, broadcast};
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
    pub store: Store,
    pub commits: GroupCommit,
    /// Where ratings are written: batched, and answered once durable.
    pub writer: Writer,
    pub visitors: Arc<VisitorLimits>,
    pub metrics: Arc<Metrics>,
    /// The built widget (`pulsetap.js` and `assets/`), when there is one.
    pub assets: Option<PathBuf>,
    /// Sequence numbers of new or changed responses, for live feeds.
    pub live: broadcast::Sender<u64>,
    /// Wakes the alert worker when a rating queued an alert. Only those: waking it on every
    /// write made it read the outbox thousands of times a second under load.
    pub alerts_queued: Arc<Notify>,
    /// Cancelled when the server begins to stop: endless work (live feeds, alert delivery)
    /// ends, so a graceful shutdown does not wait forever on an open dashboard.
    pub stopping: CancellationToken,
}

impl AppState {
    /// Builds the state and starts the writer and group-commit tasks: call inside a tokio
    /// runtime.
    pub fn new(surveys: Surveys, store: Store, assets: Option<PathBuf>) -> Self {
        let metrics = Arc::new(Metrics::default());
        let observed = metrics.clone();
        let observe_flush: FlushObserver = Arc::new(move |seconds, batch| {
            observed.flush_seconds.observe(seconds);
            observed.flush_batch_size.observe(batch as f64);
        });
        let commits = GroupCommit::start(store.db().clone(), observe_flush.clone());
        let (live, _) = broadcast::channel(1024);
        let visitors = Arc::new(VisitorLimits::new(surveys.flood_limit()));
        let surveys = Arc::new(surveys);
        let writer = Writer::start(store.clone(), surveys.clone(), observe_flush);
        Self(Arc::new(Shared {
            surveys,
            store,
            commits,
            writer,
            visitors,
            metrics,
            assets,
            live,
            alerts_queued: Arc::new(Notify::new()),
            stopping: CancellationToken::new(),
        }))
    }
}

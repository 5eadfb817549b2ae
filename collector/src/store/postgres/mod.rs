//! The PostgreSQL store: any number of collectors share one database.
//!
//! It keeps every rule of the embedded store, with what sharing a database adds:
//!
//! - **One transaction per batch.** The writer hands a batch to `apply`, which runs it in one
//!   READ COMMITTED transaction and commits: the COMMIT returning is the durable ack, so `flush`
//!   has nothing left to do. A deadlock or serialization failure rolls the whole batch back and
//!   runs it again; nothing of a rolled-back attempt is answered.
//! - **Identities.** Before reading them, a batch takes a transaction-scoped advisory lock per
//!   identity it rates, in one sorted order: two collectors rating one interaction take turns,
//!   and the second reads what the first committed (`domain::response::answer` decides, as in
//!   the embedded store).
//! - **No hot counter row.** Counters are sharded: a batch adds its summed deltas to one of
//!   [`SHARDS`] rows per (survey, dimension, grain, bucket), chosen per transaction, in sorted
//!   key order; a read sums the shards of the buckets asked, so its cost still follows the range.
//! - **Live-feed events** need no shared sequence: a change's event number is `transaction id ×
//!   65,536 + its place in the batch` (the `events` table names its response, which also keeps
//!   it as `last_event`).
//!   Transactions commit in any order, so a reader only reads below the *frontier*: the oldest
//!   transaction still running (`pg_snapshot_xmin`) × 65,536. Everything below it is committed
//!   or rolled back for good, so a feed that has read up to N never sees anything below N appear
//!   later. A long write transaction anywhere on the server holds the frontier, and so the live
//!   feed (not the data), back until it ends. A collector polls the newest event every
//!   [`crate::store::writer::SHARED_POLL`] to hear of other collectors' writes.
//! - **Anonymous limits** (distinct tag values, new unverified responses per day) are exact
//!   across collectors: a batch decides against the counts it reads, then adds to them at its
//!   end and reads back the sum; a sum past the ceiling that one of its decisions leaned on rolls
//!   the batch back and runs it again with the counts locked from the start. The rows are locked
//!   only from that last update to the commit, until a survey nears its ceiling.
//! - **The alert outbox** is drained by every collector: `due_alerts` claims what it returns
//!   (`FOR UPDATE SKIP LOCKED`, then a claim for [`CLAIM`]), so another collector's worker leaves
//!   it alone, and what the worker queues in its place (merged, sealed, rescheduled) stays
//!   claimed by it, so a message sealed and posted in one round is never posted by another
//!   collector meanwhile; a collector that stops hands its claims back, one that dies lets them
//!   run out, and another one delivers them. The `Idempotency-Key` stays the message's, so a
//!   receiver can tell a rare second post.
//! - **Backups** are the database's business (`pg_dump`, a managed database's snapshots):
//!   `collector backup` says so.
//!
//! Driver: tokio-postgres with deadpool-postgres's pool. [`Backend`] is synchronous (the writer
//! is a thread, reads run on the blocking pool), so the store owns a small runtime of its own
//! that drives the connections, and each method blocks on it; a caller's runtime, a test's
//! single-threaded one included, never has to drive the database's sockets.
//!
//! # Layout
//!
//! - this file: [`PostgresStore`]: connecting (TLS, the pool, migrations) and the [`Backend`].
//! - [`errors`]: driver errors as `StoreError`s.
//! - [`schema`]: the migrations (`migrations/*.sql`).
//! - [`records`]: the transaction that applies a batch of writes, and ratings.
//! - [`registry`]: registrations, the tags they vouch for, the invitations a response rate
//!   counts.
//! - [`views`]: impressions and email clicks.
//! - [`identities`]: the identities a batch touches, locked in one order, then read.
//! - [`limits`]: the anonymous limits' counts, as a batch checks and adds to them.
//! - [`rows`]: how records become rows (identities, counter keys, event numbers) and the
//!   statements that write them.
//! - [`reads`]: counters, tag values, responses, comments, live-feed events.
//! - [`outbox`]: claiming due alert messages, and those set aside.
//! - [`audit`]: recounting every counter from the records.
//! - [`import`]: filling an empty database with another store's records (`collector migrate`).

mod audit;
mod errors;
mod identities;
mod import;
mod limits;
mod outbox;
mod reads;
mod records;
mod registry;
mod rows;
mod schema;
mod views;

use crate::domain::figures::Tally;
use crate::domain::registration::Registered;
use crate::domain::response::Response;
use crate::domain::survey::Surveys;
use crate::store::backend::{
    AlertMessage, Audit, Backend, BackupReport, CommentPage, CommentQuery, Dimension, DueAlerts,
    EventBatch, Grain, Outcome, RecordSink, StoreError, Write,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use errors::engine;
use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use import::Imported;
pub use outbox::CLAIM;
pub use rows::SHARDS;

/// Connections at most: the writer's one, and reads on the blocking pool beyond that wait for
/// one of the rest.
const CONNECTIONS: usize = 16;

/// How long a read or a batch waits for a connection (or a new one to open) before it fails:
/// the database is then unreachable, and the client is answered `503` with `Retry-After`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL store.
pub struct PostgresStore {
    /// `Some` until dropped: the runtime then shuts down in the background, which a runtime
    /// dropped on an async thread must.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// This process's mark on the alert messages its worker claims.
    instance: i64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

impl Drop for PostgresStore {
    /// Hands back this collector's claims on alert messages, so that another collector (or
    /// this one, restarted) delivers them at once rather than when the claims run out. On a
    /// thread of its own: a store may be dropped on an async thread, where nothing may block.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            let (pool, instance) = (&self.pool, self.instance);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    runtime.block_on(async {
                        let release = async {
                            let client = pool.get().await.map_err(pool_error)?;
                            outbox::release(&client, instance).await
                        };
                        if let Ok(Err(error)) = tokio::time::timeout(CONNECT_TIMEOUT, release).await
                        {
                            tracing::warn!(%error, "could not hand back this collector's alert messages");
                        }
                    });
                });
            });
            runtime.shutdown_background();
        }
    }
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => engine(error),
        other => StoreError::Engine(format!("cannot reach PostgreSQL: {other}")),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or
    /// libpq's `key=value` form) and brings its schema up to date. TLS follows `sslmode`
    /// (`disable`, `prefer` by default, `require`), checking the server's certificate against
    /// the system's trusted roots. Blocks: call it off the async runtime's threads.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| StoreError::Engine(format!("not a PostgreSQL URL: {error}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pulsetap-postgres")
            .enable_all()
            .build()
            .map_err(|error| StoreError::Engine(error.to_string()))?;
        let manager = Manager::from_config(
            config,
            tls()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(CONNECTIONS)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|error| StoreError::Engine(error.to_string()))?;
        let store = Self {
            runtime: Some(runtime),
            pool,
            instance: i64::from(rand::random::<u32>()) << 16
                | i64::from(std::process::id() & 0xffff),
        };
        store.run(async {
            let mut client = store.pool.get().await.map_err(pool_error)?;
            schema::migrate(&mut client).await
        })?;
        Ok(store)
    }

    /// Fills this database, which must hold no store yet, with the records `fill` hands its
    /// sink (another store's, for `collector migrate`), in one transaction: on any error
    /// nothing is written. Counters are rebuilt from the records.
    pub fn import(
        &self,
        fill: &mut dyn FnMut(&mut RecordSink<'_>) -> Result<(), StoreError>,
    ) -> Result<Imported, StoreError> {
        let mut client = self.run(self.client())?;
        let transaction = self.run(async { client.transaction().await.map_err(engine) })?;
        self.run(import::refuse_unless_empty(&transaction))?;
        let mut importer = import::Importer::default();
        fill(&mut |record| {
            if importer.add(record) {
                self.run(importer.write(&transaction))?;
            }
            Ok(())
        })?;
        self.run(importer.finish(&transaction))?;
        self.run(async { transaction.commit().await.map_err(engine) })?;
        Ok(importer.imported)
    }

    /// Runs `work` on the store's runtime and waits for it.
    fn run<T>(&self, work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.runtime
            .as_ref()
            .expect("the runtime lives until the store is dropped")
            .block_on(work)
    }

    /// A pooled connection, waiting `CONNECT_TIMEOUT` at most.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

/// rustls with the system's trusted roots (where an operations team puts its database's CA).
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| StoreError::Engine(error.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl Backend for PostgresStore {
    fn apply(&self, surveys: &Surveys, writes: &[Write]) -> Result<Vec<Outcome>, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            records::apply(&mut client, surveys, writes, self.instance).await
        })
    }

    /// `apply` committed: the COMMIT returned once the database had the batch on disk.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn tallies(
        &self,
        survey: &str,
        dimension: &Dimension<'_>,
        grain: Grain,
        from: u32,
        to: u32,
    ) -> Result<BTreeMap<u32, Tally>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            reads::tallies(&client, survey, dimension, grain, from, to).await
        })
    }

    fn tag_values(&self, survey: &str, tag: &str) -> Result<Vec<String>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            reads::tag_values(&client, survey, tag).await
        })
    }

    fn registration(
        &self,
        survey: &str,
        interaction: &str,
    ) -> Result<Option<Registered>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            reads::registration(&client, survey, interaction).await
        })
    }

    fn find(
        &self,
        survey: &str,
        interaction: Option<&str>,
        response_id: &str,
    ) -> Result<Option<Response>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            reads::find(&client, survey, &rows::identity(interaction, response_id)).await
        })
    }

    /// Each chunk is read on the store's runtime and visited off it: a visitor may block (an
    /// export waits for its client).
    fn each_response(
        &self,
        survey: &str,
        visit: &mut dyn FnMut(Response) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let mut client = self.run(self.client())?;
        let mut scan = self.run(reads::ResponseScan::start(&mut client, Some(survey)))?;
        loop {
            let chunk = self.run(scan.next_chunk())?;
            if chunk.is_empty() {
                return Ok(());
            }
            for response in chunk {
                if visit(response).is_break() {
                    return Ok(());
                }
            }
        }
    }

    fn events(
        &self,
        survey: &str,
        first: u64,
        until: u64,
        limit: usize,
    ) -> Result<EventBatch, StoreError> {
        self.run(async {
            let client = self.client().await?;
            reads::events(&client, survey, first, until, limit).await
        })
    }

    fn newest_event(&self) -> Result<Option<u64>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            reads::newest_event(&client).await
        })
    }

    fn comments(&self, query: &CommentQuery) -> Result<CommentPage, StoreError> {
        self.run(async {
            let client = self.client().await?;
            reads::comments(&client, query).await
        })
    }

    fn due_alerts(&self, now_ms: i64, limit: usize) -> Result<DueAlerts, StoreError> {
        self.run(async {
            let client = self.client().await?;
            outbox::claim_due(&client, self.instance, now_ms, limit).await
        })
    }

    fn undelivered_alerts(
        &self,
        survey: &str,
        limit: usize,
    ) -> Result<Vec<AlertMessage>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            outbox::undelivered(&client, survey, limit).await
        })
    }

    fn undelivered_count(&self) -> Result<u64, StoreError> {
        self.run(async {
            let client = self.client().await?;
            outbox::undelivered_count(&client).await
        })
    }

    fn backup(&self, _to: &Path, _progress: &mut dyn FnMut()) -> Result<BackupReport, StoreError> {
        Err(StoreError::Backup(
            "this collector stores in PostgreSQL: back the database up with its own tools (pg_dump, or the managed database's snapshots)".into(),
        ))
    }

    fn audit(&self) -> Result<Audit, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            audit::run(&mut client).await
        })
    }

    fn shared(&self) -> bool {
        true
    }
}

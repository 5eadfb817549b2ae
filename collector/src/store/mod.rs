//! Storage: responses, the aggregate counters kept beside them, the live-feed events and the
//! alert outbox, behind one interface.
//!
//! [`Store`] is what the rest of the collector uses. It keeps two rules for every backend:
//!
//! - **Every write goes through the writer** ([`writer`]): ratings, impressions, email clicks,
//!   registrations, outbox updates and backups queue there, are applied in batches (one
//!   transaction each) and are answered only once durable. Nothing else writes. The queue is
//!   bounded: a client's write that finds it full is refused at once.
//! - **Every read runs off the async runtime's threads** (on the blocking pool), so a read that
//!   waits on the disk or on the writer's lock never stalls the threads that serve connections.
//!
//! A [`Backend`] is a storage engine behind those rules; [`embedded`] is the fjall one, the
//! default, and [`postgres`] the one any number of collectors can share.
//!
//! # Layout
//!
//! - this file: [`Store`], what the rest of the collector holds.
//! - [`backend`]: the [`Backend`] trait a storage engine implements, and the types both speak.
//! - [`writer`]: the one writer thread, batching and flushing, and announcing what it wrote.
//! - [`embedded`]: the embedded fjall store, split by job (records, reads, events, outbox, audit,
//!   backup, carrying a sled store over).
//! - [`postgres`]: the PostgreSQL store, split the same way.
//! - [`counts`]: every count of one counter, as both engines keep it.

mod backend;
pub mod counts;
pub mod embedded;
pub mod postgres;
pub mod writer;

use crate::domain::figures::Tally;
use crate::domain::rating::{Rating, Subject};
use crate::domain::registration::{Registered, Registration};
use crate::domain::response::Response;
use crate::domain::survey::{SurveyId, Surveys};
use crate::domain::{Day, Lang, Score};
use pulsetap_wire::Tags;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};
use writer::{FlushObserver, Writer, WriterStatus};

pub use backend::{
    AlertId, AlertMessage, Audit, Backend, BackupReport, CommentPage, CommentQuery, Dimension,
    DueAlerts, EventBatch, Grain, Notice, NoticeKind, OutboxChange, OutboxKey, Outcome, Record,
    RecordError, RecordSink, Recorded, RegisterReport, StoreError, Write,
};
pub use embedded::EmbeddedStore;
pub use postgres::PostgresStore;

/// Where the responses are kept: `--store`, `PULSETAP_STORE` or `store = "…"` in the
/// configuration when one is given, else the embedded store in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The embedded store in this data directory (created when missing).
    Embedded(PathBuf),
    /// A PostgreSQL database, by its URL.
    Postgres(String),
}

impl Location {
    /// A `--store` value: a `postgres://` or `postgresql://` URL. Anything else is refused
    /// with what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let scheme = text.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("postgres" | "postgresql") => Ok(Self::Postgres(text.to_owned())),
            _ => Err(
                "a store is a PostgreSQL URL, postgres://user:password@host:5432/database; without one the collector keeps its embedded store in --data".to_owned(),
            ),
        }
    }

    /// Where it is, without a password, for logs.
    pub fn shown(&self) -> String {
        match self {
            Self::Embedded(path) => path.display().to_string(),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "postgres://…".to_owned(),
            },
        }
    }

    /// Opens (or connects to) the store, on a blocking thread: opening reads the disk or waits
    /// on the network.
    pub async fn open(&self) -> Result<Arc<dyn Backend>, StoreError> {
        let location = self.clone();
        tokio::task::spawn_blocking(move || -> Result<Arc<dyn Backend>, StoreError> {
            Ok(match &location {
                Self::Embedded(path) => Arc::new(EmbeddedStore::open(path)?),
                Self::Postgres(url) => Arc::new(PostgresStore::connect(url)?),
            })
        })
        .await
        .map_err(|join| StoreError::Engine(join.to_string()))?
    }
}

/// The store as the collector uses it: cheap to clone, every method async and safe to call from
/// a request handler.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Arc<dyn Backend>,
    writer: Writer,
}

impl Store {
    /// Starts the writer over `backend`; `observe` hears every flush. The writer's thread ends
    /// when the last clone of this store is dropped, after answering everything queued.
    pub fn start(backend: Arc<dyn Backend>, surveys: Arc<Surveys>, observe: FlushObserver) -> Self {
        let writer = Writer::start(backend.clone(), surveys, observe);
        Self { backend, writer }
    }

    /// The engine underneath, for tools that drive it directly (tests of one transaction).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Live-feed sequence numbers, each announced once its write is durable.
    pub fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.writer.subscribe()
    }

    /// Notified whenever a durable rating has queued an alert.
    pub fn alerts_queued(&self) -> Arc<Notify> {
        self.writer.alerts_queued()
    }

    /// Records a rating; resolves once it is durable. `allowance_left`: whether the sender may
    /// still add a new unsigned response today (see `Write::Rating`).
    pub async fn record(
        &self,
        survey: SurveyId,
        rating: Rating,
        now: OffsetDateTime,
        allowance_left: bool,
    ) -> Result<Recorded, RecordError> {
        match self
            .writer
            .write(Write::Rating {
                survey,
                rating,
                now,
                allowance_left,
            })
            .await?
        {
            Outcome::Rating(result) => result.map(|recorded| *recorded),
            other => unreachable!("a rating answered {other:?}"),
        }
    }

    /// Counts an impression once per response_id; resolves once durable, with whether it was
    /// new. A repeat waits for the first one's flush too, so its `204` is never early.
    pub async fn record_impression(
        &self,
        survey: SurveyId,
        subject: Subject,
        now: OffsetDateTime,
    ) -> Result<bool, RecordError> {
        match self
            .writer
            .write(Write::Impression {
                survey,
                subject,
                now,
            })
            .await?
        {
            Outcome::Impression(result) => result,
            other => unreachable!("an impression answered {other:?}"),
        }
    }

    /// Counts one opened email link that no page has confirmed.
    pub async fn record_click(
        &self,
        survey: SurveyId,
        score: Score,
        tags: Tags,
        lang: Option<Lang>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.writer
            .write(Write::Click {
                survey,
                score,
                tags,
                lang,
                now,
            })
            .await
            .map(drop)
    }

    /// Registers interactions (one chunk: see `Write::Register`); resolves once durable.
    pub async fn register(
        &self,
        survey: SurveyId,
        registrations: Vec<Registration>,
        now: OffsetDateTime,
    ) -> Result<RegisterReport, StoreError> {
        match self
            .writer
            .write(Write::Register {
                survey,
                registrations,
                now,
            })
            .await?
        {
            Outcome::Registered(result) => result,
            other => unreachable!("a registration answered {other:?}"),
        }
    }

    /// The registration of an interaction, if any (expired ones included).
    pub async fn registration(
        &self,
        survey: &SurveyId,
        interaction: &str,
    ) -> Result<Option<Registered>, StoreError> {
        let (survey, interaction) = (survey.to_string(), interaction.to_owned());
        self.read(move |backend| backend.registration(&survey, &interaction))
            .await
    }

    /// Changes the alert outbox (the alert worker's bookkeeping); waits for room in the queue.
    pub async fn change_outbox(&self, change: OutboxChange) -> Result<(), StoreError> {
        self.writer
            .write_waiting(Write::Outbox(Box::new(change)))
            .await
            .map(drop)
    }

    /// Resolves once everything written before the call is durable.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.writer.write_waiting(Write::Barrier).await.map(drop)
    }

    /// Writes a consistent copy of the whole store to `to` (an absolute path that does not
    /// exist yet), holding every write acknowledged before the call. The writer pauses for the
    /// copy; reads carry on.
    pub async fn backup(&self, to: PathBuf) -> Result<BackupReport, StoreError> {
        match self.writer.write_waiting(Write::Backup { to }).await? {
            Outcome::Backup(report) => Ok(report),
            other => unreachable!("a backup answered {other:?}"),
        }
    }

    /// How the writer is doing: queue, last progress, last flush.
    pub fn writer_status(&self) -> WriterStatus {
        self.writer.status()
    }

    /// Test builds only: holds the writer, before it writes its next batch, until the guard is
    /// dropped.
    #[cfg(feature = "fault-injection")]
    pub async fn pause_writer(&self) -> writer::faults::Paused {
        self.writer.pause().await
    }

    pub async fn tallies(
        &self,
        survey: &SurveyId,
        dimension: &Dimension<'_>,
        grain: Grain,
        from: u32,
        to: u32,
    ) -> Result<BTreeMap<u32, Tally>, StoreError> {
        let (survey, dimension) = (survey.to_string(), OwnedDimension::from(dimension));
        self.read(move |backend| backend.tallies(&survey, &dimension.borrow(), grain, from, to))
            .await
    }

    /// The sum of the day counters of one dimension over `from..=to`.
    pub async fn total(
        &self,
        survey: &SurveyId,
        dimension: &Dimension<'_>,
        from: Day,
        to: Day,
    ) -> Result<Tally, StoreError> {
        let tallies = self
            .tallies(survey, dimension, Grain::Day, from.0, to.0)
            .await?;
        let mut total = Tally::default();
        for tally in tallies.values() {
            total.add(tally);
        }
        Ok(total)
    }

    /// The sums of the day counters over `from..=to` for every value of `tag`, read in one
    /// blocking task.
    pub async fn totals_by(
        &self,
        survey: &SurveyId,
        tag: &str,
        from: Day,
        to: Day,
    ) -> Result<Vec<(String, Tally)>, StoreError> {
        let (survey, tag) = (survey.to_string(), tag.to_owned());
        self.read(move |backend| {
            let mut groups = Vec::new();
            for value in backend.tag_values(&survey, &tag)? {
                let mut total = Tally::default();
                let dimension = Dimension::Tag(&tag, &value);
                for tally in backend
                    .tallies(&survey, &dimension, Grain::Day, from.0, to.0)?
                    .values()
                {
                    total.add(tally);
                }
                groups.push((value, total));
            }
            Ok(groups)
        })
        .await
    }

    /// The response stored under an identity, if any.
    pub async fn find(
        &self,
        survey: &SurveyId,
        interaction: Option<&str>,
        response_id: &str,
    ) -> Result<Option<Response>, StoreError> {
        let (survey, interaction, response_id) = (
            survey.to_string(),
            interaction.map(str::to_owned),
            response_id.to_owned(),
        );
        self.read(move |backend| backend.find(&survey, interaction.as_deref(), &response_id))
            .await
    }

    /// Calls `visit` with `state` and every response of `survey`, on a blocking thread, until it
    /// breaks; gives `state` back.
    pub async fn each_response<T: Send + 'static>(
        &self,
        survey: &SurveyId,
        mut state: T,
        mut visit: impl FnMut(&mut T, Response) -> ControlFlow<()> + Send + 'static,
    ) -> Result<T, StoreError> {
        let survey = survey.to_string();
        self.read(move |backend| {
            backend.each_response(&survey, &mut |response| visit(&mut state, response))?;
            Ok(state)
        })
        .await
    }

    pub async fn events(
        &self,
        survey: &SurveyId,
        first: u64,
        until: u64,
        limit: usize,
    ) -> Result<EventBatch, StoreError> {
        let survey = survey.to_string();
        self.read(move |backend| backend.events(&survey, first, until, limit))
            .await
    }

    pub async fn newest_event(&self) -> Result<Option<u64>, StoreError> {
        self.read(|backend| backend.newest_event()).await
    }

    pub async fn comments(&self, query: CommentQuery) -> Result<CommentPage, StoreError> {
        self.read(move |backend| backend.comments(&query)).await
    }

    pub async fn due_alerts(&self, now_ms: i64, limit: usize) -> Result<DueAlerts, StoreError> {
        self.read(move |backend| backend.due_alerts(now_ms, limit))
            .await
    }

    /// Up to `limit` of a survey's alert messages set aside as undelivered, newest first.
    pub async fn undelivered_alerts(
        &self,
        survey: &SurveyId,
        limit: usize,
    ) -> Result<Vec<AlertMessage>, StoreError> {
        let survey = survey.to_string();
        self.read(move |backend| backend.undelivered_alerts(&survey, limit))
            .await
    }

    pub async fn undelivered_count(&self) -> Result<u64, StoreError> {
        self.read(|backend| backend.undelivered_count()).await
    }

    pub async fn audit(&self) -> Result<Audit, StoreError> {
        self.read(|backend| backend.audit()).await
    }

    /// Runs a read on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&dyn Backend) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || read(backend.as_ref()))
            .await
            .map_err(|join| StoreError::Engine(join.to_string()))?
    }
}

/// A `Dimension` that owns its strings, to cross into a blocking task.
#[derive(Debug, Clone)]
enum OwnedDimension {
    All,
    Tag(String, String),
}

impl From<&Dimension<'_>> for OwnedDimension {
    fn from(dimension: &Dimension<'_>) -> Self {
        match dimension {
            Dimension::All => Self::All,
            Dimension::Tag(key, value) => Self::Tag((*key).to_owned(), (*value).to_owned()),
        }
    }
}

impl OwnedDimension {
    fn borrow(&self) -> Dimension<'_> {
        match self {
            Self::All => Dimension::All,
            Self::Tag(key, value) => Dimension::Tag(key, value),
        }
    }
}

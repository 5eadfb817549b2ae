//! The interface between the collector and a storage engine: the [`Backend`] trait and the
//! types both sides speak. Everything here is engine-neutral.

use crate::domain::figures::Tally;
use crate::domain::rating::{Rating, Subject};
use crate::domain::response::{Refusal, Response};
use crate::domain::survey::{SurveyId, Surveys};
use crate::domain::{Day, Lang, Score};
use pulsetap_wire::{Tags, WriteStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use time::OffsetDateTime;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Engine(String),
    /// Another process (a running collector) holds the store.
    #[error("the store is in use by another process (a running collector)")]
    InUse,
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("the write could not be made durable: {0}")]
    Flush(String),
    #[error("the writer has stopped")]
    Stopped,
}

/// Why a rating was not recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// How finely a counter buckets time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Day,
    Hour,
}

/// A group of responses the counters are kept for: every response of a survey, or those
/// carrying one tag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension<'a> {
    All,
    Tag(&'a str, &'a str),
}

/// What a recorded rating did.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub status: WriteStatus,
    pub response: Response,
    /// The live-feed sequence number, when the response is new or changed.
    pub event: Option<u64>,
    /// An alert for this rating waits in the outbox.
    pub alert_queued: bool,
}

/// One write, as the writer queues it.
#[derive(Debug, Clone)]
pub enum Write {
    /// A rating from any channel: creates, updates or leaves its response (see
    /// `domain::response::answer`), with every counter it moves, its live-feed event and, when
    /// unhappy, its alert.
    Rating {
        survey: SurveyId,
        rating: Rating,
        now: OffsetDateTime,
    },
    /// A widget was shown; counted once per response_id.
    Impression {
        survey: SurveyId,
        subject: Subject,
        now: OffsetDateTime,
    },
    /// An email link was opened and no page has confirmed it (yet).
    Click {
        survey: SurveyId,
        score: Score,
        tags: Tags,
        /// The language of the link.
        lang: Option<Lang>,
        now: OffsetDateTime,
    },
    /// The webhook acknowledged this alert: it leaves the outbox.
    AlertSent(AlertId),
    /// The webhook did not acknowledge it: kept, with its next attempt.
    AlertFailed(PendingAlert),
    /// Writes nothing; answered once everything queued before it is durable.
    Barrier,
}

/// What one write did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Boxed: a response is large, and most outcomes of a batch are not ratings.
    Rating(Result<Box<Recorded>, RecordError>),
    /// Whether the impression was new (a repeat of a response_id counts nothing).
    Impression(bool),
    Done,
}

/// An alert's place in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertId(pub u64);

/// An alert waiting in the outbox to be posted to its survey's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAlert {
    pub id: AlertId,
    pub webhook: String,
    /// Sent as `Idempotency-Key`: the same for every retry of this alert.
    pub idempotency_key: String,
    /// The response as it was when it alerted.
    pub response: Response,
    pub attempts: u32,
    pub next_attempt_ms: i64,
}

/// Alerts due now, and when the next of the others falls due.
#[derive(Debug, Clone, Default)]
pub struct DueAlerts {
    pub due: Vec<PendingAlert>,
    pub next_due_ms: Option<i64>,
    /// Entries that no longer decode: nothing can deliver them.
    pub unreadable: Vec<AlertId>,
}

/// One page of comments, newest change first.
#[derive(Debug, Clone, Default)]
pub struct CommentPage {
    pub comments: Vec<Response>,
    /// Where the next (older) page starts, when there may be one.
    pub next_before: Option<u64>,
}

/// Which comments a page holds.
#[derive(Debug, Clone)]
pub struct CommentQuery {
    pub survey: SurveyId,
    /// Responses created on these days (inclusive).
    pub from: Day,
    pub to: Day,
    /// Only responses carrying this tag value.
    pub tag: Option<(String, String)>,
    pub limit: usize,
    /// Only changes older than this position (a previous page's `next_before`).
    pub before: Option<u64>,
}

/// A batch of live-feed events: those found, and the last position looked at.
#[derive(Debug, Clone, Default)]
pub struct EventBatch {
    pub events: Vec<(u64, Response)>,
    pub last_seen: Option<u64>,
}

/// What `Store::audit` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    pub responses: u64,
    pub impressions: u64,
    pub counters_checked: u64,
    /// Counters whose stored counts differ from a recount: `(counter, stored, recounted)`, both
    /// without unconfirmed clicks, which no record backs.
    pub mismatches: Vec<(String, Tally, Tally)>,
}

/// A storage engine. Every method may block: [`Store`] calls them from the writer thread
/// (`apply`, `flush`) or the blocking pool (the rest), never from the async runtime.
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// Applies `writes` in order, in one transaction: each rating is refused on its own without
    /// stopping the others; a storage error fails the whole batch. Not yet durable: see `flush`.
    fn apply(&self, surveys: &Surveys, writes: &[Write]) -> Result<Vec<Outcome>, StoreError>;
    /// Makes everything applied so far durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// Counters of one dimension for buckets `from..=to`, keyed by bucket. Its cost follows the
    /// number of buckets, never the number of responses.
    fn tallies(
        &self,
        survey: &str,
        dimension: &Dimension<'_>,
        grain: Grain,
        from: u32,
        to: u32,
    ) -> Result<BTreeMap<u32, Tally>, StoreError>;
    /// Every value ever seen for one tag of a survey, sorted.
    fn tag_values(&self, survey: &str, tag: &str) -> Result<Vec<String>, StoreError>;
    /// The response stored under an identity, if any.
    fn find(
        &self,
        survey: &str,
        interaction: Option<&str>,
        response_id: &str,
    ) -> Result<Option<Response>, StoreError>;
    /// Calls `visit` with every response of a survey until it breaks.
    fn each_response(
        &self,
        survey: &str,
        visit: &mut dyn FnMut(Response) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;
    /// Up to `limit` live-feed events of `survey` in `first..=until`.
    fn events(
        &self,
        survey: &str,
        first: u64,
        until: u64,
        limit: usize,
    ) -> Result<EventBatch, StoreError>;
    /// The newest live-feed event of any survey.
    fn newest_event(&self) -> Result<Option<u64>, StoreError>;
    fn comments(&self, query: &CommentQuery) -> Result<CommentPage, StoreError>;
    /// Up to `limit` alerts due at `now_ms`.
    fn due_alerts(&self, now_ms: i64, limit: usize) -> Result<DueAlerts, StoreError>;
    /// Recounts every counter from the stored records and compares.
    fn audit(&self) -> Result<Audit, StoreError>;
}

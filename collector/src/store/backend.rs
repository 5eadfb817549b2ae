//! The interface between the collector and a storage engine: the [`Backend`] trait and the
//! types both sides speak. Everything here is engine-neutral.

use crate::domain::figures::Tally;
use crate::domain::rating::{Rating, Subject};
use crate::domain::registration::{Registered, Registration};
use crate::domain::response::{Refusal, Response};
use crate::domain::survey::{Survey, SurveyId, Surveys};
use crate::domain::{Day, Lang, Score};
use pulsetap_wire::{Tags, WriteStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
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
    /// The write may have been applied: the batch holding it was committed, but not flushed.
    #[error("the write could not be made durable: {0}")]
    Flush(String),
    #[error("the writer has stopped")]
    Stopped,
    /// The writer's queue is full: the write was not queued, so nothing of it is stored.
    #[error("the writer's queue is full ({0} writes waiting)")]
    Overloaded(usize),
    /// The write was queued but not answered in time: it may still be stored.
    #[error("the writer did not answer within {0:?}; the write is still queued")]
    Unanswered(std::time::Duration),
    /// A backup could not be written (the store itself is unchanged).
    #[error("{0}")]
    Backup(String),
    /// The engine takes no more writes until the store is opened again (fjall after a failed
    /// background write: a full disk, no file descriptor left). The write may have been
    /// applied, as with `Flush`; the writer exits the process so that its supervisor reopens it.
    #[error("the storage engine takes no more writes until the store is reopened: {0}")]
    Broken(String),
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
    /// An alert (or a comment following one up) for this rating waits in the outbox.
    pub alert_queued: bool,
    /// A new response nobody vouched for: it counted against the survey's daily ceiling.
    pub counted_unverified: bool,
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
        /// Whether the sender may still add a new unsigned response today (the service holds
        /// one of its visitor's daily allowance). Whether the rating is new is known only here,
        /// where its identity is read anyway: without the allowance, a new unsigned response is
        /// refused and anything else goes ahead.
        allowance_left: bool,
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
    /// Interactions a helpdesk registered, with the tags their ratings will carry: each counts
    /// one invitation; registering one again with other tags moves its invitation and its
    /// response (if answered) to the new tags. At most a few hundred per write, so a large
    /// request goes in chunks and never holds the writer for long.
    Register {
        survey: SurveyId,
        registrations: Vec<Registration>,
        now: OffsetDateTime,
    },
    /// Alert messages leave the outbox, are merged, rescheduled or set aside (see
    /// [`OutboxChange`]).
    Outbox(Box<OutboxChange>),
    /// Writes nothing; answered once everything queued before it is durable.
    Barrier,
    /// Copies the whole store into a new one at `to`, between two batches, so the copy holds
    /// exactly what was acknowledged before it.
    Backup { to: PathBuf },
}

/// What one write did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Boxed: a response is large, and most outcomes of a batch are not ratings.
    Rating(Result<Box<Recorded>, RecordError>),
    /// Whether the impression was new (a repeat of a response_id counts nothing), or why it
    /// was refused.
    Impression(Result<bool, RecordError>),
    Registered(Result<RegisterReport, StoreError>),
    Backup(BackupReport),
    Done,
}

/// What registering a chunk of interactions did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterReport {
    pub created: u64,
    /// Registered before with other tags or another expiry.
    pub updated: u64,
    /// The same registration again.
    pub unchanged: u64,
    /// Live-feed events of responses whose tags moved to a registration's.
    pub events: Vec<u64>,
}

/// What a backup copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    /// The directory the copy was written to.
    pub to: PathBuf,
    pub responses: u64,
    /// Records of every kind (responses, counters, events, the outbox…).
    pub records: u64,
    /// How long the writer was paused for the copy, in milliseconds.
    pub paused_ms: u64,
}

/// An alert message's id: the live-feed event of its first notice, so unique for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertId(pub u64);

/// Where a message waits in the outbox: the outbox is kept in due order, so finding what is
/// due reads only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutboxKey {
    pub due_ms: i64,
    pub id: AlertId,
}

/// What a notice tells a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// An unhappy rating.
    Alert,
    /// A comment added to a rating that alerted.
    Update,
}

/// One thing to tell a webhook about one response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The live-feed event that queued it.
    pub id: AlertId,
    pub kind: NoticeKind,
    /// The response as it was then.
    pub response: Response,
}

/// A message for one survey's webhook: one notice, or several posted together.
///
/// A message is *open* until the alert worker seals it, just before its first post: open
/// messages of one survey may be merged into one, while a sealed message keeps its notices and
/// its `Idempotency-Key` for every retry, so a receiver that saw the key has seen the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertMessage {
    /// Its first notice's id.
    pub id: AlertId,
    pub survey: String,
    /// The webhook when it was queued; the configured one wins when there is one.
    pub webhook: String,
    /// Sent as `Idempotency-Key`: `<survey>-<id>`, the same for every retry.
    pub idempotency_key: String,
    /// Oldest first.
    pub notices: Vec<Notice>,
    pub sealed: bool,
    /// When its oldest notice was queued.
    pub created_ms: i64,
    /// When it is (next) due to be posted.
    pub due_ms: i64,
    pub attempts: u32,
    /// When a post of it first failed: the age the give-up rule counts.
    pub first_failed_ms: Option<i64>,
    pub last_error: Option<String>,
    /// When it was set aside as undelivered.
    pub gave_up_ms: Option<i64>,
}

impl AlertMessage {
    /// The message a change of `response` (live-feed event `event`) sends the survey's webhook,
    /// if it has one: an alert when the answer is unhappy (`alerts`), an update when a comment
    /// follows an alert already sent (`follows_up`), else none.
    pub fn for_change(
        survey: &Survey,
        alerts: bool,
        follows_up: bool,
        event: u64,
        response: &Response,
        now_ms: i64,
    ) -> Option<Self> {
        let kind = match (alerts, follows_up) {
            (true, _) => NoticeKind::Alert,
            (false, true) => NoticeKind::Update,
            (false, false) => return None,
        };
        let notice = Notice {
            id: AlertId(event),
            kind,
            response: response.clone(),
        };
        let webhook = survey.alert.as_ref()?.webhook.clone();
        Some(Self::new(notice, webhook, now_ms))
    }

    /// An open message holding one notice, due at once.
    pub fn new(notice: Notice, webhook: String, now_ms: i64) -> Self {
        let survey = notice.response.survey.clone();
        Self {
            id: notice.id,
            idempotency_key: format!("{survey}-{}", notice.id.0),
            survey,
            webhook,
            notices: vec![notice],
            sealed: false,
            created_ms: now_ms,
            due_ms: now_ms,
            attempts: 0,
            first_failed_ms: None,
            last_error: None,
            gave_up_ms: None,
        }
    }

    pub fn key(&self) -> OutboxKey {
        OutboxKey {
            due_ms: self.due_ms,
            id: self.id,
        }
    }
}

/// One change to the outbox, applied atomically.
#[derive(Debug, Clone, Default)]
pub struct OutboxChange {
    /// Messages leaving the queue: delivered, merged into `queue`, or rescheduled as `queue`.
    pub remove: Vec<OutboxKey>,
    /// A message (re)entering the queue, at its `due_ms`.
    pub queue: Option<AlertMessage>,
    /// A message given up on: kept aside, listed as undelivered.
    pub set_aside: Option<AlertMessage>,
}

/// Alert messages due now, and when the next of the others falls due.
#[derive(Debug, Clone, Default)]
pub struct DueAlerts {
    /// In due order.
    pub due: Vec<AlertMessage>,
    pub next_due_ms: Option<i64>,
    /// Entries that no longer decode: nothing can deliver them.
    pub unreadable: Vec<OutboxKey>,
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

/// One record of a store, as `collector migrate` carries it from one engine to another.
/// Counters are not records: the importing engine rebuilds them from the responses and
/// impressions, except the unconfirmed clicks, which no record backs.
#[derive(Debug, Clone)]
pub enum Record {
    /// A response with its history (its identity follows from it).
    Response(Response),
    /// A live-feed event: its sequence number and the identity of its response.
    Event {
        sequence: u64,
        survey: String,
        interaction: Option<String>,
        response_id: String,
    },
    Impression {
        survey: String,
        response_id: String,
        at_ms: i64,
        tags: Tags,
        /// The language it was shown in.
        lang: Option<String>,
        /// A response with its response_id answered it.
        answered: bool,
        /// Shown for a registered interaction: kept so it counts once, counted as nothing.
        uncounted: bool,
    },
    /// An interaction a helpdesk registered.
    Registration {
        survey: String,
        interaction: String,
        registered: Registered,
    },
    TagValue {
        survey: String,
        tag: String,
        value: String,
    },
    /// New unverified responses of a survey on a day, as the anonymous limits counted them.
    UnverifiedCount {
        survey: String,
        day: u32,
        count: u64,
    },
    /// An alert message waiting for its webhook.
    Alert(AlertMessage),
    /// An alert message set aside as undelivered.
    Undelivered(AlertMessage),
    /// The unconfirmed email clicks of one counter.
    Clicks {
        survey: String,
        /// `None` for the whole survey, else (tag, value).
        tag: Option<(String, String)>,
        grain: Grain,
        bucket: u32,
        count: u64,
    },
}

/// Where an engine's `export` hands its records, one at a time; an error stops the export.
pub type RecordSink<'a> = dyn FnMut(Record) -> Result<(), StoreError> + 'a;

/// A storage engine. Every method may block: [`Store`] calls them from the writer thread
/// (`apply`, `flush`, `backup`) or the blocking pool (the rest), never from the async runtime.
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
    /// The registration of an interaction, if any (expired ones included).
    fn registration(
        &self,
        survey: &str,
        interaction: &str,
    ) -> Result<Option<Registered>, StoreError>;
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
    /// Up to `limit` alert messages due at `now_ms`, in due order. Its cost follows the number
    /// due, never the size of the outbox.
    fn due_alerts(&self, now_ms: i64, limit: usize) -> Result<DueAlerts, StoreError>;
    /// Up to `limit` of a survey's alert messages set aside as undelivered, newest first.
    fn undelivered_alerts(
        &self,
        survey: &str,
        limit: usize,
    ) -> Result<Vec<AlertMessage>, StoreError>;
    /// How many alert messages are set aside, over every survey.
    fn undelivered_count(&self) -> Result<u64, StoreError>;
    /// Copies every record into a new store at `to` (which must not exist yet), calling
    /// `progress` now and then. Only the writer calls it, between batches, so nothing changes
    /// during the copy.
    fn backup(&self, to: &Path, progress: &mut dyn FnMut()) -> Result<BackupReport, StoreError>;
    /// Recounts every counter from the stored records and compares.
    fn audit(&self) -> Result<Audit, StoreError>;
    /// Whether other processes write to the same store (collectors sharing one database): then
    /// this collector's live feed must also look for events it did not write.
    fn shared(&self) -> bool {
        false
    }
}

//! The sled store: responses, and the aggregate counters kept current beside them.
//!
//! Trees:
//! - `responses`: identity → the response with its history (JSON).
//! - `counters`: (survey, dimension, grain, bucket) → every count of that bucket (`counts`).
//!   Reads touch only these.
//! - `tag_values`: every tag value seen, so a breakdown knows its groups without a scan.
//! - `impressions`: (survey, response_id) → when and with which tags a widget was shown.
//! - `events`: a sequence number per new or changed response, for the live feed.
//! - `outbox`: alert deliveries waiting to be sent.
//!
//! A response and every counter it moves are written in one sled transaction, so no crash can
//! leave the aggregates disagreeing with the responses. Ratings arrive through `writer`, which
//! batches them into one transaction and one flush; impressions and clicks use `GroupCommit`.

pub mod counts;
pub mod group_commit;
pub mod keys;
pub mod writer;

use crate::domain::calendar::{from_unix_ms, rfc3339, unix_ms};
use crate::domain::figures::Tally;
use crate::domain::rating::Subject;
use crate::domain::{Day, Hour, Rating, Survey};
use counts::{Counts, Delta, Metric};
use keys::{Dimension, Grain};
use pulsetap_wire::{ResponseRecord, ScoreChange, WriteStatus};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::path::Path;
use time::OffsetDateTime;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("the write could not be made durable: {0}")]
    Flush(String),
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        Self::Sled(error.to_string())
    }
}

/// Why a well-formed rating can't be applied to what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another response_id, without a signature, for an interaction already answered.
    AlreadyAnswered,
    /// The answer would change after the survey's edit window.
    EditWindowClosed,
    /// Signed tags may only change with a new valid signature.
    SignedTagsChanged,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// One response as stored, with everything exports need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub survey: String,
    pub response_id: String,
    pub interaction: Option<String>,
    pub score: u8,
    pub tags: BTreeMap<String, String>,
    pub comment: Option<String>,
    /// A valid signature vouched for the interaction and tags.
    pub signed: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Every score held, with when: `(score, unix ms)`, oldest first.
    pub history: Vec<(u8, i64)>,
}

impl StoredResponse {
    /// Whether `other` says anything different (times and history aside).
    fn same_answer(&self, other: &Self) -> bool {
        self.score == other.score
            && self.tags == other.tags
            && self.comment == other.comment
            && self.signed == other.signed
    }

    /// Every counter key whose count of this response's score it adds one to.
    fn counter_keys(&self) -> Vec<Vec<u8>> {
        counter_keys_for(&self.survey, &self.tags, from_unix_ms(self.created_ms))
    }

    pub fn to_record(&self) -> ResponseRecord {
        ResponseRecord {
            survey: self.survey.clone(),
            response_id: self.response_id.clone(),
            interaction: self.interaction.clone(),
            score: self.score,
            tags: self.tags.clone(),
            comment: self.comment.clone(),
            created_at: rfc3339(from_unix_ms(self.created_ms)),
            updated_at: rfc3339(from_unix_ms(self.updated_ms)),
            history: self
                .history
                .iter()
                .map(|&(score, at)| ScoreChange {
                    score,
                    at: rfc3339(from_unix_ms(at)),
                })
                .collect(),
        }
    }
}

/// The day and hour counters of every dimension a tagged event falls in.
fn counter_keys_for(
    survey: &str,
    tags: &BTreeMap<String, String>,
    at: OffsetDateTime,
) -> Vec<Vec<u8>> {
    let (day, hour) = (Day::of(at).0, Hour::of(at).0);
    let dimensions =
        std::iter::once(Dimension::All).chain(tags.iter().map(|(k, v)| Dimension::Tag(k, v)));
    dimensions
        .flat_map(|dimension| {
            [
                keys::counter(survey, &dimension, Grain::Day, day),
                keys::counter(survey, &dimension, Grain::Hour, hour),
            ]
        })
        .collect()
}

/// What a recorded rating did.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub status: WriteStatus,
    pub response: StoredResponse,
    /// The live-feed sequence number, when the response is new or changed.
    pub event: Option<u64>,
    /// An alert for this rating waits in the outbox.
    pub alert_queued: bool,
}

/// An alert waiting in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertJob {
    pub webhook: String,
    /// Sent as `Idempotency-Key`: the same for every retry of this alert.
    pub idempotency_key: String,
    pub record: ResponseRecord,
    pub attempts: u32,
    pub next_attempt_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredImpression {
    at_ms: i64,
    tags: BTreeMap<String, String>,
}

/// What `Store::audit` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    pub responses: u64,
    pub impressions: u64,
    pub counters_checked: u64,
    /// Counters whose stored counts differ from a recount: `(key, stored, recounted)`, both
    /// without unconfirmed clicks, which no record backs.
    pub mismatches: Vec<(Vec<u8>, Tally, Tally)>,
}

#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    responses: sled::Tree,
    counters: sled::Tree,
    tag_values: sled::Tree,
    impressions: sled::Tree,
    events: sled::Tree,
    outbox: sled::Tree,
}

/// Key in the default tree saying how the `counters` tree is laid out; see `upgrade_counters`.
const COUNTERS_FORMAT: &[u8] = b"counters-format";
const COUNTERS_FORMAT_BUCKETS: &[u8] = b"buckets";

/// No transaction here aborts on purpose: a refusal is one rating's answer, not a reason to
/// undo the others, so only storage errors end one early.
type Tx = ConflictableTransactionError<Infallible>;

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // sled's default page cache is 1 GiB; with 32 MiB the collector holds 125-156 MB
        // resident at a million responses (178 MB with 64 MiB; BENCHMARKS.md) while the hot
        // counters, the only thing reads touch, still stay cached.
        //
        // sled 0.34 can deadlock when a writer needs a new log segment while a file truncation
        // (queued when GC frees the last segment) waits behind IO threads that need the
        // segment accountant the writer holds. High-throughput mode collects garbage lazily and
        // 4 MiB segments turn over 8x less often than the 512 KiB default, so truncations, and
        // that window, become rare; `benches/aggregate_reads.rs` writes millions of ratings
        // back to back to keep this honest.
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(32 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .segment_size(4 * 1024 * 1024)
            .open()?;
        let store = Self {
            responses: db.open_tree("responses")?,
            counters: db.open_tree("counters")?,
            tag_values: db.open_tree("tag_values")?,
            impressions: db.open_tree("impressions")?,
            events: db.open_tree("events")?,
            outbox: db.open_tree("outbox")?,
            db,
        };
        store.upgrade_counters()?;
        Ok(store)
    }

    /// Stores written before one counter value held every count of a bucket kept a u64 per
    /// (bucket, metric, score). Folds those into today's values, once: the store records that it
    /// is done, so later opens cost one read. The fold is one atomic batch, so a crash leaves
    /// either the old counters or the new ones, and running it again finds nothing left to fold.
    fn upgrade_counters(&self) -> Result<(), StoreError> {
        if self.db.get(COUNTERS_FORMAT)?.as_deref() == Some(COUNTERS_FORMAT_BUCKETS) {
            return Ok(());
        }
        let mut folded: BTreeMap<Vec<u8>, Delta> = BTreeMap::new();
        let mut upgrade = sled::Batch::default();
        for entry in self.counters.iter() {
            let (key, value) = entry?;
            if value.len() != 8 {
                continue;
            }
            let Some((bucket_key, metric, score)) = keys::legacy_counter(&key) else {
                continue;
            };
            let count = u64::from_be_bytes(value.as_ref().try_into().expect("8 bytes"));
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            folded
                .entry(bucket_key.to_vec())
                .or_default()
                .add(metric, score, count);
            upgrade.remove(key);
        }
        for (key, delta) in folded {
            let current = self
                .counters
                .get(&key)?
                .map_or_else(Counts::default, |value| Counts::decode(&value));
            upgrade.insert(key, delta.applied_to(current).encode());
        }
        self.counters.apply_batch(upgrade)?;
        self.db.insert(COUNTERS_FORMAT, COUNTERS_FORMAT_BUCKETS)?;
        self.db.flush()?;
        Ok(())
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    pub fn outbox(&self) -> &sled::Tree {
        &self.outbox
    }

    pub fn events(&self) -> &sled::Tree {
        &self.events
    }

    /// Records one rating: see `record_all`.
    pub fn record(
        &self,
        survey: &Survey,
        rating: &Rating,
        now: OffsetDateTime,
    ) -> Result<Recorded, RecordError> {
        self.record_all(&[Write {
            survey,
            rating,
            now,
        }])
        .pop()
        .expect("one result per write")
    }

    /// Records ratings in order, in one transaction: each creates its response, updates it, or
    /// leaves it unchanged, and is refused on its own without stopping the others. Every
    /// counter they move is summed first and written once, so a batch of ratings on the same
    /// day costs a handful of counter writes, not a dozen per rating. Not yet durable: see
    /// `GroupCommit`.
    pub fn record_all(&self, writes: &[Write<'_>]) -> Vec<Result<Recorded, RecordError>> {
        let outcome = (
            &self.responses,
            &self.counters,
            &self.tag_values,
            &self.events,
            &self.outbox,
        )
            .transaction(
                |(responses, counters, tag_values, events, outbox)| -> Result<_, Tx> {
                    let mut batch = Batch::default();
                    let mut results = Vec::with_capacity(writes.len());
                    for write in writes {
                        results.push(apply(write, responses, events, outbox, &mut batch)?);
                    }
                    for (key, delta) in batch.counter_deltas {
                        if !delta.is_zero() {
                            add_to_counter(counters, &key, &delta)?;
                        }
                    }
                    remember_tag_values(tag_values, batch.tag_values)?;
                    Ok(results)
                },
            );
        match outcome {
            Ok(results) => results,
            Err(error) => {
                let error = storage_error(error);
                writes
                    .iter()
                    .map(|_| Err(RecordError::Storage(error.clone())))
                    .collect()
            }
        }
    }

    /// Counts an impression once per response_id. Returns whether it was new.
    pub fn record_impression(
        &self,
        survey: &Survey,
        subject: &Subject,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let key = keys::impression(survey.id.as_str(), subject.response_id.as_str());
        let stored = StoredImpression {
            at_ms: unix_ms(now),
            tags: subject.tags.as_map().clone(),
        };
        let outcome = (&self.impressions, &self.counters, &self.tag_values).transaction(
            |(impressions, counters, tag_values)| -> Result<bool, Tx> {
                if impressions.get(&key)?.is_some() {
                    return Ok(false);
                }
                impressions.insert(key.as_slice(), encode(&stored))?;
                let mut shown = Delta::default();
                shown.add(Metric::Impression, 0, 1);
                for counter in counter_keys_for(survey.id.as_str(), &stored.tags, now) {
                    add_to_counter(counters, &counter, &shown)?;
                }
                remember_tag_values(tag_values, tag_value_keys(survey.id.as_str(), &stored.tags))?;
                Ok(true)
            },
        );
        outcome.map_err(storage_error)
    }

    /// Counts one opened email link that no page has confirmed.
    pub fn record_unconfirmed_click(
        &self,
        survey: &Survey,
        score: u8,
        tags: &BTreeMap<String, String>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let counters = counter_keys_for(survey.id.as_str(), tags, now);
        let mut clicked = Delta::default();
        clicked.add(Metric::UnconfirmedClick, score, 1);
        let outcome = self.counters.transaction(|tree| -> Result<(), Tx> {
            for counter in &counters {
                add_to_counter(tree, counter, &clicked)?;
            }
            Ok(())
        });
        outcome.map_err(storage_error)
    }

    /// Counters of one dimension for buckets `from..=to`, keyed by bucket. Touches only counter
    /// keys, so its cost follows the number of buckets, never the number of responses.
    pub fn tallies(
        &self,
        survey: &str,
        dimension: &Dimension<'_>,
        grain: Grain,
        from: u32,
        to: u32,
    ) -> Result<BTreeMap<u32, Tally>, StoreError> {
        let (start, end) = keys::counter_range(survey, dimension, grain, from, to);
        let mut tallies: BTreeMap<u32, Tally> = BTreeMap::new();
        for entry in self.counters.range(start..=end) {
            let (key, value) = entry?;
            let Some(bucket) = keys::counter_bucket(&key) else {
                continue;
            };
            tallies.insert(bucket, Counts::decode(&value).tally());
        }
        Ok(tallies)
    }

    /// The sum of `tallies` over the range.
    pub fn total(
        &self,
        survey: &str,
        dimension: &Dimension<'_>,
        from: Day,
        to: Day,
    ) -> Result<Tally, StoreError> {
        let mut total = Tally::default();
        for tally in self
            .tallies(survey, dimension, Grain::Day, from.0, to.0)?
            .values()
        {
            total.add(tally);
        }
        Ok(total)
    }

    /// Every value ever seen for one tag of a survey, sorted.
    pub fn tag_values(&self, survey: &str, tag: &str) -> Result<Vec<String>, StoreError> {
        let prefix = keys::tag_values_prefix(survey, tag);
        self.tag_values
            .scan_prefix(&prefix)
            .keys()
            .map(|key| Ok(String::from_utf8_lossy(&key?[prefix.len()..]).into_owned()))
            .collect()
    }

    /// Every response of a survey, in identity order, read lazily.
    pub fn responses_of(
        &self,
        survey: &str,
    ) -> impl Iterator<Item = Result<StoredResponse, StoreError>> + use<> {
        self.responses
            .scan_prefix(keys::survey_prefix(survey))
            .values()
            .map(|value| {
                decode::<StoredResponse>(&value?)
                    .map_err(|_| StoreError::Corrupt("response".into()))
            })
    }

    /// The stored response for an identity, if any.
    pub fn find(
        &self,
        survey: &str,
        interaction: Option<&str>,
        response_id: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        match self
            .responses
            .get(keys::identity(survey, interaction, response_id))?
        {
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt("response".into())),
            None => Ok(None),
        }
    }

    /// The response an event points at.
    pub fn response_at(&self, identity: &[u8]) -> Result<Option<StoredResponse>, StoreError> {
        match self.responses.get(identity)? {
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt("response".into())),
            None => Ok(None),
        }
    }

    /// Recounts every response and impression counter from the stored records and compares.
    /// A healthy store has no mismatch, whatever crashed while it was written.
    pub fn audit(&self) -> Result<Audit, StoreError> {
        let mut expected: HashMap<Vec<u8>, Delta> = HashMap::new();
        let mut audit = Audit::default();
        for value in self.responses.iter().values() {
            let response: StoredResponse =
                decode(&value?).map_err(|_| StoreError::Corrupt("response".into()))?;
            audit.responses += 1;
            for key in response.counter_keys() {
                expected
                    .entry(key)
                    .or_default()
                    .add(Metric::Response, response.score, 1);
            }
        }
        for entry in self.impressions.iter() {
            let (key, value) = entry?;
            let impression: StoredImpression =
                decode(&value).map_err(|_| StoreError::Corrupt("impression".into()))?;
            let survey_len = key.iter().position(|&b| b == 0).unwrap_or(key.len());
            let survey = String::from_utf8_lossy(&key[..survey_len]);
            audit.impressions += 1;
            let at = from_unix_ms(impression.at_ms);
            for counter in counter_keys_for(&survey, &impression.tags, at) {
                expected
                    .entry(counter)
                    .or_default()
                    .add(Metric::Impression, 0, 1);
            }
        }
        for entry in self.counters.iter() {
            let (key, value) = entry?;
            audit.counters_checked += 1;
            let stored = Counts::decode(&value).without_clicks();
            let recounted = expected
                .remove(key.as_ref())
                .map_or_else(Counts::default, |delta| delta.applied_to(Counts::default()));
            if stored != recounted {
                audit
                    .mismatches
                    .push((key.to_vec(), stored.tally(), recounted.tally()));
            }
        }
        audit
            .mismatches
            .extend(expected.into_iter().map(|(key, delta)| {
                let recounted = delta.applied_to(Counts::default());
                (key, Tally::default(), recounted.tally())
            }));
        Ok(audit)
    }

    /// Flushes everything to disk now (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// One rating to record: the survey it belongs to and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    pub survey: &'a Survey,
    pub rating: &'a Rating,
    pub now: OffsetDateTime,
}

/// What the ratings of one transaction add up to, written once at its end.
#[derive(Default)]
struct Batch {
    counter_deltas: HashMap<Vec<u8>, Delta>,
    tag_values: BTreeSet<Vec<u8>>,
}

/// Applies one rating inside a `record_all` transaction. A refusal is this rating's answer,
/// not a reason to abort the others; only storage errors stop the transaction.
fn apply(
    write: &Write<'_>,
    responses: &TransactionalTree,
    events: &TransactionalTree,
    outbox: &TransactionalTree,
    batch: &mut Batch,
) -> Result<Result<Recorded, RecordError>, UnabortableTransactionError> {
    let Write {
        survey,
        rating,
        now,
    } = *write;
    let subject = &rating.subject;
    let identity = keys::identity(
        survey.id.as_str(),
        subject.interaction.as_ref().map(|i| i.as_str()),
        subject.response_id.as_str(),
    );
    let now_ms = unix_ms(now);
    let edit_window_ms = i64::try_from(survey.edit_window.as_millis()).unwrap_or(i64::MAX);

    // An earlier rating of this batch with the same identity is seen here too: a transaction
    // reads its own writes.
    let existing = match responses.get(&identity)? {
        Some(bytes) => match decode::<StoredResponse>(&bytes) {
            Ok(old) => Some(old),
            // A record we wrote ourselves no longer decodes: corruption, not the client's fault.
            Err(_) => {
                return Ok(Err(RecordError::Storage(StoreError::Corrupt(
                    "response".into(),
                ))));
            }
        },
        None => None,
    };
    let (status, stored, previous) = match existing {
        None => {
            let created = StoredResponse {
                survey: survey.id.to_string(),
                response_id: subject.response_id.as_str().to_owned(),
                interaction: subject.interaction.as_ref().map(|i| i.as_str().to_owned()),
                score: rating.score.get(),
                tags: subject.tags.as_map().clone(),
                comment: rating.comment.as_ref().map(|c| c.as_str().to_owned()),
                signed: subject.signed,
                created_ms: now_ms,
                updated_ms: now_ms,
                history: vec![(rating.score.get(), now_ms)],
            };
            (WriteStatus::Created, created, None)
        }
        Some(old) => {
            let merged = match apply_change(&old, subject, rating, now_ms) {
                Ok(merged) => merged,
                Err(refusal) => return Ok(Err(RecordError::Refused(refusal))),
            };
            if merged.same_answer(&old) {
                return Ok(Ok(Recorded {
                    status: WriteStatus::Unchanged,
                    response: old,
                    event: None,
                    alert_queued: false,
                }));
            }
            if now_ms.saturating_sub(old.created_ms) > edit_window_ms {
                return Ok(Err(RecordError::Refused(Refusal::EditWindowClosed)));
            }
            (WriteStatus::Updated, merged, Some(old))
        }
    };

    if let Some(old) = &previous {
        for key in old.counter_keys() {
            let delta = batch.counter_deltas.entry(key).or_default();
            delta.add(Metric::Response, old.score, -1);
        }
    }
    for key in stored.counter_keys() {
        let delta = batch.counter_deltas.entry(key).or_default();
        delta.add(Metric::Response, stored.score, 1);
    }
    batch
        .tag_values
        .extend(tag_value_keys(&stored.survey, &stored.tags));
    responses.insert(identity.as_slice(), encode(&stored))?;

    let event = events.generate_id()?;
    events.insert(&event.to_be_bytes(), identity.as_slice())?;

    let score_moved = previous
        .as_ref()
        .is_none_or(|old| old.score != stored.score);
    let alert_queued = survey
        .alert
        .as_ref()
        .is_some_and(|alert| stored.score <= alert.max_score && score_moved);
    if let Some(alert) = survey.alert.as_ref().filter(|_| alert_queued) {
        let job = AlertJob {
            webhook: alert.webhook.clone(),
            idempotency_key: format!("{}-{event}", stored.survey),
            record: stored.to_record(),
            attempts: 0,
            next_attempt_ms: now_ms,
        };
        outbox.insert(&event.to_be_bytes(), encode(&job))?;
    }
    Ok(Ok(Recorded {
        status,
        response: stored,
        event: Some(event),
        alert_queued,
    }))
}

/// Applies a later write of the same identity to what is stored.
fn apply_change(
    old: &StoredResponse,
    subject: &Subject,
    rating: &Rating,
    now_ms: i64,
) -> Result<StoredResponse, Refusal> {
    if old.response_id != subject.response_id.as_str() && !subject.signed {
        return Err(Refusal::AlreadyAnswered);
    }
    // Tags left out of a later write (a comment sent on its own, say) keep their values.
    let tags = if subject.tags.is_empty() {
        old.tags.clone()
    } else {
        subject.tags.as_map().clone()
    };
    if old.signed && !subject.signed && tags != old.tags {
        return Err(Refusal::SignedTagsChanged);
    }
    let mut merged = old.clone();
    merged.tags = tags;
    merged.signed = old.signed || subject.signed;
    merged.score = rating.score.get();
    if let Some(comment) = &rating.comment {
        merged.comment = Some(comment.as_str().to_owned());
    }
    if merged.score != old.score {
        merged.history.push((merged.score, now_ms));
    }
    merged.updated_ms = now_ms;
    Ok(merged)
}

/// The `tag_values` keys of a response's or impression's tags.
fn tag_value_keys<'a>(
    survey: &'a str,
    tags: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = Vec<u8>> + 'a {
    tags.iter()
        .map(move |(tag, value)| keys::tag_value(survey, tag, value))
}

/// Notes each tag value for breakdowns. Most are already known: reading first spares a write
/// (and the log space it would take) on nearly every rating.
fn remember_tag_values(
    tree: &TransactionalTree,
    keys: impl IntoIterator<Item = Vec<u8>>,
) -> Result<(), Tx> {
    for key in keys {
        if tree.get(&key)?.is_none() {
            tree.insert(key, &[])?;
        }
    }
    Ok(())
}

fn storage_error(error: TransactionError<Infallible>) -> StoreError {
    match error {
        TransactionError::Abort(never) => match never {},
        TransactionError::Storage(error) => error.into(),
    }
}

fn add_to_counter(tree: &TransactionalTree, key: &[u8], delta: &Delta) -> Result<(), Tx> {
    let current = tree
        .get(key)?
        .map_or_else(Counts::default, |value| Counts::decode(&value));
    let next = delta.applied_to(current);
    if next.is_zero() {
        tree.remove(key)?;
    } else {
        tree.insert(key, next.encode())?;
    }
    Ok(())
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("stored types always serialize")
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_of_an_older_store_are_folded_into_buckets_once_and_keep_their_counts() {
        let dir = tempfile::tempdir().unwrap();
        let day = 20_000;
        let all = keys::counter("support", &Dimension::All, Grain::Day, day);
        let ana = keys::counter("support", &Dimension::Tag("agent", "ana"), Grain::Day, day);
        {
            let store = Store::open(dir.path()).unwrap();
            // What a store written before today's layout held: a u64 per metric and score.
            for (bucket, metric_and_score, count) in [
                (&all, b"r\x05", 3u64),
                (&all, b"r\x01", 1),
                (&all, b"i\x00", 7),
                (&all, b"u\x02", 2),
                (&ana, b"r\x05", 3),
            ] {
                let key = [bucket.as_slice(), metric_and_score].concat();
                store.counters.insert(key, &count.to_be_bytes()).unwrap();
            }
            store.db.remove(COUNTERS_FORMAT).unwrap();
        }

        for _ in 0..2 {
            let store = Store::open(dir.path()).unwrap();
            let survey = store
                .total("support", &Dimension::All, Day(day), Day(day))
                .unwrap();
            assert_eq!(survey.by_score[..5], [1, 0, 0, 0, 3]);
            assert_eq!((survey.impressions, survey.unconfirmed_clicks), (7, 2));
            let agent = store
                .total(
                    "support",
                    &Dimension::Tag("agent", "ana"),
                    Day(day),
                    Day(day),
                )
                .unwrap();
            assert_eq!(agent.by_score[..5], [0, 0, 0, 0, 3]);
            assert_eq!(
                store.counters.len(),
                2,
                "one value per bucket, nothing left over"
            );
        }
    }
}

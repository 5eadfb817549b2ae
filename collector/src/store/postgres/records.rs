//! The transaction that applies one batch of writes.
//!
//! It follows the embedded store's (`store/embedded/records.rs`) step for step, and leaves every
//! decision to the domain: `domain::response::answer` merges a rating into its response,
//! `domain::limits` admits what nobody vouched for. What differs is what other collectors
//! writing at the same moment require (see the module above): identities locked before they are
//! read, events numbered by transaction, counters added to one shard, and the anonymous limits'
//! counts checked again once added to.

use super::errors::engine;
use crate::domain::calendar::{from_unix_ms, unix_ms};
use crate::domain::limits;
use crate::domain::rating::Subject;
use crate::domain::response::{self, Change, Refusal};
use crate::domain::{Day, Hour, Rating, Response, Score, Survey, SurveyId, Surveys};
use crate::store::backend::{
    AlertId, AlertMessage, Dimension, Grain, Notice, NoticeKind, OutboxChange, Outcome,
    RecordError, Recorded, StoreError, Write,
};
use crate::store::counts::{Delta, Metric, SLOTS};
use pulsetap_wire::Tags;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};

/// Counter rows per (survey, dimension, grain, bucket). Two collectors' batches land on the
/// same shard one time in this many; a read sums this many rows per bucket.
pub const SHARDS: i16 = 8;

/// Event numbers one transaction may use: `transaction id × EVENTS_PER_TRANSACTION + n`. The
/// writer's batches hold 512 writes at most.
pub(super) const EVENTS_PER_TRANSACTION: i64 = 1 << 16;

/// Times a batch is run again after a deadlock or a serialization failure before its writes
/// are answered with the error.
const ATTEMPTS: usize = 8;

/// A response's identity within its survey: `i<interaction>`, or else `r<response_id>`.
pub(super) fn identity(interaction: Option<&str>, response_id: &str) -> String {
    match interaction {
        Some(interaction) => format!("i{interaction}"),
        None => format!("r{response_id}"),
    }
}

/// One counter: a (survey, dimension, grain, bucket), whatever its shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct CounterKey {
    pub survey: String,
    pub dimension: String,
    pub grain: &'static str,
    pub bucket: i64,
}

impl CounterKey {
    /// How `collector audit` names it.
    pub(super) fn describe(&self) -> String {
        format!(
            "{}/{}/{}{}",
            self.survey,
            if self.dimension.is_empty() {
                "*"
            } else {
                &self.dimension
            },
            self.grain,
            self.bucket
        )
    }
}

pub(super) fn dimension_name(dimension: &Dimension<'_>) -> String {
    match dimension {
        Dimension::All => String::new(),
        Dimension::Tag(key, value) => format!("{key}={value}"),
    }
}

pub(super) fn grain_name(grain: Grain) -> &'static str {
    match grain {
        Grain::Day => "d",
        Grain::Hour => "h",
    }
}

/// The day and hour counters of every dimension a tagged event falls in: the survey's, and
/// each of its tags'.
pub(super) fn counter_keys(
    survey: &str,
    tags: &BTreeMap<String, String>,
    at: OffsetDateTime,
) -> Vec<CounterKey> {
    let (day, hour) = (i64::from(Day::of(at).0), i64::from(Hour::of(at).0));
    let dimensions =
        std::iter::once(Dimension::All).chain(tags.iter().map(|(k, v)| Dimension::Tag(k, v)));
    dimensions
        .flat_map(|dimension| {
            let name = dimension_name(&dimension);
            [
                CounterKey {
                    survey: survey.to_owned(),
                    dimension: name.clone(),
                    grain: "d",
                    bucket: day,
                },
                CounterKey {
                    survey: survey.to_owned(),
                    dimension: name,
                    grain: "h",
                    bucket: hour,
                },
            ]
        })
        .collect()
}

/// Applies `writes` in one transaction and commits it, running it again after a deadlock or a
/// serialization failure, or, with the anonymous limits' counts locked, when another collector
/// took places this batch counted on.
pub(super) async fn apply(
    client: &mut Client,
    surveys: &Surveys,
    writes: &[Write],
) -> Result<Vec<Outcome>, StoreError> {
    let mut exact = false;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let transaction = client.transaction().await.map_err(engine)?;
        let result = Batch::new(&transaction, surveys, exact).run(writes).await;
        match result {
            Ok(Attempt::Done(outcomes)) => {
                return match transaction.commit().await {
                    Ok(()) => Ok(outcomes),
                    // The server refused the commit: nothing of the batch is stored.
                    Err(error) if error.as_db_error().is_some() => Err(engine(error)),
                    // The connection failed while committing: the batch may be stored.
                    Err(error) => Err(StoreError::Flush(engine(error).to_string())),
                };
            }
            Ok(Attempt::TookPlacesOthersTook) => {
                transaction.rollback().await.map_err(engine)?;
                exact = true;
            }
            Err(error) if retryable(&error) && attempt < ATTEMPTS => {
                transaction.rollback().await.map_err(engine)?;
            }
            Err(error) => return Err(engine(error)),
        }
    }
}

fn retryable(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(&SqlState::T_R_DEADLOCK_DETECTED | &SqlState::T_R_SERIALIZATION_FAILURE)
    )
}

/// How one run of a batch ended.
enum Attempt {
    /// Ready to commit.
    Done(Vec<Outcome>),
    /// A limit's count, summed with what other collectors committed meanwhile, shows that this
    /// batch admitted past the ceiling: run it again with the counts locked.
    TookPlacesOthersTook,
}

/// (survey, identity).
type Identity = (String, String);

/// A count of `limit_counts`: as read, after this batch's writes so far, and whether an
/// unverified write was admitted against it (then the sum must be checked after adding).
struct LimitCount {
    stored: i64,
    count: i64,
    leaned_on: bool,
}

/// One run of a batch inside its transaction, and what its writes add up to.
struct Batch<'a, 't> {
    transaction: &'a Transaction<'t>,
    surveys: &'a Surveys,
    /// Lock the limits' counts when reading them (a run after `TookPlacesOthersTook`).
    exact: bool,
    next_event: i64,
    /// The responses of the batch's identities: as stored, then as this batch left them.
    responses: HashMap<Identity, Response>,
    /// Stored records that no longer decode.
    corrupt: HashSet<Identity>,
    /// Responses to write at the end.
    changed: BTreeSet<Identity>,
    /// Live-feed events: (identity, event), in event order.
    events: Vec<(Identity, i64)>,
    alerts: Vec<AlertMessage>,
    counter_deltas: BTreeMap<CounterKey, Delta>,
    /// (survey, tag, value) stored, or added by this batch.
    known_tag_values: HashSet<(String, String, String)>,
    new_tag_values: BTreeSet<(String, String, String)>,
    /// (survey, what) → its count.
    limit_counts: BTreeMap<(String, String), LimitCount>,
}

impl<'a, 't> Batch<'a, 't> {
    fn new(transaction: &'a Transaction<'t>, surveys: &'a Surveys, exact: bool) -> Self {
        Self {
            transaction,
            surveys,
            exact,
            next_event: 0,
            responses: HashMap::new(),
            corrupt: HashSet::new(),
            changed: BTreeSet::new(),
            events: Vec::new(),
            alerts: Vec::new(),
            counter_deltas: BTreeMap::new(),
            known_tag_values: HashSet::new(),
            new_tag_values: BTreeSet::new(),
            limit_counts: BTreeMap::new(),
        }
    }

    async fn run(mut self, writes: &[Write]) -> Result<Attempt, tokio_postgres::Error> {
        let transaction_id: i64 = self
            .transaction
            .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
            .await?
            .get(0);
        self.next_event = transaction_id * EVENTS_PER_TRANSACTION + 1;
        self.lock_and_read_identities(writes).await?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in writes {
            outcomes.push(self.apply_one(write).await?);
        }
        self.write_responses().await?;
        self.write_alerts().await?;
        if !self.write_limits().await? {
            return Ok(Attempt::TookPlacesOthersTook);
        }
        self.write_counters().await?;
        Ok(Attempt::Done(outcomes))
    }

    /// Locks every identity the batch rates, in one order for every collector (so two batches
    /// never wait on each other in a circle), then reads their responses.
    async fn lock_and_read_identities(
        &mut self,
        writes: &[Write],
    ) -> Result<(), tokio_postgres::Error> {
        let identities: BTreeSet<Identity> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Rating { survey, rating, .. } => Some((
                    survey.as_str().to_owned(),
                    identity(
                        rating.subject.interaction.as_ref().map(|i| i.as_str()),
                        rating.subject.response_id.as_str(),
                    ),
                )),
                _ => None,
            })
            .collect();
        if identities.is_empty() {
            return Ok(());
        }
        let mut locks: Vec<i64> = identities
            .iter()
            .map(|(survey, identity)| lock_key(survey, identity))
            .collect();
        locks.sort_unstable();
        locks.dedup();
        self.transaction
            .execute(
                "SELECT count(pg_advisory_xact_lock(key)) FROM unnest($1::bigint[]) AS key",
                &[&locks],
            )
            .await?;
        let (surveys, ids): (Vec<&str>, Vec<&str>) = identities
            .iter()
            .map(|(survey, identity)| (survey.as_str(), identity.as_str()))
            .unzip();
        let rows = self
            .transaction
            .query(
                "SELECT r.survey, r.identity, r.body::text FROM responses r
                 JOIN unnest($1::text[], $2::text[]) AS wanted(survey, identity)
                   ON r.survey = wanted.survey AND r.identity = wanted.identity",
                &[&surveys, &ids],
            )
            .await?;
        for row in rows {
            let key: Identity = (row.get(0), row.get(1));
            let body: &str = row.get(2);
            match serde_json::from_str::<Response>(body) {
                Ok(response) => {
                    self.responses.insert(key, response);
                }
                Err(_) => {
                    self.corrupt.insert(key);
                }
            }
        }
        Ok(())
    }

    async fn apply_one(&mut self, write: &Write) -> Result<Outcome, tokio_postgres::Error> {
        let surveys = self.surveys;
        match write {
            Write::Rating {
                survey,
                rating,
                now,
                allowance_left,
            } => Ok(Outcome::Rating(match survey_of(surveys, survey) {
                Ok(survey) => self.rate(survey, rating, *now, *allowance_left).await?,
                Err(error) => Err(error.into()),
            })),
            Write::Impression {
                survey,
                subject,
                now,
            } => Ok(Outcome::Impression(match survey_of(surveys, survey) {
                Ok(survey) => self.impression(survey, subject, *now).await?,
                Err(error) => Err(error.into()),
            })),
            Write::Click {
                survey,
                score,
                tags,
                now,
            } => {
                self.click(survey, *score, tags, *now);
                Ok(Outcome::Done)
            }
            Write::Outbox(change) => {
                self.change_outbox(change).await?;
                Ok(Outcome::Done)
            }
            // A backup never reaches a transaction: the writer runs it between batches.
            Write::Barrier | Write::Backup { .. } => Ok(Outcome::Done),
        }
    }

    /// One rating: the domain decides what changes to its identity's response; the response,
    /// its counter changes, its event and, when it alerts, its outbox message follow.
    async fn rate(
        &mut self,
        survey: &Survey,
        rating: &Rating,
        now: OffsetDateTime,
        allowance_left: bool,
    ) -> Result<Result<Recorded, RecordError>, tokio_postgres::Error> {
        let subject = &rating.subject;
        let key: Identity = (
            survey.id.as_str().to_owned(),
            identity(
                subject.interaction.as_ref().map(|i| i.as_str()),
                subject.response_id.as_str(),
            ),
        );
        if self.corrupt.contains(&key) {
            return Ok(Err(StoreError::Corrupt("response".into()).into()));
        }
        let now_ms = unix_ms(now);
        let mut change = match response::answer(self.responses.get(&key), survey, rating, now_ms) {
            Ok(change) => change,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let alerts = change.alerts(survey);
        let follows_up = change.follows_up_alert(survey);
        if alerts {
            change.response_mut().alerted = true;
        }
        let previous = match &change {
            Change::Unchanged(old) => {
                return Ok(Ok(Recorded {
                    status: change.status(),
                    response: old.clone(),
                    event: None,
                    alert_queued: false,
                    counted_unverified: false,
                }));
            }
            Change::Created(_) => None,
            Change::Updated { before, .. } => Some(before.clone()),
        };
        let counted_unverified = matches!(change, Change::Created(_)) && !subject.trusted();
        let tags = change.response().tags.clone();
        let unverified = counted_unverified.then_some((Day::of(now), allowance_left));
        if let Err(refusal) = self.admit(survey, subject, &tags, unverified).await? {
            return Ok(Err(refusal.into()));
        }
        if let Some(old) = &previous {
            self.count(old, Metric::Response, old.score, -1);
        }
        let event = self.next_event;
        self.next_event += 1;
        let event = u64::try_from(event).expect("transaction ids are positive");
        let stored = change.response_mut();
        stored.last_event = event;
        let stored = stored.clone();
        self.count(&stored, Metric::Response, stored.score, 1);
        self.responses.insert(key.clone(), stored.clone());
        self.events.push((key.clone(), event_number(event)));
        self.changed.insert(key);

        let notice = match (alerts, follows_up) {
            (true, _) => Some(NoticeKind::Alert),
            (false, true) => Some(NoticeKind::Update),
            (false, false) => None,
        };
        let queued = match (notice, survey.alert.as_ref()) {
            (Some(kind), Some(alert)) => {
                let notice = Notice {
                    id: AlertId(event),
                    kind,
                    response: stored.clone(),
                };
                self.alerts
                    .push(AlertMessage::new(notice, alert.webhook.clone(), now_ms));
                true
            }
            _ => false,
        };
        Ok(Ok(Recorded {
            status: change.status(),
            response: stored,
            event: Some(event),
            alert_queued: queued,
            counted_unverified,
        }))
    }

    /// Checks a write against the anonymous limits and, when it passes, counts it (see
    /// `store/embedded/records.rs`: the same rule over the same counts).
    async fn admit(
        &mut self,
        survey: &Survey,
        subject: &Subject,
        tags: &BTreeMap<String, String>,
        unverified: Option<(Day, bool)>,
    ) -> Result<Result<(), Refusal>, tokio_postgres::Error> {
        let survey_id = survey.id.as_str();
        let mut new_values = Vec::new();
        for (tag, value) in tags {
            let key = (survey_id.to_owned(), tag.clone(), value.clone());
            if self.knows_tag_value(&key).await? {
                continue;
            }
            let count_key = (survey_id.to_owned(), format!("tag {tag}"));
            let distinct = self.limit_count(&count_key).await?;
            if !subject.trusted()
                && let Err(refusal) = limits::admit_unverified_tag_value(tag, distinct, survey)
            {
                return Ok(Err(refusal));
            }
            new_values.push((key, count_key, !subject.trusted()));
        }
        let day_key =
            unverified.map(|(day, _)| (survey_id.to_owned(), format!("unverified {}", day.0)));
        if let (Some(day_key), Some((_, allowance_left))) = (&day_key, unverified) {
            let created_today = self.limit_count(day_key).await?;
            if let Err(refusal) =
                limits::admit_unverified_response(allowance_left, created_today, survey)
            {
                return Ok(Err(refusal));
            }
        }
        for (key, count_key, leaned_on) in new_values {
            self.known_tag_values.insert(key.clone());
            self.new_tag_values.insert(key);
            self.count_one_more(&count_key, leaned_on);
        }
        if let Some(day_key) = day_key {
            self.count_one_more(&day_key, true);
        }
        Ok(Ok(()))
    }

    async fn knows_tag_value(
        &mut self,
        key: &(String, String, String),
    ) -> Result<bool, tokio_postgres::Error> {
        if self.known_tag_values.contains(key) {
            return Ok(true);
        }
        let known = self
            .transaction
            .query_opt(
                "SELECT 1 FROM tag_values WHERE survey = $1 AND tag = $2 AND value = $3",
                &[&key.0, &key.1, &key.2],
            )
            .await?
            .is_some();
        if known {
            self.known_tag_values.insert(key.clone());
        }
        Ok(known)
    }

    /// A count of `limit_counts`, with this batch's changes; locked when the run is exact.
    async fn limit_count(&mut self, key: &(String, String)) -> Result<u64, tokio_postgres::Error> {
        if let Some(count) = self.limit_counts.get(key) {
            return Ok(u64::try_from(count.count).unwrap_or(0));
        }
        let stored: i64 = if self.exact {
            self.transaction
                .execute(
                    "INSERT INTO limit_counts (survey, what, count) VALUES ($1, $2, 0)
                     ON CONFLICT (survey, what) DO NOTHING",
                    &[&key.0, &key.1],
                )
                .await?;
            self.transaction
                .query_one(
                    "SELECT count FROM limit_counts WHERE survey = $1 AND what = $2 FOR UPDATE",
                    &[&key.0, &key.1],
                )
                .await?
                .get(0)
        } else {
            self.transaction
                .query_opt(
                    "SELECT count FROM limit_counts WHERE survey = $1 AND what = $2",
                    &[&key.0, &key.1],
                )
                .await?
                .map_or(0, |row| row.get(0))
        };
        self.limit_counts.insert(
            key.clone(),
            LimitCount {
                stored,
                count: stored,
                leaned_on: false,
            },
        );
        Ok(u64::try_from(stored).unwrap_or(0))
    }

    /// Adds one to a count `limit_count` read; `leaned_on`: an unverified write was admitted
    /// against it.
    fn count_one_more(&mut self, key: &(String, String), leaned_on: bool) {
        if let Some(count) = self.limit_counts.get_mut(key) {
            count.count += 1;
            count.leaned_on |= leaned_on;
        }
    }

    /// Counts an impression once per response_id; whether it was new. The row is written
    /// first: a second collector inserting the same one waits for this transaction, then finds
    /// it there.
    async fn impression(
        &mut self,
        survey: &Survey,
        subject: &Subject,
        now: OffsetDateTime,
    ) -> Result<Result<bool, RecordError>, tokio_postgres::Error> {
        let survey_id = survey.id.as_str();
        let response_id = subject.response_id.as_str();
        let tags = subject.tags.as_map().clone();
        let tags_json = serde_json::to_string(&tags).expect("tags always serialize");
        let inserted = self
            .transaction
            .execute(
                "INSERT INTO impressions (survey, response_id, at_ms, tags)
                 VALUES ($1, $2, $3, $4::text::jsonb) ON CONFLICT DO NOTHING",
                &[&survey_id, &response_id, &unix_ms(now), &tags_json],
            )
            .await?;
        if inserted == 0 {
            return Ok(Ok(false));
        }
        if let Err(refusal) = self.admit(survey, subject, &tags, None).await? {
            self.transaction
                .execute(
                    "DELETE FROM impressions WHERE survey = $1 AND response_id = $2",
                    &[&survey_id, &response_id],
                )
                .await?;
            return Ok(Err(refusal.into()));
        }
        for counter in counter_keys(survey_id, &tags, now) {
            self.counter_deltas
                .entry(counter)
                .or_default()
                .add(Metric::Impression, 0, 1);
        }
        Ok(Ok(true))
    }

    /// Counts an opened email link that no page confirmed.
    fn click(&mut self, survey: &SurveyId, score: Score, tags: &Tags, now: OffsetDateTime) {
        for counter in counter_keys(survey.as_str(), tags, now) {
            self.counter_deltas.entry(counter).or_default().add(
                Metric::UnconfirmedClick,
                score.get(),
                1,
            );
        }
    }

    /// Adds `by` to `metric` in every counter a response falls in.
    fn count(&mut self, response: &Response, metric: Metric, score: u8, by: i64) {
        let created = from_unix_ms(response.created_ms);
        for key in counter_keys(&response.survey, &response.tags, created) {
            self.counter_deltas
                .entry(key)
                .or_default()
                .add(metric, score, by);
        }
    }

    /// Removes, queues and sets aside alert messages as one change.
    async fn change_outbox(&mut self, change: &OutboxChange) -> Result<(), tokio_postgres::Error> {
        for key in &change.remove {
            let id = event_number(key.id.0);
            self.transaction
                .execute(
                    "DELETE FROM outbox WHERE id = $1 AND due_ms = $2",
                    &[&id, &key.due_ms],
                )
                .await?;
        }
        if let Some(message) = &change.queue {
            queue_alert(self.transaction, message).await?;
        }
        if let Some(message) = &change.set_aside {
            let body = serde_json::to_string(message).expect("stored types always serialize");
            self.transaction
                .execute(
                    "INSERT INTO undelivered (survey, id, body) VALUES ($1, $2, $3::text::jsonb)
                     ON CONFLICT (survey, id) DO UPDATE SET body = excluded.body",
                    &[&message.survey, &event_number(message.id.0), &body],
                )
                .await?;
        }
        Ok(())
    }

    /// Writes every response the batch changed, in one statement.
    async fn write_responses(&mut self) -> Result<(), tokio_postgres::Error> {
        if self.changed.is_empty() {
            return Ok(());
        }
        let responses: Vec<&Response> = self
            .changed
            .iter()
            .map(|key| &self.responses[key])
            .collect();
        upsert_responses(self.transaction, &responses).await?;
        let events: Vec<(&str, i64, &str)> = self
            .events
            .iter()
            .map(|((survey, identity), event)| (survey.as_str(), *event, identity.as_str()))
            .collect();
        insert_events(self.transaction, &events).await
    }

    async fn write_alerts(&mut self) -> Result<(), tokio_postgres::Error> {
        for message in &self.alerts {
            queue_alert(self.transaction, message).await?;
        }
        Ok(())
    }

    /// Adds the batch's new tag values and what it counted to the limits' counts. Whether every
    /// unverified write the batch admitted still fits once the other collectors' places are
    /// added: `false` when one does not, and the batch must run again with the counts locked.
    async fn write_limits(&mut self) -> Result<bool, tokio_postgres::Error> {
        // Distinct values are counted as the rows go in: a value another collector added
        // meanwhile is not counted twice.
        let mut inserted: HashMap<(String, String), i64> = HashMap::new();
        if !self.new_tag_values.is_empty() {
            let (mut surveys, mut tags, mut values) = (Vec::new(), Vec::new(), Vec::new());
            for (survey, tag, value) in &self.new_tag_values {
                surveys.push(survey.as_str());
                tags.push(tag.as_str());
                values.push(value.as_str());
            }
            let rows = self
                .transaction
                .query(
                    "INSERT INTO tag_values (survey, tag, value)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                     ON CONFLICT DO NOTHING
                     RETURNING survey, tag",
                    &[&surveys, &tags, &values],
                )
                .await?;
            for row in rows {
                let tag: String = row.get(1);
                *inserted
                    .entry((row.get(0), format!("tag {tag}")))
                    .or_default() += 1;
            }
        }
        for (key, count) in &self.limit_counts {
            let added = if key.1.starts_with("tag ") {
                inserted.get(key).copied().unwrap_or(0)
            } else {
                count.count - count.stored
            };
            if added == 0 {
                continue;
            }
            let (survey, what) = key;
            let total: i64 = self
                .transaction
                .query_one(
                    "INSERT INTO limit_counts (survey, what, count) VALUES ($1, $2, $3)
                     ON CONFLICT (survey, what) DO UPDATE SET count = limit_counts.count + $3
                     RETURNING count",
                    &[survey, what, &added],
                )
                .await?
                .get(0);
            if !count.leaned_on || total == count.stored + added {
                continue;
            }
            // Others took places meanwhile, so the last place this batch took is the total's
            // last one: ask the domain again whether it was free.
            let Some(survey) = self.surveys.get(survey) else {
                continue;
            };
            let before_last = u64::try_from(total - 1).unwrap_or(0);
            let still_fits = match what.strip_prefix("tag ") {
                Some(tag) => limits::admit_unverified_tag_value(tag, before_last, survey).is_ok(),
                None => limits::admit_unverified_response(true, before_last, survey).is_ok(),
            };
            if !still_fits {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Adds the batch's counter changes to one shard, chosen for this transaction.
    async fn write_counters(&mut self) -> Result<(), tokio_postgres::Error> {
        let shard: i16 = rand::random::<i16>().rem_euclid(SHARDS);
        add_to_counters(self.transaction, &self.counter_deltas, shard).await
    }
}

/// Writes responses (new or changed) in one statement.
pub(super) async fn upsert_responses(
    transaction: &Transaction<'_>,
    responses: &[&Response],
) -> Result<(), tokio_postgres::Error> {
    let (mut surveys, mut identities, mut created, mut events, mut commented, mut bodies) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for response in responses {
        surveys.push(response.survey.as_str());
        identities.push(identity(
            response.interaction.as_deref(),
            &response.response_id,
        ));
        created.push(response.created_ms);
        events.push(event_number(response.last_event));
        commented.push(
            response
                .comment
                .as_deref()
                .is_some_and(|comment| !comment.trim().is_empty()),
        );
        bodies.push(serde_json::to_string(response).expect("stored types always serialize"));
    }
    transaction
        .execute(
            "INSERT INTO responses (survey, identity, created_ms, last_event, commented, body)
             SELECT survey, identity, created_ms, last_event, commented, body::jsonb
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::boolean[],
                         $6::text[])
               AS t(survey, identity, created_ms, last_event, commented, body)
             ON CONFLICT (survey, identity) DO UPDATE SET
               created_ms = excluded.created_ms, last_event = excluded.last_event,
               commented = excluded.commented, body = excluded.body",
            &[
                &surveys,
                &identities,
                &created,
                &events,
                &commented,
                &bodies,
            ],
        )
        .await?;
    Ok(())
}

/// Writes live-feed events: (survey, event, identity).
pub(super) async fn insert_events(
    transaction: &Transaction<'_>,
    events: &[(&str, i64, &str)],
) -> Result<(), tokio_postgres::Error> {
    let (mut surveys, mut numbers, mut identities) = (Vec::new(), Vec::new(), Vec::new());
    for (survey, event, identity) in events {
        surveys.push(*survey);
        numbers.push(*event);
        identities.push(*identity);
    }
    transaction
        .execute(
            "INSERT INTO events (survey, event, identity)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])",
            &[&surveys, &numbers, &identities],
        )
        .await?;
    Ok(())
}

/// Adds counter changes to one shard, in key order, in one statement.
pub(super) async fn add_to_counters(
    transaction: &Transaction<'_>,
    deltas: &BTreeMap<CounterKey, Delta>,
    shard: i16,
) -> Result<(), tokio_postgres::Error> {
    let mut keys = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut slots: Vec<Vec<i64>> = vec![Vec::new(); SLOTS];
    for (key, delta) in deltas {
        if delta.is_zero() {
            continue;
        }
        keys.0.push(key.survey.as_str());
        keys.1.push(key.dimension.as_str());
        keys.2.push(key.grain);
        keys.3.push(key.bucket);
        for (column, change) in slots.iter_mut().zip(delta.slots()) {
            column.push(change);
        }
    }
    if keys.0.is_empty() {
        return Ok(());
    }
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        vec![&keys.0, &keys.1, &keys.2, &keys.3, &shard];
    for column in &slots {
        params.push(column);
    }
    transaction
        .execute(counter_upsert_sql().as_str(), &params)
        .await?;
    Ok(())
}

/// `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE` adding every slot: $1-$4 the keys,
/// $5 the shard, $6… one array per slot.
fn counter_upsert_sql() -> String {
    let slots: Vec<String> = (0..SLOTS).map(|slot| format!("c{slot}")).collect();
    let arrays: Vec<String> = (0..SLOTS)
        .map(|slot| format!("${}::bigint[]", slot + 6))
        .collect();
    let sums: Vec<String> = slots
        .iter()
        .map(|column| format!("{column} = counters.{column} + excluded.{column}"))
        .collect();
    format!(
        "INSERT INTO counters (survey, dimension, grain, bucket, shard, {columns})
         SELECT survey, dimension, grain, bucket, $5, {columns}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], {arrays})
           AS t(survey, dimension, grain, bucket, {columns})
         ON CONFLICT (survey, dimension, grain, bucket, shard) DO UPDATE SET {sums}",
        columns = slots.join(", "),
        arrays = arrays.join(", "),
        sums = sums.join(", "),
    )
}

/// Queues (or re-queues) an alert message at its due time, free for any collector to claim.
pub(super) async fn queue_alert(
    transaction: &Transaction<'_>,
    message: &AlertMessage,
) -> Result<(), tokio_postgres::Error> {
    let body = serde_json::to_string(message).expect("stored types always serialize");
    transaction
        .execute(
            "INSERT INTO outbox (id, survey, due_ms, body) VALUES ($1, $2, $3, $4::text::jsonb)
             ON CONFLICT (id) DO UPDATE SET survey = excluded.survey, due_ms = excluded.due_ms,
               body = excluded.body, claimed_by = NULL, claimed_until_ms = NULL",
            &[
                &event_number(message.id.0),
                &message.survey,
                &message.due_ms,
                &body,
            ],
        )
        .await?;
    Ok(())
}

/// An event number as the database keeps it (every one this store makes fits).
pub(super) fn event_number(event: u64) -> i64 {
    i64::try_from(event).unwrap_or(i64::MAX)
}

/// The advisory lock of one identity: 64 bits of its SHA-256. Two identities sharing one only
/// wait for each other.
fn lock_key(survey: &str, identity: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(survey.as_bytes())
        .chain_update([0])
        .chain_update(identity.as_bytes())
        .finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Requests were checked against the same configuration the writer holds, so every survey is
/// found; if one were not, that write is refused rather than the batch failing.
fn survey_of<'s>(surveys: &'s Surveys, id: &SurveyId) -> Result<&'s Survey, StoreError> {
    surveys
        .get(id.as_str())
        .map(AsRef::as_ref)
        .ok_or_else(|| StoreError::Engine(format!("a write named an unknown survey {id}")))
}

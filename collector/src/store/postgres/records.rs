//! The transaction that applies one batch of writes.
//!
//! It follows the embedded store's (`store/embedded/records.rs`) step for step, and leaves every
//! decision to the domain: `domain::response::answer` merges a rating into its response,
//! `domain::limits` admits what nobody vouched for. What differs is what other collectors
//! writing at the same moment require (see the module above): identities locked before they are
//! read, events numbered by transaction, counters added to one shard, and the anonymous limits'
//! counts checked again once added to.

use super::errors::engine;
use super::limits::Limits;
use super::rows::{
    CounterKey, EVENTS_PER_TRANSACTION, SHARDS, add_to_counters, counter_keys, event_number,
    identity, insert_events, queue_alert, upsert_responses,
};
use crate::domain::calendar::{from_unix_ms, unix_ms};
use crate::domain::registration::{Registered, as_vouched};
use crate::domain::response::{self, Change};
use crate::domain::{Day, Rating, Response, Survey, SurveyId, Surveys};
use crate::store::backend::{
    AlertMessage, OutboxChange, Outcome, RecordError, Recorded, StoreError, Write,
};
use crate::store::counts::{Delta, Metric};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};

/// Times a batch is run again after a deadlock or a serialization failure before its writes
/// are answered with the error.
const ATTEMPTS: usize = 8;

/// Applies `writes` in one transaction and commits it, running it again after a deadlock or a
/// serialization failure, or, with the anonymous limits' counts locked, when another collector
/// took places this batch counted on.
pub(super) async fn apply(
    client: &mut Client,
    surveys: &Surveys,
    writes: &[Write],
    instance: i64,
) -> Result<Vec<Outcome>, StoreError> {
    let mut exact = false;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let transaction = client.transaction().await.map_err(engine)?;
        let result = Batch::new(&transaction, surveys, exact, instance)
            .run(writes)
            .await;
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
pub(super) type Identity = (String, String);

/// One run of a batch inside its transaction, and what its writes add up to.
pub(super) struct Batch<'a, 't> {
    pub(super) transaction: &'a Transaction<'t>,
    surveys: &'a Surveys,
    /// This collector's mark on the alert messages its worker queues.
    instance: i64,
    next_event: i64,
    /// The responses of the batch's identities: as stored, then as this batch left them.
    pub(super) responses: HashMap<Identity, Response>,
    /// Stored records that no longer decode.
    pub(super) corrupt: HashSet<Identity>,
    /// Responses to write at the end.
    pub(super) changed: BTreeSet<Identity>,
    /// Live-feed events: (identity, event), in event order.
    events: Vec<(Identity, i64)>,
    alerts: Vec<AlertMessage>,
    pub(super) counter_deltas: BTreeMap<CounterKey, Delta>,
    /// What the anonymous limits count, as this batch read and changed it.
    pub(super) limits: Limits,
    /// The registrations of the interactions the batch names, keyed (survey, interaction): as
    /// stored, then as this batch left them. Those that no longer decode are in `corrupt`
    /// under (survey, `registration <interaction>`).
    pub(super) registrations: HashMap<Identity, Registered>,
    /// Registrations to write at the end.
    pub(super) changed_registrations: BTreeSet<Identity>,
    /// (survey, response_id) of the widgets shown that new responses answer, marked at the end.
    pub(super) answering: BTreeSet<Identity>,
}

impl<'a, 't> Batch<'a, 't> {
    fn new(
        transaction: &'a Transaction<'t>,
        surveys: &'a Surveys,
        exact: bool,
        instance: i64,
    ) -> Self {
        Self {
            transaction,
            surveys,
            instance,
            next_event: 0,
            responses: HashMap::new(),
            corrupt: HashSet::new(),
            changed: BTreeSet::new(),
            events: Vec::new(),
            alerts: Vec::new(),
            counter_deltas: BTreeMap::new(),
            limits: Limits::new(exact),
            registrations: HashMap::new(),
            changed_registrations: BTreeSet::new(),
            answering: BTreeSet::new(),
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
        self.write_registrations().await?;
        self.answer_impressions().await?;
        self.write_alerts().await?;
        if !self.limits.write(self.transaction, self.surveys).await? {
            return Ok(Attempt::TookPlacesOthersTook);
        }
        self.write_counters().await?;
        Ok(Attempt::Done(outcomes))
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
                Ok(survey) => self
                    .rate(survey, rating, *now, *allowance_left)
                    .await?
                    .map(Box::new),
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
                lang,
                now,
            } => {
                self.click(survey, *score, tags, lang.as_ref(), *now);
                Ok(Outcome::Done)
            }
            Write::Register {
                survey,
                registrations,
                now,
            } => Ok(Outcome::Registered(match survey_of(surveys, survey) {
                Ok(survey) => self.register(survey, registrations, *now).await?,
                Err(error) => Err(error),
            })),
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
        let now_ms = unix_ms(now);
        let registration = match self.vouching_registration(survey, rating, now_ms) {
            Ok(registration) => registration,
            Err(error) => return Ok(Err(error)),
        };
        let rating = match as_vouched(survey, rating, registration.as_ref()) {
            Ok(rating) => rating,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let rating = rating.as_ref();
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
        let lang = change.response().lang.clone();
        let unverified = counted_unverified.then_some((Day::of(now), allowance_left));
        if let Err(refusal) = self
            .limits
            .admit(
                self.transaction,
                survey,
                subject.trusted(),
                &tags,
                lang.as_deref(),
                unverified,
            )
            .await?
        {
            return Ok(Err(refusal.into()));
        }
        if matches!(change, Change::Created(_)) {
            self.answer_invitation(survey, subject, registration);
        }
        if let Some(old) = &previous {
            self.count(old, Metric::Response, old.score, -1);
        }
        let event = self.next_event();
        let stored = change.response_mut();
        stored.last_event = event;
        let stored = stored.clone();
        self.count(&stored, Metric::Response, stored.score, 1);
        self.store_response(key, stored.clone(), event);

        let message = AlertMessage::for_change(survey, alerts, follows_up, event, &stored, now_ms);
        let queued = message.is_some();
        self.alerts.extend(message);
        Ok(Ok(Recorded {
            status: change.status(),
            response: stored,
            event: Some(event),
            alert_queued: queued,
            counted_unverified,
        }))
    }

    /// The number of the batch's next live-feed event.
    pub(super) fn next_event(&mut self) -> u64 {
        let event = self.next_event;
        self.next_event += 1;
        u64::try_from(event).expect("transaction ids are positive")
    }

    /// Keeps a new or changed response, with its live-feed event, for the end of the batch.
    pub(super) fn store_response(&mut self, key: Identity, response: Response, event: u64) {
        self.responses.insert(key.clone(), response);
        self.events.push((key.clone(), event_number(event)));
        self.changed.insert(key);
    }

    /// Adds `by` to `metric` in every counter a response falls in.
    pub(super) fn count(&mut self, response: &Response, metric: Metric, score: u8, by: i64) {
        let created = from_unix_ms(response.created_ms);
        let lang = response.lang.as_deref();
        for key in counter_keys(&response.survey, &response.tags, lang, created) {
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
            queue_alert(self.transaction, message, Some(self.instance)).await?;
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

    /// Writes every registration the batch changed, in one statement.
    async fn write_registrations(&mut self) -> Result<(), tokio_postgres::Error> {
        if self.changed_registrations.is_empty() {
            return Ok(());
        }
        let (mut surveys, mut interactions, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
        for key in &self.changed_registrations {
            surveys.push(key.0.as_str());
            interactions.push(key.1.as_str());
            bodies.push(
                serde_json::to_string(&self.registrations[key])
                    .expect("stored types always serialize"),
            );
        }
        self.transaction
            .execute(
                "INSERT INTO registrations (survey, interaction, body)
                 SELECT survey, interaction, body::jsonb
                 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(survey, interaction, body)
                 ON CONFLICT (survey, interaction) DO UPDATE SET body = excluded.body",
                &[&surveys, &interactions, &bodies],
            )
            .await?;
        Ok(())
    }

    async fn write_alerts(&mut self) -> Result<(), tokio_postgres::Error> {
        for message in &self.alerts {
            queue_alert(self.transaction, message, None).await?;
        }
        Ok(())
    }

    /// Adds the batch's counter changes to one shard, chosen for this transaction.
    async fn write_counters(&mut self) -> Result<(), tokio_postgres::Error> {
        let shard: i16 = rand::random::<i16>().rem_euclid(SHARDS);
        add_to_counters(self.transaction, &self.counter_deltas, shard).await
    }
}

/// Requests were checked against the same configuration the writer holds, so every survey is
/// found; if one were not, that write is refused rather than the batch failing.
fn survey_of<'s>(surveys: &'s Surveys, id: &SurveyId) -> Result<&'s Survey, StoreError> {
    surveys
        .get(id.as_str())
        .map(AsRef::as_ref)
        .ok_or_else(|| StoreError::Engine(format!("a write named an unknown survey {id}")))
}

//! Filling an empty database with another store's records (`collector migrate`).
//!
//! Everything goes in one transaction, so a migration that fails leaves the database as empty
//! as it found it, and collectors started on it meanwhile see nothing half-copied. Records are
//! written a chunk at a time; counters are rebuilt from the responses, impressions and
//! registrations (and the unconfirmed clicks, which no record backs, are carried over), and the
//! distinct values per tag from the tag values.

use super::errors::engine;
use super::rows::{
    CounterKey, EVENTS_PER_TRANSACTION, add_to_counters, counter_keys, event_number, grain_name,
    identity, insert_events, queue_alert, upsert_responses,
};
use crate::domain::Response;
use crate::domain::calendar::from_unix_ms;
use crate::domain::survey::LANG_DIMENSION;
use crate::store::backend::{AlertMessage, Dimension, Record, StoreError};
use crate::store::counts::{Delta, Metric};
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::Transaction;

/// Records held before they are written.
pub(super) const CHUNK: usize = 5_000;

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub responses: u64,
    pub events: u64,
    pub impressions: u64,
    pub registrations: u64,
    pub alerts: u64,
    pub records: u64,
}

/// An impression as its row takes it, its tags as JSON.
struct ImportedImpression {
    survey: String,
    response_id: String,
    at_ms: i64,
    tags: String,
    lang: Option<String>,
    answered: bool,
    uncounted: bool,
}

#[derive(Default)]
pub(super) struct Importer {
    responses: Vec<Response>,
    events: Vec<(String, i64, String)>,
    impressions: Vec<ImportedImpression>,
    /// (survey, interaction, body as JSON).
    registrations: Vec<(String, String, String)>,
    tag_values: Vec<(String, String, String)>,
    alerts: Vec<AlertMessage>,
    undelivered: Vec<AlertMessage>,
    counters: BTreeMap<CounterKey, Delta>,
    distinct_values: HashMap<(String, String), i64>,
    unverified: Vec<(String, String, i64)>,
    /// The highest event number (and alert id) seen: new ones must come after it.
    newest_event: u64,
    held: usize,
    pub(super) imported: Imported,
}

impl Importer {
    /// Takes one record; `true` when a chunk is ready to be written.
    pub(super) fn add(&mut self, record: Record) -> bool {
        self.imported.records += 1;
        self.held += 1;
        match record {
            Record::Response(response) => {
                self.imported.responses += 1;
                let created = from_unix_ms(response.created_ms);
                let lang = response.lang.as_deref();
                for key in counter_keys(&response.survey, &response.tags, lang, created) {
                    self.counters
                        .entry(key)
                        .or_default()
                        .add(Metric::Response, response.score, 1);
                }
                self.newest_event = self.newest_event.max(response.last_event);
                self.responses.push(response);
            }
            Record::Event {
                sequence,
                survey,
                interaction,
                response_id,
            } => {
                self.imported.events += 1;
                self.newest_event = self.newest_event.max(sequence);
                let identity = identity(interaction.as_deref(), &response_id);
                self.events.push((survey, event_number(sequence), identity));
            }
            Record::Impression {
                survey,
                response_id,
                at_ms,
                tags,
                lang,
                answered,
                uncounted,
            } => {
                self.imported.impressions += 1;
                for key in counter_keys(&survey, &tags, lang.as_deref(), from_unix_ms(at_ms)) {
                    let delta = self.counters.entry(key).or_default();
                    if !uncounted {
                        delta.add(Metric::Impression, 0, 1);
                    }
                    if answered {
                        delta.add(Metric::Answered, 0, 1);
                    }
                }
                let tags = serde_json::to_string(&tags).expect("tags always serialize");
                self.impressions.push(ImportedImpression {
                    survey,
                    response_id,
                    at_ms,
                    tags,
                    lang,
                    answered,
                    uncounted,
                });
            }
            Record::Registration {
                survey,
                interaction,
                registered,
            } => {
                self.imported.registrations += 1;
                let at = from_unix_ms(registered.at_ms);
                for key in counter_keys(&survey, &registered.tags, None, at) {
                    let delta = self.counters.entry(key).or_default();
                    delta.add(Metric::Registration, 0, 1);
                    if registered.answered {
                        delta.add(Metric::Answered, 0, 1);
                    }
                }
                let body =
                    serde_json::to_string(&registered).expect("stored types always serialize");
                self.registrations.push((survey, interaction, body));
            }
            Record::TagValue { survey, tag, value } => {
                // Languages are noted like a tag's values but never limited, so not counted.
                if tag != LANG_DIMENSION {
                    *self
                        .distinct_values
                        .entry((survey.clone(), format!("tag {tag}")))
                        .or_default() += 1;
                }
                self.tag_values.push((survey, tag, value));
            }
            Record::UnverifiedCount { survey, day, count } => {
                let count = i64::try_from(count).unwrap_or(i64::MAX);
                self.unverified
                    .push((survey, format!("unverified {day}"), count));
            }
            Record::Alert(message) => {
                self.imported.alerts += 1;
                self.newest_event = self.newest_event.max(message.id.0);
                self.alerts.push(message);
            }
            Record::Undelivered(message) => {
                self.newest_event = self.newest_event.max(message.id.0);
                self.undelivered.push(message);
            }
            Record::Clicks {
                survey,
                tag,
                grain,
                bucket,
                count,
            } => {
                let dimension = match &tag {
                    Some((tag, value)) => Dimension::Tag(tag, value),
                    None => Dimension::All,
                };
                let key = CounterKey {
                    survey,
                    dimension: super::rows::dimension_name(&dimension),
                    grain: grain_name(grain),
                    bucket: i64::from(bucket),
                };
                self.counters.entry(key).or_default().add(
                    Metric::UnconfirmedClick,
                    0,
                    i64::try_from(count).unwrap_or(i64::MAX),
                );
            }
        }
        self.held >= CHUNK
    }

    /// Writes the records held.
    pub(super) async fn write(&mut self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        self.held = 0;
        let responses: Vec<&Response> = self.responses.iter().collect();
        if !responses.is_empty() {
            upsert_responses(transaction, &responses)
                .await
                .map_err(engine)?;
        }
        self.responses.clear();
        if !self.events.is_empty() {
            let events: Vec<(&str, i64, &str)> = self
                .events
                .iter()
                .map(|(survey, event, identity)| (survey.as_str(), *event, identity.as_str()))
                .collect();
            insert_events(transaction, &events).await.map_err(engine)?;
            self.events.clear();
        }
        if !self.impressions.is_empty() {
            let impressions = &self.impressions;
            let surveys: Vec<&str> = impressions.iter().map(|i| i.survey.as_str()).collect();
            let ids: Vec<&str> = impressions.iter().map(|i| i.response_id.as_str()).collect();
            let at_ms: Vec<i64> = impressions.iter().map(|i| i.at_ms).collect();
            let tags: Vec<&str> = impressions.iter().map(|i| i.tags.as_str()).collect();
            let langs: Vec<Option<&str>> = impressions.iter().map(|i| i.lang.as_deref()).collect();
            let answered: Vec<bool> = impressions.iter().map(|i| i.answered).collect();
            let uncounted: Vec<bool> = impressions.iter().map(|i| i.uncounted).collect();
            transaction
                .execute(
                    "INSERT INTO impressions
                       (survey, response_id, at_ms, tags, lang, answered, uncounted)
                     SELECT survey, response_id, at_ms, tags::jsonb, lang, answered, uncounted
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                                 $6::boolean[], $7::boolean[])
                       AS t(survey, response_id, at_ms, tags, lang, answered, uncounted)",
                    &[&surveys, &ids, &at_ms, &tags, &langs, &answered, &uncounted],
                )
                .await
                .map_err(engine)?;
            self.impressions.clear();
        }
        if !self.registrations.is_empty() {
            let mut columns: (Vec<&str>, Vec<&str>, Vec<&str>) = Default::default();
            for (survey, interaction, body) in &self.registrations {
                columns.0.push(survey);
                columns.1.push(interaction);
                columns.2.push(body);
            }
            transaction
                .execute(
                    "INSERT INTO registrations (survey, interaction, body)
                     SELECT survey, interaction, body::jsonb
                     FROM unnest($1::text[], $2::text[], $3::text[]) AS t(survey, interaction, body)",
                    &[&columns.0, &columns.1, &columns.2],
                )
                .await
                .map_err(engine)?;
            self.registrations.clear();
        }
        if !self.tag_values.is_empty() {
            let mut columns: (Vec<&str>, Vec<&str>, Vec<&str>) = Default::default();
            for (survey, tag, value) in &self.tag_values {
                columns.0.push(survey);
                columns.1.push(tag);
                columns.2.push(value);
            }
            transaction
                .execute(
                    "INSERT INTO tag_values (survey, tag, value)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
                    &[&columns.0, &columns.1, &columns.2],
                )
                .await
                .map_err(engine)?;
            self.tag_values.clear();
        }
        for message in self.alerts.drain(..) {
            queue_alert(transaction, &message, None)
                .await
                .map_err(engine)?;
        }
        for message in self.undelivered.drain(..) {
            let body = serde_json::to_string(&message).expect("stored types always serialize");
            transaction
                .execute(
                    "INSERT INTO undelivered (survey, id, body) VALUES ($1, $2, $3::text::jsonb)",
                    &[&message.survey, &event_number(message.id.0), &body],
                )
                .await
                .map_err(engine)?;
        }
        Ok(())
    }

    /// Writes what is left, the counters and the limits' counts, after checking that the
    /// events this database will number from now on come after every one copied.
    pub(super) async fn finish(&mut self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        self.write(transaction).await?;
        let next: i64 = transaction
            .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
            .await
            .map_err(engine)?
            .get(0);
        if event_number(self.newest_event) >= next * EVENTS_PER_TRANSACTION {
            return Err(StoreError::Engine(format!(
                "the store's live-feed events reach {}, past where this database numbers new ones ({}): it is too large to migrate this way",
                self.newest_event,
                next * EVENTS_PER_TRANSACTION
            )));
        }
        add_to_counters(transaction, &self.counters, 0)
            .await
            .map_err(engine)?;
        let counts = self
            .distinct_values
            .iter()
            .map(|((survey, what), count)| (survey.clone(), what.clone(), *count))
            .chain(self.unverified.drain(..));
        for (survey, what, count) in counts {
            transaction
                .execute(
                    "INSERT INTO limit_counts (survey, what, count) VALUES ($1, $2, $3)",
                    &[&survey, &what, &count],
                )
                .await
                .map_err(engine)?;
        }
        Ok(())
    }
}

/// Refuses a database that holds anything already: a migration fills an empty one.
pub(super) async fn refuse_unless_empty(transaction: &Transaction<'_>) -> Result<(), StoreError> {
    let holds: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM responses) OR EXISTS (SELECT 1 FROM events)
                 OR EXISTS (SELECT 1 FROM impressions) OR EXISTS (SELECT 1 FROM counters)
                 OR EXISTS (SELECT 1 FROM outbox) OR EXISTS (SELECT 1 FROM undelivered)
                 OR EXISTS (SELECT 1 FROM tag_values) OR EXISTS (SELECT 1 FROM limit_counts)
                 OR EXISTS (SELECT 1 FROM registrations)",
            &[],
        )
        .await
        .map_err(engine)?
        .get(0);
    if holds {
        return Err(StoreError::Engine(
            "the database already holds a store: migrate into a new, empty database".into(),
        ));
    }
    Ok(())
}

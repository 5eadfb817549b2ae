//! How the store's records become rows: identities, counter keys, event numbers, and the
//! statements that write responses, events, counters and alert messages, shared by the batch
//! transaction (`records`), the import (`import`), the reads and the audit.

use super::outbox::claim_until;
use crate::domain::survey::LANG_DIMENSION;
use crate::domain::{Day, Hour, Response};
use crate::store::backend::{AlertMessage, Dimension, Grain};
use crate::store::counts::{Delta, SLOTS};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tokio_postgres::Transaction;

/// Counter rows per (survey, dimension, grain, bucket). Two collectors' batches land on the
/// same shard one time in this many; a read sums this many rows per bucket.
pub const SHARDS: i16 = 8;

/// Event numbers one transaction may use: `transaction id × EVENTS_PER_TRANSACTION + n`. The
/// writer's batches hold 512 writes at most.
pub(super) const EVENTS_PER_TRANSACTION: i64 = 1 << 16;

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

/// The day and hour counters of every dimension a tagged event falls in: the survey's, each of
/// its tags', and its language's (counted like a tag named `lang`, which no survey may have).
pub(super) fn counter_keys(
    survey: &str,
    tags: &BTreeMap<String, String>,
    lang: Option<&str>,
    at: OffsetDateTime,
) -> Vec<CounterKey> {
    let (day, hour) = (i64::from(Day::of(at).0), i64::from(Hour::of(at).0));
    let dimensions = std::iter::once(Dimension::All)
        .chain(tags.iter().map(|(k, v)| Dimension::Tag(k, v)))
        .chain(lang.map(|lang| Dimension::Tag(LANG_DIMENSION, lang)));
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

/// Queues (or re-queues) an alert message at its due time. A rating's new message is free for
/// any collector to claim (`worker: None`). One a collector's alert worker queues (merged,
/// sealed, held back or rescheduled) stays that collector's until `outbox::CLAIM` after it
/// falls due: the worker posts a message it has just sealed in the same round, and another
/// collector claiming it meanwhile would post it a second time.
pub(super) async fn queue_alert(
    transaction: &Transaction<'_>,
    message: &AlertMessage,
    worker: Option<i64>,
) -> Result<(), tokio_postgres::Error> {
    let body = serde_json::to_string(message).expect("stored types always serialize");
    let claimed_until_ms = worker.map(|_| claim_until(message.due_ms));
    transaction
        .execute(
            "INSERT INTO outbox (id, survey, due_ms, body, claimed_by, claimed_until_ms)
             VALUES ($1, $2, $3, $4::text::jsonb, $5, $6)
             ON CONFLICT (id) DO UPDATE SET survey = excluded.survey, due_ms = excluded.due_ms,
               body = excluded.body, claimed_by = excluded.claimed_by,
               claimed_until_ms = excluded.claimed_until_ms",
            &[
                &event_number(message.id.0),
                &message.survey,
                &message.due_ms,
                &body,
                &worker,
                &claimed_until_ms,
            ],
        )
        .await?;
    Ok(())
}

/// An event number as the database keeps it (every one this store makes fits).
pub(super) fn event_number(event: u64) -> i64 {
    i64::try_from(event).unwrap_or(i64::MAX)
}

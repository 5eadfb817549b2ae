//! Reads: counters (summed over their shards), tag values, responses, comments, and the live
//! feed's events below the frontier.

use super::errors::engine;
use super::rows::{EVENTS_PER_TRANSACTION, dimension_name, event_number, grain_name};
use crate::domain::Response;
use crate::domain::calendar::unix_ms;
use crate::domain::figures::Tally;
use crate::domain::registration::Registered;
use crate::store::backend::{CommentPage, CommentQuery, Dimension, EventBatch, Grain, StoreError};
use crate::store::counts::{Counts, SLOTS};
use std::collections::BTreeMap;
use tokio_postgres::{Client, Row};

/// Responses fetched per round trip while visiting a survey's responses.
const VISIT_CHUNK: i32 = 1_000;

/// `sum(c0)::bigint, …`: every slot of a counter, summed over its shards.
fn summed_slots() -> String {
    (0..SLOTS)
        .map(|slot| format!("sum(c{slot})::bigint"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The counts in `row`'s columns `first..first + SLOTS`.
pub(super) fn counts_at(row: &Row, first: usize) -> Counts {
    let mut slots = [0; SLOTS];
    for (slot, value) in slots.iter_mut().enumerate() {
        *value = row.get(first + slot);
    }
    Counts::from_slots(slots)
}

pub(super) fn decode(body: &str) -> Result<Response, StoreError> {
    serde_json::from_str(body).map_err(|_| StoreError::Corrupt("response".into()))
}

pub(super) async fn tallies(
    client: &Client,
    survey: &str,
    dimension: &Dimension<'_>,
    grain: Grain,
    from: u32,
    to: u32,
) -> Result<BTreeMap<u32, Tally>, StoreError> {
    let sql = format!(
        "SELECT bucket, {} FROM counters
         WHERE survey = $1 AND dimension = $2 AND grain = $3 AND bucket BETWEEN $4 AND $5
         GROUP BY bucket",
        summed_slots()
    );
    let rows = client
        .query(
            sql.as_str(),
            &[
                &survey,
                &dimension_name(dimension),
                &grain_name(grain),
                &i64::from(from),
                &i64::from(to),
            ],
        )
        .await
        .map_err(engine)?;
    let mut tallies = BTreeMap::new();
    for row in rows {
        let counts = counts_at(&row, 1);
        if let (Ok(bucket), false) = (u32::try_from(row.get::<_, i64>(0)), counts.is_zero()) {
            tallies.insert(bucket, counts.tally());
        }
    }
    Ok(tallies)
}

pub(super) async fn tag_values(
    client: &Client,
    survey: &str,
    tag: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = client
        .query(
            "SELECT value FROM tag_values WHERE survey = $1 AND tag = $2 ORDER BY value",
            &[&survey, &tag],
        )
        .await
        .map_err(engine)?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// The registration of an interaction, if any.
pub(super) async fn registration(
    client: &Client,
    survey: &str,
    interaction: &str,
) -> Result<Option<Registered>, StoreError> {
    client
        .query_opt(
            "SELECT body::text FROM registrations WHERE survey = $1 AND interaction = $2",
            &[&survey, &interaction],
        )
        .await
        .map_err(engine)?
        .map(|row| {
            serde_json::from_str(row.get(0)).map_err(|_| StoreError::Corrupt("registration".into()))
        })
        .transpose()
}

pub(super) async fn find(
    client: &Client,
    survey: &str,
    identity: &str,
) -> Result<Option<Response>, StoreError> {
    client
        .query_opt(
            "SELECT body::text FROM responses WHERE survey = $1 AND identity = $2",
            &[&survey, &identity],
        )
        .await
        .map_err(engine)?
        .map(|row| decode(row.get(0)))
        .transpose()
}

/// A read of every response of one survey (of every survey when `None`), from one snapshot, a
/// chunk at a time: the caller decides where each chunk is handled (an export's visitor may
/// block, so it must not run on the store's runtime).
pub(super) struct ResponseScan<'c> {
    transaction: tokio_postgres::Transaction<'c>,
    portal: tokio_postgres::Portal,
    done: bool,
}

impl<'c> ResponseScan<'c> {
    pub(super) async fn start(
        client: &'c mut Client,
        survey: Option<&str>,
    ) -> Result<Self, StoreError> {
        let transaction = client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .map_err(engine)?;
        let portal = transaction
            .bind(
                "SELECT body::text FROM responses WHERE $1::text IS NULL OR survey = $1
                 ORDER BY survey, identity",
                &[&survey],
            )
            .await
            .map_err(engine)?;
        Ok(Self {
            transaction,
            portal,
            done: false,
        })
    }

    /// The next chunk; empty once every response was read.
    pub(super) async fn next_chunk(&mut self) -> Result<Vec<Response>, StoreError> {
        if self.done {
            return Ok(Vec::new());
        }
        let rows = self
            .transaction
            .query_portal(&self.portal, VISIT_CHUNK)
            .await
            .map_err(engine)?;
        self.done = rows.len() < usize::try_from(VISIT_CHUNK).unwrap_or(usize::MAX);
        rows.iter().map(|row| decode(row.get(0))).collect()
    }
}

/// The first event number no reader may pass yet: every transaction below it has ended.
const FRONTIER: &str = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint * 65536)";

/// Up to `limit` events of `survey` in `first..=until` that are below the frontier, each with
/// its response as it is now, and the last position looked at: never past the frontier, so a
/// change committed later is never skipped.
pub(super) async fn events(
    client: &Client,
    survey: &str,
    first: u64,
    until: u64,
    limit: usize,
) -> Result<EventBatch, StoreError> {
    debug_assert_eq!(EVENTS_PER_TRANSACTION, 65_536, "FRONTIER's factor");
    let frontier: i64 = client
        .query_one(format!("SELECT {FRONTIER}").as_str(), &[])
        .await
        .map_err(engine)?
        .get(0);
    let last_readable = event_number(until).min(frontier - 1);
    let rows = client
        .query(
            "SELECT e.event, r.body::text FROM events e
             JOIN responses r ON r.survey = e.survey AND r.identity = e.identity
             WHERE e.survey = $1 AND e.event BETWEEN $2 AND $3
             ORDER BY e.event LIMIT $4",
            &[
                &survey,
                &event_number(first),
                &last_readable,
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await
        .map_err(engine)?;
    let mut batch = EventBatch::default();
    let full = rows.len() == limit;
    for row in rows {
        let sequence = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        batch.events.push((sequence, decode(row.get(1))?));
        batch.last_seen = Some(sequence);
    }
    if !full {
        // Everything up to the frontier was looked at; below `first`, nothing moved.
        batch.last_seen = u64::try_from(last_readable)
            .ok()
            .filter(|&seen| seen >= first)
            .or_else(|| first.checked_sub(1));
    }
    Ok(batch)
}

/// The newest event below the frontier, of any survey.
pub(super) async fn newest_event(client: &Client) -> Result<Option<u64>, StoreError> {
    let row = client
        .query_one(
            format!("SELECT max(event) FROM events WHERE event < {FRONTIER}").as_str(),
            &[],
        )
        .await
        .map_err(engine)?;
    Ok(row
        .get::<_, Option<i64>>(0)
        .and_then(|event| u64::try_from(event).ok()))
}

/// A page of commented responses created in range, newest change first, each once (at its
/// latest change, which is all a response keeps).
pub(super) async fn comments(
    client: &Client,
    query: &CommentQuery,
) -> Result<CommentPage, StoreError> {
    let from_ms = unix_ms(query.from.start());
    let until_ms = unix_ms(crate::domain::Day(query.to.0 + 1).start());
    let before = query.before.map_or(i64::MAX, event_number);
    let (tag, value) = match &query.tag {
        Some((tag, value)) => (Some(tag.as_str()), Some(value.as_str())),
        None => (None, None),
    };
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT body::text FROM responses
             WHERE survey = $1 AND commented AND last_event < $2
               AND created_ms >= $3 AND created_ms < $4
               AND ($5::text IS NULL OR body -> 'tags' ->> $5 = $6)
             ORDER BY last_event DESC LIMIT $7::bigint + 1",
            &[
                &query.survey.as_str(),
                &before,
                &from_ms,
                &until_ms,
                &tag,
                &value,
                &limit,
            ],
        )
        .await
        .map_err(engine)?;
    let mut page = CommentPage::default();
    for row in rows {
        if page.comments.len() == query.limit {
            // More remain: the next page starts below the last one shown.
            page.next_before = page.comments.last().map(|shown| shown.last_event);
            break;
        }
        page.comments.push(decode(row.get(0))?);
    }
    Ok(page)
}

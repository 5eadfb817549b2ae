//! Alert messages waiting for their webhook, shared by every collector's alert worker, and
//! those set aside as undelivered.
//!
//! A worker's round claims what it reads: the due messages nobody else holds are marked with
//! this collector's mark until `CLAIM` from now, under `FOR UPDATE SKIP LOCKED`, so two
//! collectors' rounds at the same moment each take different messages instead of waiting for
//! each other or posting the same one. A message this collector claimed stays its own (its
//! worker merges and seals it over several rounds), and so does what its worker queues in its
//! place (merged, sealed, held back, rescheduled) until `CLAIM` after it falls due: the round
//! that seals a message posts it, and no other collector may post it meanwhile. Only a rating's
//! new message enters the outbox free.

use super::errors::engine;
use crate::store::backend::{AlertMessage, DueAlerts, OutboxKey, StoreError};
use std::time::Duration;
use tokio_postgres::Client;

/// How long an alert worker's claim on a message keeps the other collectors off it: longer than
/// a round of posts takes (each post gives up after 10 s).
pub const CLAIM: Duration = Duration::from_secs(60);

/// When a claim taken at `from_ms` (or on a message due then) runs out.
pub(super) fn claim_until(from_ms: i64) -> i64 {
    from_ms.saturating_add(i64::try_from(CLAIM.as_millis()).unwrap_or(i64::MAX))
}

pub(super) async fn claim_due(
    client: &Client,
    instance: i64,
    now_ms: i64,
    limit: usize,
) -> Result<DueAlerts, StoreError> {
    let until_ms = claim_until(now_ms);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "UPDATE outbox SET claimed_by = $2, claimed_until_ms = $3
             WHERE id IN (
                 SELECT id FROM outbox
                 WHERE due_ms <= $1
                   AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until_ms <= $1)
                 ORDER BY due_ms, id LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, due_ms, body::text",
            &[&now_ms, &instance, &until_ms, &limit],
        )
        .await
        .map_err(engine)?;
    let mut found = DueAlerts::default();
    let mut claimed: Vec<(i64, i64, String)> = rows
        .into_iter()
        .map(|row| (row.get(1), row.get(0), row.get(2)))
        .collect();
    claimed.sort_unstable_by_key(|(due, id, _)| (*due, *id));
    let full = i64::try_from(claimed.len()).unwrap_or(i64::MAX) == limit;
    for (due_ms, id, body) in claimed {
        match serde_json::from_str::<AlertMessage>(&body) {
            Ok(message) => found.due.push(message),
            Err(_) => found.unreadable.push(OutboxKey {
                due_ms,
                id: crate::store::backend::AlertId(u64::try_from(id).unwrap_or(0)),
            }),
        }
    }
    if full {
        // More are due than one round takes: the next round follows at once.
        found.next_due_ms = Some(now_ms);
        return Ok(found);
    }
    // The next message to fall due, or another collector's claim to run out.
    let next: Option<i64> = client
        .query_one(
            "SELECT least(
                 (SELECT due_ms FROM outbox WHERE due_ms > $1 ORDER BY due_ms, id LIMIT 1),
                 (SELECT min(claimed_until_ms) FROM outbox
                  WHERE due_ms <= $1 AND claimed_by <> $2 AND claimed_until_ms > $1))",
            &[&now_ms, &instance],
        )
        .await
        .map_err(engine)?
        .get(0);
    found.next_due_ms = next;
    Ok(found)
}

/// Up to `limit` of a survey's messages set aside, newest first.
pub(super) async fn undelivered(
    client: &Client,
    survey: &str,
    limit: usize,
) -> Result<Vec<AlertMessage>, StoreError> {
    let rows = client
        .query(
            "SELECT body::text FROM undelivered WHERE survey = $1 ORDER BY id DESC LIMIT $2",
            &[&survey, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(engine)?;
    rows.iter()
        .map(|row| {
            serde_json::from_str(row.get(0)).map_err(|_| StoreError::Corrupt("alert".into()))
        })
        .collect()
}

pub(super) async fn undelivered_count(client: &Client) -> Result<u64, StoreError> {
    let count: i64 = client
        .query_one("SELECT count(*) FROM undelivered", &[])
        .await
        .map_err(engine)?
        .get(0);
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Hands back every claim of this collector.
pub(super) async fn release(client: &Client, instance: i64) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE outbox SET claimed_by = NULL, claimed_until_ms = NULL WHERE claimed_by = $1",
            &[&instance],
        )
        .await
        .map_err(engine)?;
    Ok(())
}

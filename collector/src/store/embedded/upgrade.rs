//! Bringing a store written by an older version up to today's format, once, when it is opened.
//!
//! Each step checks whether there is anything left to do, does it in one atomic batch, and
//! records that it is done; a crash leaves either the old format or the new one, and running it
//! again finds nothing left to change.

use super::counts::{Counts, Delta};
use super::keys;
use super::trees::{EmbeddedStore, decode, encode};
use crate::domain::Response;
use crate::domain::calendar::unix_ms;
use crate::store::backend::{AlertId, PendingAlert, StoreError};
use pulsetap_wire::ResponseRecord;
use serde::Deserialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Key in the default tree saying how the `counters` tree is laid out.
const COUNTERS_FORMAT: &[u8] = b"counters-format";
const COUNTERS_FORMAT_BUCKETS: &[u8] = b"buckets";
/// Key in the default tree saying how the `outbox` tree is laid out.
const OUTBOX_FORMAT: &[u8] = b"outbox-format";
const OUTBOX_FORMAT_PENDING: &[u8] = b"pending-alert";

pub(super) fn run(store: &EmbeddedStore) -> Result<(), StoreError> {
    fold_counters(store)?;
    convert_outbox(store)?;
    Ok(())
}

/// Stores written before one counter value held every count of a bucket kept a u64 per
/// (bucket, metric, score). Folds those into today's values.
fn fold_counters(store: &EmbeddedStore) -> Result<(), StoreError> {
    if store.db.get(COUNTERS_FORMAT)?.as_deref() == Some(COUNTERS_FORMAT_BUCKETS) {
        return Ok(());
    }
    let mut folded: BTreeMap<Vec<u8>, Delta> = BTreeMap::new();
    let mut upgrade = sled::Batch::default();
    for entry in store.counters.iter() {
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
        let current = store
            .counters
            .get(&key)?
            .map_or_else(Counts::default, |value| Counts::decode(&value));
        upgrade.insert(key, delta.applied_to(current).encode());
    }
    store.counters.apply_batch(upgrade)?;
    store.db.insert(COUNTERS_FORMAT, COUNTERS_FORMAT_BUCKETS)?;
    store.db.flush()?;
    Ok(())
}

/// An alert as stores kept it before the outbox had its own type: with the response as the API
/// shows it.
#[derive(Deserialize)]
struct LegacyAlert {
    webhook: String,
    idempotency_key: String,
    record: ResponseRecord,
    attempts: u32,
    next_attempt_ms: i64,
}

/// Rewrites alerts kept in the older layout as `PendingAlert`s. One that can't be read in
/// either layout is dropped with an error in the log: nothing could ever deliver it.
fn convert_outbox(store: &EmbeddedStore) -> Result<(), StoreError> {
    if store.db.get(OUTBOX_FORMAT)?.as_deref() == Some(OUTBOX_FORMAT_PENDING) {
        return Ok(());
    }
    let mut upgrade = sled::Batch::default();
    for entry in store.outbox.iter() {
        let (key, value) = entry?;
        if decode::<PendingAlert>(&value, "alert").is_ok() {
            continue;
        }
        let converted = keys::event_sequence(&key).and_then(|id| {
            let legacy: LegacyAlert = decode(&value, "alert").ok()?;
            Some(PendingAlert {
                id: AlertId(id),
                webhook: legacy.webhook,
                idempotency_key: legacy.idempotency_key,
                response: response_of(legacy.record)?,
                attempts: legacy.attempts,
                next_attempt_ms: legacy.next_attempt_ms,
            })
        });
        match converted {
            Some(alert) => upgrade.insert(key, encode(&alert)),
            None => {
                tracing::error!("dropping an alert in the outbox that can't be read");
                upgrade.remove(key);
            }
        }
    }
    store.outbox.apply_batch(upgrade)?;
    store.db.insert(OUTBOX_FORMAT, OUTBOX_FORMAT_PENDING)?;
    store.db.flush()?;
    Ok(())
}

/// The response a legacy alert carried, back from the API's shape (times at second precision).
fn response_of(record: ResponseRecord) -> Option<Response> {
    let ms = |text: &str| OffsetDateTime::parse(text, &Rfc3339).ok().map(unix_ms);
    let history = record
        .history
        .iter()
        .map(|change| Some((change.score, ms(&change.at)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(Response {
        survey: record.survey,
        response_id: record.response_id,
        interaction: record.interaction,
        score: record.score,
        tags: record.tags,
        comment: record.comment,
        lang: record.lang,
        // Only signed or verified ratings could tell; an alert does not need to know.
        signed: false,
        created_ms: ms(&record.created_at)?,
        updated_ms: ms(&record.updated_at)?,
        history,
        last_event: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Day;
    use crate::store::backend::{Backend, Dimension};

    #[test]
    fn counters_of_an_older_store_are_folded_into_buckets_once_and_keep_their_counts() {
        let dir = tempfile::tempdir().unwrap();
        let day = 20_000;
        let all = keys::counter(
            "support",
            &Dimension::All,
            crate::store::backend::Grain::Day,
            day,
        );
        let ana = keys::counter(
            "support",
            &Dimension::Tag("agent", "ana"),
            crate::store::backend::Grain::Day,
            day,
        );
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
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
            let store = EmbeddedStore::open(dir.path()).unwrap();
            let total = |dimension: &Dimension<'_>| {
                store
                    .tallies(
                        "support",
                        dimension,
                        crate::store::backend::Grain::Day,
                        day,
                        day,
                    )
                    .unwrap()[&Day(day).0]
            };
            let survey = total(&Dimension::All);
            assert_eq!(
                survey.by_score[..6],
                [0, 1, 0, 0, 0, 3],
                "by score, 0 first"
            );
            assert_eq!((survey.impressions, survey.unconfirmed_clicks), (7, 2));
            let agent = total(&Dimension::Tag("agent", "ana"));
            assert_eq!(agent.by_score[..6], [0, 0, 0, 0, 0, 3]);
            assert_eq!(
                store.counters.len(),
                2,
                "one value per bucket, nothing left over"
            );
        }
    }

    #[test]
    fn an_alert_kept_in_the_older_layout_is_converted_and_keeps_its_retry_state() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = serde_json::json!({
            "webhook": "https://hooks.example.com/x",
            "idempotency_key": "support-7",
            "record": {
                "survey": "support", "response_id": "r1", "interaction": "chat-1", "score": 1,
                "tags": {"agent": "alice"}, "comment": "slow",
                "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:05:00Z",
                "history": [{"score": 1, "at": "2026-11-23T10:00:00Z"}]
            },
            "attempts": 3,
            "next_attempt_ms": 1_800_000_000_000i64
        });
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .outbox
                .insert(keys::event(7), serde_json::to_vec(&legacy).unwrap())
                .unwrap();
            store
                .outbox
                .insert(keys::event(8), &b"not json"[..])
                .unwrap();
            store.db.remove(OUTBOX_FORMAT).unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let found = store.due_alerts(i64::MAX, 10).unwrap();
        assert_eq!(found.due.len(), 1);
        assert!(
            found.unreadable.is_empty(),
            "the unreadable one was dropped"
        );
        let alert = &found.due[0];
        assert_eq!(alert.id, AlertId(7));
        assert_eq!(
            (alert.attempts, alert.idempotency_key.as_str()),
            (3, "support-7")
        );
        assert_eq!(alert.response.comment.as_deref(), Some("slow"));
        assert_eq!(alert.response.tags["agent"], "alice");
        assert_eq!(alert.response.created_ms, 1_795_428_000_000);
    }
}

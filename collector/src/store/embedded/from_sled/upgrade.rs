//! Bringing a sled store written by an older version up to sled's last format, before it is
//! carried over to fjall (the module above).
//!
//! Each step checks whether there is anything left to do, does it in one atomic batch, and
//! records that it is done; a crash leaves either the old format or the new one, and running it
//! again finds nothing left to change.

use super::super::keys;
use super::super::trees::{decode, encode};
use super::SledStore;
use crate::domain::Response;
use crate::domain::calendar::unix_ms;
use crate::store::backend::{AlertId, AlertMessage, Notice, NoticeKind, StoreError};
use crate::store::counts::{Counts, Delta};
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
/// Messages keyed by due time (`keys::outbox_due`). Before: one alert per rating under its event
/// number (`pending-alert`), and before that with the response as the API shows it.
const OUTBOX_FORMAT_DUE: &[u8] = b"due-messages";
/// Key in the default tree saying the `limits` tree counts every tag's values.
const TAG_VALUE_COUNTS: &[u8] = b"tag-value-counts";
const TAG_VALUE_COUNTS_KEPT: &[u8] = b"kept";
/// Key in the default tree saying impressions know whether they were answered.
const ANSWERED_IMPRESSIONS: &[u8] = b"answered-impressions";
const ANSWERED_IMPRESSIONS_COUNTED: &[u8] = b"counted";

pub(super) fn run(store: &SledStore) -> Result<(), StoreError> {
    fold_counters(store)?;
    convert_outbox(store)?;
    count_tag_values(store)?;
    count_answered_impressions(store)?;
    Ok(())
}

/// Stores written before the response rate counted answered invitations kept none: every
/// response rate of their past would read 0%. Marks each impression whose response_id has a
/// response as answered and counts it, in one transaction with the marker, so a crash leaves
/// the old state or the new one and a second run changes nothing.
fn count_answered_impressions(store: &SledStore) -> Result<(), StoreError> {
    use super::super::batch::{StoredImpression, counter_keys};
    use crate::store::counts::Metric;
    use sled::Transactional;
    use sled::transaction::ConflictableTransactionError;

    if store.db.get(ANSWERED_IMPRESSIONS)?.as_deref() == Some(ANSWERED_IMPRESSIONS_COUNTED) {
        return Ok(());
    }
    let mut answered: Vec<(Vec<u8>, StoredImpression)> = Vec::new();
    let mut deltas: BTreeMap<Vec<u8>, Delta> = BTreeMap::new();
    for value in store.responses.iter().values() {
        let response: Response = decode(&value?, "response")?;
        let key = keys::impression(&response.survey, &response.response_id);
        let Some(bytes) = store.impressions.get(&key)? else {
            continue;
        };
        let Ok(mut impression) = decode::<StoredImpression>(&bytes, "impression") else {
            continue;
        };
        if impression.answered {
            continue;
        }
        impression.answered = true;
        let at = crate::domain::calendar::from_unix_ms(impression.at_ms);
        for counter in counter_keys(
            &response.survey,
            &impression.tags,
            impression.lang.as_deref(),
            at,
        ) {
            deltas
                .entry(counter)
                .or_default()
                .add(Metric::Answered, 0, 1);
        }
        answered.push((key, impression));
    }
    let default: &sled::Tree = &store.db;
    (&store.impressions, &store.counters, default)
        .transaction(|(impressions, counters, marker)| {
            for (key, impression) in &answered {
                impressions.insert(key.as_slice(), encode(impression))?;
            }
            for (key, delta) in &deltas {
                let current = counters
                    .get(key)?
                    .map_or_else(Counts::default, |value| Counts::decode(&value));
                counters.insert(key.as_slice(), delta.applied_to(current).encode())?;
            }
            marker.insert(ANSWERED_IMPRESSIONS, ANSWERED_IMPRESSIONS_COUNTED)?;
            Ok::<_, ConflictableTransactionError<()>>(())
        })
        .map_err(|error| StoreError::Engine(format!("counting answered impressions: {error:?}")))?;
    store.db.flush()?;
    Ok(())
}

/// Stores written before tag values were capped kept no count of them. Counts the values of
/// every (survey, tag) once, so the cap knows how many each already has.
fn count_tag_values(store: &SledStore) -> Result<(), StoreError> {
    if store.db.get(TAG_VALUE_COUNTS)?.as_deref() == Some(TAG_VALUE_COUNTS_KEPT) {
        return Ok(());
    }
    let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for key in store.tag_values.iter().keys() {
        let key = key?;
        // `survey \0 tag \0 value`: neither a survey id nor a tag key holds a `\0`.
        let mut fields = key.splitn(3, |&b| b == 0);
        let (Some(survey), Some(tag)) = (fields.next(), fields.next()) else {
            continue;
        };
        let count_key = keys::tag_value_count(
            &String::from_utf8_lossy(survey),
            &String::from_utf8_lossy(tag),
        );
        *counts.entry(count_key).or_default() += 1;
    }
    let mut upgrade = sled::Batch::default();
    for (key, count) in counts {
        upgrade.insert(key, &count.to_be_bytes());
    }
    store.limits.apply_batch(upgrade)?;
    store.db.insert(TAG_VALUE_COUNTS, TAG_VALUE_COUNTS_KEPT)?;
    store.db.flush()?;
    Ok(())
}

/// Stores written before one counter value held every count of a bucket kept a u64 per
/// (bucket, metric, score). Folds those into today's values.
fn fold_counters(store: &SledStore) -> Result<(), StoreError> {
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

/// An alert as stores kept it before alerts were messages in due order: one per rating, under
/// its event number.
#[derive(Deserialize)]
struct PendingAlert {
    webhook: String,
    idempotency_key: String,
    response: Response,
    attempts: u32,
    next_attempt_ms: i64,
}

/// Moves alerts kept in either older layout into the queue as messages, keeping their key and
/// retry state. One that was posted before is sealed (a receiver may have seen its key), and
/// its give-up age counts from now. One that can't be read is dropped with an error in the log:
/// nothing could ever deliver it.
fn convert_outbox(store: &SledStore) -> Result<(), StoreError> {
    if store.db.get(OUTBOX_FORMAT)?.as_deref() == Some(OUTBOX_FORMAT_DUE) {
        return Ok(());
    }
    let now_ms = unix_ms(OffsetDateTime::now_utc());
    let mut upgrade = sled::Batch::default();
    for entry in store.outbox.iter() {
        let (key, value) = entry?;
        let Some(id) = keys::event_sequence(&key) else {
            continue; // already in today's layout
        };
        let older = decode::<PendingAlert>(&value, "alert").ok().or_else(|| {
            let legacy: LegacyAlert = decode(&value, "alert").ok()?;
            Some(PendingAlert {
                webhook: legacy.webhook,
                idempotency_key: legacy.idempotency_key,
                response: response_of(legacy.record)?,
                attempts: legacy.attempts,
                next_attempt_ms: legacy.next_attempt_ms,
            })
        });
        upgrade.remove(key);
        let Some(older) = older else {
            tracing::error!("dropping an alert in the outbox that can't be read");
            continue;
        };
        let notice = Notice {
            id: AlertId(id),
            kind: NoticeKind::Alert,
            response: older.response,
        };
        let created_ms = notice.response.updated_ms;
        let mut message = AlertMessage::new(notice, older.webhook, created_ms);
        message.idempotency_key = older.idempotency_key;
        message.due_ms = older.next_attempt_ms;
        message.attempts = older.attempts;
        message.sealed = older.attempts > 0;
        message.first_failed_ms = (older.attempts > 0).then_some(now_ms);
        upgrade.insert(keys::outbox_due(message.key()).as_slice(), encode(&message));
    }
    store.outbox.apply_batch(upgrade)?;
    store.db.insert(OUTBOX_FORMAT, OUTBOX_FORMAT_DUE)?;
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
        // It alerted: that is why it was in the outbox.
        alerted: true,
        registered: false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::trees::{EmbeddedStore, decode_count};
    use super::*;
    use crate::domain::Day;
    use crate::store::backend::{Backend, Dimension, Grain};

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
            let store = SledStore::open(dir.path()).unwrap();
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
                store.counters.inner().len().unwrap(),
                2,
                "one value per bucket, nothing left over"
            );
        }
    }

    #[test]
    fn the_tag_values_of_an_older_store_are_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            for (survey, tag, value) in [
                ("support", "agent", "ana"),
                ("support", "agent", "bob"),
                ("support", "channel", "chat"),
                ("sales", "agent", "ana"),
            ] {
                store
                    .tag_values
                    .insert(keys::tag_value(survey, tag, value), &[])
                    .unwrap();
            }
        }
        for _ in 0..2 {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            let count = |survey, tag| {
                decode_count(
                    store
                        .limits
                        .get(keys::tag_value_count(survey, tag))
                        .unwrap()
                        .as_deref(),
                )
            };
            assert_eq!(count("support", "agent"), 2);
            assert_eq!(count("support", "channel"), 1);
            assert_eq!(count("sales", "agent"), 1);
        }
    }

    #[test]
    fn impressions_answered_before_answers_were_counted_count_once_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let response = serde_json::json!({
            "survey": "support", "response_id": "r1", "interaction": null, "score": 5,
            "tags": {}, "comment": null, "signed": false, "created_ms": 5, "updated_ms": 5,
            "history": [[5, 5]]
        });
        {
            let store = SledStore::open(dir.path()).unwrap();
            store
                .responses
                .insert(
                    keys::identity("support", None, "r1"),
                    serde_json::to_vec(&response).unwrap(),
                )
                .unwrap();
            for id in ["r1", "r2"] {
                let impression = serde_json::json!({"at_ms": 5, "tags": {"agent": "alice"}});
                store
                    .impressions
                    .insert(
                        keys::impression("support", id),
                        serde_json::to_vec(&impression).unwrap(),
                    )
                    .unwrap();
            }
        }
        for _ in 0..2 {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            let day = crate::domain::Day::of(crate::domain::calendar::from_unix_ms(5)).0;
            let tallies = store
                .tallies(
                    "support",
                    &Dimension::Tag("agent", "alice"),
                    Grain::Day,
                    day,
                    day,
                )
                .unwrap();
            assert_eq!(
                tallies[&day].answered, 1,
                "r1 answered, r2 not, counted once"
            );
        }
    }

    #[test]
    fn alerts_kept_in_older_layouts_are_queued_as_messages_and_keep_their_retry_state() {
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
        let pending = serde_json::json!({
            "id": 9,
            "webhook": "https://hooks.example.com/x",
            "idempotency_key": "support-9",
            "response": {
                "survey": "support", "response_id": "r2", "interaction": null, "score": 2,
                "tags": {}, "comment": null, "signed": false, "created_ms": 5, "updated_ms": 5,
                "history": [[2, 5]], "last_event": 9
            },
            "attempts": 0,
            "next_attempt_ms": 5
        });
        {
            let store = SledStore::open(dir.path()).unwrap();
            for (event, value) in [
                (7, serde_json::to_vec(&legacy).unwrap()),
                (8, b"not json".to_vec()),
                (9, serde_json::to_vec(&pending).unwrap()),
            ] {
                store.outbox.insert(keys::event(event), value).unwrap();
            }
        }
        for _ in 0..2 {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            let found = store.due_alerts(i64::MAX, 10).unwrap();
            assert!(
                found.unreadable.is_empty(),
                "the unreadable one was dropped"
            );
            let [never_sent, retried] = &found.due[..] else {
                panic!("two messages, in due order: {:?}", found.due);
            };
            assert_eq!(
                (never_sent.id, never_sent.idempotency_key.as_str()),
                (AlertId(9), "support-9")
            );
            assert!(
                !never_sent.sealed,
                "never posted, so it may still be merged"
            );
            assert_eq!(never_sent.notices[0].response.score, 2);
            assert_eq!(retried.id, AlertId(7));
            assert_eq!(
                (retried.attempts, retried.idempotency_key.as_str()),
                (3, "support-7")
            );
            assert!(retried.sealed, "a receiver may have seen its key");
            assert_eq!(retried.due_ms, 1_800_000_000_000);
            let response = &retried.notices[0].response;
            assert_eq!(response.comment.as_deref(), Some("slow"));
            assert_eq!(response.tags["agent"], "alice");
            assert_eq!(response.created_ms, 1_795_428_000_000);
            assert_eq!(
                store.outbox.inner().len().unwrap(),
                2,
                "nothing left in the older layout"
            );
        }
    }
}

//! Every record of the store, for `collector migrate` to carry into another engine.
//!
//! Read tree by tree on a stopped collector's store (the command opens it, which a running
//! collector's lock refuses), so nothing changes while it runs.

use super::batch::StoredImpression;
use super::stored_response;
use super::trees::{self, EmbeddedStore, decode, decode_count};
use super::{event_log, keys};
use crate::store::backend::{AlertMessage, Grain, Record, RecordSink, StoreError};
use crate::store::counts::Counts;

/// Calls `sink` with every record; stops at its first error.
pub(super) fn run(store: &EmbeddedStore, sink: &mut RecordSink<'_>) -> Result<(), StoreError> {
    for entry in trees::all(&store.responses) {
        sink(Record::Response(stored_response::decode(&entry?.1)?))?;
    }
    for event in event_log::forward(&store.events, 0, u64::MAX)? {
        let (sequence, identity) = event?;
        let Some((survey, interaction, response_id)) = split_identity(&identity) else {
            return Err(StoreError::Corrupt("event".into()));
        };
        sink(Record::Event {
            sequence,
            survey,
            interaction,
            response_id,
        })?;
    }
    for entry in trees::all(&store.impressions) {
        let (key, value) = entry?;
        let impression: StoredImpression = decode(&value, "impression")?;
        let (survey, response_id) = split_first_field(&key);
        sink(Record::Impression {
            survey,
            response_id,
            at_ms: impression.at_ms,
            tags: impression.tags,
            lang: impression.lang,
            answered: impression.answered,
            uncounted: impression.uncounted,
        })?;
    }
    for entry in trees::all(&store.registrations) {
        let (key, value) = entry?;
        let (survey, interaction) = split_first_field(&key);
        sink(Record::Registration {
            survey,
            interaction,
            registered: decode(&value, "registration")?,
        })?;
    }
    for entry in trees::all(&store.tag_values) {
        let (key, _) = entry?;
        let (survey, rest) = split_first_field(&key);
        let (tag, value) = split_first_field(rest.as_bytes());
        sink(Record::TagValue { survey, tag, value })?;
    }
    for entry in trees::all(&store.limits) {
        let (key, value) = entry?;
        // The distinct values per tag (`t…`) follow from the tag values themselves.
        if let Some(rest) = key.strip_prefix(b"u") {
            let (survey, _) = split_first_field(rest);
            let day = rest
                .get(survey.len() + 1..)
                .and_then(|day| day.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt("limit count".into()))?;
            sink(Record::UnverifiedCount {
                survey,
                day,
                count: decode_count(Some(&value)),
            })?;
        }
    }
    for entry in trees::all(&store.outbox) {
        let (key, value) = entry?;
        let message: AlertMessage = decode(&value, "alert")?;
        sink(match keys::outbox_due_key(&key) {
            Some(_) => Record::Alert(message),
            None => Record::Undelivered(message),
        })?;
    }
    for entry in trees::all(&store.counters) {
        let (key, value) = entry?;
        let clicks = Counts::decode(&value).tally().unconfirmed_clicks;
        if clicks == 0 {
            continue;
        }
        let (survey, tag, grain, bucket) =
            split_counter(&key).ok_or_else(|| StoreError::Corrupt("counter".into()))?;
        sink(Record::Clicks {
            survey,
            tag,
            grain,
            bucket,
            count: clicks,
        })?;
    }
    Ok(())
}

/// `field \0 rest` → (field, rest), both as text.
fn split_first_field(key: &[u8]) -> (String, String) {
    let survey = keys::survey_of(key);
    let rest = key.get(survey.len() + 1..).unwrap_or_default();
    (
        String::from_utf8_lossy(survey).into_owned(),
        String::from_utf8_lossy(rest).into_owned(),
    )
}

/// An identity key (`keys::identity`) → survey, interaction, response_id (empty when the
/// identity is an interaction: the response holds its own).
fn split_identity(key: &[u8]) -> Option<(String, Option<String>, String)> {
    let (survey, rest) = split_first_field(key);
    let mut chars = rest.chars();
    match chars.next()? {
        'i' => Some((survey, Some(chars.as_str().to_owned()), String::new())),
        'r' => Some((survey, None, chars.as_str().to_owned())),
        _ => None,
    }
}

/// A counter key (`keys::counter`) → survey, tag, grain, bucket.
#[allow(clippy::type_complexity)]
fn split_counter(key: &[u8]) -> Option<(String, Option<(String, String)>, Grain, u32)> {
    let bucket = keys::counter_bucket(key)?;
    let without_bucket = &key[..key.len() - 4];
    let (grain_byte, without_grain) = without_bucket.split_last()?;
    let grain = match grain_byte {
        b'd' => Grain::Day,
        b'h' => Grain::Hour,
        _ => return None,
    };
    let (survey, dimension) = split_first_field(without_grain.strip_suffix(&[0])?);
    let tag = dimension
        .split_once('=')
        .map(|(tag, value)| (tag.to_owned(), value.to_owned()));
    Some((survey, tag, grain, bucket))
}

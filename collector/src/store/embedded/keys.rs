//! Byte layouts of the keys in each tree (the same as the sled store had, byte for byte).
//!
//! Fields are separated by `\0`, which no survey id, interaction, tag key or tag value may
//! contain (the domain refuses control characters), so a prefix never matches a longer field.
//! Numbers are big-endian so byte order is numeric order and a date range is a range scan.

use crate::domain::figures::MAX_SCORE;
use crate::store::backend::{AlertId, Dimension, Grain, OutboxKey};
use crate::store::counts::Metric;

impl Grain {
    fn byte(self) -> u8 {
        match self {
            Self::Day => b'd',
            Self::Hour => b'h',
        }
    }
}

/// `survey \0 dimension \0 grain`: everything before the bucket.
fn counter_prefix(survey: &str, dimension: &Dimension<'_>, grain: Grain) -> Vec<u8> {
    let mut key = Vec::with_capacity(survey.len() + 48);
    key.extend_from_slice(survey.as_bytes());
    key.push(0);
    if let Dimension::Tag(name, value) = dimension {
        key.extend_from_slice(name.as_bytes());
        key.push(b'=');
        key.extend_from_slice(value.as_bytes());
    }
    key.push(0);
    key.push(grain.byte());
    key
}

/// `survey \0 dimension \0 grain bucket:u32`; its value is a `counts::Counts`.
pub fn counter(survey: &str, dimension: &Dimension<'_>, grain: Grain, bucket: u32) -> Vec<u8> {
    let mut key = counter_prefix(survey, dimension, grain);
    key.extend_from_slice(&bucket.to_be_bytes());
    key
}

/// Inclusive bounds of every counter of one dimension in buckets `from..=to`.
pub fn counter_range(
    survey: &str,
    dimension: &Dimension<'_>,
    grain: Grain,
    from: u32,
    to: u32,
) -> (Vec<u8>, Vec<u8>) {
    (
        counter(survey, dimension, grain, from),
        counter(survey, dimension, grain, to),
    )
}

/// The bucket of a counter key.
pub fn counter_bucket(key: &[u8]) -> Option<u32> {
    let tail = key.get(key.len().checked_sub(4)?..)?;
    Some(u32::from_be_bytes(tail.try_into().ok()?))
}

/// A counter key of stores written before one value held every count of a bucket:
/// `… bucket:u32 metric score`, with a u64 value. Gives today's key, the metric and the score.
pub fn legacy_counter(key: &[u8]) -> Option<(&[u8], Metric, u8)> {
    let (key, tail) = key.split_at(key.len().checked_sub(2)?);
    let metric = match tail[0] {
        b'r' => Metric::Response,
        b'i' => Metric::Impression,
        b'u' => Metric::UnconfirmedClick,
        _ => return None,
    };
    (tail[1] <= MAX_SCORE).then_some((key, metric, tail[1]))
}

/// The identity of a response: `(survey, interaction)` when there is one, else
/// `(survey, response_id)`. The marker byte keeps the two namespaces apart.
pub fn identity(survey: &str, interaction: Option<&str>, response_id: &str) -> Vec<u8> {
    let (marker, id) = match interaction {
        Some(interaction) => (b'i', interaction),
        None => (b'r', response_id),
    };
    let mut key = Vec::with_capacity(survey.len() + id.len() + 3);
    key.extend_from_slice(survey.as_bytes());
    key.push(0);
    key.push(marker);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Every key of one survey in a tree keyed `survey \0 …`.
pub fn survey_prefix(survey: &str) -> Vec<u8> {
    let mut key = survey.as_bytes().to_vec();
    key.push(0);
    key
}

/// `survey \0 tag \0 value`: the tag values ever seen, so a breakdown knows its groups.
pub fn tag_value(survey: &str, tag: &str, value: &str) -> Vec<u8> {
    let mut key = tag_values_prefix(survey, tag);
    key.extend_from_slice(value.as_bytes());
    key
}

pub fn tag_values_prefix(survey: &str, tag: &str) -> Vec<u8> {
    let mut key = survey_prefix(survey);
    key.extend_from_slice(tag.as_bytes());
    key.push(0);
    key
}

/// In the `limits` tree, `t survey \0 tag`: how many distinct values the tag has, that is how
/// many keys its `tag_values_prefix` holds (a u64), so the cap costs one read, not a scan.
pub fn tag_value_count(survey: &str, tag: &str) -> Vec<u8> {
    let mut key = vec![b't'];
    key.extend_from_slice(&survey_prefix(survey));
    key.extend_from_slice(tag.as_bytes());
    key
}

/// In the `limits` tree, `u survey \0 day:u32`: new unverified responses created that day (a
/// u64).
pub fn unverified_on(survey: &str, day: u32) -> Vec<u8> {
    let mut key = vec![b'u'];
    key.extend_from_slice(&survey_prefix(survey));
    key.extend_from_slice(&day.to_be_bytes());
    key
}

/// `survey \0 response_id`: an impression already counted.
pub fn impression(survey: &str, response_id: &str) -> Vec<u8> {
    let mut key = survey_prefix(survey);
    key.extend_from_slice(response_id.as_bytes());
    key
}

/// `survey \0 interaction`: a registered interaction.
pub fn registration(survey: &str, interaction: &str) -> Vec<u8> {
    let mut key = survey_prefix(survey);
    key.extend_from_slice(interaction.as_bytes());
    key
}

/// The survey a key of a `survey \0 …` tree belongs to.
pub fn survey_of(key: &[u8]) -> &[u8] {
    let end = key.iter().position(|&b| b == 0).unwrap_or(key.len());
    &key[..end]
}

/// A live-feed event's key: its sequence number, big-endian so the tree is in event order.
pub fn event(sequence: u64) -> [u8; 8] {
    sequence.to_be_bytes()
}

/// The sequence number of an event key (also the key of its alert in the outbox).
pub fn event_sequence(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

/// Outbox keys start with one of these: the queue, in due order, and the messages set aside.
const OUTBOX_DUE: u8 = b'd';
const OUTBOX_ASIDE: u8 = b'u';

/// `d due_ms id`: a queued alert message. The due time comes first, so the queue is a range in
/// due order; its sign bit is flipped so byte order is numeric order for negative times too.
pub fn outbox_due(key: OutboxKey) -> [u8; 17] {
    let mut bytes = [0u8; 17];
    bytes[0] = OUTBOX_DUE;
    bytes[1..9].copy_from_slice(&((key.due_ms as u64) ^ (1 << 63)).to_be_bytes());
    bytes[9..].copy_from_slice(&key.id.0.to_be_bytes());
    bytes
}

/// The queue keys of every message due at `now_ms` or before: `..=` this key.
pub fn outbox_due_until(now_ms: i64) -> [u8; 17] {
    outbox_due(OutboxKey {
        due_ms: now_ms,
        id: AlertId(u64::MAX),
    })
}

/// Every key of the queue: `..` this key.
pub fn outbox_due_end() -> [u8; 1] {
    [OUTBOX_DUE + 1]
}

pub fn outbox_due_start() -> [u8; 1] {
    [OUTBOX_DUE]
}

/// The due time and id of a queue key.
pub fn outbox_due_key(key: &[u8]) -> Option<OutboxKey> {
    let (&marker, rest) = key.split_first()?;
    if marker != OUTBOX_DUE || rest.len() != 16 {
        return None;
    }
    let due = u64::from_be_bytes(rest[..8].try_into().ok()?) ^ (1 << 63);
    let id = u64::from_be_bytes(rest[8..].try_into().ok()?);
    Some(OutboxKey {
        due_ms: due as i64,
        id: AlertId(id),
    })
}

/// `u survey \0 id`: a message set aside as undelivered, by survey, oldest first.
pub fn outbox_aside(survey: &str, id: AlertId) -> Vec<u8> {
    let mut key = outbox_aside_prefix(Some(survey));
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

/// Every set-aside key of one survey, or of all (`None`).
pub fn outbox_aside_prefix(survey: Option<&str>) -> Vec<u8> {
    let mut key = vec![OUTBOX_ASIDE];
    if let Some(survey) = survey {
        key.extend_from_slice(&survey_prefix(survey));
    }
    key
}

/// A counter key as a person reads it in an audit report: `support agent=alice d20000`.
pub fn describe_counter(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(key);
    let mut fields = text.splitn(3, '\0');
    let survey = fields.next().unwrap_or("");
    let dimension = fields.next().filter(|d| !d.is_empty()).unwrap_or("all");
    let grain = fields.next().and_then(|g| g.chars().next()).unwrap_or('?');
    let bucket = counter_bucket(key).unwrap_or(0);
    format!("{survey} {dimension} {grain}{bucket}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_holds_exactly_its_buckets() {
        let all = Dimension::All;
        let (start, end) = counter_range("s", &all, Grain::Day, 10, 12);
        let inside = |bucket| {
            let key = counter("s", &all, Grain::Day, bucket);
            start <= key && key <= end
        };
        assert!(!inside(9));
        assert!(inside(10) && inside(11) && inside(12));
        assert!(!inside(13));
        let tagged = counter("s", &Dimension::Tag("agent", "a"), Grain::Day, 11);
        assert!(
            !(start <= tagged && tagged <= end),
            "a tag's counters are not in the survey's range"
        );
    }

    #[test]
    fn a_counter_key_decodes_back() {
        let key = counter("s", &Dimension::Tag("agent", "alice"), Grain::Hour, 499_000);
        assert_eq!(counter_bucket(&key), Some(499_000));
    }

    #[test]
    fn a_legacy_counter_key_names_todays_key_metric_and_score() {
        let key = counter("s", &Dimension::All, Grain::Day, 20_000);
        let mut legacy = key.clone();
        legacy.extend_from_slice(b"r\x04");
        assert_eq!(
            legacy_counter(&legacy),
            Some((key.as_slice(), Metric::Response, 4))
        );
    }

    #[test]
    fn the_outbox_queue_is_in_due_order_and_its_keys_decode_back() {
        let key = |due_ms, id| {
            outbox_due(OutboxKey {
                due_ms,
                id: AlertId(id),
            })
        };
        let keys = [key(-5, 9), key(0, 3), key(7, 1), key(7, 2), key(1 << 50, 0)];
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(key(7, u64::MAX) <= outbox_due_until(7) && key(8, 0) > outbox_due_until(7));
        let decoded = outbox_due_key(&key(-5, 9)).unwrap();
        assert_eq!((decoded.due_ms, decoded.id), (-5, AlertId(9)));
        assert!(outbox_due_key(&outbox_aside("s", AlertId(1))).is_none());
        assert!(
            keys.iter()
                .all(|k| k.as_slice() < outbox_due_end().as_slice())
        );
    }

    #[test]
    fn interactions_and_anonymous_ids_never_collide() {
        assert_ne!(identity("s", Some("x"), "x"), identity("s", None, "x"));
    }
}

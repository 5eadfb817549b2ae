//! Reads: counters, tag values, responses and comments.

use super::stored_response;
use super::trees::{self, EmbeddedStore, decode};
use super::{event_log, keys};
use crate::domain::calendar::from_unix_ms;
use crate::domain::figures::Tally;
use crate::domain::registration::Registered;
use crate::domain::{Day, Response};
use crate::store::backend::{CommentPage, CommentQuery, Dimension, Grain, StoreError};
use crate::store::counts::Counts;
use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;

/// Events looked at per comments page. Comments can be rare, and a request must not walk a
/// million events to find twenty; when the budget runs out the page says where to go on.
const COMMENT_SCAN_BUDGET: usize = 20_000;

/// Up to this many buckets, a read looks each one up by its key; past it (an export's "every
/// day"), it reads the range. Every batch rewrites today's counters, and an LSM tree keeps
/// each version of a key until compaction, so a range read steps over thousands of old
/// versions where a lookup finds the newest at once: on fjall 2, from 10 thousand to 10
/// million responses, a 30-day breakdown by range grew 12.45× slower, by key 1.11×
/// (BENCHMARKS.md, "The embedded store on fjall").
const READ_EACH_BUCKET_UP_TO: u32 = 1_000;

pub(super) fn tallies(
    store: &EmbeddedStore,
    survey: &str,
    dimension: &Dimension<'_>,
    grain: Grain,
    from: u32,
    to: u32,
) -> Result<BTreeMap<u32, Tally>, StoreError> {
    let mut tallies = BTreeMap::new();
    if from <= to && to - from < READ_EACH_BUCKET_UP_TO {
        for bucket in from..=to {
            let key = keys::counter(survey, dimension, grain, bucket);
            if let Some(value) = store.counters.get(key)? {
                tallies.insert(bucket, Counts::decode(&value).tally());
            }
        }
        return Ok(tallies);
    }
    let (start, end) = keys::counter_range(survey, dimension, grain, from, to);
    for entry in trees::range(&store.counters, start..=end) {
        let (key, value) = entry?;
        if let Some(bucket) = keys::counter_bucket(&key) {
            tallies.insert(bucket, Counts::decode(&value).tally());
        }
    }
    Ok(tallies)
}

pub(super) fn tag_values(
    store: &EmbeddedStore,
    survey: &str,
    tag: &str,
) -> Result<Vec<String>, StoreError> {
    let prefix = keys::tag_values_prefix(survey, tag);
    trees::with_prefix(&store.tag_values, &prefix)
        .map(|entry| Ok(String::from_utf8_lossy(&entry?.0[prefix.len()..]).into_owned()))
        .collect()
}

/// The response stored under an identity key.
pub(super) fn registration(
    store: &EmbeddedStore,
    survey: &str,
    interaction: &str,
) -> Result<Option<Registered>, StoreError> {
    store
        .registrations
        .get(keys::registration(survey, interaction))?
        .map(|bytes| decode(&bytes, "registration"))
        .transpose()
}

pub(super) fn find(store: &EmbeddedStore, identity: &[u8]) -> Result<Option<Response>, StoreError> {
    store
        .responses
        .get(identity)?
        .map(|bytes| stored_response::decode(&bytes))
        .transpose()
}

pub(super) fn each_response(
    store: &EmbeddedStore,
    survey: &str,
    visit: &mut dyn FnMut(Response) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    for entry in trees::with_prefix(&store.responses, keys::survey_prefix(survey)) {
        if visit(stored_response::decode(&entry?.1)?).is_break() {
            break;
        }
    }
    Ok(())
}

/// Walks the events backwards, newest first, showing each response once: at the event of its
/// latest change. A response changed again between two pages moves to the front instead of
/// showing twice, and one changed several times never repeats.
pub(super) fn comments(
    store: &EmbeddedStore,
    query: &CommentQuery,
) -> Result<CommentPage, StoreError> {
    let prefix = keys::survey_prefix(query.survey.as_str());
    let end = query.before.unwrap_or(u64::MAX);
    // Records written before responses knew their latest event: shown once per page, at the
    // newest event seen.
    let mut seen_without_event = HashSet::new();
    let mut page = CommentPage::default();
    for (scanned, event) in event_log::backward(&store.events, end).enumerate() {
        let (sequence, identity) = event?;
        if page.comments.len() == query.limit || scanned == COMMENT_SCAN_BUDGET {
            page.next_before = Some(sequence + 1);
            return Ok(page);
        }
        if !identity.starts_with(&prefix) {
            continue;
        }
        let Some(response) = find(store, &identity)? else {
            continue;
        };
        let latest = if response.last_event == 0 {
            seen_without_event.insert(identity.to_vec())
        } else {
            response.last_event == sequence
        };
        if latest && shows(query, &response) {
            page.comments.push(response);
        }
    }
    Ok(page)
}

/// Whether a response belongs on a comments page: it has a comment, was created in range, and
/// carries the tag asked for.
fn shows(query: &CommentQuery, response: &Response) -> bool {
    let day = Day::of(from_unix_ms(response.created_ms));
    let in_range = query.from <= day && day <= query.to;
    let has_comment = response
        .comment
        .as_deref()
        .is_some_and(|comment| !comment.trim().is_empty());
    let tagged = query
        .tag
        .as_ref()
        .is_none_or(|(key, value)| response.dimension(key) == Some(value.as_str()));
    in_range && has_comment && tagged
}

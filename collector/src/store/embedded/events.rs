//! The live feed's sequence: every new or changed response gets the next event number; the
//! `events` tree keeps its identity under it.
//!
//! The events of one writer transaction share one entry (`event_log`).
//!
//! One writer takes the numbers, inside its transactions, and commits them one at a time, so
//! numbers become visible in increasing order: once a reader has seen up to N, nothing below N
//! appears later. Numbers increase, with gaps (a transaction that failed leaves its numbers
//! unused; the sled store's id generator skipped ahead on a restart).

use super::event_log::{self, unpack};
use super::trees::EmbeddedStore;
use super::{keys, reads};
use crate::store::backend::{EventBatch, StoreError};

/// Other surveys' events a read skips at most per event it returns, so a quiet survey on a busy
/// store still yields between reads.
const SKIP_PER_EVENT: usize = 16;

/// Up to `limit` events of `survey` with sequence in `first..=until`, each with its response as
/// it is now, and the last sequence looked at.
pub(super) fn read(
    store: &EmbeddedStore,
    survey: &str,
    first: u64,
    until: u64,
    limit: usize,
) -> Result<EventBatch, StoreError> {
    let prefix = keys::survey_prefix(survey);
    let mut batch = EventBatch::default();
    let mut budget = limit * SKIP_PER_EVENT;
    for event in event_log::forward(&store.events, first, until)? {
        let (sequence, identity) = event?;
        if budget == 0 {
            break;
        }
        budget -= 1;
        batch.last_seen = Some(sequence);
        if identity.starts_with(&prefix)
            && let Some(response) = reads::find(store, &identity)?
        {
            batch.events.push((sequence, response));
            if batch.events.len() == limit {
                break;
            }
        }
    }
    Ok(batch)
}

/// The newest event's number.
pub(super) fn newest(store: &EmbeddedStore) -> Result<Option<u64>, StoreError> {
    let Some(newest) = store.events.last_key_value() else {
        return Ok(None);
    };
    let (key, value) = newest.into_inner()?;
    Ok(unpack(&key, &value)?.last().map(|(sequence, _)| *sequence))
}

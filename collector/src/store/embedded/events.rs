//! The live feed's sequence: every new or changed response gets the next event number, under
//! which the `events` tree keeps its identity.
//!
//! sled runs its transactions one at a time and the number is taken inside the transaction,
//! so numbers become visible in increasing order: once a reader has seen up to N, nothing below
//! N appears later.

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
    let range = keys::event(first)..=keys::event(until);
    for entry in store.events.range(range).take(limit * SKIP_PER_EVENT) {
        let (key, identity) = entry?;
        let sequence = keys::event_sequence(&key).unwrap_or(0);
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

pub(super) fn newest(store: &EmbeddedStore) -> Result<Option<u64>, StoreError> {
    Ok(store
        .events
        .last()?
        .and_then(|(key, _)| keys::event_sequence(&key)))
}

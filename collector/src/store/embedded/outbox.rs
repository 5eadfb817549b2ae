//! Alert messages waiting for their webhook, in due order, and those set aside as undelivered.
//!
//! The `outbox` tree holds two ranges (`keys::outbox_due`, `keys::outbox_aside`): the queue,
//! keyed by due time then id, so a round reads only what is due and the next due time is the
//! first key after now; and the messages given up on, by survey, kept for the dashboard.

use super::keys;
use super::trees::{self, EmbeddedStore, decode};
use crate::store::backend::{AlertMessage, DueAlerts, StoreError};

/// Messages due at `now_ms`, at most `limit`, and when the next of the others falls due. An
/// entry that no longer decodes is listed as unreadable: retrying can't make it readable.
pub(super) fn due(
    store: &EmbeddedStore,
    now_ms: i64,
    limit: usize,
) -> Result<DueAlerts, StoreError> {
    let mut found = DueAlerts::default();
    let until = keys::outbox_due_until(now_ms);
    for entry in trees::range(
        &store.outbox,
        keys::outbox_due_start().as_slice()..=until.as_slice(),
    ) {
        let (key, value) = entry?;
        let Some(at) = keys::outbox_due_key(&key) else {
            continue;
        };
        if found.due.len() + found.unreadable.len() == limit {
            // More are due than one round takes: the next round follows at once.
            found.next_due_ms = Some(now_ms);
            return Ok(found);
        }
        match decode::<AlertMessage>(&value, "alert") {
            Ok(message) => found.due.push(message),
            Err(_) => found.unreadable.push(at),
        }
    }
    let later = trees::range(
        &store.outbox,
        until.as_slice()..keys::outbox_due_end().as_slice(),
    )
    .find_map(|entry| entry.ok().and_then(|(key, _)| keys::outbox_due_key(&key)));
    found.next_due_ms = later.map(|key| key.due_ms);
    Ok(found)
}

/// Up to `limit` of a survey's messages set aside, newest first.
pub(super) fn undelivered(
    store: &EmbeddedStore,
    survey: &str,
    limit: usize,
) -> Result<Vec<AlertMessage>, StoreError> {
    trees::with_prefix(&store.outbox, keys::outbox_aside_prefix(Some(survey)))
        .rev()
        .take(limit)
        .map(|entry| decode(&entry?.1, "alert"))
        .collect()
}

/// How many messages are set aside, over every survey.
pub(super) fn undelivered_count(store: &EmbeddedStore) -> Result<u64, StoreError> {
    let mut count = 0;
    for entry in trees::with_prefix(&store.outbox, keys::outbox_aside_prefix(None)) {
        entry?;
        count += 1;
    }
    Ok(count)
}

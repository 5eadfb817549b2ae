//! How the `events` tree stores the live feed's numbers: the events of one writer transaction
//! share one entry. Its key is the first of their numbers, its value their identities in order;
//! the numbers in an entry are consecutive (`NewEvents::add` starts another entry if not).
//!
//! Why: an entry per event (the first format, written by the sled store and still read) cost
//! sled a page per 8 ratings, held in memory for as long as the store lived; an entry per batch
//! costs one per batch (BENCHMARKS.md, "Soak"), and fewer, larger entries are cheaper for any
//! engine. The numbers themselves are one per event, counted on from the newest stored one
//! when the store opens, so they stay as small as the count of events (`collector migrate`
//! relies on that: PostgreSQL's numbers that follow are far above them).

use super::keys;
use super::transaction::Tree;
use super::trees::{self, Entry};
use crate::store::backend::StoreError;
use fjall::Slice;
use std::sync::atomic::{AtomicU64, Ordering};

/// Marks an entry holding a list of identities. No identity starts with it: every identity
/// starts with its survey's id, which is never empty and holds no control character.
const LIST: u8 = 0;

/// The events one transaction adds, written as entries at its end (`write`).
#[derive(Default)]
pub(super) struct NewEvents {
    /// Each entry's first number and its identities, in order.
    entries: Vec<(u64, Vec<Vec<u8>>)>,
}

impl NewEvents {
    /// The event number of a change of `identity`, the next of this transaction.
    pub(super) fn add(&mut self, next: &AtomicU64, identity: &[u8]) -> u64 {
        // A transaction that fails leaves its numbers unused: a gap, which readers expect.
        let sequence = next.fetch_add(1, Ordering::Relaxed);
        match self.entries.last_mut() {
            // The writer alone takes numbers, so they follow each other; a gap starts an entry.
            Some((first, identities)) if *first + identities.len() as u64 == sequence => {
                identities.push(identity.to_vec());
            }
            _ => self.entries.push((sequence, vec![identity.to_vec()])),
        }
        sequence
    }

    /// Writes the entries, at the end of the transaction.
    pub(super) fn write(&self, tree: &Tree<'_, '_>) {
        for (first, identities) in &self.entries {
            let mut value = vec![LIST];
            for identity in identities {
                let length = u32::try_from(identity.len()).expect("identities are short");
                value.extend_from_slice(&length.to_be_bytes());
                value.extend_from_slice(identity);
            }
            tree.insert(keys::event(*first), value);
        }
    }
}

/// The number the next event takes: one past the newest stored.
pub(super) fn next_number(events: &trees::Tree) -> Result<u64, StoreError> {
    let Some(newest) = events.last_key_value() else {
        return Ok(1);
    };
    let (key, value) = newest.into_inner()?;
    Ok(unpack(&key, &value)?
        .last()
        .map_or(1, |(sequence, _)| sequence + 1))
}

/// The events numbered `first..=until`, oldest first: `(sequence, identity)`. The readers walk
/// events, not entries, so only this file knows that one entry may hold several.
pub(super) fn forward(
    events: &trees::Tree,
    first: u64,
    until: u64,
) -> Result<impl Iterator<Item = Result<(u64, Slice), StoreError>>, StoreError> {
    // `first` may be inside an entry: start at the entry holding it.
    let start = match trees::range(events, ..=keys::event(first)).next_back() {
        Some(entry) => keys::event_sequence(&entry?.0).unwrap_or(first),
        None => first,
    };
    Ok(
        trees::range(events, keys::event(start)..=keys::event(until))
            .flat_map(events_of)
            .skip_while(move |event| matches!(event, Ok((sequence, _)) if *sequence < first))
            .take_while(move |event| !matches!(event, Ok((sequence, _)) if *sequence > until)),
    )
}

/// The events numbered below `end`, newest first.
pub(super) fn backward(
    events: &trees::Tree,
    end: u64,
) -> impl Iterator<Item = Result<(u64, Slice), StoreError>> {
    trees::range(events, ..keys::event(end))
        .rev()
        .flat_map(|entry| events_of(entry).into_iter().rev())
        // The newest entry below `end` may hold numbers from `end` on.
        .skip_while(move |event| matches!(event, Ok((sequence, _)) if *sequence >= end))
}

/// The events of one entry read from the tree, in order, or its error.
fn events_of(entry: Result<Entry, StoreError>) -> Vec<Result<(u64, Slice), StoreError>> {
    match entry.and_then(|(key, value)| unpack(&key, &value)) {
        Ok(events) => events.into_iter().map(Ok).collect(),
        Err(error) => vec![Err(error)],
    }
}

/// The events of one entry of the tree, in order: `(sequence, identity)`.
pub(super) fn unpack(key: &[u8], value: &Slice) -> Result<Vec<(u64, Slice)>, StoreError> {
    let corrupt = || StoreError::Corrupt("event".into());
    let first = keys::event_sequence(key).ok_or_else(corrupt)?;
    if value.first() != Some(&LIST) {
        return Ok(vec![(first, value.clone())]);
    }
    let mut events = Vec::new();
    let mut at = 1;
    while at < value.len() {
        let length = value
            .get(at..at + 4)
            .and_then(|bytes| bytes.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or_else(corrupt)? as usize;
        at += 4;
        if value.len() < at + length {
            return Err(corrupt());
        }
        events.push((
            first + events.len() as u64,
            Slice::new(&value[at..at + length]),
        ));
        at += length;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::response;
    use super::super::transaction::in_transaction;
    use super::super::trees::{EmbeddedStore, encode};
    use super::*;
    use crate::domain::{Day, Response, SurveyId};
    use crate::store::backend::{Backend, CommentQuery};

    fn store_response(store: &EmbeddedStore, id: &str, last_event: u64) -> Vec<u8> {
        let identity = keys::identity("support", None, id);
        store
            .responses
            .insert(identity.as_slice(), encode(&response(id, last_event)))
            .unwrap();
        identity
    }

    fn ids(events: &[(u64, Response)]) -> Vec<(u64, &str)> {
        events
            .iter()
            .map(|(sequence, response)| (*sequence, response.response_id.as_str()))
            .collect()
    }

    #[test]
    fn a_feed_written_an_entry_per_event_reads_on_with_the_entries_per_transaction_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        // What a store written before entries per transaction holds (a sled store carried
        // over): an entry per event.
        let [x, y] = [3, 4];
        for (id, sequence) in [("old-a", x), ("old-b", y)] {
            let identity = store_response(&store, id, sequence);
            store
                .events
                .insert(keys::event(sequence), identity)
                .unwrap();
        }
        // Opened again, the store numbers on after them.
        drop(store);
        let store = EmbeddedStore::open(dir.path()).unwrap();
        // Two transactions of today's format, of two events and one.
        let mut sequences = Vec::new();
        for batch in [&["new-a", "new-b"][..], &["new-c"]] {
            let identities: Vec<_> = batch
                .iter()
                .map(|id| store_response(&store, id, 0))
                .collect();
            in_transaction(&store, |trees| {
                let mut events = NewEvents::default();
                for identity in &identities {
                    sequences.push(events.add(trees.next_event, identity));
                }
                events.write(&trees.events);
                Ok(())
            })
            .unwrap();
        }
        let [a, b, c] = sequences[..] else {
            panic!("three events")
        };
        assert!(
            y < a && a + 1 == b && b < c,
            "in order: {x} {y} {sequences:?}"
        );
        for (id, sequence) in [("new-a", a), ("new-b", b), ("new-c", c)] {
            store_response(&store, id, sequence);
        }

        let everything = store.events("support", 0, u64::MAX, 100).unwrap();
        assert_eq!(
            ids(&everything.events),
            [
                (x, "old-a"),
                (y, "old-b"),
                (a, "new-a"),
                (b, "new-b"),
                (c, "new-c")
            ]
        );
        assert_eq!(store.newest_event().unwrap(), Some(c));
        // Resuming after any event sends exactly what followed it, from inside an entry too.
        let after_a = store.events("support", a + 1, u64::MAX, 100).unwrap();
        assert_eq!(ids(&after_a.events), [(b, "new-b"), (c, "new-c")]);
        let after_old = store.events("support", y, b, 100).unwrap();
        assert_eq!(
            ids(&after_old.events),
            [(y, "old-b"), (a, "new-a"), (b, "new-b")]
        );
        let first_two = store.events("support", 0, u64::MAX, 2).unwrap();
        assert_eq!(ids(&first_two.events), [(x, "old-a"), (y, "old-b")]);

        // Comments walk back across both formats, a page at a time, each shown once.
        let mut shown = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .comments(&CommentQuery {
                    survey: SurveyId::parse("support").unwrap(),
                    from: Day(0),
                    to: Day(u32::MAX),
                    tag: None,
                    limit: 2,
                    before,
                })
                .unwrap();
            shown.extend(page.comments.into_iter().map(|r| r.response_id));
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(shown, ["new-c", "new-b", "new-a", "old-b", "old-a"]);
    }
}

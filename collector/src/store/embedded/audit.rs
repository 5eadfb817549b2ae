//! Recounting every counter from the stored records. A healthy store has no mismatch,
//! whatever crashed while it was written, because records and counters change in one
//! transaction.

use super::batch::{StoredImpression, counter_keys};
use super::keys;
use super::stored_response;
use super::trees::{self, EmbeddedStore, decode};
use crate::domain::calendar::from_unix_ms;
use crate::domain::figures::Tally;
use crate::domain::registration::Registered;
use crate::store::backend::{Audit, StoreError};
use crate::store::counts::{Counts, Delta, Metric};
use std::collections::HashMap;

pub(super) fn run(store: &EmbeddedStore) -> Result<Audit, StoreError> {
    let mut expected: HashMap<Vec<u8>, Delta> = HashMap::new();
    let mut audit = Audit::default();
    for entry in trees::all(&store.responses) {
        let response = stored_response::decode(&entry?.1)?;
        audit.responses += 1;
        let created = from_unix_ms(response.created_ms);
        let lang = response.lang.as_deref();
        for key in counter_keys(&response.survey, &response.tags, lang, created) {
            expected
                .entry(key)
                .or_default()
                .add(Metric::Response, response.score, 1);
        }
    }
    for entry in trees::all(&store.impressions) {
        let (key, value) = entry?;
        let impression: StoredImpression = decode(&value, "impression")?;
        let survey = String::from_utf8_lossy(keys::survey_of(&key));
        let at = from_unix_ms(impression.at_ms);
        let lang = impression.lang.as_deref();
        for counter in counter_keys(&survey, &impression.tags, lang, at) {
            let delta = expected.entry(counter).or_default();
            if !impression.uncounted {
                delta.add(Metric::Impression, 0, 1);
            }
            if impression.answered {
                delta.add(Metric::Answered, 0, 1);
            }
        }
        if !impression.uncounted {
            audit.impressions += 1;
        }
    }
    for entry in trees::all(&store.registrations) {
        let (key, value) = entry?;
        let registration: Registered = decode(&value, "registration")?;
        let survey = String::from_utf8_lossy(keys::survey_of(&key));
        let at = from_unix_ms(registration.at_ms);
        // A registration has no language: it is counted before anyone chose one.
        for counter in counter_keys(&survey, &registration.tags, None, at) {
            let delta = expected.entry(counter).or_default();
            delta.add(Metric::Registration, 0, 1);
            if registration.answered {
                delta.add(Metric::Answered, 0, 1);
            }
        }
    }
    for entry in trees::all(&store.counters) {
        let (key, value) = entry?;
        audit.counters_checked += 1;
        let stored = Counts::decode(&value).without_clicks();
        let recounted = expected
            .remove(key.as_ref())
            .map_or_else(Counts::default, |delta| delta.applied_to(Counts::default()));
        if stored != recounted {
            audit.mismatches.push((
                keys::describe_counter(&key),
                stored.tally(),
                recounted.tally(),
            ));
        }
    }
    audit
        .mismatches
        .extend(expected.into_iter().map(|(key, delta)| {
            let recounted = delta.applied_to(Counts::default());
            (
                keys::describe_counter(&key),
                Tally::default(),
                recounted.tally(),
            )
        }));
    Ok(audit)
}

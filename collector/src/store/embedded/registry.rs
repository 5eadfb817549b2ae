//! The registry's part of a batch: which registration vouches for a rating and gives it its
//! tags (read in the transaction that writes the rating, so a registration and a rating racing
//! each other never leave a response with tags the registry does not say), registrations
//! themselves, and the invitations (registrations, answered impressions) the response rate counts.

use super::batch::{StoredImpression, Totals, admit, count, counter_keys};
use super::keys;
use super::stored_response;
use super::transaction::Trees;
use super::trees::{decode, encode};
use crate::domain::calendar::unix_ms;
use crate::domain::registration::{Registered, Registration};
use crate::domain::{Rating, Response, Survey};
use crate::store::backend::{RecordError, RegisterReport, StoreError};
use crate::store::counts::Metric;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The registration of a rating's interaction, when it still vouches for it.
pub(super) fn vouching_registration(
    survey: &Survey,
    rating: &Rating,
    now_ms: i64,
    trees: &Trees<'_, '_>,
) -> Result<Result<Option<Registered>, RecordError>, StoreError> {
    let Some(interaction) = &rating.subject.interaction else {
        return Ok(Ok(None));
    };
    Ok(
        match read_registration(survey.id.as_str(), interaction.as_str(), trees)? {
            Some(Ok(registration)) => Ok(registration.vouches_at(now_ms).then_some(registration)),
            Some(Err(error)) => Err(error.into()),
            None => Ok(None),
        },
    )
}

/// A stored registration; `Some(Err)` when it no longer decodes.
pub(super) fn read_registration(
    survey: &str,
    interaction: &str,
    trees: &Trees<'_, '_>,
) -> Result<Option<Result<Registered, StoreError>>, StoreError> {
    Ok(trees
        .registrations
        .get(keys::registration(survey, interaction))?
        .map(|bytes| decode::<Registered>(&bytes, "registration")))
}

/// A new response answers what invited it, once: its registration, else the widget shown with
/// its response_id. Counted in the invitation's own buckets and tags, so no group ever has
/// more answered than invited.
pub(super) fn answer_invitation(
    survey: &Survey,
    subject: &crate::domain::rating::Subject,
    registration: Option<Registered>,
    trees: &Trees<'_, '_>,
    totals: &mut Totals,
) -> Result<(), StoreError> {
    let survey_id = survey.id.as_str();
    if let (Some(mut registration), Some(interaction)) = (registration, &subject.interaction) {
        if !registration.answered {
            registration.answered = true;
            count_invitation(
                totals,
                survey_id,
                &registration.tags,
                None,
                registration.at_ms,
                Metric::Answered,
                1,
            );
            trees.registrations.insert(
                keys::registration(survey_id, interaction.as_str()),
                encode(&registration),
            );
        }
        return Ok(());
    }
    let key = keys::impression(survey_id, subject.response_id.as_str());
    let Some(bytes) = trees.impressions.get(&key)? else {
        return Ok(());
    };
    // An impression that no longer decodes just leaves its answer uncounted.
    if let Ok(mut impression) = decode::<StoredImpression>(&bytes, "impression")
        && !impression.answered
        && !impression.uncounted
    {
        impression.answered = true;
        count_invitation(
            totals,
            survey_id,
            &impression.tags,
            impression.lang.as_deref(),
            impression.at_ms,
            Metric::Answered,
            1,
        );
        trees.impressions.insert(key, encode(&impression));
    }
    Ok(())
}

/// Adds `by` to `metric` in every counter of an invitation made at `at_ms` with `tags` (and, for
/// a widget shown, the language it was shown in; a registration has none).
pub(super) fn count_invitation(
    totals: &mut Totals,
    survey: &str,
    tags: &BTreeMap<String, String>,
    lang: Option<&str>,
    at_ms: i64,
    metric: Metric,
    by: i64,
) {
    let at = crate::domain::calendar::from_unix_ms(at_ms);
    for key in counter_keys(survey, tags, lang, at) {
        totals
            .counter_deltas
            .entry(key)
            .or_default()
            .add(metric, 0, by);
    }
}

/// Registers interactions: each is one invitation in its tags' counters. Registering one again
/// with other tags moves its invitation, and its response when there is one, to the new tags:
/// the registry is the truth, so a ticket reassigned to another agent counts for that agent.
pub(super) fn register(
    survey: &Survey,
    registrations: &[Registration],
    now: OffsetDateTime,
    trees: &Trees<'_, '_>,
    totals: &mut Totals,
) -> Result<Result<RegisterReport, StoreError>, StoreError> {
    let survey_id = survey.id.as_str();
    let now_ms = unix_ms(now);
    let mut report = RegisterReport::default();
    for registration in registrations {
        let interaction = registration.interaction.as_str();
        let tags = registration.tags.as_map();
        let old = match read_registration(survey_id, interaction, trees)? {
            Some(Ok(old)) => Some(old),
            Some(Err(error)) => return Ok(Err(error)),
            None => None,
        };
        if let Some(old) = &old
            && old.tags == *tags
            && old.expires_ms == registration.expires_ms
        {
            report.unchanged += 1;
            continue;
        }
        let identity = keys::identity(survey_id, Some(interaction), "");
        let response = match trees.responses.get(&identity)? {
            Some(bytes) => match stored_response::decode(&bytes) {
                Ok(response) => Some(response),
                Err(error) => return Ok(Err(error)),
            },
            None => None,
        };
        let stored = Registered {
            tags: tags.clone(),
            expires_ms: registration.expires_ms,
            at_ms: old.as_ref().map_or(now_ms, |old| old.at_ms),
            // A response there already (the ticket was rated in a chat first) answers it.
            answered: response.is_some(),
        };
        match &old {
            Some(old) => {
                report.updated += 1;
                uncount_registration(totals, survey_id, old);
            }
            None => report.created += 1,
        }
        count_invitation(
            totals,
            survey_id,
            &stored.tags,
            None,
            stored.at_ms,
            Metric::Registration,
            1,
        );
        if stored.answered {
            count_invitation(
                totals,
                survey_id,
                &stored.tags,
                None,
                stored.at_ms,
                Metric::Answered,
                1,
            );
        }
        // Registered values are vouched for: never refused, but known to breakdowns.
        if let Err(refusal) = admit(survey, true, tags, None, None, trees, totals)? {
            unreachable!("a vouched write met an anonymous limit: {refusal}");
        }
        if let Some(response) = response
            && (response.tags != *tags || !response.registered)
        {
            let event = retag(response, &identity, &stored.tags, now_ms, trees, totals)?;
            report.events.push(event);
        }
        trees
            .registrations
            .insert(keys::registration(survey_id, interaction), encode(&stored));
    }
    Ok(Ok(report))
}

/// Takes an old registration's invitation (and its answer) out of its tags' counters.
pub(super) fn uncount_registration(totals: &mut Totals, survey: &str, old: &Registered) {
    count_invitation(
        totals,
        survey,
        &old.tags,
        None,
        old.at_ms,
        Metric::Registration,
        -1,
    );
    if old.answered {
        count_invitation(
            totals,
            survey,
            &old.tags,
            None,
            old.at_ms,
            Metric::Answered,
            -1,
        );
    }
}

/// Gives a response its registration's tags, moving its counters; its live-feed event.
pub(super) fn retag(
    mut response: Response,
    identity: &[u8],
    tags: &BTreeMap<String, String>,
    now_ms: i64,
    trees: &Trees<'_, '_>,
    totals: &mut Totals,
) -> Result<u64, StoreError> {
    count(totals, &response, Metric::Response, response.score, -1);
    response.tags = tags.clone();
    response.signed = true;
    response.registered = true;
    response.updated_ms = now_ms;
    let event = totals.events.add(trees.next_event, identity);
    response.last_event = event;
    count(totals, &response, Metric::Response, response.score, 1);
    trees
        .responses
        .insert(identity, stored_response::encode(&response));
    Ok(event)
}

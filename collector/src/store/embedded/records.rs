//! The transaction that applies one batch of writes.
//!
//! Each write is applied in order and sees the ones before it (a fjall write transaction reads its
//! own writes), so two ratings of one identity in one batch behave exactly as they would one after
//! the other. Every counter the batch moves is summed first and written once at the end: a batch of
//! ratings on the same day costs a handful of counter writes, not a dozen per rating.
//!
//! A rating is written here; what else a batch writes has its own module beside this one:
//! registrations and the tags they vouch for (`registry`), impressions and clicks (`views`), and
//! what every write shares, the anonymous limits' check among it (`batch`). All of it runs in
//! the one transaction `apply` opens.

use super::batch::{Totals, admit, count};
use super::keys;
use super::registry::{answer_invitation, register, vouching_registration};
use super::stored_response;
use super::transaction::{Tree, Trees, in_transaction};
use super::trees::{EmbeddedStore, encode};
use super::views::{click, impression};
use crate::domain::calendar::unix_ms;
use crate::domain::registration::as_vouched;
use crate::domain::response::{self, Change};
use crate::domain::{Day, Rating, Survey, SurveyId, Surveys};
use crate::store::backend::{
    AlertMessage, OutboxChange, Outcome, RecordError, Recorded, StoreError, Write,
};
use crate::store::counts::{Counts, Delta, Metric};
use time::OffsetDateTime;

pub(super) fn apply(
    store: &EmbeddedStore,
    surveys: &Surveys,
    writes: &[Write],
) -> Result<Vec<Outcome>, StoreError> {
    in_transaction(store, |trees| {
        let mut totals = Totals::default();
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in writes {
            outcomes.push(apply_one(write, surveys, trees, &mut totals)?);
        }
        for (key, delta) in &totals.counter_deltas {
            if !delta.is_zero() {
                add_to_counter(&trees.counters, key, delta)?;
            }
        }
        for key in &totals.new_tag_values {
            trees.tag_values.insert(key.as_slice(), []);
        }
        for (key, (stored, count)) in &totals.limit_counts {
            if count != stored {
                trees.limits.insert(key.as_slice(), count.to_be_bytes());
            }
        }
        totals.events.write(&trees.events);
        Ok(outcomes)
    })
}

fn apply_one(
    write: &Write,
    surveys: &Surveys,
    trees: &Trees<'_, '_>,
    totals: &mut Totals,
) -> Result<Outcome, StoreError> {
    match write {
        Write::Rating {
            survey,
            rating,
            now,
            allowance_left,
        } => Ok(Outcome::Rating(match survey_of(surveys, survey) {
            Ok(survey) => rate(survey, rating, *now, *allowance_left, trees, totals)?,
            Err(error) => Err(error.into()),
        })),
        Write::Impression {
            survey,
            subject,
            now,
        } => Ok(Outcome::Impression(match survey_of(surveys, survey) {
            Ok(survey) => impression(survey, subject, *now, trees, totals)?,
            Err(error) => Err(error.into()),
        })),
        Write::Click {
            survey,
            score,
            tags,
            lang,
            now,
        } => {
            click(survey, *score, tags, lang.as_ref(), *now, totals);
            Ok(Outcome::Done)
        }
        Write::Register {
            survey,
            registrations,
            now,
        } => Ok(Outcome::Registered(match survey_of(surveys, survey) {
            Ok(survey) => register(survey, registrations, *now, trees, totals)?,
            Err(error) => Err(error),
        })),
        Write::Outbox(change) => {
            change_outbox(&trees.outbox, change);
            Ok(Outcome::Done)
        }
        // A backup never reaches a transaction: the writer runs it between batches.
        Write::Barrier | Write::Backup { .. } => Ok(Outcome::Done),
    }
}

/// Requests were checked against the same configuration the writer holds, so every survey is
/// found; if one were not, that write is refused rather than the writer thread dying.
fn survey_of<'s>(surveys: &'s Surveys, id: &SurveyId) -> Result<&'s Survey, StoreError> {
    surveys
        .get(id.as_str())
        .map(AsRef::as_ref)
        .ok_or_else(|| StoreError::Engine(format!("a write named an unknown survey {id}")))
}

/// One rating: reads its identity's response, lets the domain decide what changes, then
/// writes the response, its counter changes, its event and, when it alerts, its outbox entry.
fn rate(
    survey: &Survey,
    rating: &Rating,
    now: OffsetDateTime,
    allowance_left: bool,
    trees: &Trees<'_, '_>,
    totals: &mut Totals,
) -> Result<Result<Box<Recorded>, RecordError>, StoreError> {
    let now_ms = unix_ms(now);
    let registration = match vouching_registration(survey, rating, now_ms, trees)? {
        Ok(registration) => registration,
        Err(error) => return Ok(Err(error)),
    };
    let rating = match as_vouched(survey, rating, registration.as_ref()) {
        Ok(rating) => rating,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let rating = rating.as_ref();
    let subject = &rating.subject;
    let identity = keys::identity(
        survey.id.as_str(),
        subject.interaction.as_ref().map(|i| i.as_str()),
        subject.response_id.as_str(),
    );
    let existing = match trees.responses.get(&identity)? {
        // A record we wrote ourselves no longer decodes: corruption, not the client's fault.
        Some(bytes) => match stored_response::decode(&bytes) {
            Ok(old) => Some(old),
            Err(error) => return Ok(Err(error.into())),
        },
        None => None,
    };
    let mut change = match response::answer(existing.as_ref(), survey, rating, now_ms) {
        Ok(change) => change,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let alerts = change.alerts(survey);
    let follows_up = change.follows_up_alert(survey);
    if alerts {
        change.response_mut().alerted = true;
    }
    let previous = match &change {
        Change::Unchanged(old) => {
            return Ok(Ok(Box::new(Recorded {
                status: change.status(),
                response: old.clone(),
                event: None,
                alert_queued: false,
                counted_unverified: false,
            })));
        }
        Change::Created(_) => None,
        Change::Updated { before, .. } => Some(before),
    };
    let counted_unverified = matches!(change, Change::Created(_)) && !subject.trusted();
    let admitted = admit(
        survey,
        subject.trusted(),
        &change.response().tags,
        change.response().lang.as_deref(),
        counted_unverified.then_some((Day::of(now), allowance_left)),
        trees,
        totals,
    )?;
    if let Err(refusal) = admitted {
        return Ok(Err(refusal.into()));
    }
    if matches!(change, Change::Created(_)) {
        answer_invitation(survey, subject, registration, trees, totals)?;
    }
    if let Some(old) = previous {
        count(totals, old, Metric::Response, old.score, -1);
    }
    let event = totals.events.add(trees.next_event, &identity);
    let stored = change.response_mut();
    stored.last_event = event;
    count(totals, stored, Metric::Response, stored.score, 1);
    trees
        .responses
        .insert(identity.as_slice(), stored_response::encode(stored));

    let message = AlertMessage::for_change(survey, alerts, follows_up, event, stored, now_ms);
    let queued = message.is_some();
    if let Some(message) = message {
        trees
            .outbox
            .insert(keys::outbox_due(message.key()), encode(&message));
    }
    Ok(Ok(Box::new(Recorded {
        status: change.status(),
        response: change.response().clone(),
        event: Some(event),
        alert_queued: queued,
        counted_unverified,
    })))
}

/// Removes, queues and sets aside alert messages as one change.
fn change_outbox(outbox: &Tree<'_, '_>, change: &OutboxChange) {
    for key in &change.remove {
        outbox.remove(keys::outbox_due(*key));
    }
    if let Some(message) = &change.queue {
        outbox.insert(keys::outbox_due(message.key()), encode(message));
    }
    if let Some(message) = &change.set_aside {
        let key = keys::outbox_aside(&message.survey, message.id);
        outbox.insert(key, encode(message));
    }
}

fn add_to_counter(tree: &Tree<'_, '_>, key: &[u8], delta: &Delta) -> Result<(), StoreError> {
    let current = tree
        .get(key)?
        .map_or_else(Counts::default, |value| Counts::decode(&value));
    let next = delta.applied_to(current);
    if next.is_zero() {
        tree.remove(key);
    } else {
        tree.insert(key, next.encode());
    }
    Ok(())
}

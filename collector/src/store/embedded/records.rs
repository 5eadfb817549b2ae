//! The transaction that applies one batch of writes.
//!
//! Each write is applied in order and sees the ones before it (a sled transaction reads its own
//! writes), so two ratings of one identity in one batch behave exactly as they would one after
//! the other. Every counter the batch moves is summed first and written once at the end: a
//! batch of ratings on the same day costs a handful of counter writes, not a dozen per rating.

use super::counts::{Counts, Delta, Metric};
use super::keys;
use super::trees::{EmbeddedStore, decode, encode};
use crate::domain::calendar::unix_ms;
use crate::domain::rating::Subject;
use crate::domain::response::{self, Change};
use crate::domain::survey::LANG_DIMENSION;
use crate::domain::{Day, Hour, Lang, Rating, Response, Score, Survey, SurveyId, Surveys};
use crate::store::backend::{
    AlertId, Dimension, Grain, Outcome, PendingAlert, RecordError, Recorded, StoreError, Write,
};
use pulsetap_wire::Tags;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use time::OffsetDateTime;

/// No transaction here aborts on purpose: a refusal is one rating's answer, not a reason to
/// undo the others, so only storage errors end one early.
type Tx = ConflictableTransactionError<Infallible>;

/// The trees a batch writes, inside its transaction.
struct Trees<'t> {
    responses: &'t TransactionalTree,
    impressions: &'t TransactionalTree,
    events: &'t TransactionalTree,
    outbox: &'t TransactionalTree,
}

/// What the writes of one transaction add up to, written once at its end.
#[derive(Default)]
struct Totals {
    counter_deltas: HashMap<Vec<u8>, Delta>,
    tag_values: BTreeSet<Vec<u8>>,
}

/// A shown widget, as kept: when, with which tags and in which language (so an audit can
/// recount it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredImpression {
    pub at_ms: i64,
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

pub(super) fn apply(
    store: &EmbeddedStore,
    surveys: &Surveys,
    writes: &[Write],
) -> Result<Vec<Outcome>, StoreError> {
    let outcome = (
        &store.responses,
        &store.counters,
        &store.tag_values,
        &store.impressions,
        &store.events,
        &store.outbox,
    )
        .transaction(
            |(responses, counters, tag_values, impressions, events, outbox)| -> Result<_, Tx> {
                let trees = Trees {
                    responses,
                    impressions,
                    events,
                    outbox,
                };
                let mut totals = Totals::default();
                let mut outcomes = Vec::with_capacity(writes.len());
                for write in writes {
                    outcomes.push(apply_one(write, surveys, &trees, &mut totals)?);
                }
                for (key, delta) in &totals.counter_deltas {
                    if !delta.is_zero() {
                        add_to_counter(counters, key, delta)?;
                    }
                }
                remember_tag_values(tag_values, &totals.tag_values)?;
                Ok(outcomes)
            },
        );
    outcome.map_err(|error| match error {
        TransactionError::Abort(never) => match never {},
        TransactionError::Storage(error) => error.into(),
    })
}

fn apply_one(
    write: &Write,
    surveys: &Surveys,
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<Outcome, UnabortableTransactionError> {
    match write {
        Write::Rating {
            survey,
            rating,
            now,
        } => Ok(Outcome::Rating(match survey_of(surveys, survey) {
            Ok(survey) => rate(survey, rating, *now, trees, totals)?,
            Err(error) => Err(error.into()),
        })),
        Write::Impression {
            survey,
            subject,
            now,
        } => impression(survey, subject, *now, trees, totals).map(Outcome::Impression),
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
        Write::AlertSent(AlertId(id)) => {
            trees.outbox.remove(&keys::event(*id))?;
            Ok(Outcome::Done)
        }
        Write::AlertFailed(alert) => {
            trees
                .outbox
                .insert(&keys::event(alert.id.0), encode(alert))?;
            Ok(Outcome::Done)
        }
        Write::Barrier => Ok(Outcome::Done),
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
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<Result<Box<Recorded>, RecordError>, UnabortableTransactionError> {
    let subject = &rating.subject;
    let identity = keys::identity(
        survey.id.as_str(),
        subject.interaction.as_ref().map(|i| i.as_str()),
        subject.response_id.as_str(),
    );
    let now_ms = unix_ms(now);
    let existing = match trees.responses.get(&identity)? {
        // A record we wrote ourselves no longer decodes: corruption, not the client's fault.
        Some(bytes) => match decode::<Response>(&bytes, "response") {
            Ok(old) => Some(old),
            Err(error) => return Ok(Err(error.into())),
        },
        None => None,
    };
    let mut change = match response::answer(existing.as_ref(), survey, rating, now_ms) {
        Ok(change) => change,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let alert_queued = change.alerts(survey);
    let previous = match &change {
        Change::Unchanged(old) => {
            return Ok(Ok(Box::new(Recorded {
                status: change.status(),
                response: old.clone(),
                event: None,
                alert_queued: false,
            })));
        }
        Change::Created(_) => None,
        Change::Updated { before, .. } => Some(before),
    };
    if let Some(old) = previous {
        count(totals, old, Metric::Response, old.score, -1);
    }
    let event = trees.events.generate_id()?;
    let stored = change.response_mut();
    stored.last_event = event;
    count(totals, stored, Metric::Response, stored.score, 1);
    totals.tag_values.extend(tag_value_keys(
        &stored.survey,
        &stored.tags,
        stored.lang.as_deref(),
    ));
    trees
        .responses
        .insert(identity.as_slice(), encode(&*stored))?;
    trees
        .events
        .insert(&keys::event(event), identity.as_slice())?;

    if let Some(alert) = survey.alert.as_ref().filter(|_| alert_queued) {
        let pending = PendingAlert {
            id: AlertId(event),
            webhook: alert.webhook.clone(),
            idempotency_key: format!("{}-{event}", stored.survey),
            response: stored.clone(),
            attempts: 0,
            next_attempt_ms: now_ms,
        };
        trees.outbox.insert(&keys::event(event), encode(&pending))?;
    }
    Ok(Ok(Box::new(Recorded {
        status: change.status(),
        response: change.response().clone(),
        event: Some(event),
        alert_queued,
    })))
}

/// Counts an impression once per response_id; whether it was new.
fn impression(
    survey: &SurveyId,
    subject: &Subject,
    now: OffsetDateTime,
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<bool, UnabortableTransactionError> {
    let key = keys::impression(survey.as_str(), subject.response_id.as_str());
    if trees.impressions.get(&key)?.is_some() {
        return Ok(false);
    }
    let stored = StoredImpression {
        at_ms: unix_ms(now),
        tags: subject.tags.as_map().clone(),
        lang: subject.lang.as_ref().map(ToString::to_string),
    };
    trees.impressions.insert(key.as_slice(), encode(&stored))?;
    for counter in counter_keys(survey.as_str(), &stored.tags, stored.lang.as_deref(), now) {
        totals
            .counter_deltas
            .entry(counter)
            .or_default()
            .add(Metric::Impression, 0, 1);
    }
    totals.tag_values.extend(tag_value_keys(
        survey.as_str(),
        &stored.tags,
        stored.lang.as_deref(),
    ));
    Ok(true)
}

/// Counts an opened email link that no page confirmed.
fn click(
    survey: &SurveyId,
    score: Score,
    tags: &Tags,
    lang: Option<&Lang>,
    now: OffsetDateTime,
    totals: &mut Totals,
) {
    let lang = lang.map(Lang::as_str);
    for counter in counter_keys(survey.as_str(), tags, lang, now) {
        totals.counter_deltas.entry(counter).or_default().add(
            Metric::UnconfirmedClick,
            score.get(),
            1,
        );
    }
}

/// Adds `by` to `metric` in every counter a response falls in.
fn count(totals: &mut Totals, response: &Response, metric: Metric, score: u8, by: i64) {
    let created = crate::domain::calendar::from_unix_ms(response.created_ms);
    let lang = response.lang.as_deref();
    for key in counter_keys(&response.survey, &response.tags, lang, created) {
        totals
            .counter_deltas
            .entry(key)
            .or_default()
            .add(metric, score, by);
    }
}

/// The day and hour counters of every dimension a tagged event falls in: the survey's, each of
/// its tags', and its language's (counted like a tag named `lang`, which no survey may have).
pub(super) fn counter_keys(
    survey: &str,
    tags: &BTreeMap<String, String>,
    lang: Option<&str>,
    at: OffsetDateTime,
) -> Vec<Vec<u8>> {
    let (day, hour) = (Day::of(at).0, Hour::of(at).0);
    let dimensions = std::iter::once(Dimension::All)
        .chain(tags.iter().map(|(k, v)| Dimension::Tag(k, v)))
        .chain(lang.map(|lang| Dimension::Tag(LANG_DIMENSION, lang)));
    dimensions
        .flat_map(|dimension| {
            [
                keys::counter(survey, &dimension, Grain::Day, day),
                keys::counter(survey, &dimension, Grain::Hour, hour),
            ]
        })
        .collect()
}

/// The `tag_values` keys of a response's or impression's tags and language (the languages a
/// survey speaks are few and configured, so they need no cap of their own).
fn tag_value_keys<'a>(
    survey: &'a str,
    tags: &'a BTreeMap<String, String>,
    lang: Option<&'a str>,
) -> impl Iterator<Item = Vec<u8>> + 'a {
    tags.iter()
        .map(move |(tag, value)| keys::tag_value(survey, tag, value))
        .chain(lang.map(|lang| keys::tag_value(survey, LANG_DIMENSION, lang)))
}

/// Notes each tag value for breakdowns. Most are already known: reading first spares a write
/// (and the log space it would take) on nearly every rating.
fn remember_tag_values(tree: &TransactionalTree, keys: &BTreeSet<Vec<u8>>) -> Result<(), Tx> {
    for key in keys {
        if tree.get(key)?.is_none() {
            tree.insert(key.as_slice(), &[])?;
        }
    }
    Ok(())
}

fn add_to_counter(tree: &TransactionalTree, key: &[u8], delta: &Delta) -> Result<(), Tx> {
    let current = tree
        .get(key)?
        .map_or_else(Counts::default, |value| Counts::decode(&value));
    let next = delta.applied_to(current);
    if next.is_zero() {
        tree.remove(key)?;
    } else {
        tree.insert(key, next.encode())?;
    }
    Ok(())
}

//! The transaction that applies one batch of writes.
//!
//! Each write is applied in order and sees the ones before it (a sled transaction reads its own
//! writes), so two ratings of one identity in one batch behave exactly as they would one after
//! the other. Every counter the batch moves is summed first and written once at the end: a
//! batch of ratings on the same day costs a handful of counter writes, not a dozen per rating.
//!
//! The registry is read here too: a rating for a registered interaction takes the registered
//! tags in the transaction that writes it, so a registration and a rating racing each other
//! never leave a response with tags the registry does not say.
//!
//! The anonymous limits are counted here too (`domain::limits` decides): a new tag value or a
//! new unverified response is checked against its count and counted in the transaction that
//! writes it, so no two requests can both take the last place.

use super::counts::{Counts, Delta, Metric};
use super::keys;
use super::trees::{EmbeddedStore, decode, decode_count, encode};
use crate::domain::calendar::unix_ms;
use crate::domain::limits;
use crate::domain::rating::TagSet;
use crate::domain::registration::{Registered, Registration};
use crate::domain::response::{self, Change, Refusal};
use crate::domain::survey::{LANG_DIMENSION, UnknownInteractions};
use crate::domain::{Day, Hour, Lang, Rating, Response, Score, Survey, SurveyId, Surveys};
use crate::store::backend::{
    AlertId, AlertMessage, Dimension, Grain, Notice, NoticeKind, OutboxChange, Outcome,
    RecordError, Recorded, RegisterReport, StoreError, Write,
};
use pulsetap_wire::Tags;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
    tag_values: &'t TransactionalTree,
    limits: &'t TransactionalTree,
    registrations: &'t TransactionalTree,
}

/// What the writes of one transaction add up to, written once at its end.
#[derive(Default)]
struct Totals {
    counter_deltas: HashMap<Vec<u8>, Delta>,
    /// `tag_values` keys already stored, looked up once per batch.
    known_tag_values: HashSet<Vec<u8>>,
    /// `tag_values` keys this batch adds.
    new_tag_values: BTreeSet<Vec<u8>>,
    /// Counts of the `limits` tree this batch read: as stored, and after its writes so far.
    limit_counts: HashMap<Vec<u8>, (u64, u64)>,
}

impl Totals {
    /// Whether a tag value is stored, or added by an earlier write of this batch.
    fn knows_tag_value(
        &mut self,
        tree: &TransactionalTree,
        key: &[u8],
    ) -> Result<bool, UnabortableTransactionError> {
        if self.new_tag_values.contains(key) || self.known_tag_values.contains(key) {
            return Ok(true);
        }
        let known = tree.get(key)?.is_some();
        if known {
            self.known_tag_values.insert(key.to_vec());
        }
        Ok(known)
    }

    /// A count of the `limits` tree, with this batch's changes.
    fn limit_count(
        &mut self,
        tree: &TransactionalTree,
        key: Vec<u8>,
    ) -> Result<u64, UnabortableTransactionError> {
        if let Some(&(_, count)) = self.limit_counts.get(&key) {
            return Ok(count);
        }
        let count = decode_count(tree.get(&key)?.as_deref());
        self.limit_counts.insert(key, (count, count));
        Ok(count)
    }

    /// Adds one to a count `limit_count` read.
    fn count_one_more(&mut self, key: Vec<u8>) {
        if let Some((_, count)) = self.limit_counts.get_mut(&key) {
            *count += 1;
        }
    }
}

/// A shown widget, as kept: when, with which tags and in which language (so an audit can
/// recount it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredImpression {
    pub at_ms: i64,
    pub tags: BTreeMap<String, String>,
    /// A response with its response_id was created: the invitation was answered.
    #[serde(default)]
    pub answered: bool,
    /// Shown for a registered interaction, whose registration is already its invitation: kept
    /// (so it counts once per response_id) but not counted as an impression.
    #[serde(default)]
    pub uncounted: bool,
    /// The language the widget was shown in.
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
        &store.limits,
        &store.registrations,
    )
        .transaction(
            |(
                responses,
                counters,
                tag_values,
                impressions,
                events,
                outbox,
                limit_counts,
                registrations,
            )|
             -> Result<_, Tx> {
                let trees = Trees {
                    responses,
                    impressions,
                    events,
                    outbox,
                    tag_values,
                    limits: limit_counts,
                    registrations,
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
                for key in &totals.new_tag_values {
                    tag_values.insert(key.as_slice(), &[])?;
                }
                for (key, (stored, count)) in &totals.limit_counts {
                    if count != stored {
                        limit_counts.insert(key.as_slice(), &count.to_be_bytes())?;
                    }
                }
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
            change_outbox(trees.outbox, change)?;
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
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<Result<Box<Recorded>, RecordError>, UnabortableTransactionError> {
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
    let event = trees.events.generate_id()?;
    let stored = change.response_mut();
    stored.last_event = event;
    count(totals, stored, Metric::Response, stored.score, 1);
    trees
        .responses
        .insert(identity.as_slice(), encode(&*stored))?;
    trees
        .events
        .insert(&keys::event(event), identity.as_slice())?;

    let notice = match (alerts, follows_up) {
        (true, _) => Some(NoticeKind::Alert),
        (false, true) => Some(NoticeKind::Update),
        (false, false) => None,
    };
    let queued = match (notice, survey.alert.as_ref()) {
        (Some(kind), Some(alert)) => {
            let notice = Notice {
                id: AlertId(event),
                kind,
                response: stored.clone(),
            };
            let message = AlertMessage::new(notice, alert.webhook.clone(), now_ms);
            trees
                .outbox
                .insert(&keys::outbox_due(message.key()), encode(&message))?;
            true
        }
        _ => false,
    };
    Ok(Ok(Box::new(Recorded {
        status: change.status(),
        response: change.response().clone(),
        event: Some(event),
        alert_queued: queued,
        counted_unverified,
    })))
}

/// Checks a write against the anonymous limits and, when it passes, counts it: the tag values
/// it brings that the survey never had, and a new unverified response (`unverified`: the day,
/// and whether the sender has some of its daily allowance left). A refusal counts nothing.
/// Its language is noted as a value of the `lang` pseudo-tag, with no limit: a survey speaks
/// only the few languages it is configured with.
fn admit(
    survey: &Survey,
    trusted: bool,
    tags: &BTreeMap<String, String>,
    lang: Option<&str>,
    unverified: Option<(Day, bool)>,
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<Result<(), Refusal>, UnabortableTransactionError> {
    let survey_id = survey.id.as_str();
    let mut new_values = Vec::new();
    for (tag, value) in tags {
        let key = keys::tag_value(survey_id, tag, value);
        if totals.knows_tag_value(trees.tag_values, &key)? {
            continue;
        }
        let count_key = keys::tag_value_count(survey_id, tag);
        let distinct = totals.limit_count(trees.limits, count_key.clone())?;
        if !trusted && let Err(refusal) = limits::admit_unverified_tag_value(tag, distinct, survey)
        {
            return Ok(Err(refusal));
        }
        new_values.push((key, count_key));
    }
    let day_key = unverified.map(|(day, _)| keys::unverified_on(survey_id, day.0));
    if let (Some(day_key), Some((_, allowance_left))) = (&day_key, unverified) {
        let created_today = totals.limit_count(trees.limits, day_key.clone())?;
        if let Err(refusal) =
            limits::admit_unverified_response(allowance_left, created_today, survey)
        {
            return Ok(Err(refusal));
        }
    }
    for (key, count_key) in new_values {
        totals.new_tag_values.insert(key);
        totals.count_one_more(count_key);
    }
    if let Some(day_key) = day_key {
        totals.count_one_more(day_key);
    }
    if let Some(lang) = lang {
        let key = keys::tag_value(survey_id, LANG_DIMENSION, lang);
        if !totals.knows_tag_value(trees.tag_values, &key)? {
            totals.new_tag_values.insert(key);
        }
    }
    Ok(Ok(()))
}

/// The registration of a rating's interaction, when it still vouches for it.
fn vouching_registration(
    survey: &Survey,
    rating: &Rating,
    now_ms: i64,
    trees: &Trees<'_>,
) -> Result<Result<Option<Registered>, RecordError>, UnabortableTransactionError> {
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
fn read_registration(
    survey: &str,
    interaction: &str,
    trees: &Trees<'_>,
) -> Result<Option<Result<Registered, StoreError>>, UnabortableTransactionError> {
    Ok(trees
        .registrations
        .get(keys::registration(survey, interaction))?
        .map(|bytes| decode::<Registered>(&bytes, "registration")))
}

/// The rating as the registry vouches for it: a registered interaction takes its registered
/// tags, whatever the rating says; one neither signed nor registered is taken as the survey's
/// `unknown_interactions` says.
fn as_vouched<'r>(
    survey: &Survey,
    rating: &'r Rating,
    registration: Option<&Registered>,
) -> Result<Cow<'r, Rating>, Refusal> {
    let subject = &rating.subject;
    if let Some(registration) = registration {
        let mut vouched = rating.clone();
        vouched.subject.tags = TagSet::registered(registration.tags.clone(), survey);
        vouched.subject.registered = true;
        return Ok(Cow::Owned(vouched));
    }
    if subject.interaction.is_none() || subject.signed {
        return Ok(Cow::Borrowed(rating));
    }
    if survey.require_sig {
        return Err(Refusal::SignatureRequired);
    }
    match survey.unknown_interactions {
        UnknownInteractions::Anonymous => Ok(Cow::Borrowed(rating)),
        UnknownInteractions::Accept => {
            let mut untagged = rating.clone();
            untagged.subject.tags = TagSet::default();
            Ok(Cow::Owned(untagged))
        }
        UnknownInteractions::Refuse => Err(Refusal::UnknownInteraction),
    }
}

/// A new response answers what invited it, once: its registration, else the widget shown with
/// its response_id. Counted in the invitation's own buckets and tags, so no group ever has
/// more answered than invited.
fn answer_invitation(
    survey: &Survey,
    subject: &crate::domain::rating::Subject,
    registration: Option<Registered>,
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<(), UnabortableTransactionError> {
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
            )?;
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
        trees.impressions.insert(key, encode(&impression))?;
    }
    Ok(())
}

/// Adds `by` to `metric` in every counter of an invitation made at `at_ms` with `tags` (and, for
/// a widget shown, the language it was shown in; a registration has none).
fn count_invitation(
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
fn register(
    survey: &Survey,
    registrations: &[Registration],
    now: OffsetDateTime,
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<Result<RegisterReport, StoreError>, UnabortableTransactionError> {
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
            Some(bytes) => match decode::<Response>(&bytes, "response") {
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
            .insert(keys::registration(survey_id, interaction), encode(&stored))?;
    }
    Ok(Ok(report))
}

/// Takes an old registration's invitation (and its answer) out of its tags' counters.
fn uncount_registration(totals: &mut Totals, survey: &str, old: &Registered) {
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
fn retag(
    mut response: Response,
    identity: &[u8],
    tags: &BTreeMap<String, String>,
    now_ms: i64,
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<u64, UnabortableTransactionError> {
    count(totals, &response, Metric::Response, response.score, -1);
    response.tags = tags.clone();
    response.signed = true;
    response.registered = true;
    response.updated_ms = now_ms;
    let event = trees.events.generate_id()?;
    response.last_event = event;
    count(totals, &response, Metric::Response, response.score, 1);
    trees.responses.insert(identity, encode(&response))?;
    trees.events.insert(&keys::event(event), identity)?;
    Ok(event)
}

/// Removes, queues and sets aside alert messages as one change.
fn change_outbox(
    outbox: &TransactionalTree,
    change: &OutboxChange,
) -> Result<(), UnabortableTransactionError> {
    for key in &change.remove {
        outbox.remove(&keys::outbox_due(*key))?;
    }
    if let Some(message) = &change.queue {
        outbox.insert(&keys::outbox_due(message.key()), encode(message))?;
    }
    if let Some(message) = &change.set_aside {
        let key = keys::outbox_aside(&message.survey, message.id);
        outbox.insert(key, encode(message))?;
    }
    Ok(())
}

/// Counts an impression once per response_id; whether it was new.
fn impression(
    survey: &Survey,
    subject: &crate::domain::rating::Subject,
    now: OffsetDateTime,
    trees: &Trees<'_>,
    totals: &mut Totals,
) -> Result<Result<bool, RecordError>, UnabortableTransactionError> {
    let survey_id = survey.id.as_str();
    let key = keys::impression(survey_id, subject.response_id.as_str());
    if trees.impressions.get(&key)?.is_some() {
        return Ok(Ok(false));
    }
    let now_ms = unix_ms(now);
    let registered = match &subject.interaction {
        Some(interaction) => read_registration(survey_id, interaction.as_str(), trees)?
            .is_some_and(|found| {
                found
                    .as_ref()
                    .is_ok_and(|registration| registration.vouches_at(now_ms))
            }),
        None => false,
    };
    if survey.require_sig && !subject.signed && subject.interaction.is_some() && !registered {
        return Ok(Err(Refusal::SignatureRequired.into()));
    }
    let stored = StoredImpression {
        at_ms: now_ms,
        tags: subject.tags.as_map().clone(),
        answered: false,
        uncounted: registered,
        lang: subject.lang.as_ref().map(ToString::to_string),
    };
    if registered {
        // Its registration is its invitation (with the registered tags): kept only so that
        // its response_id counts once.
        trees.impressions.insert(key.as_slice(), encode(&stored))?;
        return Ok(Ok(true));
    }
    let lang = stored.lang.as_deref();
    if let Err(refusal) = admit(
        survey,
        subject.trusted(),
        &stored.tags,
        lang,
        None,
        trees,
        totals,
    )? {
        return Ok(Err(refusal.into()));
    }
    trees.impressions.insert(key.as_slice(), encode(&stored))?;
    for counter in counter_keys(survey_id, &stored.tags, stored.lang.as_deref(), now) {
        totals
            .counter_deltas
            .entry(counter)
            .or_default()
            .add(Metric::Impression, 0, 1);
    }
    Ok(Ok(true))
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

//! What a batch writes for a widget shown (an impression, counted once per response_id) and for
//! an email link opened that no page confirmed (a click).

use super::batch::{StoredImpression, Totals, admit, counter_keys};
use super::keys;
use super::registry::read_registration;
use super::transaction::Trees;
use super::trees::encode;
use crate::domain::calendar::unix_ms;
use crate::domain::response::Refusal;
use crate::domain::{Lang, Score, Survey, SurveyId};
use crate::store::backend::{RecordError, StoreError};
use crate::store::counts::Metric;
use pulsetap_wire::Tags;
use time::OffsetDateTime;

/// Counts an impression once per response_id; whether it was new.
pub(super) fn impression(
    survey: &Survey,
    subject: &crate::domain::rating::Subject,
    now: OffsetDateTime,
    trees: &Trees<'_, '_>,
    totals: &mut Totals,
) -> Result<Result<bool, RecordError>, StoreError> {
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
        trees.impressions.insert(key.as_slice(), encode(&stored));
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
    trees.impressions.insert(key.as_slice(), encode(&stored));
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
pub(super) fn click(
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

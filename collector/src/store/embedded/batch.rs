//! What every write of a batch shares: the totals it writes once at its end, the counters an event
//! falls in, and the anonymous limits' check (`domain::limits` decides; a new tag value or
//! unverified response is counted in the transaction that writes it, so no two requests can both
//! take the last place).

use super::event_log::NewEvents;
use super::keys;
use super::transaction::{Tree, Trees};
use super::trees::decode_count;
use crate::domain::limits;
use crate::domain::response::Refusal;
use crate::domain::survey::LANG_DIMENSION;
use crate::domain::{Day, Hour, Response, Survey};
use crate::store::backend::{Dimension, Grain, StoreError};
use crate::store::counts::{Delta, Metric};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use time::OffsetDateTime;

/// What the writes of one transaction add up to, written once at its end.
#[derive(Default)]
pub(super) struct Totals {
    pub(super) counter_deltas: HashMap<Vec<u8>, Delta>,
    /// `tag_values` keys already stored, looked up once per batch.
    pub(super) known_tag_values: HashSet<Vec<u8>>,
    /// `tag_values` keys this batch adds.
    pub(super) new_tag_values: BTreeSet<Vec<u8>>,
    /// Counts of the `limits` tree this batch read: as stored, and after its writes so far.
    pub(super) limit_counts: HashMap<Vec<u8>, (u64, u64)>,
    /// The live-feed events of the batch, written at its end as one entry (another wherever
    /// their numbers skip, `event_log`).
    pub(super) events: NewEvents,
}

impl Totals {
    /// Whether a tag value is stored, or added by an earlier write of this batch.
    pub(super) fn knows_tag_value(
        &mut self,
        tree: &Tree<'_, '_>,
        key: &[u8],
    ) -> Result<bool, StoreError> {
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
    pub(super) fn limit_count(
        &mut self,
        tree: &Tree<'_, '_>,
        key: Vec<u8>,
    ) -> Result<u64, StoreError> {
        if let Some(&(_, count)) = self.limit_counts.get(&key) {
            return Ok(count);
        }
        let count = decode_count(tree.get(&key)?.as_deref());
        self.limit_counts.insert(key, (count, count));
        Ok(count)
    }

    /// Adds one to a count `limit_count` read.
    pub(super) fn count_one_more(&mut self, key: Vec<u8>) {
        if let Some((_, count)) = self.limit_counts.get_mut(&key) {
            *count += 1;
        }
    }
}

/// A shown widget, as kept: when, with which tags and in which language (so an audit can
/// recount it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredImpression {
    pub(super) at_ms: i64,
    pub(super) tags: BTreeMap<String, String>,
    /// A response with its response_id was created: the invitation was answered.
    #[serde(default)]
    pub(super) answered: bool,
    /// Shown for a registered interaction, whose registration is already its invitation: kept
    /// (so it counts once per response_id) but not counted as an impression.
    #[serde(default)]
    pub(super) uncounted: bool,
    /// The language the widget was shown in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) lang: Option<String>,
}

/// Checks a write against the anonymous limits and, when it passes, counts it: the tag values
/// it brings that the survey never had, and a new unverified response (`unverified`: the day,
/// and whether the sender has some of its daily allowance left). A refusal counts nothing.
/// Its language is noted as a value of the `lang` pseudo-tag, with no limit: a survey speaks
/// only the few languages it is configured with.
pub(super) fn admit(
    survey: &Survey,
    trusted: bool,
    tags: &BTreeMap<String, String>,
    lang: Option<&str>,
    unverified: Option<(Day, bool)>,
    trees: &Trees<'_, '_>,
    totals: &mut Totals,
) -> Result<Result<(), Refusal>, StoreError> {
    let survey_id = survey.id.as_str();
    let mut new_values = Vec::new();
    for (tag, value) in tags {
        let key = keys::tag_value(survey_id, tag, value);
        if totals.knows_tag_value(&trees.tag_values, &key)? {
            continue;
        }
        let count_key = keys::tag_value_count(survey_id, tag);
        let distinct = totals.limit_count(&trees.limits, count_key.clone())?;
        if !trusted && let Err(refusal) = limits::admit_unverified_tag_value(tag, distinct, survey)
        {
            return Ok(Err(refusal));
        }
        new_values.push((key, count_key));
    }
    let day_key = unverified.map(|(day, _)| keys::unverified_on(survey_id, day.0));
    if let (Some(day_key), Some((_, allowance_left))) = (&day_key, unverified) {
        let created_today = totals.limit_count(&trees.limits, day_key.clone())?;
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
        if !totals.knows_tag_value(&trees.tag_values, &key)? {
            totals.new_tag_values.insert(key);
        }
    }
    Ok(Ok(()))
}

/// Adds `by` to `metric` in every counter a response falls in.
pub(super) fn count(totals: &mut Totals, response: &Response, metric: Metric, score: u8, by: i64) {
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

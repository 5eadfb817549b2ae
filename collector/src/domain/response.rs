//! A response as kept, and the rule that merges a later answer into it.
//!
//! Every write of one identity, `(survey, interaction)` or else `(survey, response_id)`, lands
//! on one `Response`: a retry, a changed tap, a late comment, the same ticket answered by email
//! and then in the chat. [`answer`] decides what a new rating does to what is there. It is a
//! pure function, so every store applies exactly the same rule.

use super::calendar::{from_unix_ms, rfc3339};
use super::rating::Rating;
use super::survey::Survey;
use pulsetap_wire::{ResponseRecord, ScoreChange, WriteStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One response with its history.
///
/// This is also what the sled store writes (as JSON), so a field added later needs a serde
/// default for records written before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub survey: String,
    pub response_id: String,
    pub interaction: Option<String>,
    pub score: u8,
    pub tags: BTreeMap<String, String>,
    pub comment: Option<String>,
    /// A write-key holder vouched for the interaction and tags: a valid signature, or the
    /// registry (then `registered` too). Exports call it `verified`.
    pub signed: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Every score held, with when: `(score, unix ms)`, oldest first.
    pub history: Vec<(u8, i64)>,
    /// The live-feed event of the latest change, so a walk over the events can show each
    /// response once, where it last changed. 0 for records stored before it was kept.
    #[serde(default)]
    pub last_event: u64,
    /// The language of the texts the customer answered, as the survey spells it; `None` when
    /// not known (and for records stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// An alert was queued for this response, so a comment added later follows it up.
    #[serde(default)]
    pub alerted: bool,
    /// Its interaction is registered: its tags are the registration's.
    #[serde(default)]
    pub registered: bool,
}

impl Response {
    /// Whether `other` says anything different (times, history and events aside).
    fn same_answer(&self, other: &Self) -> bool {
        self.score == other.score
            && self.tags == other.tags
            && self.comment == other.comment
            && self.signed == other.signed
            && self.lang == other.lang
            && self.registered == other.registered
    }

    /// The value this response has for a read's dimension: one of its tags, or its language
    /// for `lang`.
    pub fn dimension(&self, key: &str) -> Option<&str> {
        if key == super::survey::LANG_DIMENSION {
            self.lang.as_deref()
        } else {
            self.tags.get(key).map(String::as_str)
        }
    }

    /// The response as exports, comments and the live feed show it.
    pub fn to_record(&self) -> ResponseRecord {
        ResponseRecord {
            survey: self.survey.clone(),
            response_id: self.response_id.clone(),
            interaction: self.interaction.clone(),
            score: self.score,
            tags: self.tags.clone(),
            comment: self.comment.clone(),
            lang: self.lang.clone(),
            created_at: rfc3339(from_unix_ms(self.created_ms)),
            updated_at: rfc3339(from_unix_ms(self.updated_ms)),
            history: self
                .history
                .iter()
                .map(|&(score, at)| ScoreChange {
                    score,
                    at: rfc3339(from_unix_ms(at)),
                })
                .collect(),
            verified: self.signed,
        }
    }
}

/// Why a well-formed rating (or impression) can't change what is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Another response_id, without a signature, for an interaction already answered.
    #[error("this interaction was already answered from another device or page")]
    AlreadyAnswered,
    /// The answer would change after the survey's edit window.
    #[error("this answer can no longer be changed: the survey's edit window has closed")]
    EditWindowClosed,
    /// Signed tags may only change with a new valid signature.
    #[error("the signature does not match this survey, interaction and tags")]
    SignedTagsChanged,
    /// The sender's visitor took its new unverified responses for today (`domain::limits`).
    #[error("too many ratings from this visitor today; try again tomorrow")]
    VisitorLimit,
    /// The survey took its new unverified responses for today (`domain::limits`).
    #[error(
        "this survey has taken its {max} unsigned ratings for today; it takes more from tomorrow (UTC), and signed ratings at any time"
    )]
    UnverifiedLimit { max: u64 },
    /// An unverified value for a tag that already has its `max_tag_values` (`domain::limits`).
    #[error(
        "tag {tag:?} already has its {max} different values, so new unsigned values are refused; a signed one is accepted"
    )]
    TooManyTagValues { tag: String, max: u64 },
    /// An interaction neither signed nor registered, on a survey set to refuse those
    /// (`unknown_interactions = "refuse"`).
    #[error(
        "this interaction is neither signed nor registered, and this survey refuses those: register it first (POST /v1/surveys/{{survey}}/interactions)"
    )]
    UnknownInteraction,
    /// An unsigned interaction nobody registered, on a `require_sig` survey.
    #[error("this survey accepts an interaction or tags only with a valid signature")]
    SignatureRequired,
}

impl Refusal {
    /// The stable code clients and metrics key on. Changing signed tags reads as what it is to
    /// the client: a signature that does not cover what was sent.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyAnswered => "already_answered",
            Self::EditWindowClosed => "edit_window_closed",
            Self::SignedTagsChanged => "bad_signature",
            Self::VisitorLimit => "visitor_limit",
            Self::UnverifiedLimit { .. } => "unverified_limit",
            Self::TooManyTagValues { .. } => "too_many_tag_values",
            Self::UnknownInteraction => "unknown_interaction",
            Self::SignatureRequired => "signature_required",
        }
    }
}

/// What a rating does to its identity's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing was stored: a new response.
    Created(Response),
    /// The answer changed.
    Updated { before: Response, after: Response },
    /// The same answer again (a retry): nothing to write.
    Unchanged(Response),
}

impl Change {
    pub fn status(&self) -> WriteStatus {
        match self {
            Self::Created(_) => WriteStatus::Created,
            Self::Updated { .. } => WriteStatus::Updated,
            Self::Unchanged(_) => WriteStatus::Unchanged,
        }
    }

    /// The response as it stands after the change.
    pub fn response(&self) -> &Response {
        match self {
            Self::Created(response) | Self::Unchanged(response) => response,
            Self::Updated { after, .. } => after,
        }
    }

    pub fn response_mut(&mut self) -> &mut Response {
        match self {
            Self::Created(response) | Self::Unchanged(response) => response,
            Self::Updated { after, .. } => after,
        }
    }

    /// Whether the survey's alert fires: an unhappy score that is new (a first answer, or a
    /// changed score), so neither a retry nor a late comment alerts twice.
    pub fn alerts(&self, survey: &Survey) -> bool {
        let Some(alert) = &survey.alert else {
            return false;
        };
        match self {
            Self::Created(response) => response.score <= alert.max_score,
            Self::Updated { before, after } => {
                after.score <= alert.max_score && after.score != before.score
            }
            Self::Unchanged(_) => false,
        }
    }

    /// Whether a comment follows up an alert: the response alerted before, this change does
    /// not alert again, and it brings a new comment. The team was told the customer is unhappy;
    /// this tells them why.
    pub fn follows_up_alert(&self, survey: &Survey) -> bool {
        let Self::Updated { before, after } = self else {
            return false;
        };
        before.alerted
            && !self.alerts(survey)
            && after.comment != before.comment
            && after
                .comment
                .as_deref()
                .is_some_and(|c| !c.trim().is_empty())
    }
}

/// Applies `rating` to what is stored under its identity (`existing`), at `now_ms`.
pub fn answer(
    existing: Option<&Response>,
    survey: &Survey,
    rating: &Rating,
    now_ms: i64,
) -> Result<Change, Refusal> {
    let subject = &rating.subject;
    let Some(old) = existing else {
        return Ok(Change::Created(Response {
            survey: survey.id.to_string(),
            response_id: subject.response_id.as_str().to_owned(),
            interaction: subject.interaction.as_ref().map(|i| i.as_str().to_owned()),
            score: rating.score.get(),
            tags: subject.tags.as_map().clone(),
            comment: rating.comment.as_ref().map(|c| c.as_str().to_owned()),
            signed: subject.trusted(),
            created_ms: now_ms,
            updated_ms: now_ms,
            history: vec![(rating.score.get(), now_ms)],
            last_event: 0,
            lang: subject.lang.as_ref().map(ToString::to_string),
            alerted: false,
            registered: subject.registered,
        }));
    };
    if old.response_id != subject.response_id.as_str() && !subject.trusted() {
        return Err(Refusal::AlreadyAnswered);
    }
    // Tags left out of a later write (a comment sent on its own, say) keep their values.
    let tags = if subject.tags.is_empty() {
        old.tags.clone()
    } else {
        subject.tags.as_map().clone()
    };
    if old.signed && !subject.trusted() && tags != old.tags {
        return Err(Refusal::SignedTagsChanged);
    }
    // A signature vouches for exactly the tags it covers: one made without tags keeps the
    // stored tags, and leaves them only as vouched for as they were.
    let vouched_now = subject.trusted() && subject.tags.as_map() == &tags;
    let mut merged = old.clone();
    merged.tags = tags;
    merged.signed = old.signed || vouched_now;
    merged.registered = old.registered || subject.registered;
    merged.score = rating.score.get();
    if let Some(comment) = &rating.comment {
        merged.comment = Some(comment.as_str().to_owned());
    }
    // Like tags, a later write that names no language (a comment sent on its own) keeps it.
    if let Some(lang) = &subject.lang {
        merged.lang = Some(lang.to_string());
    }
    if merged.same_answer(old) {
        return Ok(Change::Unchanged(old.clone()));
    }
    // The window counts from the first answer: a conversation can't be kept open for ever by
    // changing it every few days.
    let edit_window_ms = i64::try_from(survey.edit_window.as_millis()).unwrap_or(i64::MAX);
    if now_ms.saturating_sub(old.created_ms) > edit_window_ms {
        return Err(Refusal::EditWindowClosed);
    }
    if merged.score != old.score {
        merged.history.push((merged.score, now_ms));
    }
    merged.updated_ms = now_ms;
    Ok(Change::Updated {
        before: old.clone(),
        after: merged,
    })
}

#[cfg(test)]
mod tests;

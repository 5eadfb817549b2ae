//! A rating as the collector accepts it: the wire body checked against its survey.

use super::lang::Lang;
use super::survey::Survey;
use pulsetap_wire::{RecordImpression, RecordResponse, Tags};
use std::borrow::Cow;
use std::collections::BTreeMap;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

pub const MAX_COMMENT_CHARS: usize = 2_000;
pub const MAX_TEXT_CHARS: usize = 200;
pub const MAX_TAGS: usize = 20;

/// A well-formed body whose content breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("score must be between {min} and {max}, got {got}")]
    ScoreOutOfRange { got: u8, min: u8, max: u8 },
    #[error("response_id must be a UUID")]
    ResponseId,
    #[error(
        "interaction must be 1 to 200 characters without control or invisible formatting characters (such as bidi overrides)"
    )]
    Interaction,
    #[error("tag key {0:?} is not one of this survey's tags")]
    UnknownTag(String),
    #[error(
        "tag {0:?} must have a value of 1 to 200 characters without control or invisible formatting characters (such as bidi overrides)"
    )]
    TagValue(String),
    #[error("a response may carry at most {0} tags")]
    TooManyTags(usize),
    #[error("comment is longer than {max} characters")]
    CommentTooLong { max: usize },
    #[error(
        "lang {0:?} is not one of this survey's languages: send the `lang` of the widget configuration that was shown, or none"
    )]
    UnknownLang(String),
}

impl Invalid {
    /// The stable code clients and metrics key on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ScoreOutOfRange { .. } => "score_out_of_range",
            Self::ResponseId => "invalid_response_id",
            Self::Interaction => "invalid_interaction",
            Self::UnknownTag(_) => "unknown_tag",
            Self::TagValue(_) => "invalid_tag",
            Self::TooManyTags(_) => "too_many_tags",
            Self::CommentTooLong { .. } => "comment_too_long",
            Self::UnknownLang(_) => "unknown_lang",
        }
    }
}

/// Why a body can't become a rating or an impression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the signature does not match this survey, interaction and tags")]
    BadSignature,
    #[error("this survey accepts an interaction or tags only with a valid signature")]
    SignatureRequired,
}

impl RatingError {
    /// The stable code clients and metrics key on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(invalid) => invalid.code(),
            Self::BadSignature => "bad_signature",
            Self::SignatureRequired => "signature_required",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score(u8);

impl Score {
    /// A score of the survey's scale: 1 to its number of emoji, 0 to 10 for NPS, 1 to 7 for CES.
    pub fn parse(raw: u8, survey: &Survey) -> Result<Self, Invalid> {
        let scores = survey.scores();
        if scores.contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(Invalid::ScoreOutOfRange {
                got: raw,
                min: *scores.start(),
                max: *scores.end(),
            })
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// The client's UUID for one shown widget, kept in its canonical lowercase form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseId(String);

impl ResponseId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        uuid::Uuid::parse_str(raw)
            .map(|id| Self(id.hyphenated().to_string()))
            .map_err(|_| Invalid::ResponseId)
    }

    /// A fresh random id, for a rating made on the server (an email link's confirm form).
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A chat id, ticket id or any key the site owner uses for one interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction(String);

impl Interaction {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if is_plain_text(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::Interaction)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Tags whose keys the survey declares and whose values are short plain text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet(BTreeMap<String, String>);

impl TagSet {
    pub fn parse(raw: Tags, survey: &Survey) -> Result<Self, Invalid> {
        if raw.len() > MAX_TAGS {
            return Err(Invalid::TooManyTags(MAX_TAGS));
        }
        for (key, value) in &raw {
            if !survey.tags.contains(key) {
                return Err(Invalid::UnknownTag(key.clone()));
            }
            if !is_plain_text(value) {
                return Err(Invalid::TagValue(key.clone()));
            }
        }
        Ok(Self(raw))
    }

    /// A registration's tags as stored (checked when registered), without any key the survey
    /// no longer has: a tag removed from the configuration since is dropped, not refused.
    pub fn registered(mut tags: Tags, survey: &Survey) -> Self {
        tags.retain(|key, _| survey.tags.contains(key));
        Self(tags)
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A customer's comment, at most `MAX_COMMENT_CHARS` characters, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment(String);

impl Comment {
    /// `None` for a blank comment: there is nothing to keep. Invisible formatting characters
    /// that could make it show as something else are removed rather than refused: a customer's
    /// feedback must not be lost over a character they never saw.
    pub fn parse(raw: &str) -> Result<Option<Self>, Invalid> {
        let visible = without_hidden_formatting(raw);
        let trimmed = visible.trim();
        if trimmed.chars().count() > MAX_COMMENT_CHARS {
            return Err(Invalid::CommentTooLong {
                max: MAX_COMMENT_CHARS,
            });
        }
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who is answering: the interaction (if any), its tags, and whether a valid signature vouches
/// for both; and the language of the texts they saw. Shared by ratings and impressions.
#[derive(Debug, Clone)]
pub struct Subject {
    pub response_id: ResponseId,
    pub interaction: Option<Interaction>,
    pub tags: TagSet,
    pub signed: bool,
    /// The interaction is in the survey's registry, which gave it its tags (only the store,
    /// reading the registry, sets this).
    pub registered: bool,
    /// One of the survey's languages; `None` when the sender did not say.
    pub lang: Option<Lang>,
}

impl Subject {
    /// Whether a write-key holder vouched for the interaction and its tags: a valid signature,
    /// or the survey's registry (a helpdesk registered the interaction with these tags).
    /// Everything the anonymous limits spare asks this (the visitors' daily allowances, the
    /// survey's daily ceiling, the cap on tag values), so any other proof that a write-key
    /// holder stands behind a subject is added here, once.
    pub fn trusted(&self) -> bool {
        self.signed || self.registered
    }

    fn parse(
        survey: &Survey,
        response_id: &str,
        interaction: Option<&str>,
        tags: Tags,
        sig: Option<&str>,
        lang: Option<&str>,
    ) -> Result<Self, RatingError> {
        let response_id = ResponseId::parse(response_id)?;
        let lang = lang
            .map(|text| {
                survey
                    .language(text)
                    .cloned()
                    .ok_or_else(|| Invalid::UnknownLang(text.to_owned()))
            })
            .transpose()?;
        let interaction = interaction.map(Interaction::parse).transpose()?;
        let tags = TagSet::parse(tags, survey)?;
        let signed = match sig {
            None => false,
            Some(sig) => {
                let valid = survey.secret.as_ref().is_some_and(|secret| {
                    secret.verify_interaction(
                        survey.id.as_str(),
                        interaction.as_ref().map(Interaction::as_str),
                        tags.as_map(),
                        sig,
                    )
                });
                if !valid {
                    return Err(RatingError::BadSignature);
                }
                true
            }
        };
        // An unsigned interaction may still be registered, which only the store can tell: it
        // refuses one that is not (`Refusal::SignatureRequired`). Unsigned tags are refused here.
        if survey.require_sig && !signed && !tags.is_empty() {
            return Err(RatingError::SignatureRequired);
        }
        Ok(Self {
            response_id,
            interaction,
            tags,
            signed,
            registered: false,
            lang,
        })
    }
}

/// A rating accepted at the edge, ready to be stored.
#[derive(Debug, Clone)]
pub struct Rating {
    pub subject: Subject,
    pub score: Score,
    pub comment: Option<Comment>,
}

impl Rating {
    pub fn parse(body: RecordResponse, survey: &Survey) -> Result<Self, RatingError> {
        let score = Score::parse(body.score, survey)?;
        let comment = body
            .comment
            .as_deref()
            .map(Comment::parse)
            .transpose()?
            .flatten();
        let subject = Subject::parse(
            survey,
            &body.response_id,
            body.interaction.as_deref(),
            body.tags,
            body.sig.as_deref(),
            body.lang.as_deref(),
        )?;
        Ok(Self {
            subject,
            score,
            comment,
        })
    }
}

/// An impression accepted at the edge.
pub fn parse_impression(body: RecordImpression, survey: &Survey) -> Result<Subject, RatingError> {
    Subject::parse(
        survey,
        &body.response_id,
        body.interaction.as_deref(),
        body.tags,
        body.sig.as_deref(),
        body.lang.as_deref(),
    )
}

/// Short text that shows as what it holds: an identifier (an interaction, a tag value). Hidden
/// formatting is refused, not removed, here: a signature covers the exact text, and the same
/// tag value must count in one group however it was sent.
fn is_plain_text(text: &str) -> bool {
    let chars = text.chars().count();
    (1..=MAX_TEXT_CHARS).contains(&chars)
        && !text.chars().any(char::is_control)
        && matches!(without_hidden_formatting(text), Cow::Borrowed(_))
}

const ZERO_WIDTH_NON_JOINER: char = '\u{200C}';
const ZERO_WIDTH_JOINER: char = '\u{200D}';
const WAVING_BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';
/// Tag characters after a black flag name a region (`gbsct`, Scotland: 🏴󠁧󠁢󠁳󠁣󠁴󠁿); the longest
/// subdivision codes have six.
const MAX_FLAG_TAGS: usize = 6;

/// `text` without the invisible formatting characters (Unicode category Cf) that can make it
/// show as something it does not hold: bidi controls (U+202E reverses what follows, so a
/// dashboard or a Slack alert shows text in an order it was not written), zero-width spaces,
/// word joiners, byte-order marks, and tag characters outside an emoji flag (they can carry
/// hidden ASCII). Kept: the joiners that emoji sequences and scripts such as Persian need
/// (ZWJ in 👩‍💻, ZWNJ in می‌خواهم), and the tag characters of a flag such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿. Borrowed
/// when nothing had to go.
pub fn without_hidden_formatting(text: &str) -> Cow<'_, str> {
    let mut kept = String::new();
    let mut copied_to = 0;
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == WAVING_BLACK_FLAG {
            let tail = &text[at + c.len_utf8()..];
            let tags = tail.chars().take_while(|&t| is_flag_tag(t)).count();
            if (1..=MAX_FLAG_TAGS).contains(&tags) && tail.chars().nth(tags) == Some(CANCEL_TAG) {
                // The flag's tags and its cancel tag stay as they are.
                chars.by_ref().take(tags + 1).for_each(drop);
            }
            continue;
        }
        let hidden = c.general_category() == GeneralCategory::Format
            && c != ZERO_WIDTH_JOINER
            && c != ZERO_WIDTH_NON_JOINER;
        if hidden {
            kept.push_str(&text[copied_to..at]);
            copied_to = at + c.len_utf8();
        }
    }
    if copied_to == 0 {
        Cow::Borrowed(text)
    } else {
        kept.push_str(&text[copied_to..]);
        Cow::Owned(kept)
    }
}

/// A tag character that may spell a flag's region (U+E0020 to U+E007E).
fn is_flag_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007E}').contains(&c)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod kinds_and_languages {
    use super::*;
    use crate::configuration;

    fn surveys() -> crate::domain::Surveys {
        configuration::parse(
            "[[survey]]\nid = \"csat\"\n[[survey]]\nid = \"nps\"\nkind = \"nps\"\n\
             [[survey]]\nid = \"ces\"\nkind = \"ces\"\n[survey.texts.fr]\nquestion = \"Facile ?\"\n\
             low_label = \"Difficile\"\nhigh_label = \"Facile\"\nfollow_up = \"Pourquoi ?\"\n\
             thank_you = \"Merci !\"\nsend = \"Envoyer\"\n",
        )
        .unwrap()
    }

    fn body(survey: &str, score: u8, lang: Option<&str>) -> RecordResponse {
        RecordResponse {
            survey: survey.into(),
            response_id: "3f1c2a5e-8a3b-4c1d-9e2f-0a1b2c3d4e5f".into(),
            score,
            interaction: None,
            sig: None,
            tags: Tags::new(),
            comment: None,
            lang: lang.map(str::to_owned),
        }
    }

    fn score(survey: &str, raw: u8) -> Result<u8, Invalid> {
        let surveys = surveys();
        Score::parse(raw, surveys.get(survey).unwrap()).map(Score::get)
    }

    #[test]
    fn each_kind_takes_the_scores_of_its_own_scale() {
        assert_eq!(score("nps", 0), Ok(0));
        assert_eq!(score("nps", 10), Ok(10));
        assert_eq!(
            score("nps", 11),
            Err(Invalid::ScoreOutOfRange {
                got: 11,
                min: 0,
                max: 10
            })
        );
        assert_eq!(score("ces", 7), Ok(7));
        assert_eq!(
            score("ces", 0),
            Err(Invalid::ScoreOutOfRange {
                got: 0,
                min: 1,
                max: 7
            })
        );
        assert_eq!(
            score("csat", 0).unwrap_err().to_string(),
            "score must be between 1 and 5, got 0"
        );
    }

    #[test]
    fn a_rating_keeps_the_surveys_spelling_of_its_language_and_refuses_one_it_does_not_speak() {
        let surveys = surveys();
        let ces = surveys.get("ces").unwrap();
        let rating = Rating::parse(body("ces", 6, Some("FR")), ces).unwrap();
        assert_eq!(rating.subject.lang.as_ref().map(Lang::as_str), Some("fr"));
        assert!(
            Rating::parse(body("ces", 6, None), ces)
                .unwrap()
                .subject
                .lang
                .is_none()
        );
        for unknown in ["de", "", "fr-CA", "<script>"] {
            let refused = Rating::parse(body("ces", 6, Some(unknown)), ces).unwrap_err();
            assert_eq!(refused.code(), "unknown_lang", "{unknown:?}");
        }
    }
}

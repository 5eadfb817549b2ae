//! Surveys as the configuration defines them, and what each key may read or write.

use super::api_key::KeyDigest;
use super::kind::Kind;
use super::lang::{self, Lang};
use super::signature::Secret;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// A survey id: 1 to 64 of `a-z A-Z 0-9 _ -`, so it is safe in URLs, keys and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SurveyId(String);

impl SurveyId {
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SurveyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
    Auto,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
            Self::Auto => "auto",
        }
    }
}

/// Where unhappy ratings are posted.
#[derive(Debug, Clone)]
pub struct Alert {
    pub webhook: String,
    pub max_score: u8,
    /// An alert the webhook has refused for this long is set aside, shown as undelivered.
    pub give_up_after: Duration,
}

impl Alert {
    /// `give_up_after` when the configuration does not say.
    pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 86_400);
}

/// What a survey does with a rating for an interaction that is neither signed nor registered
/// (setting `unknown_interactions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownInteractions {
    /// Counted with the tags it came with, under the anonymous limits: a survey that does not
    /// use the registry (the default, and how every survey worked before it).
    #[default]
    Anonymous,
    /// Counted without its tags (nobody vouched for them), marked unverified in exports.
    Accept,
    /// Refused (`403 unknown_interaction`), nothing stored.
    Refuse,
}

impl UnknownInteractions {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "anonymous" => Some(Self::Anonymous),
            "accept" => Some(Self::Accept),
            "refuse" => Some(Self::Refuse),
            _ => None,
        }
    }
}

/// Everything a survey says to a customer, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texts {
    pub question: String,
    /// One per button, lowest score first: read by screen readers, shown under emoji.
    pub labels: Vec<String>,
    /// Words under the two ends of a numbered scale ("Not likely" … "Very likely"); empty for
    /// emoji.
    pub low_label: String,
    pub high_label: String,
    pub follow_up: String,
    pub thank_you: String,
    /// The word on the button that sends a comment (read by screen readers) or, on an email's
    /// landing page without the widget, the rating.
    pub send: String,
    /// The line over an email's landing page asking for the one tap that sends the rating
    /// (opening a link records nothing: mail scanners open links too).
    pub confirm: String,
}

/// The key of the pseudo-tag that counts responses by language (`breakdown?by=lang`): no
/// survey may name a tag of its own so.
pub const LANG_DIMENSION: &str = "lang";

/// One survey, valid by construction (see `configuration`).
#[derive(Debug, Clone)]
pub struct Survey {
    pub id: SurveyId,
    pub kind: Kind,
    /// The default texts, in `lang`.
    pub texts: Texts,
    /// What each button shows, lowest score first: emoji, or the numbers of an NPS or CES scale.
    pub scale: Vec<String>,
    /// Lowest score that counts as satisfied (CSAT), a promoter (NPS) or easy (CES).
    pub satisfied_min: u8,
    pub theme: Theme,
    /// Exact origins (`https://shop.example.com`); `*` allows any.
    pub allowed_origins: BTreeSet<String>,
    pub tags: BTreeSet<String>,
    pub secret: Option<Secret>,
    pub require_sig: bool,
    pub edit_window: Duration,
    pub max_per_visitor_per_day: u32,
    pub min_group_size: u64,
    pub read_keys: Vec<KeyDigest>,
    pub alert: Option<Alert>,
    /// The language of the default texts (`en` unless configured).
    pub lang: Lang,
    /// The texts in every other language the survey speaks.
    pub translations: BTreeMap<Lang, Texts>,
    /// Keys that may sign for this survey (email snippets), and nothing else.
    pub write_keys: Vec<KeyDigest>,
    /// New responses nobody vouched for, per UTC day, from all visitors together.
    pub max_unverified_per_day: u64,
    /// Distinct values one tag may take from responses and impressions nobody vouched for.
    pub max_tag_values: u64,
    /// Impressions one visitor may add per UTC day.
    pub max_impressions_per_visitor_per_day: u32,
    /// What a rating for an interaction neither signed nor registered gets.
    pub unknown_interactions: UnknownInteractions,
}

impl Survey {
    /// The score of the first button: 0 for NPS, 1 otherwise.
    pub fn first_score(&self) -> u8 {
        self.kind.numbers().map_or(1, |scores| *scores.start())
    }

    pub fn max_score(&self) -> u8 {
        self.first_score() + (self.scale.len() as u8).saturating_sub(1)
    }

    /// Every score the survey takes, lowest first, in the order of `scale`.
    pub fn scores(&self) -> std::ops::RangeInclusive<u8> {
        self.first_score()..=self.max_score()
    }

    /// What the button of `score` shows, when the survey has that score.
    pub fn face(&self, score: u8) -> Option<&str> {
        let index = usize::from(score.checked_sub(self.first_score())?);
        self.scale.get(index).map(String::as_str)
    }

    /// Every language the survey speaks, its default one first.
    pub fn languages(&self) -> impl Iterator<Item = &Lang> + Clone {
        std::iter::once(&self.lang).chain(self.translations.keys())
    }

    /// The language a visitor asking for `requested` (a comma-separated list, most wanted
    /// first) gets: the first the survey has (`pt-BR` falling back to `pt`), else the default.
    pub fn negotiate(&self, requested: &str) -> &Lang {
        lang::negotiate(requested, self.languages()).unwrap_or(&self.lang)
    }

    /// The survey's language spelled `text` (in any case), if it speaks it.
    pub fn language(&self, text: &str) -> Option<&Lang> {
        let wanted = Lang::parse(text)?;
        self.languages().find(|lang| **lang == wanted)
    }

    /// The texts in `lang`, or the default texts when the survey does not speak it.
    pub fn texts_in(&self, lang: &Lang) -> &Texts {
        self.translations.get(lang).unwrap_or(&self.texts)
    }

    /// A score as a person reads it in an alert, with the default texts: `😠 Awful (1/5)`,
    /// `3/10 (a detractor)`, `2/7 (1 is Very difficult)`.
    pub fn describe_score(&self, score: u8) -> String {
        let max = self.max_score();
        match self.kind {
            Kind::Csat => {
                let index = usize::from(score.saturating_sub(1));
                let face = self.face(score).unwrap_or_default();
                let label = self.texts.labels.get(index).map_or("", String::as_str);
                let named = [face, label]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("{named} ({score}/{max})").trim_start().to_owned()
            }
            Kind::Nps => {
                let group = if score >= super::kind::PROMOTER_MIN {
                    "a promoter"
                } else if score > super::kind::DETRACTOR_MAX {
                    "a passive"
                } else {
                    "a detractor"
                };
                format!("{score}/{max} ({group})")
            }
            Kind::Ces if !self.texts.low_label.is_empty() => {
                let low = self.first_score();
                format!("{score}/{max} ({low} is {})", self.texts.low_label)
            }
            Kind::Ces => format!("{score}/{max}"),
        }
    }

    /// Whether reads may filter and break down by `key`: one of the survey's tags, or `lang`.
    pub fn has_dimension(&self, key: &str) -> bool {
        key == LANG_DIMENSION || self.tags.contains(key)
    }

    /// Whether a browser page at `origin` may post to this survey.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.contains("*") || self.allowed_origins.contains(origin)
    }

    /// A five-emoji survey with the configuration's defaults, for unit tests that need one
    /// without reading a configuration.
    #[cfg(test)]
    pub fn example(id: &str) -> Self {
        Self {
            id: SurveyId::parse(id).expect("a valid id"),
            kind: Kind::Csat,
            texts: Texts {
                question: "How did we do today?".into(),
                labels: ["Awful", "Bad", "Okay", "Good", "Great"]
                    .map(String::from)
                    .to_vec(),
                low_label: String::new(),
                high_label: String::new(),
                follow_up: "Anything we could do better?".into(),
                thank_you: "Thank you!".into(),
                send: "Send".into(),
                confirm: "Tap your answer to send it, or pick another.".into(),
            },
            scale: ["😠", "🙁", "😐", "🙂", "😍"].map(String::from).to_vec(),
            satisfied_min: 4,
            theme: Theme::Auto,
            allowed_origins: BTreeSet::from(["*".to_owned()]),
            tags: BTreeSet::new(),
            secret: None,
            require_sig: false,
            edit_window: Duration::from_secs(7 * 86_400),
            max_per_visitor_per_day: 20,
            min_group_size: 5,
            read_keys: Vec::new(),
            alert: None,
            lang: Lang::english(),
            translations: BTreeMap::new(),
            write_keys: Vec::new(),
            max_unverified_per_day: 10_000,
            max_tag_values: 1_000,
            max_impressions_per_visitor_per_day: 1_000,
            unknown_interactions: Default::default(),
        }
    }

    /// What the widget shows, with the texts in the language `requested` gets (see
    /// [`Survey::negotiate`]): one language's texts only.
    pub fn widget_config(&self, requested: &str) -> pulsetap_wire::WidgetConfig {
        let lang = self.negotiate(requested);
        let texts = self.texts_in(lang).clone();
        pulsetap_wire::WidgetConfig {
            survey: self.id.to_string(),
            kind: self.kind.as_str().to_owned(),
            lang: Some(lang.to_string()),
            question: texts.question,
            scale: self.scale.clone(),
            labels: texts.labels,
            first_score: self.first_score(),
            low_label: texts.low_label,
            high_label: texts.high_label,
            follow_up: texts.follow_up,
            thank_you: texts.thank_you,
            send: texts.send,
            theme: self.theme.as_str().to_owned(),
            satisfied_min: self.satisfied_min,
        }
    }
}

/// The surveys a presented key reaches, for the one power it was given: reading (`read_keys`)
/// or writing (`write_keys`). Neither power implies the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everything,
    Surveys(BTreeSet<SurveyId>),
}

/// What a read key may read.
pub type ReadScope = Scope;
/// What a write key may sign for.
pub type WriteScope = Scope;

impl Scope {
    pub fn includes(&self, survey: &SurveyId) -> bool {
        match self {
            Self::Everything => true,
            Self::Surveys(ids) => ids.contains(survey),
        }
    }
}

/// How many requests one visitor may make: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for FloodLimit {
    /// A person tapping emoji makes a handful of requests; this only stops scripts.
    fn default() -> Self {
        Self {
            per_second: 20,
            burst: 60,
        }
    }
}

/// Every configured survey, plus the keys that read or write all of them and the flood limit.
#[derive(Debug, Clone, Default)]
pub struct Surveys {
    by_id: HashMap<String, Arc<Survey>>,
    global_read_keys: Vec<KeyDigest>,
    global_write_keys: Vec<KeyDigest>,
    flood_limit: FloodLimit,
    trust_forwarded_for: bool,
}

impl Surveys {
    pub fn new(
        surveys: Vec<Survey>,
        global_read_keys: Vec<KeyDigest>,
        flood_limit: FloodLimit,
    ) -> Self {
        Self {
            by_id: surveys
                .into_iter()
                .map(|s| (s.id.to_string(), Arc::new(s)))
                .collect(),
            global_read_keys,
            global_write_keys: Vec::new(),
            flood_limit,
            trust_forwarded_for: false,
        }
    }

    /// Keys that may sign for every survey.
    pub fn with_write_keys(mut self, global_write_keys: Vec<KeyDigest>) -> Self {
        self.global_write_keys = global_write_keys;
        self
    }

    pub fn flood_limit(&self) -> FloodLimit {
        self.flood_limit
    }

    /// Behind a TLS proxy every request comes from the proxy; with this set, the visitor's
    /// address is the last one the proxy appended to `X-Forwarded-For`.
    pub fn with_trusted_proxy(mut self, trust_forwarded_for: bool) -> Self {
        self.trust_forwarded_for = trust_forwarded_for;
        self
    }

    pub fn trusts_forwarded_for(&self) -> bool {
        self.trust_forwarded_for
    }

    /// The survey with this id. Shared, so a request can hold on to it past the lookup.
    pub fn get(&self, id: &str) -> Option<&Arc<Survey>> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Survey> {
        self.by_id.values().map(Arc::as_ref)
    }

    /// Every origin some survey allows: the CORS layer answers preflights for these, and each
    /// handler then checks the one survey the request is about.
    pub fn all_allowed_origins(&self) -> BTreeSet<String> {
        self.by_id
            .values()
            .flat_map(|s| s.allowed_origins.iter().cloned())
            .collect()
    }

    /// What `key` may read, or `None` when it is no read key of ours.
    pub fn read_scope(&self, key: &str) -> Option<ReadScope> {
        self.scope(key, &self.global_read_keys, |survey| &survey.read_keys)
    }

    /// What `key` may sign for, or `None` when it is no write key of ours.
    pub fn write_scope(&self, key: &str) -> Option<WriteScope> {
        self.scope(key, &self.global_write_keys, |survey| &survey.write_keys)
    }

    /// The surveys `key` reaches among keys given at the top level (`global`) and in each
    /// survey (`per_survey`).
    fn scope(
        &self,
        key: &str,
        global: &[KeyDigest],
        per_survey: impl Fn(&Survey) -> &[KeyDigest],
    ) -> Option<Scope> {
        let digest = KeyDigest::of(key);
        if digest.matches_any(global) {
            return Some(Scope::Everything);
        }
        let reached: BTreeSet<SurveyId> = self
            .iter()
            .filter(|survey| digest.matches_any(per_survey(survey)))
            .map(|survey| survey.id.clone())
            .collect();
        (!reached.is_empty()).then_some(Scope::Surveys(reached))
    }
}

#[cfg(test)]
mod tests;

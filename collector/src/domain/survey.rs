//! Surveys as the configuration defines them, and what each key may read or write.

use super::api_key::KeyDigest;
use super::signature::Secret;
use std::collections::{BTreeSet, HashMap};
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

/// One survey, valid by construction (see `configuration`).
#[derive(Debug, Clone)]
pub struct Survey {
    pub id: SurveyId,
    pub question: String,
    pub scale: Vec<String>,
    pub labels: Vec<String>,
    pub satisfied_min: u8,
    pub follow_up: String,
    pub thank_you: String,
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
    pub fn max_score(&self) -> u8 {
        self.scale.len() as u8
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
            question: "How did we do today?".into(),
            scale: ["😠", "🙁", "😐", "🙂", "😍"].map(String::from).to_vec(),
            labels: ["Awful", "Bad", "Okay", "Good", "Great"]
                .map(String::from)
                .to_vec(),
            satisfied_min: 4,
            follow_up: "Anything we could do better?".into(),
            thank_you: "Thank you!".into(),
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
            write_keys: Vec::new(),
            max_unverified_per_day: 10_000,
            max_tag_values: 1_000,
            max_impressions_per_visitor_per_day: 1_000,
            unknown_interactions: Default::default(),
        }
    }

    pub fn widget_config(&self) -> pulsetap_wire::WidgetConfig {
        pulsetap_wire::WidgetConfig {
            survey: self.id.to_string(),
            kind: "csat".into(),
            lang: None,
            question: self.question.clone(),
            scale: self.scale.clone(),
            labels: self.labels.clone(),
            first_score: 1,
            low_label: String::new(),
            high_label: String::new(),
            follow_up: self.follow_up.clone(),
            thank_you: self.thank_you.clone(),
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

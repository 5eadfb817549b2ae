//! `pulsetap.toml`: surveys, origins, secrets, keys, limits and alerts (the README's
//! "Configuration" section lists every setting).
//!
//! The file is parsed straight into domain types. Every problem is reported as
//! `<file>:<line>: <what is wrong>`, on the line of the key it is about: every value a check
//! looks at is read as a `toml::Spanned`, which remembers where it was written. A broken file
//! stops the server from starting: running with half a configuration would silently drop
//! ratings. So does a setting that would make a survey unable to work (an empty key, a scale
//! with the same emoji twice, a daily allowance of 0, an empty `allowed_origins`): it is
//! always a mistake, and one that would otherwise only show as refused ratings.

use crate::domain::api_key::KeyDigest;
use crate::domain::figures::MAX_SCALE;
use crate::domain::survey::{FloodLimit, LANG_DIMENSION, UnknownInteractions};
use crate::domain::{Alert, Kind, Lang, Secret, Survey, SurveyId, Surveys, Texts, Theme};
use pulsetap_wire::tags;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{path}: the configuration file does not exist (give another with --config or PULSETAP_CONFIG)"
    )]
    Missing { path: PathBuf },
    #[error("{path}: cannot read the configuration: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Surveys, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::Missing { path: path.into() },
        _ => ConfigError::Read {
            path: path.into(),
            source,
        },
    })?;
    parse(&text).map_err(|(offset, message)| ConfigError::Invalid {
        path: path.into(),
        line: line_of(&text, offset),
        message,
    })
}

/// A problem, and the byte offset in the text of the value it is about.
type Problem = (usize, String);

/// Where a value starts in the text.
fn at<T>(value: &Spanned<T>) -> usize {
    value.span().start
}

/// Parses configuration text; an error carries the byte offset it is about.
pub fn parse(text: &str) -> Result<Surveys, Problem> {
    let file: ConfigFile = toml::from_str(text).map_err(|error| {
        // The TOML parser leaves the message empty for some inputs (a stray control
        // character, found by fuzzing); the user still deserves to know what is wrong.
        let message = match error.message().trim() {
            "" => "this is not valid TOML (look for a stray or invisible character)".to_owned(),
            message => message.to_owned(),
        };
        (error.span().map_or(0, |span| span.start), message)
    })?;
    if file.survey.is_empty() {
        return Err((
            0,
            "the file defines no survey, so every rating would be refused: add one, like \
             [[survey]] then id = \"support\" on the next line (the README's Configuration \
             section lists every setting)"
                .into(),
        ));
    }
    // Where each id was first defined, to say where the other one is.
    let mut first_defined = HashMap::new();
    let mut surveys = Vec::with_capacity(file.survey.len());
    for survey_file in file.survey {
        let id_at = at(&survey_file.id);
        let survey = survey_file.into_survey()?;
        if let Some(&first) = first_defined.get(&survey.id) {
            return Err((
                id_at,
                format!(
                    "survey id {:?} is defined twice (first on line {}); give each survey its own id",
                    survey.id.as_str(),
                    line_of(text, first)
                ),
            ));
        }
        first_defined.insert(survey.id.clone(), id_at);
        surveys.push(survey);
    }
    let limits = file.limits;
    let mut flood_limit = FloodLimit::default();
    for (name, value, setting) in [
        (
            "visitor_requests_per_second",
            &limits.visitor_requests_per_second,
            &mut flood_limit.per_second,
        ),
        (
            "visitor_burst",
            &limits.visitor_burst,
            &mut flood_limit.burst,
        ),
    ] {
        if let Some(value) = value {
            if *value.get_ref() == 0 {
                return Err((
                    at(value),
                    format!("limits.{name} = 0 would refuse every request: give at least 1"),
                ));
            }
            *setting = *value.get_ref();
        }
    }
    let read_keys = key_digests("read_keys", &file.read_keys)?;
    let write_keys = key_digests("write_keys", &file.write_keys)?;
    Ok(Surveys::new(surveys, read_keys, flood_limit)
        .with_write_keys(write_keys)
        .with_trusted_proxy(limits.trust_x_forwarded_for))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Checks the keys of `setting` (`read_keys`, `write_keys`) and keeps only their digests. A key
/// is sent as `Authorization: Bearer <key>`, and the collector trims what follows `Bearer`; so
/// an empty key, spaces at either end, or a character a header can't carry make a key nobody
/// can use, or (empty) one that looks like "no key".
fn key_digests(setting: &str, keys: &[Spanned<String>]) -> Result<Vec<KeyDigest>, Problem> {
    let kind = setting.trim_end_matches("_keys");
    keys.iter()
        .map(|key| {
            let text = key.get_ref();
            let problem = if text.trim().is_empty() {
                Some(format!(
                    "{setting} holds an empty key: write a long random key, or remove it"
                ))
            } else if text.trim() != text {
                Some(format!(
                    "a {kind} key starts or ends with a space, which an Authorization header can't carry: remove the spaces"
                ))
            } else if !text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                Some(format!(
                    "a {kind} key holds a character an Authorization header can't carry: use letters, digits and ASCII punctuation"
                ))
            } else {
                None
            };
            match problem {
                Some(message) => Err((at(key), message)),
                None => Ok(KeyDigest::of(text)),
            }
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    read_keys: Vec<Spanned<String>>,
    #[serde(default)]
    write_keys: Vec<Spanned<String>>,
    #[serde(default)]
    survey: Vec<SurveyFile>,
    #[serde(default)]
    limits: LimitsFile,
}

/// `[limits]`: requests per visitor before `429`; a missing value keeps its default.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    visitor_requests_per_second: Option<Spanned<u32>>,
    visitor_burst: Option<Spanned<u32>>,
    #[serde(default)]
    trust_x_forwarded_for: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SurveyFile {
    id: Spanned<String>,
    kind: Option<Spanned<String>>,
    question: Option<String>,
    scale: Option<Spanned<Vec<Spanned<String>>>>,
    labels: Option<Spanned<Vec<String>>>,
    satisfied_min: Option<Spanned<u8>>,
    low_label: Option<Spanned<String>>,
    high_label: Option<Spanned<String>>,
    follow_up: Option<String>,
    thank_you: Option<String>,
    send: Option<String>,
    confirm: Option<String>,
    lang: Option<Spanned<String>>,
    #[serde(default)]
    texts: BTreeMap<Spanned<String>, TextsFile>,
    #[serde(default)]
    theme: ThemeFile,
    allowed_origins: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    secret: Option<Spanned<String>>,
    require_sig: Option<Spanned<bool>>,
    edit_window: Option<Spanned<String>>,
    max_per_visitor_per_day: Option<Spanned<u32>>,
    min_group_size: Option<Spanned<u64>>,
    #[serde(default)]
    read_keys: Vec<Spanned<String>>,
    alert: Option<AlertFile>,
    #[serde(default)]
    write_keys: Vec<Spanned<String>>,
    max_unverified_per_day: Option<Spanned<u64>>,
    max_tag_values: Option<Spanned<u64>>,
    max_impressions_per_visitor_per_day: Option<Spanned<u32>>,
    unknown_interactions: Option<Spanned<String>>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum ThemeFile {
    Light,
    Dark,
    #[default]
    Auto,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertFile {
    webhook: Spanned<String>,
    max_score: Option<Spanned<u8>>,
    give_up_after: Option<Spanned<String>>,
}

/// `[survey.texts.<lang>]`: the survey's texts in one more language.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextsFile {
    question: Option<String>,
    labels: Option<Spanned<Vec<String>>>,
    low_label: Option<Spanned<String>>,
    high_label: Option<Spanned<String>>,
    follow_up: Option<String>,
    thank_you: Option<String>,
    send: Option<String>,
    confirm: Option<String>,
}

/// The texts a survey of `kind` shows when it writes none of its own (in English).
fn default_texts(kind: Kind) -> Texts {
    let (question, low_label, high_label, follow_up) = match kind {
        Kind::Csat => (
            "How did we do today?",
            "",
            "",
            "Anything we could do better?",
        ),
        Kind::Nps => (
            "How likely are you to recommend us to a friend or colleague?",
            "Not likely",
            "Very likely",
            "What is the main reason for your score?",
        ),
        Kind::Ces => (
            "How easy was it to get help today?",
            "Very difficult",
            "Very easy",
            "What could have made it easier?",
        ),
    };
    Texts {
        question: question.into(),
        labels: Vec::new(),
        low_label: low_label.into(),
        high_label: high_label.into(),
        follow_up: follow_up.into(),
        thank_you: "Thank you!".into(),
        send: "Send".into(),
        confirm: "Tap your answer to send it, or pick another.".into(),
    }
}
fn default_scale() -> Vec<String> {
    ["😠", "🙁", "😐", "🙂", "😍"].map(String::from).to_vec()
}
fn default_emoji_labels(len: usize) -> Vec<String> {
    if len == 5 {
        ["Awful", "Bad", "Okay", "Good", "Great"]
            .map(String::from)
            .to_vec()
    } else {
        (1..=len).map(|n| format!("{n} of {len}")).collect()
    }
}
/// A numbered scale's labels when none are written: each number, the two ends with their words
/// (`0 (Not likely)`), so a screen reader says what the ends mean.
fn number_labels(scale: &[String], low_label: &str, high_label: &str) -> Vec<String> {
    let last = scale.len().saturating_sub(1);
    scale
        .iter()
        .enumerate()
        .map(|(index, number)| match index {
            0 if !low_label.is_empty() => format!("{number} ({low_label})"),
            i if i == last && !high_label.is_empty() => format!("{number} ({high_label})"),
            _ => number.clone(),
        })
        .collect()
}
const DEFAULT_EDIT_WINDOW: Duration = Duration::from_secs(7 * 86_400);
const DEFAULT_MAX_PER_VISITOR: u32 = 20;
const DEFAULT_MIN_GROUP_SIZE: u64 = 5;
const DEFAULT_MAX_UNVERIFIED_PER_DAY: u64 = 10_000;
const DEFAULT_MAX_TAG_VALUES: u64 = 1_000;
const DEFAULT_MAX_IMPRESSIONS_PER_VISITOR: u32 = 1_000;
const MIN_SECRET_LEN: usize = 16;

/// The alert threshold when `alert.max_score` is left out: the unhappy end of each kind's
/// scale (an NPS detractor, a CES answer below the middle).
fn default_alert_max(kind: Kind) -> u8 {
    match kind {
        Kind::Csat => 2,
        Kind::Nps => crate::domain::kind::DETRACTOR_MAX,
        Kind::Ces => 3,
    }
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin`, or `*`.
fn is_origin(origin: &str) -> bool {
    origin == "*"
        || ["https://", "http://"].iter().any(|scheme| {
            origin
                .strip_prefix(scheme)
                .is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', ' ']))
        })
}

/// `"7d"`, `"12h"`, `"30m"` or `"45s"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(number.checked_mul(seconds)?))
}

impl SurveyFile {
    fn into_survey(self) -> Result<Survey, Problem> {
        let id = SurveyId::parse(self.id.get_ref()).ok_or_else(|| {
            (
                at(&self.id),
                format!(
                    "survey id {:?} must be 1 to 64 letters, digits, '-' or '_'",
                    self.id.get_ref()
                ),
            )
        })?;
        let shown = Wording {
            kind: self.kind,
            question: self.question,
            scale: self.scale,
            labels: self.labels,
            satisfied_min: self.satisfied_min,
            low_label: self.low_label,
            high_label: self.high_label,
            follow_up: self.follow_up,
            thank_you: self.thank_you,
            send: self.send,
            confirm: self.confirm,
            emails: self.secret.is_some(),
            lang: self.lang,
            texts: self.texts,
        }
        .check()?;
        let allowed_origins = match self.allowed_origins {
            Some(origins) => check_origins(origins)?,
            None => BTreeSet::new(),
        };
        let tags = check_tags(self.tags)?;
        let secret = match self.secret {
            Some(secret) if secret.get_ref().len() < MIN_SECRET_LEN => {
                return Err((
                    at(&secret),
                    format!(
                        "secret must be at least {MIN_SECRET_LEN} characters (it has {}): use a long random string",
                        secret.get_ref().len()
                    ),
                ));
            }
            Some(secret) => Some(Secret::new(secret.get_ref())),
            None => None,
        };
        let require_sig = match self.require_sig {
            Some(require) if *require.get_ref() && secret.is_none() => {
                return Err((
                    at(&require),
                    "require_sig = true needs a secret to check signatures with".into(),
                ));
            }
            Some(require) => require.into_inner(),
            None => false,
        };
        let edit_window = match self.edit_window {
            Some(text) => parse_duration(text.get_ref()).ok_or_else(|| {
                (
                    at(&text),
                    format!(
                        "edit_window {:?} is not a duration: write a number and a unit, like \"7d\", \"12h\", \"30m\" or \"45s\"",
                        text.get_ref()
                    ),
                )
            })?,
            None => DEFAULT_EDIT_WINDOW,
        };
        let max_per_visitor_per_day = match self.max_per_visitor_per_day {
            Some(max) if *max.get_ref() == 0 => {
                return Err((
                    at(&max),
                    "max_per_visitor_per_day = 0 would refuse every anonymous rating: give at least 1 (signed ratings never count against it)".into(),
                ));
            }
            Some(max) => max.into_inner(),
            None => DEFAULT_MAX_PER_VISITOR,
        };
        let min_group_size = match self.min_group_size {
            Some(size) if *size.get_ref() == 0 => {
                return Err((at(&size), "min_group_size must be at least 1".into()));
            }
            Some(size) => size.into_inner(),
            None => DEFAULT_MIN_GROUP_SIZE,
        };
        let alert = self
            .alert
            .map(|alert| check_alert(alert, &shown))
            .transpose()?;
        let limits = AnonymousLimits::check(
            self.max_unverified_per_day,
            self.max_tag_values,
            self.max_impressions_per_visitor_per_day,
        )?;
        Ok(Survey {
            kind: shown.kind,
            texts: shown.texts,
            scale: shown.scale,
            satisfied_min: shown.satisfied_min,
            theme: match self.theme {
                ThemeFile::Light => Theme::Light,
                ThemeFile::Dark => Theme::Dark,
                ThemeFile::Auto => Theme::Auto,
            },
            allowed_origins,
            tags,
            secret,
            require_sig,
            edit_window,
            max_per_visitor_per_day,
            min_group_size,
            read_keys: key_digests("read_keys", &self.read_keys)?,
            alert,
            lang: shown.lang,
            translations: shown.translations,
            write_keys: key_digests("write_keys", &self.write_keys)?,
            max_unverified_per_day: limits.unverified_per_day,
            max_tag_values: limits.tag_values,
            max_impressions_per_visitor_per_day: limits.impressions_per_visitor,
            unknown_interactions: unknown_interactions(self.unknown_interactions.as_ref())?,
            id,
        })
    }
}

/// Everything a survey shows, as written: its kind, scale and texts in every language.
struct Wording {
    kind: Option<Spanned<String>>,
    question: Option<String>,
    scale: Option<Spanned<Vec<Spanned<String>>>>,
    labels: Option<Spanned<Vec<String>>>,
    satisfied_min: Option<Spanned<u8>>,
    low_label: Option<Spanned<String>>,
    high_label: Option<Spanned<String>>,
    follow_up: Option<String>,
    thank_you: Option<String>,
    send: Option<String>,
    confirm: Option<String>,
    /// The survey signs email links, so its landing page's `confirm` is shown.
    emails: bool,
    lang: Option<Spanned<String>>,
    texts: BTreeMap<Spanned<String>, TextsFile>,
}

/// What a survey shows, checked.
struct Shown {
    kind: Kind,
    scale: Vec<String>,
    satisfied_min: u8,
    texts: Texts,
    lang: Lang,
    translations: BTreeMap<Lang, Texts>,
}

impl Shown {
    /// The scores of the scale, lowest first.
    fn scores(&self) -> std::ops::RangeInclusive<u8> {
        let first = self.kind.numbers().map_or(1, |scores| *scores.start());
        first..=first + (self.scale.len() as u8).saturating_sub(1)
    }
}

impl Wording {
    /// The kind fixes what a scale of numbers shows and which of its scores are good; an emoji
    /// scale is the survey's own. A setting that means nothing for the kind is refused rather
    /// than ignored, and so is a language that lacks a text the survey shows.
    fn check(self) -> Result<Shown, Problem> {
        let kind = match &self.kind {
            Some(kind) => Kind::parse(kind.get_ref()).ok_or_else(|| {
                (
                    at(kind),
                    format!(
                        "kind {:?} is not a kind of survey: write \"csat\" (emoji, the default), \"nps\" (0 to 10) or \"ces\" (1 to 7)",
                        kind.get_ref()
                    ),
                )
            })?,
            None => Kind::Csat,
        };
        let defaults = default_texts(kind);
        let (scale, satisfied_min) = match kind.numbers() {
            None => {
                if let Some(end) = self.low_label.as_ref().or(self.high_label.as_ref()) {
                    return Err((
                        at(end),
                        "low_label and high_label are the words under the ends of a scale of numbers: an emoji scale (kind = \"csat\") has none; remove them, or set kind = \"nps\" or \"ces\"".into(),
                    ));
                }
                let scale = match self.scale {
                    Some(scale) => check_scale(scale)?,
                    None => default_scale(),
                };
                let satisfied_min = match &self.satisfied_min {
                    Some(min) => score_setting("satisfied_min", min, 1..=scale.len() as u8, kind)?,
                    None => ((scale.len() * 4).div_ceil(5)) as u8,
                };
                (scale, satisfied_min)
            }
            Some(numbers) => {
                if let Some(scale) = &self.scale {
                    return Err((
                        at(scale),
                        format!(
                            "a kind = \"{}\" survey shows the numbers {} to {}, so it takes no scale: remove it (emoji scales are for kind = \"csat\")",
                            kind.as_str(),
                            numbers.start(),
                            numbers.end()
                        ),
                    ));
                }
                let fixed = kind.fixed_good_min().unwrap_or(*numbers.start());
                if let Some(min) = self
                    .satisfied_min
                    .as_ref()
                    .filter(|min| *min.get_ref() != fixed)
                {
                    let meaning = if kind == Kind::Nps {
                        "promoters answer 9 or 10"
                    } else {
                        "an answer of 5 or above counts as easy"
                    };
                    return Err((
                        at(min),
                        format!(
                            "satisfied_min of a kind = \"{}\" survey is always {fixed} ({meaning}): remove it",
                            kind.as_str()
                        ),
                    ));
                }
                (numbers.map(|n| n.to_string()).collect(), fixed)
            }
        };
        let lang = match &self.lang {
            Some(text) => language(text)?,
            None => Lang::english(),
        };
        // The default texts: what is written, else the kind's English defaults.
        let low_label = self
            .low_label
            .map_or(defaults.low_label, Spanned::into_inner);
        let high_label = self
            .high_label
            .map_or(defaults.high_label, Spanned::into_inner);
        let labels_written = self.labels.is_some();
        let labels = match self.labels {
            Some(labels) => check_labels(labels, scale.len(), kind)?,
            None if kind.numbered() => number_labels(&scale, &low_label, &high_label),
            None => default_emoji_labels(scale.len()),
        };
        let texts = Texts {
            question: self.question.unwrap_or(defaults.question),
            labels,
            low_label,
            high_label,
            follow_up: self.follow_up.unwrap_or(defaults.follow_up),
            thank_you: self.thank_you.unwrap_or(defaults.thank_you),
            send: self.send.unwrap_or(defaults.send),
            confirm: self.confirm.unwrap_or(defaults.confirm),
        };
        let mut translations = BTreeMap::new();
        // In the order of the file, so a repeat is reported where it is written.
        let mut tables: Vec<_> = self.texts.into_iter().collect();
        tables.sort_by_key(|(tag, _)| tag.span().start);
        for (tag, written) in tables {
            let translated = language(&tag)?;
            if translated == lang || translations.contains_key(&translated) {
                return Err((
                    at(&tag),
                    format!(
                        "texts.{} repeats the language {translated}: give each language one table (the default texts are in lang = \"{lang}\")",
                        tag.get_ref()
                    ),
                ));
            }
            let texts = written.check(&tag, kind, &scale, labels_written, self.emails)?;
            translations.insert(translated, texts);
        }
        Ok(Shown {
            kind,
            scale,
            satisfied_min,
            texts,
            lang,
            translations,
        })
    }
}

impl TextsFile {
    /// One language's texts. Every text the survey shows must be there: a visitor in that
    /// language would otherwise meet a sentence in another.
    fn check(
        self,
        tag: &Spanned<String>,
        kind: Kind,
        scale: &[String],
        labels_written: bool,
        emails: bool,
    ) -> Result<Texts, Problem> {
        let missing = |key: &str, why: &str| {
            (
                at(tag),
                format!(
                    "texts.{} has no {key}: every language needs every text the survey shows{why}",
                    tag.get_ref()
                ),
            )
        };
        if !kind.numbered()
            && let Some(end) = self.low_label.as_ref().or(self.high_label.as_ref())
        {
            return Err((
                at(end),
                format!(
                    "texts.{}: low_label and high_label are for scales of numbers (kind = \"nps\" or \"ces\"): remove them",
                    tag.get_ref()
                ),
            ));
        }
        let ends = if kind.numbered() {
            let low = self
                .low_label
                .ok_or_else(|| missing("low_label", " (the words under the lowest number)"))?;
            let high = self
                .high_label
                .ok_or_else(|| missing("high_label", " (the words under the highest number)"))?;
            (low.into_inner(), high.into_inner())
        } else {
            (String::new(), String::new())
        };
        let labels = match self.labels {
            Some(labels) => check_labels(labels, scale.len(), kind)?,
            None if kind.numbered() && !labels_written => number_labels(scale, &ends.0, &ends.1),
            None => {
                return Err(missing(
                    "labels",
                    " (one per button, read by screen readers)",
                ));
            }
        };
        Ok(Texts {
            question: self.question.ok_or_else(|| missing("question", ""))?,
            labels,
            low_label: ends.0,
            high_label: ends.1,
            follow_up: self.follow_up.ok_or_else(|| missing("follow_up", ""))?,
            thank_you: self.thank_you.ok_or_else(|| missing("thank_you", ""))?,
            send: self
                .send
                .ok_or_else(|| missing("send", " (the name of the button that sends a comment)"))?,
            // Only an email's landing page shows it, and only a survey with a secret has one.
            confirm: match self.confirm {
                Some(confirm) => confirm,
                None if emails => {
                    return Err(missing(
                        "confirm",
                        " (the line over an email's landing page asking for the tap that sends the rating)",
                    ));
                }
                None => String::new(),
            },
        })
    }
}

/// A survey's limits on what nobody vouched for, each at least 1: a limit of 0 would refuse
/// every anonymous rating, impression or tag value, always a mistake.
struct AnonymousLimits {
    unverified_per_day: u64,
    tag_values: u64,
    impressions_per_visitor: u32,
}

impl AnonymousLimits {
    fn check(
        unverified_per_day: Option<Spanned<u64>>,
        tag_values: Option<Spanned<u64>>,
        impressions_per_visitor: Option<Spanned<u32>>,
    ) -> Result<Self, Problem> {
        fn at_least_one<T: Copy + PartialEq + From<u8>>(
            name: &str,
            value: Option<Spanned<T>>,
            default: T,
            refuses: &str,
        ) -> Result<T, Problem> {
            match value {
                Some(value) if *value.get_ref() == T::from(0) => Err((
                    at(&value),
                    format!(
                        "{name} = 0 would refuse {refuses}: give at least 1 (what is signed is never refused)"
                    ),
                )),
                Some(value) => Ok(value.into_inner()),
                None => Ok(default),
            }
        }
        Ok(Self {
            unverified_per_day: at_least_one(
                "max_unverified_per_day",
                unverified_per_day,
                DEFAULT_MAX_UNVERIFIED_PER_DAY,
                "every new unsigned rating",
            )?,
            tag_values: at_least_one(
                "max_tag_values",
                tag_values,
                DEFAULT_MAX_TAG_VALUES,
                "every unsigned tag value",
            )?,
            impressions_per_visitor: at_least_one(
                "max_impressions_per_visitor_per_day",
                impressions_per_visitor,
                DEFAULT_MAX_IMPRESSIONS_PER_VISITOR,
                "every unsigned impression",
            )?,
        })
    }
}

/// A language tag of the configuration: well-formed BCP 47, such as `fr`, `pt-BR` or `ar`.
fn language(text: &Spanned<String>) -> Result<Lang, Problem> {
    Lang::parse(text.get_ref()).ok_or_else(|| {
        (
            at(text),
            format!(
                "{:?} is not a language tag: write a BCP 47 tag such as \"fr\", \"pt-BR\" or \"ar\"",
                text.get_ref()
            ),
        )
    })
}

/// One label per button of the scale.
fn check_labels(
    labels: Spanned<Vec<String>>,
    len: usize,
    kind: Kind,
) -> Result<Vec<String>, Problem> {
    if labels.get_ref().len() != len {
        let what = if kind.numbered() {
            format!(
                "the {} numbers of a kind = \"{}\" survey",
                len,
                kind.as_str()
            )
        } else {
            format!("scale has {len}")
        };
        return Err((
            at(&labels),
            format!(
                "labels has {} entries but {what}; give one label per button",
                labels.get_ref().len()
            ),
        ));
    }
    Ok(labels.into_inner())
}

/// 2 to `MAX_SCALE` emoji, none blank, no two alike: a customer must tell every score apart.
/// `unknown_interactions`: what a rating for an interaction neither signed nor registered gets.
fn unknown_interactions(text: Option<&Spanned<String>>) -> Result<UnknownInteractions, Problem> {
    let Some(text) = text else {
        return Ok(UnknownInteractions::default());
    };
    UnknownInteractions::parse(text.get_ref()).ok_or_else(|| {
        (
            at(text),
            format!(
                "unknown_interactions {:?} is not a choice: \"anonymous\" (the default: counted with its own tags), \"accept\" (counted without tags, unverified) or \"refuse\"",
                text.get_ref()
            ),
        )
    })
}

fn check_scale(scale: Spanned<Vec<Spanned<String>>>) -> Result<Vec<String>, Problem> {
    let len = scale.get_ref().len();
    if !(2..=MAX_SCALE).contains(&len) {
        return Err((
            at(&scale),
            format!("scale must have 2 to {MAX_SCALE} emoji, it has {len}"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (n, emoji) in scale.get_ref().iter().enumerate() {
        if emoji.get_ref().trim().is_empty() {
            return Err((
                at(emoji),
                format!(
                    "scale entry {} is empty: each entry is the emoji shown for one score",
                    n + 1
                ),
            ));
        }
        if !seen.insert(emoji.get_ref()) {
            return Err((
                at(emoji),
                format!(
                    "scale has {:?} twice: give each score its own emoji, or customers can't tell them apart",
                    emoji.get_ref()
                ),
            ));
        }
    }
    Ok(scale
        .into_inner()
        .into_iter()
        .map(Spanned::into_inner)
        .collect())
}

/// A score setting (`satisfied_min`, `alert.max_score`) must be a score of the scale.
fn score_setting(
    name: &str,
    value: &Spanned<u8>,
    scores: std::ops::RangeInclusive<u8>,
    kind: Kind,
) -> Result<u8, Problem> {
    let score = *value.get_ref();
    if scores.contains(&score) {
        return Ok(score);
    }
    let (min, max) = (scores.start(), scores.end());
    let scale = if kind.numbered() {
        format!("a kind = \"{}\" survey's scores", kind.as_str())
    } else {
        format!("the scale has {max} emoji")
    };
    Err((
        at(value),
        format!("{name} must be between {min} and {max} ({scale}), it is {score}"),
    ))
}

/// Exact origins or `*`. An empty list is refused: it would let no page post, which is never
/// what was meant (a survey rated only through email links or from a server leaves the key out).
fn check_origins(origins: Spanned<Vec<Spanned<String>>>) -> Result<BTreeSet<String>, Problem> {
    if origins.get_ref().is_empty() {
        return Err((
            at(&origins),
            "allowed_origins is empty, so no page may post ratings to this survey: list the sites \
             that show the widget, like allowed_origins = [\"https://shop.example.com\"], or \
             [\"*\"] for any site (leave the key out for a survey rated only by email links)"
                .into(),
        ));
    }
    origins
        .into_inner()
        .into_iter()
        .map(|origin| {
            if is_origin(origin.get_ref()) {
                Ok(origin.into_inner())
            } else {
                Err((
                    at(&origin),
                    format!(
                        "allowed origin {:?} must be a scheme and host like \"https://shop.example.com\" (no path, no trailing slash), or \"*\"",
                        origin.get_ref()
                    ),
                ))
            }
        })
        .collect()
}

/// Tag keys as tag text can carry them (`pulsetap_wire::tags`): a key holding `=` or `,` would
/// make two different tag sets read, sign and count as one.
fn check_tags(keys: Vec<Spanned<String>>) -> Result<BTreeSet<String>, Problem> {
    let mut accepted = BTreeSet::new();
    for key in keys {
        if !tags::is_key(key.get_ref()) {
            return Err((
                at(&key),
                format!(
                    "tag key {:?} must be 1 to {} letters, digits, '-' or '_'",
                    key.get_ref(),
                    tags::MAX_KEY_LEN
                ),
            ));
        }
        if accepted.contains(key.get_ref()) {
            return Err((at(&key), format!("tags lists {:?} twice", key.get_ref())));
        }
        if key.get_ref() == LANG_DIMENSION {
            return Err((
                at(&key),
                "tag key \"lang\" is taken: every response already carries the language it was answered in, and reads break down by=lang; name your tag otherwise".into(),
            ));
        }
        accepted.insert(key.into_inner());
    }
    Ok(accepted)
}

fn check_alert(alert: AlertFile, shown: &Shown) -> Result<Alert, Problem> {
    let webhook = alert.webhook.get_ref();
    let is_http_url = url::Url::parse(webhook)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
    if !is_http_url {
        return Err((
            at(&alert.webhook),
            format!(
                "alert.webhook {webhook:?} must be an http(s) URL, like \"https://hooks.example.com/pulsetap\""
            ),
        ));
    }
    let max_score = match &alert.max_score {
        Some(max) => score_setting("alert.max_score", max, shown.scores(), shown.kind)?,
        None => default_alert_max(shown.kind),
    };
    Ok(Alert {
        give_up_after: alert_give_up_after(alert.give_up_after.as_ref())?,
        webhook: alert.webhook.into_inner(),
        max_score,
    })
}

/// `alert.give_up_after`: how long a webhook may refuse an alert before it is set aside.
fn alert_give_up_after(text: Option<&Spanned<String>>) -> Result<Duration, Problem> {
    let Some(text) = text else {
        return Ok(Alert::DEFAULT_GIVE_UP_AFTER);
    };
    match parse_duration(text.get_ref()) {
        Some(duration) if !duration.is_zero() => Ok(duration),
        Some(_) => Err((
            at(text),
            "alert.give_up_after = \"0s\" would set every alert aside at its first failure: give at least \"1s\" (default \"3d\")".into(),
        )),
        None => Err((
            at(text),
            format!(
                "alert.give_up_after {:?} is not a duration: write a number and a unit, like \"3d\", \"12h\", \"30m\" or \"45s\"",
                text.get_ref()
            ),
        )),
    }
}

#[cfg(test)]
mod tests;

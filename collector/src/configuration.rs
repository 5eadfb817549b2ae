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
use crate::domain::survey::FloodLimit;
use crate::domain::survey::UnknownInteractions;
use crate::domain::{Alert, Secret, Survey, SurveyId, Surveys, Theme};
use pulsetap_wire::tags;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
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
    #[serde(default = "default_question")]
    question: String,
    scale: Option<Spanned<Vec<Spanned<String>>>>,
    labels: Option<Spanned<Vec<String>>>,
    satisfied_min: Option<Spanned<u8>>,
    #[serde(default = "default_follow_up")]
    follow_up: String,
    #[serde(default = "default_thank_you")]
    thank_you: String,
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

fn default_question() -> String {
    "How did we do today?".into()
}
fn default_scale() -> Vec<String> {
    ["😠", "🙁", "😐", "🙂", "😍"].map(String::from).to_vec()
}
fn default_labels(len: usize) -> Vec<String> {
    if len == 5 {
        ["Awful", "Bad", "Okay", "Good", "Great"]
            .map(String::from)
            .to_vec()
    } else {
        (1..=len).map(|n| format!("{n} of {len}")).collect()
    }
}
fn default_follow_up() -> String {
    "Anything we could do better?".into()
}
fn default_thank_you() -> String {
    "Thank you!".into()
}
const DEFAULT_EDIT_WINDOW: Duration = Duration::from_secs(7 * 86_400);
const DEFAULT_MAX_PER_VISITOR: u32 = 20;
const DEFAULT_MIN_GROUP_SIZE: u64 = 5;
const DEFAULT_ALERT_MAX: u8 = 2;
const DEFAULT_MAX_UNVERIFIED_PER_DAY: u64 = 10_000;
const DEFAULT_MAX_TAG_VALUES: u64 = 1_000;
const DEFAULT_MAX_IMPRESSIONS_PER_VISITOR: u32 = 1_000;
const MIN_SECRET_LEN: usize = 16;

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
        let scale = match self.scale {
            Some(scale) => check_scale(scale)?,
            None => default_scale(),
        };
        let scale_len = scale.len();
        let labels = match self.labels {
            Some(labels) if labels.get_ref().len() != scale_len => {
                return Err((
                    at(&labels),
                    format!(
                        "labels has {} entries but scale has {scale_len}; give one label per emoji",
                        labels.get_ref().len()
                    ),
                ));
            }
            Some(labels) => labels.into_inner(),
            None => default_labels(scale_len),
        };
        let satisfied_min = match self.satisfied_min {
            Some(min) => score_setting("satisfied_min", &min, scale_len)?,
            None => ((scale_len * 4).div_ceil(5)) as u8,
        };
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
            .map(|alert| check_alert(alert, scale_len))
            .transpose()?;
        let limits = AnonymousLimits::check(
            self.max_unverified_per_day,
            self.max_tag_values,
            self.max_impressions_per_visitor_per_day,
        )?;
        Ok(Survey {
            question: self.question,
            scale,
            labels,
            satisfied_min,
            follow_up: self.follow_up,
            thank_you: self.thank_you,
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
            write_keys: key_digests("write_keys", &self.write_keys)?,
            max_unverified_per_day: limits.unverified_per_day,
            max_tag_values: limits.tag_values,
            max_impressions_per_visitor_per_day: limits.impressions_per_visitor,
            unknown_interactions: unknown_interactions(self.unknown_interactions.as_ref())?,
            id,
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
fn score_setting(name: &str, value: &Spanned<u8>, scale_len: usize) -> Result<u8, Problem> {
    let score = *value.get_ref();
    if (1..=scale_len).contains(&usize::from(score)) {
        Ok(score)
    } else {
        Err((
            at(value),
            format!(
                "{name} must be between 1 and {scale_len} (the scale has {scale_len} emoji), it is {score}"
            ),
        ))
    }
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
        accepted.insert(key.into_inner());
    }
    Ok(accepted)
}

fn check_alert(alert: AlertFile, scale_len: usize) -> Result<Alert, Problem> {
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
        Some(max) => score_setting("alert.max_score", max, scale_len)?,
        None => DEFAULT_ALERT_MAX,
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
mod tests {
    use super::*;

    fn error_of(text: &str) -> (usize, String) {
        let (offset, message) = parse(text).expect_err("the configuration should be refused");
        (line_of(text, offset), message)
    }

    /// A valid survey `a` on lines 1-3, then survey `b` from line 4 whose line 6 is `setting`:
    /// every mistake below is in a survey that is not the first, on a line that is not its
    /// header, so a message pointing at either would fail the test.
    fn with_setting(setting: &str) -> String {
        format!(
            "[[survey]]\nid = \"a\"\nallowed_origins = [\"*\"]\n[[survey]]\nid = \"b\"\n{setting}\nquestion = \"How was it?\"\n"
        )
    }

    /// Asserts that `setting` (on line 6) is refused on its own line with a message holding
    /// `expected`.
    fn refused_on_its_line(setting: &str, expected: &str) {
        let (line, message) = error_of(&with_setting(setting));
        assert_eq!(line, 6, "{setting}: {message}");
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }

    #[test]
    fn the_contract_example_parses_with_every_field() {
        let surveys = parse(include_str!("../tests/fixtures/contract-example.toml")).unwrap();
        let survey = surveys.get("support").unwrap();
        assert_eq!(survey.scale.len(), 5);
        assert_eq!(survey.satisfied_min, 4);
        assert_eq!(survey.edit_window, Duration::from_secs(7 * 86_400));
        assert_eq!(survey.alert.as_ref().unwrap().max_score, 2);
        assert!(survey.allows_origin("https://shop.example.com"));
        assert!(!survey.allows_origin("https://evil.example"));
    }

    #[test]
    fn the_readmes_example_of_every_setting_parses_and_means_what_its_comments_say() {
        let readme = include_str!("../../README.md");
        let example = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the README's Configuration section has a toml example");
        let surveys = parse(example).unwrap();
        let survey = surveys.get("support").unwrap();
        assert_eq!(survey.max_unverified_per_day, 10_000);
        assert_eq!(survey.max_tag_values, 1_000);
        assert_eq!(survey.max_impressions_per_visitor_per_day, 1_000);
        let everything = Some(crate::domain::survey::Scope::Everything);
        assert_eq!(surveys.read_scope("marketing-team-key"), everything);
        assert_eq!(surveys.write_scope("site-server-key"), everything);
        assert!(
            surveys
                .write_scope("support-helpdesk-key")
                .unwrap()
                .includes(&survey.id)
        );
        assert!(surveys.read_scope("support-helpdesk-key").is_none());
    }

    #[test]
    fn a_minimal_survey_gets_the_documented_defaults() {
        let surveys = parse("[[survey]]\nid = \"s\"\n").unwrap();
        let survey = surveys.get("s").unwrap();
        assert_eq!(survey.labels, ["Awful", "Bad", "Okay", "Good", "Great"]);
        assert_eq!(survey.satisfied_min, 4);
        assert_eq!(survey.min_group_size, 5);
        assert_eq!(survey.max_per_visitor_per_day, 20);
        assert_eq!(survey.edit_window, DEFAULT_EDIT_WINDOW);
        assert!(
            survey.allowed_origins.is_empty(),
            "no page may post by default"
        );
    }

    #[test]
    fn a_bad_edit_window_names_its_line() {
        refused_on_its_line(
            "edit_window = \"7 weeks\"",
            "edit_window \"7 weeks\" is not a duration",
        );
    }

    #[test]
    fn an_unknown_field_names_its_line() {
        let (line, message) = error_of("[[survey]]\nid = \"s\"\n\nquestoin = \"typo\"\n");
        assert_eq!(line, 4);
        assert!(message.contains("questoin"), "{message}");
    }

    #[test]
    fn a_short_secret_is_refused_on_the_secret_line() {
        refused_on_its_line("secret = \"short\"", "at least 16 characters");
    }

    #[test]
    fn a_scale_of_eleven_emoji_is_refused_on_the_scale_line() {
        let scale = format!("scale = [{}]", ["\"🙂\""; 11].join(", "));
        refused_on_its_line(&scale, "2 to 10 emoji, it has 11");
    }

    #[test]
    fn a_scale_with_the_same_emoji_twice_is_refused_on_that_emojis_line() {
        refused_on_its_line("scale = [\"👎\", \"👍\", \"👎\"]", "scale has \"👎\" twice");
        // Written over several lines, the message points at the repeated emoji itself.
        let text = "[[survey]]\nid = \"s\"\nscale = [\n  \"👎\",\n  \"👍\",\n  \"👍\",\n]\n";
        assert_eq!(error_of(text).0, 6);
    }

    #[test]
    fn a_blank_emoji_in_a_scale_is_refused() {
        refused_on_its_line("scale = [\"👎\", \" \"]", "scale entry 2 is empty");
    }

    #[test]
    fn a_labels_count_that_differs_from_the_scale_is_refused_on_the_labels_line() {
        let text = "[[survey]]\nid = \"a\"\n\n[[survey]]\nid = \"b\"\nscale = [\"👎\", \"👍\"]\nlabels = [\"No\"]\n";
        let (line, message) = error_of(text);
        assert_eq!(line, 7);
        assert!(
            message.contains("labels has 1 entries but scale has 2"),
            "{message}"
        );
        // Against the default scale of five, too.
        refused_on_its_line("labels = [\"No\", \"Yes\"]", "scale has 5");
    }

    #[test]
    fn a_satisfied_min_outside_the_scale_is_refused_on_its_line() {
        refused_on_its_line("satisfied_min = 6", "satisfied_min must be between 1 and 5");
        refused_on_its_line("satisfied_min = 0", "satisfied_min must be between 1 and 5");
    }

    #[test]
    fn a_bad_alert_is_refused_on_the_line_of_the_bad_value() {
        refused_on_its_line(
            "alert = { webhook = \"hooks.example.com/x\" }",
            "alert.webhook \"hooks.example.com/x\" must be an http(s) URL",
        );
        refused_on_its_line(
            "alert = { webhook = \"https://hooks.example.com/x\", max_score = 9 }",
            "alert.max_score must be between 1 and 5",
        );
        // As its own table, each key on its own line.
        let text = "[[survey]]\nid = \"s\"\n[survey.alert]\nwebhook = \"https://hooks.example.com/x\"\nmax_score = 0\n";
        let (line, message) = error_of(text);
        assert_eq!(line, 5);
        assert!(message.contains("alert.max_score"), "{message}");
    }

    #[test]
    fn alert_give_up_after_is_a_duration_of_three_days_by_default() {
        let hook = "alert = { webhook = \"https://hooks.example.com/x\"";
        let give_up = |setting: &str| {
            let surveys = parse(&with_setting(&format!("{hook}{setting} }}"))).unwrap();
            surveys
                .get("b")
                .unwrap()
                .alert
                .as_ref()
                .unwrap()
                .give_up_after
        };
        assert_eq!(give_up(""), Duration::from_secs(3 * 86_400));
        assert_eq!(
            give_up(", give_up_after = \"12h\""),
            Duration::from_secs(43_200)
        );
        refused_on_its_line(
            &format!("{hook}, give_up_after = \"soon\" }}"),
            "alert.give_up_after \"soon\" is not a duration",
        );
        refused_on_its_line(
            &format!("{hook}, give_up_after = \"0s\" }}"),
            "at least \"1s\"",
        );
    }

    #[test]
    fn a_bad_allowed_origin_is_refused_on_its_line() {
        refused_on_its_line(
            "allowed_origins = [\"https://x.com/page\"]",
            "allowed origin \"https://x.com/page\" must be a scheme and host",
        );
    }

    #[test]
    fn an_empty_allowed_origins_is_refused_and_says_how_to_allow_a_site() {
        refused_on_its_line("allowed_origins = []", "no page may post");
        let (_, message) = error_of(&with_setting("allowed_origins = []"));
        assert!(message.contains("https://shop.example.com"), "{message}");
        assert!(message.contains("[\"*\"]"), "{message}");
    }

    #[test]
    fn unknown_interactions_is_one_of_three_choices_and_anonymous_by_default() {
        refused_on_its_line("unknown_interactions = \"drop\"", "\"accept\"");
        let surveys = parse(&with_setting("unknown_interactions = \"refuse\"")).unwrap();
        assert_eq!(
            surveys.get("b").unwrap().unknown_interactions,
            UnknownInteractions::Refuse
        );
        assert_eq!(
            surveys.get("a").unwrap().unknown_interactions,
            UnknownInteractions::Anonymous
        );
    }

    #[test]
    fn a_min_group_size_of_zero_is_refused_on_its_line() {
        refused_on_its_line("min_group_size = 0", "min_group_size must be at least 1");
    }

    #[test]
    fn a_daily_allowance_of_zero_is_refused_on_its_line() {
        refused_on_its_line("max_per_visitor_per_day = 0", "max_per_visitor_per_day = 0");
    }

    #[test]
    fn require_sig_without_a_secret_is_refused_on_its_line() {
        refused_on_its_line("require_sig = true", "needs a secret");
    }

    #[test]
    fn tag_keys_outside_the_tag_text_alphabet_are_refused_on_their_line() {
        let too_long = "k".repeat(33);
        for key in ["agent=x", "a,b", "", "with space", too_long.as_str()] {
            refused_on_its_line(&format!("tags = [\"agent\", {key:?}]"), "tag key");
        }
        refused_on_its_line(
            "tags = [\"agent\", \"agent\"]",
            "tags lists \"agent\" twice",
        );
        let surveys = parse(&with_setting(&format!(
            "tags = [\"agent\", \"channel_2\", \"x-y\", \"{}\"]",
            "k".repeat(32)
        )))
        .unwrap();
        assert_eq!(surveys.get("b").unwrap().tags.len(), 4);
    }

    #[test]
    fn empty_or_blank_read_keys_are_refused_on_their_line() {
        refused_on_its_line("read_keys = [\"\"]", "empty key");
        refused_on_its_line("read_keys = [\"lead-key\", \"   \"]", "empty key");
        refused_on_its_line("read_keys = [\" lead-key\"]", "space");
        refused_on_its_line("read_keys = [\"lead-kéy\"]", "character");
        for global in ["read_keys = [\"\"]", "read_keys = [\"\\t\"]"] {
            let (line, message) = error_of(&format!("\n{global}\n[[survey]]\nid = \"s\"\n"));
            assert_eq!(line, 2, "{message}");
            assert!(message.contains("empty key"), "{message}");
        }
    }

    #[test]
    fn write_keys_are_checked_like_read_keys_and_named_in_their_messages() {
        refused_on_its_line("write_keys = [\"\"]", "write_keys holds an empty key");
        refused_on_its_line("write_keys = [\" helpdesk\"]", "a write key starts or ends");
        refused_on_its_line("write_keys = [\"kéy\"]", "a write key holds a character");
        let (line, message) = error_of("\nwrite_keys = [\"\"]\n[[survey]]\nid = \"s\"\n");
        assert_eq!(line, 2, "{message}");
        assert!(message.contains("write_keys"), "{message}");

        let surveys = parse(
            "read_keys = [\"r\"]\nwrite_keys = [\"w\"]\n[[survey]]\nid = \"a\"\nwrite_keys = [\"wa\"]\n[[survey]]\nid = \"b\"\n",
        )
        .unwrap();
        let a = SurveyId::parse("a").unwrap();
        let b = SurveyId::parse("b").unwrap();
        assert_eq!(
            surveys.write_scope("w"),
            Some(crate::domain::survey::Scope::Everything)
        );
        let wa = surveys.write_scope("wa").unwrap();
        assert!(wa.includes(&a) && !wa.includes(&b));
        assert_eq!(surveys.read_scope("w"), None, "a write key reads nothing");
        assert_eq!(surveys.write_scope("r"), None, "a read key writes nothing");
    }

    #[test]
    fn anonymous_limits_of_zero_are_refused_and_have_documented_defaults() {
        for setting in [
            "max_unverified_per_day = 0",
            "max_tag_values = 0",
            "max_impressions_per_visitor_per_day = 0",
        ] {
            refused_on_its_line(setting, setting);
        }
        let surveys = parse("[[survey]]\nid = \"s\"\n").unwrap();
        let survey = surveys.get("s").unwrap();
        assert_eq!(survey.max_unverified_per_day, 10_000);
        assert_eq!(survey.max_tag_values, 1_000);
        assert_eq!(survey.max_impressions_per_visitor_per_day, 1_000);
    }

    #[test]
    fn a_survey_id_defined_twice_is_refused_on_the_second_id_and_names_the_first() {
        let (line, message) = error_of("[[survey]]\nid = \"a\"\n[[survey]]\n\nid = \"a\"\n");
        assert_eq!(line, 5);
        assert!(
            message.contains("defined twice (first on line 2)"),
            "{message}"
        );
    }

    #[test]
    fn a_zero_flood_limit_is_refused_on_its_line() {
        let text = "[[survey]]\nid = \"s\"\n[limits]\nvisitor_requests_per_second = 5\nvisitor_burst = 0\n";
        let (line, message) = error_of(text);
        assert_eq!(line, 5);
        assert!(message.contains("limits.visitor_burst = 0"), "{message}");
    }

    #[test]
    fn a_file_without_surveys_is_refused() {
        for text in [
            "",
            "# nothing yet\n",
            "read_keys = [\"marketing-team-key\"]\n",
        ] {
            let (line, message) = error_of(text);
            assert_eq!(line, 1);
            assert!(message.contains("defines no survey"), "{message}");
        }
    }

    #[test]
    fn a_stray_control_character_is_reported_with_a_message() {
        // Found by `scripts/fuzz.sh` (target `config`): the parser's own message was empty.
        let crash = include_bytes!("../../fuzz/corpus/config/regression-empty-message.toml");
        let (line, message) = error_of(std::str::from_utf8(crash).unwrap());
        assert_eq!(line, 1);
        assert!(!message.is_empty());
    }

    #[test]
    fn durations_take_the_documented_units() {
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("3w"), None);
    }
}

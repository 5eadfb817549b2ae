//! `pulsetap.toml` (CONTRACT §5): surveys, origins, secrets, keys and alerts.
//!
//! The file is parsed straight into domain types. Every problem is reported as
//! `<file>:<line>: <what is wrong>`, and a broken file stops the server from starting: running
//! with half a configuration would silently drop ratings.

use crate::domain::api_key::KeyDigest;
use crate::domain::figures::MAX_SCALE;
use crate::domain::survey::FloodLimit;
use crate::domain::{Alert, Secret, Survey, SurveyId, Surveys, Theme};
use serde::Deserialize;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
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
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    parse(&text).map_err(|(offset, message)| ConfigError::Invalid {
        path: path.into(),
        line: line_of(&text, offset),
        message,
    })
}

/// Parses configuration text; an error carries the byte offset it is about.
pub fn parse(text: &str) -> Result<Surveys, (usize, String)> {
    let file: ConfigFile = toml::from_str(text).map_err(|error| {
        // The TOML parser leaves the message empty for some inputs (a stray control
        // character, found by fuzzing); the user still deserves to know what is wrong.
        let message = match error.message().trim() {
            "" => "this is not valid TOML (look for a stray or invisible character)".to_owned(),
            message => message.to_owned(),
        };
        (error.span().map_or(0, |span| span.start), message)
    })?;
    let mut seen = HashSet::new();
    let mut surveys = Vec::with_capacity(file.survey.len());
    for spanned in file.survey {
        let offset = spanned.span().start;
        let survey = spanned
            .into_inner()
            .into_survey()
            .map_err(|message| (offset, message))?;
        if !seen.insert(survey.id.clone()) {
            return Err((
                offset,
                format!("survey id {:?} is defined twice", survey.id.as_str()),
            ));
        }
        surveys.push(survey);
    }
    let limits = file.limits;
    if limits.visitor_requests_per_second == 0 || limits.visitor_burst == 0 {
        let offset = text.find("[limits]").unwrap_or(0);
        return Err((
            offset,
            "limits: visitor_requests_per_second and visitor_burst must be at least 1".into(),
        ));
    }
    let flood_limit = FloodLimit {
        per_second: limits.visitor_requests_per_second,
        burst: limits.visitor_burst,
    };
    let read_keys = file.read_keys.iter().map(|k| KeyDigest::of(k)).collect();
    Ok(Surveys::new(surveys, read_keys, flood_limit)
        .with_trusted_proxy(limits.trust_x_forwarded_for))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    read_keys: Vec<String>,
    #[serde(default)]
    survey: Vec<Spanned<SurveyFile>>,
    #[serde(default)]
    limits: LimitsFile,
}

/// `[limits]`: requests per visitor (salted hash of IP and user agent) before `429`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    #[serde(default = "default_per_second")]
    visitor_requests_per_second: u32,
    #[serde(default = "default_burst")]
    visitor_burst: u32,
    #[serde(default)]
    trust_x_forwarded_for: bool,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            visitor_requests_per_second: default_per_second(),
            visitor_burst: default_burst(),
            trust_x_forwarded_for: false,
        }
    }
}

fn default_per_second() -> u32 {
    FloodLimit::default().per_second
}
fn default_burst() -> u32 {
    FloodLimit::default().burst
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SurveyFile {
    id: String,
    #[serde(default = "default_question")]
    question: String,
    #[serde(default = "default_scale")]
    scale: Vec<String>,
    labels: Option<Vec<String>>,
    satisfied_min: Option<u8>,
    #[serde(default = "default_follow_up")]
    follow_up: String,
    #[serde(default = "default_thank_you")]
    thank_you: String,
    #[serde(default)]
    theme: ThemeFile,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    secret: Option<String>,
    #[serde(default)]
    require_sig: bool,
    #[serde(default = "default_edit_window", deserialize_with = "edit_window")]
    edit_window: Duration,
    #[serde(default = "default_max_per_visitor")]
    max_per_visitor_per_day: u32,
    #[serde(default = "default_min_group_size")]
    min_group_size: u64,
    #[serde(default)]
    read_keys: Vec<String>,
    alert: Option<AlertFile>,
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
    webhook: String,
    #[serde(default = "default_alert_max")]
    max_score: u8,
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
fn default_edit_window() -> Duration {
    Duration::from_secs(7 * 86_400)
}
fn default_max_per_visitor() -> u32 {
    20
}
fn default_min_group_size() -> u64 {
    5
}
fn default_alert_max() -> u8 {
    2
}

/// `"7d"`, `"12h"`, `"30m"` or `"45s"`.
fn edit_window<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "edit_window {text:?} is not a duration: write a number and a unit, like \"7d\", \"12h\", \"30m\" or \"45s\""
        ))
    })
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
    fn into_survey(self) -> Result<Survey, String> {
        let id = SurveyId::parse(&self.id).ok_or_else(|| {
            format!(
                "survey id {:?} must be 1 to 64 letters, digits, '-' or '_'",
                self.id
            )
        })?;
        let scale_len = self.scale.len();
        if !(2..=MAX_SCALE).contains(&scale_len) {
            return Err(format!(
                "survey {id}: scale must have 2 to {MAX_SCALE} emoji, it has {scale_len}"
            ));
        }
        let labels = self.labels.unwrap_or_else(|| default_labels(scale_len));
        if labels.len() != scale_len {
            return Err(format!(
                "survey {id}: labels has {} entries but scale has {scale_len}; give one label per emoji",
                labels.len()
            ));
        }
        let satisfied_min = self
            .satisfied_min
            .unwrap_or(((scale_len * 4).div_ceil(5)) as u8);
        if !(1..=scale_len as u8).contains(&satisfied_min) {
            return Err(format!(
                "survey {id}: satisfied_min must be between 1 and {scale_len}"
            ));
        }
        if let Some(origin) = self
            .allowed_origins
            .iter()
            .find(|origin| !is_origin(origin))
        {
            return Err(format!(
                "survey {id}: allowed origin {origin:?} must be a scheme and host like \"https://shop.example.com\" (no path, no trailing slash), or \"*\""
            ));
        }
        let secret = match self.secret {
            Some(secret) if secret.len() < 16 => {
                return Err(format!(
                    "survey {id}: secret must be at least 16 characters"
                ));
            }
            other => other.map(|s| Secret::new(&s)),
        };
        if self.require_sig && secret.is_none() {
            return Err(format!(
                "survey {id}: require_sig = true needs a secret to check signatures with"
            ));
        }
        let alert = match self.alert {
            Some(alert) => {
                if !(alert.webhook.starts_with("https://") || alert.webhook.starts_with("http://"))
                {
                    return Err(format!("survey {id}: alert.webhook must be an http(s) URL"));
                }
                if !(1..=scale_len as u8).contains(&alert.max_score) {
                    return Err(format!(
                        "survey {id}: alert.max_score must be between 1 and {scale_len}"
                    ));
                }
                Some(Alert {
                    webhook: alert.webhook,
                    max_score: alert.max_score,
                })
            }
            None => None,
        };
        if self.min_group_size == 0 {
            return Err(format!("survey {id}: min_group_size must be at least 1"));
        }
        Ok(Survey {
            question: self.question,
            scale: self.scale,
            labels,
            satisfied_min,
            follow_up: self.follow_up,
            thank_you: self.thank_you,
            theme: match self.theme {
                ThemeFile::Light => Theme::Light,
                ThemeFile::Dark => Theme::Dark,
                ThemeFile::Auto => Theme::Auto,
            },
            allowed_origins: self.allowed_origins.into_iter().collect(),
            tags: self.tags.into_iter().collect::<BTreeSet<_>>(),
            secret,
            require_sig: self.require_sig,
            edit_window: self.edit_window,
            max_per_visitor_per_day: self.max_per_visitor_per_day,
            min_group_size: self.min_group_size,
            read_keys: self.read_keys.iter().map(|k| KeyDigest::of(k)).collect(),
            alert,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> (usize, String) {
        let (offset, message) = parse(text).expect_err("the configuration should be refused");
        (line_of(text, offset), message)
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
    fn a_minimal_survey_gets_the_documented_defaults() {
        let surveys = parse("[[survey]]\nid = \"s\"\n").unwrap();
        let survey = surveys.get("s").unwrap();
        assert_eq!(survey.labels, ["Awful", "Bad", "Okay", "Good", "Great"]);
        assert_eq!(survey.satisfied_min, 4);
        assert_eq!(survey.min_group_size, 5);
        assert_eq!(survey.max_per_visitor_per_day, 20);
    }

    #[test]
    fn a_bad_edit_window_names_its_line() {
        let (line, message) = error_of("[[survey]]\nid = \"s\"\nedit_window = \"7 weeks\"\n");
        assert_eq!(line, 3);
        assert!(message.contains("edit_window"), "{message}");
    }

    #[test]
    fn an_unknown_field_names_its_line() {
        let (line, message) = error_of("[[survey]]\nid = \"s\"\n\nquestoin = \"typo\"\n");
        assert_eq!(line, 4);
        assert!(message.contains("questoin"), "{message}");
    }

    #[test]
    fn a_survey_level_mistake_points_at_its_survey() {
        let text = "[[survey]]\nid = \"a\"\n\n[[survey]]\nid = \"b\"\nscale = [\"👎\", \"👍\"]\nlabels = [\"No\"]\n";
        let (line, message) = error_of(text);
        assert_eq!(line, 4);
        assert!(message.contains("labels"), "{message}");
    }

    #[test]
    fn duplicate_surveys_and_unsafe_settings_are_refused() {
        assert!(
            error_of("[[survey]]\nid = \"a\"\n[[survey]]\nid = \"a\"\n")
                .1
                .contains("twice")
        );
        assert!(
            error_of("[[survey]]\nid = \"a\"\nrequire_sig = true\n")
                .1
                .contains("secret")
        );
        assert!(
            error_of("[[survey]]\nid = \"a\"\nallowed_origins = [\"https://x.com/page\"]\n")
                .1
                .contains("origin")
        );
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

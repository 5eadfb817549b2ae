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
//!
//! # Layout
//!
//! - `file`: what TOML reads into, every checked value `Spanned`.
//! - `texts`: the scale and texts a survey shows, in every language, with each kind's defaults.
//! - `checks`: one check per setting (origins, tag keys, alerts, the anonymous limits, …).
//! - this file: loading, the top-level keys, and turning each survey into a `domain::Survey`.

use crate::domain::api_key::KeyDigest;
use crate::domain::survey::FloodLimit;
use crate::domain::{Secret, Survey, SurveyId, Surveys, Theme};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

mod checks;
mod file;
mod texts;

pub use checks::parse_duration;
use checks::{
    AnonymousLimits, check_alert, check_origins, check_store, check_tags, unknown_interactions,
};
use file::{ConfigFile, Problem, SurveyFile, ThemeFile, at};
use texts::Wording;

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

/// Everything a configuration file sets.
#[derive(Debug)]
pub struct Config {
    pub surveys: Surveys,
    /// `store = "postgres://…"`: the PostgreSQL database to store in instead of the embedded
    /// store in the data directory (`--store` and `PULSETAP_STORE` win over it).
    pub store: Option<String>,
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Surveys, ConfigError> {
    load_config(path).map(|config| config.surveys)
}

/// Reads and checks a configuration file, the store's setting included.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::Missing { path: path.into() },
        _ => ConfigError::Read {
            path: path.into(),
            source,
        },
    })?;
    parse_config(&text).map_err(|(offset, message)| ConfigError::Invalid {
        path: path.into(),
        line: line_of(&text, offset),
        message,
    })
}

/// Parses configuration text; an error carries the byte offset it is about.
pub fn parse(text: &str) -> Result<Surveys, Problem> {
    parse_config(text).map(|config| config.surveys)
}

/// Parses configuration text, the store's setting included.
pub fn parse_config(text: &str) -> Result<Config, Problem> {
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
    let store = file.store.map(check_store).transpose()?;
    let surveys = Surveys::new(surveys, read_keys, flood_limit)
        .with_write_keys(write_keys)
        .with_trusted_proxy(limits.trust_x_forwarded_for);
    Ok(Config { surveys, store })
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

const DEFAULT_EDIT_WINDOW: Duration = Duration::from_secs(7 * 86_400);
const DEFAULT_MAX_PER_VISITOR: u32 = 20;
const DEFAULT_MIN_GROUP_SIZE: u64 = 5;
const MIN_SECRET_LEN: usize = 16;

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

#[cfg(test)]
mod tests;

//! The configuration file as written: what TOML reads into, every checked value as a `Spanned`
//! that remembers its line, and the `Problem` a check reports.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A problem, and the byte offset in the text of the value it is about.
pub(super) type Problem = (usize, String);

/// Where a value starts in the text.
pub(super) fn at<T>(value: &Spanned<T>) -> usize {
    value.span().start
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    #[serde(default)]
    pub(super) read_keys: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) write_keys: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) survey: Vec<SurveyFile>,
    #[serde(default)]
    pub(super) limits: LimitsFile,
    pub(super) store: Option<Spanned<String>>,
}

/// `[limits]`: requests per visitor before `429`; a missing value keeps its default.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsFile {
    pub(super) visitor_requests_per_second: Option<Spanned<u32>>,
    pub(super) visitor_burst: Option<Spanned<u32>>,
    #[serde(default)]
    pub(super) trust_x_forwarded_for: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SurveyFile {
    pub(super) id: Spanned<String>,
    pub(super) kind: Option<Spanned<String>>,
    pub(super) question: Option<String>,
    pub(super) scale: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) labels: Option<Spanned<Vec<String>>>,
    pub(super) satisfied_min: Option<Spanned<u8>>,
    pub(super) low_label: Option<Spanned<String>>,
    pub(super) high_label: Option<Spanned<String>>,
    pub(super) follow_up: Option<String>,
    pub(super) thank_you: Option<String>,
    pub(super) send: Option<String>,
    pub(super) confirm: Option<String>,
    pub(super) lang: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) texts: BTreeMap<Spanned<String>, TextsFile>,
    #[serde(default)]
    pub(super) theme: ThemeFile,
    pub(super) allowed_origins: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) tags: Vec<Spanned<String>>,
    pub(super) secret: Option<Spanned<String>>,
    pub(super) require_sig: Option<Spanned<bool>>,
    pub(super) edit_window: Option<Spanned<String>>,
    pub(super) max_per_visitor_per_day: Option<Spanned<u32>>,
    pub(super) min_group_size: Option<Spanned<u64>>,
    #[serde(default)]
    pub(super) read_keys: Vec<Spanned<String>>,
    pub(super) alert: Option<AlertFile>,
    #[serde(default)]
    pub(super) write_keys: Vec<Spanned<String>>,
    pub(super) max_unverified_per_day: Option<Spanned<u64>>,
    pub(super) max_tag_values: Option<Spanned<u64>>,
    pub(super) max_impressions_per_visitor_per_day: Option<Spanned<u32>>,
    pub(super) unknown_interactions: Option<Spanned<String>>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum ThemeFile {
    Light,
    Dark,
    #[default]
    Auto,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AlertFile {
    pub(super) webhook: Spanned<String>,
    pub(super) max_score: Option<Spanned<u8>>,
    pub(super) give_up_after: Option<Spanned<String>>,
}

/// `[survey.texts.<lang>]`: the survey's texts in one more language.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TextsFile {
    pub(super) question: Option<String>,
    pub(super) labels: Option<Spanned<Vec<String>>>,
    pub(super) low_label: Option<Spanned<String>>,
    pub(super) high_label: Option<Spanned<String>>,
    pub(super) follow_up: Option<String>,
    pub(super) thank_you: Option<String>,
    pub(super) send: Option<String>,
    pub(super) confirm: Option<String>,
}

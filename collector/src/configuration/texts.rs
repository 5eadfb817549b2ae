//! What a survey shows: its kind's scale and texts in every language, with the defaults, and
//! the checks that each language says everything a customer is shown.

use super::file::{Problem, TextsFile, at};
use crate::domain::figures::MAX_SCALE;
use crate::domain::{Kind, Lang, Texts};
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

/// The texts a survey of `kind` shows when it writes none of its own (in English).
pub(super) fn default_texts(kind: Kind) -> Texts {
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

pub(super) fn default_scale() -> Vec<String> {
    ["😠", "🙁", "😐", "🙂", "😍"].map(String::from).to_vec()
}

pub(super) fn default_emoji_labels(len: usize) -> Vec<String> {
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
pub(super) fn number_labels(scale: &[String], low_label: &str, high_label: &str) -> Vec<String> {
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

/// Everything a survey shows, as written: its kind, scale and texts in every language.
pub(super) struct Wording {
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
    /// The survey signs email links, so its landing page's `confirm` is shown.
    pub(super) emails: bool,
    pub(super) lang: Option<Spanned<String>>,
    pub(super) texts: BTreeMap<Spanned<String>, TextsFile>,
}

/// What a survey shows, checked.
pub(super) struct Shown {
    pub(super) kind: Kind,
    pub(super) scale: Vec<String>,
    pub(super) satisfied_min: u8,
    pub(super) texts: Texts,
    pub(super) lang: Lang,
    pub(super) translations: BTreeMap<Lang, Texts>,
}

impl Shown {
    /// The scores of the scale, lowest first.
    pub(super) fn scores(&self) -> std::ops::RangeInclusive<u8> {
        let first = self.kind.numbers().map_or(1, |scores| *scores.start());
        first..=first + (self.scale.len() as u8).saturating_sub(1)
    }
}

impl Wording {
    /// The kind fixes what a scale of numbers shows and which of its scores are good; an emoji
    /// scale is the survey's own. A setting that means nothing for the kind is refused rather
    /// than ignored, and so is a language that lacks a text the survey shows.
    pub(super) fn check(self) -> Result<Shown, Problem> {
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
    pub(super) fn check(
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

/// A language tag of the configuration: well-formed BCP 47, such as `fr`, `pt-BR` or `ar`.
pub(super) fn language(text: &Spanned<String>) -> Result<Lang, Problem> {
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
pub(super) fn check_labels(
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
pub(super) fn check_scale(scale: Spanned<Vec<Spanned<String>>>) -> Result<Vec<String>, Problem> {
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
pub(super) fn score_setting(
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

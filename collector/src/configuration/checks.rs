//! Checks of single settings, each reported on the line of its key: origins, tag keys, alerts,
//! the anonymous limits, `unknown_interactions`, durations.

use super::file::{AlertFile, Problem, at};
use super::texts::{Shown, score_setting};
use crate::domain::survey::{LANG_DIMENSION, UnknownInteractions};
use crate::domain::{Alert, Kind};
use pulsetap_wire::tags;
use std::collections::BTreeSet;
use std::time::Duration;
use toml::Spanned;

pub(super) const DEFAULT_MAX_UNVERIFIED_PER_DAY: u64 = 10_000;

pub(super) const DEFAULT_MAX_TAG_VALUES: u64 = 1_000;

pub(super) const DEFAULT_MAX_IMPRESSIONS_PER_VISITOR: u32 = 1_000;

/// The alert threshold when `alert.max_score` is left out: the unhappy end of each kind's
/// scale (an NPS detractor, a CES answer below the middle).
pub(super) fn default_alert_max(kind: Kind) -> u8 {
    match kind {
        Kind::Csat => 2,
        Kind::Nps => crate::domain::kind::DETRACTOR_MAX,
        Kind::Ces => 3,
    }
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin`, or `*`.
pub(super) fn is_origin(origin: &str) -> bool {
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

/// A survey's limits on what nobody vouched for, each at least 1: a limit of 0 would refuse
/// every anonymous rating, impression or tag value, always a mistake.
pub(super) struct AnonymousLimits {
    pub(super) unverified_per_day: u64,
    pub(super) tag_values: u64,
    pub(super) impressions_per_visitor: u32,
}

impl AnonymousLimits {
    pub(super) fn check(
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

/// `unknown_interactions`: what a rating for an interaction neither signed nor registered gets.
pub(super) fn unknown_interactions(
    text: Option<&Spanned<String>>,
) -> Result<UnknownInteractions, Problem> {
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

/// Exact origins or `*`. An empty list is refused: it would let no page post, which is never
/// what was meant (a survey rated only through email links or from a server leaves the key out).
pub(super) fn check_origins(
    origins: Spanned<Vec<Spanned<String>>>,
) -> Result<BTreeSet<String>, Problem> {
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
pub(super) fn check_tags(keys: Vec<Spanned<String>>) -> Result<BTreeSet<String>, Problem> {
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

pub(super) fn check_alert(alert: AlertFile, shown: &Shown) -> Result<Alert, Problem> {
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
pub(super) fn alert_give_up_after(text: Option<&Spanned<String>>) -> Result<Duration, Problem> {
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

/// `store` names a PostgreSQL database by its URL (the same rule as `--store`, which
/// `store::Location::parse` applies).
pub(super) fn check_store(store: Spanned<String>) -> Result<String, Problem> {
    let url = store.get_ref();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(store.into_inner())
    } else {
        Err((
            at(&store),
            "store must be a PostgreSQL URL, like \"postgres://pulsetap@db.internal:5432/pulsetap\"; remove it to keep the embedded store in the data directory".into(),
        ))
    }
}

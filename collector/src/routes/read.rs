//! Aggregate reads for marketers (CONTRACT §3), and the public widget configuration.
//!
//! Every read sums counters over a range of days (or hours): none touches a response.

use crate::domain::survey::ReadScope;
use crate::domain::{Day, Survey, SurveyId};
use crate::error::{ApiError, Invalid};
use crate::state::AppState;
use crate::store::keys::{Dimension, Grain};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use pulsetap_wire::{Breakdown, Bucket, Group, Summary, Timeseries};
use serde::Deserialize;
use time::OffsetDateTime;

/// The longest range one read may ask for, so one request can't scan years of hours.
const MAX_DAYS: u32 = 400;
const MAX_HOURLY_DAYS: u32 = 31;

/// Query parameters shared by the read endpoints; each uses the ones it needs.
#[derive(Debug, Deserialize)]
pub struct ReadQuery {
    from: Option<String>,
    to: Option<String>,
    tag: Option<String>,
    interval: Option<String>,
    by: Option<String>,
    pub format: Option<String>,
}

impl ReadQuery {
    /// `from` as given, unparsed (an export treats a missing one differently).
    pub fn first_day(&self) -> Option<&str> {
        self.from.as_deref()
    }

    /// `to` as given, unparsed.
    pub fn last_day(&self) -> Option<&str> {
        self.to.as_deref()
    }
}

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy)]
pub struct DayRange {
    pub from: Day,
    pub to: Day,
}

impl DayRange {
    /// `from`/`to` as given; by default the 30 days ending today.
    pub fn parse(from: Option<&str>, to: Option<&str>, max_days: u32) -> Result<Self, ApiError> {
        let day = |text: &str, name: &str| {
            Day::parse(text).ok_or_else(|| {
                ApiError::BadQuery(format!(
                    "{name} must be a date like 2026-11-30, got {text:?}"
                ))
            })
        };
        let to = match to {
            Some(text) => day(text, "to")?,
            None => Day::of(OffsetDateTime::now_utc()),
        };
        let from = match from {
            Some(text) => day(text, "from")?,
            None => to.minus(29),
        };
        if from > to {
            return Err(ApiError::BadQuery(format!(
                "from ({from}) is after to ({to})"
            )));
        }
        if to.0 - from.0 >= max_days {
            return Err(ApiError::BadQuery(format!(
                "a range may span at most {max_days} days"
            )));
        }
        Ok(Self { from, to })
    }
}

/// What the bearer key may read.
pub fn read_scope(state: &AppState, headers: &HeaderMap) -> Result<ReadScope, ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or(ApiError::MissingKey)?;
    state.surveys.read_scope(key).ok_or(ApiError::UnknownKey)
}

/// Checks the bearer key and returns the survey it may read.
pub fn authorize<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    survey: &str,
) -> Result<&'a Survey, ApiError> {
    let scope = read_scope(state, headers)?;
    // A key for other surveys learns nothing, not even whether this survey exists.
    let may_read = SurveyId::parse(survey).is_some_and(|id| scope.includes(&id));
    if !may_read && scope != ReadScope::Everything {
        return Err(ApiError::KeyNotForSurvey(survey.to_owned()));
    }
    state
        .surveys
        .get(survey)
        .ok_or_else(|| ApiError::UnknownSurvey(survey.to_owned()))
}

/// `tag=agent:alice` as a counter dimension of this survey.
pub fn dimension<'a>(survey: &Survey, tag: Option<&'a str>) -> Result<Dimension<'a>, ApiError> {
    let Some(tag) = tag else {
        return Ok(Dimension::All);
    };
    let (key, value) = tag.split_once(':').ok_or_else(|| {
        ApiError::BadQuery(format!("tag must look like agent:alice, got {tag:?}"))
    })?;
    if !survey.tags.contains(key) {
        return Err(Invalid::UnknownTag(key.to_owned()).into());
    }
    Ok(Dimension::Tag(key, value))
}

#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/summary",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("from" = Option<String>, Query, description = "First UTC day (YYYY-MM-DD), inclusive; default: 29 days before `to`"),
        ("to" = Option<String>, Query, description = "Last UTC day, inclusive; default: today"),
        ("tag" = Option<String>, Query, description = "Only responses with this tag, as `key:value`", example = "agent:alice"),
    ),
    responses(
        (status = 200, description = "Responses, response rate, counts, average, CSAT and its 95% interval", body = pulsetap_wire::Summary),
        (status = 400, description = "A malformed parameter", body = pulsetap_wire::ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "The key may not read this survey", body = pulsetap_wire::ErrorBody),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
        (status = 422, description = "A tag key the survey does not have", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    Path(survey): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    let survey = authorize(&state, &headers, &survey)?;
    let Query(query) = query?;
    let range = DayRange::parse(query.from.as_deref(), query.to.as_deref(), MAX_DAYS)?;
    let dimension = dimension(survey, query.tag.as_deref())?;
    let total = state
        .store
        .total(survey.id.as_str(), &dimension, range.from, range.to)?;
    Ok(Json(Summary {
        survey: survey.id.to_string(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        tag: query.tag.clone(),
        figures: total.figures(survey.max_score(), survey.satisfied_min),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/timeseries",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("from" = Option<String>, Query, description = "First UTC day (YYYY-MM-DD), inclusive; default: 29 days before `to`"),
        ("to" = Option<String>, Query, description = "Last UTC day, inclusive; default: today"),
        ("tag" = Option<String>, Query, description = "Only responses with this tag, as `key:value`", example = "agent:alice"),
        ("interval" = Option<String>, Query, description = "`day` (default) or `hour`"),
    ),
    responses(
        (status = 200, description = "One bucket per day or hour of the range, each with its figures", body = pulsetap_wire::Timeseries),
        (status = 400, description = "A malformed parameter", body = pulsetap_wire::ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "The key may not read this survey", body = pulsetap_wire::ErrorBody),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
        (status = 422, description = "A tag key the survey does not have", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn timeseries(
    State(state): State<AppState>,
    Path(survey): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Timeseries>, ApiError> {
    let survey = authorize(&state, &headers, &survey)?;
    let Query(query) = query?;
    let interval = query.interval.as_deref().unwrap_or("day");
    let (grain, max_days) = match interval {
        "day" => (Grain::Day, MAX_DAYS),
        "hour" => (Grain::Hour, MAX_HOURLY_DAYS),
        other => {
            return Err(ApiError::BadQuery(format!(
                "interval must be day or hour, got {other:?}"
            )));
        }
    };
    let range = DayRange::parse(query.from.as_deref(), query.to.as_deref(), max_days)?;
    let dimension = dimension(survey, query.tag.as_deref())?;
    let (first, last) = match grain {
        Grain::Day => (range.from.0, range.to.0),
        Grain::Hour => (range.from.first_hour().0, range.to.last_hour().0),
    };
    let tallies = state
        .store
        .tallies(survey.id.as_str(), &dimension, grain, first, last)?;
    let buckets = (first..=last)
        .map(|bucket| Bucket {
            start: match grain {
                Grain::Day => Day(bucket).to_string(),
                Grain::Hour => crate::domain::Hour(bucket).to_string(),
            },
            figures: tallies
                .get(&bucket)
                .copied()
                .unwrap_or_default()
                .figures(survey.max_score(), survey.satisfied_min),
        })
        .collect();
    Ok(Json(Timeseries {
        survey: survey.id.to_string(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        interval: interval.to_owned(),
        tag: query.tag.clone(),
        buckets,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/breakdown",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("from" = Option<String>, Query, description = "First UTC day (YYYY-MM-DD), inclusive; default: 29 days before `to`"),
        ("to" = Option<String>, Query, description = "Last UTC day, inclusive; default: today"),
        ("by" = String, Query, description = "The tag key to group by", example = "agent"),
    ),
    responses(
        (status = 200, description = "The figures per tag value; a group smaller than `min_group_size` is only marked `too_few`", body = pulsetap_wire::Breakdown),
        (status = 400, description = "A malformed parameter", body = pulsetap_wire::ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "The key may not read this survey", body = pulsetap_wire::ErrorBody),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
        (status = 422, description = "A tag key the survey does not have", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn breakdown(
    State(state): State<AppState>,
    Path(survey): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<Breakdown>, ApiError> {
    let survey = authorize(&state, &headers, &survey)?;
    let Query(query) = query?;
    let by = query
        .by
        .as_deref()
        .ok_or_else(|| ApiError::BadQuery("breakdown needs by=<tag>, e.g. by=agent".into()))?;
    if !survey.tags.contains(by) {
        return Err(Invalid::UnknownTag(by.to_owned()).into());
    }
    let range = DayRange::parse(query.from.as_deref(), query.to.as_deref(), MAX_DAYS)?;
    let mut groups = Vec::new();
    for value in state.store.tag_values(survey.id.as_str(), by)? {
        let total = state.store.total(
            survey.id.as_str(),
            &Dimension::Tag(by, &value),
            range.from,
            range.to,
        )?;
        if total.responses() == 0 && total.impressions == 0 {
            continue;
        }
        let too_few = total.responses() < survey.min_group_size;
        groups.push(Group {
            value,
            too_few,
            figures: (!too_few).then(|| total.figures(survey.max_score(), survey.satisfied_min)),
        });
    }
    Ok(Json(Breakdown {
        survey: survey.id.to_string(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        by: by.to_owned(),
        min_group_size: survey.min_group_size,
        groups,
    }))
}

/// Public and cacheable for a minute: what the widget shows. Never a secret.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/widget",
    tag = "widget",
    params(("survey" = String, Path, description = "Survey id")),
    responses(
        (status = 200, description = "What the widget shows; public, cacheable for a minute", body = pulsetap_wire::WidgetConfig),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn widget_config(
    State(state): State<AppState>,
    Path(survey): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let survey = state
        .surveys
        .get(&survey)
        .ok_or_else(|| ApiError::UnknownSurvey(survey.clone()))?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(survey.widget_config()),
    ))
}

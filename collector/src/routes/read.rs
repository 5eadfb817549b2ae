//! Aggregate reads for marketers, and the public widget configuration. Every aggregate sums
//! counters over a range of days (or hours): none touches a response.

use super::error::{ApiError, ReadErrors};
use super::extract::{Params, Readable};
use super::query::{ByQuery, IntervalQuery, LangQuery, RangeQuery, TagQuery};
use crate::domain::report::MAX_DAYS;
use crate::service::reports;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use pulsetap_wire::{Breakdown, ErrorBody, Summary, Timeseries};

/// Responses, response rate, counts, average, CSAT and its 95% interval over a range of days.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/summary",
    tag = "read",
    security(("read_key" = [])),
    params(("survey" = String, Path, description = "Survey id"), RangeQuery, TagQuery),
    responses(
        (status = 200, description = "The figures of the range", body = Summary),
        ReadErrors,
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    Readable(survey): Readable,
    Params(range): Params<RangeQuery>,
    Params(tag): Params<TagQuery>,
) -> Result<Json<Summary>, ApiError> {
    let range = range.range(MAX_DAYS)?;
    let tag = tag.filter(&survey)?;
    let summary = reports::summary(&state.store, &survey, range, tag.as_ref()).await?;
    Ok(Json(summary))
}

/// The same figures per day or hour.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/timeseries",
    tag = "read",
    security(("read_key" = [])),
    params(("survey" = String, Path, description = "Survey id"), RangeQuery, TagQuery, IntervalQuery),
    responses(
        (status = 200, description = "One bucket per day or hour of the range, each with its figures", body = Timeseries),
        ReadErrors,
    )
)]
pub async fn timeseries(
    State(state): State<AppState>,
    Readable(survey): Readable,
    Params(range): Params<RangeQuery>,
    Params(tag): Params<TagQuery>,
    Params(interval): Params<IntervalQuery>,
) -> Result<Json<Timeseries>, ApiError> {
    let (interval, max_days) = interval.interval();
    let range = range.range(max_days)?;
    let tag = tag.filter(&survey)?;
    let series = reports::timeseries(&state.store, &survey, range, interval, tag.as_ref()).await?;
    Ok(Json(series))
}

/// The same figures per value of one tag.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/breakdown",
    tag = "read",
    security(("read_key" = [])),
    params(("survey" = String, Path, description = "Survey id"), RangeQuery, ByQuery),
    responses(
        (status = 200, description = "The figures per tag value; a group smaller than `min_group_size` is only marked `too_few`", body = Breakdown),
        ReadErrors,
    )
)]
pub async fn breakdown(
    State(state): State<AppState>,
    Readable(survey): Readable,
    Params(range): Params<RangeQuery>,
    Params(by): Params<ByQuery>,
    Params(tag): Params<TagQuery>,
) -> Result<Json<Breakdown>, ApiError> {
    let by = by.tag(&survey)?;
    if tag.is_given() {
        return Err(ApiError::BadQuery(
            "breakdown can't be filtered by tag: it already splits by one (`by`)".into(),
        ));
    }
    let range = range.range(MAX_DAYS)?;
    let breakdown = reports::breakdown(&state.store, &survey, range, by).await?;
    Ok(Json(breakdown))
}

/// Public and cacheable for a minute: what the widget shows, in one language. Never a secret.
///
/// The answer depends on the path and the `lang` parameter only (never on a request header), so
/// a cache that keys on the whole URL keeps one copy per language list, and one that drops the
/// query from its key would serve one language to everyone: a CDN in front must keep `lang` in
/// its cache key.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/widget",
    tag = "widget",
    params(("survey" = String, Path, description = "Survey id"), LangQuery),
    responses(
        (status = 200, description = "What the widget shows, in the first language asked for that the survey has (else its default texts); public, cacheable for a minute", body = pulsetap_wire::WidgetConfig,
            headers(("Content-Language" = String, description = "The language of the texts"))),
        (status = 404, description = "No such survey", body = ErrorBody),
    )
)]
pub async fn widget_config(
    State(state): State<AppState>,
    Path(survey): Path<String>,
    Params(lang): Params<LangQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let survey = state
        .surveys
        .get(&survey)
        .ok_or(ApiError::UnknownSurvey(survey))?;
    let config = survey.widget_config(lang.requested());
    let language = config.lang.clone().unwrap_or_default();
    Ok((
        [
            (header::CACHE_CONTROL, "public, max-age=60".to_owned()),
            (header::CONTENT_LANGUAGE, language),
        ],
        Json(config),
    ))
}

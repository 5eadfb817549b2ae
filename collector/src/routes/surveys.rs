//! What a dashboard reads besides the aggregates: which surveys a key may read, the latest
//! comments of one, the ratings it refused, and its alerts that could not be delivered.

use super::error::ApiError;
use super::extract::{Params, ReadKey, Readable};
use super::query::{PageQuery, RangeQuery, TagQuery};
use crate::domain::calendar::{from_unix_ms, rfc3339};
use crate::domain::report::MAX_DAYS;
use crate::service::reports;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use pulsetap_wire::{
    Comments, ErrorBody, RefusalCount, Refusals, SurveyInfo, SurveyList, UndeliveredAlert,
    UndeliveredAlerts,
};

/// Undelivered alert messages listed at most: the newest.
const UNDELIVERED_LISTED: usize = 100;

/// Lists the surveys this key may read, with what a dashboard needs to show them.
#[utoipa::path(
    get,
    path = "/v1/surveys",
    tag = "read",
    security(("read_key" = [])),
    responses(
        (status = 200, description = "The surveys this key may read, sorted by id", body = SurveyList),
        (status = 401, description = "No key, or not a key of ours", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ReadKey(scope): ReadKey,
) -> Result<Json<SurveyList>, ApiError> {
    let mut surveys: Vec<SurveyInfo> = state
        .surveys
        .iter()
        .filter(|survey| scope.includes(&survey.id))
        .map(|survey| SurveyInfo {
            id: survey.id.to_string(),
            kind: survey.kind.as_str().to_owned(),
            question: survey.texts.question.clone(),
            scale: survey.scale.clone(),
            labels: survey.texts.labels.clone(),
            first_score: survey.first_score(),
            low_label: survey.texts.low_label.clone(),
            high_label: survey.texts.high_label.clone(),
            satisfied_min: survey.satisfied_min,
            languages: survey.languages().map(ToString::to_string).collect(),
            tags: survey.tags.iter().cloned().collect(),
            min_group_size: survey.min_group_size,
        })
        .collect();
    surveys.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(SurveyList { surveys }))
}

/// The latest responses that carry a comment, newest change first; a response changed several
/// times shows once, where it last changed.
///
/// Comments are returned as JSON strings, exactly as typed: a client shows them as text.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/comments",
    tag = "read",
    security(("read_key" = [])),
    params(("survey" = String, Path, description = "Survey id"), RangeQuery, TagQuery, PageQuery),
    responses(
        (status = 200, description = "The latest comments of responses created in the range", body = Comments),
        super::error::ReadErrors,
    )
)]
pub async fn comments(
    State(state): State<AppState>,
    Readable(survey): Readable,
    Params(range): Params<RangeQuery>,
    Params(tag): Params<TagQuery>,
    Params(page): Params<PageQuery>,
) -> Result<Json<Comments>, ApiError> {
    let range = range.range(MAX_DAYS)?;
    let tag = tag.filter(&survey)?;
    let limit = page.limit()?;
    let comments = reports::comments(
        &state.store,
        &survey,
        range,
        tag.as_ref(),
        limit,
        page.before,
    )
    .await?;
    Ok(Json(comments))
}

/// The ratings this collector refused for the survey since it started, by reason, with the
/// last message each reason gave: what a site owner checks when ratings seem to go missing (a
/// wrong signature, an origin not allowed). A page's console shows the same message.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/refusals",
    tag = "read",
    security(("read_key" = [])),
    params(("survey" = String, Path, description = "Survey id")),
    responses(
        (status = 200, description = "Refusals by reason, most frequent first", body = Refusals),
        super::error::ReadErrors,
    )
)]
pub async fn refusals(State(state): State<AppState>, Readable(survey): Readable) -> Json<Refusals> {
    let (since, by_reason) = state.metrics.refusals(survey.id.as_str());
    let mut reasons: Vec<RefusalCount> = by_reason
        .into_iter()
        .map(|(reason, refused)| RefusalCount {
            reason: reason.to_owned(),
            count: refused.count,
            last_at: rfc3339(refused.last_at),
            last_message: refused.last_message,
        })
        .collect();
    reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    Json(Refusals {
        survey: survey.id.to_string(),
        since: rfc3339(since),
        reasons,
    })
}

/// The survey's alert messages its webhook refused for longer than `alert.give_up_after`: set
/// aside (kept, never retried again), newest first, at most 100. The dashboard shows them as
/// undelivered alerts, so an unhappy customer is not missed because a webhook was down.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/undelivered-alerts",
    tag = "read",
    security(("read_key" = [])),
    params(("survey" = String, Path, description = "Survey id")),
    responses(
        (status = 200, description = "Undelivered alert messages, newest first", body = UndeliveredAlerts),
        super::error::ReadErrors,
    )
)]
pub async fn undelivered_alerts(
    State(state): State<AppState>,
    Readable(survey): Readable,
) -> Result<Json<UndeliveredAlerts>, ApiError> {
    let messages = state
        .store
        .undelivered_alerts(&survey.id, UNDELIVERED_LISTED)
        .await?;
    let at = |ms: Option<i64>| ms.map(|ms| rfc3339(from_unix_ms(ms))).unwrap_or_default();
    let alerts = messages
        .into_iter()
        .map(|message| UndeliveredAlert {
            first_failed_at: at(message.first_failed_ms),
            gave_up_at: at(message.gave_up_ms),
            attempts: message.attempts,
            last_error: message.last_error.unwrap_or_default(),
            responses: message
                .notices
                .iter()
                .map(|notice| notice.response.to_record())
                .collect(),
            idempotency_key: message.idempotency_key,
        })
        .collect();
    Ok(Json(UndeliveredAlerts {
        survey: survey.id.to_string(),
        alerts,
    }))
}

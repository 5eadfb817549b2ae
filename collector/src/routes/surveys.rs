//! What a dashboard reads besides the aggregates: which surveys a key may read, and the latest
//! comments of one.

use super::read::{DayRange, authorize, dimension, read_scope};
use crate::domain::Day;
use crate::domain::calendar::from_unix_ms;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::{self, Dimension};
use crate::store::{Store, StoreError};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use pulsetap_wire::{Comments, ErrorBody, ResponseRecord, SurveyInfo, SurveyList};
use serde::Deserialize;
use std::collections::HashSet;

const DEFAULT_COMMENTS: usize = 20;
const MAX_COMMENTS: usize = 100;
/// Events looked at per request. Comments can be rare, and a request must not walk a million
/// events to find twenty; when the budget runs out the answer says where to go on.
const SCAN_BUDGET: usize = 20_000;
/// Same limit as the aggregate reads.
const MAX_DAYS: u32 = 400;

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
    headers: HeaderMap,
) -> Result<Json<SurveyList>, ApiError> {
    let scope = read_scope(&state, &headers)?;
    let mut surveys: Vec<SurveyInfo> = state
        .surveys
        .iter()
        .filter(|survey| scope.includes(&survey.id))
        .map(|survey| SurveyInfo {
            id: survey.id.to_string(),
            question: survey.question.clone(),
            scale: survey.scale.clone(),
            labels: survey.labels.clone(),
            satisfied_min: survey.satisfied_min,
            tags: survey.tags.iter().cloned().collect(),
            min_group_size: survey.min_group_size,
        })
        .collect();
    surveys.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(SurveyList { surveys }))
}

#[derive(Debug, Deserialize)]
pub struct CommentsQuery {
    from: Option<String>,
    to: Option<String>,
    tag: Option<String>,
    limit: Option<usize>,
    before: Option<u64>,
}

/// The latest responses that carry a comment, newest change first.
///
/// Comments are returned as JSON strings, exactly as typed: a client shows them as text.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/comments",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("from" = Option<String>, Query, description = "First UTC day the response was created (YYYY-MM-DD); default: 29 days before `to`"),
        ("to" = Option<String>, Query, description = "Last UTC day, inclusive; default: today"),
        ("tag" = Option<String>, Query, description = "Only responses with this tag, as `key:value`", example = "agent:alice"),
        ("limit" = Option<usize>, Query, description = "At most this many comments (1 to 100, default 20)"),
        ("before" = Option<u64>, Query, description = "Continue from an earlier answer's `next_before`"),
    ),
    responses(
        (status = 200, description = "The latest comments", body = Comments),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = ErrorBody),
        (status = 403, description = "The key may not read this survey", body = ErrorBody),
        (status = 404, description = "No such survey", body = ErrorBody),
        (status = 422, description = "A tag key the survey does not have", body = ErrorBody),
    )
)]
pub async fn comments(
    State(state): State<AppState>,
    Path(survey): Path<String>,
    headers: HeaderMap,
    query: Result<Query<CommentsQuery>, QueryRejection>,
) -> Result<Json<Comments>, ApiError> {
    let survey = authorize(&state, &headers, &survey)?;
    let Query(query) = query?;
    let range = DayRange::parse(query.from.as_deref(), query.to.as_deref(), MAX_DAYS)?;
    let tag = match dimension(survey, query.tag.as_deref())? {
        Dimension::All => None,
        Dimension::Tag(key, value) => Some((key.to_owned(), value.to_owned())),
    };
    let limit = query.limit.unwrap_or(DEFAULT_COMMENTS);
    if !(1..=MAX_COMMENTS).contains(&limit) {
        return Err(ApiError::BadQuery(format!(
            "limit must be between 1 and {MAX_COMMENTS}, got {limit}"
        )));
    }
    let search = Search {
        survey: survey.id.to_string(),
        range,
        tag,
        limit,
        before: query.before,
    };
    let store = state.store.clone();
    let (comments, next_before) = tokio::task::spawn_blocking(move || search.run(&store))
        .await
        .map_err(|join| StoreError::Sled(join.to_string()))??;
    Ok(Json(Comments {
        survey: survey.id.to_string(),
        comments,
        next_before,
    }))
}

struct Search {
    survey: String,
    range: DayRange,
    tag: Option<(String, String)>,
    limit: usize,
    before: Option<u64>,
}

impl Search {
    /// Walks the events tree backwards: the newest change comes first, and a response changed
    /// several times is shown once, as it is now.
    fn run(&self, store: &Store) -> Result<(Vec<ResponseRecord>, Option<u64>), StoreError> {
        let prefix = keys::survey_prefix(&self.survey);
        let end = self.before.unwrap_or(u64::MAX);
        let mut seen: HashSet<sled::IVec> = HashSet::new();
        let mut found = Vec::new();
        let events = store.events().range(..end.to_be_bytes()).rev();
        for (scanned, entry) in events.enumerate() {
            let (key, identity) = entry?;
            let sequence = event_sequence(&key);
            if found.len() == self.limit || scanned == SCAN_BUDGET {
                return Ok((found, Some(sequence + 1)));
            }
            if !identity.starts_with(&prefix) || !seen.insert(identity.clone()) {
                continue;
            }
            let Some(response) = store.response_at(&identity)? else {
                continue;
            };
            let day = Day::of(from_unix_ms(response.created_ms));
            let in_range = self.range.from <= day && day <= self.range.to;
            let has_comment = response
                .comment
                .as_deref()
                .is_some_and(|comment| !comment.trim().is_empty());
            let tagged = self.tag.as_ref().is_none_or(|(key, value)| {
                response.tags.get(key).is_some_and(|held| held == value)
            });
            if in_range && has_comment && tagged {
                found.push(response.to_record());
            }
        }
        Ok((found, None))
    }
}

fn event_sequence(key: &[u8]) -> u64 {
    key.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

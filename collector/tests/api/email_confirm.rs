//! The landing page's form, for browsers without the widget: it records the rating on the
//! server, and one interaction stays one response across emoji and channels (docs/api.md).

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn confirming_a_link_records_exactly_one_response_with_its_tags_and_comment() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-10", "agent=alice").await;
    let link = &email.links[3].url;
    app.client.get(link).send().await.unwrap();

    let confirmed = confirm_link(&app, link, "  Quick and kind  ").await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(confirmed.headers()["cache-control"], "no-store");
    let html = confirmed.text().await.unwrap();
    assert!(html.contains("<h1>Thank you!</h1>"), "{html}");
    assert!(
        html.contains("<p class=\"choice\"><span class=\"emoji\" aria-hidden=\"true\">🙂</span><strong>Good</strong></p>"),
        "the thank-you shows the answer: {html}"
    );

    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.counts["4"], 1);
    assert_eq!(summary.figures.unconfirmed_clicks, 1);
    let records = app.export("support").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].interaction.as_deref(), Some("T-10"));
    assert_eq!(records[0].tags["agent"], "alice");
    assert_eq!(records[0].comment.as_deref(), Some("Quick and kind"));
}

#[tokio::test]
async fn confirming_another_emoji_of_the_same_email_changes_the_answer_and_counts_once() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-11", "agent=alice").await;
    assert_eq!(
        confirm_link(&app, &email.links[1].url, "Slow reply")
            .await
            .status(),
        200
    );
    let again = confirm_link(&app, &email.links[4].url, "").await;
    assert_eq!(again.status(), 200);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("<strong>Great</strong></p>")
    );

    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.counts["2"], 0);
    assert_eq!(summary.figures.counts["5"], 1);
    let records = app.export("support").await;
    assert_eq!(records.len(), 1);
    let history: Vec<u8> = records[0]
        .history
        .iter()
        .map(|change| change.score)
        .collect();
    assert_eq!(history, [2, 5]);
    assert_eq!(
        records[0].comment.as_deref(),
        Some("Slow reply"),
        "a confirm without a comment keeps the earlier one"
    );
}

#[tokio::test]
async fn the_same_confirm_sent_twice_is_one_unchanged_response() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-12", "").await;
    for _ in 0..2 {
        assert_eq!(
            confirm_link(&app, &email.links[0].url, "").await.status(),
            200
        );
    }
    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(app.export("support").await[0].history.len(), 1);
}

#[tokio::test]
async fn an_answer_from_the_web_widget_and_one_from_the_email_are_one_response() {
    let app = spawn_app().await;
    // The chat widget, signed by the site, answers first.
    let sig = sign("support", Some("T-13"), &[("agent", "alice")]);
    let web = json!({"survey": "support", "response_id": new_id(), "score": 2,
        "interaction": "T-13", "sig": sig, "tags": {"agent": "alice"}});
    assert_eq!(app.post_response(&web).await.status(), 201);

    let email = email_links(&app, "T-13", "agent=alice").await;
    assert_eq!(
        confirm_link(&app, &email.links[3].url, "").await.status(),
        200
    );

    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.counts["4"], 1);
    assert_eq!(summary.figures.counts["2"], 0);
}

#[tokio::test]
async fn an_email_answer_may_not_be_taken_over_by_an_unsigned_page() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-14", "agent=alice").await;
    confirm_link(&app, &email.links[4].url, "").await;
    let intruder = json!({"survey": "support", "response_id": new_id(), "score": 1,
        "interaction": "T-14"});
    assert_eq!(app.post_response(&intruder).await.status(), 409);
    assert_eq!(app.summary("support", "").await.figures.counts["5"], 1);
}

#[tokio::test]
async fn a_confirm_after_the_edit_window_gets_a_friendly_page_and_keeps_the_answer() {
    let config = CONFIG.replace(
        "read_keys = [\"support-lead-key\"]",
        "read_keys = [\"support-lead-key\"]\nedit_window = \"1s\"",
    );
    let app = spawn_app_with(&config).await;
    let email = email_links(&app, "T-15", "").await;
    assert_eq!(
        confirm_link(&app, &email.links[4].url, "").await.status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let late = confirm_link(&app, &email.links[0].url, "").await;
    assert_eq!(late.status(), 409);
    assert!(
        late.text()
            .await
            .unwrap()
            .contains("This rating can no longer be changed")
    );
    assert_eq!(app.summary("support", "").await.figures.counts["5"], 1);
}

#[tokio::test]
async fn a_confirmed_rating_is_counted_in_metrics_like_any_other() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-16", "").await;
    confirm_link(&app, &email.links[4].url, "").await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(MARKETING_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pulsetap_responses_accepted_total{status=\"created\"} 1"),
        "{metrics}"
    );
}

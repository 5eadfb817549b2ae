//! A signed answer keeps its tags (README, "Trust model"): a customer may change the score and
//! the comment, but no write moves a response to another agent without a signature for exactly
//! those tags. And text that would show as something else never reaches a reader.

use crate::helpers::*;
use serde_json::{Value, json};

/// Ticket T-1 answered 😠 for alice from the widget of a page signed by the helpdesk.
async fn signed_answer(app: &TestApp) -> Value {
    let body = json!({"survey": "support", "response_id": new_id(), "score": 1,
        "interaction": "T-1", "tags": {"agent": "alice"},
        "sig": sign("support", Some("T-1"), &[("agent", "alice")])});
    assert_eq!(app.post_response(&body).await.status(), 201);
    body
}

async fn stored(app: &TestApp) -> (u8, String, Option<String>) {
    let records = app.export("support").await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    (
        record.score,
        record.tags["agent"].clone(),
        record.comment.clone(),
    )
}

#[tokio::test]
async fn a_signed_answers_agent_cannot_be_moved_by_any_unsigned_write() {
    let app = spawn_app().await;
    let owner = signed_answer(&app).await;
    let bob = json!({"agent": "bob"});

    // The customer's own widget, unsigned, naming bob.
    let mut same_widget = owner.clone();
    same_widget.as_object_mut().unwrap().remove("sig");
    same_widget["tags"] = bob.clone();
    let refused = app.post_response(&same_widget).await;
    assert_eq!(refused.status(), 403);
    // A stranger with another response_id, unsigned.
    let stranger = json!({"survey": "support", "response_id": new_id(), "score": 5,
        "interaction": "T-1", "tags": bob});
    assert_eq!(app.post_response(&stranger).await.status(), 409);
    // The page's signature (made for alice) reused for bob.
    let mut reused = stranger.clone();
    reused["sig"] = owner["sig"].clone();
    assert_eq!(app.post_response(&reused).await.status(), 403);
    // A signature over the interaction alone, with no tags: it may answer, not move.
    let untagged = json!({"survey": "support", "response_id": new_id(), "score": 2,
        "interaction": "T-1", "sig": sign("support", Some("T-1"), &[])});
    assert_eq!(app.post_response(&untagged).await.status(), 200);
    assert_eq!(stored(&app).await, (2, "alice".into(), None));

    // What a customer may change: the score and the comment.
    let mut change = owner.clone();
    change.as_object_mut().unwrap().remove("tags");
    change.as_object_mut().unwrap().remove("sig");
    change["score"] = json!(4);
    change["comment"] = json!("Sorted in the end");
    assert_eq!(app.post_response(&change).await.status(), 200);
    assert_eq!(
        stored(&app).await,
        (4, "alice".into(), Some("Sorted in the end".into()))
    );

    // Only a write-key holder's signature for exactly bob moves it.
    let moved = json!({"survey": "support", "response_id": new_id(), "score": 4,
        "interaction": "T-1", "tags": {"agent": "bob"},
        "sig": sign("support", Some("T-1"), &[("agent", "bob")])});
    assert_eq!(app.post_response(&moved).await.status(), 200);
    assert_eq!(stored(&app).await.1, "bob");
}

#[tokio::test]
async fn an_email_answer_keeps_its_agent_when_the_widget_or_a_stranger_writes_later() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-2", "agent=alice").await;
    assert_eq!(
        confirm_link(&app, &email.links[0].url, "").await.status(),
        200
    );
    let widget = json!({"survey": "support", "response_id": new_id(), "score": 5,
        "interaction": "T-2", "tags": {"agent": "bob"}});
    assert_eq!(app.post_response(&widget).await.status(), 409);
    let records = app.export("support").await;
    assert_eq!(
        (records[0].score, records[0].tags["agent"].as_str()),
        (1, "alice")
    );
}

#[tokio::test]
async fn bidi_controls_cannot_reach_the_dashboard_in_any_field() {
    let app = spawn_app().await;
    let body = |interaction: &str, agent: &str, comment: &str| {
        json!({"survey": "support", "response_id": new_id(), "score": 1,
            "interaction": interaction, "tags": {"agent": agent}, "comment": comment})
    };
    // In an identifier, refused: a signature covers it as sent.
    for (interaction, agent, code) in [
        ("T-\u{202E}1", "alice", "invalid_interaction"),
        ("T-1", "al\u{2066}ice", "invalid_tag"),
        ("T-1", "\u{200B}alice", "invalid_tag"),
    ] {
        let response = app.post_response(&body(interaction, agent, "")).await;
        assert_eq!(response.status(), 422, "{interaction:?} {agent:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], code);
    }
    // In a comment, removed: the feedback is kept, without what would reorder it.
    let typed = "Refund \u{202E}00.001$\u{202C} please \u{FEFF}👩\u{200D}💻 می\u{200C}خواهم 🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
    assert_eq!(
        app.post_response(&body("T-1", "alice", typed))
            .await
            .status(),
        201
    );
    let expected = "Refund 00.001$ please 👩\u{200D}💻 می\u{200C}خواهم 🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
    let records = app.export("support").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].comment.as_deref(), Some(expected));
    let page: pulsetap_wire::Comments = app
        .get_with_key("/v1/surveys/support/comments", Some(MARKETING_KEY))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.comments[0].comment.as_deref(), Some(expected));

    // The email confirm form removes them too.
    let email = email_links(&app, "T-3", "").await;
    confirm_link(&app, &email.links[2].url, "\u{202E}ok").await;
    let records = app.export("support").await;
    let confirmed = records
        .iter()
        .find(|r| r.interaction.as_deref() == Some("T-3"))
        .unwrap();
    assert_eq!(confirmed.comment.as_deref(), Some("ok"));
}

//! Helpdesk emails (docs/api.md, "Registered interactions" and "Template snippets"): a helpdesk
//! registers its tickets with a write key, its email template carries unsigned links with its
//! own placeholder, and the registry decides whose rating it is and how many were invited.

use crate::helpers::*;
use pulsetap_wire::{Breakdown, Registered};
use serde_json::{Value, json};

/// `support` as the other tests have it, plus one survey that refuses interactions nobody
/// vouched for and one that accepts them untagged; every group shows (min_group_size 1).
const HELPDESK_CONFIG: &str = r#"
read_keys = ["marketing-team-key"]
write_keys = ["site-server-key"]

[limits]
visitor_requests_per_second = 100000
visitor_burst = 100000

[[survey]]
id = "support"
allowed_origins = ["https://shop.example.com"]
tags = ["agent", "channel"]
secret = "a long random string for tests"
max_per_visitor_per_day = 1000
min_group_size = 1
read_keys = ["support-lead-key"]
write_keys = ["support-helpdesk-key"]

[[survey]]
id = "tickets"
allowed_origins = ["https://shop.example.com"]
tags = ["agent", "channel"]
secret = "a long random string for tests"
unknown_interactions = "refuse"
min_group_size = 1
max_per_visitor_per_day = 1000

[[survey]]
id = "desk"
allowed_origins = ["https://shop.example.com"]
tags = ["agent"]
unknown_interactions = "accept"
min_group_size = 1
max_per_visitor_per_day = 1000
"#;

async fn register(
    app: &TestApp,
    survey: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/v1/surveys/{survey}/interactions", app.address))
        .json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("the collector answers")
}

/// Registers with the helpdesk's key and expects it taken.
async fn registered(app: &TestApp, survey: &str, body: Value) -> Registered {
    let response = register(app, survey, Some(SITE_SERVER_KEY), &body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

fn ticket(id: &str, agent: &str) -> Value {
    json!({"interaction": id, "tags": {"agent": agent, "channel": "email"}})
}

/// A rating as the widget (or a customer's script) sends it, unsigned.
async fn rate(
    app: &TestApp,
    survey: &str,
    interaction: &str,
    score: u8,
    tags: Value,
) -> reqwest::Response {
    app.post_response(
        &json!({"survey": survey, "response_id": new_id(), "score": score,
                              "interaction": interaction, "tags": tags}),
    )
    .await
}

async fn breakdown(app: &TestApp, survey: &str) -> Breakdown {
    let response = app
        .get_with_key(
            &format!("/v1/surveys/{survey}/breakdown?by=agent"),
            Some(MARKETING_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn group<'b>(breakdown: &'b Breakdown, value: &str) -> &'b pulsetap_wire::Figures {
    let group = breakdown
        .groups
        .iter()
        .find(|group| group.value == value)
        .unwrap_or_else(|| panic!("a group for {value}: {breakdown:?}"));
    group.figures.as_ref().expect("shown")
}

#[tokio::test]
async fn a_registration_is_idempotent_and_takes_one_ticket_or_a_batch() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    let once = registered(&app, "support", ticket("T-1", "alice")).await;
    assert_eq!((once.created, once.updated, once.unchanged), (1, 0, 0));
    let again = registered(&app, "support", ticket("T-1", "alice")).await;
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 1));
    let batch = registered(
        &app,
        "support",
        json!([
            ticket("T-1", "alice"),
            ticket("T-2", "bob"),
            ticket("T-3", "bob")
        ]),
    )
    .await;
    assert_eq!((batch.created, batch.updated, batch.unchanged), (2, 0, 1));
    let summary = app.summary("support", "").await;
    assert_eq!(
        summary.figures.invited, 3,
        "three tickets, each invited once"
    );
    assert_eq!(summary.figures.responses, 0);
}

#[tokio::test]
async fn a_registration_needs_a_write_key_for_its_own_survey() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    let body = ticket("T-1", "alice");
    let cases = [
        (None, 401, "missing_api_key"),
        (Some("not-a-key"), 401, "invalid_api_key"),
        (Some(MARKETING_KEY), 403, "key_cannot_write"),
        (Some(SUPPORT_LEAD_KEY), 403, "key_cannot_write"),
    ];
    for (key, status, code) in cases {
        let response = register(&app, "support", key, &body).await;
        assert_eq!(response.status(), status, "{key:?}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            code,
            "{key:?}"
        );
    }
    // The support helpdesk's key reaches support, and no other survey.
    let elsewhere = register(&app, "tickets", Some(HELPDESK_KEY), &body).await;
    assert_eq!(elsewhere.status(), 403);
    assert_eq!(
        elsewhere.json::<Value>().await.unwrap()["error"],
        "key_not_for_survey"
    );
    assert_eq!(app.summary("support", "").await.figures.invited, 0);
    assert_eq!(app.summary("tickets", "").await.figures.invited, 0);
    assert_eq!(
        register(&app, "support", Some(HELPDESK_KEY), &body)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_bad_registration_registers_nothing_of_its_batch_and_says_which_one() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    let cases = [
        (
            json!([ticket("T-1", "alice"), ticket("T-2", "bob"),
                   {"interaction": "T-3", "tags": {"team": "red"}}]),
            422,
            "unknown_tag",
            "registration 2",
        ),
        (
            json!([ticket("T-1", "alice"), {"interaction": "T-\u{202E}2"}]),
            422,
            "invalid_interaction",
            "registration 1",
        ),
        (
            json!({"interaction": "T-1", "expires": "2020-01-01T00:00:00Z"}),
            422,
            "invalid_expires",
            "in the future",
        ),
        (json!([]), 400, "malformed_json", "empty"),
        (json!([{"tags": {}}]), 400, "malformed_json", "interaction"),
        (json!("T-1"), 400, "malformed_json", ""),
    ];
    for (body, status, code, says) in cases {
        let response = register(&app, "support", Some(HELPDESK_KEY), &body).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], code, "{body}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    assert_eq!(
        app.summary("support", "").await.figures.invited,
        0,
        "nothing registered"
    );
}

#[tokio::test]
async fn registered_tags_win_over_what_the_widget_and_the_link_say() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    registered(&app, "support", ticket("T-7", "alice")).await;
    // The customer edits the page's tags to blame another agent.
    let first = rate(&app, "support", "T-7", 1, json!({"agent": "mallory"})).await;
    assert_eq!(first.status(), 201);
    // From another device, with a signature for other tags: still alice's ticket.
    let sig = sign("support", Some("T-7"), &[("agent", "bob")]);
    let second = app
        .post_response(
            &json!({"survey": "support", "response_id": new_id(), "score": 2,
                               "interaction": "T-7", "tags": {"agent": "bob"}, "sig": sig}),
        )
        .await;
    assert_eq!(
        second.status(),
        200,
        "the registry vouches: the answer may change"
    );
    let records = app.export("support").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].score, 2);
    assert_eq!(records[0].tags["agent"], "alice");
    assert_eq!(records[0].tags["channel"], "email");
    assert!(records[0].verified);
    let agents = breakdown(&app, "support").await;
    assert!(
        agents
            .groups
            .iter()
            .all(|group| group.value != "mallory" && group.value != "bob")
    );
    assert_eq!(group(&agents, "alice").responses, 1);
}

#[tokio::test]
async fn an_interaction_nobody_vouched_for_is_refused_or_accepted_untagged_as_the_survey_says() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    let refused = rate(&app, "tickets", "T-404", 1, json!({"agent": "mallory"})).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "unknown_interaction"
    );
    assert!(app.export("tickets").await.is_empty(), "nothing stored");
    // What is vouched for still lands there: a signed interaction, a registered one.
    let sig = sign("tickets", Some("T-5"), &[("agent", "alice")]);
    let signed = app
        .post_response(
            &json!({"survey": "tickets", "response_id": new_id(), "score": 5,
                               "interaction": "T-5", "tags": {"agent": "alice"}, "sig": sig}),
        )
        .await;
    assert_eq!(signed.status(), 201);
    registered(&app, "tickets", ticket("T-6", "bob")).await;
    assert_eq!(
        rate(&app, "tickets", "T-6", 4, json!({})).await.status(),
        201
    );

    let accepted = rate(&app, "desk", "T-404", 1, json!({"agent": "mallory"})).await;
    assert_eq!(accepted.status(), 201);
    let records = app.export("desk").await;
    assert_eq!(records.len(), 1);
    assert!(records[0].tags.is_empty(), "no tags nobody vouched for");
    assert!(!records[0].verified);
    let csv = app
        .get_with_key("/v1/surveys/desk/responses?format=csv", Some(MARKETING_KEY))
        .await
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",verified"));
    assert!(lines.next().unwrap().ends_with(",false"), "{csv}");
}

#[tokio::test]
async fn invited_and_response_rate_per_agent_follow_registered_answered_and_unanswered_tickets() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    registered(
        &app,
        "support",
        json!([
            ticket("A-1", "alice"),
            ticket("A-2", "alice"),
            ticket("A-3", "alice"),
            ticket("A-4", "alice"),
            ticket("B-1", "bob"),
            ticket("B-2", "bob"),
            ticket("B-3", "bob")
        ]),
    )
    .await;
    for (ticket, score) in [("A-1", 5), ("A-2", 4), ("B-1", 2), ("B-2", 5)] {
        assert_eq!(
            rate(&app, "support", ticket, score, json!({}))
                .await
                .status(),
            201
        );
    }
    // Answering twice is one answer.
    rate(&app, "support", "A-1", 3, json!({})).await;
    // Alice's chat widget: shown and answered, then shown and left.
    let shown = new_id();
    for response_id in [&shown, &new_id()] {
        let impression = app
            .post_raw(
                "/v1/impressions",
                json!({"survey": "support", "response_id": response_id,
                       "tags": {"agent": "alice"}})
                .to_string(),
                &[("content-type", "application/json"), ("origin", SHOP)],
            )
            .await;
        assert_eq!(impression.status(), 204);
    }
    let widget = app
        .post_response(
            &json!({"survey": "support", "response_id": shown, "score": 5,
                               "tags": {"agent": "alice"}}),
        )
        .await;
    assert_eq!(widget.status(), 201);
    // Two answers that nothing here invited (signed email links nobody registered): counted
    // as responses, never as answered invitations.
    for n in 0..2 {
        let interaction = format!("E-{n}");
        let sig = sign("support", Some(&interaction), &[("agent", "alice")]);
        let email = app
            .post_response(&json!({"survey": "support", "response_id": new_id(), "score": 4,
                                   "interaction": interaction, "tags": {"agent": "alice"}, "sig": sig}))
            .await;
        assert_eq!(email.status(), 201);
    }

    let agents = breakdown(&app, "support").await;
    let alice = group(&agents, "alice");
    assert_eq!((alice.invited, alice.answered, alice.responses), (6, 3, 5));
    assert_eq!(alice.response_rate, Some(50.0));
    let bob = group(&agents, "bob");
    assert_eq!((bob.invited, bob.answered, bob.responses), (3, 2, 2));
    assert_eq!(bob.response_rate, Some(66.7));
    let summary = app.summary("support", "").await;
    assert_eq!((summary.figures.invited, summary.figures.answered), (9, 5));
    assert_eq!(summary.figures.response_rate, Some(55.6));
    let alice_only = app.summary("support", "tag=agent=alice").await;
    assert_eq!(alice_only.figures.response_rate, Some(50.0));
    let days: pulsetap_wire::Timeseries = app
        .get_with_key(
            "/v1/surveys/support/timeseries?tag=agent=bob",
            Some(MARKETING_KEY),
        )
        .await
        .json()
        .await
        .unwrap();
    let today = days.buckets.last().unwrap();
    assert_eq!((today.figures.invited, today.figures.answered), (3, 2));
}

#[tokio::test]
async fn registering_a_ticket_again_with_another_agent_moves_its_response_and_its_invitation() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    registered(&app, "support", ticket("T-9", "alice")).await;
    assert_eq!(
        rate(&app, "support", "T-9", 2, json!({})).await.status(),
        201
    );
    let moved = registered(&app, "support", ticket("T-9", "bob")).await;
    assert_eq!(moved.updated, 1);
    let records = app.export("support").await;
    assert_eq!(records[0].tags["agent"], "bob");
    let agents = breakdown(&app, "support").await;
    assert!(
        agents.groups.iter().all(|group| group.value != "alice"),
        "{agents:?}"
    );
    let bob = group(&agents, "bob");
    assert_eq!((bob.invited, bob.answered, bob.responses), (1, 1, 1));
    let audit = app.state.store.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
}

#[tokio::test]
async fn an_expired_registration_no_longer_vouches_for_a_rating() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let expires = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    registered(
        &app,
        "tickets",
        json!({"interaction": "T-1", "tags": {"agent": "alice"}, "expires": expires}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let late = rate(&app, "tickets", "T-1", 1, json!({})).await;
    assert_eq!(late.status(), 403);
    assert_eq!(
        late.json::<Value>().await.unwrap()["error"],
        "unknown_interaction"
    );
    let page = app
        .client
        .get(format!("{}/r/tickets/1?i=T-1", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403, "the template link is dead too");
}

#[tokio::test]
async fn ten_thousand_registrations_in_one_request_are_stored_and_one_more_is_refused() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    let batch: Vec<Value> = (0..10_000)
        .map(|n| ticket(&format!("T-{n}"), if n % 2 == 0 { "alice" } else { "bob" }))
        .collect();
    let done = registered(&app, "support", Value::Array(batch.clone())).await;
    assert_eq!(done.created, 10_000);
    // A group shows once it has a response (the privacy floor).
    rate(&app, "support", "T-0", 5, json!({})).await;
    rate(&app, "support", "T-1", 5, json!({})).await;
    let agents = breakdown(&app, "support").await;
    assert_eq!(group(&agents, "alice").invited, 5_000);
    assert_eq!(group(&agents, "bob").invited, 5_000);

    let mut too_many = batch;
    too_many.push(ticket("T-extra", "bob"));
    let refused = register(&app, "support", Some(HELPDESK_KEY), &Value::Array(too_many)).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "too_many_registrations"
    );
    // The body limit bounds what one request may hold: 8 MiB.
    let huge: Vec<Value> = (0..14_000)
        .map(|n| {
            json!({"interaction": format!("T-{n}-{}", "x".repeat(150)),
                        "tags": {"agent": "a".repeat(200), "channel": "c".repeat(200)}})
        })
        .collect();
    let too_large = register(&app, "support", Some(HELPDESK_KEY), &Value::Array(huge)).await;
    assert_eq!(too_large.status(), 413);
    assert_eq!(app.summary("support", "").await.figures.invited, 10_000);
}

#[tokio::test]
async fn each_template_keeps_its_helpdesks_placeholder_unencoded_and_unsigned() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    for (template, placeholder) in [
        ("zendesk", "{{ticket.id}}"),
        ("freshdesk", "{{ticket.id}}"),
        ("helpscout", "{%conversation.number%}"),
        ("gorgias", "{{ticket.id}}"),
        ("plain", "{{interaction}}"),
    ] {
        let response = app
            .get_with_key(
                &format!("/v1/surveys/support/email?template={template}&format=json&base_url=https://feedback.example.com"),
                Some(HELPDESK_KEY),
            )
            .await;
        assert_eq!(response.status(), 200, "{template}");
        let email: Value = response.json().await.unwrap();
        for (n, link) in email["links"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                link["url"],
                format!(
                    "https://feedback.example.com/r/support/{}?i={placeholder}&l=en",
                    n + 1
                ),
                "{template}"
            );
        }
        let html = email["html"].as_str().unwrap();
        assert!(
            html.contains(&format!("/r/support/5?i={placeholder}&amp;l=en\"")),
            "{html}"
        );
        assert!(!html.contains("s=") && !html.contains("%7B"), "{html}");
    }
    let read_key = app
        .get_with_key(
            "/v1/surveys/support/email?template=zendesk",
            Some(MARKETING_KEY),
        )
        .await;
    assert_eq!(read_key.status(), 403);
    for query in [
        "template=zendesk&interaction=T-1",
        "template=zendesk&tags=agent=bob",
        "template=intercom",
    ] {
        let response = app
            .get_with_key(
                &format!("/v1/surveys/support/email?{query}"),
                Some(HELPDESK_KEY),
            )
            .await;
        assert_eq!(response.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn a_filled_template_link_is_scanner_proof_and_records_on_the_registered_ticket() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    registered(&app, "support", ticket("4711", "alice")).await;
    // What Zendesk sends once it filled {{ticket.id}}; a mail scanner fetches it first.
    let link = format!("{}/r/support/2?i=4711", app.address);
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-interaction=\"4711\""), "{html}");
    assert!(
        !html.contains("data-sig"),
        "the registry vouches, not a signature"
    );
    assert!(html.contains("data-score=\"2\""));
    assert!(
        app.export("support").await.is_empty(),
        "opening it records nothing"
    );
    assert_eq!(
        app.summary("support", "").await.figures.unconfirmed_clicks,
        1
    );

    // A ticket nobody registered (a customer guessing) gets a page, and nothing else.
    let guessed = app
        .client
        .get(format!("{}/r/support/1?i=4712", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status(), 403);
    assert!(
        guessed
            .text()
            .await
            .unwrap()
            .contains("We can't find this conversation")
    );

    // The customer confirms, then changes their mind from another link of the email.
    assert_eq!(
        confirm_link(&app, &link, "Slow at first").await.status(),
        200
    );
    let other = format!("{}/r/support/4?i=4711", app.address);
    assert_eq!(confirm_link(&app, &other, "").await.status(), 200);
    let records = app.export("support").await;
    assert_eq!(records.len(), 1, "one ticket, one response");
    assert_eq!(records[0].score, 4);
    assert_eq!(
        records[0].comment.as_deref(),
        Some("Slow at first"),
        "the comment is kept"
    );
    assert_eq!(records[0].tags["agent"], "alice");
    assert!(records[0].verified);
    let summary = app.summary("support", "").await;
    assert_eq!((summary.figures.invited, summary.figures.answered), (1, 1));
    assert_eq!(summary.figures.response_rate, Some(100.0));
}

#[tokio::test]
async fn an_acknowledged_registration_is_still_there_after_a_restart() {
    let app = spawn_app_with(HELPDESK_CONFIG).await;
    registered(&app, "tickets", ticket("T-77", "alice")).await;
    let data = app.stop().await;
    let app = spawn_app_on(data, HELPDESK_CONFIG).await;
    assert_eq!(
        rate(&app, "tickets", "T-77", 5, json!({"agent": "bob"}))
            .await
            .status(),
        201
    );
    let records = app.export("tickets").await;
    assert_eq!(records[0].tags["agent"], "alice");
    assert_eq!(
        app.summary("tickets", "").await.figures.response_rate,
        Some(100.0)
    );
}

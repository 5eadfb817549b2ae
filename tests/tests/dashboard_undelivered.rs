//! A team whose alert webhook is dead still sees its unhappy customers: the alert is set aside
//! after `alert.give_up_after` and the dashboard lists it under "Undelivered alerts", with the
//! rating, its comment and why it was not delivered. Run `scripts/build-widget.sh` first.

use std::time::{Duration, Instant};

use pulsetap_e2e::{PATIENCE, READ_KEY, World, css};
use serde_json::{Value, json};

/// A survey whose webhook nobody answers (port 9 is discard, closed here), given up on after 1 s.
const DEAD_WEBHOOK: &str = r#"
[[survey]]
id = "care"
alert = { webhook = "http://127.0.0.1:9/hook", max_score = 2, give_up_after = "1s" }
"#;

#[tokio::test]
async fn an_alert_the_webhook_never_took_shows_on_the_dashboard_as_undelivered() {
    let world = World::with_surveys(DEAD_WEBHOOK).await;
    let unhappy = json!({
        "survey": "care",
        "response_id": "00000000-0000-4000-8000-000000000042",
        "interaction": "call-42",
        "score": 1,
        "comment": "Put on hold for an hour",
    });
    let recorded = ureq::post(&world.collector.url("v1/responses"))
        .header("Content-Type", "application/json")
        .send(unhappy.to_string());
    assert!(recorded.is_ok(), "the rating is recorded");

    // Set aside once it has failed for longer than give_up_after: a few seconds.
    let start = Instant::now();
    loop {
        let listed = ureq::get(&world.collector.url("v1/surveys/care/undelivered-alerts"))
            .header("Authorization", &format!("Bearer {READ_KEY}"))
            .call()
            .ok()
            .and_then(|mut response| response.body_mut().read_to_string().ok())
            .and_then(|text| serde_json::from_str::<Value>(&text).ok());
        if listed.is_some_and(|body| body["alerts"].as_array().is_some_and(|a| !a.is_empty())) {
            break;
        }
        assert!(start.elapsed() < PATIENCE, "the alert is set aside");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    world.sign_in_to_dashboard(READ_KEY).await;
    world
        .browser
        .find(css("#survey"))
        .await
        .expect("the survey picker")
        .select_by_value("care")
        .await
        .expect("the care survey is picked");

    let start = Instant::now();
    let text = loop {
        let shown = world
            .js("const card = document.getElementById('undelivered-card'); \
                 return card && !card.hidden ? card.textContent : null;")
            .await;
        if let Some(text) = shown.as_str() {
            break text.to_owned();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the undelivered alerts panel appears"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(text.contains("1 unhappy rating not delivered"), "{text}");
    assert!(text.contains("😠 Awful (1/5) for call-42"), "{text}");
    assert!(text.contains("“Put on hold for an hour”"), "{text}");
    assert!(text.contains("care-"), "its Idempotency-Key: {text}");
    assert!(!text.contains("undefined"), "{text}");
}

//! A site owner whose page sends ratings the survey refuses (here, with a forged signature)
//! sees why on the dashboard, in its "Integration problems" panel, with the server's message.
//! Run `scripts/build-widget.sh` first.

use std::time::{Duration, Instant};

use pulsetap_e2e::{PATIENCE, READ_KEY, World};
use serde_json::json;

#[tokio::test]
async fn refused_ratings_show_on_the_dashboard_with_their_reason_and_message() {
    let world = World::new().await;
    let forged = json!({
        "survey": "support",
        "response_id": "00000000-0000-4000-8000-000000000001",
        "interaction": "chat-forged",
        "sig": "00ff",
        "score": 1,
    });
    let refused = ureq::post(&world.collector.url("v1/responses"))
        .header("Content-Type", "application/json")
        .send(forged.to_string());
    assert!(refused.is_err(), "a forged signature is refused");

    world.sign_in_to_dashboard(READ_KEY).await;

    let start = Instant::now();
    let text = loop {
        let shown = world
            .js("const card = document.getElementById('problems-card'); \
                 return card && !card.hidden ? card.textContent : null;")
            .await;
        if let Some(text) = shown.as_str() {
            break text.to_owned();
        }
        assert!(start.elapsed() < PATIENCE, "the problems panel appears");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(text.contains("1 rating refused: bad_signature"), "{text}");
    assert!(text.contains("signature does not match"), "{text}");
}

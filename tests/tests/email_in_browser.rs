//! An email rating link as a customer follows it: the collector's landing page in headless
//! Chromium, with the real widget, against the real collector. Run
//! `scripts/build-widget.sh` first.

use std::time::Instant;

use pulsetap_e2e::{PATIENCE, WRITE_KEY, World};
use serde_json::Value;

/// The widget's host element on the landing page, as a JS expression.
const HOST: &str = "document.querySelector('[data-pulsetap]')";

fn count(summary: &pulsetap_wire::Summary, score: &str) -> u64 {
    summary.figures.counts.get(score).copied().unwrap_or(0)
}

/// The five links of one email, as a helpdesk's server fetches them from the email endpoint
/// with its write key.
fn email_links(world: &World, interaction: &str, tags: &str) -> Vec<String> {
    let url = world.collector.url(&format!(
        "v1/surveys/support/email?format=json&interaction={interaction}&tags={tags}"
    ));
    let body = ureq::get(&url)
        .header("Authorization", &format!("Bearer {WRITE_KEY}"))
        .call()
        .expect("the email endpoint answers")
        .body_mut()
        .read_to_string()
        .expect("a body");
    let email: Value = serde_json::from_str(&body).expect("email links as JSON");
    email["links"]
        .as_array()
        .expect("a list of links")
        .iter()
        .map(|link| link["url"].as_str().expect("a link URL").to_owned())
        .collect()
}

/// The label of the emoji the widget shows as chosen.
async fn chosen(world: &World) -> Value {
    world
        .in_widget(
            HOST,
            "root.querySelector('[aria-checked=true]')?.getAttribute('aria-label')",
        )
        .await
}

#[tokio::test]
async fn an_email_link_is_confirmed_by_its_page_takes_a_comment_and_another_emoji_changes_the_answer()
 {
    let world = World::new().await;
    let links = email_links(&world, "T-4242", "agent=alice");
    assert_eq!(links.len(), 5);

    // The customer clicks 🙁 in the email: the page opens with it chosen, and asks for a tap.
    world
        .browser
        .goto(&links[1])
        .await
        .expect("the landing page loads");
    let bad = world.emoji(HOST, "Bad").await;
    assert_eq!(chosen(&world).await, "Bad");
    let hint = world
        .js("return document.getElementById('pt-hint').textContent")
        .await;
    assert!(
        hint.as_str()
            .unwrap()
            .contains("Tap your answer to send it"),
        "{hint}"
    );
    // The tap records it.
    bad.click().await.expect("tap the chosen emoji");
    let summary = world
        .wait_for_summary("the landing page confirms the click", |s| {
            count(s, "2") == 1
        })
        .await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.unconfirmed_clicks, 1);
    let follow_up = world
        .in_widget(HOST, "root.querySelector('textarea').offsetHeight > 0")
        .await;
    assert_eq!(follow_up, true, "the follow-up comment is open");
    let fallback = world
        .js("return document.querySelector('form').getClientRects().length")
        .await;
    assert_eq!(
        fallback, 0,
        "the no-widget form stays hidden when the widget runs"
    );

    // A comment, sent from the widget on the landing page.
    let area = world
        .wait_for_element(
            "the comment box",
            &format!("return ({HOST}).shadowRoot.querySelector('textarea')"),
        )
        .await;
    area.send_keys("The reply came fast").await.expect("typing");
    world
        .element(&format!(
            "return ({HOST}).shadowRoot.querySelector('.send')"
        ))
        .await
        .expect("a send button")
        .click()
        .await
        .expect("send");
    let start = Instant::now();
    while world
        .collector
        .responses()
        .first()
        .and_then(|r| r.comment.clone())
        .as_deref()
        != Some("The reply came fast")
    {
        assert!(start.elapsed() < PATIENCE, "the comment never landed");
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }

    // Back in the email, the customer clicks 😍 instead: a new page, one tap, the same answer
    // changed.
    world
        .browser
        .goto(&links[4])
        .await
        .expect("the second landing page loads");
    let great = world.emoji(HOST, "Great").await;
    assert_eq!(chosen(&world).await, "Great");
    great.click().await.expect("tap the chosen emoji");
    let summary = world
        .wait_for_summary("the answer moves from 2 to 5", |s| count(s, "5") == 1)
        .await;
    assert_eq!(summary.figures.responses, 1, "one email, one response");
    assert_eq!(count(&summary, "2"), 0);
    assert_eq!(summary.figures.unconfirmed_clicks, 2);

    let responses = world.collector.responses();
    assert_eq!(responses.len(), 1);
    let response = &responses[0];
    assert_eq!(response.interaction.as_deref(), Some("T-4242"));
    assert_eq!(
        response.tags.get("agent").map(String::as_str),
        Some("alice")
    );
    assert_eq!(response.comment.as_deref(), Some("The reply came fast"));
    let history: Vec<u8> = response.history.iter().map(|change| change.score).collect();
    assert_eq!(history, [2, 5]);
    world.close().await;
}

#[tokio::test]
async fn a_scanner_that_runs_every_link_of_an_email_in_a_browser_records_no_rating() {
    let world = World::new().await;
    let links = email_links(&world, "T-6161", "agent=alice");
    let started = Instant::now();
    // A mail security sandbox opens each link in a real browser, in no particular order, and
    // lets each page run (the widget mounts, shows the emoji chosen, reports it was shown).
    for index in [3, 0, 4, 1, 2] {
        world
            .browser
            .goto(&links[index])
            .await
            .expect("the landing page loads");
        world
            .wait_for_element(
                "the widget's chosen emoji",
                &format!(
                    "return ({HOST})?.shadowRoot?.querySelector('[role=radio][aria-checked=true]')"
                ),
            )
            .await;
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "five pages in under ten seconds, as a scanner opens them"
    );
    // The pages did run: the widget reported itself shown (once: the loader keeps one
    // response_id per interaction, and an impression counts once per response_id).
    let summary = world
        .wait_for_summary("the widget reports itself shown", |s| {
            s.figures.impressions == 1
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let summary = world.collector.summary().unwrap_or(summary);
    assert_eq!(summary.figures.responses, 0, "no rating: {summary:#?}");
    assert!(summary.figures.counts.values().all(|&count| count == 0));
    assert_eq!(summary.figures.unconfirmed_clicks, 5);
    assert!(world.collector.responses().is_empty());
    world.close().await;
}

#[tokio::test]
async fn an_edited_email_link_shows_a_friendly_page_and_records_nothing_in_the_browser() {
    let world = World::new().await;
    let links = email_links(&world, "T-5151", "agent=alice");
    let edited = links[4].replace("agent=alice", "agent=bob");

    world.browser.goto(&edited).await.expect("the page loads");
    let heading = world
        .js("return document.querySelector('h1').textContent")
        .await;
    assert_eq!(heading, "This link doesn't look right");
    let widgets = world
        .js("return document.querySelectorAll('[data-pulsetap]').length")
        .await;
    assert_eq!(widgets, 0);
    let summary = world.collector.summary().expect("a summary");
    assert_eq!(summary.figures.responses, 0);
    assert_eq!(summary.figures.unconfirmed_clicks, 0);
    assert!(world.collector.responses().is_empty());
    world.close().await;
}

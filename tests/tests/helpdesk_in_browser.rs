//! Helpdesk template links as a customer follows them: each helpdesk's snippet, its placeholder
//! filled the way that helpdesk fills it, opened in headless Chromium against the real collector
//! and the real widget. The rating lands on the registered ticket with its registered agent.
//! Run `scripts/build-widget.sh` first.

use pulsetap_e2e::{PATIENCE, WRITE_KEY, World};
use serde_json::{Value, json};
use std::time::Instant;

/// The widget's host element on the landing page, as a JS expression.
const HOST: &str = "document.querySelector('[data-pulsetap]')";

/// What the helpdesk's "ticket solved" trigger sends before the email goes out.
fn register(world: &World, ticket: &str, agent: &str) {
    let url = world.collector.url("v1/surveys/support/interactions");
    let body = json!({"interaction": ticket, "tags": {"agent": agent, "channel": "email"}});
    let status = ureq::post(&url)
        .header("Authorization", &format!("Bearer {WRITE_KEY}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .expect("the registration is taken")
        .status();
    assert_eq!(status, 200);
}

/// The template snippet an admin pastes into the helpdesk, once.
fn template(world: &World, kind: &str) -> String {
    let url = world
        .collector
        .url(&format!("v1/surveys/support/email?template={kind}"));
    ureq::get(&url)
        .header("Authorization", &format!("Bearer {WRITE_KEY}"))
        .call()
        .expect("the email endpoint answers")
        .body_mut()
        .read_to_string()
        .expect("a snippet")
}

/// The links of an email as the customer's mail client shows them.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn each_helpdesks_filled_template_link_records_the_rating_on_its_registered_ticket_and_agent()
{
    let world = World::new().await;
    // (template, its placeholder, the ticket id the helpdesk fills in, the ticket's agent)
    let helpdesks = [
        ("zendesk", "{{ticket.id}}", "35071", "zoe"),
        ("freshdesk", "{{ticket.id}}", "1842", "fred"),
        ("helpscout", "{%conversation.number%}", "7310", "hana"),
        ("gorgias", "{{ticket.id}}", "99120455", "gil"),
        ("plain", "{{interaction}}", "T-5150", "pat"),
    ];
    for (n, (kind, placeholder, ticket, agent)) in helpdesks.into_iter().enumerate() {
        register(&world, ticket, agent);
        let snippet = template(&world, kind);
        assert!(
            snippet.contains(&format!("?i={placeholder}&amp;l=en\"")),
            "{kind}: {snippet}"
        );
        // The helpdesk replaces its placeholder when it sends the email; nothing else changes.
        let email = snippet.replace(placeholder, ticket);
        let links = hrefs(&email);
        assert_eq!(links.len(), 5, "{kind}");
        // The customer clicks 🙂 and taps it on the page: the link said nothing of the agent.
        world
            .browser
            .goto(&links[3])
            .await
            .expect("the landing page loads");
        world
            .emoji(HOST, "Good")
            .await
            .click()
            .await
            .expect("tap the chosen emoji");
        let start = Instant::now();
        let record = loop {
            let found = world
                .collector
                .responses()
                .into_iter()
                .find(|record| record.interaction.as_deref() == Some(ticket));
            if let Some(record) = found {
                break record;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{kind}: the rating never landed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        };
        assert_eq!(record.score, 4, "{kind}");
        assert_eq!(record.tags["agent"], agent, "{kind}");
        assert_eq!(record.tags["channel"], "email", "{kind}");
        assert!(record.verified, "{kind}: the registry vouched for it");
        let summary = world.collector.summary().expect("a summary");
        assert_eq!(
            summary.figures.responses,
            n as u64 + 1,
            "{kind}: one ticket, one response"
        );
        assert_eq!(summary.figures.answered, n as u64 + 1, "{kind}");
    }
    // A link edited to a ticket nobody registered records nothing.
    let page_status = world
        .js("return fetch(location.pathname + '?i=31337').then(r => r.status)")
        .await;
    assert_eq!(page_status, Value::from(403));
    world.close().await;
}

//! An email link edited to rate another score, interaction or agent is refused with a friendly
//! page, and records nothing at all (docs/api.md, "Email").

use crate::helpers::*;
use std::collections::BTreeMap;

/// `url` with its query parameter `name` set to `value` (or removed, for `None`).
fn edited(url: &str, name: &str, value: Option<&str>) -> String {
    let mut url = url::Url::parse(url).unwrap();
    let pairs: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let mut query = url.query_pairs_mut();
    query.clear();
    for (key, old) in &pairs {
        if key != name {
            query.append_pair(key, old);
        }
    }
    if let Some(value) = value {
        query.append_pair(name, value);
    }
    drop(query);
    url.to_string()
}

async fn assert_refused_and_nothing_recorded(app: &TestApp, url: &str) {
    assert_refused_saying(app, url, "This link doesn't look right").await;
}

/// The link is refused with a page that says `says`, and nothing at all is recorded.
async fn assert_refused_saying(app: &TestApp, url: &str, says: &str) {
    let page = app.client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 403, "{url}");
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(says), "{html}");
    assert!(html.contains("Nothing was recorded"), "{html}");
    assert!(
        !html.contains("<div data-pulsetap"),
        "no widget on a refused link"
    );

    let confirm = confirm_link(app, url, "").await;
    assert_eq!(confirm.status(), 403, "confirming {url}");

    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 0, "{url}");
    assert_eq!(summary.figures.unconfirmed_clicks, 0, "{url}");
}

#[tokio::test]
async fn a_link_edited_to_another_score_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-1", "agent=alice").await;
    let five = &email.links[4].url;
    assert_refused_and_nothing_recorded(&app, &five.replace("/r/support/5?", "/r/support/1?"))
        .await;
    assert_refused_and_nothing_recorded(&app, &five.replace("/r/support/5?", "/r/support/9?"))
        .await;
    assert_refused_and_nothing_recorded(&app, &five.replace("/r/support/5?", "/r/support/five?"))
        .await;
}

#[tokio::test]
async fn a_link_edited_to_another_interaction_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-1", "agent=alice").await;
    let link = &email.links[0].url;
    assert_refused_and_nothing_recorded(&app, &edited(link, "i", Some("T-2"))).await;
    assert_refused_and_nothing_recorded(&app, &edited(link, "i", None)).await;
}

#[tokio::test]
async fn a_link_edited_to_another_agent_or_without_its_tags_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-1", "agent=alice").await;
    let link = &email.links[0].url;
    assert_refused_and_nothing_recorded(&app, &edited(link, "t", Some("agent=bob"))).await;
    assert_refused_and_nothing_recorded(&app, &edited(link, "t", None)).await;
    assert_refused_and_nothing_recorded(&app, &edited(link, "t", Some("agent=alice,channel=chat")))
        .await;
}

#[tokio::test]
async fn a_link_with_a_cut_or_missing_signature_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-1", "").await;
    let link = &email.links[2].url;
    assert_refused_and_nothing_recorded(&app, &link[..link.len() - 10]).await;
    // Without a signature it reads as a helpdesk's template link, for a ticket nobody
    // registered.
    assert_refused_saying(
        &app,
        &edited(link, "s", None),
        "We can't find this conversation",
    )
    .await;
}

#[tokio::test]
async fn a_link_signed_for_one_survey_is_refused_by_another() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-1", "agent=alice").await;
    // `signed` has the same secret as `support`: the survey id is part of what is signed.
    let moved = email.links[4].url.replace("/r/support/", "/r/signed/");
    let page = app.client.get(&moved).send().await.unwrap();
    assert_eq!(page.status(), 403);
    assert_eq!(
        app.summary("signed", "").await.figures.unconfirmed_clicks,
        0
    );
}

#[tokio::test]
async fn a_link_to_an_unknown_survey_gets_a_friendly_not_found_page() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/r/nope/5?i=T-1&s=00", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("This survey doesn't exist any more")
    );
}

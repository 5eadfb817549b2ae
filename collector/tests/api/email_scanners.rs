//! Opening an email link records no rating: mail servers open every link of a message to scan
//! it (docs/api.md, "Email"). The landing page it opens, and what its widget then does.

use crate::helpers::*;
use serde_json::json;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_link_scanner_opening_every_link_of_an_email_changes_no_figure() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-100", "agent=alice").await;
    // Scanners come in every kind: some follow redirects, some don't, some only ask HEAD.
    let following = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (compatible; SafeLinks link checker)")
        .build()
        .unwrap();
    let not_following = no_redirects();
    for link in &email.links {
        for client in [&following, &not_following] {
            let page = client.get(&link.url).send().await.unwrap();
            assert_eq!(page.status(), 200, "{}", link.url);
            assert!(page.text().await.unwrap().contains("data-pulsetap"));
        }
        let head = following.head(&link.url).send().await.unwrap();
        assert_eq!(head.status(), 200);
    }

    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 0);
    assert!(summary.figures.counts.values().all(|&count| count == 0));
    assert_eq!(summary.figures.average, None);
    assert_eq!(
        summary.figures.unconfirmed_clicks, 10,
        "each GET is an unconfirmed click, a HEAD is none"
    );
    // No response carries alice: under the survey's min_group_size, her figures stay hidden.
    assert!(app.summary("support", "tag=agent:alice").await.too_few);
    assert!(app.export("support").await.is_empty());
}

#[tokio::test]
async fn the_landing_page_shows_the_widget_with_the_emoji_chosen_and_signed_for_the_interaction() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-200", "agent=alice,channel=email").await;
    let page = app.client.get(&email.links[3].url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let policy = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    let html = page.text().await.unwrap();

    let sig = sign(
        "support",
        Some("T-200"),
        &[("agent", "alice"), ("channel", "email")],
    );
    let widget = format!(
        "<div data-pulsetap=\"support\" data-interaction=\"T-200\" data-sig=\"{sig}\" data-tags=\"agent=alice,channel=email\" data-score=\"4\" data-lang=\"en\">"
    );
    assert!(html.contains(&widget), "{widget} in {html}");
    assert!(html.contains("<script async src=\"/pulsetap.js\"></script>"));
    assert!(html.contains("<noscript>"));
    assert!(html.contains("action=\"/r/support/4/confirm\""));
    assert!(html.contains("<textarea id=\"comment\" name=\"comment\""));
    assert!(
        html.contains("<span class=\"emoji\" aria-hidden=\"true\">🙂</span><strong>Good</strong>")
    );
    assert!(html.contains("<input type=\"hidden\" name=\"l\" value=\"en\">"));
    assert!(
        !html.contains("<script>"),
        "no inline script: the policy forbids it"
    );
}

#[tokio::test]
async fn the_landing_page_escapes_what_the_link_carries() {
    let app = spawn_app().await;
    let email = email_links(
        &app,
        "\"><script>alert(1)</script>",
        "agent=<b>al & ice</b>",
    )
    .await;
    let html = app
        .client
        .get(&email.links[0].url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-interaction=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(html.contains("data-tags=\"agent=&lt;b&gt;al &amp; ice&lt;/b&gt;\""));
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<b>"));
}

#[tokio::test]
async fn the_widget_on_the_landing_page_records_with_the_page_signature_and_a_second_emoji_changes_the_answer()
 {
    let app = spawn_app().await;
    let email = email_links(&app, "T-300", "agent=alice").await;
    let page = app.client.get(&email.links[1].url).send().await.unwrap();
    let html = page.text().await.unwrap();
    let sig = attribute(&html, "data-sig");

    // What the widget posts from the landing page: same origin, the page's interaction sig.
    let first = json!({"survey": "support", "response_id": new_id(), "score": 2,
        "interaction": "T-300", "sig": sig, "tags": {"agent": "alice"}});
    let created = app
        .post_raw(
            "/v1/responses",
            first.to_string(),
            &[
                ("content-type", "application/json"),
                ("origin", &app.address),
            ],
        )
        .await;
    assert_eq!(created.status(), 201);

    // Another emoji of the same email: a new page, a new widget, a new response_id.
    let html = app
        .client
        .get(&email.links[4].url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let second = json!({"survey": "support", "response_id": new_id(), "score": 5,
        "interaction": "T-300", "sig": attribute(&html, "data-sig"), "tags": {"agent": "alice"}});
    let changed = app
        .post_raw(
            "/v1/responses",
            second.to_string(),
            &[
                ("content-type", "application/json"),
                ("origin", &app.address),
            ],
        )
        .await;
    assert_eq!(changed.status(), 200);

    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.counts["2"], 0);
    assert_eq!(summary.figures.counts["5"], 1);
    assert_eq!(summary.figures.unconfirmed_clicks, 2);
}

#[tokio::test]
async fn the_landing_script_is_served_from_the_collector() {
    let app = spawn_app().await;
    let script = app
        .client
        .get(format!("{}/r/landing.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(script.text().await.unwrap().contains("WebAssembly"));
}

/// The value of the first `name="…"` attribute in `html`.
fn attribute(html: &str, name: &str) -> String {
    let start = html.find(&format!("{name}=\"")).expect("the attribute") + name.len() + 2;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

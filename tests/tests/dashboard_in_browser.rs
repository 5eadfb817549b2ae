//! The marketers' dashboard in headless Chromium, against the real collector: sign in with a
//! read key, watch a rating made in the widget (in another tab) arrive without a reload, filter
//! by agent, download the CSV. Comments, including one that is markup, show as text. Run
//! `scripts/build-widget.sh` first.

use std::time::{Duration, Instant};

use pulsetap_e2e::{PATIENCE, READ_KEY, World, css};
use serde_json::{Value, json};

/// An inline widget on a host page, for a chat with carol.
const WIDGET: &str = r#"
<div data-pulsetap="support" data-interaction="chat-dashboard-1" data-tags="agent=carol,channel=chat"></div>
<script async src="{collector}pulsetap.js"></script>"#;

const WIDGET_HOST: &str = "document.querySelector('[data-pulsetap]')";

const MARKUP: &str = "<img src=x onerror=\"window.pwned=true\">";
const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"refund\")";

/// Ratings as a helpdesk's server would send them (no browser origin). `n` makes the
/// response id.
fn record(world: &World, n: u32, agent: &str, score: u8, comment: Option<&str>) {
    let mut body = json!({
        "survey": "support",
        "response_id": format!("00000000-0000-4000-8000-{n:012}"),
        "interaction": format!("mail-{n}"),
        "score": score,
        "tags": {"agent": agent, "channel": "email"},
    });
    if let Some(comment) = comment {
        body["comment"] = json!(comment);
    }
    let status = ureq::post(&world.collector.url("v1/responses"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .expect("the collector records the rating")
        .status();
    assert_eq!(status, 201);
}

/// Waits until `expression` (evaluated in the current page) is truthy, and returns its value.
async fn until(world: &World, what: &str, expression: &str) -> Value {
    let start = Instant::now();
    loop {
        let value = world.js(&format!("return {expression};")).await;
        let truthy = !matches!(&value, Value::Null | Value::Bool(false))
            && value != json!("")
            && value != json!(0);
        if truthy {
            return value;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{what}; `{expression}` was {value}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn kpi_responses(world: &World) -> String {
    world
        .js("return document.getElementById('kpi-responses').textContent;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_marketer_signs_in_sees_a_widget_rating_arrive_live_filters_by_agent_and_downloads_the_csv()
 {
    let world = World::new().await;
    let seeded = [
        ("alice", 5, Some("Quick and kind, thank you")),
        ("alice", 4, None),
        ("alice", 2, Some(FORMULA)),
        ("bob", 1, Some(MARKUP)),
        ("bob", 3, Some("Fine, eventually")),
        ("bob", 5, None),
        ("alice", 5, Some("Sorted my refund in two minutes")),
    ];
    for (n, (agent, score, comment)) in (1..).zip(seeded) {
        record(&world, n, agent, score, comment);
    }
    world
        .browser
        .set_window_size(1280, 1800)
        .await
        .expect("a desktop-sized window");

    // Sign in.
    world.sign_in_to_dashboard(READ_KEY).await;
    until(
        &world,
        "the dashboard shows the seeded responses",
        "document.getElementById('kpi-responses').textContent === '7'",
    )
    .await;
    until(
        &world,
        "the live feed connects",
        "document.getElementById('live').dataset.state === 'on'",
    )
    .await;

    // Comments are text: the markup one is shown as typed and never became an element.
    until(
        &world,
        "the comments are listed",
        "document.querySelectorAll('#comments .comment').length === 5",
    )
    .await;
    let texts = world
        .js("return [...document.querySelectorAll('#comments .comment-text')].map((p) => p.textContent);")
        .await;
    assert!(
        texts.as_array().unwrap().contains(&json!(MARKUP)),
        "the markup comment is shown as text: {texts}"
    );
    let injected = world
        .js("return [document.querySelectorAll('#comments img').length, window.pwned === true];")
        .await;
    assert_eq!(
        injected,
        json!([0, false]),
        "no comment became markup or ran"
    );

    world.screenshot(None, "dashboard-light").await;
    let breakdown = world
        .js("return [...document.querySelectorAll('#breakdown tbody tr')].map((r) => r.dataset.value);")
        .await;
    assert_eq!(breakdown, json!(["alice", "bob"]), "the breakdown by agent");

    // A customer rates carol's chat in the widget, in another tab.
    world
        .js("window.stillTheSamePage = true; return true;")
        .await;
    let dashboard = world.browser.window().await.expect("the dashboard tab");
    let customer = world.browser.new_window(true).await.expect("a second tab");
    world
        .browser
        .switch_to_window(customer.handle)
        .await
        .expect("switch to the customer's tab");
    world.visit("/chat-ended", WIDGET).await;
    world
        .emoji(WIDGET_HOST, "Great")
        .await
        .click()
        .await
        .expect("a tap on Great");
    world.assert_host_saw_no_error().await;
    world
        .wait_for_summary("the tap is recorded", |s| s.figures.responses == 8)
        .await;

    world
        .browser
        .switch_to_window(dashboard)
        .await
        .expect("back to the dashboard");
    until(
        &world,
        "the widget's rating appears on the dashboard without a reload",
        "document.getElementById('kpi-responses').textContent === '8'",
    )
    .await;
    until(
        &world,
        "carol joins the breakdown",
        "document.querySelector('#breakdown tr[data-value=carol]')",
    )
    .await;
    assert_eq!(
        world.js("return window.stillTheSamePage === true;").await,
        true,
        "the page was not reloaded"
    );

    // Filter by agent: alice's four responses, and only her comments.
    world
        .browser
        .find(css("#tag-key"))
        .await
        .expect("the filter")
        .select_by_value("agent")
        .await
        .expect("filter by agent");
    until(
        &world,
        "alice is offered as a filter value",
        "document.querySelector('#tag-value option[value=alice]')",
    )
    .await;
    world
        .browser
        .find(css("#tag-value"))
        .await
        .expect("the value filter")
        .select_by_value("alice")
        .await
        .expect("choose alice");
    until(
        &world,
        "the figures narrow to alice",
        "document.getElementById('kpi-responses').textContent === '4'",
    )
    .await;
    until(
        &world,
        "the comments narrow to alice",
        "[...document.querySelectorAll('#comments .comment-meta')].every((m) => m.textContent.includes('agent: alice')) && document.querySelectorAll('#comments .comment').length === 3",
    )
    .await;
    assert_eq!(kpi_responses(&world).await, "4");

    // Download the CSV. The file is fetched with the key and handed to the browser as a blob
    // behind a download link; the test catches the blob and the link's file name.
    world
        .js("window.downloaded = null;
             const toUrl = URL.createObjectURL;
             URL.createObjectURL = (blob) => { window.blob = blob; return toUrl(blob); };
             HTMLAnchorElement.prototype.click = function () {
               const name = this.download;
               window.blob.text().then((text) => { window.downloaded = { name, text }; });
             };
             return true;")
        .await;
    world
        .browser
        .find(css("#export-csv"))
        .await
        .expect("the CSV button")
        .click()
        .await
        .expect("download the CSV");
    let download = until(&world, "the CSV is downloaded", "window.downloaded").await;
    let name = download["name"].as_str().unwrap();
    assert!(
        name.starts_with("pulsetap-support-") && name.ends_with(".csv"),
        "{name}"
    );
    let csv = download["text"].as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("survey,kind,response_id,interaction,score"));
    assert_eq!(lines.len(), 1 + 8, "a header and every response");
    assert!(
        csv.contains("'=HYPERLINK"),
        "a formula comment is neutralised in the file"
    );

    // Dark, on a desktop and on a phone.
    world.js("document.getElementById('tag-key').value = ''; document.getElementById('tag-key').dispatchEvent(new Event('change')); return true;").await;
    until(
        &world,
        "the filter is cleared",
        "document.getElementById('kpi-responses').textContent === '8'",
    )
    .await;
    for _ in 0..2 {
        world
            .browser
            .find(css("#theme"))
            .await
            .expect("the theme button")
            .click()
            .await
            .expect("switch theme");
    }
    assert_eq!(
        world
            .js("return document.documentElement.dataset.theme;")
            .await,
        "dark"
    );
    world.screenshot(None, "dashboard-dark").await;
    world
        .browser
        .set_window_size(390, 1700)
        .await
        .expect("a phone-sized window");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let overflow = world
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    assert_eq!(overflow, 0, "nothing overflows sideways on a phone");
    world.screenshot(None, "dashboard-phone-dark").await;
    world.close().await;
}

//! The widget as a customer meets it: on a host page from another origin whose CSS is hostile,
//! against the real collector, in headless Chromium. Run `scripts/build-widget.sh` first.

use std::time::{Duration, Instant};

use pulsetap_e2e::{Key, PATIENCE, World};
use serde_json::json;

/// The loader as a site owner pastes it, and one inline widget.
const INLINE: &str = r#"
<div data-pulsetap="support" data-interaction="chat-1" data-tags="agent=alice,channel=chat"></div>
<script async src="{collector}pulsetap.js"></script>"#;

/// The inline widget's host element, as a JS expression.
const HOST: &str = "document.querySelector('[data-pulsetap]')";

/// The floating widget's host (the loader appends it to the body), as a JS expression.
const FLOATING: &str =
    "[...document.body.children].find((e) => e.shadowRoot && !e.dataset.pulsetap)";

fn count(summary: &pulsetap_wire::Summary, score: &str) -> u64 {
    summary.figures.counts.get(score).copied().unwrap_or(0)
}

#[tokio::test]
async fn the_widget_renders_inside_a_shadow_root_that_the_host_css_cannot_reach() {
    let world = World::new().await;
    world.visit("/inline", INLINE).await;
    world.emoji(HOST, "Great").await;

    let radios = world
        .in_widget(
            HOST,
            "[...root.querySelectorAll('[role=radio]')].map((r) => {
                const box = r.getBoundingClientRect();
                return [r.textContent, r.getAttribute('aria-label'), r.getAttribute('aria-checked'),
                        r.tabIndex, box.width >= 44 && box.height >= 44];
            })",
        )
        .await;
    assert_eq!(
        radios,
        json!([
            ["😠", "Awful", "false", 0, true],
            ["🙁", "Bad", "false", -1, true],
            ["😐", "Okay", "false", -1, true],
            ["🙂", "Good", "false", -1, true],
            ["😍", "Great", "false", -1, true],
        ]),
        "five visible emoji radios of at least 44 px (the host hides every button), one tab stop"
    );
    let group = world
        .in_widget(
            HOST,
            "(() => { const g = root.querySelector('[role=radiogroup]');
                      return root.getElementById(g.getAttribute('aria-labelledby')).textContent; })()",
        )
        .await;
    assert_eq!(
        group, "How did we do today?",
        "the radio group is labelled by the question"
    );
    let leaked = world
        .js("return getComputedStyle(document.querySelector('p')).borderRadius + '|' + [...document.styleSheets].length")
        .await;
    assert_eq!(leaked, "0px|1", "the widget's CSS stays in its shadow root");

    world
        .wait_for_summary("the widget counts one impression", |s| {
            s.figures.impressions == 1
        })
        .await;
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_tap_records_a_rating_that_the_summary_counts() {
    let world = World::new().await;
    world.visit("/inline", INLINE).await;
    world
        .emoji(HOST, "Good")
        .await
        .click()
        .await
        .expect("a tap");

    let summary = world
        .wait_for_summary("the tap is counted", |s| s.figures.responses == 1)
        .await;
    assert_eq!(count(&summary, "4"), 1);
    let checked = world
        .in_widget(
            HOST,
            "root.querySelector('[aria-checked=true]').getAttribute('aria-label')",
        )
        .await;
    assert_eq!(checked, "Good");
    let follow_up = world
        .in_widget(HOST, "root.querySelector('label').offsetHeight > 0")
        .await;
    assert_eq!(follow_up, true, "the follow-up question shows after a tap");
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn another_tap_changes_the_rating_and_it_still_counts_once() {
    let world = World::new().await;
    world.visit("/inline", INLINE).await;
    world
        .emoji(HOST, "Bad")
        .await
        .click()
        .await
        .expect("a first tap");
    world
        .wait_for_summary("the first tap is counted", |s| count(s, "2") == 1)
        .await;
    world
        .emoji(HOST, "Great")
        .await
        .click()
        .await
        .expect("a second tap");

    let summary = world
        .wait_for_summary("the rating moves from 2 to 5", |s| count(s, "5") == 1)
        .await;
    assert_eq!(
        summary.figures.responses, 1,
        "one interaction, one response"
    );
    assert_eq!(count(&summary, "2"), 0);
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_comment_lands_with_the_rating_and_the_thank_you_shows() {
    let world = World::new().await;
    world.visit("/inline", INLINE).await;
    world
        .emoji(HOST, "Okay")
        .await
        .click()
        .await
        .expect("a tap");
    let area = world
        .wait_for_element(
            "the comment box",
            &format!("return ({HOST}).shadowRoot.querySelector('textarea')"),
        )
        .await;
    area.send_keys("Quick, but the link was wrong")
        .await
        .expect("typing");
    let send = world
        .element(&format!(
            "return ({HOST}).shadowRoot.querySelector('.send')"
        ))
        .await
        .expect("a send button");
    send.click().await.expect("send");

    let thanks = world
        .in_widget(HOST, "root.querySelector('[role=status]').textContent")
        .await;
    assert_eq!(thanks, "Thank you!");
    let hidden = world
        .in_widget(HOST, "root.querySelector('textarea').offsetHeight")
        .await;
    assert_eq!(hidden, 0, "the thank-you replaces the comment box");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let card = world
        .element(&format!(
            "return ({HOST}).shadowRoot.querySelector('.card')"
        ))
        .await;
    world.screenshot(card.as_ref(), "widget-thanks").await;
    let start = Instant::now();
    loop {
        let responses = world.collector.responses();
        if let [only] = responses.as_slice()
            && only.comment.as_deref() == Some("Quick, but the link was wrong")
        {
            assert_eq!(only.score, 3);
            assert_eq!(only.interaction.as_deref(), Some("chat-1"));
            assert_eq!(only.tags.get("agent").map(String::as_str), Some("alice"));
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the comment never landed: {responses:#?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn the_keyboard_alone_can_rate() {
    let world = World::new().await;
    world.visit("/inline", INLINE).await;
    world.emoji(HOST, "Awful").await;

    // Tab reaches the group's one tab stop; arrows move and choose; Space confirms.
    world.press(&[Key::Tab]).await;
    let focused = world
        .js("return document.activeElement.shadowRoot?.activeElement?.getAttribute('aria-label')")
        .await;
    assert_eq!(focused, "Awful", "Tab lands on the first emoji");
    world
        .press(&[Key::Right, Key::Right, Key::Right, Key::Space])
        .await;
    world
        .wait_for_summary("the keyboard rating is counted as 4", |s| {
            count(s, "4") == 1
        })
        .await;
    let focused = world
        .js("return document.activeElement.shadowRoot.activeElement.getAttribute('aria-label')")
        .await;
    assert_eq!(focused, "Good", "the focus moved with the choice");
    let ring = world
        .js("return getComputedStyle(document.activeElement.shadowRoot.activeElement).outlineStyle")
        .await;
    assert_eq!(ring, "solid", "keyboard focus is visible");

    world.press(&[Key::Left, Key::Enter]).await;
    let summary = world
        .wait_for_summary("Left moves the rating to 3", |s| count(s, "3") == 1)
        .await;
    assert_eq!(summary.figures.responses, 1);
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn the_floating_tab_opens_the_card_and_a_tap_records() {
    let world = World::new().await;
    world
        .visit(
            "/floating",
            r#"<script async src="{collector}pulsetap.js" data-survey="support"></script>"#,
        )
        .await;
    let tab = world
        .wait_for_element(
            "the corner tab",
            &format!("const h = {FLOATING}; return h && h.shadowRoot.querySelector('.tab')"),
        )
        .await;
    let card_shown = format!("({FLOATING}).shadowRoot.querySelector('.card').offsetHeight > 0");
    assert_eq!(
        world.js(&format!("return {card_shown}")).await,
        false,
        "the card waits for the tab"
    );
    assert_eq!(
        world.collector.summary().map(|s| s.figures.impressions),
        Some(0),
        "nothing shown yet"
    );

    tab.click().await.expect("open the tab");
    assert_eq!(world.js(&format!("return {card_shown}")).await, true);
    world
        .emoji(FLOATING, "Great")
        .await
        .click()
        .await
        .expect("a tap");
    let summary = world
        .wait_for_summary("the floating rating is counted", |s| count(s, "5") == 1)
        .await;
    assert_eq!(
        summary.figures.impressions, 1,
        "opening the card is the impression"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    world.screenshot(None, "widget-floating").await;
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn pulsetap_open_after_a_chat_shows_the_card_even_when_called_before_the_loader_ran() {
    let world = World::new().await;
    // The stub from the loader's documentation, a call it queues, then the async script.
    let page = r#"
<script>
  window.pulsetap = window.pulsetap || {q: [],
    open: function (o) { this.q.push(["open", o]) },
    mount: function (e, o) { this.q.push(["mount", e, o]) }};
  pulsetap.open({survey: "support", interaction: "chat-queued", tags: {agent: "bob"}});
</script>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/chat", page).await;
    world
        .emoji(FLOATING, "Good")
        .await
        .click()
        .await
        .expect("a tap on the queued widget");
    world
        .wait_for_summary("the queued open recorded", |s| count(s, "4") == 1)
        .await;

    // A second chat ends later: open() replaces the widget with one for the new interaction.
    // The old host goes at once; the new card mounts when its survey's configuration arrives,
    // so `emoji` waits for it (no widget at all would fail here).
    world
        .js("pulsetap.open({survey: 'support', interaction: 'chat-later'}); return 0")
        .await;
    world
        .emoji(FLOATING, "Awful")
        .await
        .click()
        .await
        .expect("a tap on the second widget");
    let summary = world
        .wait_for_summary("both chats are rated", |s| {
            s.figures.responses == 2 && count(s, "1") == 1
        })
        .await;
    assert_eq!(count(&summary, "4"), 1);
    let floating_hosts = world
        .js("return [...document.body.children].filter((e) => e.shadowRoot).length")
        .await;
    assert_eq!(floating_hosts, 1, "one floating widget at a time");
    let interactions: Vec<_> = world
        .collector
        .responses()
        .into_iter()
        .filter_map(|r| r.interaction)
        .collect();
    assert!(
        interactions.contains(&"chat-queued".to_owned()),
        "{interactions:?}"
    );
    assert!(
        interactions.contains(&"chat-later".to_owned()),
        "{interactions:?}"
    );
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_rating_made_while_the_collector_is_down_lands_once_it_is_back() {
    let mut world = World::new().await;
    world.visit("/inline", INLINE).await;
    let good = world.emoji(HOST, "Good").await;
    world
        .wait_for_summary("the impression lands first", |s| s.figures.impressions == 1)
        .await;

    world.collector.kill();
    good.click()
        .await
        .expect("a tap while the collector is down");
    let waiting =
        "return Object.keys(localStorage).filter((k) => k.startsWith('pulsetap_outbox:')).length";
    let start = Instant::now();
    while world.js(waiting).await != 1 {
        assert!(
            start.elapsed() < PATIENCE,
            "the rating never reached the outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let a retry or two fail before the collector comes back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    world.collector.restart();

    let summary = world
        .wait_for_summary("the rating lands after the outage", |s| count(s, "4") == 1)
        .await;
    assert_eq!(summary.figures.responses, 1);
    let start = Instant::now();
    while world.js(waiting).await != 0 {
        assert!(
            start.elapsed() < PATIENCE,
            "the delivered rating stayed in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_rating_stranded_by_a_closed_page_is_delivered_on_the_next_visit() {
    let mut world = World::new().await;
    world.visit("/inline", INLINE).await;
    let bad = world.emoji(HOST, "Bad").await;
    world.collector.kill();
    bad.click()
        .await
        .expect("a tap while the collector is down");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The customer leaves; later they open a page with no widget at all, only the loader.
    world.collector.restart();
    world
        .visit(
            "/elsewhere",
            r#"<script async src="{collector}pulsetap.js"></script>"#,
        )
        .await;
    let summary = world
        .wait_for_summary("the stranded rating is delivered by the next page", |s| {
            count(s, "2") == 1
        })
        .await;
    assert_eq!(summary.figures.responses, 1);
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn rating_the_same_interaction_after_a_reload_updates_the_response() {
    let world = World::new().await;
    world.visit("/inline", INLINE).await;
    world
        .emoji(HOST, "Awful")
        .await
        .click()
        .await
        .expect("a first tap");
    world
        .wait_for_summary("the first rating lands", |s| count(s, "1") == 1)
        .await;

    world.browser.refresh().await.expect("a reload");
    world
        .emoji(HOST, "Great")
        .await
        .click()
        .await
        .expect("a tap after the reload");
    let summary = world
        .wait_for_summary("the reload's rating replaces the first", |s| {
            count(s, "5") == 1
        })
        .await;
    assert_eq!(
        summary.figures.responses, 1,
        "the same response_id, not a refused second one"
    );
    assert_eq!(count(&summary, "1"), 0);
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_preselected_score_shows_chosen_and_only_a_tap_records_it() {
    let world = World::new().await;
    let page = r#"
<div data-pulsetap="support" data-interaction="ticket-77" data-score="5"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/r", page).await;
    let great = world.emoji(HOST, "Great").await;
    let checked = world
        .in_widget(
            HOST,
            "root.querySelector('[aria-checked=true]').getAttribute('aria-label')",
        )
        .await;
    assert_eq!(checked, "Great");
    // Shown, not sent: the impression lands (the outbox works), the preselected rating does not.
    world
        .wait_for_summary("the widget reports itself shown", |s| {
            s.figures.impressions == 1
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let summary = world.collector.summary().expect("a summary");
    assert_eq!(summary.figures.responses, 0, "nobody tapped yet");

    great.click().await.expect("tap the chosen emoji");
    let summary = world
        .wait_for_summary("the tapped 5 is recorded", |s| count(s, "5") == 1)
        .await;
    assert_eq!(summary.figures.responses, 1);
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn the_widget_does_nothing_at_all_when_pulsetap_ignore_is_set() {
    let world = World::new().await;
    world.visit("/inline", INLINE).await;
    world.emoji(HOST, "Good").await;
    world
        .js("localStorage.pulsetap_ignore = '1'; return 0")
        .await;

    world.visit("/ignored", INLINE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let untouched = world
        .js(&format!(
            "return [({HOST}).shadowRoot === null, document.body.children.length,
                     performance.getEntriesByType('resource').map((r) => r.name)]"
        ))
        .await;
    let collector_js = world.collector.url("pulsetap.js");
    assert_eq!(
        untouched,
        json!([true, 3, [collector_js]]),
        "only the loader itself was fetched"
    );
    let summary = world.collector.summary().expect("a summary");
    assert_eq!(
        summary.figures.impressions, 1,
        "only the first visit was shown"
    );
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn the_widget_follows_the_page_direction_language_and_theme() {
    // A survey with Arabic texts: the widget reads right to left when it speaks Arabic.
    let world = World::with_surveys(
        r#"
[[survey]]
id = "souq"
allowed_origins = ["{origin}"]
min_group_size = 1

[survey.texts.ar]
question = "كيف كانت تجربتك اليوم؟"
labels = ["سيئ جدا", "سيئ", "مقبول", "جيد", "ممتاز"]
follow_up = "ما الذي يمكننا تحسينه؟"
thank_you = "شكرا لك!"
send = "إرسال"
"#,
    )
    .await;
    let page = r#"
<div dir="rtl"><div id="rtl" data-pulsetap="souq" data-interaction="rtl-1" data-lang="ar" data-theme="dark"></div></div>
<div id="auto" data-pulsetap="support" data-interaction="auto-1"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/rtl", page).await;
    let rtl = "document.getElementById('rtl')";
    world.emoji(rtl, "سيئ جدا").await;
    let root = world
        .in_widget(rtl, "[root.querySelector('.pt').dir, root.querySelector('.pt').lang, root.querySelector('.pt').dataset.theme]")
        .await;
    assert_eq!(root, json!(["rtl", "ar", "dark"]));
    let first_is_rightmost = world
        .in_widget(
            rtl,
            "(() => { const r = [...root.querySelectorAll('[role=radio]')].map((e) => e.getBoundingClientRect().x);
                      return r[0] > r[4]; })()",
        )
        .await;
    assert_eq!(first_is_rightmost, true, "the scale reads right to left");

    // Arrow keys follow the reading direction: Left moves forward in RTL.
    world.press(&[Key::Tab, Key::Left]).await;
    world
        .wait_for_summary_of("souq", "Left chose the second emoji", |s| {
            count(s, "2") == 1
        })
        .await;

    let auto = "document.getElementById('auto')";
    world.emoji(auto, "Awful").await;
    let theme = world
        .in_widget(auto, "root.querySelector('.pt').dataset.theme")
        .await;
    assert_eq!(
        theme, "auto",
        "the survey's theme applies without data-theme"
    );
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn the_widget_looks_designed_in_light_and_dark_mode() {
    let world = World::new().await;
    let page = r#"
<div id="light" data-pulsetap="support" data-interaction="shot-light" data-theme="light" style="display:block;width:420px;padding:24px"></div>
<div id="dark" data-pulsetap="support" data-interaction="shot-dark" data-theme="dark" style="display:block;width:420px;padding:24px;background:#15161a"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/looks", page).await;
    let mut backgrounds = Vec::new();
    for (id, label) in [("light", "Good"), ("dark", "Bad")] {
        let host = format!("document.getElementById('{id}')");
        world
            .emoji(&host, label)
            .await
            .click()
            .await
            .expect("a tap");
        let card = world
            .element(&format!(
                "return ({host}).shadowRoot.querySelector('.card')"
            ))
            .await
            .expect("a card");
        let path = world.screenshot(Some(&card), &format!("widget-{id}")).await;
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 1000),
            "{path:?} is a picture"
        );
        let style = world
            .in_widget(
                &host,
                "(() => { const s = getComputedStyle(root.querySelector('.card'));
                          return [s.backgroundColor, s.borderRadius, s.boxShadow !== 'none']; })()",
            )
            .await;
        backgrounds.push(style);
    }
    assert_eq!(
        backgrounds[0],
        json!(["rgb(255, 255, 255)", "20px", true]),
        "a rounded card with a shadow"
    );
    assert_eq!(backgrounds[1][1], "20px");
    assert_ne!(
        backgrounds[0][0], backgrounds[1][0],
        "dark mode has its own background"
    );
    world.assert_host_saw_no_error().await;
    world.close().await;
}

/// Surveys with the shortest and the longest emoji scales, beside [`pulsetap_e2e::SURVEY`].
const SCALES: &str = r#"
[[survey]]
id = "thumbs"
question = "Did this answer your question?"
scale = ["👎", "👍"]
labels = ["No", "Yes"]
satisfied_min = 2
allowed_origins = ["{origin}"]

[[survey]]
id = "ten"
question = "How likely are you to come back?"
scale = ["😡", "😠", "😞", "🙁", "😕", "😐", "🙂", "😊", "😀", "😍"]
labels = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
satisfied_min = 8
allowed_origins = ["{origin}"]
"#;

#[tokio::test]
async fn every_emoji_scale_fits_one_row_of_the_card_on_a_320_and_a_360_pixel_phone() {
    let world = World::with_surveys(SCALES).await;
    let page = r#"
<div id="thumbs" data-pulsetap="thumbs" data-interaction="phone-2"></div>
<div id="five" data-pulsetap="support" data-interaction="phone-5"></div>
<div id="ten" data-pulsetap="ten" data-interaction="phone-10"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    for width in [320, 360] {
        world.phone(width).await;
        world.visit(&format!("/phone-{width}"), page).await;
        for (id, count) in [("thumbs", 2), ("five", 5), ("ten", 10)] {
            let host = format!("document.getElementById('{id}')");
            world
                .wait_for_element(
                    &format!("the {id} widget"),
                    &format!("return ({host}).shadowRoot?.querySelector('[role=radio]')"),
                )
                .await;
            let fit = world
                .in_widget(
                    &host,
                    "(() => {
                        const card = root.querySelector('.card').getBoundingClientRect();
                        const boxes = [...root.querySelectorAll('[role=radio]')].map((r) => r.getBoundingClientRect());
                        return {
                            radios: boxes.length,
                            rows: new Set(boxes.map((b) => Math.round(b.top))).size,
                            inside: boxes.every((b) => b.left >= card.left && b.right <= card.right),
                            narrowest: Math.floor(Math.min(...boxes.map((b) => b.width))),
                            scroll: document.documentElement.scrollWidth > innerWidth,
                        };
                    })()",
                )
                .await;
            assert_eq!(fit["radios"], count, "{id} at {width} px");
            assert_eq!(fit["rows"], 1, "{id} at {width} px: {fit}");
            assert_eq!(fit["inside"], true, "{id} at {width} px: {fit}");
            assert_eq!(fit["scroll"], false, "{id} at {width} px scrolls sideways");
            assert!(
                fit["narrowest"].as_u64() >= Some(20),
                "{id} at {width} px: {fit}"
            );
        }
    }
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn the_readme_snippet_reserves_the_widgets_exact_height_so_nothing_moves_until_a_tap() {
    let world = World::new().await;
    let snippet = readme_snippet(&world.collector.url(""));
    let page = format!(
        r#"<script>
  window.shift = 0;
  new PerformanceObserver((list) => {{
    for (const e of list.getEntries()) if (!e.hadRecentInput) shift += e.value;
  }}).observe({{type: "layout-shift", buffered: true}});
  window.reserved = () => document.querySelector('[data-pulsetap]').getBoundingClientRect().height;
</script>
{snippet}
<script>window.first = reserved();</script>
<p id="below">Content under the widget.</p>"#
    );
    for width in [1000, 360] {
        if width < 1000 {
            world.phone(width).await;
        }
        // The page's own hostile CSS (`* { all: unset }`) must not undo the reservation.
        world.visit(&format!("/snippet-{width}"), &page).await;
        world.emoji(HOST, "Great").await;
        let before = world.js("return window.first").await;
        assert!(
            before.as_f64() > Some(100.0),
            "the snippet reserves room: {before}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = world
            .in_widget(
                HOST,
                "[reserved(), root.querySelector('.card').getBoundingClientRect().height, shift]",
            )
            .await;
        assert_eq!(
            after,
            json!([before, before, 0]),
            "at {width} px the card is exactly the reserved height and the page never shifted"
        );
    }
    world
        .emoji(HOST, "Good")
        .await
        .click()
        .await
        .expect("a tap");
    let grown = world.js("return reserved()").await;
    assert!(
        grown.as_f64() > Some(200.0),
        "the follow-up opens below the scale after a tap: {grown}"
    );
    world.assert_host_saw_no_error().await;
    world.close().await;
}

/// The README's inline snippet, exactly as a site owner copies it, pointed at `collector`.
fn readme_snippet(collector: &str) -> String {
    let readme =
        std::fs::read_to_string(pulsetap_e2e::repo().join("README.md")).expect("README.md");
    let section = readme
        .split("## Add it to your site")
        .nth(1)
        .expect("the README has an `## Add it to your site` section");
    section
        .split("```html\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section starts with an html snippet")
        .replace("https://feedback.example.com/", collector)
}

#[tokio::test]
async fn the_loader_asks_for_the_texts_in_data_lang_else_in_the_browsers_languages() {
    let world = World::new().await;
    let page = r#"
<div id="fr" data-pulsetap="support" data-interaction="lang-fr" data-lang="fr"></div>
<div id="browser" data-pulsetap="support" data-interaction="lang-browser"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/lang", page).await;
    world.emoji("document.getElementById('fr')", "Great").await;
    world
        .emoji("document.getElementById('browser')", "Great")
        .await;
    let asked = world
        .js("return [performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/widget?')).map((n) => new URL(n).searchParams.get('lang')).sort(), navigator.languages.join(',')]")
        .await;
    let browser = asked[1].as_str().unwrap_or_default().to_owned();
    assert!(!browser.is_empty(), "the browser has languages");
    let mut expected = vec!["fr".to_owned(), browser];
    expected.sort();
    assert_eq!(asked[0], json!(expected));
    // A survey without French texts answers in its default ones and names their language:
    // the widget says it speaks English, not the French the page asked for.
    let root = world
        .in_widget(
            "document.getElementById('fr')",
            "[root.querySelector('.pt').lang, root.querySelector('.pt').dir]",
        )
        .await;
    assert_eq!(root, json!(["en", "ltr"]));
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_rating_answered_408_429_and_503_for_a_while_lands_once_when_the_collector_recovers() {
    let world = World::new().await;
    let proxy = world.collector.proxy();
    // A timed-out write, a rate limit and an overloaded collector, each asking for a pause.
    proxy.refuse_ratings(&[(408, None), (429, Some(3)), (503, Some(1)), (503, None)]);
    world
        .visit("/flaky", &INLINE.replace("{collector}", &proxy.url("")))
        .await;
    world
        .emoji(HOST, "Good")
        .await
        .click()
        .await
        .expect("a tap");

    let summary = world
        .wait_for_summary("the rating lands once the collector recovers", |s| {
            count(s, "4") == 1
        })
        .await;
    assert_eq!(summary.figures.responses, 1);
    let statuses: Vec<u16> = proxy.ratings().iter().map(|r| r.1).collect();
    assert_eq!(
        statuses,
        [408, 429, 503, 503, 201],
        "retried until accepted, once"
    );
    let times: Vec<Instant> = proxy.ratings().iter().map(|r| r.0).collect();
    let gap = |i: usize| times[i + 1] - times[i];
    // Without a Retry-After the loader backs off 1 s, then 2 s; a Retry-After wins over that.
    assert!(
        gap(0) >= Duration::from_millis(950),
        "a backoff after the 408: {:?}",
        gap(0)
    );
    assert!(
        gap(1) >= Duration::from_millis(2950),
        "the 429's Retry-After: 3 is honoured, not the 2 s backoff: {:?}",
        gap(1)
    );
    assert!(
        gap(2) >= Duration::from_millis(950),
        "Retry-After: 1: {:?}",
        gap(2)
    );
    let waiting = world
        .js("return Object.keys(localStorage).filter((k) => k.startsWith('pulsetap_outbox:')).length")
        .await;
    assert_eq!(waiting, 0, "the outbox is empty once the rating is in");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(world.collector.responses().len(), 1);
    assert_eq!(proxy.ratings().len(), 5, "nothing is sent after the 2xx");
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_refused_rating_puts_the_collectors_reason_in_the_console_and_leaves_the_outbox() {
    let world = World::new().await;
    let page = r#"
<div data-pulsetap="support" data-interaction="chat-9" data-sig="0000" data-tags="agent=alice"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/forged", page).await;
    world
        .emoji(HOST, "Great")
        .await
        .click()
        .await
        .expect("a tap");
    // The impression carries the same forged signature and is refused first: two refusals,
    // the loader sending one message at a time. Each read of the browser's log takes what it
    // holds, so the two may come in different reads: keep everything read.
    let start = Instant::now();
    let mut log = Vec::new();
    let warnings = loop {
        log.extend(world.browser.console_messages().await);
        let refusals: Vec<String> = log
            .iter()
            .filter(|l| l.contains("403 bad_signature"))
            .cloned()
            .collect();
        if refusals.len() >= 2 {
            break refusals;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the impression's and the rating's refusals in the console: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for warning in &warnings {
        assert!(
            warning.contains("the signature does not match this survey, interaction and tags"),
            "the server's own message: {warning}"
        );
    }
    let outbox =
        "return Object.keys(localStorage).filter((k) => k.startsWith('pulsetap_outbox:')).length";
    assert_eq!(
        world.js(outbox).await,
        0,
        "a refusal is final: nothing waits to be sent again"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        world.js(outbox).await,
        0,
        "nothing comes back to the outbox after the refusal"
    );
    assert_eq!(
        world.collector.summary().map(|s| s.figures.responses),
        Some(0)
    );
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn a_tap_just_before_the_tab_closes_still_arrives() {
    let world = World::new().await;
    let proxy = world.collector.proxy();
    // The customer reads the page in a tab of its own, which they will close.
    let first = world.browser.window().await.expect("the first tab");
    let tab = world.browser.new_window(true).await.expect("a new tab");
    world
        .browser
        .switch_to_window(tab.handle)
        .await
        .expect("switch to the new tab");
    world
        .visit("/leaving", &INLINE.replace("{collector}", &proxy.url("")))
        .await;
    let great = world.emoji(HOST, "Great").await;
    world
        .wait_for_summary("the impression lands first", |s| s.figures.impressions == 1)
        .await;
    // The rating is still on its way when the tab closes.
    proxy.hold_ratings(Duration::from_millis(1500));
    great.click().await.expect("a tap");
    tokio::time::sleep(Duration::from_millis(200)).await;
    world.browser.close_window().await.expect("the tab closes");
    world
        .browser
        .switch_to_window(first)
        .await
        .expect("back to the first tab");
    world
        .wait_for_summary("the rating sent as the tab closed lands", |s| {
            count(s, "5") == 1
        })
        .await;
    let statuses: Vec<u16> = proxy.ratings().iter().map(|r| r.1).collect();
    assert_eq!(statuses, [201], "the browser kept waiting for it");
    world.close().await;
}

#[tokio::test]
async fn a_page_without_crypto_random_uuid_still_records_under_a_uuid() {
    let world = World::new().await;
    // As on a plain-http page (not a secure context), where browsers leave randomUUID out.
    let page = r#"<script>delete Crypto.prototype.randomUUID;</script>"#.to_owned() + INLINE;
    world.visit("/insecure", &page).await;
    world
        .emoji(HOST, "Great")
        .await
        .click()
        .await
        .expect("a tap");
    world
        .wait_for_summary("the rating is recorded", |s| count(s, "5") == 1)
        .await;
    let id = world
        .js("return localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('pulsetap_rid:')))")
        .await;
    let id = id.as_str().unwrap_or_default();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(id.as_bytes()[14], b'4', "version 4: {id}");
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn escape_closes_the_floating_card_from_the_comment_box_and_the_focus_returns_to_the_tab() {
    let world = World::new().await;
    world
        .visit(
            "/floating-escape",
            r#"<script async src="{collector}pulsetap.js" data-survey="support"></script>"#,
        )
        .await;
    world
        .wait_for_element(
            "the corner tab",
            &format!("const h = {FLOATING}; return h && h.shadowRoot.querySelector('.tab')"),
        )
        .await
        .click()
        .await
        .expect("open the card");
    world
        .emoji(FLOATING, "Okay")
        .await
        .click()
        .await
        .expect("a tap");
    world
        .wait_for_element(
            "the comment box",
            &format!("return ({FLOATING}).shadowRoot.querySelector('textarea')"),
        )
        .await
        .send_keys("Half")
        .await
        .expect("typing");
    world.press(&[Key::Escape]).await;
    let after = world
        .in_widget(
            FLOATING,
            "[root.querySelector('.card').offsetHeight, root.activeElement?.className,
              root.querySelector('.tab').getAttribute('aria-expanded')]",
        )
        .await;
    assert_eq!(after, json!([0, "tab", "false"]));
    world.assert_host_saw_no_error().await;
    world.close().await;
}

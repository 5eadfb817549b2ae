//! axe-core's WCAG 2.1 A and AA rules, in headless Chromium against the real collector, on what
//! customers and marketers see: the widget of every kind (CSAT inline and floating, NPS and CES,
//! in Arabic too; before a tap, after it and after a comment; light and dark), the email landing
//! pages and the dashboard, each in a light and a dark color scheme. The demo shop's pages are checked on the walk through the demo
//! (`tests/demo.rs`). Run `scripts/build-widget.sh` first (it also installs axe-core).

use std::time::{Duration, Instant};

use pulsetap_e2e::{KINDS, PATIENCE, READ_KEY, WRITE_KEY, World, css};
use serde_json::{Value, json};

/// Every theme side by side: forced light, forced dark, and the survey's `auto`, which follows
/// the emulated color scheme. The floating card is opened by the API.
const WIDGETS: &str = r#"
<div id="light" data-pulsetap="support" data-interaction="a11y-light" data-theme="light"></div>
<div id="dark" data-pulsetap="support" data-interaction="a11y-dark" data-theme="dark" style="display:block;background:#15161a;padding:16px"></div>
<div id="auto" data-pulsetap="support" data-interaction="a11y-auto"></div>
<script async src="{collector}pulsetap.js"></script>
<script>
  window.pulsetap = window.pulsetap || {q: [], open: function (o) { this.q.push(["open", o]) },
                                         mount: function (e, o) { this.q.push(["mount", e, o]) }};
  pulsetap.open({survey: "support", interaction: "a11y-floating"});
</script>"#;

const INLINE: [&str; 3] = ["light", "dark", "auto"];

fn assert_accessible(violations: &[String], what: &str) {
    assert!(
        violations.is_empty(),
        "{what} breaks WCAG 2.1 A/AA rules:\n{}",
        violations.join("\n")
    );
}

#[tokio::test]
async fn the_widget_meets_wcag_in_every_theme_before_and_after_a_tap_and_a_comment() {
    let world = World::new().await;
    for scheme in ["light", "dark"] {
        world.browser.color_scheme(scheme).await;
        world.visit(&format!("/a11y-{scheme}"), WIDGETS).await;
        for id in INLINE {
            world
                .emoji(&format!("document.getElementById('{id}')"), "Great")
                .await;
        }
        let floating =
            "[...document.body.children].find((e) => e.shadowRoot && !e.dataset.pulsetap)";
        world.emoji(floating, "Great").await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("the widget before a tap ({scheme} scheme)"),
        );

        // A tap opens the follow-up and dims the other emoji; a comment brings the thank-you.
        for id in INLINE {
            world
                .emoji(&format!("document.getElementById('{id}')"), "Bad")
                .await
                .click()
                .await
                .expect("a tap");
        }
        world
            .emoji(floating, "Good")
            .await
            .click()
            .await
            .expect("a tap");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("the widget after a tap ({scheme} scheme)"),
        );

        let host = "document.getElementById('light')";
        world
            .element(&format!(
                "return ({host}).shadowRoot.querySelector('textarea')"
            ))
            .await
            .expect("a comment box")
            .send_keys("The link was wrong")
            .await
            .expect("typing");
        world
            .element(&format!(
                "return ({host}).shadowRoot.querySelector('.send')"
            ))
            .await
            .expect("a send button")
            .click()
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("the widget's thank-you ({scheme} scheme)"),
        );
    }
    world.assert_host_saw_no_error().await;
    world.close().await;
}

/// The numbered kinds: NPS in light, dark and Arabic, and CES in light and dark.
const NUMBERED: &str = r#"
<div id="nps-light" data-pulsetap="loyalty" data-interaction="a11y-nps-light" data-theme="light"></div>
<div id="nps-dark" data-pulsetap="loyalty" data-interaction="a11y-nps-dark" data-theme="dark" style="display:block;background:#15161a;padding:16px"></div>
<div id="nps-ar" data-pulsetap="loyalty" data-interaction="a11y-nps-ar" data-lang="ar"></div>
<div id="ces-light" data-pulsetap="effort" data-interaction="a11y-ces-light" data-theme="light"></div>
<div id="ces-dark" data-pulsetap="effort" data-interaction="a11y-ces-dark" data-theme="dark" style="display:block;background:#15161a;padding:16px"></div>
<script async src="{collector}pulsetap.js"></script>"#;

#[tokio::test]
async fn nps_and_ces_widgets_meet_wcag_in_light_dark_and_arabic_before_and_after_a_tap() {
    let world = World::with_surveys(KINDS).await;
    let widgets = [
        ("nps-light", "9", "3"),
        ("nps-dark", "9", "10 (Very likely)"),
        ("nps-ar", "9", "0 (غير محتمل)"),
        ("ces-light", "6", "2"),
        ("ces-dark", "6", "7 (Very easy)"),
    ];
    for scheme in ["light", "dark"] {
        world.browser.color_scheme(scheme).await;
        world
            .visit(&format!("/a11y-numbered-{scheme}"), NUMBERED)
            .await;
        for (id, shown, _) in widgets {
            world
                .emoji(&format!("document.getElementById('{id}')"), shown)
                .await;
        }
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("NPS and CES widgets before a tap ({scheme} scheme)"),
        );
        for (id, _, tapped) in widgets {
            world
                .emoji(&format!("document.getElementById('{id}')"), tapped)
                .await
                .click()
                .await
                .expect("a tap");
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("NPS and CES widgets after a tap ({scheme} scheme)"),
        );
    }
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn an_nps_email_landing_page_in_french_and_in_arabic_meets_wcag_in_light_and_dark() {
    let world = World::with_surveys(KINDS).await;
    for lang in ["fr", "ar"] {
        let url = world.collector.url(&format!(
            "v1/surveys/loyalty/email?format=json&interaction=T-a11y-{lang}&lang={lang}"
        ));
        let body = ureq::get(&url)
            .header("Authorization", &format!("Bearer {WRITE_KEY}"))
            .call()
            .expect("the email endpoint answers")
            .body_mut()
            .read_to_string()
            .expect("a body");
        let email: Value = serde_json::from_str(&body).expect("email links as JSON");
        let link = email["links"][9]["url"].as_str().expect("the 9").to_owned();
        for scheme in ["light", "dark"] {
            world.browser.color_scheme(scheme).await;
            world.browser.goto(&link).await.expect("the landing page");
            world
                .browser
                .emoji("document.querySelector('[data-pulsetap]')", "9")
                .await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            assert_accessible(
                &world.browser.accessibility_violations().await,
                &format!("the NPS landing page in {lang} ({scheme} scheme)"),
            );
            assert_eq!(
                world
                    .js("return [document.documentElement.lang, document.documentElement.dir]")
                    .await,
                json!([lang, if lang == "ar" { "rtl" } else { "ltr" }])
            );
        }
        world.screenshot(None, &format!("landing-nps-{lang}")).await;
        // A browser that can't run the widget gets the page's own form, in the same language.
        world
            .js("document.documentElement.classList.add('pt-fallback'); return true;")
            .await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("the NPS landing page's form in {lang}"),
        );
        world
            .screenshot(None, &format!("landing-nps-{lang}-form"))
            .await;
    }
    world.close().await;
}

#[tokio::test]
async fn the_email_landing_page_meets_wcag_in_light_and_dark() {
    let world = World::new().await;
    let url = world
        .collector
        .url("v1/surveys/support/email?format=json&interaction=T-a11y&tags=agent%3Dalice");
    let body = ureq::get(&url)
        .header("Authorization", &format!("Bearer {WRITE_KEY}"))
        .call()
        .expect("the email endpoint answers")
        .body_mut()
        .read_to_string()
        .expect("a body");
    let email: Value = serde_json::from_str(&body).expect("email links as JSON");
    let link = email["links"][3]["url"]
        .as_str()
        .expect("a link")
        .to_owned();
    for scheme in ["light", "dark"] {
        world.browser.color_scheme(scheme).await;
        world.browser.goto(&link).await.expect("the landing page");
        world
            .browser
            .emoji("document.querySelector('[data-pulsetap]')", "Good")
            .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("the email landing page ({scheme} scheme)"),
        );
    }
    world.close().await;
}

#[tokio::test]
async fn the_dashboard_meets_wcag_signed_out_and_in_in_light_and_dark() {
    let world = World::new().await;
    for (n, (agent, score)) in [("alice", 5), ("alice", 2), ("bob", 4)].iter().enumerate() {
        let body = json!({
            "survey": "support",
            "response_id": format!("00000000-0000-4000-8000-{n:012}"),
            "interaction": format!("mail-{n}"),
            "score": score,
            "tags": {"agent": agent},
            "comment": "Thanks for the quick answer",
        });
        ureq::post(&world.collector.url("v1/responses"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("a rating is recorded");
    }
    // A refused rating, so the "Integration problems" panel shows too.
    let forged = json!({
        "survey": "support",
        "response_id": "00000000-0000-4000-8000-000000000099",
        "interaction": "chat-forged",
        "sig": "00ff",
        "score": 1,
    });
    let refused = ureq::post(&world.collector.url("v1/responses"))
        .header("Content-Type", "application/json")
        .send(forged.to_string());
    assert!(refused.is_err(), "a forged signature is refused");
    world
        .browser
        .set_window_size(1280, 1600)
        .await
        .expect("a desktop-sized window");
    for scheme in ["light", "dark"] {
        world.browser.color_scheme(scheme).await;
        world
            .browser
            .goto(&world.collector.url("dashboard"))
            .await
            .expect("the dashboard");
        // The second round finds the first one's key remembered (for this tab) and signs in by
        // itself: sign out, as a person would, to see the sign-in form again.
        let shown = world
            .browser
            .wait_for_element(
                "the sign-in form or the signed-in dashboard",
                "const f = document.getElementById('signin'), a = document.getElementById('app');
                 return f && !f.hidden ? f : a && !a.hidden ? document.getElementById('signout') : null",
            )
            .await;
        if shown.attr("id").await.expect("an id").as_deref() == Some("signout") {
            shown.click().await.expect("signed out");
        }
        world
            .browser
            .wait_for_element(
                &format!("the sign-in form ({scheme} scheme)"),
                "const f = document.getElementById('signin'); return f && !f.hidden ? f : null",
            )
            .await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("the dashboard's sign-in ({scheme} scheme)"),
        );
        world
            .browser
            .find(css("#key"))
            .await
            .expect("a key field")
            .send_keys(READ_KEY)
            .await
            .expect("the key");
        world
            .browser
            .find(css("#signin-form button[type=submit]"))
            .await
            .expect("a sign-in button")
            .click()
            .await
            .expect("signed in");
        let start = Instant::now();
        while world
            .js("return document.getElementById('kpi-responses')?.textContent === '3' && document.getElementById('live')?.dataset.state === 'on' && !document.getElementById('problems-card')?.hidden")
            .await
            != true
        {
            assert!(
                start.elapsed() < PATIENCE,
                "the dashboard never showed the ratings live, with the refusal"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_accessible(
            &world.browser.accessibility_violations().await,
            &format!("the dashboard ({scheme} scheme)"),
        );
    }
    world.close().await;
}

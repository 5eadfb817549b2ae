//! Every kind of survey in the browser: an NPS widget on a phone, by keyboard, in French and
//! in Arabic, a CES widget, and the NPS dashboard over weeks of answers. Run
//! `scripts/build-widget.sh` first.

use std::path::Path;
use std::time::Duration;

use pulsetap_e2e::{KINDS, Key, READ_KEY, Setup, World, css};
use pulsetap_wire::{KindFigures, RecordResponse, Summary};
use serde_json::{Value, json};

const LOYALTY: &str = "document.getElementById('nps')";

/// The NPS figures of a summary: the score and the promoters, passives and detractors.
fn nps(summary: &Summary) -> (Option<f64>, [u64; 3]) {
    match &summary.figures.kind {
        KindFigures::Nps {
            nps,
            promoters,
            passives,
            detractors,
            ..
        } => (*nps, [*promoters, *passives, *detractors]),
        other => panic!("not NPS figures: {other:?}"),
    }
}

/// Where the radios of the widget at `host` are, as the page lays them out.
async fn radios(world: &World, host: &str) -> Value {
    world
        .in_widget(
            host,
            "(() => {
                const card = root.querySelector('.card').getBoundingClientRect();
                const boxes = [...root.querySelectorAll('[role=radio]')].map((r) => r.getBoundingClientRect());
                return {
                    count: boxes.length,
                    rows: [...new Set(boxes.map((b) => Math.round(b.top)))].map((top) => boxes.filter((b) => Math.round(b.top) === top).length),
                    inside: boxes.every((b) => b.left >= card.left - 0.5 && b.right <= card.right + 0.5),
                    narrowest: Math.floor(Math.min(...boxes.map((b) => b.width))),
                    lowest: Math.floor(Math.min(...boxes.map((b) => b.height))),
                    first_x: boxes[0].x,
                    last_x: boxes[boxes.length - 1].x,
                    scroll: document.documentElement.scrollWidth > innerWidth,
                };
            })()",
        )
        .await
}

#[tokio::test]
async fn an_nps_survey_on_a_phone_shows_eleven_buttons_of_32_px_that_fit_and_a_tap_on_9_is_a_promoter()
 {
    let world = World::with_surveys(KINDS).await;
    world.phone(360).await;
    let page = r#"
<div id="nps" data-pulsetap="loyalty" data-interaction="phone-nps" data-tags="agent=ana"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/phone-nps", page).await;
    world.emoji(LOYALTY, "9").await;
    let layout = radios(&world, LOYALTY).await;
    assert_eq!(layout["count"], 11, "{layout}");
    assert_eq!(layout["rows"], json!([6, 5]), "two balanced rows: {layout}");
    assert_eq!(layout["inside"], true, "{layout}");
    assert_eq!(layout["scroll"], false, "no sideways scroll: {layout}");
    assert!(layout["narrowest"].as_u64() >= Some(32), "{layout}");
    assert!(layout["lowest"].as_u64() >= Some(32), "{layout}");
    let ends = world
        .in_widget(
            LOYALTY,
            "[...root.querySelectorAll('.ends span')].map((e) => e.textContent)",
        )
        .await;
    assert_eq!(ends, json!(["Not likely", "Very likely"]));

    world
        .emoji(LOYALTY, "9")
        .await
        .click()
        .await
        .expect("a tap on 9");
    let summary = world
        .wait_for_summary_of("loyalty", "the 9 is counted", |s| s.figures.responses == 1)
        .await;
    assert_eq!(nps(&summary), (Some(100.0), [1, 0, 0]), "a 9 is a promoter");
    assert_eq!(summary.figures.counts["9"], 1);
    world.assert_host_saw_no_error().await;
    world.close().await;
}

#[tokio::test]
async fn the_keyboard_alone_answers_an_nps_survey() {
    let world = World::with_surveys(KINDS).await;
    let page = r#"
<div id="nps" data-pulsetap="loyalty" data-interaction="keyboard-nps"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/keyboard-nps", page).await;
    world.emoji(LOYALTY, "0 (Not likely)").await;

    world.press(&[Key::Tab]).await;
    let focused = world
        .js("return document.activeElement.shadowRoot?.activeElement?.getAttribute('aria-label')")
        .await;
    assert_eq!(focused, "0 (Not likely)", "Tab lands on the first number");
    // Right eight times, then Enter: an 8, a passive.
    let mut keys = vec![Key::Right; 8];
    keys.push(Key::Enter);
    world.press(&keys).await;
    let summary = world
        .wait_for_summary_of("loyalty", "the keyboard's 8 is counted", |s| {
            s.figures.counts.get("8") == Some(&1)
        })
        .await;
    assert_eq!(nps(&summary).1, [0, 1, 0]);
    let focused = world
        .js("return document.activeElement.shadowRoot.activeElement.getAttribute('aria-label')")
        .await;
    assert_eq!(focused, "8", "the focus moved with the choice");

    // Down moves on too; Space records where the focus is.
    world.press(&[Key::Down, Key::Down, Key::Space]).await;
    let summary = world
        .wait_for_summary_of("loyalty", "the answer moved to 10", |s| {
            s.figures.counts.get("10") == Some(&1)
        })
        .await;
    assert_eq!(summary.figures.responses, 1, "one widget, one response");
    assert_eq!(nps(&summary), (Some(100.0), [1, 0, 0]));
    world.assert_host_saw_no_error().await;
    world.close().await;
}

/// The texts and direction a widget shows.
async fn shown(world: &World, host: &str) -> Value {
    world
        .in_widget(
            host,
            "(() => { const pt = root.querySelector('.pt');
                      return {question: root.querySelector('#q').textContent, lang: pt.lang, dir: pt.dir,
                              ends: [...root.querySelectorAll('.ends span')].map((e) => e.textContent),
                              send: root.querySelector('.send').getAttribute('aria-label')}; })()",
        )
        .await
}

#[tokio::test]
async fn a_page_asking_for_french_shows_french_and_a_browser_preferring_arabic_shows_arabic_right_to_left()
 {
    let world = World::start(Setup {
        surveys: KINDS,
        languages: Some("ar,en-US"),
        ..Setup::default()
    })
    .await;
    let page = r#"
<div id="fr" data-pulsetap="loyalty" data-interaction="lang-fr" data-lang="fr"></div>
<div id="nps" data-pulsetap="loyalty" data-interaction="lang-browser"></div>
<div id="ces" data-pulsetap="effort" data-interaction="lang-ces"></div>
<script async src="{collector}pulsetap.js"></script>"#;
    world.visit("/languages", page).await;
    assert_eq!(
        world.js("return navigator.languages").await,
        json!(["ar", "en-US"]),
        "the browser prefers Arabic"
    );
    let french = "document.getElementById('fr')";
    world.emoji(french, "10 (Très probable)").await;
    let fr = shown(&world, french).await;
    assert_eq!(
        fr,
        json!({"question": "Quelle est la probabilité que vous nous recommandiez à un proche ?",
               "lang": "fr", "dir": "ltr", "ends": ["Peu probable", "Très probable"], "send": "Envoyer"})
    );

    world.emoji(LOYALTY, "10 (محتمل جدا)").await;
    let ar = shown(&world, LOYALTY).await;
    assert_eq!(ar["question"], "ما مدى احتمال أن توصي بنا لصديق أو زميل؟");
    assert_eq!((&ar["lang"], &ar["dir"]), (&json!("ar"), &json!("rtl")));
    let layout = radios(&world, LOYALTY).await;
    assert!(
        layout["first_x"].as_f64() > layout["last_x"].as_f64(),
        "0 is on the right, 10 on the left: {layout}"
    );
    let ends = world
        .in_widget(
            LOYALTY,
            "[...root.querySelectorAll('.ends span')].map((e) => e.getBoundingClientRect().x)",
        )
        .await;
    assert!(
        ends[0].as_f64() > ends[1].as_f64(),
        "'not likely' under 0, on the right: {ends}"
    );

    // A survey without Arabic texts answers in its default ones, and says so.
    let effort = "document.getElementById('ces')";
    world.emoji(effort, "7 (Very easy)").await;
    let ces = shown(&world, effort).await;
    assert_eq!((&ces["lang"], &ces["dir"]), (&json!("en"), &json!("ltr")));

    // Each answer is stored with the language it was given in.
    world.emoji(french, "9").await.click().await.expect("a tap");
    world
        .emoji(LOYALTY, "3")
        .await
        .click()
        .await
        .expect("a tap");
    world
        .wait_for_summary_of("loyalty", "both answers are counted", |s| {
            s.figures.responses == 2
        })
        .await;
    let mut langs: Vec<(u8, Option<String>)> = world
        .collector
        .responses_of("loyalty")
        .into_iter()
        .map(|r| (r.score, r.lang))
        .collect();
    langs.sort();
    assert_eq!(
        langs,
        [(3, Some("ar".to_owned())), (9, Some("fr".to_owned()))]
    );
    world.assert_host_saw_no_error().await;
    world.close().await;
}

/// A plain shop page (no hostile CSS: these are pictures for people), ending with `body`.
fn shop_page(world: &World, path: &str, body: &str) -> String {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kettle &amp; Co. · Order confirmed</title>
<style>
  body {{ margin: 0; background: #f4f1ec; color: #2b2620; font: 16px/1.5 system-ui, sans-serif; }}
  header {{ padding: 14px 20px; background: #2b2620; color: #f4f1ec; font-weight: 700; letter-spacing: .02em; }}
  main {{ max-width: 560px; margin: 0 auto; padding: 20px; }}
  h1 {{ font-size: 22px; margin: 8px 0 4px; }}
  .muted {{ color: #6b6258; margin: 0 0 20px; }}
  .shot {{ display: inline-block; padding: 28px; }}
</style></head><body>
{}
</body></html>"#,
        body.replace("{collector}", &world.collector.url(""))
    );
    world
        .host
        .put(path, "text/html; charset=utf-8", html.into_bytes());
    world.host.url(path)
}

#[tokio::test]
async fn the_nps_and_ces_widgets_look_designed_in_light_dark_arabic_and_on_a_phone() {
    let world = World::start(Setup {
        surveys: KINDS,
        languages: Some("en-US,en"),
        ..Setup::default()
    })
    .await;
    // One card per page, at the top, tapped as a customer would: light and dark NPS, Arabic,
    // and CES; each first at the height the README says to reserve.
    for (name, survey, extra, tap) in [
        ("light", "loyalty", r#"data-theme="light""#, "9"),
        ("dark", "loyalty", r#"data-theme="dark""#, "8"),
        (
            "arabic",
            "loyalty",
            r#"data-theme="light" data-lang="ar""#,
            "10 (محتمل جدا)",
        ),
        ("ces", "effort", r#"data-theme="light""#, "6"),
    ] {
        let background = if name == "dark" { "#15161a" } else { "#f4f1ec" };
        let url = shop_page(
            &world,
            &format!("/looks-{name}"),
            &format!(
                r#"<div class="shot" style="background:{background}"><div id="nps" data-pulsetap="{survey}" data-interaction="shot-{name}" {extra} style="display:block;width:380px"></div></div>
<script async src="{{collector}}pulsetap.js"></script>"#
            ),
        );
        world.browser.goto(&url).await.expect("the page loads");
        world.emoji(LOYALTY, tap).await;
        // Before a tap: the height the README says to reserve, 184 px for NPS and 138 for CES,
        // plus 22 for each line the question wraps onto.
        let [height, lines] = world
            .in_widget(LOYALTY, "(() => { const q = root.querySelector('#q');
                return [root.querySelector('.card').getBoundingClientRect().height,
                        Math.round(q.getBoundingClientRect().height / parseFloat(getComputedStyle(q).lineHeight))]; })()")
            .await
            .as_array()
            .and_then(|pair| Some([pair.first()?.as_f64()?, pair.get(1)?.as_f64()?]))
            .expect("a height and a number of lines");
        let first = if survey == "effort" { 138.0 } else { 184.0 };
        assert_eq!(
            height,
            first + 22.0 * (lines - 1.0),
            "{name}: the documented first height"
        );
        world
            .emoji(LOYALTY, tap)
            .await
            .click()
            .await
            .expect("a tap");
        tokio::time::sleep(Duration::from_millis(700)).await;
        let shot = world
            .element("return document.querySelector('.shot')")
            .await
            .expect("the picture's frame");
        let path = world
            .screenshot(Some(&shot), &format!("widget-nps-{name}"))
            .await;
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 4000),
            "{path:?}"
        );
    }

    world.phone(360).await;
    let url = shop_page(
        &world,
        "/phone-looks",
        r#"<header>Kettle &amp; Co.</header>
<main><h1>Thank you, Sam!</h1><p class="muted">Order #20418 is confirmed and ships tomorrow.</p>
<div id="nps" data-pulsetap="loyalty" data-interaction="shot-phone" data-tags="agent=ana" style="display:block;min-height:206px"></div>
<p class="muted">We'll email you the tracking link as soon as it leaves our workshop.</p></main>
<script async src="{collector}pulsetap.js"></script>"#,
    );
    world.browser.goto(&url).await.expect("the page loads");
    world.emoji(LOYALTY, "9").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    world.screenshot(None, "widget-nps-phone").await;
    let overflow = world
        .js("return document.documentElement.scrollWidth - innerWidth")
        .await;
    assert_eq!(overflow, 0, "nothing scrolls sideways");
    world.close().await;
}

/// Four weeks of NPS answers, ending today, improving as the weeks go, and the widgets shown
/// for them (about two in five answered): written into the data directory before the collector
/// starts.
fn four_weeks_of_answers(data: &Path, config: &str) {
    use pulsetap_collector::domain::Rating;
    use pulsetap_collector::domain::rating::parse_impression;
    use pulsetap_collector::store::{Backend, EmbeddedStore, Write};
    use pulsetap_wire::RecordImpression;
    let surveys = pulsetap_collector::configuration::parse(config).expect("the configuration");
    let survey = surveys.get("loyalty").expect("the NPS survey");
    let store = EmbeddedStore::open(data).expect("a fresh store");
    let nine = time::Time::from_hms(9, 0, 0).expect("a time");
    let today = time::OffsetDateTime::now_utc().replace_time(nine);
    let comments = [
        (10, "fr", "Réponse rapide et très aimable, merci !"),
        (2, "en", "Three chats to get a refund. I'm done."),
        (9, "ar", "خدمة ممتازة وسريعة"),
        (6, "en", "Fine in the end, but I had to explain it twice."),
        (10, "en", "Ana sorted it in two minutes."),
        (8, "fr", "Bien, mais la livraison a pris du retard."),
    ];
    let agents = ["ana", "ben", "chloé", "dev"];
    let langs = ["en", "en", "fr", "ar"];
    let mut seed: u64 = 20_261_123;
    let mut writes = Vec::new();
    let mut n = 0u64;
    let mut said = 0usize;
    for day in (0..28i64).rev() {
        let answers = 6 + (day * 7 % 5);
        for hour in 0..answers {
            // A small linear congruential generator: the same history on every run.
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let roll = (seed >> 33) % 100;
            // Promoters grow from about 40% to 65% over the four weeks, detractors shrink.
            let trend = (27 - day) as u64;
            let score = if roll < 40 + trend {
                9 + (roll % 2) as u8
            } else if roll < 78 {
                7 + (roll % 2) as u8
            } else {
                (roll % 7) as u8
            };
            n += 1;
            // The last two days' first three answers each carry one of the comments.
            let comment = (day < 2 && hour < 3).then(|| {
                said += 1;
                comments[(said - 1) % comments.len()]
            });
            let (score, lang, comment) = match comment {
                Some((score, lang, text)) => (score, lang, Some(text.to_owned())),
                None => (score, langs[(seed >> 40) as usize % langs.len()], None),
            };
            let body = RecordResponse {
                survey: "loyalty".into(),
                response_id: format!("00000000-0000-4000-8000-{n:012}"),
                score,
                interaction: Some(format!("chat-{n}")),
                sig: None,
                tags: [(
                    "agent".to_owned(),
                    agents[(seed >> 45) as usize % agents.len()].to_owned(),
                )]
                .into(),
                comment,
                lang: Some(lang.into()),
            };
            let at = today - time::Duration::days(day) + time::Duration::minutes(hour * 37);
            // This answer's widget, and one or two shown to customers who did not answer.
            for shown in 0..(2 + n % 2) {
                let response_id = if shown == 0 {
                    body.response_id.clone()
                } else {
                    format!("00000000-0000-4000-9000-{:012}", n * 4 + shown)
                };
                let impression = RecordImpression {
                    survey: "loyalty".into(),
                    response_id,
                    interaction: None,
                    sig: None,
                    tags: body.tags.clone(),
                    lang: body.lang.clone(),
                };
                writes.push(Write::Impression {
                    survey: survey.id.clone(),
                    subject: parse_impression(impression, survey).expect("a valid impression"),
                    now: at,
                });
            }
            let rating = Rating::parse(body, survey).expect("a valid rating");
            writes.push(Write::Rating {
                survey: survey.id.clone(),
                rating,
                now: at,
                allowance_left: true,
            });
        }
    }
    store
        .apply(&surveys, &writes)
        .expect("the history is written");
    store.flush().expect("and flushed");
}

/// Waits until `expression` is truthy in the page, and returns it.
async fn until(world: &World, what: &str, expression: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let value = world.js(&format!("return {expression};")).await;
        if !matches!(&value, Value::Null | Value::Bool(false)) && value != json!("") {
            return value;
        }
        assert!(start.elapsed() < pulsetap_e2e::PATIENCE, "{what}: {value}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_nps_dashboard_shows_the_score_with_its_interval_the_three_groups_and_the_trend_in_nps()
{
    let world = World::start(Setup {
        surveys: KINDS,
        seed: Some(&four_weeks_of_answers),
        ..Setup::default()
    })
    .await;
    let summary = world.collector.summary_of("loyalty").expect("a summary");
    let (score, groups) = nps(&summary);
    let score = score.expect("an NPS");
    world
        .browser
        .set_window_size(1280, 1900)
        .await
        .expect("a desktop-sized window");
    world
        .browser
        .goto(&world.collector.url("dashboard"))
        .await
        .expect("the dashboard loads");
    world
        .js("sessionStorage.setItem('pulsetap.survey', 'loyalty'); return true;")
        .await;
    let key = world.browser.find(css("#key")).await.expect("a key field");
    key.send_keys(READ_KEY).await.expect("typed");
    world
        .browser
        .find(css("#signin-form button[type=submit]"))
        .await
        .expect("a sign-in button")
        .click()
        .await
        .expect("signed in");
    until(
        &world,
        "the NPS card shows",
        "document.getElementById('kpi-figure-name').textContent === 'NPS' && document.getElementById('kpi-figure').textContent !== '—'",
    )
    .await;
    let signed = format!(
        "{}{}",
        if score > 0.0 {
            "+"
        } else if score < 0.0 {
            "−"
        } else {
            ""
        },
        score.abs().round()
    );
    let card = world
        .js("return [document.getElementById('kpi-figure').textContent, document.getElementById('kpi-figure-note').textContent, document.querySelectorAll('#kpi-groups .groups-bar span').length, document.querySelector('#kpi-groups [role=img]').getAttribute('aria-label')]")
        .await;
    assert_eq!(card[0], signed);
    assert!(
        card[1].as_str().unwrap().starts_with("95% interval "),
        "{card}"
    );
    assert_eq!(card[2], 3, "promoters, passives and detractors");
    assert_eq!(
        card[3],
        format!(
            "Promoters {}, Passives {}, Detractors {}",
            groups[0], groups[1], groups[2]
        )
    );
    let trend = until(
        &world,
        "the trend is drawn in NPS",
        "(() => { const t = [...document.querySelectorAll('#trend text')].map((e) => e.textContent);
                  return document.querySelector('#trend .figure-line') && t.includes('+100') && t.includes('−100') && t; })()",
    )
    .await;
    assert!(
        trend.as_array().is_some_and(|t| t.contains(&json!("0"))),
        "{trend}"
    );
    let header = world
        .js("return [...document.querySelectorAll('#breakdown th')].map((th) => th.textContent)")
        .await;
    assert_eq!(header[2], "NPS (95% interval)");
    let rows = world
        .js("return document.querySelectorAll('#distribution .dist-row').length")
        .await;
    assert_eq!(rows, 11, "a row for every score from 0 to 10");
    until(
        &world,
        "the comments show",
        "document.querySelectorAll('#comments .comment').length >= 3",
    )
    .await;
    let arabic = world
        .js("return [...document.querySelectorAll('#comments .comment-text')].find((p) => p.textContent.startsWith('خدمة'))?.dir")
        .await;
    assert_eq!(arabic, "auto", "a comment in Arabic reads right to left");
    tokio::time::sleep(Duration::from_millis(500)).await;
    world.screenshot(None, "dashboard-nps").await;
    let violations = world.browser.accessibility_violations().await;
    assert!(violations.is_empty(), "{}", violations.join("\n"));

    world
        .js("document.documentElement.dataset.theme = 'dark'; return true;")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    world.screenshot(None, "dashboard-nps-dark").await;
    let violations = world.browser.accessibility_violations().await;
    assert!(violations.is_empty(), "dark: {}", violations.join("\n"));
    world.close().await;
}

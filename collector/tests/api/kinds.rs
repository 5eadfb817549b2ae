//! Surveys of every kind: NPS (0 to 10) and CES (1 to 7) through every read, the alert and the
//! email channel.

use crate::helpers::*;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use pulsetap_wire::{
    Breakdown, Comments, Figures, KindFigures, ResponseRecord, Summary, SurveyList, Timeseries,
    WidgetConfig,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// The key a shop server asks for email links with.
const SHOP_SERVER_KEY: &str = "shop-server-key";

/// An NPS survey in English, French and Arabic and a CES survey, both read by the marketing key;
/// `{port}` is where the NPS survey's alerts go.
const CONFIG: &str = r#"
read_keys = ["marketing-team-key"]
write_keys = ["shop-server-key"]

[limits]
visitor_requests_per_second = 100000
visitor_burst = 100000

[[survey]]
id = "loyalty"
kind = "nps"
allowed_origins = ["https://shop.example.com"]
tags = ["agent"]
secret = "a long random string for tests"
min_group_size = 1
alert = { webhook = "http://127.0.0.1:{port}/hook" }

[survey.texts.fr]
question = "Quelle est la probabilité que vous nous recommandiez ?"
low_label = "Peu probable"
high_label = "Très probable"
follow_up = "Pourquoi cette note ?"
thank_you = "Merci !"
send = "Envoyer"
confirm = "Touchez votre réponse pour l'envoyer, ou choisissez-en une autre."

[survey.texts.ar]
question = "ما مدى احتمال أن توصي بنا لصديق؟"
low_label = "غير محتمل"
high_label = "محتمل جدا"
follow_up = "ما سبب تقييمك؟"
thank_you = "شكرا لك!"
send = "إرسال"
confirm = "اضغط على إجابتك لإرسالها، أو اختر غيرها."

[[survey]]
id = "effort"
kind = "ces"
allowed_origins = ["https://shop.example.com"]
tags = ["channel"]
min_group_size = 1
"#;

/// A webhook receiver: every body it was posted.
#[derive(Clone, Default)]
struct Hook(Arc<Mutex<Vec<Value>>>);

async fn received(State(hook): State<Hook>, body: String) {
    hook.0
        .lock()
        .unwrap()
        .push(serde_json::from_str(&body).expect("an alert is JSON"));
}

/// The app, with the NPS survey's alerts going to a receiver of its own.
async fn spawn() -> (TestApp, Hook) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hook = Hook::default();
    let receiver = Router::new()
        .route("/hook", post(received))
        .with_state(hook.clone());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let app = spawn_app_with(&CONFIG.replace("{port}", &port.to_string())).await;
    (app, hook)
}

/// Posts a rating as the widget does; returns its body.
async fn rate(app: &TestApp, survey: &str, score: u8, extra: Value) -> Value {
    let mut body = json!({"survey": survey, "response_id": new_id(), "score": score});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let answer = app.post_response(&body).await;
    assert_eq!(answer.status(), 201, "{body}");
    body
}

async fn read<T: serde::de::DeserializeOwned>(app: &TestApp, path: &str) -> T {
    let response = app.get_with_key(path, Some(MARKETING_KEY)).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("a JSON body")
}

fn nps(figures: &Figures) -> (Option<f64>, Option<[f64; 2]>, [u64; 3]) {
    match &figures.kind {
        KindFigures::Nps {
            nps,
            nps_ci95,
            promoters,
            passives,
            detractors,
        } => (*nps, *nps_ci95, [*promoters, *passives, *detractors]),
        other => panic!("not NPS figures: {other:?}"),
    }
}

fn easy(figures: &Figures) -> (Option<f64>, Option<[f64; 2]>) {
    match &figures.kind {
        KindFigures::Ces { easy, easy_ci95 } => (*easy, *easy_ci95),
        other => panic!("not CES figures: {other:?}"),
    }
}

/// Ten answers: 5 promoters, 3 passives, 2 detractors (a 0 among them): NPS 30.
const NPS_SCORES: [(u8, &str, &str); 10] = [
    (10, "alice", "fr"),
    (10, "alice", "fr"),
    (9, "alice", "en"),
    (9, "bob", "ar"),
    (10, "bob", "en"),
    (8, "bob", "en"),
    (8, "alice", "fr"),
    (7, "bob", "en"),
    (6, "alice", "ar"),
    (0, "bob", "fr"),
];

#[tokio::test]
async fn every_read_of_an_nps_survey_reports_nps_with_its_interval_and_scores_from_0_to_10() {
    let (app, _) = spawn().await;
    let mut feed = app
        .client
        .get(format!("{}/v1/surveys/loyalty/live", app.address))
        .bearer_auth(MARKETING_KEY)
        .send()
        .await
        .unwrap()
        .bytes_stream()
        .eventsource();
    for (score, agent, lang) in NPS_SCORES {
        let comment = (score == 0).then_some("Never again");
        let extra = json!({"tags": {"agent": agent}, "lang": lang, "comment": comment});
        rate(&app, "loyalty", score, extra).await;
    }

    let list: SurveyList = read(&app, "/v1/surveys").await;
    let info = list.surveys.iter().find(|s| s.id == "loyalty").unwrap();
    assert_eq!((info.kind.as_str(), info.first_score), ("nps", 0));
    assert_eq!(info.scale.len(), 11);
    assert_eq!(info.languages, ["en", "ar", "fr"]);
    assert_eq!(
        (info.low_label.as_str(), info.high_label.as_str()),
        ("Not likely", "Very likely")
    );

    let summary: Summary = read(&app, "/v1/surveys/loyalty/summary").await;
    let figures = &summary.figures;
    assert_eq!(figures.responses, 10);
    assert_eq!(nps(figures), (Some(30.0), Some([-19.1, 65.2]), [5, 3, 2]));
    assert_eq!(figures.counts.len(), 11);
    assert_eq!((figures.counts["0"], figures.counts["10"]), (1, 3));
    assert_eq!(figures.average, Some(7.7));
    let text = app
        .get_with_key("/v1/surveys/loyalty/summary", Some(MARKETING_KEY))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#""kind":"nps","nps":30.0,"#), "{text}");
    assert!(
        !text.contains("csat"),
        "an NPS summary carries no CSAT: {text}"
    );

    let series: Timeseries = read(&app, "/v1/surveys/loyalty/timeseries?interval=hour").await;
    let busy: Vec<&Figures> = series
        .buckets
        .iter()
        .map(|bucket| &bucket.figures)
        .filter(|figures| figures.responses > 0)
        .collect();
    assert_eq!(busy.len(), 1, "every answer in this hour");
    assert_eq!(nps(busy[0]).0, Some(30.0));
    assert_eq!(nps(&series.buckets[0].figures), (None, None, [0, 0, 0]));

    let by_agent: Breakdown = read(&app, "/v1/surveys/loyalty/breakdown?by=agent").await;
    let alice = by_agent.groups.iter().find(|g| g.value == "alice").unwrap();
    // alice: 10, 10, 9 promoters; 8 passive; 6 detractor: (3 − 1)/5 = 40.
    assert_eq!(nps(alice.figures.as_ref().unwrap()).0, Some(40.0));

    let comments: Comments = read(&app, "/v1/surveys/loyalty/comments").await;
    assert_eq!(comments.comments.len(), 1);
    assert_eq!(
        (
            comments.comments[0].score,
            comments.comments[0].lang.as_deref()
        ),
        (0, Some("fr"))
    );

    let ndjson = app
        .get_with_key("/v1/surveys/loyalty/responses", Some(MARKETING_KEY))
        .await
        .text()
        .await
        .unwrap();
    let records: Vec<ResponseRecord> = ndjson
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 10);
    assert!(
        records
            .iter()
            .any(|r| r.score == 0 && r.history[0].score == 0)
    );
    let csv = app
        .get_with_key(
            "/v1/surveys/loyalty/responses?format=csv",
            Some(MARKETING_KEY),
        )
        .await
        .text()
        .await
        .unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (kind, score, lang) = (column("kind"), column("score"), column("lang"));
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert!(rows.iter().all(|row| &row[kind] == "nps"));
    assert!(
        rows.iter()
            .any(|row| &row[score] == "0" && &row[lang] == "fr")
    );

    // The live feed sent each answer with its score and language.
    let mut seen = Vec::new();
    while seen.len() < NPS_SCORES.len() {
        let event = tokio::time::timeout(Duration::from_secs(5), feed.next())
            .await
            .expect("an event")
            .unwrap()
            .unwrap();
        if event.event == "message" {
            let record: ResponseRecord = serde_json::from_str(&event.data).unwrap();
            seen.push((record.score, record.lang.unwrap_or_default()));
        }
    }
    assert_eq!(seen.last(), Some(&(0, "fr".to_owned())));

    // A score past 10 is refused with the survey's own range, and says so in the refusals.
    let refused = app
        .post_response(&json!({"survey": "loyalty", "response_id": new_id(), "score": 11}))
        .await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "score_out_of_range");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("between 0 and 10")
    );
    let refusals: Value = read(&app, "/v1/surveys/loyalty/refusals").await;
    assert_eq!(refusals["reasons"][0]["reason"], "score_out_of_range");

    let audit = app.state.store.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
}

#[tokio::test]
async fn every_read_of_a_ces_survey_reports_the_average_effort_and_the_easy_share() {
    let (app, _) = spawn().await;
    for (score, channel) in [
        (7, "chat"),
        (6, "chat"),
        (5, "email"),
        (2, "email"),
        (1, "chat"),
    ] {
        rate(&app, "effort", score, json!({"tags": {"channel": channel}})).await;
    }
    let list: SurveyList = read(&app, "/v1/surveys").await;
    let info = list.surveys.iter().find(|s| s.id == "effort").unwrap();
    assert_eq!((info.kind.as_str(), info.first_score), ("ces", 1));
    assert_eq!(info.scale, ["1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(info.satisfied_min, 5);

    let summary: Summary = read(&app, "/v1/surveys/effort/summary").await;
    assert_eq!(summary.figures.average, Some(4.2));
    // Three of five at 5 or above; Wilson 95%: [23.1, 88.2].
    assert_eq!(easy(&summary.figures), (Some(60.0), Some([23.1, 88.2])));
    assert_eq!(summary.figures.counts.len(), 7);
    assert!(!summary.figures.counts.contains_key("0"));

    let series: Timeseries = read(&app, "/v1/surveys/effort/timeseries").await;
    assert_eq!(easy(&series.buckets.last().unwrap().figures).0, Some(60.0));
    let by_channel: Breakdown = read(&app, "/v1/surveys/effort/breakdown?by=channel").await;
    let chat = by_channel
        .groups
        .iter()
        .find(|g| g.value == "chat")
        .unwrap();
    assert_eq!(chat.figures.as_ref().unwrap().average, Some(4.67));
    let csv = app
        .get_with_key(
            "/v1/surveys/effort/responses?format=csv",
            Some(MARKETING_KEY),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.lines().nth(1).unwrap().starts_with("effort,ces,"),
        "{csv}"
    );

    let refused = app
        .post_response(&json!({"survey": "effort", "response_id": new_id(), "score": 0}))
        .await;
    assert_eq!(refused.status(), 422, "CES starts at 1");
    let config: WidgetConfig = app
        .client
        .get(format!("{}/v1/surveys/effort/widget", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((config.kind.as_str(), config.first_score), ("ces", 1));
    assert_eq!(
        (config.low_label.as_str(), config.high_label.as_str()),
        ("Very difficult", "Very easy")
    );
}

#[tokio::test]
async fn responses_break_down_and_filter_by_the_language_they_were_answered_in() {
    let (app, _) = spawn().await;
    for (score, agent, lang) in NPS_SCORES {
        let impression = json!({"survey": "loyalty", "response_id": new_id(), "lang": lang,
                                "tags": {"agent": agent}});
        let shown = app
            .post_raw(
                "/v1/impressions",
                impression.to_string(),
                &[("content-type", "application/json"), ("origin", SHOP)],
            )
            .await;
        assert_eq!(shown.status(), 204);
        let extra = json!({"tags": {"agent": agent}, "lang": lang,
                           "response_id": impression["response_id"]});
        rate(&app, "loyalty", score, extra).await;
    }
    // One more French widget shown and not answered.
    let unanswered = json!({"survey": "loyalty", "response_id": new_id(), "lang": "fr"});
    app.post_raw(
        "/v1/impressions",
        unanswered.to_string(),
        &[("content-type", "application/json"), ("origin", SHOP)],
    )
    .await;

    let by_lang: Breakdown = read(&app, "/v1/surveys/loyalty/breakdown?by=lang").await;
    let groups: Vec<(&str, u64, u64)> = by_lang
        .groups
        .iter()
        .map(|g| {
            let figures = g.figures.as_ref().unwrap();
            (g.value.as_str(), figures.responses, figures.impressions)
        })
        .collect();
    assert_eq!(groups, [("ar", 2, 2), ("en", 4, 4), ("fr", 4, 5)]);
    let french = by_lang.groups.iter().find(|g| g.value == "fr").unwrap();
    let french = french.figures.as_ref().unwrap();
    // fr: 10, 10 promoters; 8 passive; 0 detractor: (2 − 1)/4 = 25.
    assert_eq!(nps(french).0, Some(25.0));
    assert_eq!(french.response_rate, Some(80.0));

    let filtered: Summary = read(&app, "/v1/surveys/loyalty/summary?tag=lang=ar").await;
    assert_eq!(filtered.figures.responses, 2);
    assert_eq!(filtered.tag.as_deref(), Some("lang=ar"));
    let comments = app
        .get_with_key(
            "/v1/surveys/loyalty/comments?tag=lang=de",
            Some(MARKETING_KEY),
        )
        .await;
    assert_eq!(
        comments.status(),
        200,
        "a language nobody answered in is empty"
    );

    // A language the survey does not speak is refused, and so is a breakdown by an unknown key.
    let german = app
        .post_response(
            &json!({"survey": "loyalty", "response_id": new_id(), "score": 9, "lang": "de"}),
        )
        .await;
    assert_eq!(german.status(), 422);
    let body: Value = german.json().await.unwrap();
    assert_eq!(body["error"], "unknown_lang");
    let other = app
        .get_with_key("/v1/surveys/effort/breakdown?by=team", Some(MARKETING_KEY))
        .await;
    assert_eq!(other.status(), 422);
    let audit = app.state.store.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
}

#[tokio::test]
async fn an_nps_detractor_alerts_and_a_passive_or_a_promoter_does_not() {
    let (app, hook) = spawn().await;
    rate(&app, "loyalty", 9, json!({"interaction": "chat-9"})).await;
    rate(&app, "loyalty", 7, json!({"interaction": "chat-7"})).await;
    let detractor = rate(
        &app,
        "loyalty",
        6,
        json!({"interaction": "chat-6", "tags": {"agent": "bob"}, "comment": "Slow", "lang": "fr"}),
    )
    .await;
    rate(&app, "loyalty", 0, json!({"interaction": "chat-0"})).await;

    // Alerts close together go as one message (a batch) or one each: count the responses told.
    let told = |posts: &[Value]| -> Vec<Value> {
        posts
            .iter()
            .flat_map(|post| match post["kind"].as_str() {
                Some("batch") => post["notices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|notice| notice["response"].clone())
                    .collect(),
                _ => vec![post["response"].clone()],
            })
            .collect()
    };
    tokio::time::timeout(Duration::from_secs(15), async {
        while told(&hook.0.lock().unwrap()).len() < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the detractors' alerts arrive");
    // Time for a wrongly queued alert to arrive too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts = hook.0.lock().unwrap().clone();
    let responses = told(&posts);
    let mut scores: Vec<&Value> = responses.iter().map(|r| &r["score"]).collect();
    scores.sort_by_key(|score| score.as_u64());
    assert_eq!(scores, [0, 6], "only the 6 and the 0: {posts:?}");
    let text: String = posts
        .iter()
        .map(|post| post["text"].as_str().unwrap())
        .collect();
    assert!(
        text.contains("6/10 (a detractor) for chat-6 · agent=bob"),
        "{text}"
    );
    assert!(text.contains("0/10 (a detractor) for chat-0"), "{text}");
    let six = responses
        .iter()
        .find(|response| response["score"] == 6)
        .expect("the 6 alerted");
    assert_eq!(six["response_id"], detractor["response_id"]);
    assert_eq!(six["lang"], "fr");
}

#[tokio::test]
async fn eleven_email_links_in_french_record_through_their_landing_page() {
    let (app, _) = spawn().await;
    let email: pulsetap_collector::email::EmailLinks = app
        .client
        .get(format!("{}/v1/surveys/loyalty/email", app.address))
        .query(&[
            ("interaction", "T-11"),
            ("tags", "agent=alice"),
            ("lang", "fr-CA,en"),
            ("format", "json"),
        ])
        .bearer_auth(SHOP_SERVER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(email.lang, "fr");
    assert_eq!(
        email.question,
        "Quelle est la probabilité que vous nous recommandiez ?"
    );
    let scores: Vec<u8> = email.links.iter().map(|link| link.score).collect();
    assert_eq!(scores, (0..=10).collect::<Vec<_>>());
    assert_eq!(email.html.matches("<a ").count(), 11);
    assert!(email.html.contains(">Peu probable</td>"));
    assert!(email.links.iter().all(|link| link.url.contains("&l=fr&s=")));

    // A person opens the 2: the page is in French, then confirms it.
    let two = &email.links[2].url;
    let page = app.client.get(two).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"fr\" dir=\"ltr\">"), "{html}");
    assert!(html.contains("<h1>Quelle est la probabilité que vous nous recommandiez ?</h1>"));
    assert!(html.contains("data-lang=\"fr\""));
    assert!(
        html.contains("Touchez votre réponse pour l&#39;envoyer, ou choisissez-en une autre."),
        "the line asking for the tap is in French too: {html}"
    );
    assert!(html.contains("<button type=\"submit\">Envoyer</button>"));
    assert_eq!(
        html.matches("<li><a ").count(),
        11,
        "every other answer is one tap away"
    );
    let confirmed = confirm_link(&app, two, "Trop lent").await;
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("<h1>Merci !</h1>"));

    // A changed mind: the 0 of the same email replaces the 2.
    assert_eq!(
        confirm_link(&app, &email.links[0].url, "").await.status(),
        200
    );
    let records = app.export("loyalty").await;
    assert_eq!(records.len(), 1, "one email, one response");
    assert_eq!(
        (
            records[0].score,
            records[0].lang.as_deref(),
            records[0].comment.as_deref()
        ),
        (0, Some("fr"), Some("Trop lent"))
    );
    let summary: Summary = read(&app, "/v1/surveys/loyalty/summary").await;
    assert_eq!(
        nps(&summary.figures),
        (Some(-100.0), Some([-100.0, 48.5]), [0, 0, 1])
    );
    assert_eq!(
        summary.figures.unconfirmed_clicks, 1,
        "the 2 was opened, never the 0"
    );

    // An Arabic email's page reads right to left; an edited language is a damaged link.
    let arabic: pulsetap_collector::email::EmailLinks = app
        .client
        .get(format!("{}/v1/surveys/loyalty/email", app.address))
        .query(&[("interaction", "T-12"), ("lang", "ar"), ("format", "json")])
        .bearer_auth(SHOP_SERVER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(arabic.html.contains("lang=\"ar\" dir=\"rtl\""));
    let page = app.client.get(&arabic.links[9].url).send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<html lang=\"ar\" dir=\"rtl\">")
    );
    let edited = arabic.links[9].url.replace("&l=ar&", "&l=fr&");
    assert_eq!(app.client.get(&edited).send().await.unwrap().status(), 403);
}

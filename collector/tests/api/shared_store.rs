//! Two collector processes on one PostgreSQL database, as two machines behind a load balancer
//! (one serving in the test's process, one `collector serve` child): every interaction counts
//! once whichever collector each request reached, an unhappy rating is alerted once, and a
//! dashboard on one collector sees ratings posted to the other.
//!
//! They need a PostgreSQL server: `scripts/test.sh` runs them (`--include-ignored`) with
//! `PULSETAP_TEST_STORE` naming a throwaway one.

use crate::helpers::*;
use crate::marketer_alerts::{
    Received, alerted_ids, config_with_webhook, free_port, start_receiver, unhappy,
};
use crate::marketer_live::{next_response, open_feed, ready};
use futures::future::join_all;
use pulsetap_collector::alerts::coalesce;
use pulsetap_collector::configuration;
use pulsetap_collector::domain::Rating;
use pulsetap_collector::domain::calendar::unix_ms;
use pulsetap_collector::store::postgres::CLAIM;
use pulsetap_collector::store::{Location, Write};
use pulsetap_wire::RecordResponse;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const NEEDS_POSTGRES: &str = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)";

/// Two collectors sharing one database: one in this process, one in a child process.
async fn two_collectors(config: &str) -> (TestApp, CollectorProcess) {
    let server = test_postgres().expect(NEEDS_POSTGRES);
    let first = spawn_app_with(config).await;
    let database = test_database(&server, first.data_path()).await;
    let second = CollectorProcess::start(config, &database);
    (first, second)
}

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn a_duplicate_storm_split_over_two_collectors_counts_once() {
    let (first, second) = two_collectors(CONFIG).await;
    let body = json!({"survey": "support", "response_id": new_id(), "score": 4,
                      "interaction": "chat-storm", "comment": "Fine"});

    let answers = join_all((0..60).map(|n| {
        let app: &Collector = if n % 2 == 0 { &first } else { &second };
        let body = body.clone();
        async move { app.post_response(&body).await.status().as_u16() }
    }))
    .await;

    let mut by_status = BTreeMap::new();
    for status in answers {
        *by_status.entry(status).or_insert(0) += 1;
    }
    assert_eq!(by_status, BTreeMap::from([(200, 59), (201, 1)]));
    for app in [&*first, &*second] {
        assert_eq!(app.summary("support", "").await.figures.responses, 1);
        assert_eq!(app.export("support").await.len(), 1);
    }
    let audit = first.state.store.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
}

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn five_hundred_strangers_on_one_interaction_over_two_collectors_get_one_201() {
    let (first, second) = two_collectors(CONFIG).await;

    let answers = join_all((0..500).map(|n| {
        let app: &Collector = if n % 2 == 0 { &first } else { &second };
        async move {
            let body = json!({"survey": "support", "response_id": new_id(), "score": 1 + n % 5,
                              "interaction": "chat-contested"});
            app.post_response(&body).await.status().as_u16()
        }
    }))
    .await;

    let created = answers.iter().filter(|&&status| status == 201).count();
    let conflicts = answers.iter().filter(|&&status| status == 409).count();
    assert_eq!((created, conflicts), (1, 499), "{answers:?}");
    assert_eq!(second.summary("support", "").await.figures.responses, 1);
    let audit = first.state.store.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
}

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn the_live_feed_of_one_collector_shows_a_rating_posted_to_the_other_within_a_second() {
    let (first, second) = two_collectors(CONFIG).await;
    let mut feed = open_feed(&second, "support", None).await;
    ready(&mut feed).await;

    let body = json!({"survey": "support", "response_id": new_id(), "score": 5,
                      "comment": "posted to the first collector"});
    let posted = Instant::now();
    assert_eq!(first.post_response(&body).await.status(), 201);
    let (_, record) = next_response(&mut feed).await;

    assert_eq!(record.response_id, body["response_id"].as_str().unwrap());
    assert!(
        posted.elapsed() < Duration::from_secs(1),
        "seen after {:?}",
        posted.elapsed()
    );
}

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn unhappy_ratings_sent_to_two_collectors_are_each_alerted_once() {
    let port = free_port().await;
    let received = Received::default();
    start_receiver(port, received.clone()).await;
    let (first, second) = two_collectors(&config_with_webhook(port, "")).await;

    let mut expected = Vec::new();
    for n in 0..6 {
        let app: &Collector = if n % 2 == 0 { &first } else { &second };
        let body = unhappy(&format!("chat-{n}"), None);
        expected.push(body["response_id"].as_str().unwrap().to_owned());
        assert_eq!(app.post_response(&body).await.status(), 201);
    }

    // Every one arrives; then nothing more comes, however long both workers keep looking.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alerted: Vec<String> = received
            .all()
            .iter()
            .flat_map(|(_, body)| alerted_ids(body))
            .collect();
        if expected.iter().all(|id| alerted.contains(id)) {
            break;
        }
        assert!(Instant::now() < deadline, "alerted only {alerted:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut alerted: Vec<String> = received
        .all()
        .iter()
        .flat_map(|(_, body)| alerted_ids(body))
        .collect();
    alerted.sort();
    expected.sort();
    assert_eq!(alerted, expected, "each alerted exactly once");
}

/// The race behind a second post: a worker's round seals a due message and posts it at once,
/// and sealing writes it back into the outbox. The other collector's worker, looking in at that
/// moment, must leave it to the one posting it; only when that one's claim has run out (it
/// died mid-post) does the other take the message over.
#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn a_message_one_collector_sealed_to_post_is_left_to_it_until_its_claim_runs_out() {
    let server = test_postgres().expect(NEEDS_POSTGRES);
    let data = tempfile::TempDir::new().expect("a temp dir");
    let database = test_database(&server, data.path()).await;
    let first = Location::Postgres(database.clone()).open().await.unwrap();
    let second = Location::Postgres(database).open().await.unwrap();
    let surveys = configuration::parse(&config_with_webhook(9, "")).unwrap();

    // The stores block: drive them from a thread of their own, as the writer and readers do.
    tokio::task::spawn_blocking(move || {
        let survey = surveys.get("support").unwrap();
        let body: RecordResponse = serde_json::from_value(unhappy("chat-sealed", None)).unwrap();
        let now = OffsetDateTime::now_utc();
        let rating = Rating::parse(body, survey).unwrap();
        first
            .apply(
                &surveys,
                &[Write::Rating {
                    survey: survey.id.clone(),
                    rating,
                    now,
                    allowance_left: true,
                }],
            )
            .unwrap();

        // The first collector's round, once the alert has gathered: it seals the message.
        let round = unix_ms(now) + millis(coalesce::GATHER) + 1;
        let found = first.due_alerts(round, 256).unwrap();
        let plan = coalesce::plan(found.due, round, &HashMap::new());
        let posting: Vec<String> = plan
            .post
            .iter()
            .map(|m| m.idempotency_key.clone())
            .collect();
        assert_eq!(posting.len(), 1, "the round seals the alert to post it");
        let changes = plan
            .changes
            .into_iter()
            .map(|change| Write::Outbox(Box::new(change)));
        first.apply(&surveys, &changes.collect::<Vec<_>>()).unwrap();

        // While it posts, the second collector's worker looks.
        let meanwhile = second.due_alerts(round, 256).unwrap();
        assert!(
            meanwhile.due.is_empty(),
            "the other collector would post it too: {:?}",
            meanwhile.due
        );

        let claim_over = round + millis(CLAIM) + 1;
        let taken_over: Vec<String> = second
            .due_alerts(claim_over, 256)
            .unwrap()
            .due
            .iter()
            .map(|m| m.idempotency_key.clone())
            .collect();
        assert_eq!(
            taken_over, posting,
            "a message its collector never finished is delivered"
        );
    })
    .await
    .unwrap();
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap()
}

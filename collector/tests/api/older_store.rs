//! A data directory written before responses and counters took their compact formats
//! (2026-12-04): what it holds reads, counts and audits as before, and what changes is written
//! back in today's formats.

use crate::helpers::*;
use pulsetap_collector::domain::Response;
use pulsetap_collector::domain::calendar::{Day, Hour, unix_ms};
use pulsetap_collector::store::counts::SLOTS;
use pulsetap_collector::store::embedded::keys;
use pulsetap_collector::store::{Backend, Dimension, Grain};
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

/// Scores of the responses the older store holds, by response_id.
const OLDER: [(&str, u8); 3] = [
    ("0c1f5a52-3d4e-4b8a-9f10-000000000001", 2),
    ("0c1f5a52-3d4e-4b8a-9f10-000000000002", 5),
    ("0c1f5a52-3d4e-4b8a-9f10-000000000003", 4),
];

/// Writes what a collector before the compact formats left in `data`: each response as JSON,
/// each counter as `SLOTS` big-endian u64s (responses by score 0 to 10, impressions, unconfirmed
/// clicks, registrations, answered invitations).
fn write_older_store(data: &std::path::Path) {
    let db = fjall::SingleWriterTxDatabase::builder(data.join("fjall"))
        .open()
        .unwrap();
    let responses = db
        .keyspace("responses", fjall::KeyspaceCreateOptions::default)
        .unwrap();
    let counters = db
        .keyspace("counters", fjall::KeyspaceCreateOptions::default)
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let mut counts: HashMap<Vec<u8>, [u64; SLOTS]> = HashMap::new();
    for (id, score) in OLDER {
        let tags = BTreeMap::from([
            ("agent".to_owned(), "ana".to_owned()),
            ("channel".to_owned(), "chat".to_owned()),
        ]);
        let response = Response {
            survey: "support".into(),
            response_id: id.into(),
            interaction: None,
            score,
            tags: tags.clone(),
            comment: None,
            signed: false,
            created_ms: unix_ms(now),
            updated_ms: unix_ms(now),
            history: vec![(score, unix_ms(now))],
            last_event: 0,
            lang: None,
            alerted: false,
            registered: false,
        };
        let identity = keys::identity("support", None, id);
        responses
            .insert(identity, serde_json::to_vec(&response).unwrap())
            .unwrap();
        let dimensions = std::iter::once(Dimension::All)
            .chain(tags.iter().map(|(tag, value)| Dimension::Tag(tag, value)));
        for dimension in dimensions {
            for key in [
                keys::counter("support", &dimension, Grain::Day, Day::of(now).0),
                keys::counter("support", &dimension, Grain::Hour, Hour::of(now).0),
            ] {
                counts.entry(key).or_default()[usize::from(score)] += 1;
            }
        }
    }
    for (key, slots) in counts {
        let value: Vec<u8> = slots.iter().flat_map(|count| count.to_be_bytes()).collect();
        counters.insert(key, value).unwrap();
    }
    db.persist(fjall::PersistMode::SyncAll).unwrap();
}

/// The first byte of the stored response `id` and of the survey's counter for today.
fn first_bytes(data: &std::path::Path, id: &str) -> (u8, u8) {
    let db = fjall::SingleWriterTxDatabase::builder(data.join("fjall"))
        .open()
        .unwrap();
    let read = |tree: &str, key: Vec<u8>| {
        let tree = db
            .keyspace(tree, fjall::KeyspaceCreateOptions::default)
            .unwrap();
        tree.get(key).unwrap().expect("stored")[0]
    };
    let day = Day::of(OffsetDateTime::now_utc()).0;
    (
        read("responses", keys::identity("support", None, id)),
        read(
            "counters",
            keys::counter("support", &Dimension::All, Grain::Day, day),
        ),
    )
}

#[tokio::test]
async fn a_store_written_in_the_older_formats_reads_counts_and_audits_as_before() {
    let data = tempfile::TempDir::new().unwrap();
    write_older_store(data.path());
    assert_eq!(
        first_bytes(data.path(), OLDER[0].0),
        (b'{', 0),
        "written as before"
    );

    let app = spawn_embedded_app_on(data, CONFIG).await;
    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 3, "{summary:?}");
    assert_eq!(
        csat(&summary.figures).0,
        Some(66.7),
        "5 and 4 satisfied, 2 not"
    );
    let mut scores: Vec<_> = app
        .export("support")
        .await
        .into_iter()
        .map(|record| {
            (
                record.response_id,
                record.score,
                record.tags["agent"].clone(),
            )
        })
        .collect();
    scores.sort();
    assert_eq!(
        scores,
        OLDER.map(|(id, score)| (id.to_owned(), score, "ana".to_owned()))
    );

    // The customer changes an older answer, and another answers for the first time.
    let changed = serde_json::json!({"survey": "support", "response_id": OLDER[0].0, "score": 5});
    assert_eq!(app.post_response(&changed).await.status(), 200);
    assert_eq!(app.post_response(&rating(1)).await.status(), 201);
    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 4, "{summary:?}");
    assert_eq!(
        csat(&summary.figures).0,
        Some(75.0),
        "5, 5, 4 satisfied; 1 not"
    );
    let ana = app.summary("support", "tag=agent:ana").await;
    assert_eq!(ana.figures.responses, 3, "the change moved ana's counts");
    assert_eq!(csat(&ana.figures).0, Some(100.0));

    let data = app.stop().await;
    let audit = open_store(data.path()).await.audit().unwrap();
    assert_eq!(
        (audit.responses, audit.mismatches.len()),
        (4, 0),
        "{audit:?}"
    );
    drop(audit);
    assert_eq!(
        first_bytes(data.path(), OLDER[0].0),
        (1, 1),
        "the changed response and the counters it moved are written in today's formats"
    );
    assert_eq!(
        first_bytes(data.path(), OLDER[1].0).0,
        b'{',
        "the others as they were"
    );
}

//! `collector migrate`: a stopped collector's embedded store moves into an empty PostgreSQL
//! database, and a collector started on the database serves exactly what the old one did.
//!
//! It needs a PostgreSQL server: `scripts/test.sh` runs it (`--include-ignored`) with
//! `PULSETAP_TEST_STORE` naming a throwaway one.

use crate::helpers::*;
use crate::marketer_alerts::{config_with_webhook, free_port, unhappy};
use serde_json::json;
use std::process::{Command, Output};

fn migrate(data: &std::path::Path, store: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["migrate", "--data"])
        .arg(data)
        .args(["--store", store])
        .output()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn a_migrated_store_serves_the_same_responses_counts_and_pending_alerts() {
    let server = test_postgres().expect("PULSETAP_TEST_STORE names a PostgreSQL server");
    // A webhook nobody listens on: the alert stays in the outbox.
    let config = config_with_webhook(free_port().await, "");
    let old = spawn_embedded_app(&config).await;
    let changed = json!({"survey": "support", "response_id": new_id(), "score": 2,
                         "interaction": "chat-1", "tags": {"agent": "alice"},
                         "sig": sign("support", Some("chat-1"), &[("agent", "alice")])});
    assert_eq!(old.post_response(&changed).await.status(), 201);
    let mut again = changed.clone();
    again["score"] = json!(4);
    again["comment"] = json!("better after all");
    assert_eq!(old.post_response(&again).await.status(), 200);
    for score in [5, 3] {
        let body = json!({"survey": "support", "response_id": new_id(), "score": score,
                          "tags": {"agent": "bob"}});
        assert_eq!(old.post_response(&body).await.status(), 201);
    }
    assert_eq!(
        old.post_response(&unhappy("chat-9", Some("nobody came")))
            .await
            .status(),
        201
    );
    let shown = old
        .post_raw(
            "/v1/impressions",
            json!({"survey": "support", "response_id": new_id()}).to_string(),
            &[("Content-Type", "application/json"), ("Origin", SHOP)],
        )
        .await;
    assert_eq!(shown.status(), 204);
    let summary = old.summary("support", "").await;
    let mut exported = old.export("support").await;
    let waiting = old.state.store.due_alerts(i64::MAX, 10).await.unwrap().due;
    assert!(
        !waiting.is_empty(),
        "unhappy ratings wait for the dead webhook"
    );
    let data = old.stop().await;

    let database_dir = tempfile::tempdir().unwrap();
    let database = test_database(&server, database_dir.path()).await;
    let output = migrate(data.path(), &database);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("copied 4 responses"), "{stdout}");
    assert!(stdout.contains(", 0 mismatches"), "{stdout}");

    let new = spawn_app_on_database(&database, &config).await;
    assert_eq!(new.summary("support", "").await, summary);
    let mut migrated = new.export("support").await;
    let by_id = |a: &pulsetap_wire::ResponseRecord, b: &pulsetap_wire::ResponseRecord| {
        a.response_id.cmp(&b.response_id)
    };
    exported.sort_by(by_id);
    migrated.sort_by(by_id);
    assert_eq!(migrated, exported, "every response, with its history");
    let pending = new.state.store.due_alerts(i64::MAX, 10).await.unwrap().due;
    let ids = |messages: &[pulsetap_collector::store::AlertMessage]| {
        let mut ids: Vec<_> = messages
            .iter()
            .map(|message| (message.id, message.notices.len()))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&pending),
        ids(&waiting),
        "the alerts still wait for their webhook"
    );

    // New ratings go on from there: counted with the old ones, numbered after them.
    let newest_before = new.state.store.newest_event().await.unwrap().unwrap();
    let body = json!({"survey": "support", "response_id": new_id(), "score": 5});
    assert_eq!(new.post_response(&body).await.status(), 201);
    assert!(new.state.store.newest_event().await.unwrap().unwrap() > newest_before);
    assert_eq!(
        new.summary("support", "").await.figures.responses,
        summary.figures.responses + 1
    );

    // A second migration into a database that holds a store is refused and changes nothing.
    let output = migrate(data.path(), &database);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("already holds a store"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        new.summary("support", "").await.figures.responses,
        summary.figures.responses + 1
    );
}

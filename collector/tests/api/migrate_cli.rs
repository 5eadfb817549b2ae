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

/// French texts for the survey of `config_with_webhook`.
const FRENCH: &str = r#"
[survey.texts.fr]
question = "C'était comment ?"
labels = ["Très mal", "Mal", "Correct", "Bien", "Très bien"]
follow_up = "Pourquoi ?"
thank_you = "Merci !"
send = "Envoyer"
confirm = "Touchez votre réponse pour l'envoyer."
"#;

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn a_migrated_store_serves_the_same_responses_counts_and_pending_alerts() {
    let server = test_postgres().expect("PULSETAP_TEST_STORE names a PostgreSQL server");
    // A webhook nobody listens on: the alert stays in the outbox.
    // Groups of one are shown, so the registered agent's and the language's figures compare.
    let config = format!(
        "write_keys = [\"helpdesk-key\"]\n{}",
        config_with_webhook(free_port().await, "")
    )
    .replace(
        "tags = [\"agent\"]",
        "tags = [\"agent\"]\nmin_group_size = 1",
    ) + FRENCH;
    let old = spawn_embedded_app(&config).await;
    // A ticket the helpdesk registered, rated unsigned from its email in French: the registry
    // gives it its agent, and the invitation counts as answered.
    let registered = old
        .client
        .post(format!("{}/v1/surveys/support/interactions", old.address))
        .bearer_auth("helpdesk-key")
        .json(&json!([{"interaction": "T-7", "tags": {"agent": "carol"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 200);
    let from_email = json!({"survey": "support", "response_id": new_id(), "score": 4,
                            "interaction": "T-7", "lang": "fr"});
    let answered = old.post_response(&from_email).await;
    assert_eq!(answered.status(), 201, "{}", answered.text().await.unwrap());
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
    let mut old_filtered = std::collections::HashMap::new();
    for filter in ["agent=carol", "lang=fr"] {
        let query = format!("tag={filter}");
        old_filtered.insert(filter, old.summary("support", &query).await);
    }
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
    assert!(stdout.contains("copied 5 responses"), "{stdout}");
    assert!(stdout.contains("1 registrations"), "{stdout}");
    assert!(stdout.contains(", 0 mismatches"), "{stdout}");

    let new = spawn_app_on_database(&database, &config).await;
    assert_eq!(new.summary("support", "").await, summary);
    assert_eq!(summary.figures.responses, 5);
    for filter in ["agent=carol", "lang=fr"] {
        let query = format!("tag={filter}");
        assert_eq!(
            new.summary("support", &query).await,
            old_filtered[filter],
            "{filter}"
        );
    }
    let carol = &old_filtered["agent=carol"];
    assert_eq!(
        (carol.figures.invited, carol.figures.answered),
        (1, 1),
        "{carol:?}"
    );
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
    // The live feed reads below the oldest transaction still running on the server, which
    // another test's may hold back for a moment.
    let mut newest = newest_before;
    for _ in 0..100 {
        newest = new.state.store.newest_event().await.unwrap().unwrap();
        if newest > newest_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        newest > newest_before,
        "the new rating is numbered after the copied ones"
    );
    assert_eq!(
        new.summary("support", "").await.figures.responses,
        summary.figures.responses + 1
    );

    // The registry came along: the ticket's next rating still goes to its registered agent.
    let reassigned = json!({"survey": "support", "response_id": new_id(), "score": 5,
                            "interaction": "T-7", "tags": {"agent": "mallory"}});
    assert_eq!(new.post_response(&reassigned).await.status(), 200);
    let after = new.summary("support", "tag=agent=carol").await;
    assert_eq!(after.figures.responses, 1);

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

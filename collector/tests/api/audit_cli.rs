//! `collector audit`: recounts a store, and never creates or fights over one.

use crate::serve_cli::Server;
use std::process::{Command, Output};

fn audit(data: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collector"))
        .arg("audit")
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

#[test]
fn audit_of_a_mistyped_path_refuses_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("pulsetap-dta");
    let output = audit(&typo);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("{}: no such directory", typo.display())),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "no \"0 mismatches\" report: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!typo.exists(), "no store was created");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = audit(&empty);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("holds no store"));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "still empty");
}

#[test]
fn audit_of_a_store_a_running_collector_holds_says_to_stop_it_or_audit_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pulsetap.toml"), "[[survey]]\nid = \"s\"\n").unwrap();
    let server = Server::start(dir.path(), &["--data", "store"]);
    let output = audit(&dir.path().join("store"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("the store is in use by a running collector; stop it or audit a copy"),
        "{stderr}"
    );
    assert!(!stderr.contains("lock"), "no raw lock error: {stderr}");
    server.stop();

    // Once stopped, the same store audits cleanly.
    let output = audit(&dir.path().join("store"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("0 mismatches"));
}

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn audit_of_a_postgresql_store_recounts_it_while_its_collector_runs() {
    use crate::helpers::*;
    let server = test_postgres().expect("PULSETAP_TEST_STORE names a PostgreSQL server");
    let app = spawn_app().await;
    for score in [1, 4, 5] {
        assert_eq!(app.post_response(&rating(score)).await.status(), 201);
    }
    let database = test_database(&server, app.data_path()).await;

    let output = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["audit", "--store", &database])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("3 responses, 0 impressions") && stdout.contains(" 0 mismatches"),
        "{stdout}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["audit", "--store", "mysql://db/pulsetap"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("a store is a PostgreSQL URL"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

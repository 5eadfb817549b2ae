//! TLS to the database: with `sslmode=require` the collector speaks TLS to PostgreSQL and
//! checks the server's certificate against the trusted roots (the system's, or `SSL_CERT_FILE`),
//! refusing a server it cannot verify.
//!
//! It needs the TLS-enabled PostgreSQL that `scripts/test.sh` starts (`PULSETAP_TEST_PG_CA`
//! names the certificate authority it made for the run).

use crate::helpers::*;
use std::process::{Command, Stdio};

#[tokio::test]
#[ignore = "needs PULSETAP_TEST_STORE and PULSETAP_TEST_PG_CA (scripts/test.sh starts a PostgreSQL)"]
async fn a_collector_stores_over_tls_and_refuses_a_database_it_cannot_verify() {
    let server = test_postgres().expect("PULSETAP_TEST_STORE names a PostgreSQL server");
    let ca = std::env::var("PULSETAP_TEST_PG_CA").expect("PULSETAP_TEST_PG_CA names the test CA");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let database = test_database(&server, dir.path()).await;
    let over_tls = database.replace("sslmode=disable", "sslmode=require");
    assert_ne!(
        over_tls, database,
        "the test server's URL says sslmode=disable"
    );

    // Trusting the authority that signed the server's certificate: it serves and stores.
    let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--store", &over_tls])
        .env("SSL_CERT_FILE", &ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address = listening_address(&mut child);
    let posted = reqwest::Client::new()
        .post(format!("{address}/v1/responses"))
        .header("Origin", SHOP)
        .json(&rating(5))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    // Its connections are encrypted, as the server sees them.
    let (client, connection) = tokio_postgres::connect(&database, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let encrypted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
             WHERE ssl AND datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted > 0, "the collector's connections use TLS");
    child.kill().unwrap();
    child.wait().unwrap();

    // Trusting only the system's authorities, none of which signed it: refused, saying why.
    let refused = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["audit", "--store", &over_tls])
        .env_remove("SSL_CERT_FILE")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
}

//! Faults under load on PostgreSQL, with collectors as separate processes: one of two
//! collectors killed while the other goes on, and the database server itself restarted. In
//! both, every rating a collector acknowledged is stored and the counters equal a recount.
//!
//! They need a PostgreSQL server: `scripts/test.sh` runs them with `PULSETAP_TEST_STORE` naming
//! a throwaway one (and `PULSETAP_TEST_PG_DATA` its data directory, which the restart needs).

use crate::durability::{Known, Ledger, assert_every_acknowledged_rating_is_stored};
use crate::helpers::*;
use pulsetap_collector::store::{Backend, Location};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A signed rating of `interaction` (signed, so no anonymous limit gets in the way of the load).
fn signed_rating(interaction: &str, score: u8) -> Value {
    json!({"survey": "support", "response_id": new_id(), "score": score,
           "interaction": interaction, "tags": {"agent": "alice"},
           "sig": sign("support", Some(interaction), &[("agent", "alice")])})
}

/// The store's own view of `database`: every acknowledged rating there, and a clean audit.
async fn assert_database_holds(database: &str, known: HashMap<String, Known>) {
    let store: Arc<dyn Backend> = Location::Postgres(database.to_owned())
        .open()
        .await
        .expect("the database opens");
    tokio::task::spawn_blocking(move || {
        let audit = store.audit().unwrap();
        assert!(
            audit.mismatches.is_empty(),
            "aggregates equal a recount: {:?}",
            &audit.mismatches[..audit.mismatches.len().min(5)]
        );
        assert_every_acknowledged_rating_is_stored(&known, |interaction| {
            store.find("support", Some(interaction), "").unwrap()
        });
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PULSETAP_TEST_STORE (scripts/test.sh starts a PostgreSQL)"]
async fn one_of_two_collector_processes_killed_under_load_loses_no_acknowledged_rating() {
    let server = test_postgres().expect("PULSETAP_TEST_STORE names a PostgreSQL server");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let database = test_database(&server, dir.path()).await;
    let (mut doomed, doomed_address) =
        start_collector(&config, &dir.path().join("a"), Some(&database));
    let (mut survivor, survivor_address) =
        start_collector(&config, &dir.path().join("b"), Some(&database));

    let ledger = Ledger::default();
    let killed = Arc::new(AtomicBool::new(false));
    let answered_after_the_kill = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_millis(3_000);
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (client, ledger) = (client.clone(), ledger.clone());
        let (killed, after) = (killed.clone(), answered_after_the_kill.clone());
        // Half the clients start on the collector that dies; like a load balancer, they move
        // to the other one when it stops answering.
        let survivor_address = survivor_address.clone();
        let mut address = if worker % 2 == 0 {
            doomed_address.clone()
        } else {
            survivor_address.clone()
        };
        workers.push(tokio::spawn(async move {
            for n in 0.. {
                if Instant::now() > deadline {
                    break;
                }
                // Each interaction belongs to one worker, rated then changed once.
                let interaction = format!("w{worker}-{}", n / 2);
                let score = if n % 2 == 0 {
                    1 + (n % 5) as u8
                } else {
                    5 - (n % 3) as u8
                };
                ledger.sending(&interaction, score);
                let sent = client
                    .post(format!("{address}/v1/responses"))
                    .json(&signed_rating(&interaction, score))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        ledger.acknowledged(&interaction, score);
                        if killed.load(Ordering::SeqCst) {
                            after.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(response) => panic!("{address} answered {}", response.status()),
                    Err(_) => {
                        assert_ne!(address, survivor_address, "the survivor stopped answering");
                        address = survivor_address.clone();
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    doomed.kill().unwrap(); // SIGKILL: no flush, no goodbye
    doomed.wait().unwrap();
    killed.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }

    let after = answered_after_the_kill.load(Ordering::SeqCst);
    assert!(after > 10, "the other collector kept answering: {after}");
    let health = client
        .get(format!("{survivor_address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_database_holds(&database, ledger.snapshot()).await;
    survivor.kill().unwrap();
    survivor.wait().unwrap();
}

/// Runs `pg_ctl` on the test server's data directory, as its owner when the tests run as root
/// (PostgreSQL refuses to run as root).
fn pg_ctl(args: &[&str]) {
    let data = std::env::var("PULSETAP_TEST_PG_DATA")
        .expect("PULSETAP_TEST_PG_DATA names the test server's data directory");
    let bin = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    let pg_ctl = format!("{bin}/pg_ctl");
    let as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0\n"));
    let mut command = if as_root {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "postgres", "--", &pg_ctl]);
        command
    } else {
        std::process::Command::new(&pg_ctl)
    };
    // The server it starts logs where the first start had it log, beside the data directory;
    // with no output of its own to hold open, waiting for pg_ctl ends when pg_ctl does.
    let log = std::path::Path::new(&data).with_file_name("server.log");
    let status = command
        .args(["-D", &data, "-l"])
        .arg(&log)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("pg_ctl runs");
    assert!(
        status.success(),
        "pg_ctl {args:?} failed: see {}",
        log.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the test PostgreSQL server: scripts/test.sh runs it alone, after the others"]
async fn a_database_restart_under_load_is_answered_503_with_retry_after_and_loses_no_acknowledged_rating()
 {
    let server = test_postgres().expect("PULSETAP_TEST_STORE names a PostgreSQL server");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let database = test_database(&server, dir.path()).await;
    let (mut collector, address) =
        start_collector(&config, &dir.path().join("data"), Some(&database));

    let ledger = Ledger::default();
    let unavailable = Arc::new(AtomicUsize::new(0));
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let restarted = Arc::new(AtomicBool::new(false));
    let answered_after_the_restart = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::new();
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (client, address, ledger) = (client.clone(), address.clone(), ledger.clone());
        let (unavailable, unexpected) = (unavailable.clone(), unexpected.clone());
        let (restarted, after, stop) = (
            restarted.clone(),
            answered_after_the_restart.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                // A new interaction each time; a 503 is sent again, as the loader does, until
                // it is acknowledged.
                let interaction = format!("w{worker}-{n}");
                let score = 1 + (n % 5) as u8;
                ledger.sending(&interaction, score);
                let sent = client
                    .post(format!("{address}/v1/responses"))
                    .json(&signed_rating(&interaction, score))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        ledger.acknowledged(&interaction, score);
                        if restarted.load(Ordering::SeqCst) {
                            after.fetch_add(1, Ordering::SeqCst);
                        }
                        n += 1;
                    }
                    Ok(response) if response.status() == 503 => {
                        if response.headers().get("retry-after").is_none() {
                            unexpected
                                .lock()
                                .unwrap()
                                .push("a 503 without Retry-After".into());
                        }
                        unavailable.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(response) => {
                        let status = response.status();
                        let body = response.text().await.unwrap_or_default();
                        unexpected.lock().unwrap().push(format!("{status} {body}"));
                        n += 1;
                    }
                    Err(error) => {
                        unexpected
                            .lock()
                            .unwrap()
                            .push(format!("no answer: {error}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let before = ledger.acknowledged_count();
    assert!(
        before > 10,
        "the load was real before the restart: {before}"
    );
    tokio::task::spawn_blocking(|| pg_ctl(&["restart", "-m", "immediate", "-w"]))
        .await
        .unwrap();
    restarted.store(true, Ordering::SeqCst);
    // The collector finds the server again by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered_after_the_restart.load(Ordering::SeqCst) < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }

    let after = answered_after_the_restart.load(Ordering::SeqCst);
    assert!(
        after >= 100,
        "ratings are acknowledged again after the restart: {after}"
    );
    let unexpected = unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "only 2xx and 503: {unexpected:?}");
    assert!(
        unavailable.load(Ordering::SeqCst) > 0,
        "while the database was down, writes were answered 503"
    );
    assert_database_holds(&database, ledger.snapshot()).await;
    collector.kill().unwrap();
    collector.wait().unwrap();
}

//! `collector backup --to DIR`: a consistent copy of a running collector's store, taken while
//! it keeps answering, that restores every rating acknowledged before the backup began and
//! passes `collector audit`; never over an existing directory; also from a stopped collector.

use crate::helpers::*;
use pulsetap_collector::store::Backend;
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn serve(config: &Path, data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address = listening_address(&mut child);
    (child, address)
}

fn collector(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(args)
        .output()
        .unwrap()
}

fn backup(data: &Path, to: &Path) -> Output {
    collector(&[
        "backup".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--to".as_ref(),
        to.as_os_str(),
    ])
}

fn audit(data: &Path) -> Output {
    collector(&["audit".as_ref(), "--data".as_ref(), data.as_os_str()])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_rating_acknowledged_before_it_began_with_a_clean_audit()
{
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = dir.path().join("data");
    let (mut running, address) = serve(&config, &data);

    // Clients rate new chats (signed by the shop, so no visitor's allowance runs out) for as
    // long as the test runs: when was each acknowledged?
    let acknowledged: Arc<Mutex<Vec<(String, u8, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::new();
    let mut load = Vec::new();
    for worker in 0..8 {
        let (client, address, acknowledged, stop) = (
            client.clone(),
            address.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let interaction = format!("w{worker}-{n}");
                let score = 1 + (n % 5) as u8;
                let body = json!({"survey": "support", "response_id": new_id(), "score": score,
                                  "interaction": interaction, "tags": {"agent": "alice"},
                                  "sig": sign("support", Some(&interaction), &[("agent", "alice")])});
                let response = client
                    .post(format!("{address}/v1/responses"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201, "the server keeps answering");
                acknowledged
                    .lock()
                    .unwrap()
                    .push((interaction, score, Instant::now()));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let copy = dir.path().join("nightly");
    let began = Instant::now();
    let taken = tokio::task::spawn_blocking({
        let (data, copy) = (data.clone(), copy.clone());
        move || backup(&data, &copy)
    })
    .await
    .unwrap();
    let ended = Instant::now();
    assert!(taken.status.success(), "{}", text(&taken.stderr));
    let report = text(&taken.stdout);
    assert!(
        report.contains("copied by the running collector, which kept serving"),
        "{report}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for client in load {
        client.await.unwrap();
    }
    running.kill().unwrap();
    running.wait().unwrap();

    let acknowledged = acknowledged.lock().unwrap().clone();
    let before: Vec<_> = acknowledged.iter().filter(|(.., at)| *at < began).collect();
    let after = acknowledged.iter().filter(|(.., at)| *at > ended).count();
    assert!(before.len() > 100, "real load: {} before", before.len());
    assert!(after > 10, "answered after the backup too: {after}");

    let audited = audit(&copy);
    assert!(audited.status.success(), "{}", text(&audited.stderr));
    assert!(text(&audited.stdout).contains(" 0 mismatches"));
    let store = open_store(&copy).await;
    for (interaction, score, _) in &before {
        let stored = store.find("support", Some(interaction), "").unwrap();
        assert_eq!(
            stored.map(|response| response.score),
            Some(*score),
            "{interaction} was acknowledged before the backup"
        );
    }
    drop(store);

    // A collector started on the copy serves those ratings.
    let (mut restored, address) = serve(&config, &copy);
    let summary: pulsetap_wire::Summary = client
        .get(format!("{address}/v1/surveys/support/summary"))
        .bearer_auth(MARKETING_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(summary.figures.responses >= before.len() as u64);
    restored.kill().unwrap();
    restored.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_never_overwrites_and_a_stopped_collector_is_backed_up_from_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = dir.path().join("data");
    let (mut running, address) = serve(&config, &data);
    let client = reqwest::Client::new();
    for n in 0..5 {
        let body = json!({"survey": "support", "response_id": new_id(), "score": 5,
                          "interaction": format!("chat-{n}")});
        let response = client
            .post(format!("{address}/v1/responses"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    let existing = dir.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("keep.txt"), "mine").unwrap();
    let refused = backup(&data, &existing);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("already exists; a backup never overwrites"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&existing).unwrap().count(),
        1,
        "untouched"
    );

    // Killed: its admin socket is left behind, and nothing answers it.
    running.kill().unwrap();
    running.wait().unwrap();
    let copy = dir.path().join("offline");
    let taken = backup(&data, &copy);
    assert!(taken.status.success(), "{}", text(&taken.stderr));
    assert!(
        text(&taken.stdout).contains("5 responses"),
        "{}",
        text(&taken.stdout)
    );
    assert!(text(&taken.stdout).contains("copied from the stopped collector's store"));
    assert!(audit(&copy).status.success());
    let store = open_store(&copy).await;
    assert!(store.find("support", Some("chat-4"), "").unwrap().is_some());
}

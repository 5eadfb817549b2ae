//! The health check the README installs (`deploy/systemd/pulsetap-healthcheck`, run by a systemd
//! timer) restarts a collector whose writer has stalled, or that no longer answers, and leaves a
//! healthy one, or one stopped on purpose, alone. `systemctl` is a stand-in that records what it
//! was asked; the stall is injected in a test build (`PULSETAP_FAULT_WRITER_STALL_AT_BATCH`).

use crate::helpers::*;
use pulsetap_collector::store::writer::faults::STALL_AT_BATCH;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HEALTHCHECK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/systemd/pulsetap-healthcheck"
);

/// Runs the health check against `address` with a `systemctl` that says the unit is active (or
/// not) and records its calls; what it was asked.
fn check(dir: &Path, address: &str, active: bool) -> Vec<String> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("systemctl.log");
    let _ = std::fs::remove_file(&log);
    let fake = bin.join("systemctl");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\n[ \"$1\" = is-active ] && exit {}\nexit 0\n",
            log.display(),
            if active { 0 } else { 3 }
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let status = Command::new("sh")
        .arg(HEALTHCHECK)
        .env("PATH", path)
        .env("PULSETAP_HEALTH_URL", format!("{address}/healthz"))
        .env("PULSETAP_HEALTH_DELAY", "1")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the check itself never fails");
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_restarts_a_stalled_or_silent_collector_and_leaves_a_healthy_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut collector = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env(STALL_AT_BATCH, "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address = listening_address(&mut collector);
    let client = reqwest::Client::new();

    let healthy = check(dir.path(), &address, true);
    assert_eq!(healthy, ["is-active --quiet pulsetap.service"]);

    let rate = |n: u32| {
        let (client, address) = (client.clone(), address.clone());
        async move {
            let body = json!({"survey": "support", "response_id": new_id(), "score": 4,
                              "interaction": format!("chat-{n}")});
            client
                .post(format!("{address}/v1/responses"))
                .json(&body)
                .send()
                .await
                .map(|response| response.status().as_u16())
        }
    };
    assert_eq!(rate(1).await.unwrap(), 201);
    // The second batch hangs for ever, as a deadlocked store would.
    let stuck = tokio::spawn(rate(2));
    let started = Instant::now();
    while client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap()
        .status()
        == 200
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "stall reported"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_eq!(
        check(dir.path(), &address, false),
        ["is-active --quiet pulsetap.service"],
        "a unit starting or stopped on purpose is left alone"
    );
    assert_eq!(
        check(dir.path(), &address, true),
        [
            "is-active --quiet pulsetap.service",
            "restart pulsetap.service"
        ]
    );
    assert_eq!(stuck.await.unwrap().unwrap(), 503, "told it may be stored");

    collector.kill().unwrap();
    collector.wait().unwrap();
    assert_eq!(
        check(dir.path(), &address, true).last().map(String::as_str),
        Some("restart pulsetap.service"),
        "a collector that answers nothing is restarted too"
    );
}

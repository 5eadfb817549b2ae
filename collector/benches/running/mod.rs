//! What the benchmarks against a running `collector serve` share: starting it, and reading
//! their settings from the environment.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `collector serve` on a free loopback port; its address once it listens.
pub fn serve(binary: &str, config: &std::path::Path, data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line.trim().rsplit(' ').next().unwrap().to_owned();
    (child, address)
}

/// A setting from the environment (`PULSETAP_…`), or `default` when unset or unreadable.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

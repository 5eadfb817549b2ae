//! `collector sign`: a `data-sig` only for what the collector would accept.

use crate::helpers::SECRET;
use pulsetap_collector::domain::Secret;
use std::collections::BTreeMap;
use std::process::{Command, Output};

const CONFIG: &str = r#"
[[survey]]
id = "support"
tags = ["agent", "channel"]
secret = "a long random string for tests"

[[survey]]
id = "open"
"#;

fn sign(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    Command::new(env!("CARGO_BIN_EXE_collector"))
        .arg("sign")
        .arg("--config")
        .arg(&config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn sign_prints_the_signature_the_collector_verifies() {
    let output = sign(&[
        "--survey",
        "support",
        "--interaction",
        "chat-8842",
        "--tags",
        " channel=chat , agent=alice",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sig = String::from_utf8(output.stdout).unwrap();
    let tags: BTreeMap<String, String> = [("agent", "alice"), ("channel", "chat")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(Secret::new(SECRET).verify_interaction(
        "support",
        Some("chat-8842"),
        &tags,
        sig.trim()
    ));
}

#[test]
fn sign_refuses_what_the_collector_would_refuse_and_says_why() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["--survey", "support", "--tags", "agent"],
            "\"agent\" is not key=value",
        ),
        (
            &["--survey", "support", "--tags", "agent=alice,agent=bob"],
            "tag \"agent\" is given twice",
        ),
        (
            &["--survey", "support", "--tags", "foo=bar"],
            "\"foo\" is not a tag of survey \"support\" (its tags: agent, channel)",
        ),
        (
            &["--survey", "support", "--tags", "agent=al\u{7}ice"],
            "tag \"agent\" must have a value",
        ),
        (
            &["--survey", "support", "--interaction", "chat\n1"],
            "--interaction: interaction must be 1 to 200 characters",
        ),
        (
            &["--survey", "support", "--interaction", ""],
            "--interaction: interaction must be",
        ),
        (&["--survey", "open"], "survey \"open\" has no secret"),
        (&["--survey", "nope"], "survey \"nope\" is not in"),
    ];
    for (args, expected) in cases {
        let output = sign(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} must fail");
        assert!(output.stdout.is_empty(), "{args:?} printed a signature");
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
}

#[test]
fn sign_with_a_missing_configuration_says_the_file_does_not_exist() {
    let output = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args([
            "sign",
            "--config",
            "/nonexistent/pulsetap.toml",
            "--survey",
            "support",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("/nonexistent/pulsetap.toml: the configuration file does not exist")
    );
}

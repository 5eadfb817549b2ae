//! The `collector` binary's configuration handling (CONTRACT §5).

use std::process::{Command, Stdio};

fn collector() -> Command {
    Command::new(env!("CARGO_BIN_EXE_collector"))
}

#[test]
fn a_broken_configuration_stops_the_server_and_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(
        &config,
        "[[survey]]\nid = \"support\"\nedit_window = \"a week\"\n",
    )
    .unwrap();
    let output = collector()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success(), "the server must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", config.display())),
        "{stderr}"
    );
    assert!(stderr.contains("edit_window"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn check_config_accepts_the_contract_example() {
    let output = collector()
        .args([
            "check-config",
            "--config",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/contract-example.toml"
            ),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 survey(s), valid"));
}

#[test]
fn environment_variables_configure_the_server_and_sigterm_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("surveys.toml"),
        "[[survey]]\nid = \"env\"\n",
    )
    .unwrap();
    let mut child = collector()
        .arg("serve")
        .env("PULSETAP_LISTEN", "127.0.0.1:0")
        .env("PULSETAP_CONFIG", dir.path().join("surveys.toml"))
        .env("PULSETAP_DATA", dir.path().join("env-data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address = crate::helpers::listening_address(&mut child);
    let widget = reqwest::blocking::get(format!("{address}/v1/surveys/env/widget")).unwrap();
    assert_eq!(
        widget.status(),
        200,
        "the survey from PULSETAP_CONFIG is served"
    );
    assert!(
        dir.path().join("env-data").exists(),
        "data went to PULSETAP_DATA"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success(), "SIGTERM is a clean stop");
}

//! The `collector` binary's configuration handling: `check-config`, and `serve` refusing a
//! broken file.

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

fn check_config(text: &str) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, text).unwrap();
    let output = collector()
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    (output, config.display().to_string())
}

#[test]
fn check_config_names_the_line_of_the_key_that_is_wrong_not_its_survey() {
    let cases = [
        (
            "secret = \"short\"",
            "secret must be at least 16 characters",
        ),
        ("scale = [\"😠\", \"🙂\", \"😠\"]", "scale has \"😠\" twice"),
        (
            "labels = [\"Bad\", \"Good\"]",
            "labels has 2 entries but scale has 5",
        ),
        ("satisfied_min = 9", "satisfied_min must be between 1 and 5"),
        (
            "alert = { webhook = \"https://hooks.example.com/x\", max_score = 7 }",
            "alert.max_score",
        ),
        ("allowed_origins = []", "allowed_origins is empty"),
        ("min_group_size = 0", "min_group_size must be at least 1"),
        ("max_per_visitor_per_day = 0", "max_per_visitor_per_day = 0"),
        ("read_keys = [\"\"]", "read_keys holds an empty key"),
        ("tags = [\"agent=x\"]", "tag key \"agent=x\""),
    ];
    for (setting, expected) in cases {
        let (output, path) = check_config(&format!(
            "# Support surveys\n\n[[survey]]\nid = \"support\"\nquestion = \"How did we do?\"\n{setting}\n"
        ));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{setting} must be refused");
        assert!(
            stderr.contains(&format!("{path}:6: {expected}")),
            "{path}:6: {expected} in {stderr}"
        );
    }
}

#[test]
fn check_config_refuses_a_file_without_surveys() {
    let (output, path) = check_config("# to do: add the surveys\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("{path}:1: the file defines no survey")),
        "{stderr}"
    );
}

#[test]
fn check_config_on_a_missing_file_says_it_does_not_exist() {
    let output = collector()
        .args(["check-config", "--config", "/nonexistent/pulsetap.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("/nonexistent/pulsetap.toml: the configuration file does not exist"),
        "{stderr}"
    );
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

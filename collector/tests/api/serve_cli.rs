//! `collector serve` as an operator starts it: what it refuses, what it warns about, and what
//! its startup log says.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A `collector serve` child whose log goes to a file, as a service manager or
/// `2> collector.log` would collect it.
pub struct Server {
    child: Child,
    pub address: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `collector serve` in `dir` with `args` and waits until it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let log = dir.join("collector.log");
        let mut child = serve_command(dir, args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let address = crate::helpers::listening_address(&mut child);
        Self {
            child,
            address,
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Stops it as an operator would (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(self.child.wait().unwrap().success(), "{}", self.log_text());
    }
}

/// `collector serve` in `dir`, on a free port, with nothing taken from the test's environment.
fn serve_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_collector"));
    command
        .current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("PULSETAP_CONFIG")
        .env_remove("PULSETAP_DATA")
        .env_remove("PULSETAP_ASSETS")
        .env_remove("PULSETAP_LISTEN")
        .env_remove("NO_COLOR");
    command
}

const CONFIG: &str = "[[survey]]\nid = \"support\"\n\n[[survey]]\nid = \"sales\"\n";

/// A directory laid out as a deployment: a configuration and a built widget.
fn deployment() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pulsetap.toml"), CONFIG).unwrap();
    std::fs::create_dir_all(dir.path().join("widget/dist")).unwrap();
    std::fs::write(
        dir.path().join("widget/dist/pulsetap.js"),
        "/* the loader */",
    )
    .unwrap();
    dir
}

#[test]
fn assets_that_do_not_exist_stop_the_server_with_a_message_naming_them() {
    let dir = deployment();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for assets in ["/nonexistent/widget/dist", empty.to_str().unwrap()] {
        let output = serve_command(dir.path(), &["--assets", assets])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "the server must not start");
        assert!(stderr.contains(assets), "{stderr}");
        assert!(stderr.contains("pulsetap.js"), "{stderr}");
        assert!(stderr.contains("scripts/build-widget.sh"), "{stderr}");
        assert!(
            !dir.path().join("pulsetap-data").exists(),
            "no data directory was created"
        );
    }
}

#[test]
fn the_startup_log_names_config_data_assets_and_surveys_without_colour_codes() {
    let dir = deployment();
    let server = Server::start(dir.path(), &["--data", "store"]);
    let log = server.log_text();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let ready = log
        .lines()
        .find(|line| line.contains("collector ready"))
        .unwrap_or_else(|| panic!("no ready line in {log}"));
    for expected in [
        format!("config={}", root.join("pulsetap.toml").display()),
        format!("data={}", root.join("store").display()),
        format!("assets={}", root.join("widget/dist").display()),
        "surveys=2".to_owned(),
    ] {
        assert!(ready.contains(&expected), "{expected:?} in {ready:?}");
    }
    assert!(
        !log.contains('\u{1b}'),
        "no escape codes in a file: {log:?}"
    );
    assert!(!log.contains("WARN"), "{log}");
    let loader = reqwest::blocking::get(format!("{}/pulsetap.js", server.address)).unwrap();
    assert_eq!(loader.status(), 200, "./widget/dist is served by default");
    server.stop();
}

#[test]
fn without_assets_or_configuration_the_server_warns_loudly_and_serves_no_widget() {
    // Nothing in the working directory: no pulsetap.toml, no widget/dist.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let log = server.log_text();
    let warnings: Vec<&str> = log.lines().filter(|line| line.contains("WARN")).collect();
    assert!(
        warnings
            .iter()
            .any(|line| line.contains("NO CONFIGURATION") && line.contains("0 surveys")),
        "{log}"
    );
    assert!(
        warnings.iter().any(|line| line.contains("NO WIDGET")
            && line.contains("widget/dist")
            && line.contains("scripts/build-widget.sh")),
        "{log}"
    );
    assert!(
        log.contains("config=none") && log.contains("assets=none"),
        "{log}"
    );
    // Not the widget of the machine the collector was built on, either.
    let loader = reqwest::blocking::get(format!("{}/pulsetap.js", server.address)).unwrap();
    assert_eq!(loader.status(), 404);
    server.stop();
}

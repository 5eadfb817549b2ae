//! The world the browser tests run in: the real collector binary serving the built widget, a
//! host page on another origin with hostile CSS, and a fresh headless Chromium driven over
//! WebDriver.
//!
//! One [`World`] per test, each with its own data directory, ports and browser profile; the
//! tests take turns (a global lock), since two Chromiums and two collectors on two cores make
//! timing-dependent assertions flaky.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::{Element, ElementRef};
use fantoccini::{Client, ClientBuilder, Locator};
use pulsetap_wire::{ResponseRecord, Summary};
use serde_json::{Value, json};

pub use fantoccini::key::Key;

/// The survey every test rates.
pub const SURVEY: &str = "support";
/// The key that may read it.
pub const READ_KEY: &str = "e2e-read-key";
/// The key that may sign for it (email snippets), as a helpdesk's server holds it.
pub const WRITE_KEY: &str = "e2e-write-key";
/// How long anything asynchronous (a mount, a delivery) may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// An NPS survey (`loyalty`) in English, French and Arabic and a CES survey (`effort`), to add
/// to the CSAT one with [`World::with_surveys`].
pub const KINDS: &str = r#"
[[survey]]
id = "loyalty"
kind = "nps"
allowed_origins = ["{origin}"]
tags = ["agent"]
secret = "e2e secret for loyalty emails"
min_group_size = 1

[survey.texts.fr]
question = "Quelle est la probabilité que vous nous recommandiez à un proche ?"
low_label = "Peu probable"
high_label = "Très probable"
follow_up = "Qu'est-ce qui explique votre note ?"
thank_you = "Merci !"
send = "Envoyer"
confirm = "Touchez votre note pour l'envoyer, ou choisissez-en une autre."

[survey.texts.ar]
question = "ما مدى احتمال أن توصي بنا لصديق أو زميل؟"
low_label = "غير محتمل"
high_label = "محتمل جدا"
follow_up = "ما السبب الرئيسي لتقييمك؟"
thank_you = "شكرا لك!"
send = "إرسال"
confirm = "اضغط على تقييمك لإرساله، أو اختر تقييما آخر."

[[survey]]
id = "effort"
kind = "ces"
allowed_origins = ["{origin}"]
min_group_size = 1
"#;

/// Everything one test needs. Dropping it stops every process it started.
pub struct World {
    pub collector: Collector,
    pub browser: Browser,
    /// The host pages' origin (allowed by every survey).
    pub host: Site,
    dir: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl World {
    /// Starts a collector on a fresh data directory, the host page server and a browser.
    pub async fn new() -> World {
        World::with_surveys("").await
    }

    /// Like [`World::new`], with more `[[survey]]` tables after the [`SURVEY`] one. `{origin}`
    /// in them stands for the host pages' origin (for `allowed_origins`).
    pub async fn with_surveys(surveys: &str) -> World {
        World::start(Setup {
            surveys,
            ..Setup::default()
        })
        .await
    }

    /// A world set up as `setup` says: more surveys, the browser's languages, a history.
    pub async fn start(setup: Setup<'_>) -> World {
        // An async lock: each test has its own runtime, and a failed test must not block the rest.
        static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let turn = TURN.lock().await;
        let dist = repo().join("widget/dist");
        assert!(
            dist.join("pulsetap.js").is_file(),
            "{} has no built widget: run scripts/build-widget.sh first",
            dist.display()
        );
        let binary = collector_binary();
        let dir = tempfile::tempdir().expect("a temporary directory");

        let host = Site::start();
        let config = dir.path().join("pulsetap.toml");
        let text =
            collector_config(&host.origin()) + &setup.surveys.replace("{origin}", &host.origin());
        std::fs::write(&config, &text).expect("write the collector config");
        let data = dir.path().join("data");
        if let Some(seed) = setup.seed {
            seed(&data, &text);
        }
        let collector = Collector::start(binary, data, config, &dist);

        let browser = Browser::start_with(dir.path().join("chrome"), setup.languages).await;
        World {
            collector,
            browser,
            host,
            dir,
            _turn: turn,
        }
    }

    /// Serves a host page at `path` on the host origin and returns its URL. The page has
    /// hostile CSS, records every error and unhandled rejection in `window.hostErrors`, and
    /// ends with `body` (where `{collector}` stands for the collector's base URL).
    pub fn page(&self, path: &str, body: &str) -> String {
        let body = body.replace("{collector}", &self.collector.url(""));
        let html = format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A host page</title>
<style>* {{ all: unset }} button {{ display: none }} body {{ display: block; padding: 24px; background: #eef0f3 }}</style>
<script>
  window.hostErrors = [];
  addEventListener("error", (e) => hostErrors.push("error: " + e.message));
  addEventListener("unhandledrejection", (e) => hostErrors.push("rejection: " + e.reason));
</script>
</head><body>
<p>Thanks for chatting with us.</p>
{body}
</body></html>"#
        );
        self.host
            .put(path, "text/html; charset=utf-8", html.into_bytes());
        self.host.url(path)
    }

    /// The origin host pages are served from (allowed by the survey).
    pub fn host_origin(&self) -> String {
        self.host.origin()
    }

    /// Opens a page made by [`World::page`].
    pub async fn visit(&self, path: &str, body: &str) {
        let url = self.page(path, body);
        self.browser.goto(&url).await.expect("the host page loads");
    }

    /// Runs `script` in the page and returns its result.
    pub async fn js(&self, script: &str) -> Value {
        self.browser.js(script).await
    }

    /// The element a script returns (`return <element>`), e.g. one inside a shadow root.
    pub async fn element(&self, script: &str) -> Option<Element> {
        self.browser.element(script).await
    }

    /// Waits until `script` returns an element and returns it.
    pub async fn wait_for_element(&self, what: &str, script: &str) -> Element {
        self.browser.wait_for_element(what, script).await
    }

    /// The emoji radio labelled `label` in the widget whose host `host` selects (a CSS
    /// selector evaluated in the host page), once the widget has rendered.
    pub async fn emoji(&self, host: &str, label: &str) -> Element {
        self.browser.emoji(host, label).await
    }

    /// Evaluates `expression` with `root` bound to the shadow root of the widget host `host`.
    pub async fn in_widget(&self, host: &str, expression: &str) -> Value {
        self.js(&format!(
            "const root = ({host}).shadowRoot; return {expression};"
        ))
        .await
    }

    /// Waits until `check` holds for the collector's summary, and returns that summary.
    pub async fn wait_for_summary(&self, what: &str, check: impl Fn(&Summary) -> bool) -> Summary {
        self.wait_for_summary_of(SURVEY, what, check).await
    }

    /// Waits until `check` holds for the summary of `survey`, and returns that summary.
    pub async fn wait_for_summary_of(
        &self,
        survey: &str,
        what: &str,
        check: impl Fn(&Summary) -> bool,
    ) -> Summary {
        let start = Instant::now();
        loop {
            let summary = self.collector.summary_of(survey);
            if summary.as_ref().is_some_and(&check) {
                return summary.unwrap_or_else(|| unreachable!());
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{what}; the last summary was {summary:#?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Presses and releases each key in turn, on whatever has the focus (WebDriver actions,
    /// as a person at a keyboard would).
    pub async fn press(&self, keys: &[Key]) {
        let mut actions = KeyActions::new("keyboard".into());
        for &key in keys {
            actions = actions
                .then(KeyAction::Down { value: key.into() })
                .then(KeyAction::Up { value: key.into() });
        }
        self.browser
            .perform_actions(actions)
            .await
            .expect("the keys are pressed");
    }

    /// Makes the viewport a phone's (see [`Browser::phone`]).
    pub async fn phone(&self, width: u32) {
        self.browser.phone(width).await;
    }

    /// Fails the test if the host page saw any error or unhandled rejection.
    pub async fn assert_host_saw_no_error(&self) {
        let errors = self.js("return window.hostErrors;").await;
        assert_eq!(errors, json!([]), "the host page saw errors");
    }

    /// Opens the collector's dashboard and signs in with `key`.
    pub async fn sign_in_to_dashboard(&self, key: &str) {
        self.browser
            .goto(&self.collector.url("dashboard"))
            .await
            .expect("the dashboard loads");
        let field = self.browser.find(css("#key")).await.expect("a key field");
        field.send_keys(key).await.expect("the key is typed");
        self.browser
            .find(css("#signin-form button[type=submit]"))
            .await
            .expect("a sign-in button")
            .click()
            .await
            .expect("signed in");
    }

    /// Saves a PNG of `element` (the whole viewport without one) to
    /// `tests/artifacts/<name>.png`, for a person to look at, and returns its path. The picture
    /// is taken once the page's animations have ended, so it shows the settled state.
    pub async fn screenshot(&self, element: Option<&Element>, name: &str) -> PathBuf {
        self.browser.animations_settled().await;
        let png = match element {
            Some(element) => element.screenshot().await,
            None => self.browser.screenshot().await,
        };
        let png = png.expect("a screenshot");
        let dir = repo().join("tests/artifacts");
        std::fs::create_dir_all(&dir).expect("create tests/artifacts");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Where this test keeps its files (collector data, browser profile).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Closes the browser session; the processes stop when the world is dropped.
    pub async fn close(self) {
        let _ = self.browser.client.clone().close().await;
    }
}

/// How a [`World`] is set up beyond the defaults.
#[derive(Default)]
pub struct Setup<'a> {
    /// More `[[survey]]` tables after the [`SURVEY`] one; `{origin}` stands for the host pages'
    /// origin.
    pub surveys: &'a str,
    /// The languages the browser prefers, most wanted first (`ar,en`): what a person sets in
    /// the browser's settings, and what `navigator.languages` then holds.
    pub languages: Option<&'a str>,
    /// Writes into the collector's data directory (given with the configuration's text) before
    /// the collector starts: a history that live requests could not make, such as past days.
    pub seed: Option<&'a Seed>,
}

/// Writes a history into a data directory, given the configuration's text.
pub type Seed = dyn Fn(&Path, &str);

/// A headless Chromium session and the chromedriver that runs it. Derefs to the WebDriver
/// client; dropping it stops both.
pub struct Browser {
    pub client: Client,
    chromedriver: Child,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium with its profile in `profile`.
    pub async fn start(profile: PathBuf) -> Browser {
        Browser::start_with(profile, None).await
    }

    /// Like [`Browser::start`], preferring `languages` (`ar,en`) when given.
    pub async fn start_with(profile: PathBuf, languages: Option<&str>) -> Browser {
        let (chromedriver, driver_port) = start_chromedriver();
        let client = connect_browser(driver_port, &profile, languages).await;
        Browser {
            client,
            chromedriver,
        }
    }

    /// Runs `script` in the page and returns its result.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// The element a script returns (`return <element>`), e.g. one inside a shadow root.
    pub async fn element(&self, script: &str) -> Option<Element> {
        element_ref(&self.js(script).await)
            .map(|id| Element::from_element_id(self.client.clone(), id))
    }

    /// Waits until `script` returns an element and returns it.
    pub async fn wait_for_element(&self, what: &str, script: &str) -> Element {
        let start = Instant::now();
        loop {
            if let Some(element) = self.element(script).await {
                return element;
            }
            assert!(start.elapsed() < PATIENCE, "{what} never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The emoji radio labelled `label` in the widget whose host `host` selects (a CSS
    /// selector evaluated in the host page), once the widget has rendered.
    pub async fn emoji(&self, host: &str, label: &str) -> Element {
        let script = format!(
            "const h = {host}; return h && h.shadowRoot && h.shadowRoot.querySelector('[role=radio][aria-label={label:?}]');"
        );
        self.wait_for_element(&format!("the {label} emoji"), &script)
            .await
    }

    /// What the browser logged at error level since the last call: script errors, failed
    /// loads, content-security-policy violations, from the page and from the widget alike.
    pub async fn console_errors(&self) -> Vec<String> {
        self.log(Some("SEVERE")).await
    }

    /// Everything the browser logged since the last call (of this or [`Browser::console_errors`]),
    /// warnings and `console.*` calls included.
    pub async fn console_messages(&self) -> Vec<String> {
        self.log(None).await
    }

    async fn log(&self, level: Option<&str>) -> Vec<String> {
        let log = self
            .chromedriver_command("se/log", json!({"type": "browser"}))
            .await;
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| level.is_none_or(|level| entry["level"] == level))
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Runs axe-core's WCAG 2.1 A and AA rules on the current page, open shadow roots (the
    /// widget's) included, and returns one line per violation: the rule, its impact, what it
    /// asks for, and each offending element with axe's explanation. An empty list is a pass.
    ///
    /// axe-core comes from `tools/node_modules` (pinned in `tools/package.json`; run
    /// `scripts/build-widget.sh` or `npm ci --prefix tools`), injected through the DevTools
    /// protocol so that the page's content security policy does not stand in its way.
    ///
    /// It first waits for the page to settle ([`Browser::animations_settled`]): axe judges
    /// contrast from the colours as painted, so text caught in a fade-in reads as too faint (the
    /// widget's follow-up row fading in once failed the demo test with `#74747c`, its `#a3a3ad`
    /// at two-thirds opacity). What is checked is the page a visitor reads once it has settled.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        static AXE: OnceLock<String> = OnceLock::new();
        let axe = AXE.get_or_init(|| {
            let path = repo().join("tools/node_modules/axe-core/axe.min.js");
            std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run `npm ci --prefix tools` or scripts/build-widget.sh)",
                    path.display()
                )
            })
        });
        let loaded = self
            .devtools(
                "Runtime.evaluate",
                json!({"expression": format!("{axe};typeof axe")}),
            )
            .await;
        assert_eq!(
            loaded["result"]["value"], "object",
            "axe-core did not load: {loaded}"
        );
        let script = r#"
            const done = arguments[arguments.length - 1];
            const rules = {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                           resultTypes: ["violations"]};
            axe.run(document, rules)
              .then((result) => done(result.violations.map((v) =>
                `${v.id} (${v.impact}): ${v.help}: ` +
                v.nodes.map((n) => `${JSON.stringify(n.target)} ${n.failureSummary}`).join(" | "))))
              .catch((e) => done([`axe-core failed: ${e}`]));"#;
        self.animations_settled().await;
        let violations = self
            .client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("run axe-core: {e}"));
        serde_json::from_value(violations).unwrap_or_else(|e| panic!("axe-core's answer: {e}"))
    }

    /// Waits until every running animation and transition of the page, in the document and in
    /// open shadow roots (the widget's), has ended; endless ones are not waited for. What a
    /// check or a picture should see is the settled page, not a frame of a fade or a pop.
    pub async fn animations_settled(&self) {
        let script = r#"
            const done = arguments[arguments.length - 1];
            const roots = [document, ...[...document.querySelectorAll("*")]
              .filter((e) => e.shadowRoot).map((e) => e.shadowRoot)];
            const running = new Set(roots.flatMap((root) => root.getAnimations())
              .filter((a) => a.playState === "running"
                && isFinite(a.effect?.getComputedTiming().endTime ?? Infinity)));
            Promise.all([...running].map((a) => a.finished.catch(() => {}))).then(() => done(true));"#;
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("wait for the page's animations: {e}"));
    }

    /// Makes the page see `prefers-color-scheme: dark` (or light), until the session ends.
    pub async fn color_scheme(&self, scheme: &str) {
        self.devtools(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
    }

    /// Makes the viewport a phone's: `width` CSS pixels wide and 640 tall, until the session
    /// ends.
    pub async fn phone(&self, width: u32) {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 640, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    }

    /// Runs a Chrome DevTools Protocol command (e.g. `Network.clearBrowserCache`).
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        self.chromedriver_command(
            "goog/cdp/execute",
            json!({"cmd": command, "params": params}),
        )
        .await
    }

    /// A chromedriver extension endpoint of this session, which fantoccini has no method for.
    async fn chromedriver_command(&self, path: &'static str, body: Value) -> Value {
        #[derive(Debug)]
        struct Extension {
            path: &'static str,
            body: String,
        }
        impl fantoccini::wd::WebDriverCompatibleCommand for Extension {
            fn endpoint(
                &self,
                base: &url::Url,
                session: Option<&str>,
            ) -> Result<url::Url, url::ParseError> {
                base.join(&format!(
                    "session/{}/{}",
                    session.unwrap_or_default(),
                    self.path
                ))
            }
            fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
                (http::Method::POST, Some(self.body.clone()))
            }
        }
        let command = Extension {
            path,
            body: body.to_string(),
        };
        self.client
            .issue_cmd(command)
            .await
            .unwrap_or_else(|e| panic!("chromedriver {path}: {e}"))
    }
}

impl std::ops::Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group (see `start_chromedriver`), which holds the
        // browser too: killing the group leaves no Chromium behind, even when a test failed
        // before it could close its session.
        let group = format!("-{}", self.chromedriver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

/// The collector binary running on its own data directory and port.
pub struct Collector {
    binary: PathBuf,
    data: PathBuf,
    config: PathBuf,
    assets: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Collector {
    fn start(binary: PathBuf, data: PathBuf, config: PathBuf, assets: &Path) -> Collector {
        let mut collector = Collector {
            binary,
            data,
            config,
            assets: assets.to_owned(),
            port: free_port(),
            child: None,
        };
        collector.restart();
        collector
    }

    /// `{base}{path}`, the base ending in `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// A [`Proxy`] in front of this collector.
    pub fn proxy(&self) -> Proxy {
        Proxy::start(self.port)
    }

    /// Kills the process (as a crash would: no shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port and data, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let listen = format!("127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .arg("serve")
            .args(["--listen", &listen])
            .arg("--data")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .arg("--assets")
            .arg(&self.assets)
            // Quiet unless something goes wrong, or unless asked for more.
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let start = Instant::now();
        while get(&self.url("healthz"), None).is_none() {
            assert!(
                start.elapsed() < PATIENCE,
                "the collector did not start on {listen}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET /v1/surveys/support/summary`, or `None` when the collector does not answer.
    pub fn summary(&self) -> Option<Summary> {
        self.summary_of(SURVEY)
    }

    /// `GET /v1/surveys/{survey}/summary`, or `None` when the collector does not answer.
    pub fn summary_of(&self, survey: &str) -> Option<Summary> {
        let body = get(
            &self.url(&format!("v1/surveys/{survey}/summary")),
            Some(READ_KEY),
        )?;
        Some(serde_json::from_str(&body).unwrap_or_else(|e| panic!("a summary: {e}: {body}")))
    }

    /// Every stored response with its comment (`GET …/responses?format=ndjson`).
    pub fn responses(&self) -> Vec<ResponseRecord> {
        self.responses_of(SURVEY)
    }

    /// Every stored response of `survey`.
    pub fn responses_of(&self, survey: &str) -> Vec<ResponseRecord> {
        let url = self.url(&format!("v1/surveys/{survey}/responses?format=ndjson"));
        let body = get(&url, Some(READ_KEY)).expect("the export answers");
        body.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A GET that returns the body of a 2xx answer, `None` otherwise (or when nothing listens).
fn get(url: &str, key: Option<&str>) -> Option<String> {
    let mut request = ureq::get(url);
    if let Some(key) = key {
        request = request.header("Authorization", &format!("Bearer {key}"));
    }
    request.call().ok()?.body_mut().read_to_string().ok()
}

fn collector_config(origin: &str) -> String {
    format!(
        r#"read_keys = ["{READ_KEY}"]
write_keys = ["{WRITE_KEY}"]

[limits]
# Arrow keys move the choice and record each step; the tests are one busy visitor.
visitor_requests_per_second = 1000
visitor_burst = 1000

[[survey]]
id = "{SURVEY}"
question = "How did we do today?"
labels = ["Awful", "Bad", "Okay", "Good", "Great"]
follow_up = "Anything we could do better?"
thank_you = "Thank you!"
allowed_origins = ["{origin}"]
tags = ["agent", "channel"]
secret = "e2e secret, long enough"
min_group_size = 1
"#
    )
}

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the collector binary once per test run, into the target directory this test binary
/// lives in (so `CARGO_TARGET_DIR` and `--release` are honoured), and returns its path.
///
/// A debug build is what `cargo test --workspace` builds, so under that command it finds the
/// collector built. A release build (the widget benchmark) is the collector as shipped, as
/// `scripts/bench-http.sh` builds it.
fn collector_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            // <target>/<profile>/deps/<test binary>
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("the test binary is in <target>/<profile>/deps");
            let release = profile_dir
                .file_name()
                .is_some_and(|name| name == "release");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build.current_dir(repo());
            without_cargo_test_variables(&mut build);
            if release {
                build.args([
                    "build",
                    "--release",
                    "-p",
                    "pulsetap-collector",
                    "--bin",
                    "collector",
                ]);
            } else {
                // What `cargo test --workspace` builds, the collector among it: under that
                // command (scripts/test.sh) nothing is left to build. `cargo build` builds the
                // proc-macros differently, and would compile them and all above them again.
                build.args(["test", "--workspace", "--no-run"]);
            }
            let status = build.status().expect("run cargo to build the collector");
            assert!(status.success(), "building the collector failed");
            profile_dir.join("collector")
        })
        .clone()
}

/// Removes from `command`'s environment the variables cargo sets for a test binary, so a cargo
/// build it runs (the collector's, or `scripts/demo.sh`'s) sees what a shell would. Some build
/// scripts (ring's) run again when one of them changes, and everything above them compiles
/// again: here, and at the next cargo command in a shell.
pub fn without_cargo_test_variables(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo = name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&name.as_ref());
        if set_by_cargo {
            command.env_remove(name.as_ref());
        }
    }
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A tiny static file server on its own origin (another port than the collector's): host
/// pages, or a script that must come from a third origin. Files put later are served at once.
#[derive(Clone)]
pub struct Site {
    port: u16,
    files: Arc<Mutex<HashMap<String, File>>>,
}

#[derive(Clone)]
struct File {
    content_type: String,
    cache_control: &'static str,
    /// The body as is, then as `(content-encoding, body)` alternatives.
    body: Vec<u8>,
    encoded: Vec<(String, Vec<u8>)>,
}

impl Site {
    pub fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a static server");
        let port = listener.local_addr().expect("its address").port();
        let site = Site {
            port,
            files: Arc::default(),
        };
        let files = Arc::clone(&site.files);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let files = Arc::clone(&files);
                thread::spawn(move || answer(stream, &files));
            }
        });
        site
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// Serves `body` at `path`, never cached by the browser (a host page).
    pub fn put(&self, path: &str, content_type: &str, body: Vec<u8>) {
        self.insert(path, content_type, "no-store", body, Vec::new());
    }

    /// Serves `body` at `path` as a CDN serves a script: cacheable for five minutes, and as one
    /// of `encoded` (`("br", bytes)`, `("gzip", bytes)`, first match wins) to a browser that
    /// accepts that encoding.
    pub fn put_script(&self, path: &str, body: Vec<u8>, encoded: Vec<(String, Vec<u8>)>) {
        let script = "text/javascript; charset=utf-8";
        self.insert(path, script, "public, max-age=300", body, encoded);
    }

    fn insert(
        &self,
        path: &str,
        content_type: &str,
        cache_control: &'static str,
        body: Vec<u8>,
        encoded: Vec<(String, Vec<u8>)>,
    ) {
        let file = File {
            content_type: content_type.to_owned(),
            cache_control,
            body,
            encoded,
        };
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_owned(), file);
    }
}

fn answer(mut stream: TcpStream, files: &Mutex<HashMap<String, File>>) {
    let mut request_line = String::new();
    let mut reader = BufReader::new(&mut stream);
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Read the headers (the browser's accepted encodings), so it sees a well-behaved server.
    let mut accepts = String::new();
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("accept-encoding")
        {
            accepts = value.trim().to_owned();
        }
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let file = files
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(path)
        .cloned();
    let Some(file) = file else {
        let _ = write!(
            stream,
            "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found"
        );
        return;
    };
    let accepted = |encoding: &str| accepts.split(',').any(|a| a.trim().starts_with(encoding));
    let (encoding, body) = file
        .encoded
        .iter()
        .find(|(encoding, _)| accepted(encoding))
        .map_or((None, &file.body), |(encoding, body)| {
            (Some(encoding), body)
        });
    let encoding = encoding.map_or(String::new(), |e| format!("content-encoding: {e}\r\n"));
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\n{encoding}cache-control: {}\r\naccess-control-allow-origin: *\r\ntiming-allow-origin: *\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        file.content_type,
        file.cache_control,
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// An HTTP proxy in front of the collector that can treat ratings (`POST /v1/responses`) the
/// way an overloaded or failing collector, or a slow network, would: answer a status of its
/// choosing, or hold a rating before passing it on. Everything else passes through untouched.
/// Pages use [`Proxy::url`] where they would use the collector's.
pub struct Proxy {
    port: u16,
    state: Arc<Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    /// How to answer the next ratings instead of passing them on: a status and a
    /// `Retry-After` in seconds.
    refusals: std::collections::VecDeque<(u16, Option<u32>)>,
    /// How long to hold each rating before passing it on, if the browser still waits for it.
    hold: Duration,
    /// Every rating that reached the proxy: when, and the status it was answered (0 when the
    /// browser had given up on it, so it was not passed on).
    ratings: Vec<(Instant, u16)>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("its address").port();
        let state: Arc<Mutex<ProxyState>> = Arc::default();
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                thread::spawn(move || relay(stream, upstream, &state));
            }
        });
        Proxy { port, state }
    }

    /// `{base}{path}`, the base ending in `/`, as [`Collector::url`].
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Answers the next ratings with these `(status, Retry-After seconds)`, one each, with the
    /// collector's error body and CORS headers; later ratings pass through again.
    pub fn refuse_ratings(&self, answers: &[(u16, Option<u32>)]) {
        self.lock().refusals.extend(answers.iter().copied());
    }

    /// Holds every later rating this long before passing it on, and drops it instead when the
    /// browser has stopped waiting for the answer by then.
    pub fn hold_ratings(&self, hold: Duration) {
        self.lock().hold = hold;
    }

    /// Every rating that reached the proxy so far: when, and the status it was answered (0 for
    /// one the browser gave up on).
    pub fn ratings(&self) -> Vec<(Instant, u16)> {
        self.lock().ratings.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One request from the browser: answered here, or passed to the collector on a connection of
/// its own (both sides are told `connection: close`, so one connection carries one request).
fn relay(mut client: TcpStream, upstream: u16, state: &Mutex<ProxyState>) {
    let Some((head, body)) = read_request(&client) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let is_rating = request_line.starts_with("POST /v1/responses ");
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    if is_rating {
        let (refusal, hold) = {
            let mut state = lock();
            (state.refusals.pop_front(), state.hold)
        };
        if let Some((status, retry_after)) = refusal {
            lock().ratings.push((Instant::now(), status));
            let origin = header_value(&head, "origin").unwrap_or("*");
            let retry_after =
                retry_after.map_or(String::new(), |s| format!("retry-after: {s}\r\n"));
            let body = r#"{"error":"unavailable","message":"the proxy refused this rating"}"#;
            let _ = write!(
                client,
                "HTTP/1.1 {status} Refused\r\ncontent-type: application/json\r\naccess-control-allow-origin: {origin}\r\naccess-control-expose-headers: retry-after\r\nvary: origin\r\n{retry_after}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            return;
        }
        if !hold.is_zero() {
            thread::sleep(hold);
            if browser_left(&client) {
                lock().ratings.push((Instant::now(), 0));
                return;
            }
        }
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let head = without_connection_header(&head);
    let _ = server.write_all(head.as_bytes());
    let _ = server.write_all(b"connection: close\r\n\r\n");
    let _ = server.write_all(&body);
    let mut response = Vec::new();
    let _ = std::io::Read::read_to_end(&mut server, &mut response);
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |at| at + 2);
    let response_head = String::from_utf8_lossy(&response[..split]).into_owned();
    if is_rating {
        let status = response_head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        lock().ratings.push((Instant::now(), status));
    }
    let _ = client.write_all(without_connection_header(&response_head).as_bytes());
    let _ = client.write_all(b"connection: close\r\n");
    let _ = client.write_all(&response[split..]);
}

/// The request's head (request line and headers, each line ending in CRLF, without the blank
/// line) and its body.
fn read_request(client: &TcpStream) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(client);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = header_value(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    std::io::Read::read_exact(&mut reader, &mut body).ok()?;
    Some((head, body))
}

fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn without_connection_header(head: &str) -> String {
    head.split_inclusive("\r\n")
        .filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(key, _)| key.trim().eq_ignore_ascii_case("connection"))
        })
        .collect()
}

/// Whether the browser closed its side of the connection (it gave up on the request).
fn browser_left(client: &TcpStream) -> bool {
    if client.set_nonblocking(true).is_err() {
        return false;
    }
    let left = matches!(client.peek(&mut [0; 1]), Ok(0));
    let _ = client.set_nonblocking(false);
    left
}

fn start_chromedriver() -> (Child, u16) {
    let port = free_port();
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("start {binary} (install chromium-driver, or set CHROMEDRIVER): {e}")
        });
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < PATIENCE, "chromedriver did not start");
        thread::sleep(Duration::from_millis(50));
    }
    (child, port)
}

async fn connect_browser(driver_port: u16, profile: &Path, languages: Option<&str>) -> Client {
    let chrome = std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--hide-scrollbars",
        "--window-size=1000,800",
        "--force-device-scale-factor=1",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut options = json!({ "binary": chrome, "args": args });
    if let Some(languages) = languages {
        // The setting a person changes ("Preferred languages"): it makes navigator.languages
        // and the Accept-Language header.
        options["prefs"] = json!({ "intl.accept_languages": languages });
    }
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": options,
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session with headless Chromium")
}

/// The WebDriver reference in a script's result, if it returned an element.
fn element_ref(value: &Value) -> Option<ElementRef> {
    const KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
    value
        .get(KEY)?
        .as_str()
        .map(|id| ElementRef::from(id.to_owned()))
}

/// A CSS locator, re-exported for tests that look up light-DOM elements.
pub fn css(selector: &str) -> Locator<'_> {
    Locator::Css(selector)
}

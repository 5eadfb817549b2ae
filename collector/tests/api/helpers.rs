//! `spawn_app()`: a collector on a free port with a temporary data directory.
//!
//! With `PULSETAP_TEST_STORE` set to a PostgreSQL server's URL (`scripts/test.sh` starts a
//! throwaway one), every in-process collector stores in PostgreSQL instead, in a database of
//! its own named after its data directory, so a restart on the same directory finds its data.
//! Tests that run `collector` as a child process, or copy and open a store's files, test the
//! embedded store whatever the variable says.

use pulsetap_collector::configuration;
use pulsetap_collector::startup::run;
use pulsetap_collector::state::AppState;
use pulsetap_collector::store::{Backend, EmbeddedStore, Location};
use pulsetap_wire::Summary;
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The origin the test surveys allow, as a customer's browser would send it.
pub const SHOP: &str = "https://shop.example.com";
pub const MARKETING_KEY: &str = "marketing-team-key";
pub const SUPPORT_LEAD_KEY: &str = "support-lead-key";
pub const OTHER_LEAD_KEY: &str = "sales-lead-key";
/// A write key for `support` only: what its helpdesk's server signs email snippets with.
pub const HELPDESK_KEY: &str = "support-helpdesk-key";
/// A write key for every survey.
pub const SITE_SERVER_KEY: &str = "site-server-key";
pub const SECRET: &str = "a long random string for tests";

/// Two open surveys and one that requires signatures. The flood limit and the daily allowance
/// are lifted because every test client is the same visitor (127.0.0.1); `hostile.rs` and
/// `trust_limits.rs` test them.
pub const CONFIG: &str = r#"
read_keys = ["marketing-team-key"]
write_keys = ["site-server-key"]

[limits]
visitor_requests_per_second = 100000
visitor_burst = 100000

[[survey]]
id = "support"
allowed_origins = ["https://shop.example.com"]
tags = ["agent", "channel"]
secret = "a long random string for tests"
max_per_visitor_per_day = 1000
min_group_size = 2
read_keys = ["support-lead-key"]
write_keys = ["support-helpdesk-key"]

[[survey]]
id = "sales"
scale = ["👎", "👍"]
labels = ["No", "Yes"]
allowed_origins = ["*"]
read_keys = ["sales-lead-key"]
edit_window = "1s"

[[survey]]
id = "signed"
tags = ["agent"]
secret = "a long random string for tests"
require_sig = true
allowed_origins = ["https://shop.example.com"]
"#;

/// What a test reaches a collector by, in this process or in another: its base URL and a client.
pub struct Collector {
    pub address: String,
    pub client: reqwest::Client,
}

impl Collector {
    fn new(address: String) -> Self {
        Self {
            address,
            // The collector drops a connection that sends no request headers for 10 s
            // (slow-loris guard), idle keep-alive ones included; a client must not reuse one
            // that old.
            client: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(5))
                .build()
                .expect("a client"),
        }
    }
}

/// A collector serving in this test's process, on port 0; its state is the test's to inspect.
pub struct TestApp {
    collector: Collector,
    pub state: AppState,
    data: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(CONFIG).await
}

pub async fn spawn_app_with(config: &str) -> TestApp {
    spawn_app_on(TempDir::new().expect("a temp dir"), config).await
}

/// A collector on an existing data directory: a restart, as far as the data can tell.
pub async fn spawn_app_on(data: TempDir, config: &str) -> TestApp {
    let store = open_test_store(data.path()).await;
    serve_app(data, store, config).await
}

/// A collector on the embedded store in a new data directory, whatever `PULSETAP_TEST_STORE`
/// says (what `collector migrate` moves from).
pub async fn spawn_embedded_app(config: &str) -> TestApp {
    spawn_embedded_app_on(TempDir::new().expect("a temp dir"), config).await
}

/// A collector on the embedded store in an existing data directory, whatever
/// `PULSETAP_TEST_STORE` says.
pub async fn spawn_embedded_app_on(data: TempDir, config: &str) -> TestApp {
    let store = Arc::new(open_store(data.path()).await);
    serve_app(data, store, config).await
}

/// A collector on the PostgreSQL database at `url`.
pub async fn spawn_app_on_database(url: &str, config: &str) -> TestApp {
    let store = Location::Postgres(url.to_owned())
        .open()
        .await
        .expect("the database opens");
    serve_app(TempDir::new().expect("a temp dir"), store, config).await
}

async fn serve_app(data: TempDir, store: Arc<dyn Backend>, config: &str) -> TestApp {
    let surveys = configuration::parse(config).expect("the test configuration is valid");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(surveys, store, None);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    TestApp {
        collector: Collector::new(address),
        state,
        data: Some(data),
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

/// The PostgreSQL server the in-process collectors use, when `PULSETAP_TEST_STORE` names one.
pub fn test_postgres() -> Option<String> {
    std::env::var("PULSETAP_TEST_STORE")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The store of an in-process collector on `data`: the embedded store there, or its own
/// PostgreSQL database (see the module's comment).
pub async fn open_test_store(data: &std::path::Path) -> Arc<dyn Backend> {
    match test_postgres() {
        None => Arc::new(open_store(data).await),
        Some(server) => Location::Postgres(test_database(&server, data).await)
            .open()
            .await
            .expect("the test database opens"),
    }
}

/// The URL of the database named after `data` on `server`, created when missing.
pub async fn test_database(server: &str, data: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(data.as_os_str().as_encoded_bytes());
    let name = format!("pulsetap_{}", hex::encode(&digest[..10]));
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .expect("the test PostgreSQL server answers");
    let driver = tokio::spawn(connection);
    match client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
    {
        Ok(()) => {}
        Err(error)
            if error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
        Err(error) => panic!("cannot create a test database: {error:?}"),
    }
    drop(client);
    let _ = driver.await;
    let mut url = url::Url::parse(server).expect("PULSETAP_TEST_STORE is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Opens a store, waiting while a stopped app in this process still releases its lock.
pub async fn open_store(path: &std::path::Path) -> EmbeddedStore {
    for _ in 0..100 {
        if let Ok(store) = EmbeddedStore::open(path) {
            return store;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    EmbeddedStore::open(path).expect("the store opens")
}

/// A fresh client response id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A signature as the site owner's server computes it for a page.
pub fn sign(survey: &str, interaction: Option<&str>, tags: &[(&str, &str)]) -> String {
    let tags = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pulsetap_collector::domain::Secret::new(SECRET).sign_interaction(survey, interaction, &tags)
}

impl std::ops::Deref for TestApp {
    type Target = Collector;

    fn deref(&self) -> &Collector {
        &self.collector
    }
}

/// `collector serve` in a child process, on the PostgreSQL database `database`: another
/// machine behind the load balancer, as far as the database can tell. Killed when dropped.
pub struct CollectorProcess {
    collector: Collector,
    child: std::process::Child,
    _dir: TempDir,
}

impl CollectorProcess {
    pub fn start(config: &str, database: &str) -> Self {
        let dir = TempDir::new().expect("a temp dir");
        let config_file = dir.path().join("pulsetap.toml");
        std::fs::write(&config_file, config).expect("the configuration is written");
        let (child, address) =
            start_collector(&config_file, &dir.path().join("data"), Some(database));
        Self {
            collector: Collector::new(address),
            child,
            _dir: dir,
        }
    }
}

impl std::ops::Deref for CollectorProcess {
    type Target = Collector;

    fn deref(&self) -> &Collector {
        &self.collector
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Collector {
    /// Posts a rating as a customer's browser on the shop would.
    pub async fn post_response(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/responses", self.address))
            .header("Origin", SHOP)
            .json(body)
            .send()
            .await
            .expect("the collector answers")
    }

    /// Posts raw bytes with the given extra headers.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the collector answers")
    }

    pub async fn get_with_key(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("the collector answers")
    }

    /// Today's summary of a survey as the marketing team reads it.
    pub async fn summary(&self, survey: &str, query: &str) -> Summary {
        let response = self
            .get_with_key(
                &format!("/v1/surveys/{survey}/summary?{query}"),
                Some(MARKETING_KEY),
            )
            .await;
        assert_eq!(response.status(), 200, "summary answers");
        response.json().await.expect("a summary body")
    }

    /// Every stored response of a survey, from the NDJSON export.
    pub async fn export(&self, survey: &str) -> Vec<pulsetap_wire::ResponseRecord> {
        let response = self
            .get_with_key(
                &format!("/v1/surveys/{survey}/responses?format=ndjson"),
                Some(MARKETING_KEY),
            )
            .await;
        assert_eq!(response.status(), 200, "export answers");
        let text = response.text().await.unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("one record per line"))
            .collect()
    }
}

impl TestApp {
    /// Its data directory (on PostgreSQL, what names its database: `test_database`).
    pub fn data_path(&self) -> &std::path::Path {
        self.data.as_ref().expect("the data directory").path()
    }

    /// Stops the server gracefully and hands back its data directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
        self.data.take().expect("the data directory")
    }
}

/// The CSAT figure of a CSAT survey's figures and its interval.
pub fn csat(figures: &pulsetap_wire::Figures) -> (Option<f64>, Option<[f64; 2]>) {
    match &figures.kind {
        pulsetap_wire::KindFigures::Csat { csat, csat_ci95 } => (*csat, *csat_ci95),
        other => panic!("not CSAT figures: {other:?}"),
    }
}

/// A rating body for the `support` survey.
pub fn rating(score: u8) -> Value {
    json!({"survey": "support", "response_id": new_id(), "score": score})
}

/// The links of one `support` email as a helpdesk fetches them (`format=json`).
pub async fn email_links(
    app: &TestApp,
    interaction: &str,
    tags: &str,
) -> pulsetap_collector::email::EmailLinks {
    let response = app
        .client
        .get(format!("{}/v1/surveys/support/email", app.address))
        .query(&[
            ("interaction", interaction),
            ("tags", tags),
            ("format", "json"),
        ])
        .bearer_auth(HELPDESK_KEY)
        .send()
        .await
        .expect("the collector answers");
    assert_eq!(response.status(), 200, "the email endpoint answers");
    response.json().await.expect("an email links body")
}

/// Posts the landing page's confirm form for one email link, as a browser without the widget
/// does: the link's own parameters, and a comment.
pub async fn confirm_link(app: &TestApp, link_url: &str, comment: &str) -> reqwest::Response {
    let url = url::Url::parse(link_url).expect("a link is a URL");
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("comment".into(), comment.into()));
    app.client
        .post(format!("{}{}/confirm", app.address, url.path()))
        .form(&form)
        .send()
        .await
        .expect("the collector answers")
}

/// The base URL a `collector serve` child prints once it listens (its stdout must be piped).
pub fn listening_address(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(
        child
            .stdout
            .take()
            .expect("the collector's stdout is piped"),
    )
    .read_line(&mut line)
    .expect("the collector prints its address");
    line.trim()
        .rsplit(' ')
        .next()
        .expect("the listening line")
        .to_owned()
}

/// A `collector serve` child process on port 0 with the configuration file `config`, the data
/// directory `data` and, when given, the PostgreSQL database `store`; its base URL.
pub fn start_collector(
    config: &std::path::Path,
    data: &std::path::Path,
    store: Option<&str>,
) -> (std::process::Child, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_collector"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data);
    if let Some(store) = store {
        command.args(["--store", store]);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the collector starts");
    let address = listening_address(&mut child);
    (child, address)
}

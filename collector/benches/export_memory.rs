//! The export runs in bounded memory: streaming a million responses costs no more memory than
//! streaming a few.
//!
//!     cargo bench -p pulsetap-collector --bench export_memory
//!
//! Fills a store in batches, as the writer thread commits them, to 250,000 and then 1,000,000
//! responses (`PULSETAP_EXPORT_SIZES=10000,100000` for other steps). At each step, for CSV and
//! NDJSON, it starts this same program again as a child process that opens the store and streams
//! the export through the real router, discarding the bytes as a client would. The child reports
//! its peak resident memory (`VmHWM` in `/proc/self/status`) once ready to serve and again after
//! the export: a fresh process, so the fill's own memory can't hide in the figure. A third child
//! only walks the store, without serialising or sending anything: the difference between it and an
//! export is what the export itself holds (at most a few 64 KiB chunks), the rest is the storage
//! engine's cache. Bounded means the export's share does not grow with the store or the output.

use axum::body::Body;
use axum::http::Request;
use futures::StreamExt;
use pulsetap_collector::configuration;
use pulsetap_collector::domain::Rating;
use pulsetap_collector::routes::router;
use pulsetap_collector::state::AppState;
use pulsetap_collector::store::{Backend, EmbeddedStore};
use pulsetap_wire::RecordResponse;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;
use tower::ServiceExt;

mod support;
use support::record_in_batches;

const CONFIG: &str = r#"
read_keys = ["bench"]
[[survey]]
id = "support"
tags = ["agent", "channel"]
# The fill writes millions of unsigned ratings a day, far past the anonymous ceiling.
max_unverified_per_day = 1000000000
"#;

/// Set in the child: the data directory and the format to export.
const CHILD_DATA: &str = "PULSETAP_EXPORT_CHILD_DATA";
const CHILD_FORMAT: &str = "PULSETAP_EXPORT_CHILD_FORMAT";

fn main() {
    if let (Ok(data), Ok(format)) = (std::env::var(CHILD_DATA), std::env::var(CHILD_FORMAT)) {
        export_in_child(Path::new(&data), &format);
        return;
    }
    let sizes: Vec<u64> = std::env::var("PULSETAP_EXPORT_SIZES")
        .unwrap_or_else(|_| "250000,1000000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("sizes are numbers"))
        .collect();
    let dir = tempfile::tempdir().expect("a temp dir");

    let mut stored = 0;
    for size in sizes {
        let started = Instant::now();
        fill(dir.path(), stored, size);
        stored = size;
        println!(
            "{size} responses (filled in {:.0} s):",
            started.elapsed().as_secs_f64()
        );
        for format in ["scan", "csv", "ndjson"] {
            let output = Command::new(std::env::current_exe().expect("this program"))
                .env(CHILD_DATA, dir.path())
                .env(CHILD_FORMAT, format)
                .output()
                .expect("the child runs");
            assert!(
                output.status.success(),
                "the export child failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            print!("{}", String::from_utf8_lossy(&output.stdout));
        }
    }
}

/// Ratings `from..to` of a store spread over 90 days, 20 agents and 3 channels, one in ten with
/// a comment that a spreadsheet would run as a formula.
fn fill(path: &Path, from: u64, to: u64) {
    let surveys = configuration::parse(CONFIG).expect("the bench configuration is valid");
    let survey = surveys.get("support").expect("the survey").clone();
    let store = EmbeddedStore::open(path).expect("the store opens");
    let now = OffsetDateTime::now_utc();
    let rating_number = |n: u64| {
        let at = now - time::Duration::seconds((n % (90 * 86_400)) as i64);
        let body = RecordResponse {
            survey: "support".into(),
            response_id: uuid::Uuid::new_v4().to_string(),
            score: 1 + (n * 7 % 5) as u8,
            interaction: Some(format!("chat-{n}")),
            sig: None,
            tags: [
                ("agent".to_string(), format!("agent-{}", n % 20)),
                (
                    "channel".to_string(),
                    ["chat", "email", "web"][(n % 3) as usize].to_string(),
                ),
            ]
            .into(),
            comment: n
                .is_multiple_of(10)
                .then(|| "=HYPERLINK(\"x\") Kind and quick, thank you".to_string()),
            lang: None,
        };
        (Rating::parse(body, &survey).expect("a valid rating"), at)
    };
    record_in_batches(&store, &surveys, &survey, from, to, rating_number);
}

#[tokio::main]
async fn export_in_child(data: &Path, format: &str) {
    let surveys = configuration::parse(CONFIG).expect("the bench configuration is valid");
    let store = EmbeddedStore::open(data).expect("the store opens");
    if format == "scan" {
        return scan_in_child(&store);
    }
    let app = router(AppState::new(surveys, Arc::new(store), None));
    let ready_kib = peak_rss_kib();

    let started = Instant::now();
    let request = Request::get(format!("/v1/surveys/support/responses?format={format}"))
        .header("authorization", "Bearer bench")
        .body(Body::empty())
        .expect("a request");
    let response = app.oneshot(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body().into_data_stream();
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("the export streams to the end");
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|&&byte| byte == b'\n').count() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_kib = peak_rss_kib();
    println!(
        "{format:>6}: {lines} lines, {:.0} MiB in {seconds:.1} s; peak RSS {:.1} MiB \
         ({:.1} MiB when ready, {:.1} MiB more during the export)",
        bytes as f64 / 1_048_576.0,
        peak_kib as f64 / 1024.0,
        ready_kib as f64 / 1024.0,
        peak_kib.saturating_sub(ready_kib) as f64 / 1024.0,
    );
}

/// The baseline: the same walk over the store with no serialising and no HTTP, so what the
/// engine itself needs (its cache fills as the walk goes) is not mistaken for the export's.
fn scan_in_child(store: &EmbeddedStore) {
    let ready_kib = peak_rss_kib();
    let started = Instant::now();
    let mut records = 0u64;
    store
        .each_response("support", &mut |response| {
            records += u64::from(!response.to_record().response_id.is_empty());
            ControlFlow::Continue(())
        })
        .expect("every response reads");
    let peak_kib = peak_rss_kib();
    println!(
        "  scan: {records} records read in {:.1} s, nothing sent; peak RSS {:.1} MiB \
         ({:.1} MiB when ready: the store walk alone added {:.1} MiB)",
        started.elapsed().as_secs_f64(),
        peak_kib as f64 / 1024.0,
        ready_kib as f64 / 1024.0,
        peak_kib.saturating_sub(ready_kib) as f64 / 1024.0,
    );
}

/// The process's peak resident set size so far, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

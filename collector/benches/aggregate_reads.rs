//! Aggregate reads stay flat as the store grows.
//!
//! Fills one store step by step (10 thousand, 100 thousand, 1 million responses by default;
//! `PULSETAP_BENCH_SIZES=10000,10000000` for other steps) with ratings spread over 90 days, 20
//! agents and 3 channels, and at each step times the three reads a dashboard makes, through the
//! real router (JSON included), over the last 30 days:
//!
//!     cargo bench -p pulsetap-collector --bench aggregate_reads
//!
//! `PULSETAP_BENCH_STORE=postgres://…` fills and reads an empty PostgreSQL database instead of a
//! new embedded store (`scripts/bench-postgres.sh` does).
//!
//! Reads only touch counters, so their cost should depend on the days asked, not the responses.

use axum::body::Body;
use axum::http::Request;
use pulsetap_collector::configuration;
use pulsetap_collector::domain::Rating;
use pulsetap_collector::routes::router;
use pulsetap_collector::state::AppState;
use pulsetap_collector::store::{Backend, Location};
use pulsetap_wire::RecordResponse;
use std::sync::Arc;
use std::time::{Duration, Instant};
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

const READS: [(&str, &str); 3] = [
    ("summary", "/v1/surveys/support/summary?tag=agent:agent-7"),
    ("timeseries", "/v1/surveys/support/timeseries?interval=day"),
    ("breakdown", "/v1/surveys/support/breakdown?by=agent"),
];

#[tokio::main]
async fn main() {
    let sizes: Vec<u64> = std::env::var("PULSETAP_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("sizes are numbers"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let surveys = configuration::parse(CONFIG).unwrap();
    let location = match std::env::var("PULSETAP_BENCH_STORE") {
        Ok(url) if !url.is_empty() => Location::parse(&url).expect("a PostgreSQL URL"),
        _ => Location::Embedded(dir.path().to_owned()),
    };
    println!("store: {}", location.shown());
    let store: Arc<dyn Backend> = location.open().await.expect("the store opens");
    let state = AppState::new(surveys, store.clone(), None);
    let survey = state.surveys.get("support").unwrap().clone();
    let surveys = state.surveys.clone();
    let app = router(state);

    println!(
        "{:>12} {:>12} {:>12} {:>12}   (median of 1,000 reads each, 30 days)",
        "responses", READS[0].0, READS[1].0, READS[2].0
    );
    let now = OffsetDateTime::now_utc();
    let mut stored = 0u64;
    let mut baseline: Option<(Vec<Duration>, Vec<Duration>)> = None;
    for size in sizes {
        let fill_started = Instant::now();
        // The store blocks (the PostgreSQL one on a runtime of its own): off the async threads.
        tokio::task::block_in_place(|| {
            record_in_batches(store.as_ref(), &surveys, &survey, stored, size, |n| {
                let (body, at) = rating_number(n, now);
                (Rating::parse(body, &survey).unwrap(), at)
            })
        });
        stored = stored.max(size);
        let filled_in = fill_started.elapsed();
        // Timed twice: just after the fill, while an LSM store (the embedded one) may still
        // compact what the fill wrote, and again once that work is done. The first is what a
        // dashboard sees during a bulk import; the second, how the reads grow with the store
        // alone. Right after the 10M fill the summary took 0.099 ms, and 0.042 ms once the
        // compaction was done (BENCHMARKS.md).
        let busy = time_reads(&app).await;
        let settled_after = settle().await;
        let settled = time_reads(&app).await;
        println!(
            "{:>12} {:>10.3}ms {:>10.3}ms {:>10.3}ms   (just filled, in {:.1}s; RSS {} MB)",
            stored,
            ms(busy[0]),
            ms(busy[1]),
            ms(busy[2]),
            filled_in.as_secs_f64(),
            resident_megabytes()
        );
        println!(
            "{:>12} {:>10.3}ms {:>10.3}ms {:>10.3}ms   (settled: its background work done {:.0}s later)",
            "",
            ms(settled[0]),
            ms(settled[1]),
            ms(settled[2]),
            settled_after.as_secs_f64(),
        );
        match &baseline {
            None => baseline = Some((busy, settled)),
            Some((base_busy, base_settled)) => {
                for (base, medians, what) in [
                    (base_busy, &busy, "just filled"),
                    (base_settled, &settled, "settled"),
                ] {
                    let ratios: Vec<String> = base
                        .iter()
                        .zip(medians)
                        .map(|(b, m)| format!("{:.2}x", ms(*m) / ms(*b)))
                        .collect();
                    println!(
                        "{:>12} {:>12} {:>12} {:>12}   ({what}, vs the smallest store)",
                        "", ratios[0], ratios[1], ratios[2]
                    );
                }
            }
        }
    }
}

/// The median time of each of the three reads, over 1,000 of each. The reads take turns, so
/// each is timed over the same seconds (timed one after the other, the first read alone ran
/// while the store still compacted, and looked slower than the others for it).
async fn time_reads(app: &axum::Router) -> Vec<Duration> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(1_000); READS.len()];
    for _ in 0..1_000 {
        for ((_, path), times) in READS.iter().zip(&mut times) {
            let request = Request::get(*path)
                .header("authorization", "Bearer bench")
                .body(Body::empty())
                .unwrap();
            let started = Instant::now();
            let response = app.clone().oneshot(request).await.unwrap();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            times.push(started.elapsed());
            assert!(body.len() > 50);
        }
    }
    times
        .iter_mut()
        .map(|times| {
            times.sort();
            times[times.len() / 2]
        })
        .collect()
}

/// Waits until the store's background work is done: this process (nothing else runs in it
/// between the reads) using under a tenth of a core over a whole second, or three minutes at
/// most. How long it waited.
async fn settle() -> Duration {
    // /proc counts CPU time in USER_HZ ticks, 100 per second on Linux.
    const IDLE_TICKS_PER_SECOND: u64 = 10;
    let started = Instant::now();
    let mut before = cpu_ticks();
    while started.elapsed() < Duration::from_secs(180) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = cpu_ticks();
        if now.saturating_sub(before) < IDLE_TICKS_PER_SECOND {
            break;
        }
        before = now;
    }
    started.elapsed()
}

/// This process's CPU time so far, user and system, in ticks (`/proc/self/stat`).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces: utime
    // and stime are the 12th and 13th of them.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum()
}

/// The n-th stored rating and when it arrived.
fn rating_number(n: u64, now: OffsetDateTime) -> (RecordResponse, OffsetDateTime) {
    // A multiplicative hash spreads even the first ten thousand over all 90 days, so every
    // store size has counters on every day asked: only the volume differs.
    let at = now - time::Duration::seconds((n.wrapping_mul(2_654_435_761) % (90 * 86_400)) as i64);
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
        .into_iter()
        .collect(),
        comment: n
            .is_multiple_of(10)
            .then(|| "Kind and quick, thank you".to_string()),
        lang: None,
    };
    (body, at)
}

/// This process's resident memory: the store and the app it serves, as the collector holds them.
fn resident_megabytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kilobytes = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    kilobytes / 1024
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

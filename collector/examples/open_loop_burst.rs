//! The soak's burst (`scripts/bench-soak.sh`): customers arriving at a fixed rate, each posting
//! one new rating on a connection of its own, whether or not the collector keeps up. wrk can't
//! offer that: each of its connections waits for an answer before it asks again, so it never
//! sends more than comes back. Here arrivals follow the clock (an open loop), so a collector
//! that falls behind faces the same arrivals and has to turn them away (503) or be swamped.
//!
//!     cargo run --release -p pulsetap-collector --example open_loop_burst -- \
//!         http://127.0.0.1:PORT RATE SECONDS ACKED_FILE
//!
//! It appends the `response_id` of every 2xx to ACKED_FILE, one per line (the soak checks that
//! each is stored), and prints one line in the format of `scripts/bench-http.lua`'s:
//! `RESULT offered=… not_sent=… requests=… acknowledged=… overloaded=… …`. An arrival that
//! finds every socket the generator may hold already waiting is counted `not_sent` rather than
//! delayed, so the clock never waits for the collector and the line says how much was really
//! offered.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

/// Connections open at once, at most: under loopback's 28,232 ephemeral ports, and under the
/// file-descriptor limit (the soak raises it to the hard limit, 20,000 on the project's machine).
const MAX_IN_FLIGHT: u64 = 16_000;

/// How long one customer waits for an answer, connecting included (wrk's `--timeout` in the
/// soak).
const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Acknowledged,
    Overloaded,
    Unconfirmed,
    TooManyConnections,
    Other,
    ConnectFailed,
    ReadFailed,
    WriteFailed,
    TimedOut,
}

/// The ways an arrival ends without an answer from the collector.
const SOCKET_ERRORS: [Answer; 4] = [
    Answer::ConnectFailed,
    Answer::ReadFailed,
    Answer::WriteFailed,
    Answer::TimedOut,
];

struct Arrival {
    answer: Answer,
    micros: u64,
    response_id: String,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rate, seconds, acked] = &args[..] else {
        eprintln!("usage: open_loop_burst http://HOST:PORT RATE SECONDS ACKED_FILE");
        std::process::exit(2);
    };
    let address = url
        .strip_prefix("http://")
        .expect("an http:// URL")
        .trim_end_matches('/')
        .to_owned();
    let rate: f64 = rate.parse().expect("RATE is arrivals per second");
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    let total = (rate * seconds) as u64;

    let (results, mut arrivals) = mpsc::unbounded_channel::<Arrival>();
    let (descriptors, _hard) =
        rlimit::getrlimit(rlimit::Resource::NOFILE).expect("the descriptor limit can be read");
    // A few descriptors stay for the runtime, the output and the acknowledged ids' file.
    let in_flight = MAX_IN_FLIGHT.min(descriptors.saturating_sub(64)).max(1);
    let sockets = Arc::new(Semaphore::new(usize::try_from(in_flight).unwrap_or(1)));
    let started = Instant::now();
    let (mut offered, mut not_sent) = (0_u64, 0_u64);
    while offered < total {
        // Every arrival due by now: the clock, not the answers, sets the pace.
        let due = ((started.elapsed().as_secs_f64() * rate) as u64).min(total);
        while offered < due {
            offered += 1;
            let Ok(socket) = Arc::clone(&sockets).try_acquire_owned() else {
                not_sent += 1;
                continue;
            };
            let (address, results) = (address.clone(), results.clone());
            tokio::spawn(async move {
                let _socket = socket;
                let _ = results.send(arrive(&address).await);
            });
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let offered_for = started.elapsed();
    drop(results);

    let mut counts = [0_u64; Answer::TimedOut as usize + 1];
    let mut latencies = Vec::new();
    let mut file = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(acked)
            .expect("ACKED_FILE can be written"),
    );
    while let Some(arrival) = arrivals.recv().await {
        counts[arrival.answer as usize] += 1;
        if !SOCKET_ERRORS.contains(&arrival.answer) {
            latencies.push(arrival.micros);
        }
        if let Answer::Acknowledged = arrival.answer {
            writeln!(file, "{}", arrival.response_id).expect("ACKED_FILE can be written");
        }
    }
    file.flush().expect("ACKED_FILE can be written");
    latencies.sort_unstable();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let count = |answer: Answer| counts[answer as usize];
    println!(
        "RESULT offered={offered} offered_per_second={:.0} sockets={in_flight} not_sent={not_sent} requests={} duration_us={} \
         non_2xx={} socket_errors={} p50_us={} p99_us={} acknowledged={} overloaded={} unconfirmed={} \
         too_many_connections={} other={} socket_errors_by_kind={}",
        offered as f64 / offered_for.as_secs_f64(),
        latencies.len(),
        offered_for.as_micros(),
        latencies.len() as u64 - count(Answer::Acknowledged),
        SOCKET_ERRORS.iter().map(|&kind| count(kind)).sum::<u64>(),
        percentile(50),
        percentile(99),
        count(Answer::Acknowledged),
        count(Answer::Overloaded),
        count(Answer::Unconfirmed),
        count(Answer::TooManyConnections),
        count(Answer::Other),
        SOCKET_ERRORS
            .iter()
            .map(|&kind| count(kind).to_string())
            .collect::<Vec<_>>()
            .join("/"),
    );
}

/// One customer: connects, posts a new anonymous rating with two tags (what a help-center
/// widget sends, as `scripts/bench-http.lua` does) and reads the answer to the end.
async fn arrive(address: &str) -> Arrival {
    let response_id = uuid::Uuid::new_v4().to_string();
    let body = format!(
        r#"{{"survey":"bench","response_id":"{response_id}","score":{},"tags":{{"agent":"agent-{}","channel":"chat"}}}}"#,
        1 + response_id.as_bytes()[0] % 5,
        response_id.as_bytes()[1] % 12,
    );
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Origin: https://shop.example.com\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let began = Instant::now();
    let answer = match tokio::time::timeout(PATIENCE, exchange(address, request.as_bytes())).await {
        Err(_) => Answer::TimedOut,
        Ok(answer) => answer,
    };
    Arrival {
        answer,
        micros: began.elapsed().as_micros() as u64,
        response_id,
    }
}

async fn exchange(address: &str, request: &[u8]) -> Answer {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return Answer::ConnectFailed;
    };
    if stream.write_all(request).await.is_err() {
        return Answer::WriteFailed;
    }
    // `Connection: close`: the answer ends where the collector closes the connection.
    let mut reply = Vec::with_capacity(512);
    if stream.read_to_end(&mut reply).await.is_err() && reply.is_empty() {
        return Answer::ReadFailed;
    }
    let reply = String::from_utf8_lossy(&reply);
    let Some(status) = reply.get(9..12) else {
        return Answer::ReadFailed;
    };
    if status.starts_with('2') {
        return Answer::Acknowledged;
    }
    let code = reply
        .split_once(r#""error":""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(code, _)| code);
    match code {
        Some("overloaded") => Answer::Overloaded,
        Some("storage_unavailable") => Answer::Unconfirmed,
        Some("too_many_connections") => Answer::TooManyConnections,
        _ => Answer::Other,
    }
}

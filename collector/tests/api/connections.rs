//! No socket takes the collector down: a `collector serve` child under a low file-descriptor
//! limit (util-linux's `prlimit`) faces far more silent sockets and HTTP/2-preface-only sockets
//! than it has descriptors, and keeps answering.

use crate::helpers::*;
use pulsetap_collector::server::HEADER_READ_TIMEOUT;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The collector's descriptors: it keeps 64 of them for itself, so 64 connections fit.
const FD_LIMIT: u32 = 128;

/// What a client speaking cleartext HTTP/2 with prior knowledge sends first.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A `collector serve` child limited to `FD_LIMIT` descriptors, killed when dropped.
struct LimitedCollector {
    child: Child,
    /// `127.0.0.1:port`
    address: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl LimitedCollector {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("pulsetap.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let log = dir.path().join("collector.log");
        let mut child = Command::new("prlimit")
            .arg(format!("--nofile={FD_LIMIT}:{FD_LIMIT}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_collector"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("util-linux's prlimit runs the collector");
        let address = listening_address(&mut child)
            .trim_start_matches("http://")
            .to_owned();
        Self {
            child,
            address,
            log,
            _dir: dir,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.address)
            .await
            .expect("the collector's port takes connections")
    }

    /// `GET /healthz` on a new connection: the reply's status line and how long it took.
    async fn healthz(&self) -> (String, Duration) {
        let started = Instant::now();
        let mut socket = self.connect().await;
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: collector\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut reply))
            .await
            .expect("/healthz answers within 5 s")
            .expect("/healthz answers");
        let reply = String::from_utf8_lossy(&reply).into_owned();
        (reply, started.elapsed())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for LimitedCollector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the collector closes `socket` (end of stream or reset) by `deadline`, reading and
/// ignoring whatever it answers first.
async fn closed_by(socket: &mut TcpStream, deadline: Instant) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline.into(), socket.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// The test client holds hundreds of sockets; some systems start it with 1024 descriptors.
fn allow_this_test_many_sockets() {
    rlimit::increase_nofile_limit(4096).unwrap();
}

#[tokio::test]
async fn silent_and_http2_preface_sockets_beyond_the_fd_limit_never_keep_healthz_waiting_and_are_closed_in_time()
 {
    allow_this_test_many_sockets();
    let collector = LimitedCollector::start();

    let mut silent = Vec::new();
    let mut preface = Vec::new();
    let mut slowest = Duration::ZERO;
    for _round in 0..10 {
        for _ in 0..30 {
            silent.push((Instant::now(), collector.connect().await));
        }
        for _ in 0..20 {
            let mut socket = collector.connect().await;
            socket.write_all(HTTP2_PREFACE).await.unwrap();
            preface.push(socket);
        }
        let (reply, took) = collector.healthz().await;
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "/healthz answers 200 beside {} silent and {} HTTP/2 sockets: {reply}",
            silent.len(),
            preface.len()
        );
        slowest = slowest.max(took);
    }
    assert!(
        silent.len() + preface.len() > 3 * FD_LIMIT as usize,
        "far more sockets than descriptors"
    );
    assert!(
        slowest < Duration::from_millis(100),
        "/healthz answered within 100 ms every time, the slowest took {slowest:?}"
    );

    // HTTP/2 is not spoken here: the preface is refused at once.
    let soon = Instant::now() + Duration::from_secs(2);
    for socket in &mut preface {
        assert!(
            closed_by(socket, soon).await,
            "an HTTP/2 preface socket is closed at once"
        );
    }
    // A silent socket is closed within the header timeout of its opening: at once if newer
    // sockets needed its slot, else when the timeout expires.
    for (opened, socket) in &mut silent {
        let deadline = *opened + HEADER_READ_TIMEOUT + Duration::from_secs(1);
        assert!(
            closed_by(socket, deadline).await,
            "a silent socket is closed within {HEADER_READ_TIMEOUT:?} (+1 s)"
        );
    }

    let (reply, took) = collector.healthz().await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(took < Duration::from_millis(100), "{took:?}");
    let log = collector.log();
    assert!(
        !log.contains("Too many open files"),
        "the collector never ran out of descriptors:\n{log}"
    );
    assert!(
        log.contains("connection cap reached"),
        "the operator is told the cap was reached:\n{log}"
    );
}

#[tokio::test]
async fn past_the_cap_with_every_connection_busy_a_new_one_is_answered_503_with_retry_after() {
    allow_this_test_many_sockets();
    let collector = LimitedCollector::start();
    // Live feeds are requests that never end: 64 of them hold every slot.
    let mut feeds = Vec::new();
    for _ in 0..64 {
        let mut socket = collector.connect().await;
        socket
            .write_all(
                format!(
                    "GET /v1/surveys/support/live HTTP/1.1\r\nHost: collector\r\nAuthorization: Bearer {MARKETING_KEY}\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(5), socket.read_exact(&mut head))
            .await
            .expect("the live feed answers")
            .unwrap();
        assert_eq!(&head, b"HTTP/1.1 200", "a live feed opens");
        feeds.push(socket);
    }

    let (reply, took) = collector.healthz().await;
    let reply = reply.to_ascii_lowercase();
    assert!(
        reply.starts_with("http/1.1 503"),
        "every slot serves a feed: refused clearly, not left waiting: {reply}"
    );
    assert!(reply.contains("retry-after: 1"), "{reply}");
    assert!(reply.contains("too_many_connections"), "{reply}");
    assert!(
        took < Duration::from_millis(100),
        "refused at once: {took:?}"
    );

    // The feeds were never cut for it.
    for socket in &mut feeds {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(10), socket.read(&mut byte)).await;
        assert!(
            !matches!(read, Ok(Ok(0) | Err(_))),
            "a live feed stays open"
        );
    }
}

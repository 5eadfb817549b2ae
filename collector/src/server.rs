//! Accepting and serving connections so that no client can hold the server's file descriptors:
//! HTTP/1.1 only, a deadline on every connection from its first byte, and a cap on open
//! connections below the file-descriptor limit.
//!
//! Why HTTP/1.1 only: the collector runs behind a TLS proxy, which speaks HTTP/2 to browsers and
//! HTTP/1.1 to the collector (nginx cannot do otherwise). Cleartext HTTP/2 would only serve
//! clients that skip the proxy, and it cannot be bounded with what hyper offers: its HTTP/2
//! server has no idle timeout (a client that answers pings but sends nothing keeps its
//! connection for ever), and hyper-util's HTTP/1-or-2 detection waits for the first bytes
//! without any deadline (hyper issues 3756 and 3962). A client that opens with the HTTP/2
//! preface is answered `505 HTTP Version Not Supported` and closed.
//!
//! Why hand-written slots: tower's limits count requests, not connections, and a connection
//! waiting for its first request holds a descriptor all the same. No crate evicts idle hyper
//! connections; [`Slots`] does.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tower::ServiceExt;

/// A connection gets this long to send complete request headers: from its first byte, and again
/// after each response (an idle keep-alive connection). Without it a client that sends nothing,
/// or a byte now and then (slow loris), holds a connection and a file descriptor for ever. The
/// request body and the handler are bounded by the router's own timeout.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// File descriptors kept for everything that is not a client connection: the store's files,
/// the runtime's epoll and wake-up descriptors, the listener, standard streams, webhook
/// deliveries, and the connections being refused (see [`REFUSING_AT_ONCE`]). An idle collector
/// uses about 20. The embedded store keeps up to 32 tables open for reads, beside its journal,
/// its directories and the tables a flush or compaction is writing, and a write it cannot open
/// a file for breaks it until it is reopened (the store's `Broken` error): with 64, a
/// burst of connections took the last descriptors from a flush (the soak benchmark).
const RESERVED_FDS: u64 = 128;

/// Connections answered `503` at the same time, at most; past that a connection that finds
/// every slot busy is closed without an answer.
const REFUSING_AT_ONCE: usize = 16;

/// How long a refused connection gets to send its request before its `503`.
const REFUSAL_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts connections until `shutdown` resolves, then lets every connection finish its
/// requests in flight. Like `axum::serve`, plus the deadline on request headers and the cap on
/// open connections (see [`connection_cap`]).
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Slots::new(connection_cap());
    tracing::info!(
        max_connections = slots.cap,
        "connections beyond the cap close the longest idle one, or are answered 503"
    );
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    // Every accepted socket holds one of these until it is closed. An evicted connection's
    // socket closes a moment after its slot is taken, when its task sees the eviction; in a
    // burst, sockets were accepted faster than evicted ones closed, past the cap, until a flush
    // of the store found no descriptor left (the soak benchmark). So a socket is accepted only
    // while fewer than the cap and the refusals are open; the others wait in the kernel's queue.
    let sockets = Arc::new(Semaphore::new(slots.cap + REFUSING_AT_ONCE));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let socket = tokio::select! {
            permit = sockets.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors after all (the store took more than its reserve) and
                // the like: wait a moment rather than spin.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some((slot, evicted)) = slots.admit() else {
            refuse(stream, socket, &refusing);
            continue;
        };
        let id = slot.id;
        let (app, tracked) = (app.clone(), slots.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let busy = tracked.busy(id);
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = app.clone().oneshot(request);
            async move {
                let response = response.await?;
                // Busy until the body's last byte is written: a live feed's never is.
                Ok::<_, Infallible>(response.map(|body| {
                    body.map_frame(move |frame| {
                        let _busy = &busy;
                        frame
                    })
                }))
            }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                // Evicted: dropping the connection closes its socket.
                _ = evicted => {}
            }
            drop(slot);
            drop(socket);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// How many connections may be open at once: the soft file-descriptor limit (`ulimit -n`,
/// systemd's `LimitNOFILE=`) less [`RESERVED_FDS`], and never less than half the limit.
fn connection_cap() -> usize {
    #[cfg(unix)]
    let limit = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _hard)| soft);
    #[cfg(not(unix))]
    let limit = 1024;
    cap_for(limit)
}

fn cap_for(fd_limit: u64) -> usize {
    // An unlimited limit reads as u64::MAX; a hundred thousand connections is plenty anyway.
    let cap = fd_limit
        .saturating_sub(RESERVED_FDS)
        .max(fd_limit / 2)
        .clamp(1, 100_000);
    usize::try_from(cap).unwrap_or(1)
}

/// Answers a connection that found every slot busy with `503` and `Retry-After`, then closes
/// it; hyper reads the request first, so the client sees the answer rather than a reset.
fn refuse(stream: TcpStream, socket: OwnedSemaphorePermit, refusing: &Arc<Semaphore>) {
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return; // dropping the stream closes it
    };
    tokio::spawn(async move {
        let _permits = (permit, socket);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(REFUSAL_READ_TIMEOUT)
            .keep_alive(false);
        let service = service_fn(|_request: Request<Incoming>| async {
            let mut response = Response::new(Body::from(
                r#"{"error":"too_many_connections","message":"The collector has as many connections open as it can serve; retry in a second."}"#,
            ));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok::<_, Infallible>(response)
        });
        let _ = builder
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

/// The open connections, which of them have a request in flight, and which have waited
/// longest without one: at the cap, a new connection takes that one's slot. A client holding
/// sockets open without requests thus only ever closes its own oldest ones, and `/healthz` or a
/// rating still gets in; a connection serving a request is never cut.
struct Slots {
    cap: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    /// Numbers connections and orders idle periods.
    counter: u64,
    connections: HashMap<u64, Connection>,
    /// Connections without a request in flight, by when they became idle (oldest first).
    idle: BTreeMap<u64, u64>,
    /// Evictions and refusals since the last warning, which is logged at most once a minute.
    evicted: u64,
    refused: u64,
    warned: Option<Instant>,
}

struct Connection {
    /// Dropping it tells the connection's task to close the socket.
    _evict: oneshot::Sender<()>,
    in_flight: usize,
    /// Its key in `Open::idle` while it has no request in flight.
    idle_since: Option<u64>,
}

/// An admitted connection's slot, freed when dropped.
struct Slot {
    slots: Arc<Slots>,
    id: u64,
}

/// A request in flight on a connection, which therefore can't be evicted until it is dropped.
struct Busy {
    slots: Arc<Slots>,
    id: u64,
}

impl Slots {
    fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // Nothing under the lock panics; a poisoned lock still holds consistent data.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a new connection, with the signal that it was evicted; at the cap, the
    /// longest idle connection is evicted for it. `None` when every connection is busy.
    fn admit(self: &Arc<Self>) -> Option<(Slot, oneshot::Receiver<()>)> {
        let mut open = self.lock();
        if open.connections.len() >= self.cap {
            match open.idle.pop_first() {
                Some((_, oldest)) => {
                    open.connections.remove(&oldest);
                    open.evicted += 1;
                }
                None => open.refused += 1,
            }
            open.warn_at_most_once_a_minute(self.cap);
            if open.connections.len() >= self.cap {
                return None;
            }
        }
        let (evict, evicted) = oneshot::channel();
        open.counter += 1;
        let id = open.counter;
        open.idle.insert(id, id);
        open.connections.insert(
            id,
            Connection {
                _evict: evict,
                in_flight: 0,
                idle_since: Some(id),
            },
        );
        let slot = Slot {
            slots: self.clone(),
            id,
        };
        Some((slot, evicted))
    }

    fn busy(self: &Arc<Self>, id: u64) -> Busy {
        let mut open = self.lock();
        let Open {
            connections, idle, ..
        } = &mut *open;
        if let Some(connection) = connections.get_mut(&id) {
            if let Some(since) = connection.idle_since.take() {
                idle.remove(&since);
            }
            connection.in_flight += 1;
        }
        Busy {
            slots: self.clone(),
            id,
        }
    }
}

impl Open {
    fn warn_at_most_once_a_minute(&mut self, cap: usize) {
        if self
            .warned
            .is_some_and(|at| at.elapsed() < Duration::from_secs(60))
        {
            return;
        }
        tracing::warn!(
            max_connections = cap,
            evicted_idle = self.evicted,
            refused_with_503 = self.refused,
            "connection cap reached (raise the file-descriptor limit if these are real clients)"
        );
        (self.evicted, self.refused, self.warned) = (0, 0, Some(Instant::now()));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(connection) = open.connections.remove(&self.id)
            && let Some(since) = connection.idle_since
        {
            open.idle.remove(&since);
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        open.counter += 1;
        let now = open.counter;
        let Open {
            connections, idle, ..
        } = &mut *open;
        if let Some(connection) = connections.get_mut(&self.id) {
            connection.in_flight -= 1;
            if connection.in_flight == 0 {
                connection.idle_since = Some(now);
                idle.insert(now, self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_for_the_store() {
        assert_eq!(cap_for(1024), 896);
        assert_eq!(cap_for(128), 64);
        assert_eq!(cap_for(100), 50);
        assert_eq!(cap_for(u64::MAX), 100_000);
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room_and_a_busy_one_never_does() {
        let slots = Slots::new(2);
        let (first, mut first_evicted) = slots.admit().unwrap();
        let (second, mut second_evicted) = slots.admit().unwrap();
        let busy = slots.busy(second.id);
        // Full: the first (idle) goes, the second (busy) stays.
        let (third, _) = slots.admit().unwrap();
        assert!(matches!(
            first_evicted.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        assert!(matches!(
            second_evicted.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
        let third_busy = slots.busy(third.id);
        assert!(slots.admit().is_none(), "every connection is busy: refused");
        drop(busy);
        assert!(slots.admit().is_some(), "the second is idle again");
        drop((first, third_busy));
    }
}

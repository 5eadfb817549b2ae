//! The one writer: every write queues here, and whole batches go into one transaction.
//!
//! sled 0.34 runs one transaction at a time and makes every other read and write of the
//! database wait while one runs. Requests each running their own transaction on the threads
//! that serve HTTP queued on that lock, blocked the runtime while they waited, and paid the
//! transaction's fixed cost, with a dozen counter writes, once per rating. Instead requests hand
//! their write to one thread, which takes everything waiting (up to `MAX_BATCH`), applies it
//! with `Backend::apply` (counters shared by the batch are written once), flushes, and only
//! then answers. While it flushes, the next batch gathers, so the busier the collector, the more
//! writes one transaction and one fsync serve: 4,300 ratings/s became about 20,000 on the
//! benchmark machine (BENCHMARKS.md). Pipelined variants measured no faster: applying the next
//! batch during the flush on other threads (the hand-offs cost more than the overlap gained),
//! and a second thread that flushes while this one applies (16,300-17,200 ratings/s against
//! 17,300): under load the collector is short of CPU, not waiting on the disk.
//!
//! After the flush the writer announces what became durable: each live-feed event on a
//! broadcast channel, and a wake-up for the alert worker when a rating queued an alert.

use super::backend::{Backend, Outcome, StoreError, Write};
use crate::domain::Surveys;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};

/// Hears every flush: how long it took, in seconds, and how many writes it made durable.
pub type FlushObserver = Arc<dyn Fn(f64, usize) + Send + Sync>;

/// Writes per transaction at most: enough to amortise a transaction and a flush under any
/// load, few enough that one batch holds the database lock for only a few milliseconds.
const MAX_BATCH: usize = 512;

/// A batch of `BUSY_BATCH` up to `GATHER_BELOW` writes waits `GATHER` for more before it is
/// written. At full load the writer otherwise loops over ~15-rating batches, each paying a
/// transaction, a flush and sled's hand-off to its IO thread; the pause doubles the batch and
/// raised the benchmark's throughput by about a tenth. Below `BUSY_BATCH` waiting (half of the
/// benchmark's maximum gathers about 9) the writer is keeping up and never waits, so latency
/// under normal load does not pay for it (a pause from 4 up cost 1 ms of p99 at half load).
const GATHER_BELOW: usize = 48;
const BUSY_BATCH: usize = 12;
const GATHER: Duration = Duration::from_micros(300);

/// Live-feed announcements a slow listener may fall behind by before it must re-read the
/// events from the store.
const ANNOUNCEMENTS: usize = 1024;

type Reply = oneshot::Sender<Result<Outcome, StoreError>>;

struct Job {
    write: Write,
    reply: Reply,
}

/// A handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Job>,
    live: broadcast::Sender<u64>,
    alerts_queued: Arc<Notify>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer thread. It ends when every `Writer` handle is dropped, after answering
    /// everything queued.
    pub fn start(backend: Arc<dyn Backend>, surveys: Arc<Surveys>, observe: FlushObserver) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel::<Job>();
        let (live, _) = broadcast::channel(ANNOUNCEMENTS);
        let alerts_queued = Arc::new(Notify::new());
        let announcer = Announcer {
            live: live.clone(),
            alerts_queued: alerts_queued.clone(),
            observe,
        };
        std::thread::Builder::new()
            .name("pulsetap-writer".into())
            .spawn(move || run(backend.as_ref(), &surveys, waiting, &announcer))
            .expect("the writer thread starts");
        Self {
            queue,
            live,
            alerts_queued,
        }
    }

    /// Queues a write and resolves once it is durable, with what it did.
    pub async fn write(&self, write: Write) -> Result<Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { write, reply })
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    pub fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.live.subscribe()
    }

    pub fn alerts_queued(&self) -> Arc<Notify> {
        self.alerts_queued.clone()
    }
}

/// Tells the rest of the collector what became durable.
struct Announcer {
    live: broadcast::Sender<u64>,
    alerts_queued: Arc<Notify>,
    observe: FlushObserver,
}

impl Announcer {
    fn announce(&self, outcomes: &[Result<Outcome, StoreError>]) {
        let mut alert = false;
        for outcome in outcomes {
            if let Ok(Outcome::Rating(Ok(recorded))) = outcome {
                if let Some(event) = recorded.event {
                    // Nobody listening is fine: the live feed also replays from the store.
                    let _ = self.live.send(event);
                }
                alert |= recorded.alert_queued;
            }
        }
        if alert {
            self.alerts_queued.notify_one();
        }
    }
}

fn run(
    backend: &dyn Backend,
    surveys: &Surveys,
    mut waiting: mpsc::UnboundedReceiver<Job>,
    announcer: &Announcer,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while waiting.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
        if (BUSY_BATCH..GATHER_BELOW).contains(&batch.len()) {
            std::thread::sleep(GATHER);
            while batch.len() < MAX_BATCH
                && let Ok(job) = waiting.try_recv()
            {
                batch.push(job);
            }
        }
        let (writes, replies): (Vec<Write>, Vec<Reply>) =
            batch.drain(..).map(|job| (job.write, job.reply)).unzip();
        let started = Instant::now();
        let outcomes = commit(backend, surveys, &writes);
        (announcer.observe)(started.elapsed().as_secs_f64(), writes.len());
        announcer.announce(&outcomes);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The request may have gone (client hung up); its write still stands.
            let _ = reply.send(outcome);
        }
    }
}

/// Applies and flushes one batch: one answer per write.
fn commit(
    backend: &dyn Backend,
    surveys: &Surveys,
    writes: &[Write],
) -> Vec<Result<Outcome, StoreError>> {
    let applied = backend.apply(surveys, writes);
    let durable = applied.and_then(|outcomes| backend.flush().map(|()| outcomes));
    match durable {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(error) => writes.iter().map(|_| Err(error.clone())).collect(),
    }
}

//! The one writer: every write queues here, and whole batches go into one transaction.
//!
//! The embedded engine runs one write transaction at a time (sled 0.34, the engine before fjall,
//! also made every read wait while one ran). Requests each running their own transaction on the
//! threads that serve HTTP queued on that lock, blocked the runtime while they waited, and paid the
//! transaction's fixed cost, with a dozen counter writes, once per rating. Instead requests hand
//! their write to one thread, which takes everything waiting (up to `MAX_BATCH`), applies it with
//! `Backend::apply` (counters shared by the batch are written once), flushes, and only then
//! answers. While it flushes, the next batch gathers, so the busier the collector, the more writes
//! one transaction and one fsync serve: 4,300 ratings/s became about 20,000 on the benchmark
//! machine (BENCHMARKS.md). Pipelined variants measured no faster: applying the next batch during
//! the flush on other threads (the hand-offs cost more than the overlap gained), and a second
//! thread that flushes while this one applies (16,300-17,200 ratings/s against 17,300): under load
//! the collector is short of CPU, not waiting on the disk. Nor does a batch wait for more writes
//! to come: clients just answered send their next ones within a round trip, and the first of
//! them flushing alone while the rest arrive beats waiting for all. A 300 µs pause for batches
//! of 12 to 47 (tuned on sled) cost wrk's 32 connections a quarter of their rate on fjall (15,700–
//! 17,650 ratings/s against 22,800–24,000) and gained nothing elsewhere (BENCHMARKS.md).
//!
//! After the flush the writer announces what became durable: each live-feed event on a
//! broadcast channel, and a wake-up for the alert worker when a rating queued an alert.
//!
//! Overload is answered, never absorbed: the queue holds [`QUEUE_CAPACITY`] writes, and a
//! client's write that finds it full is refused at once ([`StoreError::Overloaded`]), having
//! queued nothing. A queued write is waited for [`ANSWER_DEADLINE`] at most; past it the client
//! hears that its write may still be stored ([`StoreError::Unanswered`]): writes are idempotent,
//! so sending it again is safe. The collector's own writes (alert bookkeeping, barriers,
//! backups) wait for room instead.
//!
//! The writer reports on itself ([`WriterStatus`], read by `/healthz`): when it last moved, how
//! much is queued, when it last flushed. One that holds work without moving for [`STALL_AFTER`]
//! is stalled (a stuck disk; sled 0.34, the engine before fjall, could deadlock under load,
//! spacejam/sled#1412). One that panics is dead: the engine may be in any state, so the process
//! exits (code 70) for its supervisor to restart it on a cleanly opened store, rather than
//! answering 503 for ever. So does one whose engine breaks ([`StoreError::Broken`], code 74).

use super::backend::{Backend, Outcome, StoreError, Write};
use crate::domain::Surveys;
pub use shared_events::SHARED_POLL;
use shared_events::watch_shared_events;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, broadcast, mpsc, oneshot};

/// Hears every flush: how long it took, in seconds, and how many writes it made durable.
pub type FlushObserver = Arc<dyn Fn(f64, usize) + Send + Sync>;

/// Writes per transaction at most: enough to amortise a transaction and a flush under any
/// load, few enough that one batch holds the database lock for only a few milliseconds.
const MAX_BATCH: usize = 512;

/// Writes that may wait for the writer. About a second of work at the best rate measured here
/// (19,000 ratings/s), two to four on a loaded machine (the soak benchmark measured 4,000 to
/// 8,000/s): enough to ride out a flush that takes a second or a burst of a few seconds, while
/// a stalled disk turns into 503s within seconds instead of a queue that grows until memory runs
/// out. A queued rating holds a few hundred bytes (8 KiB at most), so a full queue holds about
/// 8 MiB (128 MiB if every one carried the longest comment).
pub const QUEUE_CAPACITY: usize = 16_384;

/// How long a client waits for its queued write to be answered: a full queue drains in about
/// a second at full speed, so a wait this long means the writer is stuck, and the client is
/// better told so (and retries) than left hanging.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(10);

/// A writer holding work that has not moved for this long is stalled. A batch takes
/// milliseconds and a flush rarely more than a second; a backup reports progress as it copies.
pub const STALL_AFTER: Duration = Duration::from_secs(10);

/// The exit code after a writer panic: EX_SOFTWARE, an internal error.
const PANIC_EXIT_CODE: i32 = 70;

/// The exit code when the storage engine takes no more writes until reopened
/// ([`StoreError::Broken`]): EX_IOERR.
const BROKEN_ENGINE_EXIT_CODE: i32 = 74;

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
    queue: mpsc::Sender<Job>,
    live: broadcast::Sender<u64>,
    alerts_queued: Arc<Notify>,
    health: Arc<Health>,
    #[cfg(feature = "fault-injection")]
    faults: Arc<faults::Faults>,
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
        let (queue, waiting) = mpsc::channel::<Job>(QUEUE_CAPACITY);
        let (live, _) = broadcast::channel(ANNOUNCEMENTS);
        let alerts_queued = Arc::new(Notify::new());
        let health = Arc::new(Health::new());
        #[cfg(feature = "fault-injection")]
        let faults = Arc::new(faults::Faults::from_environment());
        let thread = Thread {
            backend,
            surveys,
            waiting,
            announcer: Announcer {
                live: live.clone(),
                alerts_queued: alerts_queued.clone(),
                observe,
            },
            health: health.clone(),
            #[cfg(feature = "fault-injection")]
            faults: faults.clone(),
        };
        exit_on_writer_panic();
        if thread.backend.shared() {
            watch_shared_events(
                thread.backend.clone(),
                live.clone(),
                Arc::downgrade(&health),
            );
        }
        std::thread::Builder::new()
            .name("pulsetap-writer".into())
            .spawn(move || thread.run())
            .expect("the writer thread starts");
        Self {
            queue,
            live,
            alerts_queued,
            health,
            #[cfg(feature = "fault-injection")]
            faults,
        }
    }

    /// A client's write: queued unless the queue is full (then refused at once, nothing
    /// queued), and resolved once it is durable, or when `ANSWER_DEADLINE` has passed (then it
    /// may still be written).
    pub async fn write(&self, write: Write) -> Result<Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        match self.queue.try_send(Job { write, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(StoreError::Overloaded(self.queue.max_capacity()));
            }
            Err(TrySendError::Closed(_)) => return Err(StoreError::Stopped),
        }
        match tokio::time::timeout(ANSWER_DEADLINE, answer).await {
            Ok(answered) => answered.map_err(|_| StoreError::Stopped)?,
            Err(_) => Err(StoreError::Unanswered(ANSWER_DEADLINE)),
        }
    }

    /// The collector's own write (alert bookkeeping, a barrier, a backup): waits for room in
    /// the queue and for its answer, however long they take.
    pub async fn write_waiting(&self, write: Write) -> Result<Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { write, reply })
            .await
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    pub fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.live.subscribe()
    }

    pub fn alerts_queued(&self) -> Arc<Notify> {
        self.alerts_queued.clone()
    }

    /// How the writer is doing, for `/healthz`.
    pub fn status(&self) -> WriterStatus {
        let queued = self.queue.max_capacity() - self.queue.capacity();
        self.health.status(queued, self.queue.max_capacity())
    }

    /// Test builds only: holds the writer, with a batch in hand and before it writes it, until
    /// the guard is dropped, so a test can fill its queue. Resolves once the writer is held
    /// (holding a barrier sent to wake it, or a batch that came before).
    #[cfg(feature = "fault-injection")]
    pub async fn pause(&self) -> faults::Paused {
        let paused = self.faults.pause();
        let writer = self.clone();
        tokio::spawn(async move { writer.write_waiting(Write::Barrier).await });
        while !self.faults.held() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        paused
    }
}

/// How the writer is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterStatus {
    /// Writes waiting in the queue.
    pub queued: usize,
    pub capacity: usize,
    /// Between taking a batch and answering it (or held between two batches).
    pub working: bool,
    /// Since the writer last moved: took a batch, applied, flushed, answered, copied a chunk of
    /// a backup, or began to wait for work.
    pub since_progress: Duration,
    /// The last flush: when (unix ms), and how long it took.
    pub last_flush_ms: Option<i64>,
    pub last_flush_took: Duration,
    /// The writer thread panicked (the process is exiting).
    pub dead: bool,
}

impl WriterStatus {
    /// Whether the writer holds work (a batch in hand, or writes waiting while it is not
    /// waiting for them) and has not moved for `STALL_AFTER`, or has died.
    pub fn stalled(&self) -> bool {
        self.dead || (self.working && self.since_progress >= STALL_AFTER)
    }
}

/// What the writer thread tells the rest about itself; every field is read without a lock.
#[derive(Debug)]
struct Health {
    epoch: Instant,
    /// Microseconds from `epoch` to the last move.
    progress_us: AtomicU64,
    phase: AtomicU8,
    last_flush_ms: AtomicI64,
    last_flush_us: AtomicU64,
}

const WAITING_FOR_WORK: u8 = 0;
const WORKING: u8 = 1;
const BETWEEN_BATCHES: u8 = 2;
const DEAD: u8 = 3;

impl Health {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            progress_us: AtomicU64::new(0),
            phase: AtomicU8::new(WAITING_FOR_WORK),
            last_flush_ms: AtomicI64::new(0),
            last_flush_us: AtomicU64::new(0),
        }
    }

    fn moved(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.progress_us.store(now, Ordering::Relaxed);
    }

    fn enter(&self, phase: u8) {
        self.moved();
        // A dead writer stays dead.
        let _ = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current != DEAD).then_some(phase)
            });
    }

    fn flushed(&self, took: Duration) {
        self.moved();
        let now = crate::domain::calendar::unix_ms(time::OffsetDateTime::now_utc());
        self.last_flush_ms.store(now, Ordering::Relaxed);
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_flush_us.store(took, Ordering::Relaxed);
    }

    fn die(&self) {
        self.phase.store(DEAD, Ordering::Release);
    }

    fn status(&self, queued: usize, capacity: usize) -> WriterStatus {
        let phase = self.phase.load(Ordering::Acquire);
        let moved = Duration::from_micros(self.progress_us.load(Ordering::Relaxed));
        let last_flush_ms = self.last_flush_ms.load(Ordering::Relaxed);
        WriterStatus {
            queued,
            capacity,
            working: phase == WORKING || (phase == BETWEEN_BATCHES && queued > 0),
            since_progress: self.epoch.elapsed().saturating_sub(moved),
            last_flush_ms: (last_flush_ms != 0).then_some(last_flush_ms),
            last_flush_took: Duration::from_micros(self.last_flush_us.load(Ordering::Relaxed)),
            dead: phase == DEAD,
        }
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
            // Responses a registration moved to its tags.
            if let Ok(Outcome::Registered(Ok(report))) = outcome {
                for &event in &report.events {
                    let _ = self.live.send(event);
                }
            }
        }
        if alert {
            self.alerts_queued.notify_one();
        }
    }
}

/// Everything the writer thread owns.
struct Thread {
    backend: Arc<dyn Backend>,
    surveys: Arc<Surveys>,
    waiting: mpsc::Receiver<Job>,
    announcer: Announcer,
    health: Arc<Health>,
    #[cfg(feature = "fault-injection")]
    faults: Arc<faults::Faults>,
}

impl Thread {
    fn run(mut self) {
        THIS_WRITER.with(|writer| *writer.borrow_mut() = Some(self.health.clone()));
        let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
        loop {
            self.health.enter(WAITING_FOR_WORK);
            if self.waiting.blocking_recv_many(&mut batch, MAX_BATCH) == 0 {
                break;
            }
            self.health.enter(WORKING);
            #[cfg(feature = "fault-injection")]
            self.faults.hold_while_paused();
            #[cfg(feature = "fault-injection")]
            self.faults.before_batch();
            // A backup runs alone, between what was queued before it and what was queued after.
            while let Some(at) = batch
                .iter()
                .position(|job| matches!(job.write, Write::Backup { .. }))
            {
                let rest = batch.split_off(at + 1);
                let backup = batch.pop().expect("the backup job");
                self.commit(&mut batch);
                self.back_up(backup);
                batch = rest;
            }
            self.commit(&mut batch);
            self.health.enter(BETWEEN_BATCHES);
        }
    }

    /// Applies and flushes `jobs` as one batch, announces what became durable, answers each.
    fn commit(&self, jobs: &mut Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let (writes, replies): (Vec<Write>, Vec<Reply>) =
            jobs.drain(..).map(|job| (job.write, job.reply)).unzip();
        let started = Instant::now();
        let applied = self.backend.apply(&self.surveys, &writes);
        #[cfg(feature = "fault-injection")]
        let applied = self.faults.break_engine(applied);
        self.health.moved();
        let durable = applied.and_then(|outcomes| {
            let flushing = Instant::now();
            let flushed = self.backend.flush();
            self.health.flushed(flushing.elapsed());
            flushed.map(|()| outcomes)
        });
        let broken = match &durable {
            Err(StoreError::Broken(reason)) => Some(reason.clone()),
            _ => None,
        };
        if broken.is_some() {
            // Before any client hears of it: `/healthz` never says ok from here on.
            self.health.die();
        }
        let outcomes: Vec<Result<Outcome, StoreError>> = match durable {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(error) => writes.iter().map(|_| Err(error.clone())).collect(),
        };
        (self.announcer.observe)(started.elapsed().as_secs_f64(), writes.len());
        self.announcer.announce(&outcomes);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The request may have gone (client hung up); its write still stands.
            let _ = reply.send(outcome);
        }
        if let Some(reason) = broken {
            // Every later write would be refused too: a half-alive server helps no one, a
            // supervisor's restart reopens the store (what was acknowledged is in its journal).
            tracing::error!(
                %reason,
                "the storage engine takes no more writes: exiting, so that a supervisor restarts the collector on a reopened store"
            );
            std::process::exit(BROKEN_ENGINE_EXIT_CODE);
        }
    }

    fn back_up(&self, job: Job) {
        let Job {
            write: Write::Backup { to },
            reply,
        } = job
        else {
            unreachable!("only a backup job is backed up");
        };
        let health = &self.health;
        let copied = self.backend.backup(&to, &mut || health.moved());
        let _ = reply.send(copied.map(Outcome::Backup));
    }
}

thread_local! {
    /// Set on writer threads only: what the panic hook marks dead.
    static THIS_WRITER: std::cell::RefCell<Option<Arc<Health>>> =
        const { std::cell::RefCell::new(None) };
}

/// Chains a panic hook, once per process: a panic in a writer thread marks it dead before
/// anything unwinds (so no client is answered while `/healthz` still says ok), is logged, and
/// exits the process.
fn exit_on_writer_panic() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let writer = THIS_WRITER.with(|writer| writer.borrow().clone());
            if let Some(health) = &writer {
                health.die();
            }
            previous(info);
            if writer.is_some() {
                tracing::error!(
                    panic = %info,
                    "the writer thread panicked: exiting, so that a supervisor restarts the collector on a cleanly opened store"
                );
                std::process::exit(PANIC_EXIT_CODE);
            }
        }));
    });
}

mod shared_events;

/// Test builds only (the `fault-injection` feature, enabled by the crate's own tests, never in
/// a release build): a writer held with a batch in hand, and a writer that panics.
#[cfg(feature = "fault-injection")]
pub mod faults;

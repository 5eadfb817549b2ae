//! The one writer of ratings: requests queue here, and whole batches go into one transaction.
//!
//! sled 0.34 runs one transaction at a time and makes every other read and write of the
//! database wait while one runs. Requests each running their own transaction on the threads
//! that serve HTTP queued on that lock, blocked the runtime while they waited, and paid the
//! transaction's fixed cost, with a dozen counter writes, once per rating. Instead requests hand
//! their rating to one thread, which takes everything waiting (up to `MAX_BATCH`), applies it
//! with `Store::record_all` (counters shared by the batch are written once), flushes, and only
//! then answers. While it flushes, the next batch gathers, so the busier the collector, the more
//! ratings one transaction and one fsync serve: 4,300 ratings/s became about 20,000 on the
//! benchmark machine (BENCHMARKS.md). Pipelined variants measured no faster: applying the next
//! batch during the flush on other threads (the hand-offs cost more than the overlap gained),
//! and a second thread that flushes while this one applies (16,300-17,200 ratings/s against
//! 17,300): under load the collector is short of CPU, not waiting on the disk.

use super::group_commit::FlushObserver;
use super::{RecordError, Recorded, Store, StoreError, Write};
use crate::domain::{Rating, SurveyId, Surveys};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Ratings per transaction at most: enough to amortise a transaction and a flush under any
/// load, few enough that one batch holds the database lock for only a few milliseconds.
const MAX_BATCH: usize = 512;

/// A batch of `BUSY_BATCH` up to `GATHER_BELOW` ratings waits `GATHER` for more before it is
/// written. At full load the writer otherwise loops over ~15-rating batches, each paying a
/// transaction, a flush and sled's hand-off to its IO thread; the pause doubles the batch and
/// raised the benchmark's throughput by about a tenth. Below `BUSY_BATCH` waiting (half of the
/// benchmark's maximum gathers about 9) the writer is keeping up and never waits, so latency
/// under normal load does not pay for it (a pause from 4 up cost 1 ms of p99 at half load).
const GATHER_BELOW: usize = 48;
const BUSY_BATCH: usize = 12;
const GATHER: Duration = Duration::from_micros(300);

type Reply = oneshot::Sender<Result<Recorded, RecordError>>;

struct Job {
    survey: SurveyId,
    rating: Rating,
    now: OffsetDateTime,
    reply: Reply,
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer thread. It ends when every `Writer` handle is dropped, after answering
    /// everything queued. `observe` hears each flush's latency and how many ratings it covered.
    pub fn start(store: Store, surveys: Arc<Surveys>, observe: FlushObserver) -> Self {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("pulsetap-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                while waiting.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
                    if (BUSY_BATCH..GATHER_BELOW).contains(&batch.len()) {
                        std::thread::sleep(GATHER);
                        while batch.len() < MAX_BATCH
                            && let Ok(job) = waiting.try_recv()
                        {
                            batch.push(job);
                        }
                    }
                    let results = apply(&store, &surveys, &batch);
                    let flush_started = Instant::now();
                    let durable = store.flush();
                    observe(flush_started.elapsed().as_secs_f64(), batch.len());
                    for (job, result) in batch.drain(..).zip(results) {
                        let result = match (&durable, result) {
                            (Err(error), Ok(_)) => {
                                Err(RecordError::Storage(StoreError::Flush(error.to_string())))
                            }
                            (_, result) => result,
                        };
                        // The request may have gone (client hung up); its rating still stands.
                        let _ = job.reply.send(result);
                    }
                }
            })
            .expect("the writer thread starts");
        Self { queue }
    }

    /// Records a rating and resolves once it is on disk.
    pub async fn record(
        &self,
        survey: SurveyId,
        rating: Rating,
        now: OffsetDateTime,
    ) -> Result<Recorded, RecordError> {
        let stopped = || RecordError::Storage(StoreError::Flush("the writer has stopped".into()));
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                survey,
                rating,
                now,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn apply(store: &Store, surveys: &Surveys, batch: &[Job]) -> Vec<Result<Recorded, RecordError>> {
    // Requests were checked against the same configuration the writer holds, so every survey is
    // found; if one were not, the batch is refused whole rather than the writer thread dying.
    let writes: Option<Vec<Write<'_>>> = batch
        .iter()
        .map(|job| {
            Some(Write {
                survey: surveys.get(job.survey.as_str())?,
                rating: &job.rating,
                now: job.now,
            })
        })
        .collect();
    match writes {
        Some(writes) => store.record_all(&writes),
        None => batch
            .iter()
            .map(|_| Err(StoreError::Sled("a rating named an unknown survey".into()).into()))
            .collect(),
    }
}

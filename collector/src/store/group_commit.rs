//! Group commit: many concurrent writers share one sled flush.
//!
//! A rating is acknowledged only once it is on disk, and an fsync costs about a millisecond or
//! more. Flushing once per request would cap throughput at one request per fsync. Instead each
//! writer commits its transaction in memory, then queues here; one task takes everybody waiting,
//! flushes once, and wakes them all. Anything committed before a flush starts is covered by it,
//! so every writer is answered only after its own data is durable, and under load one fsync
//! serves hundreds of requests.

use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

type Waiter = oneshot::Sender<Result<(), String>>;

/// Called after every flush with its latency in seconds and how many writers it served.
pub type FlushObserver = Arc<dyn Fn(f64, usize) + Send + Sync>;

#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::UnboundedSender<Waiter>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl GroupCommit {
    /// Starts the flushing task on the current tokio runtime.
    pub fn start(db: sled::Db, observe: FlushObserver) -> Self {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = waiting.try_recv() {
                    batch.push(next);
                }
                let started = Instant::now();
                let db = db.clone();
                // fsync blocks; keep it off the threads that serve requests.
                let result = match tokio::task::spawn_blocking(move || db.flush()).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(join) => Err(join.to_string()),
                };
                observe(started.elapsed().as_secs_f64(), batch.len());
                for waiter in batch {
                    let _ = waiter.send(result.clone());
                }
            }
        });
        Self { queue }
    }

    /// Resolves once everything this task committed before calling is on disk.
    pub async fn durable(&self) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send(done)
            .map_err(|_| "the flusher has stopped".to_owned())?;
        wait.await
            .map_err(|_| "the flusher has stopped".to_owned())?
    }
}

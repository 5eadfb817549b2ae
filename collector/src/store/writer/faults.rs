use crate::store::backend::StoreError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// The writer panics while applying this batch (counted from 1): for a child collector.
pub const PANIC_AT_BATCH: &str = "PULSETAP_FAULT_WRITER_PANIC_AT_BATCH";
/// The writer hangs for ever before applying this batch, as a storage deadlock would.
pub const STALL_AT_BATCH: &str = "PULSETAP_FAULT_WRITER_STALL_AT_BATCH";
/// The engine reports this batch (applied) as broken, as fjall does once poisoned.
pub const BROKEN_AT_BATCH: &str = "PULSETAP_FAULT_ENGINE_BROKEN_AT_BATCH";

#[derive(Debug, Default)]
pub struct Faults {
    paused: Mutex<bool>,
    resumed: Condvar,
    held: AtomicBool,
    batches: AtomicU64,
    panic_at_batch: Option<u64>,
    stall_at_batch: Option<u64>,
    broken_at_batch: Option<u64>,
}

impl Faults {
    pub(super) fn from_environment() -> Self {
        let batch = |name| std::env::var(name).ok().and_then(|n| n.parse().ok());
        Self {
            panic_at_batch: batch(PANIC_AT_BATCH),
            stall_at_batch: batch(STALL_AT_BATCH),
            broken_at_batch: batch(BROKEN_AT_BATCH),
            ..Self::default()
        }
    }

    pub(super) fn pause(self: &Arc<Self>) -> Paused {
        *self.paused.lock().unwrap_or_else(|p| p.into_inner()) = true;
        Paused(self.clone())
    }

    pub(super) fn hold_while_paused(&self) {
        let mut paused = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        while *paused {
            self.held.store(true, Ordering::Release);
            paused = self.resumed.wait(paused).unwrap_or_else(|p| p.into_inner());
        }
        self.held.store(false, Ordering::Release);
    }

    pub(super) fn held(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }

    pub(super) fn before_batch(&self) {
        let batch = self.batches.fetch_add(1, Ordering::Relaxed) + 1;
        if self.panic_at_batch == Some(batch) {
            panic!("injected writer panic at batch {batch} ({PANIC_AT_BATCH})");
        }
        if self.stall_at_batch == Some(batch) {
            loop {
                std::thread::park();
            }
        }
    }

    /// What applying the current batch returned, or, at `BROKEN_AT_BATCH`, a broken engine.
    pub(super) fn break_engine<T>(&self, applied: Result<T, StoreError>) -> Result<T, StoreError> {
        if self.broken_at_batch == Some(self.batches.load(Ordering::Relaxed)) {
            return Err(StoreError::Broken(format!("injected ({BROKEN_AT_BATCH})")));
        }
        applied
    }
}

/// Holds the writer between batches while it lives.
#[derive(Debug)]
pub struct Paused(Arc<Faults>);

impl Drop for Paused {
    fn drop(&mut self) {
        *self.0.paused.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.resumed.notify_all();
    }
}

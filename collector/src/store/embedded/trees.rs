//! The sled database and its trees, and how records are encoded in them.

use crate::store::backend::StoreError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        Self::Engine(error.to_string())
    }
}

/// The sled database and its trees.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    pub(super) db: sled::Db,
    pub(super) responses: sled::Tree,
    pub(super) counters: sled::Tree,
    pub(super) tag_values: sled::Tree,
    pub(super) impressions: sled::Tree,
    pub(super) events: sled::Tree,
    pub(super) outbox: sled::Tree,
    pub(super) limits: sled::Tree,
    pub(super) registrations: sled::Tree,
}

impl EmbeddedStore {
    /// Opens the database in `path` as it is, creating it when missing.
    pub(super) fn open_as_is(path: &Path) -> Result<Self, StoreError> {
        let db = open_db(path)?;
        let store = Self {
            responses: db.open_tree("responses")?,
            counters: db.open_tree("counters")?,
            tag_values: db.open_tree("tag_values")?,
            impressions: db.open_tree("impressions")?,
            events: db.open_tree("events")?,
            outbox: db.open_tree("outbox")?,
            limits: db.open_tree("limits")?,
            registrations: db.open_tree("registrations")?,
            db,
        };
        Ok(store)
    }
}

/// How long an open waits for the lock that a store closed a moment ago still holds.
const CLOSING_GRACE: Duration = Duration::from_secs(2);

/// Opens sled's database in `path`, waiting out a lock that is being let go. sled holds its
/// file lock until its background flusher thread drops the database, up to one flush interval
/// (half a second) after the last handle closed, so a store reopened at once in the same
/// process (a restart, `collector backup` of a store just stopped) would otherwise be told it
/// is in use. A store held by a running collector is still `InUse`, after the grace.
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let started = Instant::now();
    loop {
        // sled's default page cache is 1 GiB; with 32 MiB the collector holds 125-156 MB
        // resident at a million responses (178 MB with 64 MiB; BENCHMARKS.md) while the hot
        // counters, the only thing reads touch, still stay cached. Beside the cache, sled keeps
        // a record in memory for every page of the store (a leaf holds 16 entries at most), so
        // memory still grows with the store: a collector opening 2 million responses holds
        // about 140 MB before it serves anything, and a smaller cache saves little (8 MiB: 26 MB
        // less than 32 MiB, of about 300 MB under load; BENCHMARKS.md, the soak).
        //
        // sled 0.34 can deadlock when a writer needs a new log segment while a file truncation
        // (queued when GC frees the last segment) waits behind IO threads that need the
        // segment accountant the writer holds. High-throughput mode collects garbage lazily and
        // 4 MiB segments turn over 8x less often than the 512 KiB default, so truncations, and
        // that window, become rare; `benches/aggregate_reads.rs` writes millions of ratings
        // back to back to keep this honest.
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(32 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .segment_size(4 * 1024 * 1024)
            .open();
        match opened {
            Ok(db) => return Ok(db),
            // sled says a process holds the files only in an IO error's text.
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= CLOSING_GRACE {
                    return Err(StoreError::InUse);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(other) => return Err(other.into()),
        }
    }
}

/// A count kept in the `limits` tree.
pub(super) fn decode_count(value: Option<&[u8]>) -> u64 {
    value
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("stored types always serialize")
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt(what.to_owned()))
}

//! The fjall database and its trees, and how records are encoded in them.

use crate::store::backend::StoreError;
use fjall::{KeyspaceCreateOptions, SingleWriterTxDatabase, Slice};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

impl From<fjall::Error> for StoreError {
    fn from(error: fjall::Error) -> Self {
        match error {
            // fjall poisons itself when a background flush or compaction fails, and refuses
            // every write from then on.
            fjall::Error::Poisoned => Self::Broken(error.to_string()),
            other => Self::Engine(other.to_string()),
        }
    }
}

/// One tree of the store: a fjall keyspace.
pub(super) type Tree = fjall::SingleWriterTxKeyspace;

/// A key and its value, as read from a tree.
pub(super) type Entry = (Slice, Slice);

/// The database, inside the data directory: a store carried over from sled keeps sled's files
/// beside it until they are moved aside (`from_sled`), so the two never share a directory.
pub(super) const DATABASE: &str = "fjall";

/// Entries a copy writes per transaction: bounds the memory a copy holds, and how often it
/// reports progress (the writer's health check sees a backup as progress, not a stall).
const COPY_CHUNK: usize = 10_000;

/// The fjall database and its trees.
#[derive(Clone)]
pub struct EmbeddedStore {
    pub(super) db: SingleWriterTxDatabase,
    pub(super) responses: Tree,
    pub(super) counters: Tree,
    pub(super) tag_values: Tree,
    pub(super) impressions: Tree,
    pub(super) events: Tree,
    pub(super) outbox: Tree,
    pub(super) limits: Tree,
    pub(super) registrations: Tree,
    /// The live feed's next event number (`event_log`): only the writer takes them.
    pub(super) next_event: Arc<AtomicU64>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EmbeddedStore")
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens the database in the data directory `path` as it is, creating it when missing, to
    /// read or to copy into: only `open` makes a store ready for the writer.
    pub(super) fn open_as_is(path: &Path) -> Result<Self, StoreError> {
        let db = open_db(&database_in(path))?;
        let tree = |name: &str| db.keyspace(name, || tree_options(name));
        Ok(Self {
            responses: tree("responses")?,
            counters: tree("counters")?,
            tag_values: tree("tag_values")?,
            impressions: tree("impressions")?,
            events: tree("events")?,
            outbox: tree("outbox")?,
            limits: tree("limits")?,
            registrations: tree("registrations")?,
            // Set by `EmbeddedStore::open` once the newest event is known (a carry-over from
            // sled may bring events).
            next_event: Arc::new(AtomicU64::new(0)),
            db,
        })
    }

    /// Every tree with its name (the name its keyspace has, and its sled tree had).
    pub(super) fn trees(&self) -> [(&'static str, &Tree); 8] {
        [
            ("responses", &self.responses),
            ("counters", &self.counters),
            ("tag_values", &self.tag_values),
            ("impressions", &self.impressions),
            ("events", &self.events),
            ("outbox", &self.outbox),
            ("limits", &self.limits),
            ("registrations", &self.registrations),
        ]
    }

    /// Makes every committed write durable.
    pub(super) fn sync(&self) -> Result<(), StoreError> {
        self.db
            .persist(fjall::PersistMode::SyncAll)
            .map_err(|error| match StoreError::from(error) {
                StoreError::Engine(message) => StoreError::Flush(message),
                broken => broken,
            })
    }

    /// Inserts `entries` into `tree`, a transaction per few thousand, calling `progress` after
    /// each; how many were inserted. For copies (a backup, a store carried over from sled),
    /// which run before anything else writes to this store or while the writer waits for them.
    pub(super) fn insert_all(
        &self,
        tree: &Tree,
        entries: impl Iterator<Item = Result<Entry, StoreError>>,
        progress: &mut dyn FnMut(),
    ) -> Result<u64, StoreError> {
        let mut entries = entries.peekable();
        let mut inserted = 0;
        while entries.peek().is_some() {
            let mut tx = self.db.write_tx();
            for entry in entries.by_ref().take(COPY_CHUNK) {
                let (key, value) = entry?;
                tx.insert(tree, key, value);
                inserted += 1;
            }
            tx.commit()?;
            progress();
        }
        Ok(inserted)
    }
}

/// Where the database of the data directory `path` is.
pub(super) fn database_in(path: &Path) -> PathBuf {
    path.join(DATABASE)
}

/// Journals kept at most before fjall makes every tree write its part out. fjall deletes a
/// journal once each tree has written what it holds of it to a table; the trees that take few
/// writes (limits, registrations, tag values) keep their memtables, and with them every journal
/// since, until the journals reach this size. At fjall's default, 512 MiB, that much sat on disk
/// beside the tables and was all replayed after a crash: under half load, killed at 341 and 513
/// MB of journals, a collector answered `/healthz` 3.3 and 4.8 s after its restart; at 128 MiB,
/// killed at 84 and 125 MB, in 0.9 and 1.2 s, with p99 and bytes written per rating unchanged
/// (BENCHMARKS.md, "Fewer bytes per rating"). fjall's least is 64 MiB, one journal.
const MAX_JOURNALS: u64 = 128 * 1024 * 1024;

/// How long an open waits for the lock that a store closed a moment ago still holds.
const CLOSING_GRACE: Duration = Duration::from_secs(2);

/// Opens a database with `open`, waiting out a lock that is being let go: an engine's
/// background threads hold the database, and its lock, a moment after the last handle closed,
/// so a store reopened at once in the same process (a restart, `collector backup` of a store
/// just stopped) would otherwise be told it is in use. `is_locked` says which of `open`'s
/// errors means "another handle holds the files". A store held by a running collector is
/// still `InUse`, after the grace. Both engines use it: fjall here, sled for a carry-over.
pub(super) fn open_waiting_for_lock<D, E: Into<StoreError>>(
    mut open: impl FnMut() -> Result<D, E>,
    is_locked: impl Fn(&E) -> bool,
) -> Result<D, StoreError> {
    let started = Instant::now();
    loop {
        match open() {
            Ok(db) => return Ok(db),
            Err(error) if is_locked(&error) => {
                if started.elapsed() >= CLOSING_GRACE {
                    return Err(StoreError::InUse);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(other) => return Err(other.into()),
        }
    }
}

/// Opens fjall's database in `path` (fjall holds its lock a moment after the last handle
/// closed, while its background threads finish).
fn open_db(path: &Path) -> Result<SingleWriterTxDatabase, StoreError> {
    open_waiting_for_lock(
        || {
            // The block cache holds what reads touch most, the hot counters; 32 MiB, as
            // sled's cache was. Open files are cached too (fjall's default is 900): 32 keep the
            // collector far under a low file-descriptor limit, which its connection cap is
            // taken from.
            //
            // Three background threads, not fjall's default of one per core: its first thread
            // keeps itself for writing memtables out and hands every compaction request back
            // to the queue, where it picks the same request up again at once while the other
            // threads are busy compacting: a busy loop (fjall 3.1.13, `worker_pool.rs`). With
            // two threads it spun through every compaction, as long as the compaction ran (a
            // fifth of the collector's CPU samples in the soak). A third thread is free to take
            // the request far more often. Under wrk, 256 connections, two minutes: the three
            // threads used 31 s of CPU where the two used 52 s, and ingest was 2-8 % faster
            // (BENCHMARKS.md).
            SingleWriterTxDatabase::builder(path)
                .cache_size(32 * 1024 * 1024)
                .max_cached_files(Some(32))
                .worker_threads(3)
                .max_journaling_size(MAX_JOURNALS)
                .open()
        },
        |error| matches!(error, fjall::Error::Locked),
    )
}

/// A tree's options. Each tree buffers its newest writes in a memtable until it is written out
/// as a table: 64 MiB by default, for each of eight trees. The responses take most writes and
/// get 16 MiB, the others 4 MiB. Resident memory at a million responses (`aggregate_reads`):
/// 99 MB with these, 135 MB with 32 and 8 MiB, 198 MB with 64 and 16 MiB, 287 MB with the
/// defaults. Larger memtables write tables less often, so a short benchmark window may hold no
/// table write (p99 at half load 4-18 ms with 64 and 16 MiB, against 9-31 ms with these); over
/// time the same bytes are written either way. The memory goal (150 MB at a million) decided
/// (BENCHMARKS.md).
fn tree_options(name: &str) -> KeyspaceCreateOptions {
    let memtable: u64 = if name == "responses" { 16 } else { 4 };
    KeyspaceCreateOptions::default().max_memtable_size(memtable * 1024 * 1024)
}

/// Entries read from a tree, in key order (either way). A named type, so an iterator of them
/// borrows nothing: fjall's iterators own what they read.
pub(super) type Entries =
    std::iter::Map<fjall::Iter, fn(fjall::Guard) -> Result<Entry, StoreError>>;

/// The entries of `tree` in `range`.
pub(super) fn range<K: AsRef<[u8]>>(tree: &Tree, range: impl std::ops::RangeBounds<K>) -> Entries {
    entries(tree.inner().range(range))
}

/// The entries of `tree` whose key starts with `prefix`.
pub(super) fn with_prefix(tree: &Tree, prefix: impl AsRef<[u8]>) -> Entries {
    entries(tree.inner().prefix(prefix))
}

/// Every entry of `tree`.
pub(super) fn all(tree: &Tree) -> Entries {
    entries(tree.inner().iter())
}

fn entries(iter: fjall::Iter) -> Entries {
    iter.map(|guard| guard.into_inner().map_err(StoreError::from))
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

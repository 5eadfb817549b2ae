//! The embedded store's write workload on three embedded engines, to know what a change of
//! engine would buy (issue 17's ingest and p99, issue 18's memory). Run by
//! `./scripts/bench.sh engines`, or:
//!
//!     cargo run --release --manifest-path engine-compare/Cargo.toml -- <sled|fjall|redb> <ratings> <batch>
//!
//! What one writer transaction of the collector does, reduced to its storage work: per rating a
//! read of its identity (a random key, not there yet: a new anonymous rating) and an insert of
//! a 260-byte response; per batch eight counters read and written back and one live-feed
//! entry naming the batch's identities; then the batch is committed as one atomic unit and made
//! durable (fsync) before the next one starts, as the writer does before it answers. One
//! thread, no HTTP: the figures are the engine's ceiling, not the collector's. sled is opened
//! as `store/embedded/trees.rs` opens it (32 MiB cache, high-throughput mode, 4 MiB segments);
//! fjall and redb get the same 32 MiB cache.
//!
//! It prints ratings per second and resident memory every quarter of the run, then the totals,
//! the size on disk and the latency of a batch (p50, p99, p99.9, max).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const CACHE: u64 = 32 * 1024 * 1024;
const COUNTERS: usize = 8;

/// A stored response's size in the collector (JSON, two tags, one history entry).
fn response(number: u64) -> Vec<u8> {
    let mut value = format!(
        r#"{{"survey":"support","response_id":"{number:036}","score":4,"tags":{{"agent":"alice","channel":"chat"}},"created_ms":1700000000000,"updated_ms":1700000000000,"history":[[4,1700000000000]],"last_event":{number},"alerted":false}}"#
    )
    .into_bytes();
    value.resize(260, b' ');
    value
}

fn counter_keys() -> Vec<Vec<u8>> {
    (0..COUNTERS)
        .map(|n| format!("support\0day\0{n}").into_bytes())
        .collect()
}

fn count(bytes: Option<&[u8]>) -> u64 {
    bytes.map_or(0, |b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

/// One engine, holding the collector's three busiest trees.
trait Engine {
    /// Writes one batch as a single atomic unit and makes it durable.
    fn write(&mut self, identities: &[Vec<u8>], first: u64, sequence: u64);
}

struct Sled {
    db: sled::Db,
    responses: sled::Tree,
    counters: sled::Tree,
    events: sled::Tree,
}

impl Engine for Sled {
    fn write(&mut self, identities: &[Vec<u8>], first: u64, sequence: u64) {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError;
        let keys = counter_keys();
        (&self.responses, &self.counters, &self.events)
            .transaction(|(responses, counters, events)| {
                let mut named = Vec::new();
                for (n, identity) in identities.iter().enumerate() {
                    assert!(responses.get(identity)?.is_none(), "identities are new");
                    responses.insert(identity.as_slice(), response(first + n as u64))?;
                    named.extend_from_slice(identity);
                }
                for key in &keys {
                    let now = count(counters.get(key)?.as_deref()) + identities.len() as u64;
                    counters.insert(key.as_slice(), &now.to_be_bytes())?;
                }
                events.insert(&sequence.to_be_bytes(), named)?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .expect("the transaction commits");
        self.db.flush().expect("sled flushes");
    }
}

struct Fjall {
    keyspace: fjall::TxKeyspace,
    responses: fjall::TxPartitionHandle,
    counters: fjall::TxPartitionHandle,
    events: fjall::TxPartitionHandle,
}

impl Engine for Fjall {
    fn write(&mut self, identities: &[Vec<u8>], first: u64, sequence: u64) {
        let mut tx = self.keyspace.write_tx();
        let mut named = Vec::new();
        for (n, identity) in identities.iter().enumerate() {
            let found = tx.get(&self.responses, identity).expect("fjall reads");
            assert!(found.is_none(), "identities are new");
            tx.insert(
                &self.responses,
                identity.as_slice(),
                response(first + n as u64),
            );
            named.extend_from_slice(identity);
        }
        for key in counter_keys() {
            let stored = tx.get(&self.counters, &key).expect("fjall reads");
            let now = count(stored.as_deref()) + identities.len() as u64;
            tx.insert(&self.counters, key, now.to_be_bytes());
        }
        tx.insert(&self.events, sequence.to_be_bytes(), named);
        tx.commit().expect("fjall commits");
        self.keyspace
            .persist(fjall::PersistMode::SyncData)
            .expect("fjall syncs its journal");
    }
}

const RESPONSES: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("responses");
const COUNTS: redb::TableDefinition<&[u8], u64> = redb::TableDefinition::new("counters");
const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");

struct Redb {
    db: redb::Database,
}

impl Engine for Redb {
    fn write(&mut self, identities: &[Vec<u8>], first: u64, sequence: u64) {
        use redb::ReadableTable;
        // redb's default durability: the commit returns once it is on disk.
        let tx = self.db.begin_write().expect("a write transaction");
        {
            let mut responses = tx.open_table(RESPONSES).expect("the table");
            let mut counters = tx.open_table(COUNTS).expect("the table");
            let mut events = tx.open_table(EVENTS).expect("the table");
            let mut named = Vec::new();
            for (n, identity) in identities.iter().enumerate() {
                let found = responses.get(identity.as_slice()).expect("redb reads");
                assert!(found.is_none(), "identities are new");
                drop(found);
                let value = response(first + n as u64);
                responses
                    .insert(identity.as_slice(), value.as_slice())
                    .expect("redb writes");
                named.extend_from_slice(identity);
            }
            for key in counter_keys() {
                let stored = counters.get(key.as_slice()).expect("redb reads");
                let now = stored.map_or(0, |v| v.value()) + identities.len() as u64;
                counters.insert(key.as_slice(), now).expect("redb writes");
            }
            events
                .insert(sequence, named.as_slice())
                .expect("redb writes");
        }
        tx.commit().expect("redb commits");
    }
}

fn open(engine: &str, dir: &Path) -> Box<dyn Engine> {
    match engine {
        "sled" => {
            let db = sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE)
                .mode(sled::Mode::HighThroughput)
                .segment_size(4 * 1024 * 1024)
                .open()
                .expect("sled opens");
            let tree = |name: &str| db.open_tree(name).expect("a tree");
            Box::new(Sled {
                responses: tree("responses"),
                counters: tree("counters"),
                events: tree("events"),
                db,
            })
        }
        "fjall" => {
            let keyspace = fjall::Config::new(dir)
                .cache_size(CACHE)
                .open_transactional()
                .expect("fjall opens");
            let partition = |name: &str| {
                keyspace
                    .open_partition(name, fjall::PartitionCreateOptions::default())
                    .expect("a partition")
            };
            Box::new(Fjall {
                responses: partition("responses"),
                counters: partition("counters"),
                events: partition("events"),
                keyspace,
            })
        }
        "redb" => {
            let db = redb::Builder::new()
                .set_cache_size(CACHE as usize)
                .create(dir.join("store.redb"))
                .expect("redb opens");
            Box::new(Redb { db })
        }
        other => panic!("the engine is sled, fjall or redb, not {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: engine-compare <sled|fjall|redb> <ratings> <batch>";
    let engine = args.get(1).expect(usage).as_str();
    let total: u64 = args.get(2).and_then(|n| n.parse().ok()).expect(usage);
    let batch: usize = args.get(3).and_then(|n| n.parse().ok()).expect(usage);
    let dir = scratch_directory(engine);
    let mut store = open(engine, &dir);

    let started = Instant::now();
    let mut window = Instant::now();
    let mut latencies = Vec::with_capacity((total as usize).div_ceil(batch));
    let (mut written, mut sequence) = (0u64, 0u64);
    let quarter = (total / 4).max(1);
    while written < total {
        let identities: Vec<Vec<u8>> = (0..batch)
            .map(|_| format!("support\0\0{}", uuid::Uuid::new_v4()).into_bytes())
            .collect();
        let batch_started = Instant::now();
        store.write(&identities, written, sequence);
        latencies.push(batch_started.elapsed());
        sequence += 1;
        written += batch as u64;
        if written % quarter < batch as u64 {
            println!(
                "{engine:<5} batch {batch:>3}: {written:>9} stored, {:>7.0} ratings/s in the last quarter, RSS {:>4.0} MB",
                quarter as f64 / window.elapsed().as_secs_f64(),
                resident_mb()
            );
            window = Instant::now();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| ms(latencies[((latencies.len() - 1) as f64 * q) as usize]);
    println!(
        "{engine:<5} batch {batch:>3}: {written} ratings in {seconds:.1} s = {:.0} ratings/s; RSS {:.0} MB; on disk {:.0} MB; \
         a batch p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        written as f64 / seconds,
        resident_mb(),
        size_on_disk(&dir) as f64 / 1e6,
        at(0.5),
        at(0.99),
        at(0.999),
        ms(*latencies.last().expect("a batch"))
    );
    drop(store);
    std::fs::remove_dir_all(&dir).expect("remove the scratch store");
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn size_on_disk(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .expect("read the store's directory")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let meta = entry.metadata().expect("its metadata");
            if meta.is_dir() {
                size_on_disk(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// A fresh directory on the disk the collector would use (not a tmpfs), next to the crate.
fn scratch_directory(engine: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("store-{engine}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the scratch store");
    dir
}

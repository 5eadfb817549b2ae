//! Carrying a store written by the sled engine (every version before fjall) over, once, when it
//! is opened.
//!
//! The trees keep their names and their keys and values byte for byte, so the carry-over is:
//! bring the sled store to sled's last format ([`upgrade`], as it did on every open), copy each
//! tree into the fjall database, make the copy durable, then move sled's files aside into
//! `sled-before-fjall/`, its log `db` first.
//!
//! sled's `db` in the data directory is what says a carry-over is still to do. Nothing else writes
//! to the fjall database before the carry-over ends, so a crash anywhere before `db` moved
//! leaves a copy that the next open simply makes again (the same keys, the same values); after
//! it, the next open only moves what sled files are left.
//!
//! # Layout
//!
//! - this file: finding a sled store, copying it, moving its files aside.
//! - [`upgrade`]: bringing a sled store written by an older version to sled's last format.

mod upgrade;

use super::trees::{EmbeddedStore, Entry, open_waiting_for_lock};
use crate::store::backend::StoreError;
use std::path::Path;
use std::time::Instant;

/// Where sled's files go once carried over: kept, not deleted, until the operator removes them.
pub(super) const MOVED_ASIDE: &str = "sled-before-fjall";

/// sled's log, the store itself; the other files (`conf`, `snap.*`, `blobs`) follow it.
const SLED_LOG: &str = "db";

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        Self::Engine(error.to_string())
    }
}

/// A sled store's database and trees, as the sled versions of the collector wrote them.
pub(super) struct SledStore {
    db: sled::Db,
    responses: sled::Tree,
    counters: sled::Tree,
    tag_values: sled::Tree,
    impressions: sled::Tree,
    outbox: sled::Tree,
    limits: sled::Tree,
}

impl SledStore {
    /// Opens the sled store in the data directory `path`, creating it when missing.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let db = open_db(path)?;
        Ok(Self {
            responses: db.open_tree("responses")?,
            counters: db.open_tree("counters")?,
            tag_values: db.open_tree("tag_values")?,
            impressions: db.open_tree("impressions")?,
            outbox: db.open_tree("outbox")?,
            limits: db.open_tree("limits")?,
            db,
        })
    }
}

/// Carries the sled store in the data directory `path` over into `into`, the fjall database
/// just opened there, if there is one; moves aside what an interrupted carry-over left.
pub(super) fn carry_over(path: &Path, into: &EmbeddedStore) -> Result<(), StoreError> {
    if !path.join(SLED_LOG).exists() {
        return move_aside(path);
    }
    let started = Instant::now();
    tracing::info!(data = %path.display(), "carrying the sled store over to fjall, once");
    let sled = SledStore::open(path)?;
    upgrade::run(&sled)?;
    let mut records = 0;
    for (name, tree) in into.trees() {
        let from = sled.db.open_tree(name)?;
        let entries = from.iter().map(|entry| {
            let (key, value) = entry?;
            Ok::<Entry, StoreError>((key.as_ref().into(), value.as_ref().into()))
        });
        records += into.insert_all(tree, entries, &mut || {})?;
    }
    into.sync()?;
    drop(sled);
    move_aside(path)?;
    tracing::info!(
        records,
        took_ms = started.elapsed().as_millis() as u64,
        moved_to = %path.join(MOVED_ASIDE).display(),
        "carried the sled store over to fjall; its files can be deleted once this version is kept"
    );
    Ok(())
}

/// Moves sled's files into `MOVED_ASIDE`, its log first, and makes the move durable.
fn move_aside(path: &Path) -> Result<(), StoreError> {
    let aside = path.join(MOVED_ASIDE);
    let left: Vec<_> = std::fs::read_dir(path)
        .map_err(|error| moving(path, &error))?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .filter(|name| {
            let name = name.to_string_lossy();
            matches!(name.as_ref(), SLED_LOG | "conf" | "blobs") || name.starts_with("snap.")
        })
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&aside).map_err(|error| moving(&aside, &error))?;
    let (log, rest): (Vec<_>, Vec<_>) = left.into_iter().partition(|name| name == SLED_LOG);
    for name in log.into_iter().chain(rest) {
        std::fs::rename(path.join(&name), aside.join(&name))
            .map_err(|error| moving(&path.join(&name), &error))?;
    }
    if let Ok(directory) = std::fs::File::open(path) {
        directory.sync_all().map_err(|error| moving(path, &error))?;
    }
    Ok(())
}

fn moving(path: &Path, error: &std::io::Error) -> StoreError {
    StoreError::Engine(format!(
        "cannot move the sled store's {} aside into {MOVED_ASIDE}: {error}",
        path.display()
    ))
}

/// Opens sled's database in `path`, waiting out a lock that is being let go (sled holds it up
/// to one flush interval, half a second, after the last handle closed).
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    open_waiting_for_lock(
        || {
            // The settings the sled versions ran with: a 32 MiB cache, and 4 MiB segments in
            // high-throughput mode (sled 0.34 could deadlock turning small segments over).
            sled::Config::new()
                .path(path)
                .cache_capacity(32 * 1024 * 1024)
                .mode(sled::Mode::HighThroughput)
                .segment_size(4 * 1024 * 1024)
                .open()
        },
        // sled says a process holds the files only in an IO error's text.
        |error| matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock")),
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::response;
    use super::super::keys;
    use super::super::trees::encode;
    use super::*;
    use crate::store::backend::Backend;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_sled_store_is_carried_over_once_moved_aside_and_numbered_on_after_its_events() {
        let dir = tempfile::tempdir().unwrap();
        {
            let sled = SledStore::open(dir.path()).unwrap();
            let events = sled.db.open_tree("events").unwrap();
            for (id, sequence) in [("r1", 41), ("r2", 42)] {
                let identity = keys::identity("support", None, id);
                sled.responses
                    .insert(identity.as_slice(), encode(&response(id, sequence)))
                    .unwrap();
                events.insert(keys::event(sequence), identity).unwrap();
            }
            sled.db.flush().unwrap();
        }

        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            store.find("support", None, "r2").unwrap().map(|r| r.score),
            Some(1),
            "the responses came over"
        );
        assert_eq!(store.newest_event().unwrap(), Some(42));
        assert_eq!(
            store.next_event.load(Ordering::Relaxed),
            43,
            "new events are numbered after the carried ones"
        );
        let feed = store.events("support", 0, u64::MAX, 10).unwrap();
        assert_eq!(feed.events.len(), 2, "the live feed came over");
        assert!(
            !dir.path().join(SLED_LOG).exists(),
            "sled's log moved aside"
        );
        assert!(dir.path().join(MOVED_ASIDE).join(SLED_LOG).exists());
        assert!(dir.path().join(MOVED_ASIDE).join("conf").exists());

        // Opened again, there is nothing left to carry: what was carried stays.
        drop(store);
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.responses.inner().len().unwrap(), 2);
        assert_eq!(store.next_event.load(Ordering::Relaxed), 43);
    }

    #[test]
    fn a_carry_over_interrupted_before_sleds_log_moved_is_made_again_whole() {
        let dir = tempfile::tempdir().unwrap();
        {
            let sled = SledStore::open(dir.path()).unwrap();
            for id in ["r1", "r2", "r3"] {
                sled.responses
                    .insert(
                        keys::identity("support", None, id),
                        encode(&response(id, 0)),
                    )
                    .unwrap();
            }
            sled.db.flush().unwrap();
        }
        // A crash during the copy: the fjall database holds part of it, sled's log is in place.
        {
            let store = EmbeddedStore::open_as_is(dir.path()).unwrap();
            let identity = keys::identity("support", None, "r1");
            store
                .responses
                .insert(identity, encode(&response("r1", 0)))
                .unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.responses.inner().len().unwrap(), 3);
        assert!(dir.path().join(MOVED_ASIDE).join(SLED_LOG).exists());
    }
}

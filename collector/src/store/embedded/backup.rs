//! A consistent copy of a running store: every tree copied into a new store.
//!
//! Only the writer calls this, between two batches, so nothing changes while it runs and the copy
//! holds exactly what was acknowledged before it began (reads carry on meanwhile). The copy is
//! written under a temporary name beside the target and renamed when complete, so a directory
//! at the target is always a whole store.

use super::trees::{self, EmbeddedStore};
use crate::store::backend::{BackupReport, StoreError};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(super) fn copy_to(
    store: &EmbeddedStore,
    to: &Path,
    progress: &mut dyn FnMut(),
) -> Result<BackupReport, StoreError> {
    let started = Instant::now();
    let partial = partial_path(to)?;
    let result = write_copy(store, &partial, progress).and_then(|(responses, records)| {
        std::fs::rename(&partial, to).map_err(|error| {
            failed(format!(
                "cannot rename {} to {}: {error}",
                partial.display(),
                to.display()
            ))
        })?;
        sync_directory(to.parent().unwrap_or(Path::new(".")));
        Ok((responses, records))
    });
    let (responses, records) = match result {
        Ok(counts) => counts,
        Err(error) => {
            // Ours alone (the name was free when we started): nothing else is lost.
            let _ = std::fs::remove_dir_all(&partial);
            return Err(error);
        }
    };
    Ok(BackupReport {
        to: to.to_owned(),
        responses,
        records,
        paused_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Where the copy is written until it is complete: `.<name>.partial` beside the target. Refuses
/// a target (or a partial copy) that exists already: a backup never overwrites anything.
fn partial_path(to: &Path) -> Result<PathBuf, StoreError> {
    if !to.is_absolute() {
        return Err(failed(format!(
            "{}: give the backup directory as an absolute path",
            to.display()
        )));
    }
    let (Some(parent), Some(name)) = (to.parent(), to.file_name()) else {
        return Err(failed(format!(
            "{}: not a directory name a backup can be written to",
            to.display()
        )));
    };
    if !parent.is_dir() {
        return Err(failed(format!(
            "{}: no such directory to write the backup in",
            parent.display()
        )));
    }
    if to.exists() {
        return Err(failed(format!(
            "{} already exists; a backup never overwrites: name a new directory",
            to.display()
        )));
    }
    let partial = parent.join(format!(".{}.partial", name.to_string_lossy()));
    if partial.exists() {
        return Err(failed(format!(
            "{} exists, left by an interrupted backup or another one running: remove it, or name another directory",
            partial.display()
        )));
    }
    Ok(partial)
}

/// Opens a new store at `partial` and copies every tree into it; the number of responses and
/// of records copied.
fn write_copy(
    store: &EmbeddedStore,
    partial: &Path,
    progress: &mut dyn FnMut(),
) -> Result<(u64, u64), StoreError> {
    create_private_directory(partial)?;
    let copy = EmbeddedStore::open_as_is(partial)?;
    let (mut responses, mut records) = (0, 0);
    for ((name, from), (_, into)) in store.trees().into_iter().zip(copy.trees()) {
        let copied = copy.insert_all(into, trees::all(from), progress)?;
        records += copied;
        if name == "responses" {
            responses = copied;
        }
        progress();
    }
    copy.sync()
        .map_err(|error| failed(format!("cannot flush the copy: {error}")))?;
    Ok((responses, records))
}

/// The copy holds every response: only the collector's own user may read it.
fn create_private_directory(path: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(path)
        .map_err(|error| failed(format!("cannot create {}: {error}", path.display())))
}

/// Makes the rename durable. Best effort: some file systems can't sync a directory, and the
/// copy's own files are already flushed.
fn sync_directory(path: &Path) {
    if let Ok(directory) = std::fs::File::open(path) {
        let _ = directory.sync_all();
    }
}

fn failed(message: String) -> StoreError {
    StoreError::Backup(message)
}

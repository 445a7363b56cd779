//! Writing snapshots in the background and truncating the log behind them.
//!
//! The writer hands over a clone of the elections (their tree is a persistent map, cloned
//! in O(1); the bookkeeping beside it is small), so encoding and writing the snapshot
//! never blocks commits. A snapshot is written to
//! a temporary file, synced, renamed into place, and the folder synced; only then are the
//! older snapshots and the log segments it covers deleted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use crate::StoreError;
use ballot_core::election::Elections;

use super::files::FileSystem;
use super::frame::{self, FileKind};
use super::layout;
use super::record::SnapshotBody;

/// A snapshot to write: the elections after record `lsn`, and who to tell when it is done.
pub struct Task {
    pub lsn: u64,
    pub elections: Elections,
    pub reply: Option<Sender<Result<u64, StoreError>>>,
}

/// Writes snapshots until the sender side is dropped.
pub fn run(fs: Arc<dyn FileSystem>, dir: PathBuf, tasks: Receiver<Task>) {
    for task in tasks {
        let result = write(&*fs, &dir, task.lsn, task.elections).map(|()| task.lsn);
        if let Err(error) = &result {
            tracing::error!(%error, lsn = task.lsn, "snapshot failed; the log is kept whole");
        }
        if let Some(reply) = task.reply {
            let _ = reply.send(result);
        }
    }
}

fn write(
    fs: &dyn FileSystem,
    dir: &Path,
    lsn: u64,
    elections: Elections,
) -> Result<(), StoreError> {
    write_renamed(fs, dir, lsn, elections)?;
    settle(fs, dir, lsn)
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let what = format!("{what} {}", path.display());
    move |e: std::io::Error| StoreError::io(what, &e)
}

/// The first half of a snapshot: written to a temporary file, synced, renamed into place.
/// The rename is not durable until [`settle`] syncs the folder.
pub fn write_renamed(
    fs: &dyn FileSystem,
    dir: &Path,
    lsn: u64,
    elections: Elections,
) -> Result<(), StoreError> {
    let tmp = layout::snapshot_tmp(dir, lsn);
    let path = layout::snapshot(dir, lsn);
    let mut bytes = frame::header(FileKind::Snapshot, lsn);
    frame::encode(&SnapshotBody { lsn, elections }, &mut bytes);
    let mut file = fs.create(&tmp).map_err(io("creating", &tmp))?;
    file.append(&bytes).map_err(io("writing", &tmp))?;
    file.sync_data().map_err(io("syncing", &tmp))?;
    fs.rename(&tmp, &path).map_err(io("renaming", &tmp))?;
    Ok(())
}

/// The second half: the folder synced, then what the snapshot of `lsn` covers deleted.
pub fn settle(fs: &dyn FileSystem, dir: &Path, lsn: u64) -> Result<(), StoreError> {
    fs.sync_dir(dir).map_err(io("syncing", dir))?;

    // Only now that the snapshot is durable may what it covers go.
    let listing = layout::classify(fs.list(dir).map_err(io("listing", dir))?);
    for (older, name) in &listing.snapshots {
        if *older < lsn {
            fs.remove(&dir.join(name))
                .map_err(io("removing", &dir.join(name)))?;
        }
    }
    for pair in listing.segments.windows(2) {
        let ((_, name), (next_first, _)) = (&pair[0], &pair[1]);
        if *next_first <= lsn + 1 {
            fs.remove(&dir.join(name))
                .map_err(io("removing", &dir.join(name)))?;
        }
    }
    fs.sync_dir(dir).map_err(io("syncing", dir))?;
    Ok(())
}

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
use crate::log::{Position, Snapshots};
use ballot_core::election::Elections;
use ballot_core::namespace::Limits;

use super::files::FileSystem;
use super::frame::{self, FileKind, Frame, HEADER_LEN};
use super::layout;
use super::record::SnapshotBody;
use super::wal::{corrupt, header_error, io};

/// A snapshot to write: the elections after record `lsn`, and who to tell when it is done.
pub struct Task {
    pub lsn: u64,
    pub elections: Elections,
    pub reply: Option<Sender<Result<u64, StoreError>>>,
}

/// Writes snapshots until the sender side is dropped.
pub fn run(snapshots: Arc<dyn Snapshots>, tasks: Receiver<Task>) {
    for task in tasks {
        let result = snapshots.save(task.lsn, &task.elections).map(|()| task.lsn);
        if let Err(error) = &result {
            tracing::error!(%error, lsn = task.lsn, "snapshot failed; the log is kept whole");
        }
        if let Some(reply) = task.reply {
            let _ = reply.send(result);
        }
    }
}

/// The write-ahead log's snapshots: `snap-<lsn>.snap` files beside its segments.
#[derive(Clone)]
pub struct WalSnapshots {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
}

impl WalSnapshots {
    /// The snapshots kept in `dir`.
    pub fn new(fs: Arc<dyn FileSystem>, dir: &Path) -> Self {
        WalSnapshots {
            fs,
            dir: dir.to_path_buf(),
        }
    }

    /// The first half of a snapshot: written to a temporary file, synced, renamed into
    /// place. The rename is not durable until [`WalSnapshots::settle`] syncs the folder.
    pub fn write_renamed(&self, lsn: u64, elections: &Elections) -> Result<(), StoreError> {
        let (fs, dir) = (&*self.fs, &self.dir);
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
    pub fn settle(&self, lsn: u64) -> Result<(), StoreError> {
        let (fs, dir) = (&*self.fs, &self.dir);
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
}

impl Snapshots for WalSnapshots {
    fn save(&self, position: Position, elections: &Elections) -> Result<(), StoreError> {
        self.write_renamed(position, elections)?;
        self.settle(position)
    }

    fn load_newest(&self, limits: Limits) -> Result<Option<(Position, Elections)>, StoreError> {
        let listing = layout::classify(self.fs.list(&self.dir).map_err(io("listing", &self.dir))?);
        let Some((lsn, name)) = listing.snapshots.last() else {
            return Ok(None);
        };
        let path = self.dir.join(name);
        let bytes = self.fs.read(&path).map_err(io("reading", &path))?;
        frame::read_header(FileKind::Snapshot, &bytes).map_err(|e| header_error(&path, e))?;
        let body = match frame::decode::<SnapshotBody<Elections>>(&bytes, HEADER_LEN) {
            Frame::Record(body, _) => body,
            Frame::End => return Err(corrupt(&path, HEADER_LEN, "the snapshot is empty")),
            Frame::Bad(reason) => return Err(corrupt(&path, HEADER_LEN, reason)),
        };
        if body.lsn != *lsn {
            return Err(corrupt(
                &path,
                0,
                "the snapshot's content does not match its name",
            ));
        }
        let mut elections = body.elections;
        elections.set_limits(limits);
        Ok(Some((body.lsn, elections)))
    }
}

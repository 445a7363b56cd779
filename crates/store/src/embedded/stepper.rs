//! The writer and the snapshotter run by hand, one phase at a time: how the simulator
//! drives the real store without threads, so that it decides when each write, fdatasync
//! and folder sync happens, and a crash can land between any two of them; and the same for
//! a replica's writer on a shared log, so that the simulator decides when each batch is
//! appended and when each replica hears the log's order.

use crossbeam_channel::Receiver;

use super::group::Step;
use super::{Request, WalSnapshots, Writer, Written, snapshotter};

/// A store's writer and snapshotter, stepped by the caller (see
/// [`super::EmbeddedStore::open_stepped`]). Dropping it is the process dying: whatever
/// was appended and not synced stays in the file layer for a simulated crash to lose.
pub struct Stepper {
    pub(super) writer: Writer,
    pub(super) requests: Receiver<Request>,
    pub(super) snapshots: std::sync::mpsc::Receiver<snapshotter::Task>,
    pub(super) snapshot_files: WalSnapshots,
    /// A batch written and not yet synced.
    pub(super) written: Option<Written>,
    /// A snapshot renamed into place whose folder is not yet synced.
    pub(super) renamed: Option<u64>,
    pub(super) _lock: Box<dyn Send + Sync>,
}

impl Stepper {
    /// What the writer thread does up to its fdatasync: takes the queued requests (up to
    /// a full batch), runs them on the head, and appends their records. Does nothing while
    /// a written batch awaits its sync, as the thread cannot either. True if it did work.
    pub fn write(&mut self) -> bool {
        if self.written.is_some() {
            return false;
        }
        let Ok(first) = self.requests.try_recv() else {
            return false;
        };
        self.writer.take(first, &self.requests);
        if self.writer.group.step() == Step::Flush {
            self.written = Some(self.writer.write_batch());
        }
        true
    }

    /// The writer's fdatasync of the written batch, then publishing and releasing it.
    /// True if there was a batch.
    pub fn sync(&mut self) -> bool {
        match self.written.take() {
            Some(written) => {
                self.writer.sync_batch(written);
                true
            }
            None => false,
        }
    }

    /// True while a batch is written and not synced.
    pub fn has_written(&self) -> bool {
        self.written.is_some()
    }

    /// One phase of the snapshotter: settles (folder sync, deletions) a renamed
    /// snapshot, or writes and renames the next one handed over. True if it did work.
    pub fn snapshot(&mut self) -> bool {
        if let Some(lsn) = self.renamed.take() {
            if let Err(error) = self.snapshot_files.settle(lsn) {
                tracing::error!(%error, lsn, "snapshot failed; the log is kept whole");
            }
            return true;
        }
        let Ok(task) = self.snapshots.try_recv() else {
            return false;
        };
        match self.snapshot_files.write_renamed(task.lsn, &task.elections) {
            Ok(()) => self.renamed = Some(task.lsn),
            Err(error) => {
                tracing::error!(%error, lsn = task.lsn, "snapshot failed; the log is kept whole")
            }
        }
        true
    }
}

/// A replica's writer on a shared log, stepped by the caller (see
/// [`super::EmbeddedStore::open_shared_stepped`]): the same writer the thread runs.
pub struct SharedStepper {
    pub(super) writer: Writer,
    pub(super) requests: Receiver<Request>,
}

impl SharedStepper {
    /// What the writer thread does each time it wakes: takes everything queued (callers'
    /// proposals and reads, and the batches the log's follower handed over, which apply
    /// in the log's order) and appends the batch it formed, if any. True if it did work.
    pub fn step(&mut self) -> bool {
        let Ok(first) = self.requests.try_recv() else {
            return false;
        };
        self.writer.wake(first, &self.requests);
        true
    }

    /// What the idle writer thread does now and then: answers "unknown" to the waiters of
    /// every batch whose append was not confirmed and that has not come back within
    /// [`super::Options::unconfirmed_wait`].
    pub fn give_up_unconfirmed(&mut self) {
        self.writer
            .contain_shared(super::Writer::give_up_unconfirmed);
    }

    /// Plants a bug, for the simulator to show it finds it: a batch the follower hands
    /// over again (after reconnecting from an older position) applies again, instead of
    /// being recognised by its position and skipped.
    pub fn plant_reapply_redelivered(&mut self) {
        if let Some(replication) = self.writer.replication.as_mut() {
            replication.reapply_redelivered = true;
        }
    }
}

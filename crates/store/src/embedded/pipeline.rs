//! The writer's pipeline: one batch syncing while the next one is built.
//!
//! Without it the writer thread does everything in turn: apply a batch, write it, wait
//! for its fdatasync, release it, and only then look at what arrived meanwhile. With it
//! the fdatasync runs on a second thread ([`Syncer`]) and the writer applies whatever
//! arrives into the next batch while it waits. The rules that keep this as safe as the
//! sequential writer:
//!
//! - One batch in flight. The next batch is applied to the head but not written until
//!   the one in flight is durable, so the log is written and synced strictly in turn, and
//!   a write the disk refuses never has a synced-or-not neighbour to untangle.
//! - Results are released in batch order and only after their own batch's sync: the
//!   batch in flight carries the state as of its last command, which is what is published
//!   when it lands (the head has moved on to the next batch by then).
//! - A batch after which a snapshot is due is synced on the writer's thread, as before:
//!   a snapshot clones the head, which must then be exactly what the log holds.
//! - A failed sync fails its batch and the store (as it always did), and the batch built
//!   meanwhile is failed without being written.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, select};

use super::group::Step;
use super::{Request, Writer, Written};
use crate::StoreError;
use crate::log::DetachedSync;
use ballot_core::namespace::State;

/// The thread that runs the writer's fdatasyncs, one at a time.
pub(super) struct Syncer {
    work: Option<Sender<DetachedSync>>,
    done: Receiver<Result<(), StoreError>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread.
    pub(super) fn start() -> std::io::Result<Self> {
        // One batch in flight: the writer never hands over a second sync before the first
        // one's outcome was taken, so neither channel ever holds more than one message.
        let (work_tx, work_rx) = crossbeam_channel::bounded::<DetachedSync>(1);
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("ballot-sync".into())
            .spawn(move || {
                for work in work_rx {
                    if done_tx.send(work()).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Syncer {
            work: Some(work_tx),
            done: done_rx,
            thread: Some(thread),
        })
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.work.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A batch written to the log whose sync runs on the [`Syncer`].
pub(super) struct InFlight {
    written: Written,
    /// The state right after the batch's last command: published when it lands.
    state: State,
}

/// What woke a writer with a batch in flight.
pub(super) enum Woken {
    /// A request, to apply into the next batch.
    Request(Request),
    /// The sync of the batch in flight, done.
    Synced(Result<(), StoreError>),
    /// Every sender is gone: the store is closing.
    Closed,
}

impl Writer {
    /// Starts the sync thread; without it (it could not start, or the simulator steps
    /// the writer) every batch is synced on the writer's thread.
    pub(super) fn start_pipeline(&mut self) {
        match Syncer::start() {
            Ok(syncer) => self.syncer = Some(syncer),
            Err(error) => {
                tracing::warn!(%error, "no sync thread: batches are synced one after another")
            }
        }
    }

    /// Writes the open batch; syncs it on the sync thread when it may and it pays, else
    /// here. It pays when there is company: more requests queued, or a batch of several
    /// (their clients come back together, while the sync runs). A lone commit with
    /// nothing behind it syncs here, where handing it over would only add a wake-up.
    /// `queued`: whether requests wait in the queue.
    pub(super) fn flush(&mut self, queued: bool) {
        let company = queued || self.group.open_waiters() > 1;
        let written = self.write_batch();
        let detachable = company
            && self.syncer.is_some()
            && written.batch.is_some()
            && written.result.is_ok()
            && !written.empty
            && !self.snapshot_due_after(written.records);
        if !detachable {
            return self.sync_batch(written);
        }
        match self.log.detach_sync() {
            Ok(Some(work)) => {
                let handed = self
                    .syncer
                    .as_ref()
                    .and_then(|syncer| syncer.work.as_ref())
                    .is_some_and(|work_tx| work_tx.send(work).is_ok());
                if handed {
                    let state = self.core.namespace().snapshot();
                    self.in_flight = Some(InFlight { written, state });
                } else {
                    self.log.synced(false);
                    let failure = "the sync thread stopped".to_string();
                    self.settle(written, Err(failure), None, true);
                }
            }
            // Durable already (the log synced in place).
            Ok(None) => self.settle(written, Ok(()), None, true),
            Err(error) => self.settle(written, Err(error.to_string()), None, true),
        }
    }

    /// True while a batch's sync runs on the sync thread.
    pub(super) fn has_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Waits for the next request or for the batch in flight to be durable, whichever
    /// comes first; only for the batch when the next one is full.
    pub(super) fn wait_in_flight(&self, requests: &Receiver<Request>) -> Woken {
        let stopped = || Err(StoreError::Failed("the sync thread stopped".into()));
        let Some(syncer) = self.syncer.as_ref() else {
            return Woken::Synced(stopped());
        };
        if self.batch_is_full() {
            return Woken::Synced(syncer.done.recv().unwrap_or_else(|_| stopped()));
        }
        select! {
            recv(syncer.done) -> outcome => Woken::Synced(outcome.unwrap_or_else(|_| stopped())),
            recv(requests) -> request => request.map_or(Woken::Closed, Woken::Request),
        }
    }

    /// The batch in flight is durable (or failed): releases it, then writes the batch
    /// built meanwhile, if any.
    pub(super) fn land(&mut self, outcome: Result<(), StoreError>, queued: bool) {
        let Some(InFlight { written, state }) = self.in_flight.take() else {
            return;
        };
        self.log.synced(outcome.is_ok());
        // No snapshot here: the head is already past this batch.
        self.settle(
            written,
            outcome.map_err(|e| e.to_string()),
            Some(state),
            false,
        );
        if self.group.step() == Step::Flush {
            self.flush(queued);
        }
    }

    /// Lands the batch in flight, waiting for it, and flushes everything built since on
    /// this thread: for a snapshot on demand, and for closing.
    pub(super) fn drain(&mut self) {
        // `land` writes what was built meanwhile, which may be in flight again.
        while self.in_flight.is_some() {
            let outcome = match self.syncer.as_ref() {
                Some(syncer) => syncer
                    .done
                    .recv()
                    .unwrap_or_else(|_| Err(StoreError::Failed("the sync thread stopped".into()))),
                None => Err(StoreError::Failed("no sync thread".into())),
            };
            self.land(outcome, false);
        }
        if self.group.step() == Step::Flush {
            let written = self.write_batch();
            self.sync_batch(written);
        }
    }
}

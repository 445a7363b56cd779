//! The log beneath apply: the one trait a backend implements to keep ballot's state.
//!
//! Every change is a stamped [`Command`]; the state is whatever applying the log's
//! commands in order gives. So a backend need not know what a namespace or an election is:
//! it keeps batches of entries in order, durably, and snapshots of the state at a
//! position. The embedded store keeps them in a write-ahead log on local disk
//! ([`crate::embedded::Wal`]); the etcd backend keeps them in the history of one etcd key.
//! Both must pass the same [`crate::conformance::log`] suite, and [`replay`] recovers the
//! state from either through the core's own `apply`.

use serde::{Deserialize, Serialize};

use crate::StoreError;
use ballot_core::command::{Command, apply};
use ballot_core::election::Elections;
use ballot_core::namespace::{HostEpoch, Limits, MonoTime, Namespace};

/// Where a batch sits in a log. Positions grow strictly from batch to batch, but need not
/// be consecutive (etcd's revisions are shared with other keys); 0 is before the first
/// batch.
pub type Position = u64;

/// One command as the log keeps it: the command and the stamp it was applied at. Applying
/// it again at that stamp is replaying it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The stamp the command was applied at.
    pub at: MonoTime,
    /// The change.
    pub command: Command,
}

/// Entries read back from a log, with the position of the last of them: reading after
/// `position` continues right behind this batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The batch's position.
    pub position: Position,
    /// The host that proposed it: [`HostEpoch::EMBEDDED`] in a log one host owns.
    pub host: HostEpoch,
    /// Its entries, in the order they applied.
    pub entries: Vec<Entry>,
}

/// The part of a sync that runs off the writer's thread (see [`Log::detach_sync`]).
pub type DetachedSync = Box<dyn FnOnce() -> Result<(), StoreError> + Send>;

/// An ordered, durable log of batches of entries.
///
/// The writer of a store calls [`Log::write`] for each batch it built, [`Log::sync`] before
/// it releases anyone waiting on that batch, and [`Log::read_after`] when it recovers. A log
/// may hand back what was written as one batch or as several consecutive smaller ones (the
/// embedded log frames each entry on its own), but never reorders, drops or invents an
/// entry that [`Log::sync`] made durable.
pub trait Log: Send {
    /// The position of the last batch written, or 0 when the log is empty.
    fn last_position(&self) -> Position;

    /// Writes a batch (never empty) at the end of the log and returns its position, which
    /// is greater than every earlier one. The batch may be lost by a crash until
    /// [`Log::sync`] returns; a log whose writes are durable when they return (etcd, where a
    /// put returns after a quorum has it) may make `sync` a no-op.
    fn write(&mut self, entries: &[Entry]) -> Result<Position, StoreError>;

    /// Makes every batch written so far durable. After an error the log must be treated as
    /// failed: nothing written since the last successful sync may be acknowledged.
    fn sync(&mut self) -> Result<(), StoreError>;

    /// Starts a [`Log::sync`] that another thread finishes, so the writer can apply the
    /// next batch while this one reaches the disk: returns the work that makes every batch
    /// written so far durable, or `None` when nothing is left to wait for (the default
    /// syncs here). The caller writes nothing more until the work has run, and then
    /// reports its outcome with [`Log::synced`].
    fn detach_sync(&mut self) -> Result<Option<DetachedSync>, StoreError> {
        self.sync().map(|()| None)
    }

    /// How the work from [`Log::detach_sync`] went: after `true`, everything written so far
    /// is durable, as after a [`Log::sync`] that returned. After `false` the log has failed.
    fn synced(&mut self, _durable: bool) {}

    /// Writes and syncs one batch.
    fn append(&mut self, entries: &[Entry]) -> Result<Position, StoreError> {
        let position = self.write(entries)?;
        self.sync()?;
        Ok(position)
    }

    /// At most `max` batches after `after`, in order (an empty answer: nothing follows).
    /// Batches at or before the position of a saved snapshot may be gone; asking for them
    /// is an error, never a silent skip.
    fn read_after(&self, after: Position, max: usize) -> Result<Vec<Batch>, StoreError>;

    /// Called with everything written synced, just before a snapshot of the state at
    /// [`Log::last_position`] is handed to [`Snapshots::save`]: a log that frees space in
    /// whole files starts a new one here, so the snapshot covers every older file whole.
    fn prepare_snapshot(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Takes back the batch whose [`Log::write`] failed before any sync covered it (a full
    /// disk refused the bytes): cuts whatever part of it reached the file and makes the cut
    /// durable, so the log ends where the last sync left it and the next write continues
    /// from there. An error means the log cannot say where it ends: the store must stop.
    /// The default cannot take anything back.
    fn undo_unsynced(&mut self) -> Result<(), StoreError> {
        Err(StoreError::Failed(
            "this log cannot take back a failed write".into(),
        ))
    }

    /// Whether the log's storage takes writes again: writes and syncs a little on the
    /// side (never into the log) and removes it. The store calls it while it refuses
    /// changes after a full disk, to resume by itself once space comes back.
    fn probe(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Bytes of batches the newest snapshot does not cover: recovery reads them all, so
    /// a store also snapshots when they pass [`crate::Options::snapshot_bytes`], whatever
    /// the count of records. A log that keeps no bytes of its own answers 0.
    fn unsnapshotted_bytes(&self) -> u64 {
        0
    }
}

/// Where a log keeps snapshots of the state. Separate from [`Log`] so that a snapshot is
/// encoded and written on its own thread while the writer goes on appending.
pub trait Snapshots: Send + Sync {
    /// Keeps `elections` as the state after every batch up to `position`, durably, then lets
    /// the log forget what the snapshot covers.
    fn save(&self, position: Position, elections: &Elections) -> Result<(), StoreError>;

    /// The newest snapshot kept, with `limits` applied (limits are configuration, not
    /// state), or `None` when none was saved.
    fn load_newest(&self, limits: Limits) -> Result<Option<(Position, Elections)>, StoreError>;
}

/// What [`replay`] rebuilt.
pub struct Replayed {
    /// The state after the last batch of the log.
    pub elections: Elections,
    /// The position the state stands at (that of the last batch, or of the snapshot).
    pub position: Position,
    /// Entries applied on top of the snapshot.
    pub replayed: u64,
}

/// Batches read per call while replaying: bounds what recovery holds at once.
const REPLAY_CHUNK: usize = 65_536;

/// Rebuilds the state a log holds: the newest snapshot, then every entry after it applied
/// again at its stamp, by the host that proposed it, through the same `apply` that
/// applied it the first time. In a log one host owns, only what applied was logged, so an
/// entry that does not apply again means the log and its snapshot disagree; recovery
/// stops there rather than serve a state no one acknowledged. A shared log's batches are
/// logged before they apply, so a refusal there is part of the history.
pub fn replay(
    log: &dyn Log,
    snapshots: &dyn Snapshots,
    limits: Limits,
) -> Result<Replayed, StoreError> {
    let (mut position, mut elections) = snapshots
        .load_newest(limits)?
        .unwrap_or_else(|| (0, Elections::new(Namespace::new(limits))));
    let mut replayed = 0;
    loop {
        let batches = log.read_after(position, REPLAY_CHUNK)?;
        if batches.is_empty() {
            break;
        }
        for batch in batches {
            elections.set_proposer(batch.host);
            for entry in &batch.entries {
                let (applied, _) = apply(&mut elections, &entry.command, entry.at);
                if let Err(refusal) = applied
                    && batch.host == HostEpoch::EMBEDDED
                {
                    return Err(StoreError::Diverged {
                        position: batch.position,
                        command: entry.command.kind(),
                        reason: refusal.to_string(),
                    });
                }
                replayed += 1;
            }
            position = batch.position;
        }
    }
    elections.set_proposer(HostEpoch::EMBEDDED);
    Ok(Replayed {
        elections,
        position,
        replayed,
    })
}

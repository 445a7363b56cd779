//! Where the namespace lives: the [`Store`] trait, its conformance suite, and the embedded
//! backend (memory plus a write-ahead log).
//!
//! # Layout
//!
//! - this file: the [`Store`] trait and [`StoreError`];
//! - [`log`]: the [`Log`] trait beneath apply (batches of stamped commands, snapshots) and
//!   [`log::replay`], which rebuilds the state from any log;
//! - [`embedded`]: the default backend (writer thread, group commit, the write-ahead log
//!   with its segments and snapshots, the real and the simulated file system, and the
//!   stepper the simulator drives it with);
//! - [`conformance`]: the suites every store and every log must pass;
//! - [`clock`]: monotonic clocks, injected (the core reads none).
//!
//! # The contract
//!
//! A store is the namespace made durable and shared. Every method is a single atomic step
//! against one linear history of revisions, and:
//!
//! - **Nothing acknowledged is lost.** A method that returns `Ok` for a change has made
//!   that change durable first; after a crash and recovery it is there.
//! - **Nothing is visible before it is durable.** [`Store::read`], and every result and
//!   event handed out, reflect only durable changes, so a crash never takes back a revision,
//!   session id or term that anyone saw.
//! - **A refused change changes nothing**, durable or not.
//! - **A failed store fails closed.** When the disk refuses a write or a sync, the store
//!   answers every later change with [`StoreError::Failed`] rather than acknowledge
//!   something it could not persist.
//!
//! # On etcd
//!
//! Every change reaches a store as a [`ballot_core::command::Command`]
//! ([`EmbeddedStore::propose`] and friends), applied by the pure core's `apply`; nothing
//! hands the writer a closure that changes state, so a second host can apply what the
//! first proposed. That is what the `ballot-etcd` crate rests on: it keeps the commands,
//! not the namespace, in etcd (one key whose history is the log, see [`SharedLog`]), and
//! every host applies every batch in that key's revision order
//! ([`EmbeddedStore::open_shared`]), so each host holds a replica of one namespace.

//! # Correctness requirements of each method
//!
//! See each method's docs. The [`conformance`] suite checks them against any backend.
#![deny(missing_docs)]

pub mod clock;
pub mod conformance;
pub mod embedded;
pub mod log;

use std::time::Duration;

use thiserror::Error;

use ballot_core::namespace::{Committed, Error, Guard, MultiError, Op, Revision, SessionId, State};

pub use embedded::{
    Appended, Checkpoint, EffectsSink, EmbeddedStore, Feeder, Hooks, Options, Sequenced, SharedLog,
};
pub use log::{Log, Snapshots};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The namespace refused the operation; nothing changed.
    #[error(transparent)]
    Refused(#[from] Error),
    /// The namespace refused one operation of a multi; nothing changed.
    #[error(transparent)]
    MultiRefused(#[from] MultiError),
    /// The disk failed; this store accepts no more changes. Restart it to recover what was
    /// acknowledged.
    #[error("the store refuses further changes after a storage failure: {0}")]
    Failed(String),
    /// Opening the store failed on I/O.
    #[error("{context}: {message}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The kind of failure, for callers that branch on it (a missing folder, a
        /// permission, a full disk).
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// The data folder is held by another host.
    #[error("{0}")]
    Locked(String),
    /// A file is damaged in a way recovery must not paper over.
    #[error("corrupt store: {file} at byte {offset}: {reason}")]
    Corrupt {
        /// The damaged file.
        file: String,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entry of the log does not apply again on the state recovery rebuilt: the log and
    /// its snapshot disagree, and the store refuses to serve a state no one acknowledged.
    #[error("the log's entry at position {position} ({command}) does not apply again: {reason}")]
    Diverged {
        /// The position of the batch holding the entry.
        position: u64,
        /// The kind of command.
        command: &'static str,
        /// Why apply refused it.
        reason: String,
    },
    /// The store has been closed.
    #[error("the store is closed")]
    Closed,
    /// The shared log (an etcd cluster) cannot be reached, or answered an error: nothing
    /// was acknowledged, and a change whose answer was lost may still apply.
    #[error("the shared log is unavailable: {0}")]
    Unavailable(String),
    /// What was asked for was compacted away from the shared log: load a snapshot at or
    /// after `compacted` and follow from there.
    #[error("the log after position {position} was compacted (up to {compacted})")]
    Compacted {
        /// The position the read started after.
        position: u64,
        /// The log's compaction point.
        compacted: u64,
    },
    /// The shared log was written by an incompatible version of ballot.
    #[error("{0}")]
    Incompatible(String),
    /// The writer's queue is full: the request was refused, not queued, and changed
    /// nothing. Retry after a pause.
    #[error("the store is overloaded: {queued} requests are already waiting for the writer")]
    Overloaded {
        /// The queue's bound ([`Options::max_queued`]).
        queued: usize,
    },
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, error: &std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            kind: error.kind(),
            message: error.to_string(),
        }
    }

    /// True for a write refused for want of space (a full disk or a spent quota): the one
    /// failure the embedded store takes back and waits out instead of stopping for good.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            StoreError::Io {
                kind: std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded,
                ..
            }
        )
    }
}

/// The namespace, durable and shared between threads.
pub trait Store: Send + Sync {
    /// Opens a session that expires `ttl` after its last heartbeat. The returned id is
    /// durable and greater than every id issued before, restarts included.
    fn open_session(&self, ttl: Duration) -> Result<SessionId, StoreError>;

    /// Restarts the session's TTL on the store's clock. Not logged: the deadline is the
    /// owner's, and what replays is the expiry the owner decided, which names its sessions
    /// (after a restart every session's TTL starts again in full anyway). Fails with
    /// `SessionExpired` for a closed or expired session.
    fn heartbeat(&self, session: SessionId) -> Result<(), StoreError>;

    /// Closes the session and deletes its ephemerals in one durable step; returns the
    /// revision of that step.
    fn close_session(&self, session: SessionId) -> Result<Revision, StoreError>;

    /// Closes every session whose TTL has run out on the store's clock, each like
    /// `close_session`, in one logged command that names them.
    fn expire_sessions(&self) -> Result<Vec<SessionId>, StoreError>;

    /// Applies `ops` all or nothing, after checking `guard` in the same atomic step.
    /// Returns only once the commit is durable; a refusal changes nothing.
    fn multi(&self, guard: Option<Guard>, ops: Vec<Op>) -> Result<Committed, StoreError>;

    /// The latest durable state. Never shows a change that could be lost.
    fn read(&self) -> State;
}

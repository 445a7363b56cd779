//! What the log and snapshots hold.

use serde::{Deserialize, Serialize};

use ballot_core::command::Command;
use ballot_core::namespace::MonoTime;

/// One log record: a command, the time the writer stamped it with, and its position in
/// the log (1, 2, 3, ...). Replaying it is applying it again at that stamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Position in the log, without gaps.
    pub lsn: u64,
    /// The stamp it was applied at.
    pub at: MonoTime,
    /// The change.
    pub command: Command,
}

/// A snapshot's body: the elections after every record up to `lsn`, whole (candidates,
/// observers and watches too, since later records name them). Generic so that writing
/// borrows the elections and reading owns them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotBody<E> {
    /// The last record the elections include.
    pub lsn: u64,
    /// The elections and their namespace.
    pub elections: E,
}

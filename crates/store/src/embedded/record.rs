//! What the log and snapshots hold.

use serde::{Deserialize, Serialize};

use ballot_core::namespace::{Entry, State};

/// One log record: a journal entry and its position in the log (1, 2, 3, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Position in the log, without gaps.
    pub lsn: u64,
    /// The change.
    pub entry: Entry,
}

/// A snapshot's body: the state after every record up to `lsn`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotBody {
    /// The last record the state includes.
    pub lsn: u64,
    /// The canonical state.
    pub state: State,
}

//! The namespace's journal: a logical record of every state change, for the write-ahead log.
//!
//! The core is deterministic, so recording what was asked (the ops of a committed multi,
//! the session that opened or closed) is enough to rebuild the same state by replaying it.
//! Each record carries the revision it produced, so a replay that diverges is caught at
//! the first record that disagrees instead of silently building a different tree.
//! Heartbeats are not journalled: deadlines are not part of the persisted state.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{Error, Op, Revision, SessionId};

/// One persisted state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// A session was opened with this id and TTL.
    OpenSession {
        /// The id it was given (always the previous one plus one).
        session: SessionId,
        /// Its TTL.
        ttl: Duration,
    },
    /// A session was closed or expired, deleting its ephemerals.
    CloseSession {
        /// The session.
        session: SessionId,
        /// The revision after the close.
        revision: Revision,
    },
    /// A multi committed and changed at least one node. Its guard held when it ran and is
    /// not re-checked on replay.
    Multi {
        /// The operations, as submitted.
        ops: Vec<Op>,
        /// The revision it was applied at.
        revision: Revision,
    },
}

/// A journal entry that does not replay onto the state it should follow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// The namespace refused the replayed change.
    #[error("replayed change refused: {0}")]
    Refused(#[from] Error),
    /// The change applied but produced another revision or session id than recorded.
    #[error("replay diverged: the record says {recorded}, the replay gave {replayed}")]
    Diverged {
        /// What the record says.
        recorded: u64,
        /// What replaying gave.
        replayed: u64,
    },
}

pub(super) fn check(recorded: u64, replayed: u64) -> Result<(), ReplayError> {
    if recorded == replayed {
        Ok(())
    } else {
        Err(ReplayError::Diverged { recorded, replayed })
    }
}

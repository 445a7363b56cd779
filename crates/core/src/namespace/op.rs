//! Write operations, their results, and the term guard.

use serde::{Deserialize, Serialize};

use super::{CreateMode, Data, NodePath, Revision, SessionId, Stat, WatchEvent};

/// One write inside a [`super::Namespace::multi`]; a single write is a multi of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Create a node. With `mode.sequential` the name gets the parent's next sequence number.
    Create {
        /// Where; for a sequential node, the prefix of the name.
        path: NodePath,
        /// Initial data.
        data: Data,
        /// Lifetime and sequencing.
        mode: CreateMode,
    },
    /// Replace a node's data, optionally only if its data version is `expected`.
    Set {
        /// The node.
        path: NodePath,
        /// New data.
        data: Data,
        /// Required current data version, if any.
        expected: Option<u64>,
    },
    /// Delete a childless node, optionally only if its data version is `expected`.
    Delete {
        /// The node.
        path: NodePath,
        /// Required current data version, if any.
        expected: Option<u64>,
    },
    /// Require that a node exists (and, if given, has data version `expected`). Writes nothing.
    Check {
        /// The node.
        path: NodePath,
        /// Required current data version, if any.
        expected: Option<u64>,
    },
}

/// What one operation of a committed multi did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// The node was created at `path` (the full name, with any sequence number).
    Created {
        /// The created node's path.
        path: NodePath,
        /// Its metadata.
        stat: Stat,
    },
    /// The data was replaced.
    Set {
        /// The node's metadata after the set.
        stat: Stat,
    },
    /// The node was deleted.
    Deleted,
    /// The check held.
    Checked {
        /// The node's metadata.
        stat: Stat,
    },
}

/// A condition checked in the same atomic step as a multi's operations, before any of them.
///
/// This is what makes a term a fencing token: a leader's write carries the guard, and a
/// leader that has been deposed (its ballot deleted, or its session gone) has the whole
/// multi refused with `NotLeader`, nothing applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Guard {
    /// The lowest child of `ballots` is owned by `session` and was created at revision
    /// `term`: "`session` holds term `term` of the election whose queue is `ballots`".
    HoldsTerm {
        /// The election's ballot queue.
        ballots: NodePath,
        /// The caller's session; it must be live.
        session: SessionId,
        /// The term the caller claims.
        term: Revision,
    },
}

/// One node-level effect of a commit. A commit lists them in the order it made them, so a
/// layer above (the election bookkeeping, the write-ahead log) can follow what changed
/// without registering watches of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// The node was created.
    Created(NodePath),
    /// The node's data was set.
    DataChanged(NodePath),
    /// The node was deleted.
    Deleted(NodePath),
}

/// A committed multi: its revision, one result per operation, and the watch events it fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The revision the commit was applied at. A commit that changed no node (only checks,
    /// or a session with no ephemerals closing) takes no new revision and reports the
    /// current one.
    pub revision: Revision,
    /// One result per operation, in order.
    pub results: Vec<OpResult>,
    /// What the commit changed, in order.
    pub changes: Vec<Change>,
    /// Watch events fired by the commit, in the order of its changes.
    pub events: Vec<WatchEvent>,
}

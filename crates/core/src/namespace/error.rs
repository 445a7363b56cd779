//! The namespace's typed errors.
//!
//! One enum for every operation, matching the `error` variant of the WIT contract, so that
//! the host-import glue maps each case one to one. Every refused operation leaves the state
//! exactly as it was.

use thiserror::Error;

use super::{Revision, SessionId};

/// Why an operation on the namespace was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The node (or, for a create, its parent) does not exist.
    #[error("no node at {path}")]
    NoNode {
        /// The missing node.
        path: String,
    },
    /// A create named a node that already exists.
    #[error("node {path} already exists")]
    NodeExists {
        /// The existing node.
        path: String,
    },
    /// A conditional set, delete or check expected another data version.
    #[error("bad version at {path}: expected {expected}, found {actual}")]
    BadVersion {
        /// The node checked.
        path: String,
        /// The version the caller expected.
        expected: u64,
        /// The version the node has.
        actual: u64,
    },
    /// A delete named a node that still has children.
    #[error("node {path} has children")]
    NotEmpty {
        /// The node that still has children.
        path: String,
    },
    /// The path is malformed.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given (control characters escaped).
        path: String,
        /// What is wrong with it.
        reason: PathError,
    },
    /// The request is well-formed but not allowed by the tree's rules.
    #[error("invalid operation on {subject}: {reason}")]
    Invalid {
        /// The node or session concerned.
        subject: String,
        /// The rule that refused it.
        reason: &'static str,
    },
    /// The node data exceeds the configured limit.
    #[error("data of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the refused data.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The session is closed, expired or was never opened.
    #[error("session {session} has expired or is closed")]
    SessionExpired {
        /// The session named by the caller.
        session: SessionId,
    },
    /// A write from outside the election machinery into a subtree it keeps
    /// (`/elections`, `/electors`): see `election::refuse_host_kept`.
    #[error("{path} is kept by the host's elections and electors: use their calls to change it")]
    HostKept {
        /// The node the refused operation would have written.
        path: String,
    },
    /// A term guard failed: the caller's session does not hold the term it claimed.
    #[error("not the leader: {}", describe_current(.current))]
    NotLeader {
        /// The term of whoever leads now, if anyone does.
        current: Option<Revision>,
    },
}

/// The current term in words, for refusals: never a `Debug` rendering.
pub(crate) fn describe_current(current: &Option<Revision>) -> String {
    match current {
        Some(term) => format!("the current term is {term}"),
        None => "the election has no leader".to_string(),
    }
}

fn describe_index(index: &Option<usize>) -> String {
    match index {
        Some(index) => format!("operation {index}"),
        None => "the guard".to_string(),
    }
}

/// What is wrong with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PathError {
    /// The path is the empty string.
    #[error("empty path")]
    Empty,
    /// The path does not start with `/`.
    #[error("not absolute (must start with /)")]
    NotAbsolute,
    /// The path ends with `/` (only the root may).
    #[error("trailing slash")]
    TrailingSlash,
    /// Two slashes in a row.
    #[error("empty segment")]
    EmptySegment,
    /// A `.` or `..` segment.
    #[error("relative segment (. or ..)")]
    RelativeSegment,
    /// A control character anywhere in the path.
    #[error("control character")]
    ControlCharacter,
    /// Longer than the limit.
    #[error("{len} bytes, over the limit of {max}")]
    TooLong {
        /// The path's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A child's name holds a `/`: it would name a node further down, not a child.
    #[error("a child's name holds '/'")]
    SlashInName,
}

/// A refused `multi`: which operation failed and why. Nothing of the multi was applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} of the multi failed: {error}", describe_index(.index))]
pub struct MultiError {
    /// Position of the failing operation in the multi; `None` when the guard failed.
    pub index: Option<usize>,
    /// Why it failed.
    #[source]
    pub error: Error,
}

//! The contract's types, shared by both worlds, with builders.
//!
//! These are the types `wit-bindgen` generates from `ballot:election/types`, re-exported,
//! plus constructors that keep operation lists short:
//!
//! ```
//! use ballot_guest::{CreateMode, Op, TermGuard};
//!
//! let ops = [
//!     Op::check("/app", None),
//!     Op::create("/app/leader", b"me".to_vec(), CreateMode::PERSISTENT),
//!     Op::set("/app/config", b"v2".to_vec(), Some(3)),
//!     Op::delete("/app/stale", None),
//! ];
//! let guard = TermGuard::new("app", 42);
//! assert_eq!(ops.len(), 4);
//! assert_eq!((guard.election.as_str(), guard.term), ("app", 42));
//! ```

use crate::bindings::candidate::ballot::election::types as wit;

pub use wit::{
    CreateMode, CreateOp, DeploymentRef, Error, EventKind, Leader, Lifetime, Node, Op, OpResult,
    PathOp, Revision, SetOp, Stat, Term, TermGuard, WatchEvent, WatchKind,
};

impl Leader {
    /// Who leads, for a log line a person reads: the deployment's name and id when the
    /// leader is a component on this host, else its candidate number.
    ///
    /// ```
    /// use ballot_guest::{DeploymentRef, Leader};
    ///
    /// let mut leader = Leader { candidate: 7, term: 3, data: vec![], deployment: None };
    /// assert_eq!(leader.who(), "candidate 7");
    /// leader.deployment = Some(DeploymentRef { id: 2, name: "billing".into() });
    /// assert_eq!(leader.who(), "billing (deployment 2)");
    /// ```
    pub fn who(&self) -> String {
        match &self.deployment {
            Some(deployment) => format!("{} (deployment {})", deployment.name, deployment.id),
            None => format!("candidate {}", self.candidate),
        }
    }
}

impl CreateMode {
    /// A node that stays until deleted.
    pub const PERSISTENT: CreateMode = CreateMode {
        lifetime: Lifetime::Persistent,
        sequential: false,
    };

    /// A persistent node whose name gets the parent's next 10-digit sequence number.
    pub const PERSISTENT_SEQUENTIAL: CreateMode = CreateMode {
        lifetime: Lifetime::Persistent,
        sequential: true,
    };

    /// A node owned by the caller's session, deleted when the session ends.
    pub const EPHEMERAL: CreateMode = CreateMode {
        lifetime: Lifetime::Ephemeral,
        sequential: false,
    };

    /// An ephemeral node whose name gets the parent's next 10-digit sequence number.
    pub const EPHEMERAL_SEQUENTIAL: CreateMode = CreateMode {
        lifetime: Lifetime::Ephemeral,
        sequential: true,
    };
}

impl Op {
    /// Creates `path` with `data`.
    ///
    /// ```
    /// use ballot_guest::{CreateMode, Op};
    ///
    /// let op = Op::create("/jobs/j-", b"payload".to_vec(), CreateMode::PERSISTENT_SEQUENTIAL);
    /// assert!(matches!(op, Op::Create(c) if c.mode.sequential));
    /// ```
    pub fn create(path: impl Into<String>, data: impl Into<Vec<u8>>, mode: CreateMode) -> Op {
        Op::Create(CreateOp {
            path: path.into(),
            data: data.into(),
            mode,
        })
    }

    /// Replaces the data of `path`, if its data version is `expected` (when given).
    ///
    /// ```
    /// use ballot_guest::Op;
    ///
    /// let op = Op::set("/app/config", b"v2".to_vec(), Some(1));
    /// assert!(matches!(op, Op::Set(s) if s.expected == Some(1)));
    /// ```
    pub fn set(path: impl Into<String>, data: impl Into<Vec<u8>>, expected: Option<u64>) -> Op {
        Op::Set(SetOp {
            path: path.into(),
            data: data.into(),
            expected,
        })
    }

    /// Deletes the childless node `path`, if its data version is `expected` (when given).
    ///
    /// ```
    /// use ballot_guest::Op;
    ///
    /// let op = Op::delete("/app/stale", None);
    /// assert!(matches!(op, Op::Delete(d) if d.path == "/app/stale"));
    /// ```
    pub fn delete(path: impl Into<String>, expected: Option<u64>) -> Op {
        Op::Delete(PathOp {
            path: path.into(),
            expected,
        })
    }

    /// Requires that `path` exists (with data version `expected`, when given); writes
    /// nothing.
    ///
    /// ```
    /// use ballot_guest::Op;
    ///
    /// let op = Op::check("/app", Some(0));
    /// assert!(matches!(op, Op::Check(c) if c.expected == Some(0)));
    /// ```
    pub fn check(path: impl Into<String>, expected: Option<u64>) -> Op {
        Op::Check(PathOp {
            path: path.into(),
            expected,
        })
    }
}

impl TermGuard {
    /// The guard "the caller holds `term` of `election`".
    ///
    /// ```
    /// use ballot_guest::TermGuard;
    ///
    /// let guard = TermGuard::new("example", 9);
    /// assert_eq!(guard.term, 9);
    /// ```
    pub fn new(election: impl Into<String>, term: Term) -> TermGuard {
        TermGuard {
            election: election.into(),
            term,
        }
    }
}

impl Error {
    /// The path the error is about, for the variants that carry one.
    ///
    /// ```
    /// use ballot_guest::Error;
    ///
    /// assert_eq!(Error::NoNode("/a".into()).path(), Some("/a"));
    /// assert_eq!(Error::SessionExpired.path(), None);
    /// ```
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::NoNode(path)
            | Error::NodeExists(path)
            | Error::BadVersion(path)
            | Error::NotEmpty(path) => Some(path),
            _ => None,
        }
    }
}

/// Lets a callback that returns `Result<(), String>` use `?` on host calls.
///
/// ```
/// use ballot_guest::Error;
///
/// fn step() -> Result<(), String> {
///     Err(Error::NotLeader(Some(12)))?;
///     Ok(())
/// }
/// assert_eq!(step().unwrap_err(), "not the leader: the current term is 12");
/// ```
impl From<Error> for String {
    fn from(error: Error) -> String {
        error.describe()
    }
}

impl Error {
    /// The error in words, as the host's own API words it: what a callback's `Err` carries
    /// to the host's timeline and logs, where Rust's `Debug` text would mean nothing to an
    /// operator.
    ///
    /// ```
    /// use ballot_guest::Error;
    ///
    /// assert_eq!(Error::NotLeader(None).describe(), "not the leader: the election has no leader");
    /// assert_eq!(Error::NoNode("/a".into()).describe(), "no node /a");
    /// ```
    pub fn describe(&self) -> String {
        match self {
            Error::NoNode(path) => format!("no node {path}"),
            Error::NodeExists(path) => format!("node {path} exists"),
            Error::BadVersion(path) => format!("node {path} is not at the expected version"),
            Error::NotEmpty(path) => format!("node {path} has children"),
            Error::NotLeader(Some(term)) => format!("not the leader: the current term is {term}"),
            Error::NotLeader(None) => "not the leader: the election has no leader".into(),
            Error::SessionExpired => "the session has expired".into(),
            Error::Invalid(why) => format!("invalid: {why}"),
            Error::TooLarge(why) => format!("too large: {why}"),
            Error::QuotaExceeded(why) => format!("quota exceeded: {why}"),
            Error::Denied(why) => format!("denied: {why}"),
            Error::Deadline => "the callback's deadline passed".into(),
            Error::TxnAborted(why) => format!("the transaction function aborted: {why}"),
        }
    }
}

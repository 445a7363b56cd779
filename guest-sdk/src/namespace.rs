//! The namespace, as the caller's session sees it (`ballot:election/namespace`).
//!
//! Every call is one atomic step and returns its outcome directly; a refused call changed
//! nothing. Ephemeral nodes belong to the caller's session (observers have none). Watch
//! events arrive later through [`Candidate::on_event`](crate::Candidate::on_event), never
//! inside a call.
//!
//! ```no_run
//! use ballot_guest::{CreateMode, Error, namespace};
//!
//! // Create a parent unless it is already there, then read it back.
//! match namespace::create("/app", b"", CreateMode::PERSISTENT) {
//!     Ok(_) | Err(Error::NodeExists(_)) => {}
//!     Err(other) => panic!("{other}"),
//! }
//! let node = namespace::get("/app").unwrap();
//! assert_eq!(node.path, "/app");
//! ```

use crate::bindings::candidate::ballot::election::namespace as wit;
use crate::types::{CreateMode, Error, Node, Op, OpResult, Stat, TermGuard, WatchKind};

/// Creates `path` with `data`; returns its full path (with any sequence number).
///
/// Errors: no-node (parent missing), node-exists, invalid (path, ephemeral parent),
/// too-large, session-expired, quota-exceeded.
///
/// ```no_run
/// use ballot_guest::{CreateMode, namespace};
///
/// let path = namespace::create("/jobs/j-", b"work", CreateMode::PERSISTENT_SEQUENTIAL)?;
/// assert!(path.starts_with("/jobs/j-"));
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn create(path: &str, data: &[u8], mode: CreateMode) -> Result<String, Error> {
    wit::create(path, data, mode)
}

/// Reads a node: its data and metadata. Errors: no-node, invalid.
///
/// ```no_run
/// use ballot_guest::namespace;
///
/// let node = namespace::get("/app/config")?;
/// println!("{} bytes at version {}", node.data.len(), node.stat.data_version);
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn get(path: &str) -> Result<Node, Error> {
    wit::get(path)
}

/// The names (not paths) of the children of `path`, in order. Errors: no-node, invalid.
///
/// ```no_run
/// use ballot_guest::namespace;
///
/// for name in namespace::children("/jobs")? {
///     println!("/jobs/{name}");
/// }
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn children(path: &str) -> Result<Vec<String>, Error> {
    wit::children(path)
}

/// Replaces the data of `path`, if its data version is `expected` (when given); returns
/// the node's metadata after the write.
///
/// Errors: no-node, bad-version, invalid, too-large, quota-exceeded.
///
/// ```no_run
/// use ballot_guest::namespace;
///
/// let node = namespace::get("/app/config")?;
/// let stat = namespace::set("/app/config", b"v2", Some(node.stat.data_version))?;
/// assert_eq!(stat.data_version, node.stat.data_version + 1);
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn set(path: &str, data: &[u8], expected: Option<u64>) -> Result<Stat, Error> {
    wit::set(path, data, expected)
}

/// Deletes the childless node `path`, if its data version is `expected` (when given).
///
/// Errors: no-node, bad-version, not-empty, invalid.
///
/// ```no_run
/// use ballot_guest::{Error, namespace};
///
/// match namespace::delete("/app/stale", None) {
///     Ok(()) | Err(Error::NoNode(_)) => {}
///     Err(other) => return Err(other),
/// }
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn delete(path: &str, expected: Option<u64>) -> Result<(), Error> {
    wit::delete(path, expected)
}

/// Registers a watch on `path`; its events arrive later through
/// [`Candidate::on_event`](crate::Candidate::on_event).
///
/// Errors: no-node (data and children watches need the node), invalid, quota-exceeded.
///
/// ```no_run
/// use ballot_guest::{WatchKind, namespace};
///
/// namespace::watch("/app/config", WatchKind::Data)?;
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn watch(path: &str, kind: WatchKind) -> Result<(), Error> {
    wit::watch(path, kind)
}

/// Applies `ops` all or nothing; returns one [`OpResult`] per operation.
///
/// With a guard the whole multi is refused with not-leader (and nothing applied) unless
/// the caller holds that term: this is how a leader fences its writes.
///
/// Errors: any error of the operations, not-leader, session-expired.
///
/// ```no_run
/// use ballot_guest::{Op, OpResult, TermGuard, namespace};
///
/// let term = 17; // as passed to `on_winning_election`
/// let results = namespace::multi(
///     &[Op::set("/app/owner", b"me".to_vec(), None)],
///     Some(&TermGuard::new("app", term)),
/// )?;
/// assert!(matches!(results[0], OpResult::Set(_)));
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn multi(ops: &[Op], guard: Option<&TermGuard>) -> Result<Vec<OpResult>, Error> {
    wit::multi(ops, guard)
}

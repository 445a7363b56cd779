//! Commits fenced by a lease elector (`ballot:election/commit`); candidates only.
//!
//! The Datomic gist's two calls plus a dry run. [`guarded_commit`] holds an election first
//! if the peer's lease has lapsed and commits only if it wins; [`speculative_commit`]
//! commits under the term the peer believes it holds and lets the host refuse a stale one;
//! [`preview`] computes and writes nothing. The operations are given ([`Txn::Ops`]) or
//! computed by a transaction function the host holds ([`Txn::function`]), named by the
//! SHA-256 of its wasm. Either way the host checks the term in the same atomic step that
//! applies the operations: a master whose lease lapsed writes nothing.

use crate::bindings::candidate::ballot::election::commit as wit;
use crate::types::{Error, Op, Term};

pub use wit::{Committed, PreviewReport, Txn, TxnCall};

impl Txn {
    /// A transaction function registered with the host (by the SHA-256 of its wasm, 64
    /// lowercase hex digits), run on a snapshot with `args`.
    pub fn function(sha256: &str, args: Vec<u8>) -> Txn {
        Txn::Function(TxnCall {
            sha256: sha256.to_string(),
            args,
        })
    }
}

/// Commits `txn` as `peer` of `elector`, electing first if its lease has lapsed.
/// Errors: not-leader (another peer is master, or the lease lapsed while the commit ran),
/// txn-aborted, invalid, and any error of the operations (bad-version, no-node, ...).
///
/// ```no_run
/// use ballot_guest::commit::{self, Txn};
/// use ballot_guest::Op;
///
/// let ops = vec![Op::set("/jobs/42", b"done".to_vec(), Some(3))];
/// let committed = commit::guarded_commit("jobs", "worker-1", &Txn::Ops(ops))?;
/// println!("done under term {}", committed.term);
/// # Ok::<(), ballot_guest::Error>(())
/// ```
pub fn guarded_commit(elector: &str, peer: &str, txn: &Txn) -> Result<Committed, Error> {
    wit::guarded_commit(elector, peer, txn)
}

/// Commits `txn` under `term` with no election; refused with not-leader if `peer` no
/// longer holds it.
pub fn speculative_commit(
    elector: &str,
    peer: &str,
    term: Term,
    txn: &Txn,
) -> Result<Committed, Error> {
    wit::speculative_commit(elector, peer, term, txn)
}

/// What `txn` would do on the last durable revision, writing nothing.
pub fn preview(txn: &Txn) -> Result<PreviewReport, Error> {
    wit::preview(txn)
}

/// Plain operations as a [`Txn`].
impl From<Vec<Op>> for Txn {
    fn from(ops: Vec<Op>) -> Txn {
        Txn::Ops(ops)
    }
}
